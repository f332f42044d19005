"""Unit tests of ``quiv._timing.Timeline``, the sorted structure of pending deadlines."""

from __future__ import annotations

import doctest
import math
import random
from collections.abc import Hashable

import pytest

import quiv._schedule
import quiv._timing
from quiv._timing import Timeline


def _filled(*entries: tuple[str, float]) -> Timeline[str]:
    timeline: Timeline[str] = Timeline()
    for key, deadline in entries:
        timeline.schedule(key, deadline)
        timeline._check()
    return timeline


# -- ordering --------------------------------------------------------------------------------


def test_empty_timeline() -> None:
    timeline: Timeline[str] = Timeline()
    timeline._check()
    assert len(timeline) == 0
    assert list(timeline) == []
    assert timeline.peek() is None
    assert timeline.pop_due(math.inf) == []
    assert timeline.deadline("missing") is None
    assert "missing" not in timeline
    assert timeline.cancel("missing") is False
    timeline._check()


def test_iteration_is_earliest_first() -> None:
    timeline = _filled(("c", 3.0), ("a", 1.0), ("d", 4.0), ("b", 2.0))
    assert list(timeline) == [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0)]
    assert timeline.peek() == (1.0, "a")


def test_same_deadline_keeps_insertion_order() -> None:
    timeline = _filled(("x", 5.0), ("y", 5.0), ("a", 5.0), ("m", 1.0), ("b", 5.0))
    assert [key for key, _ in timeline] == ["m", "x", "y", "a", "b"]
    assert timeline.pop_due(5.0) == [("m", 1.0), ("x", 5.0), ("y", 5.0), ("a", 5.0), ("b", 5.0)]
    timeline._check()


def test_rescheduled_key_goes_behind_keys_with_the_same_deadline() -> None:
    timeline = _filled(("first", 5.0), ("second", 5.0), ("third", 5.0))
    timeline.schedule("first", 5.0)  # same deadline again: loses its place
    timeline._check()
    assert [key for key, _ in timeline] == ["second", "third", "first"]
    assert len(timeline) == 3


def test_keys_with_equal_deadlines_are_never_compared() -> None:
    class Unorderable:
        def __lt__(self, other: object) -> bool:
            raise AssertionError("keys must not be compared")

        __gt__ = __le__ = __ge__ = __lt__

    keys: list[Hashable] = [Unorderable(), 1, "one", (1,), Unorderable(), None]
    timeline: Timeline[Hashable] = Timeline()
    for key in keys:
        timeline.schedule(key, 1.0)
        timeline._check()
    timeline.schedule(keys[0], 1.0)
    timeline._check()
    assert timeline.cancel(keys[4]) is True
    timeline._check()
    assert [key for key, _ in timeline.pop_due(1.0)] == [1, "one", (1,), None, keys[0]]
    timeline._check()


# -- schedule / cancel / reschedule / deadline ------------------------------------------------


def test_schedule_replaces_the_earlier_deadline() -> None:
    timeline = _filled(("a", 1.0), ("b", 2.0))
    timeline.schedule("a", 3.0)
    timeline._check()
    assert len(timeline) == 2
    assert timeline.deadline("a") == 3.0
    assert list(timeline) == [("b", 2.0), ("a", 3.0)]
    timeline.schedule("a", 0.5)  # earlier again
    timeline._check()
    assert list(timeline) == [("a", 0.5), ("b", 2.0)]


def test_cancel() -> None:
    timeline = _filled(("a", 1.0), ("b", 1.0), ("c", 2.0))
    assert timeline.cancel("b") is True
    timeline._check()
    assert "b" not in timeline
    assert timeline.deadline("b") is None
    assert timeline.cancel("b") is False  # a second cancel finds nothing
    timeline._check()
    assert list(timeline) == [("a", 1.0), ("c", 2.0)]
    assert len(timeline) == 2


def test_cancel_then_schedule_again() -> None:
    timeline = _filled(("a", 1.0), ("b", 1.0))
    timeline.cancel("a")
    timeline._check()
    timeline.schedule("a", 1.0)
    timeline._check()
    assert list(timeline) == [("b", 1.0), ("a", 1.0)]


def test_deadline_and_contains() -> None:
    timeline = _filled(("a", 1.5), ("b", -2.0))
    assert timeline.deadline("a") == 1.5
    assert timeline.deadline("b") == -2.0
    assert timeline.deadline("c") is None
    assert "a" in timeline
    assert "c" not in timeline
    assert 1.5 not in timeline  # deadlines are not keys


