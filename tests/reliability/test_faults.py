"""Faults beyond those of tests/integration/test_robustness.py: BaseExceptions from handlers
under load, coroutines returned by sync handlers, callbacks and listeners that block, a
main loop stopped or closed mid-run, and database writes that fail.

The scheduler must log, record what it can, keep running, and leave no job ``running``.
"""

from __future__ import annotations

import asyncio
import threading
import time
import types

import pytest
import sqlalchemy

from integration._helpers import quiesce, tick
from quiv import Event, JobStatus
from quiv._store import JobRow
from quiv.testing import FakeClock, settle, wait_until

from .invariants import WAIT, Leaks, assert_invariants, quiv_threads

_JOB_STATUS = list(JobRow.__table__.columns.keys()).index("status")


class _Custom(BaseException):
    pass


RAISERS = {
    "system-exit": SystemExit(3),
    "keyboard-interrupt": KeyboardInterrupt(),
    "generator-exit": GeneratorExit(),
    "custom-base": _Custom("custom"),
    "exception": RuntimeError("plain"),
}


def test_base_exceptions_from_many_handlers_cost_no_worker(quiv, clock, tracker) -> None:
    q = quiv(clock=clock, pool_size=2, history_retention_seconds=10**9)
    for name, exc in RAISERS.items():

        def body(_stop: threading.Event, exc: BaseException = exc) -> None:
            raise exc

        q.add_task(name, tracker.handler(name, body), interval=1)
    q.add_task("healthy", tracker.handler("healthy"), interval=1)
    q.start()
    for _ in range(5):
        tick(q, clock)
    for name in [*RAISERS, "healthy"]:
        assert tracker.calls(name) == 6, name
    stats = quiesce(q)
    assert (stats.running_jobs, stats.free_workers, stats.jobs_started) == (0, 2, 36)
    statuses = {(j.task_name, j.status) for j in q.get_all_jobs()}
    assert statuses == {(n, JobStatus.FAILED.value) for n in RAISERS} | {("healthy", "completed")}
    workers = [t for t in quiv_threads() if t.name.startswith("quiv-worker")]
    assert len(workers) <= 2, [t.name for t in workers]
    assert_invariants(q, tracker)


def test_coroutines_returned_by_sync_handlers_are_run(quiv, clock) -> None:
    q = quiv(clock=clock, pool_size=2)

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def broken() -> None:
        await asyncio.sleep(0)
        raise ValueError("async failure")

    ran_it = threading.Event()

    async def forever(stop: threading.Event) -> None:
        ran_it.set()
        while not stop.is_set():
            await asyncio.sleep(0.005)

    # Plain functions that return a coroutine: not async functions themselves.
    def sync_answer():
        return answer()

    def sync_broken():
        return broken()

    def sync_forever(_stop_event):
        return forever(_stop_event)

    ok = q.add_task("ok", sync_answer, interval=60, run_once=True)
    bad = q.add_task("bad", sync_broken, interval=60, run_once=True)
    stopped = q.add_task("stopped", sync_forever, interval=60)
    q.start()
    assert ran_it.wait(WAIT)
    wait_until(lambda: len(q.get_all_jobs(status="running")) == 1, WAIT)
    (running,) = q.get_all_jobs(status="running")
    assert q.cancel_job(running.id)
    q.pause_task(stopped)
    quiesce(q)
    jobs = {j.task_id: j for j in q.get_all_jobs()}
    assert (jobs[ok].status, jobs[ok].result) == ("completed", 42)
    assert (jobs[bad].status, jobs[bad].error_message) == ("failed", "async failure")
    assert jobs[stopped].status == "cancelled"
    assert_invariants(q)


def test_a_blocking_progress_callback_stalls_neither_handler_nor_scheduler(
    quiv, gate, tracker
) -> None:
    q = quiv(pool_size=2, history_retention_seconds=10**9)
    release = gate()
    received: list[object] = []

    def callback(*args: object) -> None:
        received.append(args)
        release.wait(WAIT)

    def reporting(_progress_hook) -> None:
        for step in range(3):
            _progress_hook(step)

    q.add_task("reports", reporting, interval=0.02, progress_callback=callback)
    q.add_task("other", tracker.handler("other"), interval=0.02)
    q.start()
    wait_until(lambda: tracker.calls("other") >= 10, WAIT)
    wait_until(lambda: len(q.get_all_jobs(status="completed")) >= 15, WAIT)
    assert len(received) == 1  # the callback is still stuck in its first call
    release.set()
    wait_until(lambda: len(received) >= 3, WAIT)
    for task in q.get_all_tasks():
        q.pause_task(task.id)
    quiesce(q)
    assert_invariants(q, tracker)


