"""A durable store (``Quiv(database_url=...)``), in one process: keyed tasks across restarts,
re-registration, keyless tasks and history after a restart, misfire after downtime, JSON
arguments, ``key`` validation, nodes, recovery after a dead node, and concurrent claims.

Every test runs on a SQLite file and on a fresh PostgreSQL database (``durable_url``). A
"restart" is: shut the first ``Quiv`` down, then build a new one on the same URL. Where time
matters, each ``Quiv`` gets its own ``FakeClock``; the one after a restart starts later (the
downtime), since a new process's monotonic clock starts afresh while the wall clock goes on.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text

from quiv import ConfigurationError, JobStatus, Quiv, Task, TaskNotFoundError
from quiv._database import open_database
from quiv._schedule import IntervalSchedule
from quiv._store import _job_table, _node_table, _registry, _task_table
from quiv.testing import FakeClock, wait_until

from ._helpers import EPOCH, WAIT, Recorder, quiesce, stored_rows, tick

HOUR = 3600.0
MakeQuiv = Callable[..., Quiv]


# -- helpers ----------------------------------------------------------------------------------


def select(q: Quiv, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``statement``, read with the store's own engine after a flush."""
    q._store.flush()
    with q._store.database.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(statement), params)]


def restart(
    quiv: MakeQuiv, old: Quiv, url: str, clock: FakeClock | None = None, **options: Any
) -> Quiv:
    """Shut ``old`` down and build a new ``Quiv`` on the same database."""
    old.shutdown(timeout=WAIT)
    if clock is not None:
        options["clock"] = clock
    return quiv(database_url=url, **options)


