"""Planning: when each kind of schedule runs next, as pure arithmetic on given times.

Every function here takes the present as a ``Now`` (a monotonic and an epoch reading taken
together) and jitter as a draw (a callable, called only by a plan that adds jitter, so a
seeded generator gives the same sequence whatever the plan). None reads a clock, sleeps or
touches a thread, so each is tested with plain numbers. ``Planner`` is the one edge: it reads
the scheduler's clock, draws from its generator, and hands both to these functions.

Two clocks meet here. An interval task of one process counts on the monotonic clock: its
slots are monotonic instants. A calendar task (cron, ``at=``, and every other kind of
``quiv.schedules`` with wall-clock slots) and a shared interval task (every process must
agree on its slots) count on the wall clock: slots are epoch instants,
held on the timeline as the monotonic deadline they map to now (``wall_timed``). A ``Plan``
carries both: the deadline the timeline holds and the epoch instant ``next_run_at`` shows.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import NamedTuple

from .._clock import Clock
from .._entries import JobEntry, Plan, TaskEntry
from .._machines import TaskState
from .._schedule import (
    RECURRING,
    AtSchedule,
    CronSchedule,
    IntervalSchedule,
    Misfire,
    RuleSchedule,
    next_after_run,
    slot_after_run,
)

__all__ = [
    "Now",
    "Planner",
    "calendar_plan",
    "following",
    "interval_plan",
    "misfire_skips",
    "next_regular",
    "overlap_plan",
    "plan_at",
    "recurring_plan",
    "resume_plan",
    "skip_plan",
    "slot_after",
    "upcoming",
    "within_end",
]

Draw = Callable[[], float]


class Now(NamedTuple):
    """The present on both clocks: monotonic seconds and epoch seconds, read together."""

    mono: float
    wall: float


def plan_at(deadline: float, now: Now, slot: float | None = None) -> Plan:
    """A run at the monotonic ``deadline`` that is not a regular one (run now, resume, a
    retry); ``slot``: the regular run it stands for, only later.

    >>> plan_at(12.0, Now(10.0, 1000.0))
    Plan(deadline=12.0, slot=None, at=1002.0)
    """
    return Plan(deadline, slot, now.wall + (deadline - now.mono))


def interval_plan(slot: float, jitter: float, now: Now) -> Plan:
    """The run of an interval task at the monotonic ``slot``, ``jitter`` seconds after it.

    >>> interval_plan(15.0, 0.5, Now(10.0, 1000.0))
    Plan(deadline=15.5, slot=15.0, at=1005.5)
    """
    deadline = slot + jitter
    return Plan(deadline, slot, now.wall + (deadline - now.mono))


def calendar_plan(slot: float, jitter: float, now: Now) -> Plan:
    """The run of a wall-timed task at the epoch instant ``slot``, ``jitter`` seconds after it.

    >>> calendar_plan(1005.0, 0.5, Now(10.0, 1000.0))
    Plan(deadline=15.5, slot=1005.0, at=1005.5)
    """
    at = slot + jitter
    return Plan(now.mono + (at - now.wall), slot, at)


def recurring_plan(
    schedule: CronSchedule | RuleSchedule, after: float, draw: Draw, now: Now
) -> Plan | None:
    """The first run of a cron (or other recurring wall-clock) schedule after the epoch
    instant ``after`` (None: there is none left, past its end or the year 9999)."""
    slot = schedule.next_slot(after)
    return None if slot is None else calendar_plan(slot, draw(), now)


def within_end(schedule: IntervalSchedule, plan: Plan) -> Plan | None:
    """``plan``, unless it is after the end of its interval schedule (None: no run left).

    >>> from quiv.schedules import Interval
    >>> from datetime import datetime, timezone
    >>> ends = IntervalSchedule(5.0, False, False, Interval(5.0, fixed=False,
    ...     end=datetime.fromtimestamp(1000.0, timezone.utc)))
    >>> within_end(ends, Plan(1.0, None, 999.0)), within_end(ends, Plan(2.0, None, 1001.0))
    (Plan(deadline=1.0, slot=None, at=999.0), None)
    """
    end = schedule.end
    return plan if end is None or plan.at <= end else None


def slot_after(job: JobEntry, ended: float, *, fixed: bool, wall: bool) -> float:
    """The regular slot of an interval task after ``job``, had it ended at ``ended``: on the
    wall clock for a wall-timed task (``wall``), else on the monotonic clock."""
    schedule = job.task.schedule
    assert isinstance(schedule, IntervalSchedule)
    if wall:
        started: float | None = job.started_at if job.started_at is not None else job.created_at
        anchor = job.slot if job.slot is not None else started
    else:
        started, anchor = job.started_mono, job.anchor
    assert anchor is not None
    return slot_after_run(
        anchor=anchor,
        started=started,
        ended=ended,
        interval=schedule.seconds,
        fixed_interval=fixed,
    )


def next_regular(
    task: TaskEntry, job: JobEntry, ended_at: float, ended_mono: float, draw: Draw, now: Now
) -> Plan | None:
    """The regular run after ``job``, which ended at ``ended_at`` (epoch) and ``ended_mono``:
    the next slot at or after its end (slots that passed while it ran are skipped, never
    made up)."""
    schedule = task.schedule
    if isinstance(schedule, IntervalSchedule) and task.wall_timed:
        slot = slot_after(job, ended_at, fixed=schedule.fixed, wall=True)
        return within_end(schedule, calendar_plan(slot, draw(), now))
    if isinstance(schedule, IntervalSchedule):
        slot = slot_after(job, ended_mono, fixed=schedule.fixed, wall=False)
        return within_end(schedule, interval_plan(slot, draw(), now))
    assert isinstance(schedule, RECURRING)
    after = ended_at if job.slot is None else max(job.slot, ended_at)
    return recurring_plan(schedule, after, draw, now)


def overlap_plan(
    task: TaskEntry, job: JobEntry, made_ahead: bool, draw: Draw, now: Now
) -> Plan | None:
    """The next run of a task that may run several jobs at once (``max_instances``), planned
    as ``job`` starts with room for another: a job made ahead gives back the run it
    displaced; a regular run of a fixed cadence plans the slot after its own (after ``now``:
    slots already past coalesce into the next); None for a paused or one-shot task, and for
    ``fixed_interval=False``, which plans at a run's end only."""
    if task.state is not TaskState.RUNNING or task.run_once:
        return None
    if made_ahead:
        return job.displaced
    schedule = task.schedule
    if isinstance(schedule, IntervalSchedule) and not schedule.fixed:
        return None
    return next_regular(task, job, now.wall, now.mono, draw, now)


