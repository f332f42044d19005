"""The instrumentation hook (``Quiv.add_instrumentation``): what it is told of each job, on
which thread, around the handler, with the final status, and the origin captured where the
run was asked for."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from typing import Any

import pytest

from quiv import ConfigurationError, JobEnd, JobRun, JobStatus, Quiv, RetryPolicy
from quiv.testing import settle

from . import _process_handlers as handlers
from ._helpers import EPOCH, WAIT, advance, quiesce

# Set by the recorder's job_started, read by handlers: proof that the hook wraps them.
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("current", default=None)
# Where a test's caller is: what the recorder captures at add_task and run_task.
_caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("caller", default=None)


class Recorder:
    """An ``Instrumentation`` that records every call with its thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[Any, ...]] = []
        self.tokens: dict[str, contextvars.Token[str | None]] = {}

    def _record(self, *call: Any) -> None:
        with self.lock:
            self.calls.append((*call, threading.current_thread().name))

    def capture(self) -> object | None:
        return _caller.get()

    def job_started(self, run: JobRun, origin: object | None) -> None:
        self.tokens[run.job_id] = _current.set(run.job_id)
        self._record("started", run, origin)

    def handler_returned(self, run: JobRun) -> None:
        _current.reset(self.tokens.pop(run.job_id))
        self._record("returned", run)

    def job_ended(self, run: JobRun, end: JobEnd) -> None:
        self._record("ended", run, end)

    def of(self, kind: str, job_id: str | None = None) -> list[tuple[Any, ...]]:
        with self.lock:
            return [
                c for c in self.calls if c[0] == kind and (job_id is None or c[1].job_id == job_id)
            ]

    def ends(self) -> dict[str, str]:
        """Job id -> final status, from job_ended."""
        return {c[1].job_id: c[2].status for c in self.of("ended")}


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def q(quiv, clock, recorder) -> Quiv:
    instance: Quiv = quiv(clock=clock, pool_size=2)
    instance.add_instrumentation(recorder)
    instance.start()
    return instance


def test_the_hook_wraps_the_handler_on_its_worker_thread(q, recorder) -> None:
    seen: list[tuple[str | None, str]] = []

    def handler(_job_id: str) -> None:
        seen.append((_current.get(), threading.current_thread().name))

    task_id = q.add_task("wrapped", handler, run_once=True)
    job = q.wait_for_task(task_id, timeout=WAIT)
    assert seen == [(job.id, seen[0][1])]
    assert seen[0][1].startswith("quiv-worker")
    (started,) = recorder.of("started", job.id)
    (returned,) = recorder.of("returned", job.id)
    (ended,) = recorder.of("ended", job.id)
    # job_started and handler_returned on the handler's thread; the context is undone.
    assert started[3] == returned[2] == seen[0][1]
    assert _current.get() is None
    run: JobRun = started[1]
    assert (run.task_id, run.task_name, run.job_id, run.attempt, run.executor) == (
        task_id,
        "wrapped",
        job.id,
        1,
        "thread",
    )
    assert run.started_at == EPOCH.timestamp()
    assert run.lateness == 0.0
    assert ended[1] is run  # the same values at its end
    end: JobEnd = ended[2]
    assert (end.status, end.error, end.exception) == ("completed", None, None)
    assert end.duration == 0.0  # the fake clock stood still
    assert end.ended_at == job.ended_at.timestamp()  # type: ignore[union-attr]


def test_lateness_counts_from_when_the_run_was_due(q, clock, gate) -> None:
    release = gate()
    entered = threading.Event()

    def blocker() -> None:
        entered.set()
        release.wait(WAIT)

    q.add_task("a", blocker, run_once=True)
    q.add_task("b", blocker, run_once=True)
    assert entered.wait(WAIT)
    recorder: Recorder = q._scheduler.instruments.observers[0]
    late_id = q.add_task("late", lambda: None, run_once=True, delay=1)
    advance(q, clock, 3)  # due at 1; both workers busy until 3
    release.set()
    quiesce(q)
    (started,) = [c for c in recorder.of("started") if c[1].task_id == late_id]
    run: JobRun = started[1]
    assert run.due_at == EPOCH.timestamp() + 1
    assert run.started_at == EPOCH.timestamp() + 3
    assert run.lateness == 2.0


