"""The ``quiv`` command: what it answers with no command, and what ``quiv demo`` promises."""

from __future__ import annotations

import pathlib
import re

import pytest

from quiv._cli import main
from quiv._demo import _SHARES, _Timeline

DEMO_SOURCE = pathlib.Path(__file__).resolve().parents[2] / "src" / "quiv" / "_demo.py"


def test_plain_quiv_prints_the_help_and_succeeds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: quiv")
    for command in ("demo", "diagram", "version"):
        assert command in out


def test_an_unknown_command_still_fails(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["dmeo"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_the_demo_help_names_every_task_the_demo_adds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    added = re.findall(r'add_task\(\s*"([\w-]+)"', DEMO_SOURCE.read_text(encoding="utf-8"))
    assert len(added) == 6
    for name in added:
        assert re.search(rf"^  {re.escape(name)} ", out, re.MULTILINE), name
    assert "shutdown included" in out


def test_the_demo_refuses_a_duration_that_is_not_positive(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--seconds", "0"])
    assert exc.value.code == 2
    assert "positive" in capsys.readouterr().err


@pytest.mark.parametrize(("start", "seconds"), [(0.0, 3.0), (1234.5, 10.0), (7.0, 0.5)])
def test_every_demo_step_is_due_at_a_share_of_the_run_counted_from_its_start(
    start: float, seconds: float
) -> None:
    timeline = _Timeline(start, seconds)
    marks = [timeline.at(step) for step in ("cancel", "pause", "resume", "history")]
    assert marks == sorted(marks)
    assert marks == [pytest.approx(start + _SHARES[step] * seconds) for step in _SHARES]
    assert start < marks[0]
    assert marks[-1] < timeline.end
    assert timeline.end == start + seconds