def misfire_skips(task: TaskEntry, late: float) -> bool:
    """Whether the due regular run of ``task``, ``late`` seconds late, is skipped by its
    misfire policy (a run asked for, or made ahead, never is)."""
    return (
        task.settings.misfire is Misfire.SKIP
        and late > task.settings.grace
        and task.slot is not None
        and task.pending is None
    )


def skip_plan(task: TaskEntry, late_at: float, draw: Draw, now: Now) -> Plan | None:
    """The first regular slot after a skipped one, in its cadence: after the monotonic
    ``late_at`` (when the skip was decided) for a task on the monotonic clock, after
    ``now.wall`` for a wall-timed one."""
    schedule, slot = task.schedule, task.slot
    assert slot is not None
    if isinstance(schedule, IntervalSchedule):
        if task.wall_timed:
            following_slot = next_after_run(
                anchor=slot, ended=now.wall, interval=schedule.seconds, fixed_interval=True
            )
            return within_end(schedule, calendar_plan(following_slot, draw(), now))
        following_slot = next_after_run(
            anchor=slot, ended=late_at, interval=schedule.seconds, fixed_interval=True
        )
        return within_end(schedule, interval_plan(following_slot, draw(), now))
    assert isinstance(schedule, RECURRING)
    # A slot at this very instant is on time: it is the next one, not one to skip.
    return recurring_plan(schedule, max(slot, now.wall - 0.001), draw, now)


def following(task: TaskEntry, slot: float | None) -> float | None:
    """The regular slot after the epoch instant ``slot``, as every process computes it."""
    if slot is None or task.run_once:
        return None
    schedule = task.schedule
    if isinstance(schedule, RECURRING):
        return schedule.next_slot(slot)
    if isinstance(schedule, IntervalSchedule):
        end = schedule.end
        following_slot = slot + schedule.seconds
        return following_slot if end is None or following_slot <= end else None
    return None


