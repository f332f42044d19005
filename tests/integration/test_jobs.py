"""Jobs: their statuses, cancellation, failures (BaseException too) and injected keywords."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timezone
from typing import Any

import pytest

from quiv import Event, Job, JobNotFoundError, JobStatus, TaskStatus
from quiv.testing import wait_until

from ._helpers import WAIT, Recorder, quiesce


@pytest.fixture
def q(quiv):
    instance = quiv(pool_size=2)
    instance.start()
    return instance


def _jobs_of(q, task_id: str) -> list[Job]:
    return [job for job in q.get_all_jobs() if job.task_id == task_id]


def _wait_job(q, task_id: str, status: str) -> Job:
    wait_until(lambda: any(j.status == status for j in _jobs_of(q, task_id)), WAIT)
    return next(j for j in _jobs_of(q, task_id) if j.status == status)


def test_completed_job(q) -> None:
    task_id = q.add_task("ok", lambda: None, interval=60)
    job = _wait_job(q, task_id, JobStatus.COMPLETED.value)
    assert job.task_name == "ok"
    assert job.error_message is None
    assert job.ended_at is not None
    assert job.started_at <= job.ended_at
    assert job.started_at.tzinfo is not None
    assert job.started_at.utcoffset().total_seconds() == 0
    assert job.duration_seconds is not None
    assert job.duration_seconds >= 0
    assert q.get_job(job.id) == job
    assert q.get_all_jobs(status=JobStatus.COMPLETED) == [job]
    assert q.get_all_jobs(status="completed") == [job]
    assert q.get_all_jobs(status="failed") == []


def test_running_job_and_running_task(q, gate) -> None:
    release = gate()
    job_ids: list[str] = []

    def handler(_job_id: str) -> None:
        job_ids.append(_job_id)
        release.wait(WAIT)

    task_id = q.add_task("slow", handler, interval=60)
    wait_until(lambda: job_ids, WAIT)
    wait_until(lambda: q.get_job(job_ids[0]).status == JobStatus.RUNNING.value, WAIT)
    job = q.get_job(job_ids[0])
    assert job.ended_at is None
    assert job.duration_seconds is None
    assert q.get_task(task_id).status == TaskStatus.RUNNING.value
    assert q.get_all_jobs(status=JobStatus.RUNNING) == [job]
    release.set()
    _wait_job(q, task_id, JobStatus.COMPLETED.value)
    wait_until(lambda: q.get_task(task_id).status == TaskStatus.ACTIVE.value, WAIT)


def test_failed_job_keeps_the_error_message_and_the_task_goes_on(q, caplog) -> None:
    attempts: list[int] = []

    def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("the upstream API answered 503")

    task_id = q.add_task("flaky", flaky, interval=0.05)
    failed = _wait_job(q, task_id, JobStatus.FAILED.value)
    assert failed.error_message == "the upstream API answered 503"
    assert failed.ended_at is not None
    _wait_job(q, task_id, JobStatus.COMPLETED.value)
    assert q.get_task(task_id).status in (TaskStatus.ACTIVE.value, TaskStatus.RUNNING.value)
    assert any("ValueError" in r.getMessage() for r in caplog.records)


class CustomBaseError(BaseException):
    pass


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (SystemExit("bye"), "bye"),
        (KeyboardInterrupt("interrupted"), "interrupted"),
        (CustomBaseError("custom"), "custom"),
        (GeneratorExit("gen"), "gen"),
    ],
    ids=["SystemExit", "KeyboardInterrupt", "custom", "GeneratorExit"],
)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_base_exceptions_fail_the_job_not_the_worker(quiv, exc, message, kind) -> None:
    q = quiv(pool_size=1)
    q.start()
    threads: list[str] = []

    def raiser() -> None:
        threads.append(threading.current_thread().name)
        raise exc

    async def async_raiser() -> None:
        threads.append(threading.current_thread().name)
        raise exc

    failing = q.add_task("raiser", raiser if kind == "sync" else async_raiser, interval=60)
    job = _wait_job(q, failing, JobStatus.FAILED.value)
    assert job.error_message == message

    # The worker thread and the scheduler live on: the next job runs on the same worker.
    def after() -> None:
        threads.append(threading.current_thread().name)

    ok = q.add_task("after", after, interval=60)
    _wait_job(q, ok, JobStatus.COMPLETED.value)
    assert threads[0] == threads[1]
    assert threads[0] in {t.name for t in threading.enumerate()}
    assert q.statistics().running_jobs == 0


def test_cancel_job(q) -> None:
    started = threading.Event()
    job_ids: list[str] = []
    returned: list[bool] = []

    def handler(_job_id: str, _stop_event: threading.Event) -> None:
        job_ids.append(_job_id)
        started.set()
        returned.append(_stop_event.wait(WAIT))

    cancelled = Recorder()
    q.add_listener(Event.JOB_CANCELLED, cancelled)
    task_id = q.add_task("long", handler, interval=60)
    assert started.wait(WAIT)
    assert q.cancel_job(job_ids[0]) is True
    job = _wait_job(q, task_id, JobStatus.CANCELLED.value)
    assert job.id == job_ids[0]
    assert returned == [True]
    assert q.cancel_job(job_ids[0]) is False
    cancelled.wait_for(1)
    assert cancelled.calls[0][2].id == job.id
    # Cancelling a job does not touch the task: it keeps its schedule.
    assert q.get_task(task_id).status == TaskStatus.ACTIVE.value


def test_cancelled_when_stop_event_is_set_even_if_the_handler_ignores_it(q, gate) -> None:
    release = gate()
    job_ids: list[str] = []

    def handler(_job_id: str) -> None:
        job_ids.append(_job_id)
        release.wait(WAIT)

    task_id = q.add_task("ignores", handler, interval=60)
    wait_until(lambda: job_ids, WAIT)
    assert q.cancel_job(job_ids[0]) is True
    release.set()
    job = _wait_job(q, task_id, JobStatus.CANCELLED.value)
    assert job.error_message is None


def test_raising_after_cancel_is_a_cancel(q) -> None:
    # Cancelled wins (quiv 0.4.0): an error raised on the way out of a cancelled job does
    # not make it a failure; its message is kept in the record.
    job_ids: list[str] = []
    cancelled, failed = Recorder(), Recorder()
    q.add_listener(Event.JOB_CANCELLED, cancelled)
    q.add_listener(Event.JOB_FAILED, failed)

    def handler(_job_id: str, _stop_event: threading.Event) -> None:
        job_ids.append(_job_id)
        _stop_event.wait(WAIT)
        raise RuntimeError("stopped badly")

    task_id = q.add_task("raises", handler, interval=60)
    wait_until(lambda: job_ids, WAIT)
    q.cancel_job(job_ids[0])
    job = _wait_job(q, task_id, JobStatus.CANCELLED.value)
    assert job.id == job_ids[0]
    assert job.error_message == "stopped badly"
    cancelled.wait_for(1)
    assert [call[2].id for call in cancelled.calls] == [job.id]
    assert len(failed) == 0


def test_raising_after_cancel_is_not_retried(q) -> None:
    job_ids: list[str] = []
    failed, retried = Recorder(), Recorder()
    q.add_listener(Event.JOB_FAILED, failed)
    q.add_listener(Event.JOB_RETRYING, retried)

    def handler(_job_id: str, _stop_event: threading.Event) -> None:
        job_ids.append(_job_id)
        _stop_event.wait(WAIT)
        raise RuntimeError("stopped badly")

    task_id = q.add_task("raises", handler, interval=60, run_once=True, retries=2)
    wait_until(lambda: job_ids, WAIT)
    q.cancel_job(job_ids[0])
    job = _wait_job(q, task_id, JobStatus.CANCELLED.value)
    quiesce(q)
    assert job_ids == [job.id]  # no second attempt
    assert [j.status for j in _jobs_of(q, task_id)] == [JobStatus.CANCELLED.value]
    assert len(failed) == 0
    assert len(retried) == 0


def _run_once_events(q, handler: Any) -> tuple[Job, dict[Event, Recorder]]:
    recorders = {event: Recorder() for event in Event if event.name.startswith("JOB_")}
    for event, recorder in recorders.items():
        q.add_listener(event, recorder)
    task_id = q.add_task("self-stopping", handler, interval=60, run_once=True)
    wait_until(lambda: any(j.ended_at is not None for j in _jobs_of(q, task_id)), WAIT)
    (job,) = _jobs_of(q, task_id)
    quiesce(q)
    return job, recorders


def test_a_handler_that_sets_its_own_stop_event_and_returns_is_cancelled(q) -> None:
    def handler(_stop_event: threading.Event) -> str:
        _stop_event.set()
        return "done anyway"

    job, events = _run_once_events(q, handler)
    assert job.status == JobStatus.CANCELLED.value
    assert job.error_message is None
    events[Event.JOB_CANCELLED].wait_for(1)
    assert [call[2].id for call in events[Event.JOB_CANCELLED].calls] == [job.id]
    assert len(events[Event.JOB_COMPLETED]) == 0
    assert len(events[Event.JOB_FAILED]) == 0


def test_a_handler_that_sets_its_own_stop_event_and_raises_is_cancelled(q) -> None:
    def handler(_stop_event: threading.Event) -> None:
        _stop_event.set()
        raise ValueError("gave up")

    job, events = _run_once_events(q, handler)
    assert job.status == JobStatus.CANCELLED.value
    assert job.error_message == "gave up"
    events[Event.JOB_CANCELLED].wait_for(1)
    assert [call[2].id for call in events[Event.JOB_CANCELLED].calls] == [job.id]
    assert len(events[Event.JOB_FAILED]) == 0
    assert len(events[Event.JOB_COMPLETED]) == 0


def test_cancel_finished_or_unknown_job(q) -> None:
    task_id = q.add_task("ok", lambda: None, interval=60)
    job = _wait_job(q, task_id, JobStatus.COMPLETED.value)
    assert q.cancel_job(job.id) is False
    assert q.cancel_job("not-a-job") is False
    with pytest.raises(JobNotFoundError):
        q.get_job("not-a-job")


def _run_once(q, handler: Any, **kwargs: Any) -> Job:
    task_id = q.add_task("injected", handler, interval=60, run_once=True, **kwargs)
    wait_until(
        lambda: any(j.ended_at is not None for j in _jobs_of(q, task_id)),
        WAIT,
    )
    (job,) = _jobs_of(q, task_id)
    return job


def test_injection_by_name(q) -> None:
    seen: dict[str, Any] = {}

    def handler(_job_id, _stop_event, _progress_hook) -> None:
        seen.update(job_id=_job_id, stop_event=_stop_event, progress_hook=_progress_hook)

    job = _run_once(q, handler)
    assert job.status == JobStatus.COMPLETED.value
    assert seen["job_id"] == job.id
    assert isinstance(seen["stop_event"], threading.Event)
    assert not seen["stop_event"].is_set()
    assert callable(seen["progress_hook"])
    seen["progress_hook"](1, a=2)  # no progress callback: a no-op


def test_injection_through_var_keyword(q) -> None:
    seen: dict[str, Any] = {}

    def handler(a, *args, **kwargs) -> None:
        seen.update(a=a, args=args, kwargs=kwargs)

    job = _run_once(q, handler, args=(1, 2), kwargs={"user": "x"})
    assert job.status == JobStatus.COMPLETED.value
    assert seen["a"] == 1
    assert seen["args"] == (2,)
    assert set(seen["kwargs"]) == {"user", "_job_id", "_stop_event", "_progress_hook"}
    assert seen["kwargs"]["_job_id"] == job.id


def test_only_the_named_keywords_are_injected(q) -> None:
    seen: list[Any] = []

    def handler(x, *, _stop_event) -> None:
        seen.append((x, _stop_event))

    job = _run_once(q, handler, args=("x",))
    assert job.status == JobStatus.COMPLETED.value
    assert seen[0][0] == "x"
    assert isinstance(seen[0][1], threading.Event)


@pytest.mark.parametrize("shape", ["no-params", "var-args", "positional-only"])
def test_nothing_is_injected_without_a_matching_parameter(q, shape) -> None:
    seen: list[Any] = []

    def no_params() -> None:
        seen.append(())

    def var_args(*args) -> None:
        seen.append(args)

    def positional_only(_job_id="default", /) -> None:
        seen.append((_job_id,))

    handler = {"no-params": no_params, "var-args": var_args, "positional-only": positional_only}
    job = _run_once(q, handler[shape])
    assert job.status == JobStatus.COMPLETED.value
    assert seen == [{"no-params": (), "var-args": (), "positional-only": ("default",)}[shape]]


def test_async_handler_runs_on_its_own_loop_in_a_worker_thread(q) -> None:
    seen: list[Any] = []

    async def handler(value, _job_id) -> None:
        await asyncio.sleep(0)
        seen.append((value, _job_id, threading.current_thread(), asyncio.get_running_loop()))

    job = _run_once(q, handler, args=(7,))
    assert job.status == JobStatus.COMPLETED.value
    value, job_id, thread, loop = seen[0]
    assert (value, job_id) == (7, job.id)
    assert thread is not threading.main_thread()
    assert thread.name.startswith("quiv-worker")
    assert loop.is_closed()


def test_async_handler_failure(q) -> None:
    async def handler() -> None:
        await asyncio.sleep(0)
        raise LookupError("not there")

    job = _run_once(q, handler)
    assert job.status == JobStatus.FAILED.value
    assert job.error_message == "not there"


def test_jobs_are_ordered_oldest_first(quiv, clock) -> None:
    q = quiv(clock=clock, pool_size=1)
    q.start()
    ids = [q.add_task(f"t{i}", lambda: None, interval=60, delay=i) for i in range(3)]
    for _ in range(3):
        quiesce(q)
        clock.advance(1)
    quiesce(q)
    assert [j.task_id for j in q.get_all_jobs()] == ids
    started = [j.started_at for j in q.get_all_jobs()]
    assert started == sorted(started)
    assert started[0].tzinfo == timezone.utc or started[0].utcoffset().total_seconds() == 0


def test_every_run_gets_its_own_copy_of_the_arguments(quiv, clock) -> None:
    from ._helpers import step_to

    q = quiv(clock=clock)
    q.start()
    seen: list[tuple[list[int], dict[str, list[int]]]] = []

    def handler(items: list[int], *, extra: list[int]) -> None:
        seen.append((list(items), {"extra": list(extra)}))
        items.append(99)  # a run that mutates its arguments...
        extra.clear()

    items = [1, 2]
    extra = [3]
    task_id = q.add_task("copy", handler, interval=1, args=(items,), kwargs={"extra": extra})
    items.append(100)  # ...or a caller that changes them after add_task
    step_to(q, clock, 2)
    assert seen == [([1, 2], {"extra": [3]})] * 3  # ...changes nothing for the next run
    assert q.get_task(task_id).args == ([1, 2],)


def test_a_worker_job_is_started_when_handed_to_its_thread(q) -> None:
    # The scheduler records the start as it hands the job to an idle worker: the stored
    # start is never after the handler's first line, and the job is running meanwhile.
    entered: list[float] = []
    release = threading.Event()

    def handler() -> None:
        entered.append(time.time())
        release.wait(WAIT)

    task_id = q.add_task("t", handler, interval=3600, run_once=True)
    wait_until(lambda: entered, WAIT)
    wait_until(lambda: _jobs_of(q, task_id), WAIT)
    (running,) = _jobs_of(q, task_id)
    assert running.status == JobStatus.RUNNING.value
    assert running.started_at.timestamp() <= entered[0] + 1e-6
    release.set()
    job = _wait_job(q, task_id, JobStatus.COMPLETED.value)
    assert job.started_at == running.started_at
