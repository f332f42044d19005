"""Planning as pure code: next runs from given times, with no thread and no clock."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quiv._arguments import PICKLE
from quiv._entries import JobEntry, Plan, TaskEntry, TaskSettings, shared_settings
from quiv._invocation import Injection
from quiv._machines import TaskState
from quiv._resolve import build_schedule
from quiv._schedule import AtSchedule, IntervalSchedule, Misfire, Schedule
from quiv._scheduler.planning import (
    Now,
    calendar_plan,
    following,
    interval_plan,
    misfire_skips,
    next_regular,
    plan_at,
    recurring_plan,
    resume_plan,
    skip_plan,
    upcoming,
)

UTC = timezone.utc
NOW = Now(mono=100.0, wall=1_800_000_000.0)  # 2027-01-15 08:00:00 UTC
NO_JITTER = lambda: 0.0  # noqa: E731

times = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
offsets = st.floats(min_value=0.0, max_value=1e9, allow_nan=False)
intervals = st.floats(min_value=0.01, max_value=1e5, allow_nan=False)


def _cron(expression: str, zone: str = "UTC") -> Schedule:
    return build_schedule(
        interval=None,
        cron=expression,
        at=None,
        timezone=zone,
        default_zone=UTC,
        delay=0.0,
        run_once=False,
        fixed_interval=True,
        now=0.0,
    )


def _task(schedule: Schedule | None = None, **fields: Any) -> TaskEntry:
    policy = {name: fields.pop(name) for name in TaskSettings._fields if name in fields}
    settings = shared_settings(
        TaskSettings(**{"injection": Injection(), "codec": PICKLE, **policy})
    )
    return TaskEntry(
        **{
            "id": "t",
            "name": "t",
            "func": lambda: None,
            "args_blob": b"",
            "kwargs_blob": b"",
            "schedule": schedule or IntervalSchedule(10.0),
            "settings": settings,
            "next_run_at": 0.0,
            **fields,
        }
    )


def _job(task: TaskEntry, **fields: Any) -> JobEntry:
    job = JobEntry(id="j", task=task, created_at=fields.pop("created_at", 0.0))
    for name, value in fields.items():
        setattr(job, name, value)
    return job


# -- the two clocks --------------------------------------------------------------------------


@given(deadline=times, mono=times, offset=offsets, jitter=st.floats(0.0, 60.0))
def test_every_plan_shows_its_deadline_at_the_same_offset_between_the_clocks(
    deadline: float, mono: float, offset: float, jitter: float
) -> None:
    """However a plan is made, its epoch instant and its monotonic deadline are the same
    moment: they differ by the clocks' offset at the time of planning."""
    now = Now(mono, mono + offset)
    for plan in (
        plan_at(deadline, now),
        interval_plan(deadline, jitter, now),
        calendar_plan(deadline + offset, jitter, now),
    ):
        assert math.isclose(plan.at - plan.deadline, offset, abs_tol=1e-6)


def test_jitter_moves_the_run_and_never_the_slot() -> None:
    assert interval_plan(110.0, 2.5, NOW) == Plan(112.5, 110.0, NOW.wall + 12.5)
    assert calendar_plan(NOW.wall + 10, 2.5, NOW) == Plan(112.5, NOW.wall + 10, NOW.wall + 12.5)
    assert plan_at(105.0, NOW, slot=7.0).slot == 7.0


def test_a_recurring_plan_draws_jitter_only_when_there_is_a_slot() -> None:
    draws: list[float] = []

    def draw() -> float:
        draws.append(1.0)
        return 1.0

    schedule = _cron("0 9 * * *")
    plan = recurring_plan(schedule, NOW.wall, draw, NOW)  # type: ignore[arg-type]
    nine = datetime(2027, 1, 15, 9, tzinfo=UTC).timestamp()
    assert plan == Plan(NOW.mono + 3600 + 1.0, nine, nine + 1.0)
    assert draws == [1.0]
    at = AtSchedule(NOW.wall - 1, UTC)
    assert resume_plan(_task(at), 0.0, NO_JITTER, NOW)[1] is True  # its time has passed


