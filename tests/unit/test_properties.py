"""Property-based tests of the pure cores, each against an oracle of its own.

* ``_machines``: random walks of triggers against the declared transitions (the data) and
  against a ``transitions.Machine`` with a model attached (the library's own behaviour).
* ``_timing``: ``Timeline`` under random schedule/cancel/pop_due against a dict and a sort,
  with ``_check()`` after every mutation (also with stale entries swept at once).
* ``_cron`` and ``_calendar``: random cron expressions, parsed into the sets the test
  itself made; their next run in zones with DST against a scan of every minute (or second)
  that applies quiv's DST rules with a high-water mark of the wall clock.
* ``_schedule``: ``next_after_run``, ``slot_after_run`` and ``retry_delay`` against their
  contracts, with exact arithmetic where floats could hide an error.
"""

from __future__ import annotations

import calendar
import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from fractions import Fraction
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from transitions import Machine, MachineError

from quiv._calendar import next_cron_instant
from quiv._cron import CronExpression
from quiv._machines import JOB_MACHINE, TASK_MACHINE, StateMachine
from quiv._schedule import RetryPolicy, next_after_run, retry_delay, slot_after_run
from quiv._timing import Timeline
from quiv.exceptions import InvalidCronExpressionError, InvalidTransitionError

# -- state machines -----------------------------------------------------------------------

MACHINES: dict[str, StateMachine[Any]] = {"task": TASK_MACHINE, "job": JOB_MACHINE}


def _states(machine: StateMachine[Any]) -> list[Any]:
    return list(cast("Iterable[Any]", machine.states))


def _declared(machine: StateMachine[Any], state: Any, trigger: str) -> set[Any]:
    """Where the declared transitions take ``state`` on ``trigger`` (read off the data)."""
    return {t.dest for t in machine.transitions if t.trigger == trigger and state in t.sources}


class _Holder:
    """An object with a state, for a ``transitions.Machine`` to move."""

    state: object


@functools.cache
def _library_machine(kind: str) -> tuple[Machine, _Holder]:
    """A ``transitions.Machine`` with a model, built from the same declared data."""
    machine = MACHINES[kind]
    holder = _Holder()
    library = Machine(
        model=holder,
        states=_states(machine),
        transitions=[
            {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest}
            for t in machine.transitions
        ],
        initial=machine.initial,
        auto_transitions=False,
        ignore_invalid_triggers=False,
    )
    return library, holder


def _step(kind: str, holder: _Holder, state: Any, trigger: str) -> Any:
    """Fire ``trigger`` on an object in ``state``: check ``next_state`` against the declared
    data and ``holder``'s library machine; return the state the object is in after."""
    machine = MACHINES[kind]
    declared = _declared(machine, state, trigger)
    assert len(declared) <= 1, f"{kind}: {trigger!r} from {state} is ambiguous"
    assert machine.can(state, trigger) is bool(declared)
    if not declared:
        with pytest.raises(InvalidTransitionError) as refused:
            machine.next_state("obj-1", state, trigger)
        error = refused.value
        assert (error.kind, error.obj_id, error.state, error.trigger) == (
            kind,
            "obj-1",
            state.value,
            trigger,
        )
        with pytest.raises(MachineError):
            getattr(holder, trigger)()
        assert holder.state == state  # the library refuses it too, and leaves the state
        return state
    following = machine.next_state("obj-1", state, trigger)
    assert declared == {following}
    assert state not in machine.terminal, f"{kind}: {trigger!r} leaves terminal {state}"
    getattr(holder, trigger)()
    assert holder.state == following
    return following


@pytest.mark.parametrize("kind", sorted(MACHINES))
def test_every_state_and_trigger_is_declared_or_refused(kind: str) -> None:
    """Each (state, trigger) is either a declared transition, landing where declared (and
    where the ``transitions`` library lands), or an ``InvalidTransitionError`` naming the
    object, its state and the trigger, with the state left as it was (the library refuses
    it too). A terminal state has no way out. (All pairs: there are few.)"""
    machine = MACHINES[kind]
    library, holder = _library_machine(kind)
    for state in _states(machine):
        for trigger in (*machine.triggers, "explode"):
            library.set_state(state, model=holder)
            if trigger == "explode":  # not a trigger at all: the library has no method
                with pytest.raises(InvalidTransitionError):
                    machine.next_state("obj-1", state, trigger)
                continue
            _step(kind, holder, state, trigger)