class WallRuns:
    """A handler recording the fake wall time of every run (it takes any arguments)."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.times: list[datetime] = []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.times.append(self._clock.now())

    def __len__(self) -> int:
        with self._lock:
            return len(self.times)


class Calls(Recorder):
    """A ``Recorder`` that leaves out the keywords quiv injects (it takes ``**kwargs``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        for name in ("_job_id", "_stop_event", "_progress_hook"):
            kwargs.pop(name, None)
        super().__call__(*args, **kwargs)


def jobs_of(q: Quiv, task_id: str) -> list[tuple[str, datetime]]:
    # A job that never ran (missed) has no start: its slot stands for it.
    return [
        (job.status, job.started_at or job.scheduled_for)
        for job in q.get_all_jobs()
        if job.task_id == task_id
    ]


def noop() -> None:
    pass


def described(task: Task) -> dict[str, Any]:
    """What a registration sets: every field but status and next run."""
    return task.model_dump(exclude={"status", "next_run_at"})


# -- keyed tasks survive a restart ------------------------------------------------------------


def test_keyed_tasks_come_back_after_a_restart_with_their_id_and_settings(
    durable_url: str, quiv: MakeQuiv
) -> None:
    clock = FakeClock(EPOCH)
    first = quiv(database_url=durable_url, clock=clock)
    options: dict[str, Any] = {
        "interval": 900,
        "args": (1, "two", [3.5, None]),
        "kwargs": {"region": "eu", "limits": {"max": 10}},
        "timeout": 30,
        "retries": 2,
        "misfire": "skip",
        "misfire_grace": 5,
        "key": "report",
    }
    report_id = first.add_task("report", noop, delay=60, **options)
    paused_id = first.add_task("sleeper", noop, interval=60, delay=30, key="sleeper")
    first.start()
    first.pause_task(paused_id)
    before = first.get_task(report_id)
    assert before.next_run_at == EPOCH + timedelta(seconds=60)

    later = FakeClock(EPOCH + timedelta(seconds=10))
    second = restart(quiv, first, durable_url, later)
    # The stored rows are read back before anything is registered again...
    assert {t.id for t in second.get_all_tasks()} == {report_id, paused_id}
    runs = WallRuns(later)
    # ... and registering the keys again binds those rows: same ids, no new task.
    assert second.add_task("report", runs, delay=60, **options) == report_id
    assert second.add_task("sleeper", runs, interval=60, key="sleeper") == paused_id
    after = second.get_task(report_id)
    assert described(after) == described(before)
    assert after.args == (1, "two", [3.5, None])
    assert after.kwargs == {"region": "eu", "limits": {"max": 10}}
    assert after.schedule["kind"] == "interval"
    assert after.schedule["every_seconds"] == 900
    assert after.status == "active"
    assert len(second.get_all_tasks()) == 2
    assert select(second, "SELECT count(*) FROM quiv_task") == [(2,)]

    # The paused task is still paused: nothing planned, and no run however long we wait.
    sleeper = second.get_task(paused_id)
    assert sleeper.status == "paused"
    assert second.next_run_times(paused_id) == []
    second.start()
    quiesce(second)
    tick(second, later, 50)  # the report's stored run, at EPOCH + 60
    assert runs.times == [EPOCH + timedelta(seconds=60)]
    tick(second, later, 3 * HOUR)
    assert [job for job in second.get_all_jobs() if job.task_id == paused_id] == []
    assert second.get_task(paused_id).status == "paused"


def test_a_key_registered_again_in_the_same_process_rebinds_the_one_task(
    durable_url: str, quiv: MakeQuiv
) -> None:
    clock = FakeClock(EPOCH)
    q = quiv(database_url=durable_url, clock=clock)
    old, new = Calls(), Calls()
    task_id = q.add_task("sync", old, interval=HOUR, args=(1,), key="sync")
    q.start()
    old.wait_for(1)
    quiesce(q)

    again = q.add_task("sync v2", new, interval=HOUR, args=(2,), kwargs={"full": True}, key="sync")
    assert again == task_id
    tasks = q.get_all_tasks()
    assert [t.id for t in tasks] == [task_id]
    assert (tasks[0].task_name, tasks[0].args, tasks[0].kwargs) == (
        "sync v2",
        (2,),
        {"full": True},
    )
    assert select(q, "SELECT id FROM quiv_task WHERE key = 'sync'") == [(task_id,)]
    # Unchanged schedule: the next run is the one planned before, not a fresh one.
    assert q.get_task(task_id).next_run_at == EPOCH + timedelta(hours=1)

    tick(q, clock, HOUR)
    q.wait_for_job(q.run_task(task_id), timeout=WAIT)
    quiesce(q)
    assert new.calls == [(2,), (2,)]
    assert new.kwargs == [{"full": True}, {"full": True}]
    assert old.calls == [(1,)]  # the old handler never runs again
    assert [status for status, _ in jobs_of(q, task_id)] == ["completed"] * 3


def test_a_changed_schedule_on_a_live_task_is_planned_afresh(
    durable_url: str, quiv: MakeQuiv
) -> None:
    clock = FakeClock(EPOCH)
    q = quiv(database_url=durable_url, clock=clock)
    runs = WallRuns(clock)
    every = q.add_task("every", runs, interval=60, delay=30, key="every")
    hourly = q.add_task("hourly", runs, interval=60, delay=30, key="hourly")
    same = q.add_task("same", runs, interval=60, delay=30, key="same")
    q.start()
    tick(q, clock, 10)

    # 60 s -> 120 s: planned as a new task would be (after its delay), from now.
    assert q.add_task("every", runs, interval=120, delay=5, key="every") == every
    # 60 s -> cron: the next slot of the expression.
    assert q.add_task("hourly", runs, cron="0 * * * *", key="hourly") == hourly
    # Unchanged: the delay given now does not move the run planned at EPOCH + 30.
    assert q.add_task("same", runs, interval=60, delay=5, key="same") == same

    every_task, hourly_task = q.get_task(every), q.get_task(hourly)
    assert every_task.schedule["kind"] == "interval"
    assert every_task.schedule["every_seconds"] == 120
    assert every_task.interval_seconds == 120
    assert every_task.next_run_at == EPOCH + timedelta(seconds=15)
    assert hourly_task.schedule["kind"] == "cron"
    assert hourly_task.schedule["expression"] == "0 * * * *"
    assert hourly_task.interval_seconds is None
    assert hourly_task.next_run_at == EPOCH + timedelta(hours=1)
    assert q.get_task(same).next_run_at == EPOCH + timedelta(seconds=30)

    tick(q, clock, 5)  # EPOCH + 15: only the re-planned 120 s task
    assert runs.times == [EPOCH + timedelta(seconds=15)]
    tick(q, clock, 15)  # EPOCH + 30: the unchanged one, at its old time
    assert [t for _, t in jobs_of(q, same)] == [EPOCH + timedelta(seconds=30)]
    tick(q, clock, 105)  # EPOCH + 135: the 120 s cadence from its new first run
    assert [t for _, t in jobs_of(q, every)] == [
        EPOCH + timedelta(seconds=15),
        EPOCH + timedelta(seconds=135),
    ]
    assert jobs_of(q, hourly) == []  # the old 60 s plan is gone
    tick(q, clock, HOUR - 135)
    assert jobs_of(q, hourly) == [("completed", EPOCH + timedelta(hours=1))]


def test_a_changed_schedule_after_a_restart_is_planned_afresh(
    durable_url: str, quiv: MakeQuiv
) -> None:
    first = quiv(database_url=durable_url, clock=FakeClock(EPOCH))
    kept = first.add_task("kept", noop, interval=HOUR, delay=600, key="kept")
    longer = first.add_task("longer", noop, interval=60, delay=600, key="longer")
    calendar = first.add_task("calendar", noop, interval=60, delay=600, key="calendar")

    later = FakeClock(EPOCH + timedelta(seconds=100))
    second = restart(quiv, first, durable_url, later)
    runs = WallRuns(later)
    assert second.add_task("kept", runs, interval=HOUR, args=(2,), key="kept") == kept
    assert second.add_task("longer", runs, interval=120, delay=7, key="longer") == longer
    assert second.add_task("calendar", runs, cron="30 * * * *", key="calendar") == calendar

    # Unchanged: the stored next run (EPOCH + 600), not "now" as a fresh task would get.
    assert second.get_task(kept).next_run_at == EPOCH + timedelta(seconds=600)
    assert second.get_task(kept).args == (2,)  # the new registration's arguments
    assert second.get_task(longer).next_run_at == EPOCH + timedelta(seconds=107)
    assert second.get_task(longer).schedule["every_seconds"] == 120
    assert second.get_task(calendar).next_run_at == EPOCH + timedelta(minutes=30)
    assert second.get_task(calendar).schedule["kind"] == "cron"

    second.start()
    quiesce(second)
    assert len(runs) == 0
    tick(second, later, 7)
    assert runs.times == [EPOCH + timedelta(seconds=107)]
    tick(second, later, 493)  # EPOCH + 600: the kept task's stored run
    assert [t for _, t in jobs_of(second, kept)] == [EPOCH + timedelta(seconds=600)]


# -- keyless tasks and the history after a restart ----------------------------------------------


def test_keyless_tasks_end_with_their_process_and_the_history_stays(
    durable_url: str, quiv: MakeQuiv
) -> None:
    clock = FakeClock(EPOCH)
    first = quiv(database_url=durable_url, clock=clock, history_retention_seconds=86400)
    temporary = first.add_task("temporary", noop, interval=HOUR)
    kept = first.add_task("kept", noop, interval=HOUR, key="kept")
    first.start()
    quiesce(first)
    jobs = {job.task_id: job for job in first.get_all_jobs()}
    assert {job.status for job in jobs.values()} == {"completed"}
    assert set(jobs) == {temporary, kept}

    second = restart(quiv, first, durable_url, FakeClock(EPOCH + timedelta(hours=2)))
    assert [t.id for t in second.get_all_tasks()] == [kept]
    assert [t.id for t in second.get_all_tasks(include_run_once=True)] == [kept]
    with pytest.raises(TaskNotFoundError):
        second.get_task(temporary)
    assert select(second, "SELECT id FROM quiv_task") == [(kept,)]
    # The jobs of both, the keyless one's too, are still in the history.
    for task_id, job in jobs.items():
        again = second.get_job(job.id)
        assert (again.task_id, again.status, again.started_at) == (
            task_id,
            "completed",
            job.started_at,
        )
    assert {job.id for job in second.get_all_jobs()} == {job.id for job in jobs.values()}


# -- misfire after downtime --------------------------------------------------------------------


@pytest.mark.parametrize("misfire", ["coalesce", "skip"])
def test_runs_missed_while_stopped_follow_the_misfire_policy(
    durable_url: str, quiv: MakeQuiv, misfire: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(EPOCH)
    first = quiv(database_url=durable_url, clock=clock)
    before = WallRuns(clock)
    hourly = first.add_task("hourly", before, interval=HOUR, key="hourly", misfire=misfire)
    cron = first.add_task("cron", before, cron="30 * * * *", key="cron", misfire=misfire)
    first.start()
    quiesce(first)
    tick(first, clock, 1800)
    assert before.times == [EPOCH, EPOCH + timedelta(minutes=30)]
    assert first.get_task(hourly).next_run_at == EPOCH + timedelta(hours=1)
    assert first.get_task(cron).next_run_at == EPOCH + timedelta(hours=1, minutes=30)

    # Down from 00:30 until 05:45: five hourly runs and five cron slots pass meanwhile.
    back = EPOCH + timedelta(hours=5, minutes=45)
    later = FakeClock(back)
    second = restart(quiv, first, durable_url, later)
    runs = WallRuns(later)
    assert second.add_task("hourly", runs, interval=HOUR, key="hourly", misfire=misfire) == hourly
    assert second.add_task("cron", runs, cron="30 * * * *", key="cron", misfire=misfire) == cron
    with caplog.at_level(logging.INFO, logger="Quiv"):
        second.start()
        quiesce(second)
    said = [record.getMessage() for record in caplog.records]
    # A run that was due while no process ran is not blamed on busy workers.
    assert not [line for line in said if "workers were busy" in line]
    if misfire == "coalesce":
        assert len([line for line in said if "after its planned time" in line]) == 2

    # The jobs the second process made: all have ended, a missed one without starting.
    new_jobs = [job for job in second.get_all_jobs() if job.ended_at and job.ended_at >= back]
    if misfire == "coalesce":
        # One run of each now, for all it missed: never a burst.
        assert runs.times == [back, back]
        assert sorted((j.task_id, j.status) for j in new_jobs) == sorted(
            [(hourly, "completed"), (cron, "completed")]
        )
    else:
        # No run now: one 'missed' job each, saying how late it was.
        assert runs.times == []
        assert sorted((j.task_id, j.status) for j in new_jobs) == sorted(
            [(hourly, "missed"), (cron, "missed")]
        )
        for job in new_jobs:
            assert (job.started_at, job.ended_at, job.duration_seconds) == (None, back, 0)
            assert job.scheduled_for < back
            assert job.error_message is not None
            assert "missed" in job.error_message
            assert "misfire='skip'" in job.error_message
    # Then the normal cadence: the hourly task keeps its slots (EPOCH + n h), the cron
    # task its expression.
    assert second.get_task(hourly).next_run_at == EPOCH + timedelta(hours=6)
    assert second.get_task(cron).next_run_at == EPOCH + timedelta(hours=6, minutes=30)
    done = len(runs)
    tick(second, later, 15 * 60 - 1)
    assert len(runs) == done
    tick(second, later, 1)
    assert runs.times[done:] == [EPOCH + timedelta(hours=6)]
    tick(second, later, 1800)
    assert runs.times[done:] == [EPOCH + timedelta(hours=6), EPOCH + timedelta(hours=6.5)]
    assert len(second.get_all_jobs(status=JobStatus.MISSED)) == (2 if misfire == "skip" else 0)


# -- arguments --------------------------------------------------------------------------------


def test_a_durable_store_takes_json_arguments_only(durable_url: str, quiv: MakeQuiv) -> None:
    q = quiv(database_url=durable_url)
    with pytest.raises(ConfigurationError, match="JSON"):
        q.add_task("t", noop, interval=60, args=(object(),))
    with pytest.raises(ConfigurationError, match="JSON"):
        q.add_task("t", noop, interval=60, kwargs={"when": datetime(2030, 1, 1)})
    with pytest.raises(ConfigurationError, match="JSON"):
        q.add_task("t", noop, interval=60, args=({1, 2},), key="sets")
    with pytest.raises(ConfigurationError, match="JSON"):
        q.add_task("t", noop, interval=60, args=(float("nan"),))
    assert q.get_all_tasks() == []
    assert select(q, "SELECT count(*) FROM quiv_task") == [(0,)]


def test_json_arguments_come_back_as_json_gives_them(durable_url: str, quiv: MakeQuiv) -> None:
    first = quiv(database_url=durable_url)
    calls = Calls()
    args = (1, "é", (2, 3), {"k": (4, 5)}, None, 2.5, True)
    kwargs = {"pair": ("a", "b"), "nested": {"x": [("y",)]}}
    task_id = first.add_task("json", calls, interval=HOUR, args=args, kwargs=kwargs, key="j")
    # The arguments as a whole stay a tuple; a tuple *inside* them comes back a list,
    # since JSON has arrays only. This is documented behaviour of a durable store.
    expected_args = (1, "é", [2, 3], {"k": [4, 5]}, None, 2.5, True)
    expected_kwargs = {"pair": ["a", "b"], "nested": {"x": [["y"]]}}
    task = first.get_task(task_id)
    assert isinstance(task.args, tuple)
    assert task.args == expected_args
    assert task.kwargs == expected_kwargs
    first.start()
    calls.wait_for(1)
    # The handler gets what the store holds, in this process already.
    assert calls.calls == [expected_args]
    assert calls.kwargs == [expected_kwargs]

    second = restart(quiv, first, durable_url)
    again = second.get_task(task_id)
    assert isinstance(again.args, tuple)
    assert (again.args, again.kwargs) == (expected_args, expected_kwargs)
    raw = select(second, "SELECT args, kwargs FROM quiv_task WHERE id = :id", id=task_id)
    assert [json.loads(bytes(blob)) for blob in raw[0]] == [
        list(expected_args),
        expected_kwargs,
    ]


def test_a_private_store_still_takes_picklable_arguments(quiv: MakeQuiv) -> None:
    q = quiv()
    calls = Calls()
    when = datetime(2030, 1, 1, 12)
    task_id = q.add_task("pickled", calls, interval=HOUR, args=({1, 2}, (3, 4)), kwargs={"w": when})
    task = q.get_task(task_id)
    assert task.args == ({1, 2}, (3, 4))  # a pickle keeps sets, tuples, datetimes
    assert task.kwargs == {"w": when}
    q.start()
    calls.wait_for(1)
    assert calls.calls == [({1, 2}, (3, 4))]
    assert calls.kwargs == [{"w": when}]


# -- key validation ---------------------------------------------------------------------------


def test_a_bad_key_is_refused(durable_url: str, quiv: MakeQuiv) -> None:
    q = quiv(database_url=durable_url)
    bad: list[Any] = ["", "   ", "\t\n", 42, b"bytes", ["k"], "k" * 201]
    for key in bad:
        with pytest.raises(ConfigurationError, match=r"key must be (a non-empty str|at most 200)"):
            q.add_task("t", noop, interval=60, key=key)
    assert q.get_all_tasks() == []
    assert select(q, "SELECT count(*) FROM quiv_task") == [(0,)]
    # At the limit, it is taken.
    longest = "k" * 200
    task_id = q.add_task("t", noop, interval=60, key=longest)
    assert q.get_task(task_id).key == longest


# -- nodes ------------------------------------------------------------------------------------


def test_jobs_record_their_node_and_the_node_row_lives_while_running(
    durable_url: str, quiv: MakeQuiv
) -> None:
    first = quiv(database_url=durable_url)
    calls = Recorder()
    first.add_task("keyless", calls, interval=HOUR)
    first.add_task("keyed", calls, interval=HOUR, key="keyed")
    node = first._node
    assert node is not None
    nodes = select(first, "SELECT id, host, pid FROM quiv_node")
    assert nodes == [(node, socket.gethostname(), os.getpid())]
    first.start()
    calls.wait_for(2)
    quiesce(first)
    assert select(first, "SELECT node, status FROM quiv_job") == [(node, "completed")] * 2
    assert [job.node for job in first.get_all_jobs()] == [node, node]  # Job.node, documented

    second = restart(quiv, first, durable_url)
    assert stored_rows(durable_url, "SELECT id FROM quiv_node") == [
        (second._node,)
    ]  # the first node is gone, the second one is there
    assert second._node != node
    keyed = second.add_task("keyed", calls, interval=HOUR, key="keyed")
    second.start()
    assert second.wait_for_job(second.run_task(keyed), timeout=WAIT).status == "completed"
    quiesce(second)
    assert sorted(select(second, "SELECT node FROM quiv_job")) == sorted(
        [(node,), (node,), (second._node,)]
    )
    second.shutdown(timeout=WAIT)
    assert stored_rows(durable_url, "SELECT count(*) FROM quiv_node") == [(0,)]
    # The history keeps who ran what after both are gone.
    assert len(stored_rows(durable_url, "SELECT node FROM quiv_job WHERE node = :n", n=node)) == 2


# -- recovery after a dead node ----------------------------------------------------------------


def _dead_pid() -> int:
    """The pid of a process of this host that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=WAIT)
    return child.pid


def _task_row(task_id: str, **columns: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": task_id,
        "key": None,
        "owner": None,
        "created_at": EPOCH.timestamp() - HOUR,
        "task_name": task_id,
        "args": b"[]",
        "kwargs": b"{}",
        "interval_seconds": 60.0,
        "fixed_interval": True,
        "run_once": False,
        "status": "active",
        "next_run_at": EPOCH.timestamp() - 30,
        "schedule": json.dumps(IntervalSchedule(60.0).describe()),
    }
    row.update(columns)
    return row


def _job_row(job_id: str, task_id: str, node: str, status: str) -> dict[str, Any]:
    return {
        "id": job_id,
        "task_id": task_id,
        "task_name": task_id,
        "status": status,
        "started_at": EPOCH.timestamp() - 60,
        "ended_at": None,
        "attempt": 1,
        "unresponsive": False,
        "node": node,
    }


def test_a_new_quiv_cleans_up_after_dead_nodes_and_leaves_live_ones_alone(
    durable_url: str, quiv: MakeQuiv
) -> None:
    # Heartbeats are judged on the real clock (liveness is between processes), whatever
    # clock the scheduler runs on.
    now = time.time()
    here = socket.gethostname()
    nodes = [
        # Silent for an hour, on another host.
        {"id": "stale", "host": "elsewhere", "pid": 1, "heartbeat_at": now - HOUR},
        # This host, a fresh heartbeat, but its process is gone.
        {"id": "no-pid", "host": here, "pid": _dead_pid(), "heartbeat_at": now},
        # Another host, a fresh heartbeat: alive, whatever its pid says here.
        {"id": "alive", "host": "other-host", "pid": 999_999_999, "heartbeat_at": now - 1},
    ]
    tasks = [
        _task_row("stale-keyless", owner="stale", status="running"),
        _task_row("no-pid-keyless", owner="no-pid"),
        _task_row("stale-keyed", key="stale-keyed", status="running"),
        _task_row("no-pid-keyed", key="no-pid-keyed", status="running"),
        _task_row("alive-keyless", owner="alive", status="running"),
        _task_row("alive-keyed", key="alive-keyed", status="running"),
    ]
    jobs = [
        _job_row("j-stale-running", "stale-keyless", "stale", "running"),
        _job_row("j-stale-scheduled", "stale-keyless", "stale", "scheduled"),
        _job_row("j-stale-keyed", "stale-keyed", "stale", "running"),
        _job_row("j-no-pid-keyed", "no-pid-keyed", "no-pid", "running"),
        _job_row("j-alive", "alive-keyless", "alive", "running"),
        _job_row("j-alive-keyed", "alive-keyed", "alive", "running"),
    ]
    done = _job_row("j-stale-done", "stale-keyed", "stale", "completed")
    done["ended_at"] = now - 120
    jobs.append(done)
    database = open_database(durable_url, _registry.metadata)
    try:
        with database.engine.begin() as conn:
            for node in nodes:
                conn.execute(insert(_node_table).values(started_at=now - 2 * HOUR, **node))
            conn.execute(insert(_task_table), tasks)
            conn.execute(insert(_job_table), jobs)
    finally:
        database.close()

    clock = FakeClock(EPOCH)
    q = quiv(database_url=durable_url, clock=clock)

    status = dict(select(q, "SELECT id, status FROM quiv_job"))
    assert status == {
        "j-stale-running": "interrupted",
        "j-stale-scheduled": "interrupted",
        "j-stale-keyed": "interrupted",
        "j-no-pid-keyed": "interrupted",
        "j-stale-done": "completed",
        "j-alive": "running",
        "j-alive-keyed": "running",
    }
    for job_id in ("j-stale-running", "j-stale-scheduled", "j-no-pid-keyed"):
        job = q.get_job(job_id)
        assert job.error_message is not None
        assert "interrupted" in job.error_message
        assert job.ended_at == EPOCH
    assert q.get_job("j-stale-done").error_message is None
    assert q.get_job("j-alive").ended_at is None
    assert dict(select(q, "SELECT id, status FROM quiv_task")) == {
        "stale-keyed": "active",
        "no-pid-keyed": "active",
        "alive-keyless": "running",
        "alive-keyed": "running",
    }
    assert {row[0] for row in select(q, "SELECT id FROM quiv_node")} == {"alive", q._node}

    # A recovered keyed task's schedule goes on once it is registered again: its stored
    # run (30 s ago) is late, and runs now, once.
    calls = Recorder()
    assert q.add_task("stale-keyed", calls, interval=60, key="stale-keyed") == "stale-keyed"
    q.start()
    calls.wait_for(1)
    quiesce(q)
    assert len(calls) == 1
    assert [(j.status, j.started_at) for j in q.get_all_jobs() if j.task_id == "stale-keyed"][
        -1
    ] == ("completed", EPOCH)


def test_a_live_quiv_of_this_process_is_not_taken_for_dead(
    durable_url: str, quiv: MakeQuiv, gate: Callable[[], threading.Event]
) -> None:
    release = gate()
    started = threading.Event()

    def blocking() -> None:
        started.set()
        release.wait(WAIT)

    first = quiv(database_url=durable_url)
    task_id = first.add_task("blocking", blocking, interval=HOUR)
    first.start()
    assert started.wait(WAIT)
    wait_until(lambda: len(first.get_all_jobs(status="running")) == 1, WAIT)
    (job,) = first.get_all_jobs(status="running")

    # Same host, same pid, fresh heartbeat: a second Quiv here must leave the first alone.
    second = quiv(database_url=durable_url)
    assert first._node != second._node
    assert {row[0] for row in select(second, "SELECT id FROM quiv_node")} == {
        first._node,
        second._node,
    }
    assert second.get_job(job.id).status == "running"
    assert [t.id for t in second.get_all_tasks()] == [task_id]
    release.set()
    assert first.wait_for_job(job.id, timeout=WAIT).status == "completed"


def test_a_previous_life_of_this_very_pid_is_dead(durable_url: str, quiv: MakeQuiv) -> None:
    # A container restarted in place: same hostname, the app has the same pid again, and
    # the node it was before died a moment ago (its heartbeat is fresh). No Quiv of this
    # process has that node id, so it is a previous life, not a live node.
    now = EPOCH.timestamp()
    database = open_database(durable_url, _registry.metadata)
    try:
        with database.engine.begin() as conn:
            conn.execute(
                insert(_node_table).values(
                    id="previous-life",
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=now - 20,
                    heartbeat_at=now - 2,
                )
            )
            conn.execute(insert(_task_table), [_task_row("orphan", owner="previous-life")])
            conn.execute(
                insert(_job_table), [_job_row("j-orphan", "orphan", "previous-life", "running")]
            )
    finally:
        database.close()

    q = quiv(database_url=durable_url, clock=FakeClock(EPOCH))
    assert q.get_job("j-orphan").status == "interrupted"
    assert q.get_all_tasks() == []


def test_shutdown_of_a_quiv_never_started_leaves_no_thread(
    durable_url: str, quiv: MakeQuiv
) -> None:
    def coordinators() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "quiv-coordinator" and t.is_alive()]

    before = set(coordinators())
    q = quiv(database_url=durable_url)
    task_id = q.add_task("shared", noop, interval=HOUR, key="shared")
    q.pause_task(task_id)  # tells the other processes: a round trip on the coordinator
    # Let that round trip end before the shutdown, so that no connection is left open.
    wait_until(
        lambda: stored_rows(durable_url, "SELECT status FROM quiv_task") == [("paused",)],
        WAIT,
    )
    q.shutdown(timeout=WAIT)
    assert stored_rows(durable_url, "SELECT status FROM quiv_task") == [("paused",)]
    wait_until(lambda: not (set(coordinators()) - before), 0.5)


# -- concurrent registration ------------------------------------------------------------------


def test_two_quivs_registering_the_same_keys_at_once_make_one_task_each(
    durable_url: str, quiv: MakeQuiv
) -> None:
    keys = [f"shared-{i}" for i in range(15)]
    quivs = [quiv(database_url=durable_url), quiv(database_url=durable_url)]
    barrier = threading.Barrier(len(quivs))
    ids: list[list[str]] = [[] for _ in quivs]
    errors: list[BaseException] = []

    def register(index: int) -> None:
        try:
            barrier.wait(WAIT)
            for key in keys:
                ids[index].append(quivs[index].add_task(key, noop, interval=HOUR, key=key))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(len(quivs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not errors
    assert ids[0] == ids[1]
    assert len(set(ids[0])) == len(keys)
    rows = select(quivs[0], "SELECT key, id FROM quiv_task")
    assert sorted(rows) == sorted(zip(keys, ids[0]))
    for q in quivs:
        assert sorted(t.id for t in q.get_all_tasks()) == sorted(ids[0])


# -- two processes' views of one store (two Quivs, one database) --------------------------------


def _pair(quiv: MakeQuiv, url: str) -> tuple[Quiv, FakeClock, Quiv, FakeClock]:
    """Two schedulers on one durable store, each on a fake clock at the same wall time."""
    first_clock, second_clock = FakeClock(EPOCH), FakeClock(EPOCH)
    return (
        quiv(database_url=url, clock=first_clock),
        first_clock,
        quiv(database_url=url, clock=second_clock),
        second_clock,
    )


def _advance_both(pair: tuple[Quiv, FakeClock, Quiv, FakeClock], seconds: float) -> None:
    first, first_clock, second, second_clock = pair
    quiesce(first)
    quiesce(second)
    first_clock.advance(seconds)
    second_clock.advance(seconds)
    quiesce(first)
    quiesce(second)


def test_a_key_of_scope_process_runs_in_every_process(durable_url: str, quiv: MakeQuiv) -> None:
    pair = _pair(quiv, durable_url)
    first, _, second, _ = pair
    calls: dict[str, Recorder] = {"first": Recorder(), "second": Recorder()}
    ids = [
        q.add_task("refresh", calls[name], interval=HOUR, key="refresh", scope="process")
        for name, q in (("first", first), ("second", second))
    ]
    assert ids[0] != ids[1]  # each process has its own task
    # Registering it again in one process re-binds that process's task.
    assert (
        first.add_task("refresh", calls["first"], interval=HOUR, key="refresh", scope="process")
        == ids[0]
    )
    first.start()
    second.start()
    _advance_both(pair, 0)
    assert (len(calls["first"]), len(calls["second"])) == (1, 1)
    _advance_both(pair, HOUR)
    assert (len(calls["first"]), len(calls["second"])) == (2, 2)
    with pytest.raises(ConfigurationError, match="scope must be 'deployment' or 'process'"):
        first.add_task("x", noop, interval=HOUR, key="x", scope="host")


def test_pause_resume_and_remove_reach_the_other_process(durable_url: str, quiv: MakeQuiv) -> None:
    pair = _pair(quiv, durable_url)
    first, _, second, _ = pair
    runs = Recorder()
    task_id = first.add_task("report", runs, interval=60, key="report")
    assert second.add_task("report", runs, interval=60, key="report") == task_id
    first.start()
    second.start()
    _advance_both(pair, 0)
    assert len(runs) == 1  # one run of the slot, in one of the two
    second.pause_task(task_id)
    # In the store when the call returns: the other process reads it at once.
    assert first.get_task(task_id).status == "paused"
    _advance_both(pair, 60)
    _advance_both(pair, 60)
    assert len(runs) == 1  # neither process runs a paused task
    first.resume_task(task_id)
    _advance_both(pair, 60)
    _advance_both(pair, 60)
    assert len(runs) == 4  # the resume runs it now, then each slot once
    done = len(runs)
    second.remove_task(task_id)
    assert first.get_all_tasks() == []
    _advance_both(pair, 60)
    _advance_both(pair, 60)
    assert len(runs) == done
    # Registered again, it is a task again.
    assert first.add_task("report", runs, interval=60, key="report") == task_id
