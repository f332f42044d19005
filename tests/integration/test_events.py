"""Listeners without a main loop: payloads, order, thread, failures, removal."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from quiv import Event, Job, JobStatus, Task, TaskStatus
from quiv.testing import wait_until

from ._helpers import WAIT, Recorder

TASK_EVENTS = (Event.TASK_ADDED, Event.TASK_REMOVED, Event.TASK_PAUSED, Event.TASK_RESUMED)
JOB_EVENTS = (Event.JOB_STARTED, Event.JOB_COMPLETED, Event.JOB_FAILED, Event.JOB_CANCELLED)


@pytest.fixture
def q(quiv):
    instance = quiv(pool_size=2)
    instance.start()
    return instance


def _listen_all(q, recorder) -> None:
    for event in Event:
        q.add_listener(event, recorder)


def test_task_events_call_back_with_event_and_task(q) -> None:
    recorder = Recorder()
    _listen_all(q, recorder)
    task_id = q.add_task("t", lambda: None, interval=60, delay=60)
    q.pause_task(task_id)
    q.resume_task(task_id, delay=30)
    q.remove_task(task_id)
    recorder.wait_for(4)
    assert [call[0] for call in recorder.calls] == [
        Event.TASK_ADDED,
        Event.TASK_PAUSED,
        Event.TASK_RESUMED,
        Event.TASK_REMOVED,
    ]
    for call in recorder.calls:
        assert len(call) == 2
        assert isinstance(call[1], Task)
        assert call[1].id == task_id
        assert call[1].task_name == "t"
    statuses = [call[1].status for call in recorder.calls]
    assert statuses[:3] == [
        TaskStatus.ACTIVE.value,
        TaskStatus.PAUSED.value,
        TaskStatus.ACTIVE.value,
    ]


def test_job_events_call_back_with_event_task_and_job(q) -> None:
    recorder = Recorder()
    for event in JOB_EVENTS:
        q.add_listener(event, recorder)

    def fails() -> None:
        raise ValueError("bad input")

    def stops(_stop_event: threading.Event) -> None:
        _stop_event.wait(WAIT)

    ok = q.add_task("ok", lambda: None, interval=60, run_once=True)
    recorder.wait_for(2)
    bad = q.add_task("bad", fails, interval=60, run_once=True)
    recorder.wait_for(4)
    stopped = q.add_task("stops", stops, interval=60)
    recorder.wait_for(5)
    q.remove_task(stopped)
    recorder.wait_for(6)
    events = [(call[0], call[1].id) for call in recorder.calls]
    assert events == [
        (Event.JOB_STARTED, ok),
        (Event.JOB_COMPLETED, ok),
        (Event.JOB_STARTED, bad),
        (Event.JOB_FAILED, bad),
        (Event.JOB_STARTED, stopped),
        (Event.JOB_CANCELLED, stopped),
    ]
    for event, task, job in recorder.calls:
        assert isinstance(task, Task)
        assert isinstance(job, Job)
        assert job.task_id == task.id
    jobs = [call[2] for call in recorder.calls]
    assert [j.status for j in jobs] == [
        JobStatus.RUNNING.value,
        JobStatus.COMPLETED.value,
        JobStatus.RUNNING.value,
        JobStatus.FAILED.value,
        JobStatus.RUNNING.value,
        JobStatus.CANCELLED.value,
    ]
    assert jobs[0].id == jobs[1].id
    assert jobs[0].ended_at is None
    assert jobs[1].ended_at is not None
    assert jobs[3].error_message == "bad input"
    assert recorder.calls[0][1].status == TaskStatus.RUNNING.value


def test_without_a_main_loop_listeners_run_where_quiv_0_4_0_ran_them(q) -> None:
    """quiv 0.4.0's dispatch table: a task event's listeners run on the caller's thread
    before the call returns; a job's on the worker thread that runs it."""
    recorder = Recorder()
    _listen_all(q, recorder)
    handler_threads: list[threading.Thread] = []
    task_id = q.add_task(
        "t", lambda: handler_threads.append(threading.current_thread()), interval=60, delay=60
    )
    assert [call[0] for call in recorder.calls] == [Event.TASK_ADDED]  # before it returned
    assert recorder.threads == [threading.current_thread()]
    q.pause_task(task_id)
    assert recorder.calls[-1][0] is Event.TASK_PAUSED
    assert recorder.threads[-1] is threading.current_thread()
    q.run_task_immediately(task_id)
    recorder.wait_for(4)
    assert [call[0] for call in recorder.calls[2:]] == [Event.JOB_STARTED, Event.JOB_COMPLETED]
    assert recorder.threads[2] is recorder.threads[3] is handler_threads[0]
    assert handler_threads[0].name.startswith("quiv-worker")


