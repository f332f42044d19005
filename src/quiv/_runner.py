"""Running one job: calling its handler on a worker thread or as a task on the main loop,
or relaying for it while a child process runs it, and reporting how it went. The scheduler
thread decides what the outcome means (a retry, a timeout); this module only observes.

A process job's end is read by the rules of a thread job's: returned (``cancelled`` if its
stop event was set, in the child or by quiv), raised (retried when the exception's classes
match the retry policy's, by name), or its process gone: killed by the pool after its
``kill_grace`` (``cancelled`` or ``timed_out``, with a note saying so), or dead on its own
(``failed`` with a ``JobProcessDiedError``, retried as any failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from ._bridge import MainLoop, current_bridge
from ._child import Call, LogLine, Raised, Returned, raised_matches, rebuilt_exception
from ._clock import Clock, epoch_seconds
from ._context import job_context
from ._entries import JobEntry, TaskEntry
from ._events import Listeners
from ._instruments import Instruments
from ._invocation import resolve_awaitable, run_coroutine_here
from ._processes import Ended, ProcessPool
from ._results import ERROR_LIMIT_CHARACTERS, RESULT_LIMIT_BYTES, describe, encode_result
from .exceptions import JobCancelledError, JobProcessDiedError
from .models import Event

__all__ = ["ERROR_LIMIT_CHARACTERS", "RESULT_LIMIT_BYTES", "JobRunner", "Outcome", "describe"]


@dataclass(slots=True)
class Outcome:
    """How a handler's call ended, as the worker saw it."""

    trigger: str  # "complete", "fail" or "cancel"
    ended_at: float
    ended_mono: float
    error: str | None = None
    retryable: bool = False
    result: str | None = None
    result_note: str | None = None
    # What the handler raised: logged by the scheduler once it knows whether the job
    # fails or is retried (then dropped: its traceback holds the handler's frames).
    exc: BaseException | None = None


