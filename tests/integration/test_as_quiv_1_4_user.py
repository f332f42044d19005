"""Code written as a quiv 1.4.0 user writes it: plain injected names, update_task,
call_on_main, run_subprocess, wait_for_task, stats() and the 1.4.0 keywords of add_task."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from functools import partial

import pytest

from quiv import (
    ConfigurationError,
    Event,
    JobCancelledError,
    JobStatus,
    MainLoopUnavailableError,
    Quiv,
    QuivStats,
    RetryPolicy,
    SchedulerStateError,
    SchedulerStoppedError,
    TaskNotActiveError,
    TaskNotFoundError,
    TaskRunningError,
    call_on_main,
    run_subprocess,
)
from quiv.testing import wait_until

from ._helpers import WAIT, Recorder


@pytest.fixture
def q(quiv) -> Quiv:
    instance: Quiv = quiv(pool_size=4)
    instance.start()
    return instance


def test_plain_injected_names(q: Quiv) -> None:
    seen: dict[str, object] = {}
    progress = Recorder()

    def handler(job_id: str, stop_event: threading.Event, progress_hook) -> None:
        seen.update(job_id=job_id, stop_event=stop_event)
        progress_hook(step=1)

    task_id = q.add_task("plain", handler, run_once=True, progress_callback=progress)
    job = q.wait_for_task(task_id, timeout=WAIT)
    assert job.status == JobStatus.COMPLETED.value
    assert seen["job_id"] == job.id
    assert isinstance(seen["stop_event"], threading.Event)
    assert progress.kwargs == [{"step": 1}]


def test_a_parameter_named_job_id_keeps_the_value_the_task_gives_it(q: Quiv) -> None:
    """A handler of quiv 0.4.0 days with its own ``job_id`` argument is not overridden."""
    got: list[object] = []

    def handler(job_id: object) -> None:
        got.append(job_id)

    task_id = q.add_task("own", handler, run_once=True, args=(7,))
    q.wait_for_task(task_id, timeout=WAIT)
    other = q.add_task("own-kw", handler, run_once=True, kwargs={"job_id": 8})
    q.wait_for_task(other, timeout=WAIT)
    assert got == [7, 8]


def test_wait_for_task_right_after_adding_a_one_off_gets_its_job(q: Quiv) -> None:
    """quiv 1.4.0's pattern: add a run-once task, then wait for it; its job may well be
    over before the wait begins."""
    for _ in range(20):
        task_id = q.add_task("quick", lambda: 1, run_once=True)
        time.sleep(0.002)
        assert q.wait_for_task(task_id, timeout=WAIT).result == 1


def test_a_handler_that_sets_its_own_stop_event_ends_cancelled(q: Quiv) -> None:
    events = Recorder()
    q.add_listener(Event.JOB_CANCELLED, events)
    q.add_listener(Event.JOB_COMPLETED, events)

    def handler(stop_event: threading.Event) -> None:
        stop_event.set()

    task_id = q.add_task("self-stop", handler, run_once=True)
    job = q.wait_for_task(task_id, timeout=WAIT)
    assert job.status == JobStatus.CANCELLED.value
    events.wait_for(1)
    assert [call[0] for call in events.calls] == [Event.JOB_CANCELLED]


def test_update_task_changes_it_in_place(q: Quiv) -> None:
    updated = Recorder()
    q.add_listener(Event.TASK_UPDATED, updated)
    got: list[tuple[object, ...]] = []
    task_id = q.add_task("u", lambda *a: got.append(a), interval=600, delay=600, args=(1,))
    task = q.update_task(task_id, task_name="renamed", args=(2,), timeout=5, max_retries=2)
    assert (task.id, task.task_name, task.args) == (task_id, "renamed", (2,))
    assert (task.timeout_seconds, task.max_retries) == (5, 2)
    assert updated.calls == [(Event.TASK_UPDATED, task)]  # delivered before it returned
    before = time.time()
    task = q.update_task(task_id, interval=30)
    assert task.interval_seconds == 30
    assert before + 29 <= task.next_run_at.timestamp() <= time.time() + 31
    soon = datetime.now(timezone.utc) + timedelta(seconds=0.05)
    task = q.update_task(task_id, run_at=soon, timeout=None)
    assert task.timeout_seconds is None
    q.wait_for_task(task_id, timeout=WAIT)
    assert got == [(2,)]
    assert q.get_task(task_id).task_name == "renamed"


def test_update_task_changes_only_the_retry_settings_it_is_given(q: Quiv) -> None:
    """max_retries= and retry_backoff= change those two numbers of a task's RetryPolicy;
    what it retries on, its cap and its jitter stay (a policy with no backoff included)."""
    policy = RetryPolicy(
        max_retries=1, backoff=0, backoff_max=5, jitter=0.25, retry_on=(ValueError,)
    )
    task_id = q.add_task("r", lambda: None, interval=600, delay=600, retries=policy)

    def retry() -> object:
        return q._scheduler.call(partial(q._scheduler.runs.entry, task_id)).settings.retry

    assert q.update_task(task_id, max_retries=3).max_retries == 3
    assert retry() == dataclasses.replace(policy, max_retries=3)
    q.update_task(task_id, retry_backoff=2)
    assert retry() == dataclasses.replace(policy, max_retries=3, backoff=2)
    with pytest.raises(ConfigurationError, match="max_retries"):
        q.update_task(task_id, max_retries=-1)
    assert q.update_task(task_id, max_retries=0).max_retries == 0
    assert retry() is None


def test_update_task_refuses_what_cannot_change(q: Quiv) -> None:
    release = threading.Event()
    cron_id = q.add_task("c", lambda: None, cron="0 3 * * *")
    with pytest.raises(ConfigurationError, match="interval tasks"):
        q.update_task(cron_id, interval=5)
    task_id = q.add_task("u", lambda: None, interval=60, delay=60)
    with pytest.raises(ConfigurationError, match="not both"):
        q.update_task(task_id, interval=5, run_at=datetime.now(timezone.utc))
    with pytest.raises(ConfigurationError, match="interval"):
        q.update_task(task_id, interval=-1)
    with pytest.raises(TaskNotFoundError):
        q.update_task("nope", task_name="x")
    q.pause_task(task_id)
    with pytest.raises(TaskNotActiveError):
        q.update_task(task_id, run_at=datetime.now(timezone.utc))
    once = q.add_task("once", lambda: release.wait(WAIT), run_once=True)
    wait_until(lambda: q.get_task(once).status == "running", WAIT)
    with pytest.raises(TaskRunningError):
        q.update_task(once, run_at=datetime.now(timezone.utc))
    release.set()


def test_add_task_takes_1_4_keywords(q: Quiv) -> None:
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise ValueError("not yet")

    task_id = q.add_task("f", flaky, run_once=True, max_retries=3, retry_backoff=0.01)
    assert q.get_task(task_id).max_retries == 3
    job = q.wait_for_task(task_id, timeout=WAIT)
    assert (job.status, job.attempt) == (JobStatus.COMPLETED.value, 3)
    when = datetime.now(timezone.utc) + timedelta(seconds=3600)
    later = q.add_task("later", lambda: None, interval=60, run_at=when)
    assert abs(q.get_task(later).next_run_at.timestamp() - when.timestamp()) < 0.01
    with pytest.raises(ConfigurationError, match="run_at or delay"):
        q.add_task("x", lambda: None, interval=60, run_at=when, delay=5)
    with pytest.raises(ConfigurationError, match="not both"):
        q.add_task("x", lambda: None, interval=60, retries=1, max_retries=1)


def test_queries_filter_order_and_page(q: Quiv) -> None:
    a = q.add_task("a", lambda: None, interval=60, delay=60)
    b = q.add_task("b", lambda: None, interval=60, delay=60)
    q.wait_for_job(q.run_task(a), timeout=WAIT)
    q.wait_for_job(q.run_task(b), timeout=WAIT)
    assert [j.task_id for j in q.get_all_jobs(task_id=a)] == [a]
    newest = q.get_all_jobs(descending=True, limit=1)
    assert len(newest) == 1
    assert newest[0].id == q.get_all_jobs()[-1].id
    assert q.get_all_jobs(since=datetime.now(timezone.utc) + timedelta(hours=1)) == []
    with pytest.raises(ConfigurationError, match="order_by"):
        q.get_all_jobs(order_by="name")
    q.pause_task(b)
    assert [t.id for t in q.get_all_tasks(status="paused")] == [b]
    assert [t.id for t in q.get_all_tasks(limit=1, offset=1)] == [b]
    with pytest.raises(ConfigurationError, match="limit"):
        q.get_all_tasks(limit=0)


def test_stats_and_is_running(quiv) -> None:
    q: Quiv = quiv(pool_size=2)
    assert not q.is_running
    release = threading.Event()
    task_id = q.add_task("s", lambda: release.wait(WAIT), interval=60)
    q.add_task("p", lambda: None, interval=60, delay=60)
    q.start()
    assert q.is_running
    wait_until(lambda: q.stats().active_jobs == 1, WAIT)
    stats = q.stats()
    assert isinstance(stats, QuivStats)
    assert (stats.pool_size, stats.pool_utilization) == (2, 0.5)
    assert stats.tasks_by_status == {"running": 1, "active": 1}
    assert stats.next_run_at is not None
    assert stats.job_history_count == 1
    assert stats.loop_alive is False
    assert dataclasses.asdict(stats)["active_jobs"] == 1
    release.set()
    q.wait_for_task(task_id, timeout=WAIT)
    q.shutdown()
    assert not q.is_running
    with pytest.raises(SchedulerStoppedError):
        q.stats()


def test_errors_after_shutdown_are_scheduler_stopped(quiv) -> None:
    q: Quiv = quiv()
    q.start()
    q.shutdown()
    with pytest.raises(SchedulerStoppedError) as raised:
        q.add_task("late", lambda: None, interval=1)
    assert isinstance(raised.value, SchedulerStateError)


def test_wait_for_task_waits_for_its_next_job(q: Quiv) -> None:
    task_id = q.add_task("w", lambda: 42, interval=60, delay=0.05)
    job = q.wait_for_task(task_id, timeout=WAIT)
    assert (job.status, job.result) == (JobStatus.COMPLETED.value, 42)
    q.pause_task(task_id)
    with pytest.raises(TaskNotActiveError):
        q.wait_for_task(task_id, timeout=1)
    with pytest.raises(TaskNotFoundError):
        q.wait_for_task("nope")
    gone = q.add_task("gone", lambda: None, interval=60, delay=60)
    waiter: list[BaseException] = []

    def wait() -> None:
        try:
            q.wait_for_task(gone, timeout=WAIT)
        except BaseException as exc:
            waiter.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.05)
    q.remove_task(gone)
    thread.join(WAIT)
    assert len(waiter) == 1
    assert isinstance(waiter[0], TaskNotFoundError)


def test_call_on_main_returns_results_and_raises_errors(quiv) -> None:
    async def scenario() -> None:
        q: Quiv = quiv()
        q.start()  # adopts this loop
        on_loop: list[str] = []

        async def fetch(x: int) -> int:
            on_loop.append(threading.current_thread().name)
            await asyncio.sleep(0)
            return x * 2

        def boom() -> None:
            raise KeyError("missing")

        def handler() -> int:
            try:
                call_on_main(boom)
            except KeyError:
                pass
            else:
                raise AssertionError("call_on_main swallowed the error")
            return int(call_on_main(fetch, 21))

        task_id = q.add_task("c", handler, run_once=True)
        job = await q.await_task(task_id, timeout=WAIT)
        assert (job.status, job.result) == (JobStatus.COMPLETED.value, 42)
        assert on_loop == [threading.current_thread().name]
        assert q.pending_main_loop_work() == 0
        with pytest.raises(MainLoopUnavailableError, match="cannot be waited"):
            call_on_main(fetch, 1)
        await asyncio.to_thread(q.shutdown)

    asyncio.run(scenario())


def test_call_on_main_is_stopped_by_the_jobs_stop_event(quiv) -> None:
    async def scenario() -> None:
        q: Quiv = quiv()
        q.start()
        entered = asyncio.Event()
        cancelled = asyncio.Event()

        async def forever() -> None:
            entered.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        raised: list[BaseException] = []

        def handler() -> None:
            try:
                call_on_main(forever)
            except JobCancelledError as exc:
                raised.append(exc)
                raise

        task_id = q.add_task("c", handler, run_once=True)
        await asyncio.wait_for(entered.wait(), WAIT)
        (running,) = q.get_all_jobs(status="running")
        assert q.cancel_job(running.id)
        job = await q.await_job(running.id, timeout=WAIT)
        assert job.status == JobStatus.CANCELLED.value
        await asyncio.wait_for(cancelled.wait(), WAIT)
        assert len(raised) == 1
        assert q.pending_main_loop_work() == 0
        assert task_id not in {t.id for t in q.get_all_tasks(include_run_once=True)}
        await asyncio.to_thread(q.shutdown)

    asyncio.run(scenario())


@pytest.mark.skipif(shutil.which("sleep") is None, reason="needs a sleep command")
def test_run_subprocess_stops_a_sleep_30_child_within_its_grace(q: Quiv) -> None:
    pids: list[int] = []

    def handler(job_id: str) -> None:
        # The pid is known only inside; a preexec hook records it from the child side.
        run_subprocess(["sleep", "30"], kill_grace=1.0, preexec_fn=lambda: None)

    task_id = q.add_task("sub", handler, run_once=True)
    wait_until(lambda: q.get_all_jobs(status="running") != [], WAIT)
    (running,) = q.get_all_jobs(status="running")
    wait_until(lambda: _children_named("sleep") != [], WAIT)
    pids.extend(_children_named("sleep"))
    started = time.monotonic()
    q.cancel_job(running.id)
    job = q.wait_for_job(running.id, timeout=WAIT)
    assert job.status == JobStatus.CANCELLED.value
    assert time.monotonic() - started < 1.0 + 5.0  # the grace, and room for a slow machine
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert task_id not in {t.id for t in q.get_all_tasks(include_run_once=True)}


def _children_named(name: str) -> list[int]:
    """Pids of this process's children running ``name`` (from /proc)."""
    found = []
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().split()
        except OSError:
            continue
        if fields[3] == me and fields[1] == f"({name})":
            found.append(int(entry))
    return found