@settings(max_examples=200)
@given(kind=st.sampled_from(sorted(MACHINES)), data=st.data())
def test_a_walk_of_triggers_follows_the_declared_transitions(
    kind: str, data: st.DataObject
) -> None:
    """Random histories from the initial state (each step mostly a legal trigger, so that
    walks go deep, sometimes any trigger): every step is as ``_step`` checks, and a walk
    that reached a terminal state stays there."""
    machine = MACHINES[kind]
    library, holder = _library_machine(kind)
    library.set_state(machine.initial, model=holder)
    state = machine.initial
    for _ in range(data.draw(st.integers(0, 30), label="steps")):
        legal = [t for t in machine.triggers if _declared(machine, state, t)]
        anything = not legal or data.draw(st.integers(0, 4), label="any trigger?") == 0
        choices = machine.triggers if anything else legal
        trigger = data.draw(st.sampled_from(choices), label="trigger")
        ended = state in machine.terminal
        state = _step(kind, holder, state, trigger)
        assert not ended or state in machine.terminal


@pytest.mark.parametrize("kind", sorted(MACHINES))
def test_every_state_is_reachable_and_can_end(kind: str) -> None:
    """From the initial state every state is reachable, and from every state a terminal
    one: no state is dead code, and nothing is stuck."""
    machine = MACHINES[kind]
    edges = {(t.dest, s) for t in machine.transitions for s in t.sources}

    def closure(start: set[object], forward: bool) -> set[object]:
        seen = set(start)
        while True:
            more = {
                (dest if forward else source)
                for dest, source in edges
                if (source if forward else dest) in seen
            } - seen
            if not more:
                return seen
            seen |= more

    assert closure({machine.initial}, forward=True) == set(_states(machine))
    assert closure(set(machine.terminal), forward=False) == set(_states(machine))


# -- the timing structure -----------------------------------------------------------------


class _EagerTimeline(Timeline[int]):
    """Sweeps stale entries as soon as they outnumber live ones: the sweep runs often."""

    _SWEEP_SLACK = 0


KEYS = st.integers(0, 7)
# Mostly a few distinct deadlines, so that ties (FIFO by insertion) are common and a
# pop_due leaves some entries behind; sometimes any float, or an infinity.
_FEW = [0.0, 1.0, 1.5, 2.0, 10.0]
DEADLINES = st.integers(0, 9).flatmap(
    lambda n: (
        st.sampled_from([-math.inf, math.inf])
        if n == 0
        else st.floats(-1e6, 1e6, allow_nan=False)
        if n == 1
        else st.sampled_from(_FEW)
    )
)


class TimelineMachine(RuleBasedStateMachine):
    """``Timeline`` against a dict of key -> (deadline, insertion number)."""

    make: Callable[[], Timeline[int]] = Timeline

    def __init__(self) -> None:
        super().__init__()
        self.timeline = self.make()
        self.model: dict[int, tuple[float, int]] = {}
        self.seq = 0

    def _order(self) -> list[tuple[int, float]]:
        ordered = sorted(self.model.items(), key=lambda item: item[1])
        return [(key, deadline) for key, (deadline, _) in ordered]

    @rule(key=KEYS, deadline=DEADLINES)
    def schedule(self, key: int, deadline: float) -> None:
        self.timeline.schedule(key, deadline)
        self.model[key] = (deadline, self.seq)
        self.seq += 1
        self.timeline._check()

    @rule(key=KEYS)
    def schedule_nan(self, key: int) -> None:
        with pytest.raises(ValueError, match="NaN"):
            self.timeline.schedule(key, math.nan)
        self.timeline._check()

    @rule(key=KEYS)
    def cancel(self, key: int) -> None:
        assert self.timeline.cancel(key) is (key in self.model)
        self.model.pop(key, None)
        self.timeline._check()

    @rule(now=DEADLINES, limit=st.none() | st.integers(0, 4))
    def pop_due(self, now: float, limit: int | None) -> None:
        due = [(key, deadline) for key, deadline in self._order() if deadline <= now]
        expected = due if limit is None else due[:limit]
        assert self.timeline.pop_due(now, limit) == expected
        for key, _ in expected:
            del self.model[key]
        self.timeline._check()

    @invariant()
    def agrees(self) -> None:
        timeline = self.timeline
        order = self._order()
        assert len(timeline) == len(self.model)
        assert list(timeline) == order
        assert timeline.peek() == (None if not order else (order[0][1], order[0][0]))
        for key in range(8):
            assert (key in timeline) is (key in self.model)
            entry = self.model.get(key)
            assert timeline.deadline(key) == (None if entry is None else entry[0])
        timeline._check()  # peek may have dropped stale entries


