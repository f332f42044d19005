"""Schedule values (``quiv.schedules``) through the scheduler, with ``FakeClock``: the runs a
task of each kind makes are the runs ``quiv.preview`` lists for it; a schedule's ``end``
ends its task on its own (after its last run, on a resume past it, on a skipped last slot);
``add_task``'s checks of ``schedule=``; ``Task.schedule`` read back by
``schedules.from_json``, and the keyword forms building the same JSON as the values; keyed
re-registration keeping the moment a schedule's runs are counted from (its anchor), also
across a restart on a durable store, and rows stored by earlier releases; and a Hypothesis
test drawing random values and start times.

Runs are followed by moving the fake clock to each planned run of the task in turn (its
``next_run_at``) and letting it run: a run the scheduler planned elsewhere than the preview
says is then seen where the scheduler made it, and a planned run that does not happen fails
the test at once. Handlers record ``clock.now()``, so run times are exact; every expected
instant is whole seconds, so moving the clock by their differences lands on them exactly.
Where the preview could share a defect with the scheduler (the same rules compute both),
the expected instants are also pinned in UTC, worked out by hand.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

import quiv as quiv_module
from quiv import (
    ConfigurationError,
    Event,
    InvalidScheduleError,
    Quiv,
    TaskNotFoundError,
    TaskNotScheduledError,
    schedules,
)
from quiv._database import open_database
from quiv._store import _registry, _task_table
from quiv.schedules import AllOf, AnyOf, At, Calendar, Cron, Interval, Schedule
from quiv.testing import FakeClock, wait_until

from ._helpers import (
    WAIT,
    Recorder,
    WallRuns,
    advance,
    assert_consistent,
    noop,
    quiesce,
    quiv_threads,
    seconds_until,
    stored_rows,
    tick,
    utc,
    walk,
)

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600.0
DAY = 86400.0
# Long enough that no job of a test is purged while it runs (some span a year of fake time).
RETENTION = 5 * 365 * DAY


# -- fixtures and helpers --------------------------------------------------------------------


class Make(Protocol):
    def __call__(
        self, start: datetime, *, started: bool = True, **options: Any
    ) -> tuple[Quiv, FakeClock]: ...


@pytest.fixture
def make(quiv: Callable[..., Quiv]) -> Iterator[Make]:
    """``make(start, **options)``: a started ``Quiv`` (``started=False``: not yet) on a
    ``FakeClock`` that starts at ``start``. At teardown each one's invariants are checked,
    then it is shut down and no quiv thread may be left."""
    before = quiv_threads()
    made: list[Quiv] = []

    def factory(start: datetime, *, started: bool = True, **options: Any) -> tuple[Quiv, FakeClock]:
        clock = FakeClock(start)
        options.setdefault("history_retention_seconds", RETENTION)
        q = quiv(clock=clock, **options)
        if started:
            q.start()
        made.append(q)
        return q, clock

    yield factory

    for q in made:
        if q.lifecycle.value == "running":
            assert_consistent(q)
    for q in made:
        q.shutdown(timeout=WAIT)
    wait_until(lambda: not (quiv_threads() - before), WAIT)


class Events:
    """Every event of one ``Quiv``, as ``(event, task id)`` in the order delivered."""

    def __init__(self, q: Quiv) -> None:
        self._lock = threading.Lock()
        self.seen: list[tuple[str, str]] = []
        for event in Event:
            q.add_listener(event, self._record)

    def _record(self, event: Event, task: Any, *_job: Any) -> None:
        with self._lock:
            self.seen.append((event.value, task.id))

    def of(self, task_id: str) -> list[str]:
        with self._lock:
            return [event for event, task in self.seen if task == task_id]

    def wait_for(self, task_id: str, event: Event, count: int = 1) -> None:
        wait_until(lambda: self.of(task_id).count(event.value) >= count, WAIT)


def follow(q: Quiv, clock: FakeClock, task_id: str, runs: WallRuns, count: int) -> bool:
    """Move the fake clock to each planned run of the task in turn (its ``next_run_at``) and
    let it run, until ``runs`` holds ``count`` runs or the task is gone; return whether it
    is gone (it ended on its own). A planned run that does not happen fails at once."""
    quiesce(q)
    while len(runs) < count:
        try:
            planned = q.get_task(task_id).next_run_at
        except TaskNotFoundError:
            return True
        made = len(runs)
        tick(q, clock, max(0.0, seconds_until(clock, planned)))
        assert len(runs) > made, f"no run at {planned.isoformat()}, its planned time"
    return False


def jobs_of(q: Quiv, task_id: str) -> list[tuple[str, datetime | None]]:
    return [(job.status, job.started_at) for job in q.get_all_jobs(task_id=task_id)]


def previewed(value: Schedule, count: int, after: datetime, zone: str = "UTC") -> list[datetime]:
    return [run.utc for run in quiv_module.preview(value, count, after, timezone=zone)]


# -- 1: each kind runs as its preview says -----------------------------------------------


KINDS = [
    pytest.param(
        utc(2027, 1, 1),
        Interval(900, start=utc(2027, 1, 1, 0, 20)),
        4,
        [utc(2027, 1, 1, 0, m) for m in (20, 35, 50)] + [utc(2027, 1, 1, 1, 5)],
        id="interval-from-a-later-start",
    ),
    pytest.param(
        # Slots at 23:47:30, 23:57:30, 00:07:30...: the first not in the past is 00:07:30.
        utc(2027, 1, 1),
        Interval(600, start=utc(2026, 12, 31, 23, 47, 30)),
        3,
        [utc(2027, 1, 1, 0, m, 30) for m in (7, 17, 27)],
        id="interval-from-a-start-in-the-past",
    ),
    pytest.param(
        # Waits 20 minutes after each run ends (runs take no fake time); a run at its end
        # itself is its last.
        utc(2027, 1, 1),
        Interval(1200, fixed=False, end=utc(2027, 1, 1, 1)),
        6,
        [utc(2027, 1, 1, 0, m) for m in (0, 20, 40)] + [utc(2027, 1, 1, 1)],
        id="interval-after-each-run-until-its-end",
    ),
    pytest.param(
        # New York springs forward on 14 March 2027 (EST -5 to EDT -4), within the bounds.
        utc(2027, 3, 12),
        Cron(
            "0 */6 * * *",
            timezone="America/New_York",
            start=datetime(2027, 3, 13, 5, tzinfo=NEW_YORK),
            end=datetime(2027, 3, 15, 0, tzinfo=NEW_YORK),
        ),
        10,
        [
            utc(2027, 3, 13, 11),
            utc(2027, 3, 13, 17),
            utc(2027, 3, 13, 23),
            utc(2027, 3, 14, 5),
            utc(2027, 3, 14, 10),
            utc(2027, 3, 14, 16),
            utc(2027, 3, 14, 22),
            utc(2027, 3, 15, 4),
        ],
        id="cron-from-start-to-end-across-spring-forward",
    ),
    pytest.param(
        utc(2027, 6, 1, 10),
        At(datetime(2027, 6, 1, 14), timezone="Europe/Berlin"),
        3,
        [utc(2027, 6, 1, 12)],
        id="at",
    ),
    pytest.param(
        # From the 31st (08:00 CET when added): only months with a 31st, at 12:00 Berlin
        # time (CET +1 in winter, CEST +2 in summer; 31 October is the fall-back day).
        utc(2027, 1, 31, 7),
        Calendar(months=1, at="12:00", timezone="Europe/Berlin"),
        7,
        [
            utc(2027, 1, 31, 11),
            utc(2027, 3, 31, 10),
            utc(2027, 5, 31, 10),
            utc(2027, 7, 31, 10),
            utc(2027, 8, 31, 10),
            utc(2027, 10, 31, 11),
            utc(2027, 12, 31, 11),
        ],
        id="calendar-monthly-from-the-31st-in-berlin",
    ),
    pytest.param(
        # 02:30 does not exist on 28 March 2027 in Berlin: it runs at 03:00 CEST.
        utc(2027, 3, 26, 12),
        Calendar(days=1, at="02:30", timezone="Europe/Berlin"),
        3,
        [utc(2027, 3, 27, 1, 30), utc(2027, 3, 28, 1), utc(2027, 3, 29, 0, 30)],
        id="calendar-daily-across-spring-forward",
    ),
    pytest.param(
        # Weekly from Sunday 24 October (its 02:30 before the task was added); 02:30
        # happens twice on 31 October: it runs at the first (CEST).
        utc(2027, 10, 24, 12),
        Calendar(weeks=1, at="02:30", timezone="Europe/Berlin"),
        3,
        [utc(2027, 10, 31, 0, 30), utc(2027, 11, 7, 1, 30), utc(2027, 11, 14, 1, 30)],
        id="calendar-weekly-across-fall-back",
    ),
    pytest.param(
        # Friday 29 January: 09:00 Berlin on weekdays, and noon UTC monthly from the 29th
        # (February has none).
        utc(2027, 1, 29),
        Cron("0 9 * * MON-FRI", timezone="Europe/Berlin") | Calendar(months=1, at="12:00"),
        6,
        [
            utc(2027, 1, 29, 8),
            utc(2027, 1, 29, 12),
            utc(2027, 2, 1, 8),
            utc(2027, 2, 2, 8),
            utc(2027, 2, 3, 8),
            utc(2027, 2, 4, 8),
        ],
        id="any-of",
    ),
    pytest.param(
        # Weekly from Monday 4 January, on days 1-7: the first Monday of each month.
        utc(2027, 1, 1),
        Calendar(
            weeks=1, at="09:00", timezone="Europe/Berlin", start=datetime(2027, 1, 4, tzinfo=BERLIN)
        )
        & Cron("0 9 1-7 * *", timezone="Europe/Berlin"),
        4,
        [utc(2027, 1, 4, 8), utc(2027, 2, 1, 8), utc(2027, 3, 1, 8), utc(2027, 4, 5, 7)],
        id="all-of",
    ),
    pytest.param(
        # Hourly from Friday 1 January (in a combination: the runs after it was added), at
        # 09:00, 13:00 and 17:00 on weekdays; or once on Saturday at noon; until Monday 13:00.
        utc(2027, 1, 1),
        AnyOf(
            AllOf(Interval(3600, start=utc(2027, 1, 1)), Cron("0 9-17/4 * * MON-FRI")),
            At(utc(2027, 1, 2, 12)),
            end=utc(2027, 1, 4, 13),
        ),
        8,
        [
            utc(2027, 1, 1, 9),
            utc(2027, 1, 1, 13),
            utc(2027, 1, 1, 17),
            utc(2027, 1, 2, 12),
            utc(2027, 1, 4, 9),
            utc(2027, 1, 4, 13),
        ],
        id="nested-with-an-end",
    ),
]


@pytest.mark.parametrize(("added", "value", "count", "pinned"), KINDS)
def test_each_kind_runs_as_its_preview_says(
    make: Make, added: datetime, value: Schedule, count: int, pinned: list[datetime]
) -> None:
    expected = previewed(value, count, added)
    assert expected == pinned
    q, clock = make(added, started=False)  # no run before next_run_times has answered
    runs = WallRuns(clock)
    task_id = q.add_task("kind", runs, schedule=value)
    assert [run.utc for run in q.next_run_times(task_id, count)] == expected
    q.start()
    ended = follow(q, clock, task_id, runs, count)
    assert runs.times == expected
    assert jobs_of(q, task_id) == [("completed", t) for t in expected]
    if len(expected) < count:  # its schedule has no run left: the task ended on its own
        assert ended
        with pytest.raises(TaskNotFoundError):
            q.get_task(task_id)
        tick(q, clock, 400 * DAY)
        assert runs.times == expected
    else:
        assert q.get_task(task_id).next_run_at == previewed(value, count + 1, added)[-1]


def test_wall_timed_runs_are_recorded_for_their_slots(make: Make) -> None:
    value = Calendar(days=1, at="02:30", timezone="Europe/Berlin") | Cron("0 12 * * *")
    added = utc(2027, 3, 26, 12)
    q, clock = make(added)
    runs = WallRuns(clock)
    task_id = q.add_task("slots", runs, schedule=value)
    follow(q, clock, task_id, runs, 5)
    slots = [job.scheduled_for for job in q.get_all_jobs(task_id=task_id)]
    assert slots == runs.times == previewed(value, 5, added)


# -- 2: end ----------------------------------------------------------------------------------


def test_a_task_ends_on_its_own_after_its_last_run(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1))
    events = Events(q)
    runs = WallRuns(clock)
    task_id = q.add_task("until-three", runs, schedule=Cron("0 * * * *", end=utc(2027, 1, 1, 3)))
    assert [t.id for t in q.get_all_tasks()] == [task_id]  # listed: not a one-shot task
    walk(q, clock, utc(2027, 1, 1, 6), step=1800)
    # The slot at its end itself is its last run.
    expected = [utc(2027, 1, 1, 1), utc(2027, 1, 1, 2), utc(2027, 1, 1, 3)]
    assert runs.times == expected
    with pytest.raises(TaskNotFoundError):
        q.get_task(task_id)
    assert q.get_all_tasks(include_run_once=True) == []
    assert q.statistics().tasks == 0
    assert jobs_of(q, task_id) == [("completed", t) for t in expected]  # its jobs stay
    with pytest.raises(TaskNotScheduledError):
        q.run_task(task_id)
    with pytest.raises(TaskNotFoundError):
        q.resume_task(task_id)
    # Nobody removed it: no task_removed (as for a run-once task that has run).
    events.wait_for(task_id, Event.JOB_COMPLETED, 3)
    assert events.of(task_id) == ["task_added"] + ["job_started", "job_completed"] * 3


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(Cron("*/10 * * * *", end=utc(2027, 1, 1, 1)), id="cron"),
        pytest.param(Interval(600, end=utc(2027, 1, 1, 1)), id="interval"),
        pytest.param(Interval(600, fixed=False, end=utc(2027, 1, 1, 1)), id="interval-not-fixed"),
        pytest.param(Calendar(days=1, at="00:30", end=utc(2027, 1, 1, 1)), id="calendar"),
        pytest.param(
            AnyOf(Cron("0 * * * *"), Calendar(weeks=1), end=utc(2027, 1, 1, 1)), id="any-of"
        ),
    ],
)
def test_a_paused_task_resumed_after_its_end_ends(make: Make, value: Schedule) -> None:
    q, clock = make(utc(2027, 1, 1))
    events = Events(q)
    runs = WallRuns(clock)
    task_id = q.add_task("paused-past-its-end", runs, schedule=value)
    quiesce(q)
    before = list(runs.times)  # an interval's first run is at once
    q.pause_task(task_id)
    walk(q, clock, utc(2027, 1, 1, 2), step=900)
    q.resume_task(task_id)
    with pytest.raises(TaskNotFoundError):
        q.get_task(task_id)
    assert q.statistics().tasks == 0
    tick(q, clock, DAY)
    assert runs.times == before
    # Task events are delivered before the call returns: resumed, then gone unannounced.
    task_events = [event for event in events.of(task_id) if event.startswith("task_")]
    assert task_events == ["task_added", "task_paused", "task_resumed"]


def test_a_paused_task_resumed_before_its_end_runs_to_its_end(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1))
    runs = WallRuns(clock)
    task_id = q.add_task("paused", runs, schedule=Cron("*/10 * * * *", end=utc(2027, 1, 1, 1)))
    q.pause_task(task_id)
    walk(q, clock, utc(2027, 1, 1, 0, 25), step=300)
    q.resume_task(task_id)
    assert q.get_task(task_id).next_run_at == utc(2027, 1, 1, 0, 30)
    walk(q, clock, utc(2027, 1, 1, 2), step=300)
    assert runs.times == [utc(2027, 1, 1, 0, m) for m in (30, 40, 50)] + [utc(2027, 1, 1, 1)]
    with pytest.raises(TaskNotFoundError):
        q.get_task(task_id)


@pytest.mark.parametrize(
    ("value", "served", "last"),
    [
        pytest.param(
            Interval(600, start=utc(2027, 1, 1, 0, 10), end=utc(2027, 1, 1, 0, 30)),
            [utc(2027, 1, 1, 0, 10), utc(2027, 1, 1, 0, 20)],
            utc(2027, 1, 1, 0, 30),
            id="interval",
        ),
        pytest.param(
            Cron("*/10 * * * *", end=utc(2027, 1, 1, 0, 30)),
            [utc(2027, 1, 1, 0, 10), utc(2027, 1, 1, 0, 20)],
            utc(2027, 1, 1, 0, 30),
            id="cron",
        ),
        pytest.param(
            Calendar(days=1, at="00:10", end=utc(2027, 1, 3, 0, 10)),
            [utc(2027, 1, 1, 0, 10), utc(2027, 1, 2, 0, 10)],
            utc(2027, 1, 3, 0, 10),
            id="calendar",
        ),
    ],
)
def test_skip_records_a_late_last_run_missed_and_the_task_ends(
    make: Make, value: Schedule, served: list[datetime], last: datetime
) -> None:
    q, clock = make(utc(2027, 1, 1))
    events = Events(q)
    runs = WallRuns(clock)
    task_id = q.add_task("skips", runs, schedule=value, misfire="skip", misfire_grace=60)
    assert follow(q, clock, task_id, runs, len(served)) is False
    assert runs.times == served
    assert q.get_task(task_id).next_run_at == last
    tick(q, clock, seconds_until(clock, last) + HOUR)  # the last slot passes unseen
    assert runs.times == served
    with pytest.raises(TaskNotFoundError):
        q.get_task(task_id)
    jobs = q.get_all_jobs(task_id=task_id)
    assert [(job.status, job.scheduled_for) for job in jobs] == [
        *(("completed", t) for t in served),
        ("missed", last),
    ]
    assert jobs[-1].error_message == (
        "missed: 3600.000 s late, beyond the 60 s misfire grace (misfire='skip')"
    )
    events.wait_for(task_id, Event.JOB_MISSED)
    quiesce(q)
    assert [event for event in events.of(task_id) if event.startswith("task_")] == ["task_added"]


def test_a_run_still_going_at_its_end_is_the_last(
    make: Make, gate: Callable[[], threading.Event]
) -> None:
    q, clock = make(utc(2027, 1, 1))
    release = gate()
    started = Recorder()

    def slow() -> None:
        started()
        if len(started) == 2:
            release.wait(WAIT)

    value = Interval(600, end=utc(2027, 1, 1, 0, 25))
    task_id = q.add_task("slow", slow, schedule=value)
    quiesce(q)
    advance(q, clock, 600)  # the second run, at 00:10, holds on
    started.wait_for(2)
    advance(q, clock, 1200)  # 00:30: the slot at 00:20 went by during the run; none is left
    assert q.get_task(task_id).status == "running"
    release.set()
    quiesce(q)
    assert len(started) == 2
    with pytest.raises(TaskNotFoundError):
        q.get_task(task_id)
    assert [status for status, _ in jobs_of(q, task_id)] == ["completed", "completed"]


def test_a_keyed_task_that_ended_stays_finished_on_a_durable_store(
    tmp_path: Path, quiv: Callable[..., Quiv]
) -> None:
    url = f"sqlite:///{tmp_path / 'quiv.db'}"
    clock = FakeClock(utc(2027, 1, 1))
    q = quiv(database_url=url, clock=clock, history_retention_seconds=RETENTION)
    value = Cron("0 * * * *", end=utc(2027, 1, 1, 2))
    runs = WallRuns(clock)
    task_id = q.add_task("report", runs, schedule=value, key="report")
    q.start()
    assert follow(q, clock, task_id, runs, 5) is True
    assert runs.times == [utc(2027, 1, 1, 1), utc(2027, 1, 1, 2)]
    q._store.flush()
    assert stored_rows(url, "SELECT id, status FROM quiv_task") == [(task_id, "finished")]
    q.shutdown(timeout=WAIT)
    later = FakeClock(utc(2027, 1, 1, 5))
    again = quiv(database_url=url, clock=later)
    assert again.get_all_tasks(include_run_once=True) == []  # 'finished' reads as gone
    again.start()
    tick(again, later, DAY)
    assert len(runs) == 2
    with pytest.raises(TaskNotFoundError):
        again.get_task(task_id)
    assert stored_rows(url, "SELECT id, status FROM quiv_task") == [(task_id, "finished")]


def test_registering_again_a_keyed_task_that_ended_does_not_run_it(
    tmp_path: Path, quiv: Callable[..., Quiv]
) -> None:
    url = f"sqlite:///{tmp_path / 'quiv.db'}"
    clock = FakeClock(utc(2027, 1, 1))
    q = quiv(database_url=url, clock=clock)
    value = Cron("0 * * * *", end=utc(2027, 1, 1, 1))
    runs = WallRuns(clock)
    task_id = q.add_task("report", runs, schedule=value, key="report")
    q.start()
    assert follow(q, clock, task_id, runs, 5) is True
    # An application registers its tasks at every start: after its end, too.
    assert q.add_task("report", runs, schedule=value, key="report") == task_id
    tick(q, clock, DAY)
    assert len(runs) == 1
    q.shutdown()
    # And after a restart: the ended task stays ended, with no error.
    again = quiv(database_url=url, clock=clock)
    assert again.add_task("report", runs, schedule=value, key="report") == task_id
    again.start()
    tick(again, clock, DAY)
    assert len(runs) == 1
    assert stored_rows(url, "SELECT id, status FROM quiv_task") == [(task_id, "finished")]


def test_a_new_key_whose_schedule_has_no_run_left_is_refused_and_leaves_no_row(
    tmp_path: Path, quiv: Callable[..., Quiv]
) -> None:
    url = f"sqlite:///{tmp_path / 'quiv.db'}"
    q = quiv(database_url=url, clock=FakeClock(utc(2027, 1, 1)))
    with pytest.raises(InvalidScheduleError, match="selects no run after"):
        q.add_task("late", noop, schedule=Cron("0 * * * *", end=utc(2026, 1, 1)), key="late")
    q.shutdown()
    assert stored_rows(url, "SELECT id FROM quiv_task") == []


# -- 3: add_task's checks ----------------------------------------------------------------------


PAST = utc(2026, 12, 31)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            {"schedule": Interval(5), "interval": 5},
            ConfigurationError,
            "give exactly one schedule, not schedule and interval",
        ),
        (
            {"schedule": Cron("0 3 * * *"), "cron": "0 3 * * *"},
            ConfigurationError,
            "give exactly one schedule, not schedule and cron",
        ),
        (
            {"schedule": At(utc(2027, 6, 1)), "at": utc(2027, 6, 1)},
            ConfigurationError,
            "give exactly one schedule, not schedule and at",
        ),
        (
            {"schedule": Cron("0 3 * * *"), "timezone": "Europe/Berlin"},
            ConfigurationError,
            r"timezone goes into the schedule value \(Cron\(..., timezone=...\)\)",
        ),
        (
            {"schedule": Calendar(days=1), "timezone": "UTC"},
            ConfigurationError,
            "timezone goes into the schedule value",
        ),
        (
            {"schedule": Interval(5), "fixed_interval": False},
            ConfigurationError,
            r"fixed_interval goes into the schedule value \(Interval\(..., fixed=False\)\)",
        ),
        (
            {"schedule": "0 3 * * *"},
            ConfigurationError,
            "schedule must be a quiv.schedules value .* got '0 3 \\* \\* \\*'",
        ),
        ({"schedule": 60}, ConfigurationError, "schedule must be a quiv.schedules value"),
        ({"schedule": Cron}, ConfigurationError, "schedule must be a quiv.schedules value"),
        (
            {"schedule": {"kind": "cron", "expression": "0 3 * * *"}},
            ConfigurationError,
            "schedule must be a quiv.schedules value",
        ),
        (
            {"schedule": Calendar(days=1), "delay": 5},
            ConfigurationError,
            "delay applies to interval schedules; a Calendar task runs at its own times",
        ),
        (
            {"schedule": Cron("0 * * * *") | Calendar(days=1), "run_once": True},
            ConfigurationError,
            "run_once applies to interval schedules",
        ),
        (
            {"schedule": Interval(60, start=utc(2027, 2, 1)), "delay": 5},
            ConfigurationError,
            "pass delay or the interval's start, not both",
        ),
        (
            {"schedule": Cron("0 * * * *", end=PAST)},
            InvalidScheduleError,
            "invalid cron schedule: .* selects no run after",
        ),
        (
            {"schedule": Interval(60, end=PAST)},
            InvalidScheduleError,
            "invalid interval schedule: .* selects no run after",
        ),
        (
            {"schedule": Interval(60, fixed=False, end=PAST)},
            InvalidScheduleError,
            "invalid interval schedule: its end .* is before its first run",
        ),
        (
            {"schedule": Calendar(months=1, start=utc(2026, 1, 1), end=PAST)},
            InvalidScheduleError,
            "invalid calendar schedule: .* selects no run after",
        ),
        (
            {"schedule": AnyOf(Cron("0 * * * *", end=PAST), Calendar(days=1), end=PAST)},
            InvalidScheduleError,
            "invalid any_of schedule",
        ),
        (
            # Hourly on the hour, and hourly a second past it: they never agree.
            {"schedule": Interval(3600, start=utc(2027, 1, 1, 0, 0, 1)) & Cron("0 * * * *")},
            InvalidScheduleError,
            "invalid all_of schedule: .* never agree",
        ),
    ],
)
def test_add_task_checks_its_schedule(
    quiv: Callable[..., Quiv], options: dict[str, Any], error: type[Exception], message: str
) -> None:
    q = quiv(clock=FakeClock(utc(2027, 1, 1)))
    with pytest.raises(error, match=message) as raised:
        q.add_task("t", noop, **options)
    assert isinstance(raised.value, ConfigurationError)
    if isinstance(raised.value, InvalidScheduleError):
        assert raised.value.kind == options["schedule"].kind
    assert q.get_all_tasks(include_run_once=True) == []


def test_a_schedule_that_has_ended_is_refused_after_start_too(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1))
    value = Cron("0 * * * *", end=utc(2027, 1, 1, 5))
    assert q.get_task(q.add_task("in-time", noop, schedule=value)).next_run_at == utc(2027, 1, 1, 1)
    tick(q, clock, 5 * HOUR)
    with pytest.raises(InvalidScheduleError, match="selects no run after"):
        q.add_task("too-late", noop, schedule=value)
    assert q.get_all_tasks() == []  # the first one ended meanwhile


# -- 4: Task.schedule, from_json and the keyword forms ---------------------------------------

PLUS_2 = timezone(timedelta(hours=2))
MINUS_3_30 = timezone(-timedelta(hours=3, minutes=30))


@pytest.mark.parametrize(
    ("value", "read_back"),
    [
        pytest.param(Interval(90), Interval(90), id="interval"),
        pytest.param(
            Interval(90, fixed=False, start=utc(2027, 1, 2), end=utc(2027, 2, 1)),
            Interval(90, fixed=False, start=utc(2027, 1, 2), end=utc(2027, 2, 1)),
            id="interval-not-fixed-bounded",
        ),
        pytest.param(
            Interval(600, start=datetime(2027, 1, 1, 9, 5, tzinfo=BERLIN)),
            Interval(600, start=datetime(2027, 1, 1, 9, 5, tzinfo=timezone(timedelta(hours=1)))),
            id="interval-with-start",
        ),
        # No zone of its own: the scheduler's (Asia/Tokyo here), fixed when added.
        pytest.param(Cron("0 3 * * *"), Cron("0 3 * * *", timezone="Asia/Tokyo"), id="cron"),
        pytest.param(
            Cron("0 3 L * *", timezone=BERLIN, start=utc(2027, 2, 1), end=utc(2028, 1, 1)),
            Cron("0 3 L * *", timezone="Europe/Berlin", start=utc(2027, 2, 1), end=utc(2028, 1, 1)),
            id="cron-bounded",
        ),
        pytest.param(
            # A fixed offset (as datetime.fromisoformat gives): regression, its JSON names it
            # 'UTC-03:30', which is no zone name, and add_task raised InvalidTimezoneError.
            Cron("0 3 * * *", timezone=MINUS_3_30),
            Cron("0 3 * * *", timezone="UTC-03:30"),
            id="cron-in-a-fixed-offset",
        ),
        pytest.param(
            At(datetime(2027, 6, 1, 14), timezone="Europe/Berlin"),
            At(datetime(2027, 6, 1, 14, tzinfo=PLUS_2), timezone="Europe/Berlin"),
            id="at-naive",
        ),
        pytest.param(
            At(datetime(2027, 6, 1, 14, tzinfo=BERLIN)),
            At(datetime(2027, 6, 1, 14, tzinfo=PLUS_2), timezone="Europe/Berlin"),
            id="at-aware",
        ),
        pytest.param(
            At(datetime.fromisoformat("2027-06-01T14:00:00+02:00")),
            At(datetime(2027, 6, 1, 14, tzinfo=PLUS_2), timezone="UTC+02:00"),
            id="at-in-a-fixed-offset",
        ),
        pytest.param(
            Calendar(months=1, at="12:00"),
            Calendar(months=1, at="12:00", timezone="Asia/Tokyo"),
            id="calendar",
        ),
        pytest.param(
            Calendar(
                years=1, weeks=2, days=3, at="06:30:15", timezone=NEW_YORK, end=utc(2030, 1, 1)
            ),
            Calendar(
                years=1,
                weeks=2,
                days=3,
                at="06:30:15",
                timezone="America/New_York",
                end=utc(2030, 1, 1),
            ),
            id="calendar-every-unit",
        ),
        pytest.param(
            Calendar(days=2, timezone=PLUS_2),
            Calendar(days=2, timezone="UTC+02:00"),
            id="calendar-in-a-fixed-offset",
        ),
        pytest.param(
            Cron("0 9 * * MON-FRI", timezone="Europe/Berlin") | Calendar(months=1, at="12:00"),
            AnyOf(
                Cron("0 9 * * MON-FRI", timezone="Europe/Berlin"),
                Calendar(months=1, at="12:00", timezone="Asia/Tokyo"),
            ),
            id="any-of",
        ),
        pytest.param(
            AnyOf(
                AllOf(Interval(3600), Cron("0 9-17 * * *"), start=utc(2027, 1, 4)),
                At(utc(2027, 1, 2, 12)),
                end=utc(2027, 3, 1),
            ),
            AnyOf(
                AllOf(
                    Interval(3600),
                    Cron("0 9-17 * * *", timezone="Asia/Tokyo"),
                    start=utc(2027, 1, 4),
                ),
                At(utc(2027, 1, 2, 12), timezone="UTC"),
                end=utc(2027, 3, 1),
            ),
            id="nested",
        ),
    ],
)
def test_task_schedule_reads_back_with_from_json(
    quiv: Callable[..., Quiv], value: Schedule, read_back: Schedule
) -> None:
    q = quiv(clock=FakeClock(utc(2027, 1, 1)), timezone="Asia/Tokyo")  # not started: no run
    task = q.get_task(q.add_task("t", noop, schedule=value))
    data = task.schedule
    json.dumps(data)  # JSON, as stored
    assert data["kind"] == value.kind
    # A wall-clock schedule counts its runs from an anchor (when it was added): every kind
    # but an unbounded Cron, an At, and an Interval on the monotonic clock.
    bounded = value.start is not None or value.end is not None
    anchored = isinstance(value, (Calendar, AnyOf, AllOf)) or (
        bounded and (isinstance(value, Cron) or (isinstance(value, Interval) and value.fixed))
    )
    assert ("anchor" in data) == anchored
    back = schedules.from_json(data)
    assert back == read_back
    # Added again, it is the same schedule: the same JSON (anchor included, at the same
    # moment) and the same next run.
    again = q.get_task(q.add_task("again", noop, schedule=back))
    assert again.schedule == data
    assert again.next_run_at == task.next_run_at


NOON = datetime(2027, 6, 1, 12)


@pytest.mark.parametrize(
    ("keywords", "value"),
    [
        pytest.param(
            {"cron": "0 3 * * *", "timezone": "Europe/Berlin"},
            {"schedule": Cron("0 3 * * *", timezone="Europe/Berlin")},
            id="cron-in-a-zone",
        ),
        pytest.param({"cron": "0 3 * * *"}, {"schedule": Cron("0 3 * * *")}, id="cron"),
        pytest.param(
            {"cron": "0 3 * * *", "timezone": BERLIN},
            {"schedule": Cron("0 3 * * *", timezone="Europe/Berlin")},
            id="cron-in-a-tzinfo",
        ),
        pytest.param({"interval": 60}, {"schedule": Interval(60)}, id="interval"),
        pytest.param(
            {"interval": 60, "fixed_interval": False},
            {"schedule": Interval(60, fixed=False)},
            id="interval-not-fixed",
        ),
        pytest.param(
            {"interval": 60, "delay": 30, "run_once": True},
            {"schedule": Interval(60), "delay": 30, "run_once": True},
            id="run-once",
        ),
        pytest.param(
            {"at": NOON, "timezone": "Europe/Berlin"},
            {"schedule": At(NOON, timezone="Europe/Berlin")},
            id="at-naive",
        ),
        pytest.param({"at": NOON}, {"schedule": At(NOON)}, id="at-naive-in-the-quiv-zone"),
        pytest.param(
            {"at": NOON.replace(tzinfo=PLUS_2)},
            {"schedule": At(NOON.replace(tzinfo=PLUS_2))},
            id="at-in-a-fixed-offset",
        ),
    ],
)
def test_keyword_forms_build_the_same_schedule_as_values(
    make: Make, keywords: dict[str, Any], value: dict[str, Any]
) -> None:
    q, _ = make(utc(2027, 1, 1), started=False, timezone="America/New_York")  # no run yet
    by_keywords = q.get_task(q.add_task("keywords", noop, **keywords))
    by_value = q.get_task(q.add_task("value", noop, **value))
    assert by_value.schedule == by_keywords.schedule
    fields = ("next_run_at", "interval_seconds", "fixed_interval", "run_once")
    assert [getattr(by_value, f) for f in fields] == [getattr(by_keywords, f) for f in fields]


# -- 5: keyed re-registration keeps the anchor ------------------------------------------------


@pytest.mark.parametrize("scope", ["process", "deployment"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(Interval(600, end=utc(2027, 2, 1)), id="interval-with-an-end"),
        pytest.param(Calendar(days=2, at="06:00"), id="calendar"),
        pytest.param(Calendar(days=2, at="06:00") | Cron("0 12 * * *"), id="any-of"),
        pytest.param(Interval(600), id="interval"),
    ],
)
def test_a_key_registered_again_with_its_schedule_keeps_its_runs(
    make: Make, value: Schedule, scope: str
) -> None:
    # Regression: the live task's schedule was compared whole, anchor included, so the same
    # wall-clock schedule registered again later was planned afresh from then: an interval
    # with an end ran again at once, and a Calendar moved to the day of the registration.
    added = utc(2027, 1, 1)
    expected = previewed(value, 5, added)
    q, clock = make(added)
    runs = WallRuns(clock)
    task_id = q.add_task("keyed", runs, schedule=value, key="keyed", scope=scope)
    follow(q, clock, task_id, runs, 2)
    anchor = q.get_task(task_id).schedule.get("anchor")
    tick(q, clock, (expected[2] - clock.now()).total_seconds() / 2)  # between two runs
    assert q.add_task("keyed", runs, schedule=value, key="keyed", scope=scope) == task_id
    quiesce(q)
    task = q.get_task(task_id)
    assert task.schedule.get("anchor") == anchor
    assert task.next_run_at == expected[2]
    follow(q, clock, task_id, runs, 5)
    assert runs.times == expected


def test_a_keyed_calendar_registered_again_after_a_restart_keeps_its_day(
    tmp_path: Path, quiv: Callable[..., Quiv]
) -> None:
    url = f"sqlite:///{tmp_path / 'quiv.db'}"
    value = Calendar(months=1, at="12:00", timezone="Europe/Berlin")
    added = utc(2027, 1, 31, 7)
    expected = previewed(value, 4, added)
    assert expected == [
        utc(2027, 1, 31, 11),
        utc(2027, 3, 31, 10),
        utc(2027, 5, 31, 10),
        utc(2027, 7, 31, 10),
    ]
    clock = FakeClock(added)
    first = quiv(database_url=url, clock=clock, history_retention_seconds=RETENTION)
    runs = WallRuns(clock)
    task_id = first.add_task("monthly", runs, schedule=value, key="monthly")
    first.start()
    follow(first, clock, task_id, runs, 1)
    assert runs.times == expected[:1]
    anchor = first.get_task(task_id).schedule["anchor"]
    assert anchor == "2027-01-31T07:00:00+00:00"
    first.shutdown(timeout=WAIT)

    # Back on 15 February: registered again, its runs stay on the 31st.
    later = FakeClock(utc(2027, 2, 15, 9))
    second = quiv(database_url=url, clock=later, history_retention_seconds=RETENTION)
    assert second.get_task(task_id).schedule["anchor"] == anchor  # as stored
    runs = WallRuns(later)
    assert second.add_task("monthly", runs, schedule=value, key="monthly") == task_id
    task = second.get_task(task_id)
    assert task.schedule["anchor"] == anchor
    assert task.next_run_at == expected[1]
    # A task of the same schedule added now counts from today, the 15th.
    fresh = second.add_task("fresh", noop, schedule=value, key="fresh")
    assert second.get_task(fresh).next_run_at == utc(2027, 2, 15, 11)
    second.remove_task(fresh)
    second.start()
    follow(second, later, task_id, runs, 3)
    assert runs.times == expected[1:]
    assert [status for status, _ in jobs_of(second, task_id)] == ["completed"] * 4


def _stored_task(
    task_id: str, key: str, schedule: str, next_run_at: datetime, **columns: Any
) -> dict[str, Any]:
    """A row as the release before schedule values stored a keyed task."""
    row: dict[str, Any] = {
        "id": task_id,
        "key": key,
        "scope": "deployment",
        "owner": None,
        "created_at": utc(2026, 6, 1).timestamp(),
        "task_name": key,
        "args": b"[]",
        "kwargs": b"{}",
        "interval_seconds": None,
        "fixed_interval": True,
        "run_once": False,
        "status": "active",
        "next_run_at": next_run_at.timestamp(),
        "schedule": schedule,
        "shared": True,
        "slot": next_run_at.timestamp(),
    }
    row.update(columns)
    return row


def test_tasks_stored_by_an_earlier_release_load_and_keep_their_schedule(
    tmp_path: Path, quiv: Callable[..., Quiv]
) -> None:
    url = f"sqlite:///{tmp_path / 'quiv.db'}"
    now = utc(2027, 1, 1, 12)
    old_cron = {
        "kind": "cron",
        "expression": "0 3 * * *",
        "timezone": "UTC",
        "description": "at 03:00, every day (UTC)",
    }
    old_interval = {
        "kind": "interval",
        "every_seconds": 600.0,
        "fixed_interval": True,
        "run_once": False,
        "description": "every 10 min",
    }
    old_at = {
        "kind": "at",
        "at": "2027-06-01T14:00:00+02:00",
        "timezone": "Europe/Berlin",
        "description": "once, at 2027-06-01 14:00:00 CEST",
    }
    rows = [
        # Its 03:00 run is due (the application was down): the same schedule runs it now.
        _stored_task("nightly", "nightly", json.dumps(old_cron), utc(2027, 1, 1, 3)),
        _stored_task(
            "poll", "poll", json.dumps(old_interval), now + timedelta(seconds=100),
            interval_seconds=600.0,
        ),
        # An interval task as that release stored it: no JSON, its interval columns.
        _stored_task("sweep", "sweep", "", now + timedelta(seconds=50), interval_seconds=300.0),
        _stored_task("launch", "launch", json.dumps(old_at), utc(2027, 6, 1, 12), run_once=True),
        _stored_task(
            "once", "once", json.dumps(old_at | {"at": "2026-12-01T14:00:00+01:00"}),
            utc(2026, 12, 1, 13), run_once=True, status="finished",
        ),
    ]  # fmt: skip
    database = open_database(url, _registry.metadata)
    try:
        with database.engine.begin() as conn:
            conn.execute(insert(_task_table), rows)
    finally:
        database.close()

    clock = FakeClock(now)
    q = quiv(database_url=url, clock=clock, history_retention_seconds=RETENTION)
    # Read before anything is registered again: the stored JSON, which from_json reads.
    read = {task.id: task for task in q.get_all_tasks(include_run_once=True)}
    assert sorted(read) == ["launch", "nightly", "poll", "sweep"]  # 'finished' reads as gone
    assert read["nightly"].schedule == old_cron
    assert schedules.from_json(read["nightly"].schedule) == Cron("0 3 * * *", timezone="UTC")
    assert schedules.from_json(read["poll"].schedule) == Interval(600)
    assert schedules.from_json(read["sweep"].schedule) == Interval(300)
    assert schedules.from_json(read["launch"].schedule) == At(
        datetime(2027, 6, 1, 14, tzinfo=PLUS_2), timezone="Europe/Berlin"
    )

    runs = {name: WallRuns(clock) for name in ("nightly", "poll", "sweep", "launch", "once")}
    registered = {
        "nightly": q.add_task("nightly", runs["nightly"], cron="0 3 * * *", key="nightly"),
        "poll": q.add_task("poll", runs["poll"], schedule=Interval(600), key="poll"),
        "sweep": q.add_task("sweep", runs["sweep"], interval=300, key="sweep"),
        "launch": q.add_task(
            "launch",
            runs["launch"],
            at=datetime(2027, 6, 1, 14),
            timezone="Europe/Berlin",
            key="launch",
        ),
        "once": q.add_task(
            "once", runs["once"], schedule=At(datetime(2026, 12, 1, 14, tzinfo=BERLIN)), key="once"
        ),
    }
    assert registered == {name: name for name in registered}  # the stored tasks, by key
    # The same schedule: each keeps its stored next run (a new one would be planned afresh).
    next_runs = {task.id: task.next_run_at for task in q.get_all_tasks(include_run_once=True)}
    assert next_runs == {
        "nightly": utc(2027, 1, 1, 3),
        "poll": now + timedelta(seconds=100),
        "sweep": now + timedelta(seconds=50),
        "launch": utc(2027, 6, 1, 12),
    }
    q.start()
    quiesce(q)
    assert runs["nightly"].times == [now]  # its stored run, late: coalesced, now
    assert q.get_task("nightly").next_run_at == utc(2027, 1, 2, 3)
    tick(q, clock, 50)
    tick(q, clock, 50)
    assert runs["sweep"].times == [now + timedelta(seconds=50)]
    assert runs["poll"].times == [now + timedelta(seconds=100)]
    assert len(runs["once"]) == 0  # it ran under the earlier release
    assert len(runs["launch"]) == 0


# -- 6: Hypothesis: random values run as previewed ----------------------------------------------

RUNS = 5
BASE = utc(2027, 1, 1)
ZONES = [None, "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
CRONS = [
    "0 * * * *",
    "*/15 * * * *",
    "30 2 * * *",
    "0 9 * * MON-FRI",
    "0 0 1 * *",
    "0 12 L * *",
    "30 1 * * SUN",
]
# An AllOf is a part and a filter that select a common minute soon (every part's slots are
# on whole minutes, and a dense part lands on every weekday and on days 1-20): a search
# for an agreement that never comes takes thousands of steps, for every run (the refusal
# of one is tested above).
FILTERS = ["* * * * *", "* * * * MON-FRI", "* * 1-20 * *"]
DENSE_CRONS = CRONS[:3]
minutes = st.integers(-3 * 24 * 60, 3 * 24 * 60)
zones = st.sampled_from(ZONES)


@st.composite
def bounds(draw: st.DrawFn, added: datetime) -> dict[str, Any]:
    """No bounds, or a start (or None) within three days of ``added`` and an end (or None)
    within 20 days after that start (or after ``added``)."""
    if not draw(st.booleans()):
        return {}
    start = draw(st.none() | minutes.map(lambda m: added + timedelta(minutes=m)))
    length = draw(st.none() | st.integers(0, 20 * 24 * 60))
    end = None if length is None else (start or added) + timedelta(minutes=length)
    return {"start": start, "end": end}


@st.composite
def leaves(
    draw: st.DrawFn, added: datetime, *, dense: bool = False, alone: bool = False
) -> Schedule:
    """An Interval (with a start on a whole minute, up to 3 days; ``alone``, not in a
    combination: maybe after each run ends), a Cron or a Calendar (``dense``: daily or more
    often, or every few days), each maybe bounded."""
    kind = draw(st.sampled_from(["interval", "cron", "calendar"]))
    limits = draw(bounds(added))
    if kind == "interval":
        start = limits.get("start") or added + timedelta(minutes=draw(minutes))
        start = start.replace(second=0)
        end = limits.get("end")
        if end is not None and end < start:
            end = None
        fixed = draw(st.booleans()) if alone else True
        return Interval(60 * draw(st.integers(1, 3 * 24 * 60)), fixed=fixed, start=start, end=end)
    zone = draw(zones)
    if kind == "cron":
        return Cron(draw(st.sampled_from(DENSE_CRONS if dense else CRONS)), timezone=zone, **limits)
    if dense:
        units = {"days": draw(st.integers(1, 5))}
    else:
        units = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "years": st.integers(1, 2),
                    "months": st.integers(1, 3),
                    "weeks": st.integers(1, 3),
                    "days": st.integers(1, 5),
                },
            )
        )
    at = f"{draw(st.integers(0, 23)):02d}:{draw(st.sampled_from([0, 15, 30, 45])):02d}"
    return Calendar(**(units or {"days": 1}), at=at, timezone=zone, **limits)


@st.composite
def values(draw: st.DrawFn, added: datetime) -> Schedule:
    """A leaf, an AnyOf of leaves, an AllOf of a dense leaf and a filter, or an AnyOf of
    such an AllOf and a leaf; each combination maybe bounded."""
    shape = draw(st.sampled_from(["leaf", "any_of", "all_of", "nested"]))
    if shape == "leaf":
        return draw(leaves(added, alone=True))
    if shape == "any_of":
        parts = [draw(leaves(added)) for _ in range(draw(st.integers(2, 3)))]
        return AnyOf(*parts, **draw(bounds(added)))
    both = AllOf(
        draw(leaves(added, dense=True)),
        Cron(draw(st.sampled_from(FILTERS)), timezone=draw(zones)),
        **draw(bounds(added)),
    )
    return both if shape == "all_of" else AnyOf(both, draw(leaves(added)), **draw(bounds(added)))


@settings(
    max_examples=int(os.environ.get("QUIV_SCHEDULE_EXAMPLES") or 40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    data=st.data(),
    seconds=st.integers(0, 2 * 365 * 24 * 3600),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "Asia/Tokyo"]),
)
def test_random_schedules_run_as_previewed(data: st.DataObject, seconds: int, zone: str) -> None:
    added = BASE + timedelta(seconds=seconds)
    value = data.draw(values(added), label="value")
    try:
        expected: list[datetime] | None = previewed(value, RUNS, added, zone)
    except InvalidScheduleError:  # no run at all: past its end, or parts that never agree
        expected = None
    clock = FakeClock(added)
    q = Quiv(clock=clock, pool_size=1, timezone=zone, history_retention_seconds=RETENTION)
    try:
        q.start()
        runs = WallRuns(clock)
        if expected is None:
            with pytest.raises(InvalidScheduleError):
                q.add_task("random", runs, schedule=value)
            return
        task_id = q.add_task("random", runs, schedule=value)
        ended = follow(q, clock, task_id, runs, RUNS)
        assert runs.times == expected
        assert ended == (len(expected) < RUNS)
        assert_consistent(q)
    finally:
        q.shutdown(timeout=WAIT)


# -- update_task on schedule values -----------------------------------------------------------


def test_update_task_keeps_an_intervals_start_and_end(quiv: Callable[..., Quiv]) -> None:
    q = quiv(clock=FakeClock(utc(2027, 1, 1)))  # not started: nothing runs
    end = utc(2027, 1, 2)
    task_id = q.add_task("t", noop, schedule=Interval(60, fixed=False, end=end))
    assert q.get_task(task_id).interval_seconds == 60.0
    updated = q.update_task(task_id, interval=120)
    assert updated.interval_seconds == 120.0
    back = schedules.from_json(updated.schedule)
    assert back == Interval(120, fixed=False, end=end)


def test_update_task_refuses_a_new_interval_for_a_calendar_schedule(
    quiv: Callable[..., Quiv],
) -> None:
    q = quiv(clock=FakeClock(utc(2027, 1, 1)))
    task_id = q.add_task("t", noop, schedule=Calendar(days=1, at="09:00"))
    with pytest.raises(ConfigurationError, match="runs on a calendar schedule"):
        q.update_task(task_id, interval=60)


def test_a_bounded_fixed_interval_shows_its_interval_seconds(quiv: Callable[..., Quiv]) -> None:
    q = quiv(clock=FakeClock(utc(2027, 1, 1)))
    task_id = q.add_task("t", noop, schedule=Interval(30, end=utc(2027, 1, 2)))
    task = q.get_task(task_id)
    assert task.interval_seconds == 30.0
    assert task.schedule["kind"] == "interval"