def test_every_final_status_reaches_job_ended(q, clock, recorder, gate) -> None:
    release = gate()
    entered = threading.Event()

    def fails() -> None:
        raise KeyError("broken")

    def cooperative(_stop_event: threading.Event) -> None:
        _stop_event.wait(WAIT)

    def blocker() -> None:
        entered.set()
        release.wait(WAIT)

    done = q.wait_for_job(q.run_task(q.add_task("ok", lambda: None, interval=3600, delay=60)))
    failed = q.wait_for_task(q.add_task("fails", fails, run_once=True), timeout=WAIT)
    retried_task = q.add_task(
        "retried", fails, run_once=True, retries=RetryPolicy(max_retries=1, backoff=0)
    )
    last = q.wait_for_task(retried_task, timeout=WAIT)
    timed = q.add_task("timed", cooperative, run_once=True, timeout=5)
    settle(q)
    advance(q, clock, 5)
    timed_out = q.wait_for_task(timed, timeout=WAIT)
    blocked = q.add_task("blocked", blocker, interval=3600)
    assert entered.wait(WAIT)
    pending = q.run_task(blocked)  # made ahead, to follow the running job
    assert q.cancel_job(pending)
    release.set()
    quiesce(q)
    ends = recorder.ends()
    assert ends[done.id] == "completed"
    assert ends[failed.id] == "failed"
    assert ends[last.retry_of] == "retried"  # type: ignore[index]
    assert ends[last.id] == "failed"
    assert ends[timed_out.id] == "timed_out"
    assert ends[pending] == "cancelled"
    (failure,) = recorder.of("ended", failed.id)
    assert isinstance(failure[2].exception, KeyError)
    assert "broken" in failure[2].error
    (cancelled,) = recorder.of("ended", pending)
    assert cancelled[2].duration is None  # it never started
    assert cancelled[1].started_at is None
    assert not recorder.of("started", pending)
    # job_ended where the end is recorded: not a listener's main loop.
    assert all(not c[3].startswith("MainThread") for c in recorder.of("ended"))


def test_a_missed_run_ends_missed(quiv, clock, recorder, gate) -> None:
    q = quiv(clock=clock, pool_size=1)
    q.add_instrumentation(recorder)
    q.start()
    release = gate()
    entered = threading.Event()

    def blocker() -> None:
        entered.set()
        release.wait(WAIT)

    q.add_task("busy", blocker, run_once=True)
    assert entered.wait(WAIT)
    q.add_task("skipper", lambda: None, interval=1, misfire="skip", misfire_grace=0.5)
    advance(q, clock, 2)
    release.set()
    quiesce(q)
    missed = [c for c in recorder.of("ended") if c[2].status == "missed"]
    assert missed
    assert missed[0][1].task_name == "skipper"
    assert missed[0][2].duration is None


def test_origins_come_from_the_call_that_asked_for_the_run(q, recorder) -> None:
    token = _caller.set("add")
    try:
        task_id = q.add_task("t", lambda: None, interval=3600, delay=3600)
    finally:
        _caller.reset(token)
    token = _caller.set("run_task")
    try:
        by_run_task = q.wait_for_job(q.run_task(task_id), timeout=WAIT)
    finally:
        _caller.reset(token)
    token = _caller.set("run now")
    try:
        q.run_task_immediately(task_id)
    finally:
        _caller.reset(token)
    quiesce(q)
    origins = {c[1].job_id: c[2] for c in recorder.of("started")}
    assert origins[by_run_task.id] == "run_task"
    assert sorted(origins.values()) == ["run now", "run_task"]


def test_a_regular_run_gets_its_tasks_origin(q, clock, recorder) -> None:
    token = _caller.set("registration")
    try:
        q.add_task("t", lambda: None, interval=10)
    finally:
        _caller.reset(token)
    advance(q, clock, 10)
    quiesce(q)
    assert [c[2] for c in recorder.of("started")] == ["registration", "registration"]


