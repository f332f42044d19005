"""Instrumentation: what metrics and tracing see of each job, as plain values, at the points
where it starts and ends, for one attribute read per job while nothing is attached.

Lifecycle listeners (``_events``) build public models and deliver on the main loop; an
``Instrumentation`` gets none of that. It is called at four points:

- ``capture()`` on the thread of ``add_task``, ``run_task`` or ``run_task_immediately``: what
  it returns (a trace context, say) is kept with the task or the run, as its *origin*;
- ``job_started(run, origin)`` on the thread that runs the handler, just before it: a worker
  thread (which relays for a process job), or the main loop's thread for an
  ``on_main_loop`` job, inside the job's asyncio task;
- ``handler_returned(run)`` on that thread, in that context, as soon as the handler returned
  or raised: what ``job_started`` made current (a span) is undone here;
- ``job_ended(run, end)`` where the job's end is recorded, once its final status is known
  (``completed``, ``failed``, ``retried``, ``timed_out``, ``cancelled``, ``missed``): the
  scheduler thread, or a worker holding the scheduler's state: two calls never overlap,
  so what it alone writes needs no lock. Every job that ends gets it, whether its handler
  ran or not.

The first two pairs go to the instrumentations attached when the job started (one attached
later sees only its end); ``handler_returned`` always reaches those that got ``job_started``,
so nothing stays current on a worker thread after a detach. An instrumentation's exception
is logged on the ``Quiv`` logger and never reaches the job or the scheduler.

Cost: the hot path reads ``Instruments.observers`` (an empty tuple when nothing is
attached) once where a job starts and once where it ends, and ``add_task`` and the run
requests read it once; nothing is built unless it is non-empty.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from ._clock import Clock
    from ._entries import JobEntry

__all__ = ["Instrumentation", "Instruments", "JobEnd", "JobRun", "Origins"]


class JobRun(NamedTuple):
    """A job as instrumentation sees it: plain values, no model built (a tuple: made per
    job on the hot path, it must be cheap to make).

    Times are epoch seconds on the scheduler's clock. ``executor`` is ``"thread"``,
    ``"process"`` or ``"main_loop"``. ``due_at`` is when the run was due (its planned
    instant, jitter included; for a run asked for now, the request's instant; None if
    unknown), ``scheduled_for`` the slot of a cron, ``at=`` or shared task's run (as
    ``Job.scheduled_for``; None for the others), and ``started_at`` when its handler
    started (None for a job whose handler never ran). ``lateness`` is measured on the
    monotonic clock, so a wall-clock step does not distort it.
    """

    task_id: str
    task_name: str
    job_id: str
    attempt: int
    executor: str
    due_at: float | None = None
    scheduled_for: float | None = None
    started_at: float | None = None

    @property
    def lateness(self) -> float | None:
        """Seconds from when the run was due to when its handler started (None if either
        is unknown)."""
        if self.started_at is None or self.due_at is None:
            return None
        return self.started_at - self.due_at


class JobEnd(NamedTuple):
    """How a job ended: its final ``status`` (a ``JobStatus`` value), when, how long its
    handler ran (``duration``: None if it never started), the error text its record keeps,
    and the exception its handler raised (a ``failed`` or ``retried`` job; for a process
    job, the exception rebuilt from the child's)."""

    status: str
    ended_at: float
    duration: float | None = None
    error: str | None = None
    exception: BaseException | None = None


class Instrumentation(Protocol):
    """What ``Quiv.add_instrumentation`` takes: four methods called as the module says.

    Each is called on a hot path and should take microseconds: no I/O, no lock held for
    long. ``quiv.metrics`` and ``quiv.tracing`` implement it.
    """

    def capture(self) -> object | None:
        """On the caller's thread of ``add_task``, ``run_task`` and
        ``run_task_immediately``: what to keep with the task or run and pass to
        ``job_started`` (None: nothing)."""
        ...

    def job_started(self, run: JobRun, origin: object | None) -> None:
        """Just before the handler, on the thread (and in the context) it runs in;
        ``origin``: what ``capture`` returned for the run (or else for its task)."""
        ...

    def handler_returned(self, run: JobRun) -> None:
        """Just after the handler returned or raised, where ``job_started`` was called."""
        ...

    def job_ended(self, run: JobRun, end: JobEnd) -> None:
        """Once the job's end is recorded, with its final status; never two at once."""
        ...


_METHODS = ("capture", "job_started", "handler_returned", "job_ended")

# What the attached instrumentations captured at a call: each with its own value.
Origins = tuple[tuple[Instrumentation, object], ...]


def _origin_for(origins: Origins | None, observer: Instrumentation) -> object | None:
    if origins is not None:
        for owner, value in origins:
            if owner is observer:
                return value
    return None


def executor_of(job: JobEntry) -> str:
    """Where ``job``'s handler runs: ``"thread"``, ``"process"`` or ``"main_loop"``."""
    settings = job.task.settings
    return "main_loop" if settings.on_main_loop else settings.executor


class Instruments:
    """The instrumentations attached to one scheduler, and the calls out to them.

    ``observers`` is a tuple replaced whole (copy on write) under a lock: the hot path reads
    it without one. O(k) per call for k attached.
    """

    __slots__ = ("_epoch", "_lock", "_logger", "_monotonic", "observers")

    def __init__(self, clock: Clock, epoch: Callable[[], float], logger: logging.Logger) -> None:
        self.observers: tuple[Instrumentation, ...] = ()
        self._monotonic = clock.monotonic
        self._epoch = epoch
        self._logger = logger
        self._lock = threading.Lock()

    def add(self, observer: Instrumentation) -> None:
        """Attach ``observer`` (once: attaching it again does nothing)."""
        missing = [name for name in _METHODS if not callable(getattr(observer, name, None))]
        if missing:
            raise ConfigurationError(
                f"an instrumentation needs the methods {', '.join(_METHODS)}; "
                f"{observer!r} lacks {', '.join(missing)}"
            )
        with self._lock:
            if not any(o is observer for o in self.observers):
                self.observers = (*self.observers, observer)

    def remove(self, observer: Instrumentation) -> None:
        """Detach ``observer``; one never attached is ignored."""
        with self._lock:
            self.observers = tuple(o for o in self.observers if o is not observer)

    def capture(self) -> Origins | None:
        """What the attached instrumentations keep of the calling context, or None."""
        captured: list[tuple[Instrumentation, object]] = []
        for observer in self.observers:
            try:
                value = observer.capture()
            except Exception:
                self._logger.exception("instrumentation %r failed in capture", observer)
                continue
            if value is not None:
                captured.append((observer, value))
        return tuple(captured) or None

    def started(self, job: JobEntry, observers: tuple[Instrumentation, ...]) -> JobRun:
        """``job``'s handler is about to start here: tell ``observers`` (those attached
        now, which the caller read) and keep the ``JobRun`` with the job for its end."""
        mono, at = self._monotonic(), self._epoch()
        due = job.due
        run = _run_of(job, None if due is None else at - (mono - due), at)
        job.run = run
        origins = job.origin if job.origin is not None else job.task.origin
        for observer in observers:
            try:
                observer.job_started(run, _origin_for(origins, observer))
            except Exception:
                self._logger.exception("instrumentation %r failed in job_started", observer)
        return run

    def returned(self, run: JobRun, observers: tuple[Instrumentation, ...]) -> None:
        """The handler of ``run`` returned or raised: tell the ``observers`` that
        ``started`` told."""
        for observer in observers:
            try:
                observer.handler_returned(run)
            except Exception:
                self._logger.exception("instrumentation %r failed in handler_returned", observer)

    def ended(self, job: JobEntry, exception: BaseException | None) -> None:
        """``job``'s end is recorded (its state, end time and duration are set): tell the
        instrumentations attached now."""
        run = job.run
        if run is None:  # its handler never ran, or ran before they were attached
            run = _run_of(job, None, job.started_at)
        end = JobEnd(
            job.state.value,
            job.ended_at if job.ended_at is not None else self._epoch(),
            job.duration if job.started_at is not None else None,
            job.error,
            exception,
        )
        for observer in self.observers:
            try:
                observer.job_ended(run, end)
            except Exception:
                self._logger.exception("instrumentation %r failed in job_ended", observer)


def _run_of(job: JobEntry, due_at: float | None, started_at: float | None) -> JobRun:
    """The ``JobRun`` of ``job``: due at ``due_at`` and started at ``started_at`` (epoch)."""
    task = job.task
    return JobRun(
        task.id, task.name, job.id, job.attempt, executor_of(job), due_at, job.slot, started_at
    )