def resume_plan(task: TaskEntry, delay: float, draw: Draw, now: Now) -> tuple[Plan | None, bool]:
    """The next run of an idle task resumed ``delay`` seconds from now, and whether its time
    had passed already (an ``at=`` time in the past: the misfire policy then decides).

    A cron task goes back to its slots (the first at least ``delay`` from now); an ``at=``
    task to its one time (no earlier than ``delay`` from now if a delay is given); an
    interval task runs ``delay`` from now.
    """
    schedule = task.schedule
    if isinstance(schedule, RECURRING):
        return recurring_plan(schedule, now.wall + delay, draw, now), False
    if isinstance(schedule, AtSchedule):
        at = schedule.instant + draw()
        if delay:
            at = max(at, now.wall + delay)
        return Plan(now.mono + (at - now.wall), schedule.instant, at), at < now.wall
    return within_end(schedule, plan_at(now.mono + delay, now)), False


def upcoming(task: TaskEntry, planned: bool, now: Now) -> tuple[TaskEntry, float, float] | None:
    """A task's next run as epoch instants: the planned one (jitter included) and the
    regular slot its cadence continues from; None when no run is planned (a one-shot task
    whose run is under way, or nothing on the timeline and no job). ``planned``: the
    timeline holds a run of it."""
    if planned:
        first = task.next_run_at
        if task.slot is None:
            return task, first, first
        base = task.slot if task.wall_timed else now.wall + (task.slot - now.mono)
        return task, first, base
    job, schedule = task.job, task.schedule
    if job is None or task.run_once:
        return None
    if task.follow_up is not None:
        first = now.wall + (task.follow_up - now.mono)
        return task, first, first
    # Running: the slot after the job, as if it ended now.
    if isinstance(schedule, IntervalSchedule) and task.wall_timed:
        first = slot_after(job, now.wall, fixed=True, wall=True)
        return task, first, first
    if isinstance(schedule, IntervalSchedule):
        slot = slot_after(job, now.mono, fixed=True, wall=False)
        first = now.wall + (slot - now.mono)
        return task, first, first
    assert isinstance(schedule, RECURRING)
    after = now.wall if job.slot is None else max(job.slot, now.wall)
    next_slot = schedule.next_slot(after)
    return None if next_slot is None else (task, next_slot, next_slot)


class Planner:
    """The clock's side of planning: reads the scheduler's clocks and draws its jitter, and
    hands both to the pure functions of this module."""

    __slots__ = ("_clock", "_epoch", "rng")

    def __init__(self, clock: Clock, epoch: Callable[[], float], rng: random.Random) -> None:
        self._clock, self._epoch = clock, epoch
        self.rng = rng  # seeded by tests that need the same jitter every run

    def now(self) -> Now:
        return Now(self._clock.monotonic(), self._epoch())

    def jitter(self, task: TaskEntry) -> float:
        spread = task.settings.jitter
        return self.rng.uniform(0.0, spread) if spread else 0.0

    def at(self, deadline: float, slot: float | None = None) -> Plan:
        return plan_at(deadline, self.now(), slot)

    def interval(self, task: TaskEntry, slot: float) -> Plan:
        return interval_plan(slot, self.jitter(task), self.now())

    def calendar(self, task: TaskEntry, slot: float) -> Plan:
        return calendar_plan(slot, self.jitter(task), self.now())

    def after_run(
        self, task: TaskEntry, job: JobEntry, ended_at: float, ended_mono: float
    ) -> Plan | None:
        return next_regular(task, job, ended_at, ended_mono, lambda: self.jitter(task), self.now())

    def overlapping(self, task: TaskEntry, job: JobEntry, made_ahead: bool) -> Plan | None:
        return overlap_plan(task, job, made_ahead, lambda: self.jitter(task), self.now())

    def after_skip(self, task: TaskEntry, late_at: float) -> Plan | None:
        return skip_plan(task, late_at, lambda: self.jitter(task), self.now())

    def resumed(self, task: TaskEntry, delay: float) -> tuple[Plan | None, bool]:
        return resume_plan(task, delay, lambda: self.jitter(task), self.now())
