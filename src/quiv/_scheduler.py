"""The scheduler thread: the one owner of the timing structure and of task and job state.

API callers and workers never touch that state. They post commands (plain callables) to an
inbox, a deque plus a wake-up event, and the scheduler thread runs them in order. A caller
that needs an answer waits for it (``call``); workers and ``add_task`` do not wait. Before
``start`` there is no thread, and ``call`` runs the command inline under a lock instead.

Each loop turn: run the commands in the inbox, start the jobs that are due (no more than
there are free workers: the rest stay in the timing structure, there is no other queue), purge
expired history when its own deadline came, then sleep until the earliest deadline or the
next wake-up. There is no polling tick.
"""

from __future__ import annotations

import logging
import pickle
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any, TypeVar

from ._bridge import MainLoop, current_bridge
from ._clock import Clock
from ._events import Listeners
from ._invocation import Injection, resolve_awaitable, run_coroutine_here
from ._machines import JOB_MACHINE, TASK_MACHINE, TaskState
from ._schedule import next_after_run
from ._store import Store
from ._threads import start_thread
from ._timing import Timeline
from ._workers import WorkerPool
from .exceptions import SchedulerStateError, TaskNotFoundError
from .models import Event, Job, JobStatus, Task, TaskStatus

__all__ = ["JobEntry", "Scheduler", "SchedulerStatistics", "TaskEntry"]

T = TypeVar("T")

LATE_START_WARNING_SECONDS = 1.0
LATE_START_SUMMARY_SECONDS = 10.0


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _describe(exc: BaseException) -> str:
    """The error message stored for a failed job: ``str(exc)``, else the exception's type."""
    try:
        return str(exc) or type(exc).__name__
    except Exception:  # a __str__ that raises
        return type(exc).__name__


@dataclass(eq=False, slots=True)
class TaskEntry:
    """A task as the scheduler thread knows it."""

    id: str
    name: str
    func: Callable[..., Any]
    args_blob: bytes
    kwargs_blob: bytes
    interval: float
    fixed_interval: bool
    run_once: bool
    injection: Injection
    progress_callback: Callable[..., Any] | None
    next_run_at: float  # UTC epoch seconds, as stored
    state: TaskState = TaskState.ACTIVE
    job: JobEntry | None = None
    # A run asked for (run now, resume) while a job ran: its monotonic deadline.
    follow_up: float | None = None
    # The status it had when it was removed or ended; snapshots of it show that.
    final_status: TaskStatus | None = None

    @property
    def status(self) -> TaskStatus:
        """The status stored for this task (or last stored, once it is gone)."""
        if self.final_status is not None:
            return self.final_status
        return self.state.status

    def row(self) -> dict[str, Any]:
        """Every stored column."""
        return {
            "id": self.id,
            "task_name": self.name,
            "args": self.args_blob,
            "kwargs": self.kwargs_blob,
            "interval_seconds": self.interval,
            "fixed_interval": self.fixed_interval,
            "run_once": self.run_once,
            "status": self.status.value,
            "next_run_at": self.next_run_at,
        }

    def snapshot(self) -> Task:
        """The public model of this task now."""
        return Task(
            id=self.id,
            task_name=self.name,
            args=pickle.loads(self.args_blob),
            kwargs=pickle.loads(self.kwargs_blob),
            interval_seconds=self.interval,
            fixed_interval=self.fixed_interval,
            run_once=self.run_once,
            status=self.status.value,
            next_run_at=_utc(self.next_run_at),
        )


@dataclass(eq=False, slots=True)
class JobEntry:
    """A job in flight: from dispatch until the scheduler thread records its end."""

    id: str
    task: TaskEntry
    anchor: float  # the monotonic instant the run was due; fixed cadences count from it
    created_at: float  # UTC epoch
    state: JobStatus = JobStatus.SCHEDULED
    stop_event: threading.Event = field(default_factory=threading.Event)
    started_at: float | None = None
    started_mono: float | None = None
    ended_at: float | None = None
    duration: float | None = None
    error: str | None = None

    def row(self) -> dict[str, Any]:
        """Every stored column."""
        return {
            "id": self.id,
            "task_id": self.task.id,
            "task_name": self.task.name,
            "status": self.state.value,
            "started_at": self.started_at if self.started_at is not None else self.created_at,
            "ended_at": self.ended_at,
            "duration_seconds": self.duration,
            "error_message": self.error,
        }

    def snapshot(self) -> Job:
        """The public model of this job now."""
        row = self.row()
        return Job(
            id=self.id,
            task_id=self.task.id,
            task_name=self.task.name,
            status=self.state.value,
            started_at=_utc(row["started_at"]),
            ended_at=None if self.ended_at is None else _utc(self.ended_at),
            duration_seconds=self.duration,
            error_message=self.error,
        )