class JobRunner:
    """Calls handlers for one scheduler and reports their start and end through callbacks."""

    def __init__(
        self,
        clock: Clock,
        bridge: MainLoop,
        logger: logging.Logger,
        *,
        listeners: Listeners,
        processes: ProcessPool,
        instruments: Instruments,
        started: Callable[[JobEntry, float, float], None],
        finished: Callable[[JobEntry, Outcome], None],
    ) -> None:
        self._clock = clock
        self._instruments = instruments
        self._epoch = epoch_seconds(clock)
        self._bridge = bridge
        self._listeners = listeners
        self._logger = logger
        self._started = started
        self._finished = finished
        self._processes = processes

    def run_on_worker(self, job: JobEntry) -> None:
        """Run ``job`` here, on a worker thread (a coroutine on a loop of its own).

        The scheduler recorded its start when it handed it to this idle thread: only its
        end is reported, one message per job.
        """
        if self._cancelled_before_start(job, report_start=False):
            return
        if self._listeners.any:  # on this thread, before the handler, as quiv 0.4.0 did
            self._listeners.emit(Event.JOB_STARTED, lambda: (job.task.snapshot(), job.snapshot()))
        instruments = self._instruments
        observers = instruments.observers  # the one read when nothing is attached
        run = instruments.started(job, observers) if observers else None
        token = current_bridge().set(self._bridge)
        job_token = job_context().set(job)
        # Whatever escapes below (a logging handler that raises...), the end is reported:
        # a job must never stay running.
        outcome: Outcome | None = None
        try:
            try:
                value, coroutine = self._call(job)
                if coroutine is not None:
                    value = run_coroutine_here(coroutine)
                outcome = self._returned(job, value)
            except BaseException as exc:
                # BaseExceptions too: SystemExit raised by a handler ends that job, not the
                # worker thread or the process.
                outcome = self._raised(job, exc)
        finally:
            job_context().reset(job_token)
            current_bridge().reset(token)
            if run is not None:
                instruments.returned(run, observers)
            self._finished(job, outcome or self._abnormal())

    async def run_on_loop(self, job: JobEntry) -> None:
        """Run ``job`` as this asyncio task, on the main loop: the loop may be busy, so
        its start is reported when it really starts."""
        if self._cancelled_before_start(job, report_start=True):
            return
        instruments = self._instruments
        observers = instruments.observers
        run = instruments.started(job, observers) if observers else None
        token = current_bridge().set(self._bridge)
        job_token = job_context().set(job)
        outcome: Outcome | None = None
        try:
            try:
                value, coroutine = self._call(job)
                if coroutine is not None:
                    value = await coroutine
                outcome = self._returned(job, value)
            except asyncio.CancelledError:
                # Cancelled through asyncio by cancel_job, a timeout or shutdown: the
                # scheduler set the stop event first, so this is the cooperative end.
                outcome = self._ended("cancel")
            except BaseException as exc:
                outcome = self._raised(job, exc)
        finally:
            # A coroutine whose loop went away mid-run is closed by the garbage collector,
            # in another Context than its task's: its tokens cannot be reset there.
            with contextlib.suppress(ValueError):
                job_context().reset(job_token)
                current_bridge().reset(token)
            if run is not None:
                instruments.returned(run, observers)
            self._finished(job, outcome or self._abnormal())

    def run_in_process(self, job: JobEntry) -> None:
        """Run ``job`` in a process of the pool, relaying for it on this worker thread:
        progress to the task's callback, log lines to quiv's logger (see ``_processes``)."""
        if self._cancelled_before_start(job, report_start=False):
            return
        if self._listeners.any:
            self._listeners.emit(Event.JOB_STARTED, lambda: (job.task.snapshot(), job.snapshot()))
        instruments = self._instruments
        observers = instruments.observers  # a span covers the relay, in this process
        run = instruments.started(job, observers) if observers else None
        token = current_bridge().set(self._bridge)  # for a callback run on this thread
        job_token = job_context().set(job)
        outcome: Outcome | None = None
        try:
            try:
                outcome = self._in_process(job)
            except BaseException as exc:  # no process to be had, or the relay's own trouble
                outcome = self._raised(job, exc)
        finally:
            job_context().reset(job_token)
            current_bridge().reset(token)
            if run is not None:
                instruments.returned(run, observers)
            self._finished(job, outcome or self._abnormal())

    def _in_process(self, job: JobEntry) -> Outcome:
        task = job.task
        settings = task.settings
        injection = settings.injection
        func: Any = task.func
        call = Call(
            job.id,
            func.__module__,
            func.__qualname__,
            settings.codec.name,
            task.args_blob,
            task.kwargs_blob,
            injection.job_id,
            injection.stop_event,
            injection.progress_hook,
        )
        hook = self._progress_hook(task, job.id)
        ended = self._processes.run(
            call,
            stopping=lambda: job.stopping,
            progress=lambda args, kwargs: hook(*args, **kwargs),
            log=partial(self._child_log, task),
        )
        return self._from_process(job, ended)

    def _child_log(self, task: TaskEntry, line: LogLine, pid: int | None) -> None:
        """A record logged in a child, to quiv's logger, saying which job and process."""
        self._logger.log(
            line.level,
            "[job %s of task %r, process %s] %s: %s",
            line.job_id or "-",
            task.name,
            pid,
            line.logger,
            line.message,
            extra={"quiv_job_id": line.job_id, "quiv_child_logger": line.logger},
        )

    def _from_process(self, job: JobEntry, ended: Ended) -> Outcome:
        """The outcome of a process job, by the rules of a thread job's (see the module)."""
        end = ended.end
        stopped = job.stopping or (end is not None and end.stopped)
        if isinstance(end, Returned):
            trigger = "cancel" if stopped else "complete"
            return self._ended(trigger, result=end.result, result_note=end.note)
        retry = job.task.settings.retry
        if isinstance(end, Raised):
            if stopped:
                cancelled = raised_matches(end, (JobCancelledError,))
                return self._ended("cancel", error=None if cancelled else end.error)
            return self._ended(
                "fail",
                error=end.error,
                retryable=retry is not None and raised_matches(end, retry.retry_on),
                exc=rebuilt_exception(end),
            )
        if ended.killed:
            return self._ended(
                "cancel",
                error=f"killed: its handler had not returned {self._processes.kill_grace:g} s "
                f"(kill_grace) after it was asked to stop; its process ({ended.pid}) was "
                "ended, and is replaced",
            )
        died = JobProcessDiedError(job.id, ended.pid, ended.exitcode)
        if job.stopping:
            return self._ended("cancel", error=describe(died))
        return self._ended(
            "fail",
            error=describe(died),
            retryable=retry is not None and retry.retries(died),
            exc=died,
        )

    def run_without_loop(self, job: JobEntry) -> None:
        """Fail a main-loop job for which no main loop runs (the scheduler started it)."""
        if self._cancelled_before_start(job, report_start=False):
            return
        if self._listeners.any:
            self._listeners.emit(Event.JOB_STARTED, lambda: (job.task.snapshot(), job.snapshot()))
        self._finished(
            job,
            self._ended(
                "fail",
                error="no running main loop for a task with on_main_loop=True: pass "
                "main_loop= to Quiv or start it from async code",
            ),
        )

    def _cancelled_before_start(self, job: JobEntry, *, report_start: bool) -> bool:
        if job.stopping:
            self._finished(job, self._ended("cancel"))
            return True
        if report_start:
            self._started(job, self._epoch(), self._clock.monotonic())
        return False

    def _call(self, job: JobEntry) -> tuple[Any, Coroutine[Any, Any, Any] | None]:
        """Call the handler; return its value and, if that is awaitable, the coroutine to run."""
        args, kwargs = self._arguments(job)
        value = job.task.func(*args, **kwargs)
        return value, resolve_awaitable(value)

    def _arguments(self, job: JobEntry) -> tuple[tuple[Any, ...], dict[str, Any]]:
        # Every run gets its own copy of the arguments, as stored: a run that mutates them,
        # or a caller that changes them after add_task, affects no other run.
        task = job.task
        settings = task.settings
        codec = settings.codec
        args = codec.decode_args(task.args_blob)
        kwargs = codec.decode_kwargs(task.kwargs_blob)
        injection = settings.injection
        if injection.job_id:
            for name in injection.job_id:
                kwargs[name] = job.id
        if injection.stop_event:
            event = job.handler_stop_event()
            for name in injection.stop_event:
                kwargs[name] = event
        if injection.progress_hook:
            hook = self._progress_hook(task, job.id)
            for name in injection.progress_hook:
                kwargs[name] = hook
        return args, kwargs

    def _progress_hook(self, task: TaskEntry, job_id: str) -> Callable[..., None]:
        callback, bridge = task.settings.progress_callback, self._bridge
        tap, logger, task_id = self._listeners.progress, self._logger, task.id
        what = f"progress callback of task {task.name!r} ({task.id})"

        def _progress_hook(*args: Any, **kwargs: Any) -> None:
            if tap.observers:  # the dashboard's view of every job (see _progress)
                tap.publish(task_id, job_id, args, kwargs, logger)
            if callback is not None and not bridge.submit(callback, args, kwargs, what):
                bridge.call_here(callback, args, kwargs, what)

        return _progress_hook

    def _ended(self, trigger: str, **details: Any) -> Outcome:
        return Outcome(trigger, self._epoch(), self._clock.monotonic(), **details)

    @staticmethod
    def _stopped(job: JobEntry) -> bool:
        """Whether the job's stop event is set: by quiv (cancel, timeout, shutdown) or by
        the handler itself. Then the job ends cancelled, whatever the handler did."""
        event = job.stop_event
        return job.stopping or (event is not None and event.is_set())

    def _returned(self, job: JobEntry, value: Any) -> Outcome:
        result, note = encode_result(value)
        trigger = "cancel" if self._stopped(job) else "complete"
        return self._ended(trigger, result=result, result_note=note)

    def _raised(self, job: JobEntry, exc: BaseException) -> Outcome:
        task = job.task
        if self._stopped(job):
            # Cancelled wins (as in quiv 0.4.0): an error raised on the way out of a stopped
            # job, such as JobCancelledError, is kept in its record, not logged as a failure.
            error = None if isinstance(exc, JobCancelledError) else describe(exc)
            self._logger.debug(
                "job %s of task %r (%s) was stopped and raised %s on its way out",
                job.id,
                task.name,
                task.id,
                type(exc).__name__,
            )
            return self._ended("cancel", error=error)
        retry = task.settings.retry
        return self._ended(
            "fail",
            error=describe(exc),
            retryable=retry is not None and retry.retries(exc),
            exc=exc,
        )

    def _abnormal(self) -> Outcome:
        return Outcome(
            "fail",
            self._epoch(),
            self._clock.monotonic(),
            error="the job ended abnormally inside quiv",
        )