# -- after a run ----------------------------------------------------------------------------------


@given(
    anchor=st.floats(0.0, 1e4),
    interval=intervals,
    ran=st.floats(0.0, 1e5),
)
def test_a_fixed_interval_keeps_its_cadence_and_skips_the_slots_a_long_run_covered(
    anchor: float, interval: float, ran: float
) -> None:
    """Oracle: the first slot anchor + k * interval (k >= 1) at or after the end, and
    after the start."""
    task = _task(IntervalSchedule(interval))
    ended = anchor + ran
    job = _job(task, anchor=anchor, started_mono=anchor)
    plan = next_regular(task, job, NOW.wall, ended, NO_JITTER, NOW)
    assert plan is not None
    assert plan.slot is not None
    k = round((plan.slot - anchor) / interval)
    assert k >= 1
    assert math.isclose(plan.slot, anchor + k * interval, rel_tol=1e-9, abs_tol=1e-6)
    assert plan.slot >= ended - 1e-6
    # It is the first such slot: the one before it was already past (or the anchor itself).
    assert k == 1 or anchor + (k - 1) * interval <= ended + 1e-6


@given(started=st.floats(0.0, 1e4), ran=st.floats(0.0, 1e4), interval=intervals)
def test_a_free_interval_waits_a_whole_interval_after_the_run_ends(
    started: float, ran: float, interval: float
) -> None:
    task = _task(IntervalSchedule(interval, fixed=False))
    job = _job(task, anchor=started, started_mono=started)
    plan = next_regular(task, job, NOW.wall, started + ran, NO_JITTER, NOW)
    assert plan is not None
    assert math.isclose(plan.deadline, started + ran + interval)


def test_a_cron_run_that_overran_its_next_slots_goes_to_the_first_after_its_end() -> None:
    task = _task(_cron("*/5 * * * *"))
    slot = datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp()
    job = _job(task, slot=slot)
    ended = slot + 12 * 60  # 08:12
    plan = next_regular(task, job, ended, 0.0, NO_JITTER, NOW)
    assert plan is not None
    assert plan.slot == datetime(2027, 1, 15, 8, 15, tzinfo=UTC).timestamp()


def test_a_shared_interval_counts_its_slots_on_the_wall_clock() -> None:
    task = _task(IntervalSchedule(60.0), shared=True)
    job = _job(task, slot=NOW.wall - 60, started_at=NOW.wall - 60)
    plan = next_regular(task, job, NOW.wall - 30, 0.0, NO_JITTER, NOW)
    assert plan is not None
    assert plan.slot == NOW.wall
    assert plan.deadline == NOW.mono


# -- misfire and skipped slots ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("misfire", "late", "slot", "skips"),
    [
        (Misfire.SKIP, 2.0, 5.0, True),
        (Misfire.SKIP, 0.5, 5.0, False),  # within the grace
        (Misfire.SKIP, 2.0, None, False),  # not a regular run: run now, a retry
        (Misfire.COALESCE, 99.0, 5.0, False),
    ],
)
def test_the_misfire_policy_skips_only_a_regular_run_beyond_its_grace(
    misfire: Misfire, late: float, slot: float | None, skips: bool
) -> None:
    task = _task(misfire=misfire, grace=1.0, slot=slot)
    assert misfire_skips(task, late) is skips


@given(slot=st.floats(0.0, 1e4), interval=intervals, late=st.floats(0.0, 1e5))
def test_after_a_skip_the_next_slot_is_in_the_same_cadence_and_not_in_the_past(
    slot: float, interval: float, late: float
) -> None:
    task = _task(IntervalSchedule(interval), slot=slot)
    plan = skip_plan(task, slot + late, NO_JITTER, NOW)
    assert plan is not None
    assert plan.slot is not None
    k = round((plan.slot - slot) / interval)
    assert k >= 1
    assert plan.slot >= slot + late - 1e-6
    assert math.isclose(plan.slot, slot + k * interval, rel_tol=1e-9, abs_tol=1e-6)


