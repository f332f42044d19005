"""``Quiv``, the façade: the public surface of quiv 0.4.0 and 1.4.0, one class of delegations.

One piece: of more than 300 lines, because ``Quiv`` is the one class that applications
written for quiv 0.4.0 and for quiv 1.4.0 call, and the docstrings of its public methods are
the API reference (``docs/reference/api.md`` renders this class). Every public method keeps
its signature and its docstring here, and those alone are most of the class (``add_task``'s
take some seventy lines). Splitting the class across files would scatter the reference, so
it stays whole, and its methods delegate to the modules that own each concept:

- ``_lifecycle``: the parts built from the constructor's arguments, start and shutdown;
- ``_task_options``: ``add_task``'s and ``update_task``'s arguments checked into a task or
  a change;
- ``_registration``: a built task added (by key, if it has one), changed in place, or run
  now;
- ``_queries``: the reads (tasks, jobs, ``stats``, ``next_run_times``);
- ``_waiting``: the waits for a job or a task's next job.

What stays here is a call or two on the scheduler (pause, resume, remove, cancel, the fast
path of ``run_task_immediately``) and the checks that come first. On the hot paths
(``add_task``, ``run_task_immediately``) the delegation costs one call to each owner, with
the arguments passed on as given, and no other work per call.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import datetime, tzinfo
from enum import Enum
from functools import partial
from typing import Any

from ._clock import Clock
from ._config import QuivConfig, check_id, check_number
from ._instruments import Instrumentation
from ._invocation import resolve_awaitable, run_coroutine_here
from ._lifecycle import Lifespan, build_parts
from ._queries import Queries
from ._registration import Registrar
from ._schedule import Misfire, RetryPolicy
from ._scheduler import Lifecycle, SchedulerStatistics
from ._task_options import UNSET, TaskBuilder, _Unset  # _Unset: as the signatures show it
from ._waiting import Waiter
from .exceptions import ConfigurationError, HandlerRegistrationError
from .models import Event, Job, JobStatus, QuivStats, RunTime, Task, TaskStatus
from .schedules import Schedule

__all__ = ["Quiv"]

DEFAULT_SHUTDOWN_TIMEOUT = 10.0


class _Default(Enum):
    """The type of ``DEFAULT``: "use the value configured on the Quiv"."""

    DEFAULT = "default"


DEFAULT = _Default.DEFAULT


class Quiv:
    """An in-process scheduler: interval and one-shot tasks run on a pool of worker threads.

    ``config`` or the three settings may be given, not both. ``timezone`` only formats log
    output: everything stored and returned is UTC. ``logger`` defaults to the logger named
    ``"Quiv"`` (quiv sets no level on it). ``main_loop`` is where progress callbacks,
    listeners and ``run_on_main`` run; when omitted it is the loop running when ``start()``
    (or another call) is made from async code. ``clock`` is for tests (``quiv.testing``).

    Tasks added with ``executor="process"`` run in a pool of up to ``process_pool_size``
    child processes (started when a job first needs one, with ``process_start_method``:
    ``"forkserver"`` or ``"spawn"``; None picks forkserver where the platform has it). A
    process job asked to stop (``cancel_job``, a timeout, shutdown) that has not returned
    ``kill_grace`` seconds later is killed, and its process replaced. These three are
    settings of ``config`` too; pass them there or here, not both.

    Construction does no I/O beyond creating the private temporary database, so a ``Quiv``
    can be built at module import time. Tasks may be added before ``start()``; nothing runs
    until then.
    """

    def __init__(
        self,
        config: QuivConfig | None = None,
        pool_size: int = 10,
        history_retention_seconds: int = 86400,
        timezone: str | tzinfo = "UTC",
        *,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
        main_loop: asyncio.AbstractEventLoop | None = None,
        clock: Clock | None = None,
        shutdown_timeout: float | None = DEFAULT_SHUTDOWN_TIMEOUT,
        database_url: str | os.PathLike[str] | None = None,
        process_pool_size: int = 2,
        kill_grace: float = 5.0,
        process_start_method: str | None = None,
    ) -> None:
        (
            config, zone, self.shutdown_timeout, logger, clock, epoch,
            bridge, listeners, store, node, scheduler,
        ) = build_parts(
            config, pool_size, history_retention_seconds, timezone, logger=logger,
            main_loop=main_loop, clock=clock, shutdown_timeout=shutdown_timeout,
            database_url=database_url, process_pool_size=process_pool_size,
            kill_grace=kill_grace, process_start_method=process_start_method,
        )  # fmt: skip
        self.config = config
        self._bridge, self._listeners, self._store, self._node = bridge, listeners, store, node
        self._scheduler = scheduler
        self._logger = logger
        life = Lifespan(self, scheduler, listeners, store, bridge, logger, config.pool_size)
        self._life = life
        self._builder = TaskBuilder(
            zone, clock, epoch, store.codec, durable=store.durable, node=node
        )
        self._registrar = Registrar(scheduler, store, listeners, logger, clock, epoch, zone)
        self._queries = queries = Queries(
            store, scheduler, bridge, logger, usable=life.usable, zone=zone,
            pool_size=config.pool_size,
        )  # fmt: skip
        self._waiter = Waiter(scheduler, store, usable=life.usable, get_job=queries.get_job)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def lifecycle(self) -> Lifecycle:
        """``created``, ``running``, ``stopping`` or ``stopped``."""
        return self._life.state

    def start(self) -> None:
        """Start the scheduler thread. Calling it again while running does nothing.

        Raises ``SchedulerStateError`` after ``shutdown()``: a stopped scheduler has deleted
        its database and cannot be restarted; build a new one.
        """
        self._life.start()

    def startup(self) -> None:
        """Alias of ``start()``."""
        self.start()

    def shutdown(self, *, timeout: float | _Default | None = DEFAULT) -> None:
        """Stop the scheduler; idempotent. A call made while another thread's shutdown is
        under way waits for that one to finish (up to this call's own bound).

        Sets the stop event of every running job, stops scheduling, waits up to ``timeout``
        seconds (None: without limit) for running jobs to return, hands pending events to
        the listeners (waiting up to ``max(timeout, 1)`` more seconds, 5 with None, for the
        dispatcher; on the main loop they run once the loop is free again), and deletes the
        temporary database. A job still running after ``timeout`` is recorded as cancelled
        and its daemon thread left to finish on its own. A process job is killed
        ``kill_grace`` seconds after its stop event was set (at once, if ``timeout`` ran
        out first), and every child process has ended when this returns. Called from a
        coroutine, it blocks the loop meanwhile: ``await asyncio.to_thread(quiv.shutdown)``
        does not.
        """
        if isinstance(timeout, _Default):
            timeout = self.shutdown_timeout
        elif timeout is not None:
            timeout = check_number("timeout", timeout)
        self._life.shutdown(timeout)

    def stop(self, *, timeout: float | _Default | None = DEFAULT) -> None:
        """Alias of ``shutdown()``."""
        self.shutdown(timeout=timeout)

    # -- tasks --------------------------------------------------------------------------

    def add_task(
        self,
        task_name: str,
        func: Callable[..., Any],
        interval: float | None = None,
        delay: float = 0,
        run_once: bool = False,
        fixed_interval: bool = True,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        progress_callback: Callable[..., Any] | None = None,
        *,
        timeout: float | None = None,
        retries: int | RetryPolicy = 0,
        on_main_loop: bool = False,
        cron: str | None = None,
        at: datetime | None = None,
        timezone: str | tzinfo | None = None,
        misfire: Misfire | str = Misfire.COALESCE,
        misfire_grace: float = 1.0,
        jitter: float = 0.0,
        key: str | None = None,
        scope: str = "deployment",
        run_at: datetime | None = None,
        max_retries: int | None = None,
        retry_backoff: float | None = None,
        schedule: Schedule | None = None,
        executor: str = "thread",
        max_instances: int = 1,
    ) -> str:
        """Register ``func`` to run on a schedule; return the task's id.

        The schedule is exactly one of: ``schedule`` (a ``quiv.schedules`` value: an
        ``Interval``, ``Cron``, ``At``, ``Calendar``, or a combination ``AnyOf``/``AllOf``,
        each with an optional start and end), or its shorthands ``interval`` (seconds: every
        ``interval`` s, first after ``delay`` s), ``cron`` (a cron expression, such as
        ``"0 3 * * *"``) or ``at`` (a ``datetime``: once, at that time). ``timezone`` is the
        zone a cron expression and a naive ``at`` are read in (an IANA name or a tzinfo;
        default: this Quiv's zone). A task whose schedule has no run left (past its end)
        ends on its own.

        ``fixed_interval=True`` keeps the cadence of the runs' due times (runs missed while
        one overran are skipped); ``False`` waits ``interval`` after each run ends.
        ``run_once=True`` runs once after ``delay``, then the task is gone. ``args`` (a
        tuple) and ``kwargs`` (a dict) are passed to every run and must be picklable.
        ``progress_callback`` receives what the handler passes to ``_progress_hook``.

        ``misfire``: what a regular run later than ``misfire_grace`` seconds does:
        ``"coalesce"`` (run once now, then resume the cadence) or ``"skip"`` (record the run
        as ``missed`` and wait for the next slot). ``jitter``: up to that many seconds of
        random delay added to each run, to spread load.

        ``key``: the application's stable name for the task. Registering a key again (in
        this process, or after a restart on a durable store) re-binds that task to the new
        handler and settings instead of adding another; it keeps its id, its status (a
        paused task stays paused) and, if the schedule is unchanged, its next run. A changed
        schedule is planned afresh. ``scope`` says whose task a key names: ``"deployment"``
        (the default) is one task for every process on a durable store, each run of which
        runs in exactly one process; ``"process"`` is this process's own task, run by each
        process that registers it (and gone with the process).

        ``timeout``: seconds a job may run; then its stop event is set (and, on the main
        loop, its asyncio task cancelled), and it ends ``timed_out`` once the handler
        returns. ``retries``: how many more attempts follow a failure (an int, with the
        default backoff), or a ``RetryPolicy``. ``on_main_loop=True`` runs an ``async def``
        handler as a task on the main loop instead of on a worker thread's own loop (it
        still counts against ``pool_size``); it needs a running main loop when it starts.

        ``executor="process"`` runs the handler in a process of this Quiv's pool
        (``process_pool_size``) instead of on a worker thread: for CPU-bound work, and for
        handlers that must be stoppable. The handler must be a function defined at the top
        level of a module (a child process imports it by name: no lambda, no function
        defined inside another, no bound method), else ``ConfigurationError``; its
        arguments cross by the store's codec and its result as JSON, as always. Injection
        works as on a thread (the stop event, the progress hook, whose reports reach
        ``progress_callback`` here in order, the job id), and records it logs reach this
        Quiv's logger with the job's id. A job asked to stop (``cancel_job``, ``timeout``,
        shutdown) that has not returned ``kill_grace`` seconds later is killed, and ends
        ``cancelled`` or ``timed_out`` saying so; a process that dies on its own fails its
        job (``JobProcessDiedError``), which retries as any failure. Not with
        ``on_main_loop=True``.

        ``max_instances``: how many jobs of the task may run at once (default 1). With more,
        a fixed cadence (a fixed interval, cron, calendar) plans its next run as each run
        starts, so runs overlap when a handler takes longer than the gap between slots,
        up to ``max_instances``; then the task waits for one to end, and the slots that
        passed meanwhile coalesce into one run (or are skipped by ``misfire``), as with
        one. ``fixed_interval=False`` counts from each end, so only runs asked for
        (``run_task``, ``run_task_immediately``) overlap. Not for a one-shot task, nor a
        task shared by every process (a key on a durable store).

        quiv 1.4.0's spellings work too: ``run_at`` (a ``datetime``; naive is UTC) is the
        first run of an interval task instead of ``delay``, or the one run of a
        ``run_once=True`` task given no interval; ``max_retries`` and ``retry_backoff``
        (seconds, doubling at each retry) stand for ``retries=RetryPolicy(...)``.

        Listeners of ``task_added`` have run when this returns.
        """
        self._life.usable("add a task")
        task, first, expired = self._builder.build(
            task_name, func, interval, delay, run_once, fixed_interval, args, kwargs,
            progress_callback, timeout, retries, on_main_loop, cron, at, timezone, misfire,
            misfire_grace, jitter, key, scope, run_at, max_retries, retry_backoff, schedule,
            executor, max_instances,
        )  # fmt: skip
        return self._registrar.add(task, first, expired)

    def remove_task(self, task_id: str) -> None:
        """Delete a task; its running job, if any, gets its stop event set.

        Raises ``TaskNotFoundError`` for an unknown id.
        """
        self._life.usable("remove a task")
        check_id("task_id", task_id)
        self._scheduler.call(partial(self._scheduler.tasks.remove, task_id))
        self._scheduler.shared_written()  # every process's reads see it from now on

    def pause_task(self, task_id: str) -> None:
        """Schedule no further runs until ``resume_task``; a running job goes on.

        Raises ``TaskNotFoundError`` for an unknown id.
        """
        self._life.usable("pause a task")
        check_id("task_id", task_id)
        self._scheduler.call(partial(self._scheduler.tasks.pause, task_id))
        self._scheduler.shared_written()

    def resume_task(self, task_id: str, delay: float = 0) -> None:
        """Make the next run due ``delay`` seconds from now (after a running job ends).

        Also reschedules a task that was not paused. Raises ``TaskNotFoundError`` for an
        unknown id and ``ConfigurationError`` for a negative or non-finite delay.
        """
        self._life.usable("resume a task")
        check_id("task_id", task_id)
        delay = check_number("delay", delay)
        self._scheduler.call(partial(self._scheduler.tasks.resume, task_id, delay))
        self._scheduler.shared_written()

    def run_task_immediately(self, task_id: str) -> int:
        """Make a run of the task due now and return 1.

        A paused task runs once and stays paused. While a job of the task runs, the new
        run starts right after it ends (several requests then make one run). The run is
        not waited for (``run_task`` waits, and returns the job's id): while the scheduler
        thread sleeps with nothing queued, this call hands the job to a worker itself;
        otherwise it queues the request for that thread, and a task that ends before the
        thread reads it makes no run. Raises
        ``HandlerNotRegisteredError`` for an id quiv does not know, and
        ``TaskNotScheduledError`` for a task that is gone but whose jobs are still in the
        history (a run-once task that has run, or a removed one).
        """
        self._life.usable("run a task")
        check_id("task_id", task_id)
        if self._scheduler.run_soon(task_id):  # made here, or sent and not waited for
            return 1
        self._registrar.run_task(task_id)  # a run, or the error that says why there is none
        return 1

    def run_task(self, task_id: str) -> str:
        """Run the task now (right after its running job, if any) and return the new job's id.

        The job exists at once, ``scheduled``, so ``get_job``, ``cancel_job`` and
        ``wait_for_job`` work on it straight away. A job already made ahead for the task (an
        earlier ``run_task``, a pending retry) is that run: it is made due now and its id
        returned. On a run-once task that is running, the running job's id is returned.
        A paused task runs once and stays paused. Errors as ``run_task_immediately``.
        """
        self._life.usable("run a task")
        check_id("task_id", task_id)
        return self._registrar.run_task(task_id)

    def wait_for_job(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job's run has ended and return its final ``Job``.

        A job that ends ``retried`` is followed to its last attempt, whose ``Job`` (another
        id, a higher ``attempt``) is returned. Returns at once for a job that has already
        ended. Raises ``JobNotFoundError`` for an unknown (or purged) id and
        ``WaitTimeoutError`` when ``timeout`` seconds pass first (the job goes on). Do not
        call it on the main loop: ``await wait_for_job_async``.
        """
        return self._waiter.wait_for_job(job_id, timeout)

    async def wait_for_job_async(self, job_id: str, timeout: float | None = None) -> Job:
        """``wait_for_job`` for async code: awaits the run's end without blocking the loop."""
        return await self._waiter.wait_for_job_async(job_id, timeout)

    def cancel_job(self, job_id: str) -> bool:
        """Set the stop event of a scheduled or running job; True if there was one to set.

        The handler decides when to return; the job then ends ``cancelled``. On a durable
        store, a job that another process runs is asked to cancel: that process picks the
        request up within about a second.
        """
        self._life.usable("cancel a job")
        check_id("job_id", job_id)
        if self._scheduler.call(partial(self._scheduler.runs.cancel_job, job_id)):
            return True
        # On a durable store the job may run in another process: ask it to.
        return self._store.durable and self._store.request_cancel(job_id)

    def run_async(
        self,
        task: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        """Run ``task(*args, **kwargs)`` to completion on a temporary event loop; block until done.

        Kept from quiv 0.4.0 for code that drives a coroutine from a worker thread. Called
        on a thread that runs a loop already, the temporary loop gets a thread of its own.
        The coroutine's exception, if any, is raised here.
        """
        if not callable(task):
            raise HandlerRegistrationError("task", task)
        coroutine = resolve_awaitable(task(*(args or ()), **(kwargs or {})))
        if coroutine is None:
            raise ConfigurationError(f"run_async needs an async callable, got {task!r}")
        run_coroutine_here(coroutine)

    # -- reads --------------------------------------------------------------------------

    def next_run_times(self, task_id: str, count: int = 5) -> list[RunTime]:
        """The next ``count`` runs planned for a task (for a UI), each in UTC and in the
        task's zone (a cron or at= task's own, else this Quiv's); fewer for a one-shot task,
        none for a paused one. The first is the planned run, jitter included; later ones are
        its regular slots (without jitter; an interval with ``fixed_interval=False`` is shown
        as if runs took no time).

        Raises ``TaskNotFoundError`` and ``ConfigurationError`` for a bad ``count``.
        """
        return self._queries.next_run_times(task_id, count)

    def update_task(
        self,
        task_id: str,
        *,
        task_name: str | _Unset = UNSET,
        interval: float | _Unset = UNSET,
        fixed_interval: bool | _Unset = UNSET,
        args: tuple[Any, ...] | _Unset | None = UNSET,
        kwargs: dict[str, Any] | _Unset | None = UNSET,
        timeout: float | _Unset | None = UNSET,
        max_retries: int | _Unset = UNSET,
        retry_backoff: float | _Unset = UNSET,
        jitter: float | _Unset = UNSET,
        progress_callback: Callable[..., Any] | _Unset | None = UNSET,
        run_at: datetime | _Unset = UNSET,
    ) -> Task:
        """Change a task in place (quiv 1.4.0's ``update_task``); return it as it is now.

        Only what is passed changes; ``None`` means none (``timeout=None`` turns the timeout
        off, ``progress_callback=None`` removes the callback). It keeps its id, its status
        and its key. A new ``interval`` (interval tasks only) makes the next run due an
        interval from now; ``run_at`` (a ``datetime``; naive is UTC) moves the next run
        there, after the running job if one runs (not with ``interval``). A running job
        goes on as it began; the changes apply from the next run. Emits ``task_updated``,
        whose listeners have run when this returns.

        Raises ``TaskNotFoundError``, ``ConfigurationError`` for a bad value (as
        ``add_task``) or for a task shared by several processes, ``TaskNotActiveError``
        for ``run_at`` on a paused task and ``TaskRunningError`` for ``run_at`` on a
        one-shot task whose run is under way.
        """
        self._life.usable("update a task")
        check_id("task_id", task_id)
        return self._registrar.update(
            task_id, task_name, interval, fixed_interval, args, kwargs, timeout, max_retries,
            retry_backoff, jitter, progress_callback, run_at,
        )  # fmt: skip

    def wait_for_task(self, task_id: str, timeout: float | None = None) -> Job:
        """Block until the next job of a task ends and return it (quiv 1.4.0's).

        That job is the one running (or asked for) now, else the next one made; for a
        one-off task whose run is already over, its last job. A job that is retried is
        followed to its last attempt, as ``wait_for_job`` does. (For a repeating task whose
        run may be over before the call, ``wait_for_job(run_task(task_id))`` is exact.)
        Raises ``TaskNotFoundError`` for an unknown task or one removed before its next
        job, ``TaskNotActiveError`` for a paused task with nothing under way or asked for,
        and ``WaitTimeoutError`` when ``timeout`` seconds pass first.
        """
        return self._waiter.wait_for_task(task_id, timeout)

    async def await_job(self, job_id: str, timeout: float | None = None) -> Job:
        """``wait_for_job`` for async code (quiv 1.4.0's name of ``wait_for_job_async``)."""
        return await self.wait_for_job_async(job_id, timeout)

    async def await_task(self, task_id: str, timeout: float | None = None) -> Job:
        """``wait_for_task`` for async code: waits on a thread, not on the loop."""
        return await asyncio.to_thread(self.wait_for_task, task_id, timeout)

    def run_progress_callback(self, task_id: str, *args: Any, **kwargs: Any) -> None:
        """Call a task's progress callback with these arguments, as its handler's
        ``_progress_hook`` would (on the main loop if one runs, else here); nothing if it
        has none. Kept from quiv 0.4.0. ``TaskNotFoundError`` for an unknown task."""
        self._life.usable("run a progress callback")
        check_id("task_id", task_id)
        callback = self._scheduler.call(partial(self._scheduler.runs.progress_callback, task_id))
        tap = self._listeners.progress
        if tap.observers:  # a report of the task, not of one job (see _progress)
            tap.publish(task_id, None, args, kwargs, self._logger)
        if callback is None:
            return
        what = f"progress callback of task {task_id}"
        if not self._bridge.submit(callback, args, kwargs, what):
            self._bridge.call_here(callback, args, kwargs, what)

    @property
    def is_running(self) -> bool:
        """Whether the scheduler is started and not shut down (quiv 1.4.0's)."""
        return self._life.state is Lifecycle.RUNNING

    def pending_main_loop_work(self) -> int:
        """How many ``run_on_main``/``call_on_main`` calls the main loop has not finished.

        ``shutdown`` neither waits for them nor cancels them (the loop is the
        application's): poll this before closing the loop. Cheap: it reads one counter.
        """
        return self._bridge.pending

    def stats(self) -> QuivStats:
        """A snapshot of the scheduler (quiv 1.4.0's ``QuivStats``); see also
        ``statistics()``."""
        return self._queries.stats()

    def get_task(self, task_id: str) -> Task:
        """The task with this id; ``TaskNotFoundError`` if there is none."""
        return self._queries.get_task(task_id)

    def get_all_tasks(
        self,
        include_run_once: bool = False,
        status: TaskStatus | str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Task]:
        """Tasks in the order they were added; run-once tasks only when asked for; only
        those of one ``status`` if given; ``limit`` of them from ``offset`` (a page)."""
        return self._queries.get_all_tasks(include_run_once, status, limit, offset)

    def get_job(self, job_id: str) -> Job:
        """The job with this id; ``JobNotFoundError`` if there is none (or it was purged)."""
        return self._queries.get_job(job_id)

    def get_all_jobs(
        self,
        status: JobStatus | str | None = None,
        task_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        order_by: str = "started_at",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Job]:
        """Jobs of the history, oldest first, filtered and a page of them.

        ``status`` is a ``JobStatus`` or its value; ``task_id`` keeps one task's jobs;
        ``since``/``until`` bound the start (or, for a job that never started, the time it
        was made; naive datetimes are UTC); ``order_by`` is ``"started_at"`` or
        ``"ended_at"`` (jobs not ended last), ``descending=True`` puts the newest first
        (quiv 1.4.0's default; this one keeps 0.4.0's oldest first); ``limit`` jobs from
        ``offset``. A bad value is a ``ConfigurationError``.
        """
        return self._queries.get_all_jobs(
            status, task_id, since, until, order_by, descending, limit, offset
        )

    def statistics(self) -> SchedulerStatistics:
        """A snapshot of the load: tasks, pending deadlines, running jobs, free workers..."""
        self._life.usable("read statistics")
        return self._scheduler.call(self._scheduler.statistics)

    # -- listeners ----------------------------------------------------------------------

    def add_listener(self, event: Event, callback: Callable[..., Any]) -> None:
        """Call ``callback`` on ``event``: ``(event, task)`` or ``(event, task, job)``.

        Listeners run in registration order, where quiv 0.4.0 ran them: on the main loop
        when one runs; else a task event's on the thread of the call that made it (before
        that call returns) and a job's on the worker that runs it (``job_started`` before
        the handler, its end once recorded). Their failures are logged, never raised.
        ``ConfigurationError`` for an event that is not an ``Event``,
        ``HandlerRegistrationError`` for a callback that is not callable.
        """
        self._listeners.add(event, callback)

    def remove_listener(self, event: Event, callback: Callable[..., Any]) -> None:
        """Stop calling ``callback`` on ``event``; an unknown callback is ignored."""
        self._listeners.remove(event, callback)

    def add_instrumentation(self, instrumentation: Instrumentation) -> None:
        """Attach an ``Instrumentation``: told of every job's start and end as plain values,
        on the threads that run and record it (``quiv.metrics`` and ``quiv.tracing`` use
        this; see ``Instrumentation`` for when each method is called). Unlike listeners it
        costs the hot path nothing while none is attached, and no model is built for it.
        Attaching one twice does nothing; ``ConfigurationError`` for an object without its
        four methods.
        """
        self._scheduler.instruments.add(instrumentation)

    def remove_instrumentation(self, instrumentation: Instrumentation) -> None:
        """Detach an instrumentation; one not attached is ignored. A job under way when it
        is detached still gets its ``handler_returned``, not its ``job_ended``."""
        self._scheduler.instruments.remove(instrumentation)