def test_a_blocking_listener_holds_only_its_worker_and_shutdown_keeps_its_bound(
    quiv, gate, tracker
) -> None:
    # As in quiv 0.4.0, a job's listeners run on the worker that ran it: a listener that
    # blocks holds that worker. The scheduler thread and the other workers go on.
    leaks = Leaks()
    q = quiv(pool_size=2, history_retention_seconds=10**9)
    release = gate()
    entered, returned = threading.Event(), threading.Event()
    held: list[tuple[str, threading.Thread]] = []

    def listener(_event: Event, _task: object, job) -> None:
        if job.task_name != "blocked" or entered.is_set():
            return
        held.append((job.id, threading.current_thread()))
        entered.set()
        release.wait(WAIT)
        returned.set()

    q.add_listener(Event.JOB_COMPLETED, listener)
    q.add_task("blocked", tracker.handler("blocked"), interval=3600, run_once=True)
    task_id = q.add_task("t", tracker.handler("t"), interval=0.01)
    q.start()
    assert entered.wait(WAIT)
    ((job_id, thread),) = held
    assert thread.name.startswith("quiv-worker")
    assert q.get_job(job_id).status == JobStatus.COMPLETED  # its end was recorded first
    before = tracker.calls("t")
    wait_until(lambda: tracker.calls("t") >= before + 20, WAIT)
    assert not returned.is_set()  # its worker was held all along
    q.pause_task(task_id)
    quiesce(q)
    assert_invariants(q, tracker)
    started = time.monotonic()
    q.shutdown(timeout=0.2)
    # Documented: up to `timeout` for jobs, then max(timeout, 1) for the dispatcher.
    assert time.monotonic() - started < 0.2 + 1.0 + 1.0
    release.set()
    leaks.check([q])


def _loop_in_thread() -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="app-loop", daemon=True)
    thread.start()
    return loop, thread