def test_a_cron_slot_due_this_very_instant_is_not_skipped_over() -> None:
    nine = datetime(2027, 1, 15, 9, tzinfo=UTC).timestamp()
    task = _task(_cron("0 * * * *"), slot=nine - 3600)
    plan = skip_plan(task, 0.0, NO_JITTER, Now(NOW.mono, nine))
    assert plan is not None
    assert plan.slot == nine


# -- what other processes expect, resume, upcoming ---------------------------------------


def test_the_slot_after_another_process_run_is_computed_alike_everywhere() -> None:
    assert following(_task(IntervalSchedule(30.0), shared=True), 1000.0) == 1030.0
    assert following(_task(IntervalSchedule(30.0, run_once=True)), 1000.0) is None
    assert following(_task(IntervalSchedule(30.0)), None) is None
    eight = datetime(2027, 1, 15, 8, tzinfo=UTC).timestamp()
    assert following(_task(_cron("0 */2 * * *")), eight) == eight + 7200


def test_a_resumed_task_goes_back_to_its_kind_of_schedule() -> None:
    interval, overdue = resume_plan(_task(IntervalSchedule(60.0)), 5.0, NO_JITTER, NOW)
    assert interval == Plan(105.0, None, NOW.wall + 5.0)
    assert not overdue
    cron, _ = resume_plan(_task(_cron("30 8 * * *")), 0.0, NO_JITTER, NOW)
    assert cron is not None
    assert cron.at == NOW.wall + 1800
    later = AtSchedule(NOW.wall + 600, UTC)
    at, overdue = resume_plan(_task(later), 900.0, NO_JITTER, NOW)
    assert at is not None
    assert at.at == NOW.wall + 900
    assert at.slot == later.instant
    assert not overdue


def test_upcoming_shows_a_running_interval_tasks_slot_after_the_job() -> None:
    task = _task(IntervalSchedule(10.0), state=TaskState.RUNNING)
    task.job = _job(task, anchor=95.0, started_mono=95.0)
    shown = upcoming(task, False, NOW)
    assert shown is not None
    assert shown[1] == shown[2] == NOW.wall + 5.0
    idle = _task(IntervalSchedule(10.0), next_run_at=NOW.wall + 7.0, slot=106.0)
    assert upcoming(idle, True, NOW) == (idle, NOW.wall + 7.0, NOW.wall + 6.0)
    asked = _task(IntervalSchedule(10.0), next_run_at=NOW.wall + 1.0)
    assert upcoming(asked, True, NOW) == (asked, NOW.wall + 1.0, NOW.wall + 1.0)
    once = _task(IntervalSchedule(10.0, run_once=True), state=TaskState.RUNNING)
    once.job = _job(once)
    assert upcoming(once, False, NOW) is None


@given(
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
)
def test_a_daily_recurring_plan_lands_on_its_wall_time_in_its_zone(
    hour: int, minute: int, zone: str
) -> None:
    """Oracle: the local time of the planned slot, read back in the zone, is the time asked
    for, within the next day (no zone sampled has a DST change in mid-January)."""
    schedule = _cron(f"{minute} {hour} * * *", zone)
    plan = recurring_plan(schedule, NOW.wall, NO_JITTER, NOW)  # type: ignore[arg-type]
    assert plan is not None
    assert plan.slot is not None
    local = datetime.fromtimestamp(plan.slot, ZoneInfo(zone))
    assert plan.slot > NOW.wall
    assert plan.slot - NOW.wall <= 86400 + 3600
    assert (local.hour, local.minute) == (hour, minute)