def test_an_async_listener_runs_to_completion_on_the_callers_thread(q) -> None:
    seen: list[tuple[Event, str]] = []

    async def listener(event: Event, task: Task) -> None:
        await asyncio.sleep(0)
        seen.append((event, threading.current_thread().name))

    q.add_listener(Event.TASK_ADDED, listener)
    q.add_task("t", lambda: None, interval=60, delay=60)
    assert seen == [(Event.TASK_ADDED, threading.current_thread().name)]


def test_a_failing_listener_is_logged_on_the_quiv_logger_never_raised(q, caplog) -> None:
    def listener(event: Event, task: Task) -> None:
        raise RuntimeError("listener broke")

    q.add_listener(Event.TASK_ADDED, listener)
    with caplog.at_level(logging.ERROR, logger="Quiv"):
        task_id = q.add_task("t", lambda: None, interval=60, delay=60)
    assert q.get_task(task_id).id == task_id
    assert any("listener broke" in (r.exc_text or str(r.exc_info)) for r in caplog.records)


def test_pausing_a_task_with_a_queued_run_says_so_in_that_order(q) -> None:
    """A run asked for while a job runs is cancelled by a pause: task_paused comes first,
    and the cancelled job's record says it never started and why."""
    recorder = Recorder()
    release = threading.Event()
    q.add_listener(Event.TASK_PAUSED, recorder)
    q.add_listener(Event.JOB_CANCELLED, recorder)
    task_id = q.add_task("t", lambda: release.wait(WAIT), interval=60)
    wait_until(lambda: q.get_task(task_id).status == TaskStatus.RUNNING.value)
    queued = q.run_task(task_id)
    q.pause_task(task_id)
    release.set()
    assert [call[0] for call in recorder.calls] == [Event.TASK_PAUSED, Event.JOB_CANCELLED]
    job = q.get_job(queued)
    assert job.status == JobStatus.CANCELLED.value
    assert job.started_at is None
    assert job.duration_seconds == 0
    assert job.error_message == "cancelled before it started: its task was paused"
    assert recorder.calls[1][2] == job


def test_listeners_are_called_in_registration_order(q) -> None:
    order: list[tuple[str, Event]] = []
    lock = threading.Lock()

    def make(name: str):
        def listener(event: Event, *rest: object) -> None:
            with lock:
                order.append((name, event))

        return listener

    listeners = [make(name) for name in ("first", "second", "third")]
    for event in (Event.TASK_ADDED, Event.JOB_STARTED, Event.JOB_COMPLETED):
        for listener in listeners:
            q.add_listener(event, listener)
    q.add_task("t", lambda: None, interval=60, run_once=True)
    wait_until(lambda: len(order) == 9, WAIT)
    assert order == [
        (name, event)
        for event in (Event.TASK_ADDED, Event.JOB_STARTED, Event.JOB_COMPLETED)
        for name in ("first", "second", "third")
    ]


def test_a_failing_listener_is_logged_and_harmless(q, caplog) -> None:
    caplog.set_level(logging.ERROR)
    after = Recorder()

    def broken(*args: object) -> None:
        raise RuntimeError("listener bug")

    q.add_listener(Event.JOB_COMPLETED, broken)
    q.add_listener(Event.JOB_COMPLETED, after)
    task_id = q.add_task("t", lambda: None, interval=0.05)
    after.wait_for(3)
    wait_until(lambda: any("listener bug" in str(r.exc_info) for r in caplog.records), WAIT)
    assert q.get_task(task_id).id == task_id
    assert all(j.status == JobStatus.COMPLETED.value for j in q.get_all_jobs() if j.ended_at)