@dataclass(frozen=True)
class SchedulerStatistics:
    """A snapshot of the scheduler's load, from ``Quiv.statistics()``."""

    tasks: int
    pending_deadlines: int
    running_jobs: int
    free_workers: int
    late_starts: int
    jobs_started: int
    store_write_failures: int


class Lifecycle(str, Enum):
    """Where a scheduler is in its life."""

    CREATED = "created"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class _Reply:
    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class Scheduler:
    """Dispatch of one ``Quiv``: owns tasks, jobs in flight, deadlines, and the workers."""

    def __init__(
        self,
        *,
        pool_size: int,
        retention: float,
        clock: Clock,
        store: Store,
        listeners: Listeners,
        bridge: MainLoop,
        logger: logging.Logger,
    ) -> None:
        self.pool_size = pool_size
        self._retention = retention
        self._clock = clock
        self._store = store
        self._listeners = listeners
        self._bridge = bridge
        self._logger = logger
        self._tasks: dict[str, TaskEntry] = {}
        self._jobs: dict[str, JobEntry] = {}
        self._timeline: Timeline[str] = Timeline()
        self._purge_at: float | None = None
        self._purge_pending = False
        self._running = 0
        self._late_starts = 0
        self._late_unreported = 0
        self._late_max = 0.0
        self._late_reported_at: float | None = None
        self._jobs_started = 0
        self._workers = WorkerPool(pool_size, "quiv-worker")
        self._inbox: deque[Callable[[], None]] = deque()
        self._wake = threading.Event()
        self._inline_lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._abandon = False
        self._barriers: list[threading.Event] = []
        self._closed = False
        self._started_mono = 0.0

    # -- commands ---------------------------------------------------------------------

    def send(self, command: Callable[[], None]) -> None:
        """Queue an API caller's ``command`` and return; ``SchedulerStateError`` once stopped.

        The check and the queueing are one step under the lock that ``stop`` takes to
        close the door, so no command can slip in behind the last one the thread runs.
        """
        with self._inline_lock:
            if self._closed:
                raise SchedulerStateError("schedule work", "stopped", "build a new Quiv")
            if self._thread is None:
                command()
                return
            self._inbox.append(command)
        self._nudge()

    def post(self, command: Callable[[], None]) -> None:
        """Queue an internal ``command`` (a worker's, a timer's) and wake the thread."""
        if self._thread is None:
            with self._inline_lock:
                if self._thread is None:
                    command()
                    return
        self._inbox.append(command)
        self._nudge()

    def _nudge(self) -> None:
        # is_set() is a plain read; set() takes a lock. The thread clears the flag before
        # it looks at the inbox, so a skipped set() can never be a lost wake-up.
        if not self._wake.is_set():
            self._wake.set()

    def call(self, command: Callable[[], T]) -> T:
        """Run ``command`` on the scheduler thread and return its result (or raise its error).

        ``SchedulerStateError`` once the scheduler is stopped.
        """
        reply = _Reply()

        def _run() -> None:
            try:
                reply.value = command()
            except BaseException as exc:
                reply.error = exc
            reply.done.set()

        with self._inline_lock:
            if self._closed:
                raise SchedulerStateError("reach the scheduler", "stopped", "build a new Quiv")
            if self._thread is None:
                return command()
            self._inbox.append(_run)
        self._nudge()
        while not reply.done.wait(1.0):
            thread = self._thread
            if thread is None or not thread.is_alive():  # only if the thread itself died
                raise SchedulerStateError("reach the scheduler", "stopped", "build a new Quiv")
        if reply.error is not None:
            raise reply.error
        return reply.value  # type: ignore[no-any-return]

    def settle(self, timeout: float) -> bool:
        """Wait until the thread has run every command posted before and then made one
        dispatch pass at the clock's current time; False on timeout. Not started: True."""
        if self._thread is None:
            return True
        barrier = threading.Event()
        self.post(lambda: self._barriers.append(barrier))
        return barrier.wait(timeout)

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduler thread; commands run on it from now on."""
        self._started_mono = self._clock.monotonic()
        self._store.start()
        with self._inline_lock:
            self._thread = start_thread(self._run, "quiv-scheduler")

    def stop(self, timeout: float | None) -> list[str]:
        """Stop dispatching, set every running job's stop event, and wait for jobs to end.

        Waits up to ``timeout`` real seconds (None: without limit) for running jobs; the
        injected clock plays no part, so a test clock cannot make shutdown hang. Jobs still
        running then are recorded as cancelled and their ids returned: their threads are
        daemons and end with their handler or the process.
        """
        with self._inline_lock:
            self._closed = True
            thread = self._thread
        if thread is None:
            return []
        if thread is threading.current_thread():
            # Only a finalizer can get here: stop the loop, and let nothing wait on itself.
            self._stopping = self._abandon = True
            return []

        def _begin() -> None:
            self._stopping = True
            for job in self._jobs.values():
                job.stop_event.set()

        def _abandon() -> None:
            self._abandon = True

        self.post(_begin)
        thread.join(timeout)
        if thread.is_alive():
            self.post(_abandon)
            thread.join()
        while self._inbox:  # ends that workers posted while the thread was leaving
            try:
                self._inbox.popleft()()
            except Exception:
                self._logger.exception("quiv scheduler: a command failed during shutdown")
        # The thread has exited: what is still in flight is the caller's to close.
        abandoned = list(self._jobs.values())
        for job in abandoned:
            self._logger.warning(
                "quiv: job %s of task %r did not stop within the shutdown timeout; "
                "recording it as cancelled and leaving its daemon thread behind",
                job.id,
                job.task.name,
            )
            self._finish(
                job,
                "cancel",
                self._clock.now().timestamp(),
                self._clock.monotonic(),
                "still running when shutdown gave up waiting for it",
            )
        self._workers.shutdown(0.0 if abandoned else timeout)
        return [job.id for job in abandoned]

    # -- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        inbox = self._inbox
        while True:
            while inbox:
                command = inbox.popleft()
                try:
                    command()
                except Exception:
                    self._logger.exception("quiv scheduler: a command failed")
                # Hold no reference to the last command while asleep: it may be the last
                # thing keeping a dropped Quiv alive, whose finalizer then cannot run.
                del command
            if self._stopping:
                if not self._jobs or self._abandon:
                    return
                deadline = None
            else:
                try:
                    deadline = self._turn()
                except Exception:
                    # A defect must not end the thread: scheduling would stop unseen.
                    self._logger.exception("quiv scheduler: a dispatch pass failed")
                    deadline = self._clock.monotonic() + 0.1
            if self._barriers:
                for barrier in self._barriers:
                    barrier.set()
                self._barriers.clear()
            self._wake.clear()
            if inbox:
                continue
            try:
                self._clock.wait(self._wake, deadline)
            except Exception:
                self._logger.exception("quiv scheduler: waiting on the clock failed")
                self._wake.wait(0.1)

    def _turn(self) -> float | None:
        """Start what is due, purge if due; return the next deadline to sleep until."""
        now = self._clock.monotonic()
        self._dispatch_due(now)
        if self._purge_at is not None and now >= self._purge_at and not self._purge_pending:
            self._purge()
        return self._next_deadline()

    def _next_deadline(self) -> float | None:
        # While a purge is in flight its answer wakes the loop; an overdue purge deadline
        # must not make it spin meanwhile.
        deadline = None if self._purge_pending else self._purge_at
        if self._running < self.pool_size:
            head = self._timeline.peek()
            if head is not None and (deadline is None or head[0] < deadline):
                deadline = head[0]
        return deadline

    def _dispatch_due(self, now: float) -> None:
        free = self.pool_size - self._running
        if free <= 0:
            return
        for task_id, due in self._timeline.pop_due(now, free):
            task = self._tasks[task_id]
            # Runs that fell due before start() were waiting for it, not for a worker.
            late = now - max(due, self._started_mono)
            if late > LATE_START_WARNING_SECONDS:
                self._late_start(task, late, now)
            try:
                self._dispatch(task, due)
            except Exception:
                # A defect must cost this one run, not the scheduler thread.
                self._logger.exception("quiv: could not start a job of task %r", task.id)

    def _late_start(self, task: TaskEntry, late: float, now: float) -> None:
        # One line per backlog, then a summary at most every LATE_START_SUMMARY_SECONDS:
        # a saturated pool must not also flood the log with a line per job.
        self._late_starts += 1
        self._late_unreported += 1
        self._late_max = max(self._late_max, late)
        if self._late_reported_at is not None and (
            now - self._late_reported_at < LATE_START_SUMMARY_SECONDS
        ):
            return
        if self._late_unreported == 1:
            self._logger.warning(
                "quiv: task %r (%s) starts %.3f s late: all %d workers were busy",
                task.name,
                task.id,
                late,
                self.pool_size,
            )
        else:
            self._logger.warning(
                "quiv: %d job starts were late (up to %.3f s): all %d workers were busy",
                self._late_unreported,
                self._late_max,
                self.pool_size,
            )
        self._late_reported_at = now
        self._late_unreported = 0
        self._late_max = 0.0

    def _dispatch(self, task: TaskEntry, due: float) -> None:
        state = TASK_MACHINE.next_state(task.id, task.state, "start")
        job = JobEntry(
            id=str(uuid.uuid4()), task=task, anchor=due, created_at=self._clock.now().timestamp()
        )
        try:
            # First, as the one step that can fail (no thread to be had): then nothing has
            # changed yet. The worker's own commands queue behind this one.
            self._workers.submit(self._work, job)
        except RuntimeError:
            self._logger.exception("quiv: no worker thread for task %r; retrying in 1 s", task.id)
            self._timeline.schedule(task.id, self._clock.monotonic() + 1.0)
            return
        task.state = state
        task.job = job
        self._jobs[job.id] = job
        self._running += 1
        self._jobs_started += 1
        self._store.put_task(task.row())
        self._store.put_job(job.row())

    # -- on a worker thread -----------------------------------------------------------

    def _work(self, job: JobEntry) -> None:
        clock = self._clock
        if job.stop_event.is_set():
            self.post(
                lambda: self._finish(
                    job, "cancel", clock.now().timestamp(), clock.monotonic(), None
                )
            )
            return
        task = job.task
        started_at, started_mono = clock.now().timestamp(), clock.monotonic()
        self.post(lambda: self._started(job, started_at, started_mono))
        token = current_bridge().set(self._bridge)
        # Whatever escapes below (a logging handler that raises, an exception whose str()
        # raises), the end is posted: a job must never stay running.
        trigger = "fail"
        error: str | None = "the job ended abnormally inside quiv"
        try:
            try:
                # Every run gets its own copy of the arguments, as stored: a run that
                # mutates them, or a caller that changes them after add_task, affects no
                # other run.
                args = pickle.loads(task.args_blob)
                kwargs = pickle.loads(task.kwargs_blob)
                injection = task.injection
                if injection.job_id:
                    kwargs["_job_id"] = job.id
                if injection.stop_event:
                    kwargs["_stop_event"] = job.stop_event
                if injection.progress_hook:
                    kwargs["_progress_hook"] = self._progress_hook(task)
                coroutine = resolve_awaitable(task.func(*args, **kwargs))
                if coroutine is not None:
                    run_coroutine_here(coroutine)
                trigger, error = "cancel" if job.stop_event.is_set() else "complete", None
            except BaseException as exc:
                # BaseExceptions too: SystemExit or KeyboardInterrupt raised by a handler
                # ends that job, not the worker thread or the process.
                trigger, error = "fail", _describe(exc)
                self._logger.error(
                    "quiv: job %s of task %r (%s) raised %s",
                    job.id,
                    task.name,
                    task.id,
                    type(exc).__name__,
                    exc_info=exc,
                )
        finally:
            current_bridge().reset(token)
            ended_at, ended_mono = clock.now().timestamp(), clock.monotonic()
            self.post(lambda: self._finish(job, trigger, ended_at, ended_mono, error))

    def _progress_hook(self, task: TaskEntry) -> Callable[..., None]:
        callback = task.progress_callback
        bridge = self._bridge
        what = f"progress callback of task {task.name!r} ({task.id})"

        def _progress_hook(*args: Any, **kwargs: Any) -> None:
            if callback is None:
                return
            if not bridge.submit(callback, args, kwargs, what):
                bridge.call_here(callback, args, kwargs, what)

        return _progress_hook

    # -- job life, on the scheduler thread ----------------------------------------------

    def _started(self, job: JobEntry, started_at: float, started_mono: float) -> None:
        job.state = JOB_MACHINE.next_state(job.id, job.state, "start")
        job.started_at, job.started_mono = started_at, started_mono
        self._store.put_job(job.row())
        task = job.task
        event = JOB_MACHINE.event_for("start")
        if event is not None and self._listeners.wants(event):
            self._listeners.emit(event, lambda: (task.snapshot(), job.snapshot()))

    def _finish(
        self, job: JobEntry, trigger: str, ended_at: float, ended_mono: float, error: str | None
    ) -> None:
        if job.id not in self._jobs:
            return  # already closed by shutdown
        # Everything that can fail comes first; state changes only after it.
        job_state = JOB_MACHINE.next_state(job.id, job.state, trigger)
        task = job.task
        next_deadline = None
        if task.state is not TaskState.REMOVED and not task.run_once:
            next_deadline = task.follow_up
            if next_deadline is None and task.state is TaskState.RUNNING and not self._stopping:
                next_deadline = next_after_run(
                    anchor=job.anchor,
                    ended=ended_mono,
                    interval=task.interval,
                    fixed_interval=task.fixed_interval,
                )
        job.state = job_state
        job.ended_at = ended_at
        job.error = error
        job.duration = 0.0 if job.started_mono is None else max(0.0, ended_mono - job.started_mono)
        del self._jobs[job.id]
        self._running -= 1
        self._store.put_job(job.row())
        task.job = None
        if task.state is not TaskState.REMOVED:
            self._after_run(task, next_deadline)
        event = JOB_MACHINE.event_for(trigger)
        if event is not None and self._listeners.wants(event):
            self._listeners.emit(event, lambda: (task.snapshot(), job.snapshot()))
        if self._purge_at is None:
            self._purge_at = ended_mono + self._retention

    def _after_run(self, task: TaskEntry, next_deadline: float | None) -> None:
        if task.run_once:
            self._end(task, "finish_last")
            return
        task.state = TASK_MACHINE.next_state(task.id, task.state, "finish")
        task.follow_up = None
        if next_deadline is not None:
            self._schedule(task, next_deadline)
        self._store.put_task(task.row())

    def _schedule(self, task: TaskEntry, deadline: float) -> None:
        self._timeline.schedule(task.id, deadline)
        task.next_run_at = self._clock.now().timestamp() + (deadline - self._clock.monotonic())

    def _end(self, task: TaskEntry, trigger: str) -> None:
        """Take ``task`` to its terminal state and forget it; its snapshots keep the
        status it had before (there is no stored status for a task that is gone)."""
        state = TASK_MACHINE.next_state(task.id, task.state, trigger)
        task.final_status = task.state.status
        task.state = state
        self._timeline.cancel(task.id)
        del self._tasks[task.id]
        self._store.delete_task(task.id)

    # -- history --------------------------------------------------------------------------

    def _purge(self) -> None:
        self._purge_at = None
        self._purge_pending = True
        cutoff = self._clock.now().timestamp() - self._retention
        self._store.purge(cutoff, lambda oldest: self.post(lambda: self._purged(oldest)))

    def _purged(self, oldest: float | None) -> None:
        self._purge_pending = False
        if oldest is None:
            return
        wall_delay = oldest + self._retention - self._clock.now().timestamp()
        due = self._clock.monotonic() + max(0.0, wall_delay)
        # A job that ended while the purge was in flight may already have set an earlier one.
        self._purge_at = due if self._purge_at is None else min(self._purge_at, due)

    # -- commands from the API (run on the scheduler thread) ------------------------------

    def add(self, task: TaskEntry, deadline: float) -> None:
        """Take over ``task``; its first run is due at the monotonic ``deadline``."""
        self._tasks[task.id] = task
        self._timeline.schedule(task.id, deadline)
        # Adding is a task's creation, not a change of state: no transition names its event.
        self._emit_task(Event.TASK_ADDED, task.snapshot)

    def _emit_task(self, event: Event | None, snapshot: Callable[[], Task]) -> None:
        # The snapshot is taken now, on this thread: later changes must not leak into it.
        if event is not None and self._listeners.wants(event):
            taken = snapshot()
            self._listeners.emit(event, lambda: (taken,))

    def _task(self, task_id: str) -> TaskEntry:
        task = self._tasks.get(task_id)
        if task is None:
            raise TaskNotFoundError(task_id)
        return task

    def pause(self, task_id: str) -> None:
        """Stop scheduling runs of a task; a running job goes on."""
        task = self._task(task_id)
        task.state = TASK_MACHINE.next_state(task.id, task.state, "pause")
        self._timeline.cancel(task.id)
        task.follow_up = None
        self._store.put_task(task.row())
        self._emit_task(TASK_MACHINE.event_for("pause"), task.snapshot)

    def resume(self, task_id: str, delay: float) -> None:
        """Schedule the next run ``delay`` seconds from now (after the running job, if any)."""
        task = self._task(task_id)
        task.state = TASK_MACHINE.next_state(task.id, task.state, "resume")
        deadline = self._clock.monotonic() + delay
        if task.job is None:
            self._schedule(task, deadline)
        elif not task.run_once:
            task.follow_up = deadline
            task.next_run_at = self._clock.now().timestamp() + delay
        self._store.put_task(task.row())
        self._emit_task(TASK_MACHINE.event_for("resume"), task.snapshot)

    def run_now(self, task_id: str) -> bool:
        """Make a run due now (right after the running job, if any); False if no such task."""
        task = self._tasks.get(task_id)
        if task is None:
            return False
        now = self._clock.monotonic()
        if task.job is None:
            self._schedule(task, now)
            self._store.put_task(task.row())
        elif not task.run_once:  # a run-once task runs once: the running job is that run
            task.follow_up = now
        return True

    def remove(self, task_id: str) -> Task:
        """Delete a task and set its running job's stop event; return its last snapshot."""
        task = self._task(task_id)
        snapshot = task.snapshot()
        self._end(task, "remove")
        if task.job is not None:
            task.job.stop_event.set()
        self._emit_task(TASK_MACHINE.event_for("remove"), lambda: snapshot)
        return snapshot

    def cancel_job(self, job_id: str) -> bool:
        """Set the stop event of a job in flight; False when no such job is in flight."""
        job = self._jobs.get(job_id)
        if job is None:
            return False
        job.stop_event.set()
        return True

    def statistics(self) -> SchedulerStatistics:
        """Counters of the scheduler now."""
        return SchedulerStatistics(
            tasks=len(self._tasks),
            pending_deadlines=len(self._timeline),
            running_jobs=self._running,
            free_workers=self.pool_size - self._running,
            late_starts=self._late_starts,
            jobs_started=self._jobs_started,
            store_write_failures=self._store.write_failures,
        )

    def check(self) -> None:
        """Assert the invariants between tasks, jobs and deadlines (for tests)."""
        self._timeline._check()
        for task_id, _ in self._timeline:
            assert task_id in self._tasks
        running = 0
        for task in self._tasks.values():
            if task.job is not None:
                running += 1
                assert task.state in (TaskState.RUNNING, TaskState.PAUSED_RUNNING)
                assert task.id not in self._timeline
            else:
                assert task.state in (TaskState.ACTIVE, TaskState.PAUSED)
        assert running <= self._running == len(self._jobs) <= self.pool_size
