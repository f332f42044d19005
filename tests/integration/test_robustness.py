"""Defects a review found, each pinned by a test: inputs that could kill the scheduler thread,
jobs that could stay running, loops wrongly adopted as the main loop, calls racing shutdown,
misleading snapshots and warnings, wrong error types."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from quiv import ConfigurationError, Event, InvalidTimezoneError, JobStatus, Quiv, TaskStatus
from quiv import _workers as quiv_workers
from quiv.exceptions import SchedulerStateError
from quiv.testing import settle, wait_until

from ._helpers import WAIT, Recorder, advance, quiesce


@pytest.mark.parametrize(
    ("field", "value"),
    [("delay", 1e10), ("interval", 1e10), ("interval", 1e-320), ("interval", 1e-7)],
)
def test_out_of_range_times_are_refused(quiv, field, value) -> None:
    q = quiv()
    arguments = {"interval": 60.0, "delay": 0.0, field: value}
    with pytest.raises(ConfigurationError, match=field):
        q.add_task("t", lambda: None, **arguments)
    assert q.get_all_tasks(include_run_once=True) == []


def test_a_huge_retention_keeps_the_scheduler_alive(quiv) -> None:
    # "Keep history forever": the purge deadline is centuries away, beyond what
    # Event.wait accepts; the clock caps its waits instead of the thread dying.
    q = quiv(history_retention_seconds=10**12)
    q.start()
    runs = Recorder()
    task_id = q.add_task("t", runs, interval=3600)
    runs.wait_for(1)
    stats = quiesce(q)
    assert stats.jobs_started == 1
    assert q._scheduler.thread is not None
    assert q._scheduler.thread.is_alive()
    q.run_task_immediately(task_id)
    runs.wait_for(2)


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def test_a_job_whose_exception_cannot_be_printed_still_ends(quiv, clock) -> None:
    q = quiv(clock=clock, pool_size=1)
    q.start()
    calls = Recorder()

    def handler() -> None:
        calls()
        raise _Unprintable

    q.add_task("bad", handler, interval=1)
    calls.wait_for(1)
    quiesce(q)
    (job,) = q.get_all_jobs()
    assert job.status == JobStatus.FAILED
    assert job.error_message == "_Unprintable"
    advance(q, clock, 1)  # the pool slot was given back: the next run happens
    calls.wait_for(2)


def test_a_logging_handler_that_raises_does_not_leave_the_job_running(quiv, clock) -> None:
    class Exploding(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("log sink down")

    logger = logging.getLogger("quiv.test.exploding")
    logger.propagate = False
    logger.addHandler(Exploding())
    q = quiv(clock=clock, pool_size=1, logger=logger)
    q.start()

    def handler() -> None:
        raise ValueError("boom")

    q.add_task("bad", handler, interval=1, run_once=True)
    wait_until(lambda: q.statistics().jobs_started == 1, WAIT)
    stats = quiesce(q)
    assert stats.running_jobs == 0
    assert [job.status for job in q.get_all_jobs()] == [JobStatus.FAILED]


def test_a_logging_handler_that_raises_does_not_break_shutdown(quiv) -> None:
    """Shutdown logs a warning for a job that ignores its stop event: a raising handler
    must cost that line, not the job's record, the shutdown or the worker's release."""

    class Exploding(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("log sink down")

    logger = logging.getLogger("quiv.test.exploding-at-shutdown")
    logger.propagate = False
    logger.addHandler(Exploding())
    q = quiv(pool_size=1, logger=logger)
    q.start()
    release = threading.Event()
    started = threading.Event()

    def stubborn() -> None:
        started.set()
        release.wait(WAIT)

    q.add_task("stubborn", stubborn, interval=60, run_once=True)
    assert started.wait(WAIT)
    assert len(q.get_all_jobs(status="running")) == 1
    try:
        q.shutdown(timeout=0.1)  # must return, not raise the handler's error
        assert q.lifecycle.value == "stopped"
    finally:
        release.set()


def test_no_worker_thread_to_be_had_changes_nothing_and_is_retried(
    quiv, clock, monkeypatch
) -> None:
    q = quiv(clock=clock, pool_size=1)
    q.start()
    real_start = quiv_workers.start_thread
    failures = []

    def start_thread(*args: Any) -> threading.Thread:
        # Where the failure really comes from: the operating system refuses a thread.
        if not failures:
            failures.append(1)
            raise RuntimeError("can't start new thread")
        return real_start(*args)

    monkeypatch.setattr(quiv_workers, "start_thread", start_thread)
    runs = Recorder()
    task_id = q.add_task("t", runs, interval=60)
    settle(q)
    stats = q.statistics()
    assert (stats.running_jobs, stats.free_workers, stats.jobs_started) == (0, 1, 0)
    assert q.get_task(task_id).status == TaskStatus.ACTIVE
    q._scheduler.check()
    advance(q, clock, 1)  # retried a second later
    runs.wait_for(1)
    assert quiesce(q).jobs_started == 1


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def test_a_loop_run_inside_a_sync_handler_is_never_taken_for_the_main_loop(quiv) -> None:
    q = quiv()
    where = Recorder()
    q.add_listener(Event.JOB_COMPLETED, lambda _e, task, _j: where(task.task_name, _running_loop()))
    done = threading.Event()

    def handler() -> None:
        async def inner() -> None:
            q.get_all_tasks()  # a quiv call made from the handler's own loop
            await asyncio.sleep(0)

        asyncio.run(inner())
        done.set()

    q.add_task("uses-asyncio-run", handler, interval=3600, run_once=True)
    q.add_task("other", lambda: None, interval=3600, delay=0.05, run_once=True)
    q.start()
    assert done.wait(WAIT)
    where.wait_for(2)
    assert q._bridge.loop is None
    # No main loop: each job's end goes to its own worker thread, on no loop (the handler's
    # loop, closed by then, would have swallowed the second one).
    assert sorted(where.calls) == [("other", None), ("uses-asyncio-run", None)]
    assert all(thread.name.startswith("quiv-worker") for thread in where.threads)


def test_add_task_after_shutdown_is_refused_and_leaves_nothing(quiv) -> None:
    q = quiv()
    seen = Recorder()
    q.add_listener(Event.TASK_ADDED, seen)
    q.shutdown()
    with pytest.raises(SchedulerStateError):
        q.add_task("late", lambda: None, interval=1)
    assert len(seen) == 0
    assert not any(t.name == "quiv-events" and t.is_alive() for t in threading.enumerate())


def test_snapshots_of_tasks_that_ended_keep_their_last_status(quiv) -> None:
    q = quiv()
    statuses = Recorder()
    q.add_listener(Event.JOB_COMPLETED, lambda _e, task, _j: statuses(task.status))
    q.add_listener(Event.JOB_CANCELLED, lambda _e, task, _j: statuses(task.status))
    release = threading.Event()
    started = threading.Event()

    def blocking(_stop_event: threading.Event) -> None:
        started.set()
        _stop_event.wait(WAIT)

    q.start()
    q.add_task("once", lambda: None, interval=1, run_once=True)
    statuses.wait_for(1)
    task_id = q.add_task("removed-while-running", blocking, interval=3600)
    assert started.wait(WAIT)
    q.remove_task(task_id)
    release.set()
    statuses.wait_for(2)
    # Never "paused": neither task was paused. Both were running when they ended.
    assert statuses.calls == [(TaskStatus.RUNNING.value,), (TaskStatus.RUNNING.value,)]


def test_runs_due_before_start_are_not_reported_late(quiv, clock) -> None:
    q = quiv(clock=clock, pool_size=4)
    runs = Recorder()
    q.add_task("early", runs, interval=3600)
    clock.advance(30)  # the application starts the scheduler half a minute later
    q.start()
    runs.wait_for(1)
    assert quiesce(q).late_starts == 0


def test_run_now_on_a_running_run_once_task_runs_it_once(quiv, gate) -> None:
    q = quiv()
    q.start()
    release = gate()
    runs = Recorder()

    def handler() -> None:
        runs()
        release.wait(WAIT)

    task_id = q.add_task("once", handler, interval=1, run_once=True)
    runs.wait_for(1)
    assert q.run_task_immediately(task_id) == 1
    release.set()
    quiesce(q)
    assert len(runs) == 1
    assert len(q.get_all_jobs()) == 1


def test_a_directory_of_the_zone_database_is_not_a_timezone() -> None:
    with pytest.raises(InvalidTimezoneError):
        Quiv(timezone="America")


@pytest.mark.parametrize(
    "call",
    [
        lambda q: q.remove_task([]),
        lambda q: q.pause_task({}),
        lambda q: q.resume_task(None),
        lambda q: q.run_task_immediately([]),
        lambda q: q.cancel_job([]),
        lambda q: q.get_task(1),
        lambda q: q.get_job(b"id"),
        lambda q: q.get_all_jobs(status=[]),
    ],
)
def test_ids_and_statuses_of_the_wrong_type_are_configuration_errors(quiv, call) -> None:
    q = quiv()
    with pytest.raises(ConfigurationError):
        call(q)


@pytest.mark.parametrize(
    "options",
    [{"logger": 5}, {"clock": 5}, {"clock": object()}, {"pool_size": 10**12}],
)
def test_constructor_refuses_what_would_only_fail_later(options) -> None:
    with pytest.raises(ConfigurationError):
        Quiv(**options)


def test_include_run_once_must_be_a_bool(quiv) -> None:
    with pytest.raises(ConfigurationError, match="include_run_once"):
        quiv().get_all_tasks(include_run_once="yes")
