"""``quiv demo`` runs for the seconds it is given, counted from its start."""

from __future__ import annotations

import io
import itertools
import time

from quiv._demo import run_demo


def test_a_demo_whose_clock_says_its_time_is_up_skips_its_waits() -> None:
    """Each step waits for a mark counted from the start, not for a share after the step
    before it: a clock that jumps past the end right after the start leaves no waits, so a
    60-second demo ends at once, its shutdown given no time either."""
    readings = itertools.chain([100.0], itertools.repeat(1000.0))
    out = io.StringIO()
    began = time.monotonic()
    assert run_demo(60.0, out=out, clock=lambda: next(readings)) == 0
    assert time.monotonic() - began < 30  # generous: far less than the 60 s asked for
    text = out.getvalue()
    assert "flaky-sync is still retrying; the demo moves on" in text
    assert "job history:" in text
    assert text.rstrip().endswith("scheduler shut down; its temporary database is gone")
    # Every line is stamped from the same start the marks count from.
    assert "[900.00s]" in text


def test_a_short_demo_shows_every_part_within_its_seconds() -> None:
    out = io.StringIO()
    began = time.monotonic()
    assert run_demo(3.0, out=out) == 0
    assert time.monotonic() - began < 3.0 + 10  # generous: the demo itself aims at 3.0
    text = out.getvalue()
    for seen in ("cancelling the export job", "pausing the heartbeat", "job history:"):
        assert seen in text