def test_removed_listener_is_not_called(q) -> None:
    kept, removed = Recorder(), Recorder()
    q.add_listener(Event.TASK_ADDED, removed)
    q.add_listener(Event.TASK_ADDED, kept)
    q.add_task("a", lambda: None, interval=60, delay=60)
    kept.wait_for(1)
    q.remove_listener(Event.TASK_ADDED, removed)
    q.add_task("b", lambda: None, interval=60, delay=60)
    kept.wait_for(2)
    assert len(removed) == 1


def test_one_callback_for_several_events(q) -> None:
    recorder = Recorder()
    q.add_listener(Event.TASK_ADDED, recorder)
    q.add_listener(Event.TASK_PAUSED, recorder)
    task_id = q.add_task("a", lambda: None, interval=60, delay=60)
    q.pause_task(task_id)
    recorder.wait_for(2)
    assert [call[0] for call in recorder.calls] == [Event.TASK_ADDED, Event.TASK_PAUSED]


def test_a_slow_listener_does_not_hold_up_jobs(q, gate) -> None:
    release = gate()
    blocked = threading.Event()

    def slow(event: Event, task: Task, job: Job) -> None:
        if task.task_name == "slow":
            blocked.set()
            release.wait(WAIT)

    # A listener runs on its job's worker (as in quiv 0.4.0), so it holds that job only:
    # the scheduler thread and the other worker go on.
    q.add_listener(Event.JOB_STARTED, slow)
    slow_id = q.add_task("slow", lambda: None, interval=0.01)
    assert blocked.wait(WAIT)
    fast_id = q.add_task("fast", lambda: None, interval=0.01)
    wait_until(lambda: len(q.get_all_jobs(status="completed")) >= 3, WAIT)
    assert {job.task_id for job in q.get_all_jobs(status="completed")} == {fast_id}
    assert q.get_task(slow_id).status == TaskStatus.RUNNING.value
    release.set()


def test_listener_added_before_start_hears_tasks_added_before_start(quiv) -> None:
    q = quiv()
    recorder = Recorder()
    q.add_listener(Event.TASK_ADDED, recorder)
    task_id = q.add_task("early", lambda: None, interval=60, delay=60)
    recorder.wait_for(1)
    assert recorder.calls[0][1].id == task_id


def test_pending_events_are_delivered_before_shutdown_returns(quiv) -> None:
    q = quiv()
    q.start()
    recorder = Recorder()
    q.add_listener(Event.TASK_ADDED, recorder)
    for i in range(20):
        q.add_task(f"t{i}", lambda: None, interval=60, delay=60)
    q.shutdown()
    assert len(recorder) == 20


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_listener_raising_system_exit_is_harmless(q) -> None:
    dispatcher: list[threading.Thread] = []
    after = Recorder()

    def exits(*args: object) -> None:
        dispatcher.append(threading.current_thread())
        raise SystemExit("listener called sys.exit")

    q.add_listener(Event.TASK_ADDED, exits)
    q.add_listener(Event.TASK_ADDED, after)
    q.add_task("a", lambda: None, interval=60, delay=60)
    wait_until(lambda: dispatcher, WAIT)
    # Either the next listener is called, or the dispatcher thread is gone for good.
    wait_until(lambda: len(after) or not dispatcher[0].is_alive(), WAIT)
    assert len(after) == 1


def test_a_queued_run_cancelled_by_cancel_job_never_started(q) -> None:
    release = threading.Event()
    cancelled = Recorder()
    q.add_listener(Event.JOB_CANCELLED, cancelled)
    task_id = q.add_task("t", lambda: release.wait(WAIT), interval=60)
    wait_until(lambda: q.get_task(task_id).status == TaskStatus.RUNNING.value)
    queued = q.run_task(task_id)
    assert q.cancel_job(queued)
    release.set()
    job = q.get_job(queued)
    assert (job.status, job.started_at, job.duration_seconds) == ("cancelled", None, 0)
    assert job.error_message == "cancelled before it started: cancel_job was called"
    # The event says the same as the record, delivered before cancel_job returned.
    assert cancelled.calls[0][2] == job