class EagerTimelineMachine(TimelineMachine):
    make = _EagerTimeline


_TIMELINE_SETTINGS = settings(max_examples=60, stateful_step_count=60)
TestTimeline = TimelineMachine.TestCase
TestTimeline.settings = _TIMELINE_SETTINGS
TestEagerTimeline = EagerTimelineMachine.TestCase
TestEagerTimeline.settings = _TIMELINE_SETTINGS


# -- cron expressions and their next run --------------------------------------------------

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class CronSpec:
    """A cron expression the test wrote, with the sets of values it means."""

    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 is Sunday
    day_or: bool  # both day fields restricted: a day matches if either does

    def matches(self, wall: datetime) -> bool:
        weekday = wall.isoweekday() % 7
        if self.day_or:
            day = wall.day in self.days or weekday in self.weekdays
        else:
            day = wall.day in self.days and weekday in self.weekdays
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and day
        )

    @property
    def never_runs(self) -> bool:
        """Whether no month it allows has the smallest day it asks for (and the weekday
        field cannot make up for it)."""
        if self.day_or or len(self.days) == 31:
            return False
        longest = max(calendar.monthrange(2000, month)[1] for month in self.months)
        return min(self.days) > longest


@st.composite
def _field(
    draw: st.DrawFn,
    low: int,
    high: int,
    names: tuple[str, ...] = (),
    name_base: int = 0,
    stars: int = 3,
) -> tuple[str, frozenset[int], bool]:
    """A field's text, the values it selects, and whether it is ``*`` (``stars`` times in
    ten)."""
    if draw(st.sampled_from([False] * (10 - stars) + [True] * stars)):
        return "*", frozenset(range(low, high + 1)), True

    def value_text(value: int) -> str:
        index = value - name_base
        if names and 0 <= index < len(names) and draw(st.booleans()):
            return draw(st.sampled_from([names[index], names[index].lower()]))
        return str(value)

    items, values = [], set()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["value", "range", "star-step", "range-step", "from-step"]))
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, high))
        step = draw(st.integers(1, max(1, high - low)))
        if kind == "value":
            items.append(value_text(a))
            values.add(a)
        elif kind == "range":
            items.append(f"{value_text(a)}-{value_text(b)}")
            values.update(range(a, b + 1))
        elif kind == "star-step":
            items.append(f"*/{step}")
            values.update(range(low, high + 1, step))
        elif kind == "range-step":
            items.append(f"{a}-{b}/{step}")
            values.update(range(a, b + 1, step))
        else:
            items.append(f"{a}/{step}")
            values.update(range(a, high + 1, step))
    return ",".join(items), frozenset(values), False


@st.composite
def cron_specs(
    draw: st.DrawFn, *, seconds: bool = False, hours: tuple[int, ...] = (), days_stars: int = 7
) -> CronSpec:
    """Random expressions. The day and month fields are ``*`` ``days_stars`` times in ten.
    Given ``hours``, the hour field is one of them, some of them, ``*`` or anything, in
    equal parts."""
    second_text, second_set, _ = draw(_field(0, 59)) if seconds else ("0", frozenset({0}), False)
    minute_text, minute_set, _ = draw(_field(0, 59))
    how = draw(st.sampled_from(["one", "some", "every", "any"])) if hours else "any"
    if how in ("one", "some"):
        chosen = (
            [draw(st.sampled_from(hours))]
            if how == "one"
            else sorted(draw(st.sets(st.sampled_from(hours), min_size=1)))
        )
        hour_text, hour_set = ",".join(map(str, chosen)), frozenset(chosen)
    elif how == "every":
        hour_text, hour_set = "*", frozenset(range(24))
    else:
        hour_text, hour_set, _ = draw(_field(0, 23, stars=4))
    day_text, day_set, day_star = draw(_field(1, 31, stars=days_stars))
    month_text, month_set, _ = draw(_field(1, 12, _MONTHS, 1, stars=days_stars))
    weekday_text, weekday_set, weekday_star = draw(_field(0, 7, _DAYS, 0, stars=days_stars))
    if 7 in weekday_set:
        weekday_set = (weekday_set - {7}) | {0}
    fields = [minute_text, hour_text, day_text, month_text, weekday_text]
    if seconds:
        fields.insert(0, second_text)
    return CronSpec(
        " ".join(fields),
        second_set,
        minute_set,
        hour_set,
        day_set,
        month_set,
        weekday_set,
        day_or=not day_star and not weekday_star,
    )