def test_async_handler_errors_are_not_chained_under_a_loop_error(q: Quiv, caplog) -> None:
    async def failing() -> None:
        raise ValueError("real error")

    with caplog.at_level(logging.ERROR, logger="Quiv"):
        task_id = q.add_task("a", failing, run_once=True)
        job = q.wait_for_task(task_id, timeout=WAIT)
    assert job.error_message == "real error"
    (record,) = [r for r in caplog.records if r.exc_info]
    error = record.exc_info[1]
    assert isinstance(error, ValueError)
    assert error.__context__ is None


def test_run_progress_callback_of_0_4_0(q: Quiv) -> None:
    progress = Recorder()
    task_id = q.add_task("p", lambda: None, interval=60, delay=60, progress_callback=progress)
    q.run_progress_callback(task_id, 5, of=10)
    assert progress.calls == [(5,)]
    assert progress.kwargs == [{"of": 10}]
    with pytest.raises(TaskNotFoundError):
        q.run_progress_callback("nope")


def test_subprocess_outside_a_job_is_subprocess_run() -> None:
    done = run_subprocess([sys.executable, "-c", "print('hi')"], capture_output=True)
    assert (done.returncode, done.stdout.strip()) == (0, b"hi")
    assert isinstance(done, subprocess.CompletedProcess)