@pytest.mark.parametrize("close", [False, True], ids=["stopped", "closed"])
def test_the_main_loop_going_away_mid_run(quiv, tracker, close) -> None:
    loop, thread = _loop_in_thread()
    try:
        q = quiv(main_loop=loop, pool_size=2, history_retention_seconds=10**9)
        progress: list[object] = []

        async def on_loop() -> None:
            await asyncio.sleep(0)

        def reporting(_progress_hook) -> None:
            _progress_hook("x")

        q.add_listener(Event.JOB_COMPLETED, lambda *_: None)
        loop_task = q.add_task("on-loop", on_loop, interval=0.02, on_main_loop=True)
        q.add_task("reports", reporting, interval=0.02, progress_callback=progress.append)
        q.add_task("worker", tracker.handler("worker"), interval=0.02)
        q.start()
        wait_until(lambda: len(progress) >= 3, WAIT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(WAIT)
        if close:
            loop.close()
        before = tracker.calls("worker")
        wait_until(lambda: tracker.calls("worker") >= before + 10, WAIT)  # still scheduling
        q.pause_task(loop_task)
        for task in q.get_all_tasks():
            q.pause_task(task.id)
        quiesce(q)
        assert_invariants(q, tracker)
    finally:
        if not loop.is_closed():
            loop.close()


@pytest.mark.parametrize("close", [False, True], ids=["stopped", "closed"])
def test_a_job_whose_main_loop_stops_while_it_runs_fails_instead_of_hanging(quiv, close) -> None:
    # The loop stops while the handler awaits (it began, and will never be resumed): the
    # job must end failed, saying so, not stay running; the coroutine closed later by the
    # garbage collector must not raise.
    loop, thread = _loop_in_thread()
    wait_until(loop.is_running, WAIT)
    began = threading.Event()
    try:
        q = quiv(main_loop=loop, pool_size=2, history_retention_seconds=10**9)

        async def forever() -> None:
            began.set()
            await asyncio.Event().wait()

        task_id = q.add_task("forever", forever, interval=60, on_main_loop=True)
        q.start()
        assert began.wait(WAIT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(WAIT)
        if close:
            loop.close()
        # The coroutine may begin before the scheduler thread hands the job's row to the
        # store (at the end of its dispatch pass): wait for the record, not for the loop.
        wait_until(lambda: len(q.get_all_jobs(task_id=task_id)) == 1, WAIT)
        (job,) = q.get_all_jobs(task_id=task_id)
        ended = q.wait_for_job(job.id, timeout=WAIT)
        assert ended.status == JobStatus.FAILED.value
        assert ended.error_message == "the main loop stopped while the job ran"
        quiesce(q)
    finally:
        if not loop.is_closed():
            loop.close()


def test_a_job_handed_to_the_main_loop_as_it_stops_fails_instead_of_hanging(
    quiv, monkeypatch
) -> None:
    # The race made on purpose: the loop's stop is queued just before the job's coroutine,
    # so the loop stops without ever beginning it. The job must end (failed, saying why),
    # not stay running forever, and shutdown must not wait for it.
    loop, thread = _loop_in_thread()
    wait_until(loop.is_running, WAIT)  # else the job would fail for want of a loop at all
    real = asyncio.run_coroutine_threadsafe

    def stop_first(coroutine, target):
        if getattr(coroutine, "__qualname__", "") == "JobRunner.run_on_loop":
            target.call_soon_threadsafe(target.stop)
        return real(coroutine, target)

    try:
        q = quiv(main_loop=loop, pool_size=2, history_retention_seconds=10**9)

        async def on_loop() -> None:
            await asyncio.sleep(0)

        task_id = q.add_task("on-loop", on_loop, interval=3600, delay=3600, on_main_loop=True)
        q.start()
        monkeypatch.setattr("quiv._scheduler.dispatch.asyncio.run_coroutine_threadsafe", stop_first)
        job_id = q.run_task(task_id)
        thread.join(WAIT)
        assert not thread.is_alive()
        job = q.wait_for_job(job_id, timeout=WAIT)
        assert job.status == JobStatus.FAILED.value
        assert job.error_message == "the main loop stopped before the job began"
        q.pause_task(task_id)
        quiesce(q)
        started = time.monotonic()
        q.shutdown(timeout=WAIT)
        assert time.monotonic() - started < WAIT
    finally:
        if not loop.is_closed():
            loop.close()


# -- a database write that fails -------------------------------------------------------------


def _fail_batch_with_final_row(q, *, escape: bool) -> list[int]:
    """Make the store's first batch that holds a completed job fail: through the engine
    (``_write`` catches, counts and logs it) or, with ``escape``, by ``_write`` raising."""
    store = q._store
    real_write = store._writer._write
    failed: list[int] = []

    def write(tasks, jobs, purge):
        # Pending rows are the upsert's values, in the job table's column order.
        if not failed and any(row[_JOB_STATUS] == "completed" for row in jobs.values()):
            failed.append(1)
            if escape:
                raise sqlalchemy.exc.OperationalError("INSERT", {}, OSError("disk I/O error"))
            engine = store._writer._engine

            def begin():
                raise sqlalchemy.exc.OperationalError("BEGIN", {}, OSError("disk I/O error"))

            store._writer._engine = types.SimpleNamespace(begin=begin)
            try:
                return real_write(tasks, jobs, purge)
            finally:
                store._writer._engine = engine
        return real_write(tasks, jobs, purge)

    store._writer._write = write
    return failed


def _run_through_a_failed_write(quiv, tracker, *, escape: bool):
    clock = FakeClock()
    q = quiv(clock=clock, pool_size=1, history_retention_seconds=10**9)
    failed = _fail_batch_with_final_row(q, escape=escape)
    task_id = q.add_task("t", tracker.handler("t"), interval=1)
    q.start()
    tracker_wait = time.monotonic() + WAIT
    while not failed and time.monotonic() < tracker_wait:  # let the writer hit it, no read
        time.sleep(0.01)
    assert failed
    for _ in range(3):
        clock.advance(1)
        wait_until(lambda n=tracker.calls("t"): tracker.calls("t") >= n + 1, WAIT)
    time.sleep(0.1)
    settle(q)
    q.pause_task(task_id)
    quiesce(q)
    return q


def test_a_failed_database_write_is_logged_and_scheduling_goes_on(quiv, tracker, caplog) -> None:
    q = _run_through_a_failed_write(quiv, tracker, escape=False)
    assert tracker.calls("t") == 4
    assert q.statistics().store_write_failures == 1
    # A disk I/O error is the database not answering: logged once, as an outage, and
    # its end when the next write went through.
    assert "the database does not answer" in caplog.text
    assert q._store._writer._thread.is_alive()
    # The rows of the runs after the failure are all written.
    jobs = q.get_all_jobs()
    assert [j.status for j in jobs[-3:]] == ["completed"] * 3
    assert "the database answers again" in caplog.text
    q._scheduler.call(q._scheduler.check)


def test_a_failed_database_write_leaves_no_job_running(quiv, tracker) -> None:
    q = _run_through_a_failed_write(quiv, tracker, escape=False)
    assert_invariants(q, tracker)


def test_an_exception_out_of_write_does_not_kill_the_writer(quiv, tracker) -> None:
    q = _run_through_a_failed_write(quiv, tracker, escape=True)
    assert q._store._writer._thread.is_alive()
    assert_invariants(q, tracker)
