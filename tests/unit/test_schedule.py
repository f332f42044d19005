"""Unit tests of ``quiv._schedule.next_after_run``, the next-deadline arithmetic."""

from __future__ import annotations

import random

import pytest

from quiv._schedule import next_after_run


def _fixed(anchor: float, ended: float, interval: float) -> float:
    return next_after_run(anchor=anchor, ended=ended, interval=interval, fixed_interval=True)


def _relaxed(anchor: float, ended: float, interval: float) -> float:
    return next_after_run(anchor=anchor, ended=ended, interval=interval, fixed_interval=False)


# -- fixed interval: the cadence anchor + k * interval --------------------------------------


@pytest.mark.parametrize(
    ("ended", "expected"),
    [
        (100.0, 110.0),  # a run that took no time: one interval after the anchor
        (103.0, 110.0),  # shorter than the interval
        (109.999, 110.0),
        (110.0, 110.0),  # exactly one interval: the slot at the end is the next one
        (110.5, 120.0),  # just overran: slot 110 is missed
        (135.0, 140.0),  # overran by several intervals: skip to the next slot after the end
        (140.0, 140.0),
        (1000.0, 1000.0),
        (1000.1, 1010.0),
    ],
)
def test_fixed_interval(ended: float, expected: float) -> None:
    assert _fixed(100.0, ended, 10.0) == expected


def test_fixed_interval_never_before_one_interval_after_the_anchor() -> None:
    # A run that "ended" before its anchor (a run-now ahead of schedule, or a clock quirk)
    # still waits a whole interval from the anchor.
    assert _fixed(100.0, 50.0, 10.0) == 110.0
    assert _fixed(100.0, 99.0, 10.0) == 110.0


def test_fixed_interval_keeps_fractional_cadence() -> None:
    assert _fixed(0.0, 0.7, 0.5) == 1.0
    assert _fixed(2.5, 2.6, 0.25) == 2.75
    assert _fixed(-10.0, -3.0, 4.0) == -2.0  # monotonic clocks may be negative


def test_fixed_interval_over_many_runs_never_bursts() -> None:
    """Simulate runs of varying lengths: deadlines stay on the 10 s grid, only increase,
    are never before the previous run ended, and an overrun never causes catch-up runs."""
    deadline = 10.0
    interval = 10.0
    durations = [3.0, 25.0, 0.0, 41.0, 10.0, 9.5, 0.1, 70.0]
    for duration in durations:
        started = deadline
        ended = started + duration
        following = _fixed(deadline, ended, interval)
        assert following > deadline
        assert following >= ended
        assert following - ended <= interval
        assert following % interval == 0
        deadline = following
    assert deadline == 210.0  # 10 -> 20 -> 50 -> 60 -> 110 -> 120 -> 130 -> 140 -> 210


# -- completion anchored ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("anchor", "ended", "expected"),
    [
        (100.0, 103.0, 113.0),
        (100.0, 110.0, 120.0),
        (100.0, 135.0, 145.0),
        (100.0, 50.0, 60.0),  # the anchor plays no part
        (0.0, 0.0, 10.0),
    ],
)
def test_completion_anchored(anchor: float, ended: float, expected: float) -> None:
    assert _relaxed(anchor, ended, 10.0) == expected


# -- properties ------------------------------------------------------------------------------


def _slot_index(anchor: float, value: float, interval: float) -> int | None:
    """The k >= 1 for which ``anchor + k * interval`` computes to ``value``, if any."""
    guess = round((value - anchor) / interval)
    for k in (guess - 1, guess, guess + 1):
        if k >= 1 and anchor + k * interval == value:
            return k
    return None


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_fixed_interval_properties(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3000):
        anchor = rng.uniform(-1e6, 1e6)
        interval = rng.choice([rng.uniform(1e-3, 1.0), rng.uniform(1.0, 1e4), 1.0, 60.0])
        ended = anchor + rng.uniform(-1.0, 50.0) * interval
        result = _fixed(anchor, ended, interval)
        context = (anchor, ended, interval, result)

        # Never earlier than one interval after the anchor, never earlier than the end.
        assert result >= anchor + interval, context
        assert result >= ended, context
        # On the cadence: result is anchor + k * interval for a whole k >= 1.
        k = _slot_index(anchor, result, interval)
        assert k is not None, context
        # The first such slot: the one before it was already missed (before the end),
        # unless it is the anchor itself.
        if k > 1:
            assert anchor + (k - 1) * interval < ended, context
        # So a finished run never waits more than one interval (if it ended after its anchor).
        if ended >= anchor:
            assert result - ended <= interval * (1 + 1e-9), context
        if ended <= anchor + interval:
            assert result == anchor + interval, context


@pytest.mark.parametrize("seed", [21, 22])
def test_completion_anchored_properties(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3000):
        anchor = rng.uniform(-1e6, 1e6)
        interval = rng.uniform(1e-3, 1e4)
        ended = anchor + rng.uniform(-10.0, 10.0) * interval
        result = _relaxed(anchor, ended, interval)
        assert result == ended + interval
        assert result > ended


def test_fixed_interval_run_ending_exactly_on_a_slot_is_not_skipped() -> None:
    # Due at 0.1, interval 0.1, the run ends at 0.1 + 0.2: exactly slot 2 (anchor + 2 * 0.1
    # computes to the same float). The docstring says the next run is the first slot at or
    # after the end, i.e. slot 2; the function returns slot 3 (0.4).
    anchor, interval = 0.1, 0.1
    ended = anchor + 0.2
    assert ended == anchor + 2 * interval
    assert _fixed(anchor, ended, interval) == ended