@given(cron_specs(seconds=True, days_stars=5))
def test_a_cron_expression_selects_the_values_it_was_written_with(spec: CronSpec) -> None:
    """Parsing gives the sets the test meant, or refuses an expression that never runs."""
    if spec.never_runs:
        with pytest.raises(InvalidCronExpressionError):
            CronExpression.parse(spec.text)
        return
    cron = CronExpression.parse(spec.text)
    assert set(cron.seconds) == spec.seconds
    assert set(cron.minutes) == spec.minutes
    assert set(cron.hours) == spec.hours
    assert cron.days == spec.days
    assert set(cron.months) == spec.months
    assert cron.weekdays == spec.weekdays
    assert cron.day_or is spec.day_or


UTC = timezone.utc
# Zones with DST (one that shifts by 30 minutes, one 45 minutes off the hour, one whose
# shift is at midnight, two in the south), zones without, and UTC itself.
ZONE_NAMES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Santiago",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Asia/Tokyo",
]
NO_DST = ("Asia/Kolkata", "Asia/Tokyo")
YEARS = (2026, 2029)  # transitions of these years, give or take a few days


def _offset(zone: tzinfo, instant: int) -> timedelta | None:
    return datetime.fromtimestamp(instant, zone).utcoffset()


@functools.cache
def _transitions(zone_name: str) -> tuple[int, ...]:
    """The instants at which ``zone_name`` changes its offset in ``YEARS``, found by
    probing every hour and bisecting (zoneinfo does not list them)."""
    zone = ZoneInfo(zone_name)
    start = int(datetime(YEARS[0], 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(YEARS[1], 1, 1, tzinfo=UTC).timestamp())
    found = []
    previous = start
    for probe in range(start + 3600, end, 3600):
        if _offset(zone, probe) != _offset(zone, previous):
            low, high = previous, probe
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(zone, middle) == _offset(zone, low):
                    low = middle
                else:
                    high = middle
            found.append(high)
        previous = probe
    return tuple(found)


def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


def _oracle(spec: CronSpec, zone: tzinfo, after: float, tick: int, window: int) -> int | None:
    """The first instant after ``after`` (within ``window`` seconds) at which ``spec``
    runs in ``zone``, by looking at every ``tick`` seconds of wall clock.

    With every hour selected (or in UTC) it runs at each instant whose wall time matches:
    wall times skipped by a jump never run, and those read twice run twice. Otherwise it
    keeps wall times: each instant runs the wall times between the highest one read before
    and the one read now, so the wall times a jump skips run at its instant, and those
    read again after a jump back do not run again.
    """
    elapsed = zone is UTC or len(spec.hours) == 24
    first = (math.floor(after) // tick - 3 * 3600 // tick) * tick  # room to see a jump back
    high_water = datetime.fromtimestamp(first, zone).replace(tzinfo=None)
    step = timedelta(seconds=tick)
    for instant in range(first + tick, math.floor(after) + window + 1, tick):
        wall = datetime.fromtimestamp(instant, zone).replace(tzinfo=None)
        if elapsed:
            runs = spec.matches(wall)
        else:
            runs = False
            probe = high_water + step
            while probe <= wall and not runs:
                runs = spec.matches(probe)
                probe += step
            high_water = max(high_water, wall)
        if runs and instant > after:
            return instant
    return None


def _check_next_run(spec: CronSpec, zone: tzinfo, after: float, tick: int, window: int) -> None:
    assume(not spec.never_runs)
    expected = _oracle(spec, zone, after, tick, window)
    found = next_cron_instant(CronExpression.parse(spec.text), zone, after)
    if expected is None:  # not within the window: then not the implementation's either
        assert found is None or found > math.floor(after) + window, found
    else:
        assert found == expected, (
            f"{spec.text!r} in {zone} after {datetime.fromtimestamp(after, UTC)}: "
            f"found {found and datetime.fromtimestamp(found, zone)}, "
            f"expected {datetime.fromtimestamp(expected, zone)}"
        )


def _jump_hours(zone: tzinfo, jump: int) -> tuple[int, ...]:
    """The hours of the wall times a transition skips or reads twice, and those either side."""
    before = datetime.fromtimestamp(jump - 1, zone).replace(tzinfo=None)
    after = datetime.fromtimestamp(jump, zone).replace(tzinfo=None)
    low, high = min(before, after), max(before, after)
    hours = set()
    while low <= high:
        hours.add(low.hour)
        low += timedelta(minutes=1)
    return tuple(sorted(hours))


@st.composite
def _cron_runs(
    draw: st.DrawFn, zone_name: str, *, seconds: bool, at_a_jump: bool
) -> tuple[CronSpec, tzinfo, float]:
    """An expression and an instant in ``zone_name``. ``at_a_jump``: the instant is within
    hours before (or a little after) one of the zone's transitions, and the hour field
    often selects hours the jump skips or reads twice, where the DST rules matter. Else
    the instant is anywhere in ``YEARS``, and the expression anything."""
    zone = _zone(zone_name)
    hours: tuple[int, ...] = ()
    after: float
    if at_a_jump and zone is not UTC:
        jump = draw(st.sampled_from(_transitions(zone_name)))
        after = jump + draw(st.integers(-3 * 3600, 1800))
        hours = _jump_hours(zone, jump)
    else:
        low = int(datetime(YEARS[0], 1, 1, tzinfo=UTC).timestamp())
        after = draw(st.integers(low, low + 2 * 365 * 86400))
    after += draw(st.sampled_from([0.0, 0.0, 0.25, 0.999]))
    spec = draw(cron_specs(seconds=seconds, hours=hours, days_stars=9))
    return spec, zone, after


@pytest.mark.parametrize(
    ("zone_name", "at_a_jump"),
    [(name, False) for name in ["UTC", *ZONE_NAMES]]
    + [(name, True) for name in ZONE_NAMES if name not in NO_DST],
)
@settings(max_examples=20, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_next_cron_run_is_the_first_a_scan_of_every_minute_finds(
    zone_name: str, at_a_jump: bool, data: st.DataObject
) -> None:
    spec, zone, after = data.draw(_cron_runs(zone_name, seconds=False, at_a_jump=at_a_jump))
    _check_next_run(spec, zone, after, tick=60, window=3 * 86400)


@pytest.mark.parametrize(
    ("zone_name", "at_a_jump"),
    [("UTC", False), ("America/New_York", True), ("Australia/Lord_Howe", True)],
)
@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_next_cron_run_to_the_second_is_the_first_a_scan_of_every_second_finds(
    zone_name: str, at_a_jump: bool, data: st.DataObject
) -> None:
    spec, zone, after = data.draw(_cron_runs(zone_name, seconds=True, at_a_jump=at_a_jump))
    _check_next_run(spec, zone, after, tick=1, window=3 * 3600)


# -- schedule arithmetic ------------------------------------------------------------------

# Exact binary fractions, so that "ended exactly on a slot" happens and can be told apart.
GRID = st.integers(-4000, 4000).map(lambda n: n / 8)
INTERVALS = st.one_of(
    st.integers(1, 400).map(lambda n: n / 8),
    st.floats(1e-3, 1e4, allow_nan=False, allow_infinity=False),
)
TIMES = st.one_of(GRID, st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))


def _slot_number(anchor: float, interval: float, slot: float) -> int:
    """k such that ``slot == anchor + k * interval``, exactly (as the float sum is)."""
    k = round((slot - anchor) / interval)
    for candidate in (k - 1, k, k + 1):
        if anchor + candidate * interval == slot:
            return candidate
    raise AssertionError(f"{slot} is not on the cadence {anchor} + k * {interval}")


@st.composite
def _ends(draw: st.DrawFn) -> tuple[float, float, float]:
    """An anchor, an interval and an end: anywhere, or exactly on a slot as the float sum
    ``anchor + k * interval`` gives it (where a division can round past the slot), or
    next to one."""
    anchor, interval = draw(TIMES), draw(INTERVALS)
    how = draw(st.sampled_from(["anywhere", "on a slot", "next to a slot"]))
    if how == "anywhere":
        return anchor, interval, draw(TIMES)
    ended = anchor + draw(st.integers(-10, 10_000)) * interval
    if how == "next to a slot":
        ended = math.nextafter(ended, draw(st.sampled_from([-math.inf, math.inf])))
    return anchor, interval, ended


@given(_ends())
# An end an ulp after slot 289, where the division rounds down to exactly 289.0.
@example(run=(0.0, 132.1629896946323, 38195.10402174874))
def test_a_fixed_interval_runs_at_the_first_slot_at_or_after_the_end(
    run: tuple[float, float, float],
) -> None:
    """The next run is a slot ``anchor + k * interval`` with k >= 1, not before the run
    ended, and the slot before it (if k > 1) is before the end: no slot is run twice, and
    the slots an overrun passed are skipped, not made up."""
    anchor, interval, ended = run
    assume(abs(ended - anchor) / interval < 1e6)  # k stays exact in a float
    slot = next_after_run(anchor=anchor, ended=ended, interval=interval, fixed_interval=True)
    k = _slot_number(anchor, interval, slot)
    assert k >= 1
    assert slot >= ended
    assert k == 1 or anchor + (k - 1) * interval < ended


@given(anchor=TIMES, ended=TIMES, interval=INTERVALS)
def test_a_completion_anchored_interval_waits_from_the_end(
    anchor: float, ended: float, interval: float
) -> None:
    slot = next_after_run(anchor=anchor, ended=ended, interval=interval, fixed_interval=False)
    assert slot == ended + interval


@given(
    anchor=GRID,
    interval=st.integers(1, 400).map(lambda n: n / 8),
    late=st.sampled_from([0, 2]) | st.integers(0, 50),  # 2: late by a whole slot
    run=st.just(0) | st.integers(0, 50),  # 0: a run that takes no time
    fixed=st.booleans(),
    started_known=st.booleans(),
)
def test_the_slot_after_a_run_against_stepping_through_the_slots(
    anchor: float,
    interval: float,
    late: int,
    run: int,
    fixed: bool,
    started_known: bool,
) -> None:
    """``slot_after_run`` against the brute force: the first slot (k >= 1) at or after the
    end and after the start. Times on a grid of eighths, started and ended often on slots
    (a late, coalesced run, and a run that takes no time)."""
    started = anchor + late * interval / 2
    ended = started + run * interval / 4
    slot = slot_after_run(
        anchor=anchor,
        started=started if started_known else None,
        ended=ended,
        interval=interval,
        fixed_interval=fixed,
    )
    if not fixed:
        assert slot == ended + interval
        return
    k = 1
    while anchor + k * interval < ended or (started_known and anchor + k * interval <= started):
        k += 1
    assert slot == anchor + k * interval


POLICIES = st.builds(
    RetryPolicy,
    max_retries=st.integers(0, 1000),
    backoff=st.one_of(st.integers(0, 86400), st.floats(0, 86400)),
    backoff_max=st.one_of(st.integers(0, 86400), st.floats(0, 86400)),
    jitter=st.floats(0, 1),
)
RANDOMNESS = st.one_of(st.just(0.0), st.floats(0, 1, exclude_max=True))


@given(policy=POLICIES, retry=st.integers(1, 1001), randomness=RANDOMNESS)
# A tiny backoff needs more than 64 doublings (the exponent was once capped at 64).
@example(
    policy=RetryPolicy(backoff=1.175494351e-38, backoff_max=1, jitter=0), retry=66, randomness=0
)
def test_retry_delay_is_the_capped_doubling_less_its_jitter(
    policy: RetryPolicy, retry: int, randomness: float
) -> None:
    """Against exact arithmetic: ``min(backoff_max, backoff * 2 ** (retry - 1))``, less
    ``jitter * randomness`` of it; never negative, never over ``backoff_max``."""
    exact = min(Fraction(policy.backoff_max), Fraction(policy.backoff) * 2 ** (retry - 1))
    factor = 1 - Fraction(policy.jitter) * Fraction(randomness)
    delay = retry_delay(policy, retry, randomness)
    # 1 - jitter * randomness, in floats, is off by up to an ulp of 1: of the base.
    assert math.isclose(delay, float(exact * factor), rel_tol=1e-12, abs_tol=float(exact) * 1e-15)
    assert 0 <= delay <= policy.backoff_max


@given(policy=POLICIES, retry=st.integers(1, 1000), randomness=RANDOMNESS)
def test_retry_delays_never_shrink_from_one_retry_to_the_next(
    policy: RetryPolicy, retry: int, randomness: float
) -> None:
    """With the same randomness, retry n + 1 waits at least as long as retry n."""
    assert retry_delay(policy, retry + 1, randomness) >= retry_delay(policy, retry, randomness)