def test_peek_does_not_remove() -> None:
    timeline = _filled(("a", 2.0), ("b", 1.0))
    assert timeline.peek() == (1.0, "b")
    assert timeline.peek() == (1.0, "b")
    assert len(timeline) == 2
    timeline._check()


# -- pop_due -------------------------------------------------------------------------------


def test_pop_due_takes_entries_at_or_before_now() -> None:
    timeline = _filled(("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", 2.5), ("e", 3.0))
    assert timeline.pop_due(2.0) == [("a", 1.0), ("b", 2.0), ("c", 2.0)]
    timeline._check()
    assert list(timeline) == [("d", 2.5), ("e", 3.0)]
    assert "a" not in timeline
    assert timeline.deadline("b") is None
    assert timeline.peek() == (2.5, "d")


def test_pop_due_when_nothing_is_due() -> None:
    timeline = _filled(("a", 1.0), ("b", 2.0))
    assert timeline.pop_due(0.999) == []
    timeline._check()
    assert len(timeline) == 2
    assert timeline.pop_due(-math.inf) == []
    timeline._check()


def test_count_due_skips_cancelled_and_rescheduled_entries() -> None:
    t: Timeline[str] = Timeline()
    for key, deadline in (("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0)):
        t.schedule(key, deadline)
    t.cancel("a")
    t.schedule("d", 0.5)  # its old entry at 4.0 stays, stale
    assert t.count_due(3.0) == 3  # d, b, c
    assert t.count_due(0.0) == 0
    assert t.count_due(math.inf) == 3
    assert len(t) == 3  # nothing was taken
    t._check()


def test_pop_due_with_limit_takes_the_earliest() -> None:
    timeline = _filled(("c", 3.0), ("a", 1.0), ("b", 1.0), ("d", 4.0))
    assert timeline.pop_due(3.0, limit=2) == [("a", 1.0), ("b", 1.0)]
    timeline._check()
    assert list(timeline) == [("c", 3.0), ("d", 4.0)]
    assert timeline.pop_due(3.0, limit=2) == [("c", 3.0)]  # only one is due
    timeline._check()
    assert list(timeline) == [("d", 4.0)]


def test_pop_due_limit_zero_or_negative_takes_nothing() -> None:
    timeline = _filled(("a", 1.0), ("b", 2.0))
    assert timeline.pop_due(10.0, limit=0) == []
    timeline._check()
    assert timeline.pop_due(10.0, limit=-1) == []
    timeline._check()
    assert len(timeline) == 2


def test_pop_due_limit_larger_than_due_count() -> None:
    timeline = _filled(("a", 1.0), ("b", 2.0), ("c", 9.0))
    assert timeline.pop_due(5.0, limit=100) == [("a", 1.0), ("b", 2.0)]
    timeline._check()
    assert list(timeline) == [("c", 9.0)]


def test_pop_due_limit_none_takes_everything_due() -> None:
    timeline = _filled(*((f"k{i}", float(i % 7)) for i in range(50)))
    due = timeline.pop_due(6.0, limit=None)
    timeline._check()
    assert len(due) == 50
    assert [deadline for _, deadline in due] == sorted(deadline for _, deadline in due)
    assert len(timeline) == 0


# -- odd deadlines -------------------------------------------------------------------------


def test_nan_deadline_is_rejected_and_nothing_changes() -> None:
    timeline = _filled(("a", 1.0))
    with pytest.raises(ValueError, match="NaN"):
        timeline.schedule("b", math.nan)
    with pytest.raises(ValueError, match="NaN"):
        timeline.schedule("a", math.nan)  # an existing key keeps its deadline
    timeline._check()
    assert list(timeline) == [("a", 1.0)]


def test_infinite_deadlines() -> None:
    timeline = _filled(("never", math.inf), ("always", -math.inf), ("soon", 1.0))
    assert timeline.peek() == (-math.inf, "always")
    assert list(timeline) == [("always", -math.inf), ("soon", 1.0), ("never", math.inf)]
    assert timeline.pop_due(-math.inf) == [("always", -math.inf)]
    timeline._check()
    assert timeline.pop_due(1e308) == [("soon", 1.0)]
    timeline._check()
    assert timeline.pop_due(math.inf) == [("never", math.inf)]
    timeline._check()
    assert len(timeline) == 0


def test_two_infinite_deadlines_stay_fifo() -> None:
    timeline = _filled(("x", math.inf), ("y", math.inf))
    assert timeline.pop_due(math.inf, limit=1) == [("x", math.inf)]
    timeline._check()
    assert list(timeline) == [("y", math.inf)]


# -- lazy cancellation ----------------------------------------------------------------------


def test_cancelled_entries_are_swept_before_they_outnumber_live_ones() -> None:
    timeline: Timeline[int] = Timeline()
    for key in range(10):
        timeline.schedule(key, 100.0 + key)
    for round_ in range(1000):  # run-now and resume: the same keys, rescheduled
        timeline.schedule(round_ % 10, 50.0 + round_)
        timeline._check()
        assert len(timeline._entries) <= 2 * len(timeline) + Timeline._SWEEP_SLACK + 1
    assert len(timeline) == 10
    # Each key's last deadline only, in order.
    assert list(timeline) == [(key, 50.0 + 990 + key) for key in range(10)]


def test_a_cancelled_front_entry_is_not_peeked_nor_popped() -> None:
    timeline: Timeline[str] = Timeline()
    timeline.schedule("gone", 1.0)
    timeline.schedule("moved", 2.0)
    timeline.schedule("kept", 3.0)
    timeline.cancel("gone")
    timeline.schedule("moved", 5.0)
    assert timeline.peek() == (3.0, "kept")
    assert timeline.pop_due(4.0) == [("kept", 3.0)]
    assert timeline.pop_due(10.0) == [("moved", 5.0)]
    assert timeline.peek() is None
    timeline._check()


# -- against a naive model -----------------------------------------------------------------


class _Model:
    """The obvious implementation: a dict, sorted on demand."""

    def __init__(self) -> None:
        self.entries: dict[int, tuple[float, int]] = {}
        self.seq = 0

    def ordered(self) -> list[tuple[int, float]]:
        items = sorted(self.entries.items(), key=lambda item: item[1])
        return [(key, deadline) for key, (deadline, _) in items]

    def schedule(self, key: int, deadline: float) -> None:
        self.entries[key] = (deadline, self.seq)
        self.seq += 1

    def cancel(self, key: int) -> bool:
        return self.entries.pop(key, None) is not None

    def peek(self) -> tuple[float, int] | None:
        ordered = self.ordered()
        return None if not ordered else (ordered[0][1], ordered[0][0])

    def pop_due(self, now: float, limit: int | None) -> list[tuple[int, float]]:
        due = [(key, deadline) for key, deadline in self.ordered() if deadline <= now]
        if limit is not None:
            due = due[: max(limit, 0)]
        for key, _ in due:
            del self.entries[key]
        return due


_DEADLINES = [*(i / 2 for i in range(-4, 21)), math.inf, -math.inf]


@pytest.mark.parametrize("slack", [64, 0], ids=["default-sweeps", "frequent-sweeps"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_operations_match_the_model(
    seed: int, slack: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Timeline, "_SWEEP_SLACK", slack)
    rng = random.Random(seed)
    timeline: Timeline[int] = Timeline()
    model = _Model()
    counts = {"schedule": 0, "reschedule": 0, "cancel": 0, "pop_due": 0, "peek": 0}
    popped = 0
    for _ in range(2000):
        operation = rng.choices(
            ["schedule", "reschedule", "cancel", "pop_due", "peek"], weights=[5, 3, 2, 2, 1]
        )[0]
        if operation == "reschedule" and not model.entries:
            operation = "schedule"
        counts[operation] += 1
        if operation in ("schedule", "reschedule"):
            if operation == "schedule":
                key = rng.randrange(40)
            else:
                key = rng.choice(sorted(model.entries))
            deadline = rng.choice(_DEADLINES)
            timeline.schedule(key, deadline)
            model.schedule(key, deadline)
        elif operation == "cancel":
            key = rng.randrange(40)
            assert timeline.cancel(key) is model.cancel(key)
        elif operation == "pop_due":
            now = rng.choice(_DEADLINES)
            limit = rng.choice([None, 0, 1, 2, 3, 5, 100])
            got = timeline.pop_due(now, limit)
            assert got == model.pop_due(now, limit)
            popped += len(got)
        else:
            assert timeline.peek() == model.peek()
        now = rng.choice(_DEADLINES)
        assert timeline.count_due(now) == sum(1 for _, d in model.ordered() if d <= now)
        timeline._check()
        assert list(timeline) == model.ordered()
        assert len(timeline) == len(model.entries)
        probe = rng.randrange(40)
        assert (probe in timeline) is (probe in model.entries)
        expected = model.entries.get(probe)
        assert timeline.deadline(probe) == (None if expected is None else expected[0])
    # The run exercised every operation, and pop_due did real work.
    assert all(count > 50 for count in counts.values()), counts
    assert popped > 100


# -- doctests ------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [quiv._timing, quiv._schedule])
def test_module_doctests(module: object) -> None:
    failed, attempted = doctest.testmod(module, verbose=False)  # type: ignore[arg-type]
    assert attempted > 0
    assert failed == 0