def test_nothing_is_captured_without_instrumentation(quiv) -> None:
    q = quiv()
    token = _caller.set("add")
    try:
        task_id = q.add_task("t", lambda: None, interval=3600)
    finally:
        _caller.reset(token)
    assert q._scheduler.call(lambda: q._scheduler.state.tasks[task_id].origin) is None


def test_detaching_stops_the_calls_but_not_a_started_handlers_return(q, recorder, gate) -> None:
    release = gate()
    entered = threading.Event()

    def blocker() -> None:
        entered.set()
        release.wait(WAIT)

    task_id = q.add_task("blocker", blocker, run_once=True)
    assert entered.wait(WAIT)
    q.remove_instrumentation(recorder)
    q.remove_instrumentation(recorder)  # again: ignored
    release.set()
    job = q.wait_for_task(task_id, timeout=WAIT)
    assert len(recorder.of("returned", job.id)) == 1  # what it made current is undone
    assert not recorder.of("ended", job.id)
    before = len(recorder.calls)
    q.wait_for_task(q.add_task("after", lambda: None, run_once=True), timeout=WAIT)
    assert len(recorder.calls) == before


def test_attaching_twice_is_once_and_a_bad_object_is_refused(q, recorder) -> None:
    q.add_instrumentation(recorder)
    job = q.wait_for_task(q.add_task("t", lambda: None, run_once=True), timeout=WAIT)
    assert len(recorder.of("started", job.id)) == 1
    half = type("Half", (), {"capture": lambda self: None, "job_started": print})()
    with pytest.raises(ConfigurationError, match="lacks handler_returned, job_ended"):
        q.add_instrumentation(half)


class Broken(Recorder):
    def capture(self) -> object | None:
        raise RuntimeError("capture")

    def job_started(self, run: JobRun, origin: object | None) -> None:
        raise RuntimeError("started")

    def handler_returned(self, run: JobRun) -> None:
        raise RuntimeError("returned")

    def job_ended(self, run: JobRun, end: JobEnd) -> None:
        raise RuntimeError("ended")


def test_a_failing_instrumentation_is_logged_and_the_job_goes_on(quiv, caplog) -> None:
    q = quiv()
    q.add_instrumentation(Broken())
    q.start()
    with caplog.at_level(logging.ERROR, logger="Quiv"):
        job = q.wait_for_task(q.add_task("t", lambda: 7, run_once=True), timeout=WAIT)
    assert (job.status, job.result) == (JobStatus.COMPLETED, 7)
    failed = {r.getMessage().rsplit(" ", 1)[-1] for r in caplog.records}
    assert failed == {"capture", "job_started", "handler_returned", "job_ended"}


def test_a_process_job_is_observed_in_the_parent_around_its_relay(quiv, recorder) -> None:
    q = quiv(pool_size=2)
    q.add_instrumentation(recorder)
    q.start()
    task_id = q.add_task("pid", handlers.pid, run_once=True, executor="process")
    job = q.wait_for_task(task_id, timeout=WAIT)
    assert job.status == JobStatus.COMPLETED
    (started,) = recorder.of("started", job.id)
    (returned,) = recorder.of("returned", job.id)
    assert started[1].executor == "process"
    assert started[3] == returned[2]
    assert started[3].startswith("quiv-worker")
    assert recorder.ends() == {job.id: "completed"}


def test_a_main_loop_job_is_observed_on_the_loop(quiv, recorder) -> None:
    async def main() -> None:
        q = quiv()
        q.add_instrumentation(recorder)
        q.start()
        seen: list[str | None] = []

        async def handler() -> None:
            await asyncio.sleep(0)
            seen.append(_current.get())

        task_id = q.add_task("on-main", handler, interval=3600, delay=3600, on_main_loop=True)
        job = await q.wait_for_job_async(q.run_task(task_id), timeout=WAIT)
        assert seen == [job.id]
        (started,) = recorder.of("started", job.id)
        assert started[1].executor == "main_loop"
        assert started[3] == threading.main_thread().name
        assert recorder.ends() == {job.id: "completed"}

    asyncio.run(main())
