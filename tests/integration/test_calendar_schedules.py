"""Calendar schedules through the scheduler, with ``FakeClock``: cron slots across DST changes
in several zones, one-shot ``at=`` times, misfire (a full pool, a suspension), wall-clock
jumps, jitter, the ``Task`` fields, ``next_run_times`` and ``preview_cron``, pause/resume and
run_task on calendar tasks, and the validation of ``add_task``'s calendar arguments.

Expected instants are pinned in UTC, from the rules in ``quiv._calendar`` (checked against
``zoneinfo`` offsets); handlers record ``clock.now()``, so run times are exact. Every test
ends with the scheduler's invariants checked on its own thread, the stored tasks equal to the
scheduler's, and no quiv thread left after shutdown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pytest

import quiv as quiv_module
from quiv import (
    ConfigurationError,
    Event,
    InvalidCronExpressionError,
    InvalidTimezoneError,
    JobStatus,
    Quiv,
    TaskNotFoundError,
)
from quiv.testing import FakeClock, settle, wait_until

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
    tick,
    utc,
    walk,
)

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
TOKYO = ZoneInfo("Asia/Tokyo")
APIA = ZoneInfo("Pacific/Apia")
HOUR = 3600.0


def local(instants: list[datetime], zone: tzinfo) -> list[str]:
    """The instants on the clock of ``zone`` (by ``zoneinfo`` alone, not by quiv)."""
    return [instant.astimezone(zone).isoformat() for instant in instants]


# -- fixtures and helpers ------------------------------------------------------------------


class Make(Protocol):
    def __call__(self, start: datetime, **options: Any) -> tuple[Quiv, FakeClock]: ...


@pytest.fixture
def make(quiv: Callable[..., Quiv], _gates: list[threading.Event]) -> Iterator[Make]:
    """``make(start, **options)``: a started ``Quiv`` on a ``FakeClock`` that starts at
    ``start``. At teardown each one's invariants are checked, then it is shut down and no
    quiv thread may be left."""
    before = quiv_threads()
    made: list[Quiv] = []

    def factory(start: datetime, **options: Any) -> tuple[Quiv, FakeClock]:
        clock = FakeClock(start)
        options.setdefault("history_retention_seconds", 30 * 86400)  # no purge mid-test
        q = quiv(clock=clock, **options)
        q.start()
        made.append(q)
        return q, clock

    yield factory

    for q in made:
        if q.lifecycle.value == "running":
            assert_consistent(q)
    for event in _gates:
        event.set()
    for q in made:
        q.shutdown(timeout=WAIT)
    wait_until(lambda: not (quiv_threads() - before), WAIT)


def jobs_of(q: Quiv, task_id: str) -> list[tuple[str, datetime]]:
    # A job that never ran (missed) has no start: its slot stands for it.
    return [
        (job.status, job.started_at or job.scheduled_for)
        for job in q.get_all_jobs()
        if job.task_id == task_id
    ]


# -- 1-3: cron slots in zones, through the scheduler -----------------------------------------


def test_cron_in_a_spring_forward_gap_runs_once_at_the_end_of_the_gap(make: Make) -> None:
    q, clock = make(utc(2027, 3, 27, 22))
    runs = WallRuns(clock)
    task_id = q.add_task("berlin", runs, cron="30 2 * * *", timezone="Europe/Berlin")
    assert q.get_task(task_id).next_run_at == utc(2027, 3, 28, 1)
    walk(q, clock, utc(2027, 3, 29, 1), step=1800)
    # 28 March: 02:30 does not exist (02:00 CET -> 03:00 CEST); it runs once, at 03:00.
    expected = [utc(2027, 3, 28, 1), utc(2027, 3, 29, 0, 30)]
    assert runs.times == expected
    assert local(runs.times, BERLIN) == ["2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"]
    assert jobs_of(q, task_id) == [("completed", t) for t in expected]
    assert q.get_task(task_id).next_run_at == utc(2027, 3, 30, 0, 30)


def test_cron_with_chosen_hours_runs_once_in_a_fall_back_fold(make: Make) -> None:
    q, clock = make(utc(2027, 11, 7, 3))
    runs = WallRuns(clock)
    task_id = q.add_task("ny-daily", runs, cron="30 1 * * *", timezone="America/New_York")
    walk(q, clock, utc(2027, 11, 8, 7), step=1800)
    # 01:30 happens twice on 7 November (EDT, then EST): it runs at the first only.
    assert runs.times == [utc(2027, 11, 7, 5, 30), utc(2027, 11, 8, 6, 30)]
    assert local(runs.times, NEW_YORK) == [
        "2027-11-07T01:30:00-04:00",
        "2027-11-08T01:30:00-05:00",
    ]
    assert q.get_task(task_id).next_run_at == utc(2027, 11, 9, 6, 30)


def test_hourly_cron_keeps_elapsed_time_through_a_fold(make: Make) -> None:
    q, clock = make(utc(2027, 11, 7, 4, 30))
    runs = WallRuns(clock)
    q.add_task("ny-hourly", runs, cron="0 * * * *", timezone="America/New_York")
    walk(q, clock, utc(2027, 11, 7, 7, 30), step=900)
    assert runs.times == [utc(2027, 11, 7, 5), utc(2027, 11, 7, 6), utc(2027, 11, 7, 7)]
    assert local(runs.times, NEW_YORK) == [
        "2027-11-07T01:00:00-04:00",
        "2027-11-07T01:00:00-05:00",
        "2027-11-07T02:00:00-05:00",
    ]


@pytest.mark.parametrize(
    ("zone", "cron", "start", "until", "step", "expected", "wall"),
    [
        pytest.param(
            # Lord Howe falls back 30 minutes at 02:00 LHDT (15:00Z): 01:30-02:00 happen
            # twice, so "at minute 0" and "every 60 minutes" cannot both hold: 90 minutes.
            LORD_HOWE,
            "0 * * * *",
            utc(2027, 4, 3, 12, 30),
            utc(2027, 4, 3, 17),
            900,
            [
                utc(2027, 4, 3, 13),
                utc(2027, 4, 3, 14),
                utc(2027, 4, 3, 15, 30),
                utc(2027, 4, 3, 16, 30),
            ],
            [
                "2027-04-04T00:00:00+11:00",
                "2027-04-04T01:00:00+11:00",
                "2027-04-04T02:00:00+10:30",
                "2027-04-04T03:00:00+10:30",
            ],
            id="lord-howe-hourly-across-a-30-minute-fold",
        ),
        pytest.param(
            LORD_HOWE,
            "45 1 * * *",
            utc(2027, 4, 3, 12),
            utc(2027, 4, 4, 16),
            900,
            [utc(2027, 4, 3, 14, 45), utc(2027, 4, 4, 15, 15)],
            ["2027-04-04T01:45:00+11:00", "2027-04-05T01:45:00+10:30"],
            id="lord-howe-daily-in-the-fold-runs-at-the-first",
        ),
        pytest.param(
            TOKYO,
            "0 9 * * *",
            utc(2027, 3, 27, 23),
            utc(2027, 3, 30, 1),
            3600,
            [utc(2027, 3, 28), utc(2027, 3, 29), utc(2027, 3, 30)],
            [
                "2027-03-28T09:00:00+09:00",
                "2027-03-29T09:00:00+09:00",
                "2027-03-30T09:00:00+09:00",
            ],
            id="tokyo-no-dst-while-europe-shifts",
        ),
        pytest.param(
            # Samoa skipped 30 December 2011: 23:59:59 -10 on the 29th was followed by
            # 00:00 +14 on the 31st (at 10:00Z). Noon on the 30th is in that gap.
            APIA,
            "0 12 * * *",
            utc(2011, 12, 29, 20),
            utc(2011, 12, 31),
            3600,
            [utc(2011, 12, 29, 22), utc(2011, 12, 30, 10), utc(2011, 12, 30, 22)],
            [
                "2011-12-29T12:00:00-10:00",
                "2011-12-31T00:00:00+14:00",
                "2011-12-31T12:00:00+14:00",
            ],
            id="apia-skipped-day",
        ),
    ],
)
def test_cron_in_other_zones(
    make: Make,
    zone: ZoneInfo,
    cron: str,
    start: datetime,
    until: datetime,
    step: float,
    expected: list[datetime],
    wall: list[str],
) -> None:
    q, clock = make(start)
    runs = WallRuns(clock)
    task_id = q.add_task("zoned", runs, cron=cron, timezone=zone.key)
    walk(q, clock, until, step)
    assert runs.times == expected
    assert local(runs.times, zone) == wall
    assert [status for status, _ in jobs_of(q, task_id)] == ["completed"] * len(expected)


def test_a_utc_cron_every_ten_seconds_keeps_its_cadence(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 0, 3))
    runs = WallRuns(clock)
    q.add_task("six-fields", runs, cron="*/10 * * * * *")
    walk(q, clock, utc(2027, 1, 1, 0, 0, 45), step=1)
    assert runs.times == [utc(2027, 1, 1, 0, 0, s) for s in (10, 20, 30, 40)]


# -- 4: at= one-shots ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quiv_zone", "options", "expected"),
    [
        pytest.param(
            "UTC",
            {"at": datetime(2027, 6, 1, 14, tzinfo=BERLIN)},
            utc(2027, 6, 1, 12),
            id="aware",
        ),
        pytest.param(
            "UTC",
            {"at": datetime(2027, 6, 1, 14), "timezone": "Europe/Berlin"},
            utc(2027, 6, 1, 12),
            id="naive-in-its-timezone",
        ),
        pytest.param(
            "Asia/Tokyo",
            {"at": datetime(2027, 6, 1, 21)},
            utc(2027, 6, 1, 12),
            id="naive-in-the-quiv-zone",
        ),
        pytest.param(
            "UTC",
            # 02:30 does not exist on 14 March 2027 in New York: 03:00 EDT, 07:00Z.
            {"at": datetime(2027, 3, 14, 2, 30), "timezone": "America/New_York"},
            utc(2027, 3, 14, 7),
            id="naive-in-a-dst-gap",
        ),
    ],
)
def test_at_runs_once_at_its_instant_then_the_task_is_gone(
    make: Make, quiv_zone: str, options: dict[str, Any], expected: datetime
) -> None:
    q, clock = make(expected - timedelta(hours=2), timezone=quiv_zone)
    runs = WallRuns(clock)
    task_id = q.add_task("once", runs, **options)
    task = q.get_task(task_id)
    assert task.next_run_at == expected
    assert task.run_once is True
    assert [t.id for t in q.get_all_tasks(include_run_once=True)] == [task_id]
    assert q.get_all_tasks() == []  # a one-shot task is listed only when asked for
    assert q.next_run_times(task_id, 5)[0].utc == expected
    advance(q, clock, seconds_until(clock, expected) - 1)
    quiesce(q)
    assert runs.times == []
    tick(q, clock, 1)
    assert runs.times == [expected]
    assert jobs_of(q, task_id) == [("completed", expected)]
    with pytest.raises(TaskNotFoundError):
        q.get_task(task_id)
    assert q.get_all_tasks(include_run_once=True) == []
    tick(q, clock, 86400)
    assert runs.times == [expected]


@pytest.mark.parametrize("added", ["before start", "after start"])
@pytest.mark.parametrize("misfire", ["coalesce", "skip"])
def test_an_at_in_the_past_is_late_at_once(
    quiv: Callable[..., Quiv], misfire: str, added: str
) -> None:
    # Regression: lateness was counted from start() for every run due before it, so an at=
    # time already an hour past when the task was added was 0 s late and ran under skip.
    start = utc(2027, 1, 1, 12)
    clock = FakeClock(start)
    q = quiv(clock=clock)
    missed = Recorder()
    q.add_listener(Event.JOB_MISSED, lambda _e, task, job: missed(task.task_name, job.status))
    runs = WallRuns(clock)

    def add() -> str:
        return q.add_task("past", runs, at=start - timedelta(hours=1), misfire=misfire)

    task_id = add() if added == "before start" else ""
    q.start()
    if added == "after start":
        task_id = add()
    quiesce(q)
    if misfire == "coalesce":
        assert runs.times == [start]
        assert jobs_of(q, task_id) == [("completed", start)]
    else:
        assert runs.times == []
        (job,) = q.get_all_jobs()
        assert (job.task_id, job.status) == (task_id, JobStatus.MISSED)
        assert job.error_message == (
            "missed: 3600.000 s late, beyond the 1 s misfire grace (misfire='skip')"
        )
        missed.wait_for(1)
        assert missed.calls == [("past", "missed")]
    assert q.get_all_tasks(include_run_once=True) == []
    assert_consistent(q)


def test_an_at_in_the_past_within_the_grace_runs_under_skip(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1, 12))
    runs = WallRuns(clock)
    task_id = q.add_task(
        "just-past", runs, at=utc(2027, 1, 1, 11, 59, 30), misfire="skip", misfire_grace=60
    )
    quiesce(q)
    assert runs.times == [utc(2027, 1, 1, 12)]
    assert jobs_of(q, task_id) == [("completed", utc(2027, 1, 1, 12))]


# -- 5: misfire ---------------------------------------------------------------------------------


@pytest.mark.parametrize("misfire", ["coalesce", "skip"])
def test_a_cron_run_held_up_by_a_full_pool(
    make: Make, gate: Callable[[], threading.Event], misfire: str
) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 30), pool_size=1)
    release = gate()
    busy = threading.Event()

    def blocker() -> None:
        busy.set()
        release.wait(WAIT)

    q.add_task("blocker", blocker, interval=86400)
    assert busy.wait(WAIT)
    missed = Recorder()
    q.add_listener(
        Event.JOB_MISSED, lambda _e, task, job: missed(task.id, job.status, job.error_message)
    )
    runs = WallRuns(clock)
    task_id = q.add_task("hourly", runs, cron="0 * * * *", misfire=misfire, misfire_grace=60)
    for _ in range(16):  # to 03:10: the slots at 01:00, 02:00 and 03:00 pass, the pool full
        advance(q, clock, 600)
    assert runs.times == []
    release.set()
    quiesce(q)
    late = "missed: 7800.000 s late, beyond the 60 s misfire grace (misfire='skip')"
    if misfire == "coalesce":
        assert runs.times == [utc(2027, 1, 1, 3, 10)]  # once, not three times
    else:
        assert runs.times == []
        # One record for the three slots, for the first of them; made when the pool freed.
        assert jobs_of(q, task_id) == [("missed", utc(2027, 1, 1, 1))]
        (job,) = q.get_all_jobs(status=JobStatus.MISSED)
        assert (job.started_at, job.ended_at) == (None, utc(2027, 1, 1, 3, 10))
        assert job.duration_seconds == 0
        assert job.error_message == late
        missed.wait_for(1)
        assert missed.calls == [(task_id, "missed", late)]
    assert q.get_task(task_id).next_run_at == utc(2027, 1, 1, 4)
    walk(q, clock, utc(2027, 1, 1, 6, 30), step=600)
    regular = [utc(2027, 1, 1, 4), utc(2027, 1, 1, 5), utc(2027, 1, 1, 6)]
    if misfire == "coalesce":
        assert runs.times == [utc(2027, 1, 1, 3, 10), *regular]
        assert len(missed) == 0
    else:
        assert runs.times == regular
        assert len(missed) == 1
    assert q.get_task(task_id).next_run_at == utc(2027, 1, 1, 7)


def test_skip_runs_a_late_cron_run_within_its_grace(
    make: Make, gate: Callable[[], threading.Event]
) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 30), pool_size=1)
    release = gate()
    busy = threading.Event()

    def blocker() -> None:
        busy.set()
        release.wait(WAIT)

    q.add_task("blocker", blocker, interval=86400)
    assert busy.wait(WAIT)
    runs = WallRuns(clock)
    task_id = q.add_task("hourly", runs, cron="0 * * * *", misfire="skip", misfire_grace=900)
    for _ in range(4):  # to 01:10: ten minutes late, within the 15-minute grace
        advance(q, clock, 600)
    release.set()
    quiesce(q)
    assert runs.times == [utc(2027, 1, 1, 1, 10)]
    assert q.get_all_jobs(status=JobStatus.MISSED) == []
    walk(q, clock, utc(2027, 1, 1, 2), step=600)
    assert runs.times == [utc(2027, 1, 1, 1, 10), utc(2027, 1, 1, 2)]
    assert jobs_of(q, task_id)[-1] == ("completed", utc(2027, 1, 1, 2))


@pytest.mark.parametrize(
    "suspended",
    [
        pytest.param(5 * HOUR, id="a-whole-number-of-intervals"),
        pytest.param(5 * HOUR + 300, id="between-two-slots"),
    ],
)
def test_a_suspension_makes_one_coalesced_interval_run(make: Make, suspended: float) -> None:
    # Regression for the whole-number case: the late run started exactly on a slot, and
    # that slot then ran again at the same instant (two runs: a burst).
    q, clock = make(utc(2027, 1, 1))
    runs = WallRuns(clock)
    task_id = q.add_task("every-10-min", runs, interval=600)
    quiesce(q)
    tick(q, clock, suspended)  # both clocks jump: a suspension the process slept through
    woke = utc(2027, 1, 1) + timedelta(seconds=suspended)
    assert runs.times == [utc(2027, 1, 1), woke]
    following = utc(2027, 1, 1) + timedelta(seconds=600 * (suspended // 600 + 1))
    assert q.get_task(task_id).next_run_at == following
    assert q.next_run_times(task_id, 2)[0].utc == following
    walk(q, clock, following, step=60)
    assert runs.times == [utc(2027, 1, 1), woke, following]
    assert q.get_all_jobs(status=JobStatus.MISSED) == []


def test_a_coalesced_interval_run_on_a_slot_previews_the_slot_after_it(
    make: Make, gate: Callable[[], threading.Event]
) -> None:
    q, clock = make(utc(2027, 1, 1))
    release = gate()
    entered = Recorder()

    def handler() -> None:
        entered()
        if len(entered) == 2:
            release.wait(WAIT)

    task_id = q.add_task("every-10-min", handler, interval=600)
    quiesce(q)
    advance(q, clock, 5 * HOUR)  # the run due at 600 s starts at 18 000 s, itself a slot
    entered.wait_for(2)
    settle(q)
    assert q.get_task(task_id).status == "running"
    # What it will do once this run ends: the slot after the one it started on.
    assert q.next_run_times(task_id, 1)[0].utc == utc(2027, 1, 1, 5, 10)
    release.set()
    quiesce(q)
    assert len(entered) == 2
    assert q.get_task(task_id).next_run_at == utc(2027, 1, 1, 5, 10)


def test_a_suspension_makes_one_missed_interval_record_under_skip(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1))
    runs = WallRuns(clock)
    missed = Recorder()
    q.add_listener(Event.JOB_MISSED, lambda _e, _t, job: missed(job.error_message))
    task_id = q.add_task("every-10-min", runs, interval=600, misfire="skip")
    quiesce(q)
    tick(q, clock, 5 * HOUR + 300)  # the run due at 600 s is 17 700 s late
    assert runs.times == [utc(2027, 1, 1)]
    late = "missed: 17700.000 s late, beyond the 1 s misfire grace (misfire='skip')"
    assert [(j.status, j.error_message) for j in q.get_all_jobs()] == [
        ("completed", None),
        ("missed", late),
    ]
    missed.wait_for(1)
    assert missed.calls == [(late,)]
    # The next slot of its cadence: 5 h 10 min.
    assert q.get_task(task_id).next_run_at == utc(2027, 1, 1, 5, 10)
    walk(q, clock, utc(2027, 1, 1, 5, 20), step=60)
    assert runs.times == [utc(2027, 1, 1), utc(2027, 1, 1, 5, 10), utc(2027, 1, 1, 5, 20)]
    assert len(q.get_all_jobs(status=JobStatus.MISSED)) == 1


@pytest.mark.parametrize("misfire", ["coalesce", "skip"])
def test_a_suspension_makes_one_cron_run_or_one_missed_record(make: Make, misfire: str) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 30))
    runs = WallRuns(clock)
    task_id = q.add_task("hourly", runs, cron="0 * * * *", misfire=misfire)
    quiesce(q)
    tick(q, clock, 5 * HOUR + 600)  # 01:00 to 05:00 pass while suspended; it wakes at 05:40
    woke = utc(2027, 1, 1, 5, 40)
    if misfire == "coalesce":
        assert runs.times == [woke]
        assert jobs_of(q, task_id) == [("completed", woke)]
    else:
        assert runs.times == []
        (job,) = q.get_all_jobs()
        # Never started: recorded when it woke, for the first slot it slept through.
        assert (job.status, job.started_at, job.ended_at) == ("missed", None, woke)
        assert job.scheduled_for == utc(2027, 1, 1, 1)
        assert job.duration_seconds == 0
        assert job.error_message is not None
        assert job.error_message.startswith("missed: 16800.000 s late")
    assert q.get_task(task_id).next_run_at == utc(2027, 1, 1, 6)
    walk(q, clock, utc(2027, 1, 1, 7), step=600)
    assert runs.times[-2:] == [utc(2027, 1, 1, 6), utc(2027, 1, 1, 7)]
    assert len(runs) == (3 if misfire == "coalesce" else 2)


# -- 6: the wall clock moves alone ---------------------------------------------------------------


@pytest.mark.parametrize("misfire", ["coalesce", "skip"])
def test_a_wall_jump_forward_past_a_slot(make: Make, misfire: str) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 10))
    runs = WallRuns(clock)
    task_id = q.add_task("hourly", runs, cron="0 * * * *", misfire=misfire)
    quiesce(q)
    clock.jump_wall(HOUR)  # 01:10 on the wall, the monotonic clock has not moved
    settle(q)  # the scheduler's next turn notices the drift and re-times calendar runs
    quiesce(q)
    if misfire == "coalesce":
        assert runs.times == [utc(2027, 1, 1, 1, 10)]
    else:
        assert runs.times == []
        # The 01:00 slot, recorded missed at 01:10 when the jump was noticed.
        assert jobs_of(q, task_id) == [("missed", utc(2027, 1, 1, 1))]
        (job,) = q.get_all_jobs()
        assert (job.started_at, job.ended_at) == (None, utc(2027, 1, 1, 1, 10))
    assert q.get_task(task_id).next_run_at == utc(2027, 1, 1, 2)
    advance(q, clock, 50 * 60 - 1)
    quiesce(q)
    assert len(runs) == (1 if misfire == "coalesce" else 0)
    tick(q, clock, 1)
    assert runs.times[-1] == utc(2027, 1, 1, 2)


def test_a_wall_jump_backwards_does_not_repeat_a_run(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 30))
    runs = WallRuns(clock)
    task_id = q.add_task("hourly", runs, cron="0 * * * *")
    walk(q, clock, utc(2027, 1, 1, 1), step=600)
    assert runs.times == [utc(2027, 1, 1, 1)]
    clock.jump_wall(-HOUR)  # right after the 01:00 run, the wall clock reads 00:00 again
    settle(q)
    assert q.get_task(task_id).next_run_at == utc(2027, 1, 1, 2)
    # 01:00 comes round again on the wall clock: no second run, and none early.
    walk(q, clock, utc(2027, 1, 1, 1, 30), step=600)
    assert runs.times == [utc(2027, 1, 1, 1)]
    advance(q, clock, seconds_until(clock, utc(2027, 1, 1, 2)) - 1)
    quiesce(q)
    assert runs.times == [utc(2027, 1, 1, 1)]
    tick(q, clock, 1)
    assert runs.times == [utc(2027, 1, 1, 1), utc(2027, 1, 1, 2)]  # 2 h of monotonic time
    assert clock.monotonic() == 1800 + 2 * HOUR


def test_a_wall_jump_backwards_before_a_slot_waits_for_the_wall_clock(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 59, 30))
    runs = WallRuns(clock)
    q.add_task("hourly", runs, cron="0 * * * *")
    quiesce(q)
    clock.jump_wall(-HOUR)
    settle(q)
    walk(q, clock, utc(2027, 1, 1, 0, 59, 59), step=600)
    assert runs.times == []
    tick(q, clock, 1)
    assert runs.times == [utc(2027, 1, 1, 1)]
    assert clock.monotonic() == HOUR + 30


# -- 7: jitter ----------------------------------------------------------------------------------


def test_jitter_moves_each_run_within_its_window_without_drift(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 0, 10))
    q._scheduler.planner.rng.seed(20270101)
    runs = WallRuns(clock)
    task_id = q.add_task("jittered", runs, cron="0 * * * *", jitter=30)
    settle(q)
    task = q.get_task(task_id)
    assert task.jitter_seconds == 30
    assert task.schedule["kind"] == "cron"
    offsets = []
    for hour in range(1, 6):
        slot = utc(2027, 1, 1, hour)
        planned = q.get_task(task_id).next_run_at
        assert slot <= planned <= slot + timedelta(seconds=30)
        (first,) = q.next_run_times(task_id, 1)
        assert first.utc == planned
        walk(q, clock, slot - timedelta(seconds=1), step=600)
        walk(q, clock, slot + timedelta(seconds=30), step=1)
        assert len(runs) == hour
        # The run came at the first whole second at or after the jittered time.
        ran = runs.times[-1]
        assert slot <= ran <= slot + timedelta(seconds=30)
        assert ran - timedelta(seconds=1) < planned <= ran
        offsets.append((planned - slot).total_seconds())
    assert len({round(o) for o in offsets}) > 1  # a random delay, not a fixed one
    assert [j.status for j in q.get_all_jobs()] == ["completed"] * 5


def test_next_run_times_shows_the_jittered_run_then_plain_slots(make: Make) -> None:
    q, _ = make(utc(2027, 1, 1))
    q._scheduler.planner.rng.seed(5)
    task_id = q.add_task("jittered", lambda: None, cron="0 * * * *", jitter=30)
    settle(q)
    planned = q.get_task(task_id).next_run_at
    assert planned != utc(2027, 1, 1, 1)
    assert [r.utc for r in q.next_run_times(task_id, 3)] == [
        planned,
        utc(2027, 1, 1, 2),
        utc(2027, 1, 1, 3),
    ]


# -- 8: Task fields -------------------------------------------------------------------------------


def test_task_fields_describe_each_kind_of_schedule(make: Make) -> None:
    q, _ = make(utc(2027, 1, 1), timezone="Asia/Tokyo")
    cron_id = q.add_task(
        "cron",
        noop,
        cron="30 2 * * *",
        timezone="Europe/Berlin",
        misfire="skip",
        misfire_grace=30,
        jitter=5,
    )
    default_zone_id = q.add_task("cron-default-zone", noop, cron="*/15 * * * *")
    at_id = q.add_task("at", noop, at=datetime(2027, 6, 1, 12), timezone="Europe/Berlin")
    naive_id = q.add_task("at-naive", noop, at=datetime(2027, 6, 1, 12))
    aware_id = q.add_task("at-aware", noop, at=utc(2027, 6, 1, 12))
    interval_id = q.add_task("interval", noop, 5)
    settle(q)
    expected: dict[str, tuple[dict[str, Any], float | None, bool]] = {
        cron_id: (
            {
                "kind": "cron",
                "expression": "30 2 * * *",
                "timezone": "Europe/Berlin",
                "description": "at 02:30, every day (Europe/Berlin)",
            },
            None,
            False,
        ),
        default_zone_id: (
            {
                "kind": "cron",
                "expression": "*/15 * * * *",
                "timezone": "Asia/Tokyo",
                "description": "every 15 minutes, every day (Asia/Tokyo)",
            },
            None,
            False,
        ),
        at_id: (
            {
                "kind": "at",
                "at": "2027-06-01T12:00:00+02:00",
                "timezone": "Europe/Berlin",
                "description": "once, at 2027-06-01 12:00:00 CEST",
            },
            None,
            True,
        ),
        naive_id: (
            {
                "kind": "at",
                "at": "2027-06-01T12:00:00+09:00",
                "timezone": "Asia/Tokyo",
                "description": "once, at 2027-06-01 12:00:00 JST",
            },
            None,
            True,
        ),
        aware_id: (
            {
                "kind": "at",
                "at": "2027-06-01T12:00:00+00:00",
                "timezone": "UTC",
                "description": "once, at 2027-06-01 12:00:00 UTC",
            },
            None,
            True,
        ),
        interval_id: (
            {
                "kind": "interval",
                "every_seconds": 5.0,
                "fixed_interval": True,
                "run_once": False,
                "description": "every 5 s",
            },
            5.0,
            False,
        ),
    }
    for task_id, (schedule, interval, run_once) in expected.items():
        task = q.get_task(task_id)
        assert task.schedule == schedule
        assert task.interval_seconds == interval
        assert task.run_once is run_once
        assert task.fixed_interval is True
        assert quiv_module.Task.model_validate_json(task.model_dump_json()) == task
    cron = q.get_task(cron_id)
    assert (cron.misfire, cron.misfire_grace_seconds, cron.jitter_seconds) == ("skip", 30.0, 5.0)
    plain = q.get_task(interval_id)
    assert (plain.misfire, plain.misfire_grace_seconds, plain.jitter_seconds) == (
        "coalesce",
        1.0,
        0.0,
    )
    assert q.get_task(at_id).next_run_at == utc(2027, 6, 1, 10)
    assert q.get_task(naive_id).next_run_at == utc(2027, 6, 1, 3)
    # The same fields in an event snapshot.
    added = Recorder()
    q.add_listener(Event.TASK_ADDED, lambda _e, task: added(task.schedule, task.interval_seconds))
    q.add_task("once-more", noop, cron="@daily", timezone="UTC")
    added.wait_for(1)
    daily = {
        "kind": "cron",
        "expression": "@daily",
        "timezone": "UTC",
        "description": "at 00:00, every day (UTC)",
    }
    assert added.calls == [(daily, None)]


# -- 9: next_run_times and preview_cron ------------------------------------------------------


def test_next_run_times_of_a_cron_task_across_a_dst_change(make: Make) -> None:
    q, _ = make(utc(2027, 3, 26, 12))
    task_id = q.add_task("berlin", noop, cron="30 2 * * *", timezone="Europe/Berlin")
    times = q.next_run_times(task_id, 4)
    assert [r.utc for r in times] == [
        utc(2027, 3, 27, 1, 30),
        utc(2027, 3, 28, 1),
        utc(2027, 3, 29, 0, 30),
        utc(2027, 3, 30, 0, 30),
    ]
    assert [r.local.isoformat() for r in times] == [
        "2027-03-27T02:30:00+01:00",
        "2027-03-28T03:00:00+02:00",
        "2027-03-29T02:30:00+02:00",
        "2027-03-30T02:30:00+02:00",
    ]
    assert all(r.utc.tzinfo is UTC for r in times)
    assert all(r.local.tzinfo == BERLIN and r.local == r.utc for r in times)
    assert len(q.next_run_times(task_id, 1000)) == 1000
    assert q.next_run_times(task_id)[:4] == times  # count defaults to 5


def test_next_run_times_of_an_interval_task_is_in_the_quiv_zone(make: Make) -> None:
    q, _ = make(utc(2027, 1, 1), timezone="Asia/Tokyo")
    task_id = q.add_task("every-10-min", noop, interval=600, delay=60)
    settle(q)
    times = q.next_run_times(task_id, 3)
    assert q.get_task(task_id).next_run_at == utc(2027, 1, 1, 0, 1)
    assert [r.utc for r in times] == [
        utc(2027, 1, 1, 0, 1),
        utc(2027, 1, 1, 0, 11),
        utc(2027, 1, 1, 0, 21),
    ]
    assert [r.local.isoformat() for r in times] == [
        "2027-01-01T09:01:00+09:00",
        "2027-01-01T09:11:00+09:00",
        "2027-01-01T09:21:00+09:00",
    ]


def test_next_run_times_of_paused_one_shot_and_running_tasks(
    make: Make, gate: Callable[[], threading.Event]
) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 30))
    paused = q.add_task("paused", noop, cron="0 * * * *")
    q.pause_task(paused)
    assert q.next_run_times(paused, 5) == []
    once = q.add_task("once", noop, at=utc(2027, 1, 2))
    assert [r.utc for r in q.next_run_times(once, 5)] == [utc(2027, 1, 2)]
    run_once = q.add_task("run-once", noop, interval=60, delay=30, run_once=True)
    settle(q)
    assert [r.utc for r in q.next_run_times(run_once, 5)] == [utc(2027, 1, 1, 0, 30, 30)]
    q.remove_task(run_once)
    release = gate()
    runs = WallRuns(clock, release)
    busy = q.add_task("busy", runs, cron="0 * * * *")
    advance(q, clock, 1800)
    wait_until(lambda: len(runs) == 1, WAIT)
    settle(q)
    assert q.get_task(busy).status == "running"
    assert [r.utc for r in q.next_run_times(busy, 2)] == [utc(2027, 1, 1, 2), utc(2027, 1, 1, 3)]
    advance(q, clock, 4000)  # 02:06:40 now, and the 01:00 run still going
    assert [r.utc for r in q.next_run_times(busy, 2)] == [utc(2027, 1, 1, 3), utc(2027, 1, 1, 4)]
    release.set()
    quiesce(q)
    assert runs.times == [utc(2027, 1, 1, 1)]  # the 02:00 slot passed during the run
    assert q.get_task(busy).next_run_at == utc(2027, 1, 1, 3)


@pytest.mark.parametrize("count", [0, 1001, -1, True, 2.0, "3", None])
def test_next_run_times_validates_count(make: Make, count: Any) -> None:
    q, _ = make(utc(2027, 1, 1))
    task_id = q.add_task("t", noop, cron="0 * * * *")
    with pytest.raises(ConfigurationError, match="count must be an int from 1 to 1000"):
        q.next_run_times(task_id, count)


def test_next_run_times_of_an_unknown_task(make: Make) -> None:
    q, _ = make(utc(2027, 1, 1))
    with pytest.raises(TaskNotFoundError):
        q.next_run_times("no-such-task")


def test_preview_cron() -> None:
    times = quiv_module.preview_cron(
        "30 2 * * *", "Europe/Berlin", count=3, after=utc(2027, 3, 27, 0)
    )
    assert [r.utc for r in times] == [
        utc(2027, 3, 27, 1, 30),
        utc(2027, 3, 28, 1),
        utc(2027, 3, 29, 0, 30),
    ]
    assert [r.local.isoformat() for r in times] == [
        "2027-03-27T02:30:00+01:00",
        "2027-03-28T03:00:00+02:00",
        "2027-03-29T02:30:00+02:00",
    ]
    # ``after`` itself is excluded; the default zone is UTC; the default count is 5.
    hourly = quiv_module.preview_cron("0 * * * *", after=utc(2027, 1, 1, 1))
    assert [r.utc for r in hourly] == [utc(2027, 1, 1, h) for h in range(2, 7)]
    assert all(r.local.utcoffset() == timedelta(0) for r in hourly)
    assert len(quiv_module.preview_cron("* * * * *", count=1)) == 1  # after=None: from now
    with pytest.raises(InvalidCronExpressionError, match="hour field") as bad:
        quiv_module.preview_cron("0 25 * * *")
    assert bad.value.field == "hour"
    assert isinstance(bad.value, ConfigurationError)
    with pytest.raises(ConfigurationError, match="after must be a timezone-aware datetime"):
        quiv_module.preview_cron("0 * * * *", after=datetime(2027, 1, 1))
    with pytest.raises(ConfigurationError, match="count must be an int"):
        quiv_module.preview_cron("0 * * * *", count=0)
    with pytest.raises(InvalidTimezoneError):
        quiv_module.preview_cron("0 * * * *", "Mars/Olympus_Mons")


# -- 10: pause, resume and run_task on calendar tasks ---------------------------------------


def test_resuming_a_cron_task_waits_for_its_next_slot(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 10))
    runs = WallRuns(clock)
    task_id = q.add_task("hourly", runs, cron="0 * * * *")
    q.pause_task(task_id)
    walk(q, clock, utc(2027, 1, 1, 1, 30), step=600)
    assert runs.times == []
    q.resume_task(task_id)
    quiesce(q)
    assert runs.times == []  # not at once: the 01:00 slot passed while it was paused
    assert q.get_task(task_id).next_run_at == utc(2027, 1, 1, 2)
    walk(q, clock, utc(2027, 1, 1, 3), step=600)
    assert runs.times == [utc(2027, 1, 1, 2), utc(2027, 1, 1, 3)]


def test_resume_delay_on_a_cron_task_takes_the_first_slot_after_it(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 50))
    runs = WallRuns(clock)
    task_id = q.add_task("hourly", runs, cron="0 * * * *")
    q.pause_task(task_id)
    q.resume_task(task_id, delay=900)  # 01:05 at the earliest: the 01:00 slot is too soon
    assert q.get_task(task_id).next_run_at == utc(2027, 1, 1, 2)
    walk(q, clock, utc(2027, 1, 1, 2), step=600)
    assert runs.times == [utc(2027, 1, 1, 2)]


@pytest.mark.parametrize("misfire", ["coalesce", "skip"])
def test_resuming_an_at_task_whose_time_passed(make: Make, misfire: str) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 10))
    runs = WallRuns(clock)
    task_id = q.add_task("once", runs, at=utc(2027, 1, 1, 1), misfire=misfire)
    q.pause_task(task_id)
    walk(q, clock, utc(2027, 1, 1, 2), step=600)
    assert runs.times == []
    q.resume_task(task_id)
    quiesce(q)
    if misfire == "coalesce":
        assert runs.times == [utc(2027, 1, 1, 2)]
        assert jobs_of(q, task_id) == [("completed", utc(2027, 1, 1, 2))]
    else:
        assert runs.times == []
        (job,) = q.get_all_jobs()
        # Recorded at the resume, for its time an hour before.
        assert (job.status, job.started_at, job.ended_at) == ("missed", None, utc(2027, 1, 1, 2))
        assert job.scheduled_for == utc(2027, 1, 1, 1)
        assert job.duration_seconds == 0
        assert job.error_message is not None
        assert job.error_message.startswith("missed: 3600.000 s late")
    assert q.get_all_tasks(include_run_once=True) == []
    tick(q, clock, 86400)
    assert len(runs) == (1 if misfire == "coalesce" else 0)


def test_resuming_an_at_task_before_its_time_keeps_its_time(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 10))
    runs = WallRuns(clock)
    task_id = q.add_task("once", runs, at=utc(2027, 1, 1, 1))
    q.pause_task(task_id)
    tick(q, clock, 600)
    q.resume_task(task_id)
    assert q.get_task(task_id).next_run_at == utc(2027, 1, 1, 1)
    walk(q, clock, utc(2027, 1, 1, 2), step=600)
    assert runs.times == [utc(2027, 1, 1, 1)]


def test_run_task_on_a_cron_task_runs_now_and_keeps_its_slots(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 10))
    runs = WallRuns(clock)
    task_id = q.add_task("hourly", runs, cron="0 * * * *")
    job_id = q.run_task(task_id)
    assert q.wait_for_job(job_id, timeout=WAIT).status == JobStatus.COMPLETED
    quiesce(q)
    assert runs.times == [utc(2027, 1, 1, 0, 10)]
    assert q.get_task(task_id).next_run_at == utc(2027, 1, 1, 1)
    walk(q, clock, utc(2027, 1, 1, 2), step=600)
    assert runs.times == [utc(2027, 1, 1, 0, 10), utc(2027, 1, 1, 1), utc(2027, 1, 1, 2)]
    # On a paused cron task: one run now, and it stays paused.
    q.pause_task(task_id)
    q.wait_for_job(q.run_task(task_id), timeout=WAIT)
    quiesce(q)
    assert q.get_task(task_id).status == "paused"
    walk(q, clock, utc(2027, 1, 1, 4), step=600)
    assert runs.times[-1] == utc(2027, 1, 1, 2)
    assert len(runs) == 4


def test_removing_a_calendar_task_cancels_its_runs(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1, 0, 10))
    runs = WallRuns(clock)
    cron_id = q.add_task("hourly", runs, cron="0 * * * *")
    at_id = q.add_task("once", runs, at=utc(2027, 1, 1, 1))
    q.remove_task(cron_id)
    q.remove_task(at_id)
    walk(q, clock, utc(2027, 1, 1, 2), step=1200)
    assert runs.times == []
    assert q.statistics().tasks == 0


# -- 11: validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            {},
            ConfigurationError,
            r"add_task needs a schedule: schedule= .*, interval= \(seconds\), cron=",
        ),
        (
            {"interval": 5, "cron": "0 * * * *"},
            ConfigurationError,
            "give exactly one schedule, not interval and cron",
        ),
        (
            {"cron": "0 * * * *", "at": datetime(2030, 1, 1, tzinfo=UTC)},
            ConfigurationError,
            "give exactly one schedule, not cron and at",
        ),
        (
            {"cron": "0 * * * *", "delay": 5},
            ConfigurationError,
            "delay applies to interval schedules; a cron= task runs at its own times",
        ),
        (
            {"at": datetime(2030, 1, 1, tzinfo=UTC), "delay": 5},
            ConfigurationError,
            "delay applies to interval schedules; an at= task runs at its own times",
        ),
        (
            {"at": datetime(2030, 1, 1, tzinfo=UTC), "run_once": True},
            ConfigurationError,
            "run_once applies to interval schedules: an at= task runs once",
        ),
        (
            {"cron": "0 * * * *", "run_once": True},
            ConfigurationError,
            "run_once applies to interval schedules",
        ),
        (
            {"cron": "0 * * * *", "fixed_interval": False},
            ConfigurationError,
            "fixed_interval applies to interval schedules",
        ),
        (
            {"interval": 5, "timezone": "UTC"},
            ConfigurationError,
            "timezone applies to cron= and at= schedules",
        ),
        (
            {"cron": "0 * * * *", "timezone": "Mars/Olympus_Mons"},
            InvalidTimezoneError,
            "Mars/Olympus_Mons",
        ),
        ({"cron": "0 * * * *", "timezone": 5}, InvalidTimezoneError, "expected str or tzinfo"),
        ({"at": date(2030, 1, 1)}, ConfigurationError, "at must be a datetime .* got date"),
        ({"at": "2030-01-01T00:00:00"}, ConfigurationError, "at must be a datetime .* got str"),
        (
            {"cron": "0 * * * *", "misfire": "later"},
            ConfigurationError,
            "misfire must be 'coalesce' or 'skip', got 'later'",
        ),
        (
            {"cron": "0 * * * *", "misfire": None},
            ConfigurationError,
            "misfire must be 'coalesce' or 'skip'",
        ),
        (
            {"cron": "0 * * * *", "misfire_grace": -1},
            ConfigurationError,
            "misfire_grace must not be negative",
        ),
        (
            {"cron": "0 * * * *", "misfire_grace": float("nan")},
            ConfigurationError,
            "misfire_grace must be a finite number",
        ),
        ({"cron": "0 * * * *", "jitter": -1}, ConfigurationError, "jitter must not be negative"),
        (
            {"interval": 5, "jitter": float("nan")},
            ConfigurationError,
            "jitter must be a finite number",
        ),
        ({"cron": "0 * * * *", "jitter": True}, ConfigurationError, "jitter must be a number"),
        ({"cron": "0 25 * * *"}, InvalidCronExpressionError, "hour field: 25 is out of range"),
        ({"cron": "0 0 30 2 *"}, InvalidCronExpressionError, "never"),
        ({"cron": "* * *"}, InvalidCronExpressionError, "it has 3 fields; give 5"),
        ({"cron": 5}, InvalidCronExpressionError, "a cron expression is a str"),
    ],
)
def test_calendar_arguments_are_validated(
    quiv: Callable[..., Quiv], options: dict[str, Any], error: type[Exception], message: str
) -> None:
    q = quiv()
    with pytest.raises(error, match=message) as raised:
        q.add_task("t", noop, **options)
    assert isinstance(raised.value, ConfigurationError)
    assert q.get_all_tasks(include_run_once=True) == []


def test_a_bad_cron_expression_names_its_field(quiv: Callable[..., Quiv]) -> None:
    q = quiv()
    for expression, field in (
        ("61 * * * *", "minute"),
        ("0 25 * * *", "hour"),
        ("0 0 32 * *", "day-of-month"),
        ("0 0 * 13 *", "month"),
        ("0 0 * * FUN", "day-of-week"),
    ):
        with pytest.raises(InvalidCronExpressionError) as raised:
            q.add_task("t", noop, cron=expression)
        assert raised.value.field == field
        assert f"{field} field" in str(raised.value)


def test_interval_calls_of_before_still_work(make: Make) -> None:
    q, clock = make(utc(2027, 1, 1))
    positional = WallRuns(clock)
    once = WallRuns(clock)
    every_id = q.add_task("positional", positional, 5)
    once_id = q.add_task("n", once, interval=5, delay=1, run_once=True)
    every, one = q.get_task(every_id), q.get_task(once_id)
    assert (every.interval_seconds, every.run_once, every.schedule["kind"]) == (
        5.0,
        False,
        "interval",
    )
    assert (one.interval_seconds, one.run_once, one.schedule["run_once"]) == (5.0, True, True)
    walk(q, clock, utc(2027, 1, 1, 0, 0, 10), step=1)
    assert positional.times == [utc(2027, 1, 1, 0, 0, s) for s in (0, 5, 10)]
    assert once.times == [utc(2027, 1, 1, 0, 0, 1)]
    assert [t.id for t in q.get_all_tasks(include_run_once=True)] == [every_id]


def test_a_leap_day_cron_runs_every_four_years(make: Make) -> None:
    q, _ = make(utc(2027, 1, 1))
    task_id = q.add_task("leap", noop, cron="0 0 29 2 *")
    assert q.get_task(task_id).next_run_at == utc(2028, 2, 29)
    assert [r.utc for r in q.next_run_times(task_id, 3)] == [
        utc(2028, 2, 29),
        utc(2032, 2, 29),
        utc(2036, 2, 29),
    ]
