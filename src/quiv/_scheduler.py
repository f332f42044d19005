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

import asyncio
import inspect
import logging
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Any, NamedTuple, TypeVar

from ._bridge import MainLoop
from ._clock import Clock, SystemClock, epoch_seconds
from ._coordinator import Coordinator
from ._entries import JobEntry, Plan, TaskEntry, TaskSettings
from ._events import Emission, Listeners
from ._ids import new_id
from ._machines import JOB_MACHINE, TASK_MACHINE, TaskState
from ._runner import JobRunner, Outcome
from ._schedule import (
    AtSchedule,
    CronSchedule,
    IntervalSchedule,
    Misfire,
    Schedule,
    next_after_run,
    retry_delay,
    slot_after_run,
)
from ._store import COALESCE_SECONDS, GONE, Claim, Row, Store
from ._threads import punctual_timers, start_thread
from ._timing import Timeline
from ._workers import WorkerPool
from .exceptions import (
    ConfigurationError,
    SchedulerStoppedError,
    TaskNotActiveError,
    TaskNotFoundError,
    TaskRunningError,
)
from .models import Event, JobStatus, Task, TaskStatus

__all__ = ["Scheduler", "SchedulerStatistics"]

T = TypeVar("T")

LATE_START_WARNING_SECONDS = 1.0
LATE_START_SUMMARY_SECONDS = 10.0
# After a timeout set a job's stop event, how long its handler may take to return before
# the job is flagged unresponsive (and a warning logged).
UNRESPONSIVE_AFTER_SECONDS = 5.0
# Calendar runs are wall-clock instants held as monotonic deadlines. When the two clocks
# drift apart by more than this (the wall clock was set, the machine slept), the deadlines
# of calendar runs are recomputed from their instants.
WALL_DRIFT_SECONDS = 0.5
# While calendar tasks exist, the thread wakes at least this often to notice such drift:
# a monotonic sleep does not end early when the wall clock moves.
WALL_CHECK_SECONDS = 60.0
# While jobs wait for the main loop to begin them, it is looked at this often: a loop that
# stopped meanwhile fails them instead of leaving them running forever.
LOOP_CHECK_SECONDS = 0.25
# An empty dict of tasks on their way that is bigger than this is replaced (see add()).
_SHRINK_BYTES = 4096
# A shared task that another process has paused, or is running without a slot to expect
# next, is looked at again in the store this often.
RECHECK_SECONDS = 5.0
# How many due runs of shared tasks one claim may ask for beyond the free workers: a round
# trip to the store costs milliseconds, so claims go in batches, and runs won beyond the
# free workers wait for one (holding their lease) instead of waiting for another round trip.
CLAIM_AHEAD = 256


# The events of a job's end: a worker that posts its end waits for it to be recorded only
# when someone listens to one of them (it then delivers them itself).
_END_EVENTS = frozenset(
    event
    for trigger in ("complete", "fail", "cancel", "time_out", "retry")
    if (event := JOB_MACHINE.event_for(trigger)) is not None
)


class TaskChange(NamedTuple):
    """What ``update_task`` changes, each checked by the facade (None: unchanged)."""

    name: str | None = None
    blobs: tuple[bytes, bytes] | None = None
    settings: TaskSettings | None = None
    schedule: Schedule | None = None
    run_at: float | None = None  # epoch


class _Add:
    """``Scheduler.add(task, first)`` waiting in the inbox: a burst of registrations queues
    thousands, and this is a quarter of the bytes of the ``partial`` it replaces (which
    brings an empty keyword dict and a bound method along), bytes the allocator would keep
    after the burst."""

    __slots__ = ("first", "scheduler", "task")

    def __init__(self, scheduler: Scheduler, task: TaskEntry, first: float) -> None:
        self.scheduler, self.task, self.first = scheduler, task, first

    def __call__(self) -> None:
        self.scheduler.add(self.task, self.first)


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
    __slots__ = ("done", "error", "events", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        # What the command emitted, for the thread that waits for it to deliver.
        self.events: list[Emission] = []


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
        self._epoch = epoch_seconds(clock)
        self._store = store
        self._listeners = listeners
        self._bridge = bridge
        self._logger = logger
        self._tasks: dict[str, TaskEntry] = {}
        self._on_loop: dict[str, JobEntry] = {}  # handed to the main loop, not begun there
        # Tasks sent by add_task whose add command has not run yet (written by callers).
        self._incoming: dict[str, TaskEntry] = {}
        self._jobs: dict[str, JobEntry] = {}  # dispatched, not yet ended
        self._pending: dict[str, JobEntry] = {}  # made ahead, not yet dispatched
        self._timeline: Timeline[str] = Timeline()  # task id -> its next run
        self._timeouts: Timeline[str] = Timeline()  # job id -> its timeout, then its grace
        self._random = random.Random()
        self._runner = JobRunner(
            clock,
            bridge,
            logger,
            listeners=listeners,
            started=lambda job, at, mono: self.post(partial(self._started, job, at, mono)),
            finished=self._finished,
        )
        self._purge_at: float | None = None
        self._purge_pending = False
        self._running = 0
        # Late starts: all of them, and those not yet reported (how many, the latest).
        self._late_starts, self._late_unreported, self._late_max = 0, 0, 0.0
        # When the late starts were last reported, and when those held back since are due
        # to be summed up.
        self._late_reported_at: float | None = None
        self._late_summary_at: float | None = None
        self._jobs_started = 0
        self._calendar_tasks = 0
        # Tasks whose planned run was already past when it was planned (an at= time in the
        # past): late from that time, not from start(). Cleared by the next plan.
        self._overdue: set[str] = set()
        # Shared tasks whose claimed run was overdue in that sense (see _dispatch_due).
        self._overdue_claims: set[str] = set()
        self._wall_offset = 0.0  # wall minus monotonic clock, when last looked at
        self._started_wall = 0.0
        self._workers = WorkerPool(pool_size, "quiv-worker")
        self._coordinator = (
            Coordinator(self.post, logger, store.told_once) if store.durable else None
        )
        self._claims_in_flight = 0
        # Runs of shared tasks claimed and waiting for a free worker: (task, due, late).
        self._ready: deque[tuple[TaskEntry, float, float, str]] = deque()
        self._inbox: deque[Callable[[], None]] = deque()
        # Jobs dispatched in the current pass, each with a worker thread reserved for it.
        self._handoffs: list[tuple[Callable[[JobEntry], None], JobEntry]] = []
        self._unrecorded: list[JobEntry] = []  # dispatched in this pass, rows not handed over
        # Rows this thread hands to the store wake its writer only after a pass, at this
        # monotonic instant (``Store.defer_nudges``). Not with a test clock: it does not
        # move on its own, and rows would wait for it.
        self._defer_store = type(clock) is SystemClock
        self._store_nudge_at: float | None = None
        self._wake = threading.Event()
        # Held by whichever thread works on the scheduler's state: its own thread, from
        # waking until it sleeps again; or, while it sleeps with nothing queued, another
        # thread taking a fast path (``_here``: a run-now request, a worker ending a job).
        # ``_sleep_until`` is the deadline it sleeps until (None: until woken).
        self._state = threading.Lock()
        self._sleep_until: float | None = None
        self._inline_lock = threading.RLock()
        # Where the events of the work under way go: a list that the thread waiting for
        # that work (an API caller, a worker) delivers afterwards; None: nobody waits, and
        # they are delivered without waiting for listeners (``Listeners.deliver_later``).
        self._collect: list[Emission] | None = None
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
                raise SchedulerStoppedError("schedule work")
            inline = self._thread is None
            events: list[Emission] = []
            if inline:
                self._collecting(command, events)
            else:
                self._inbox.append(command)
        if not inline:
            self._nudge()
        elif events:
            self._listeners.deliver(events)

    def _collecting(self, command: Callable[[], T], events: list[Emission]) -> T:
        """Run ``command`` here and now, its events collected into ``events`` for this
        thread to deliver (the caller holds the scheduler's state)."""
        outer, self._collect = self._collect, events
        try:
            return command()
        finally:
            self._collect = outer

    def send_add(self, task: TaskEntry, first: float, **options: bool) -> None:
        """Send ``add(task, first, **options)``; until it runs, ``knows`` says the task is
        known already."""
        self._incoming[task.id] = task
        try:
            self.send(
                partial(self.add, task, first, **options) if options else _Add(self, task, first)
            )
        except BaseException:
            self._incoming.pop(task.id, None)
            raise

    def knows(self, task_id: str) -> bool:
        """Whether ``task_id`` is a task of this scheduler, or one on its way to it (any
        thread). ``add`` puts a task in ``_tasks`` before it takes it out of
        ``_incoming``, and this looks in the opposite order, so no task falls between."""
        return task_id in self._incoming or task_id in self._tasks

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
                reply.value = self._collecting(command, reply.events)
            except BaseException as exc:
                reply.error = exc
            reply.done.set()

        with self._inline_lock:
            if self._closed:
                raise SchedulerStoppedError("reach the scheduler")
            if self._thread is None:
                _run()
            else:
                self._inbox.append(_run)
        if not reply.done.is_set():
            self._nudge()
            while not reply.done.wait(1.0):
                thread = self._thread
                if thread is None or not thread.is_alive():  # only if the thread itself died
                    raise SchedulerStoppedError("reach the scheduler")
        # The events of the change, delivered by its caller as quiv 0.4.0 did.
        if reply.events:
            self._listeners.deliver(reply.events)
        if reply.error is not None:
            raise reply.error
        return reply.value  # type: ignore[no-any-return]

    def settle(self, timeout: float) -> bool:
        """Wait until the thread has run every command posted before and then made one
        dispatch pass at the clock's current time, with no round trip to a shared store on
        its way; False on timeout. Not started: True."""
        if self._thread is None:
            return True
        end = time.monotonic() + timeout
        while True:
            # Claims of shared runs are answered on the coordinator thread: settled means
            # none was on its way before a pass, nor after it.
            quiet = self._quiet()
            barrier = threading.Event()
            self.post(partial(self._barriers.append, barrier))
            if not barrier.wait(max(0.0, end - time.monotonic())):
                return False
            if quiet and self._quiet():
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.001)

    def shared_written(self, timeout: float = 10.0) -> None:
        """Return once what this process told other processes (a pause, a resume, a
        removal of a shared task) is in the store."""
        if self._coordinator is not None:
            self._coordinator.drain(timeout)

    def _quiet(self) -> bool:
        coordinator = self._coordinator
        return not self._claims_in_flight and (coordinator is None or coordinator.idle)

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduler thread; commands run on it from now on."""
        self._started_mono = self._clock.monotonic()
        self._started_wall = self._epoch()
        self._wall_offset = self._started_wall - self._started_mono
        self._store.start()
        with self._inline_lock:
            self._thread = start_thread(self._run, "quiv-scheduler")

    def stop(self, timeout: float | None, *, at_exit: bool = False) -> list[str]:
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
            # Never started; round trips a pause or a removal sent to a shared store may
            # still be on their way: let them finish, and end the coordinator's thread.
            if self._coordinator is not None:
                self._coordinator.close(timeout)
            return []
        if thread is threading.current_thread():
            # Only a finalizer can get here: stop the loop, and let nothing wait on itself.
            self._stopping = self._abandon = True
            return []

        def _begin() -> None:
            self._stopping = True
            for job in list(self._pending.values()):
                self._cancel_pending(job, "the scheduler shut down")
            for job in self._jobs.values():
                self._stop(job)

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
                self._logger.exception("scheduler thread: a command failed during shutdown")
        # The thread has exited: what is still in flight is the caller's to close.
        self._report_late(None)
        abandoned = list(self._jobs.values())
        for job in abandoned:
            if at_exit:  # dropped, or left running at exit: nothing was waited for
                self._logger.warning(
                    "job %s of task %r was still running when its Quiv was dropped or the "
                    "interpreter exited without shutdown(); recording it as cancelled",
                    job.id,
                    job.task.name,
                )
                continue
            self._logger.warning(
                "job %s of task %r did not stop within the shutdown timeout; "
                "recording it as cancelled and leaving its daemon thread behind",
                job.id,
                job.task.name,
            )
        for job in abandoned:
            error = (
                "still running when the process exited without shutdown()"
                if at_exit
                else "still running when shutdown gave up waiting for it"
            )
            self._finish(
                job, Outcome("cancel", self._epoch(), self._clock.monotonic(), error=error)
            )
        self._workers.shutdown(0.0 if abandoned else timeout)
        if self._coordinator is not None:
            self._coordinator.close(timeout)
        return [job.id for job in abandoned]

    # -- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        punctual_timers()  # it sleeps until deadlines: they should not end late
        if self._defer_store:
            self._store.defer_nudges()
        with self._state:
            self._loop()

    def _loop(self) -> None:
        """The thread's work; it holds ``_state`` except while it sleeps."""
        inbox = self._inbox
        while True:
            while inbox:
                command = inbox.popleft()
                try:
                    command()
                except Exception:
                    self._logger.exception("scheduler thread: a command failed")
                # Hold no reference to the last command while asleep: it may be the last
                # thing keeping a dropped Quiv alive, whose finalizer then cannot run.
                del command
            if self._stopping:
                # A job on a main loop that stopped would hold the shutdown to its end.
                looping = self._check_loop()
                if self._store.take_deferred() or self._store_nudge_at is not None:
                    self._store_nudge_at = None
                    self._store.nudge()
                if not self._jobs or self._abandon:
                    return
                deadline = self._clock.monotonic() + LOOP_CHECK_SECONDS if looping else None
            else:
                try:
                    deadline = self._turn()
                except Exception:
                    # A defect must not end the thread: scheduling would stop unseen.
                    self._logger.exception("scheduler thread: a dispatch pass failed")
                    deadline = self._clock.monotonic() + 0.1
            if self._barriers:
                for barrier in self._barriers:
                    barrier.set()
                self._barriers.clear()
            self._wake.clear()
            if inbox:
                continue
            self._sleep_until = deadline
            self._state.release()
            try:
                self._clock.wait(self._wake, deadline)
            except Exception:
                self._logger.exception("scheduler thread: waiting on the clock failed")
                self._wake.wait(0.1)
            finally:
                self._state.acquire()

    def _turn(self) -> float | None:
        """Start what is due, purge if due; return the next deadline to sleep until."""
        now = self._clock.monotonic()
        if self._store_nudge_at is not None and now >= self._store_nudge_at:
            self._store_nudge_at = None
            self._store.nudge()
        if self._calendar_tasks:
            self._check_wall(now)
        for job_id, _ in self._timeouts.pop_due(now):
            self._time_out(job_id, now)
        waiting_for_loop = self._check_loop()
        fence_at = self._fence(now) if self._coordinator is not None else None
        try:
            self._dispatch_due(now)
        finally:
            self._hand_off()
        if self._purge_at is not None and now >= self._purge_at and not self._purge_pending:
            self._purge()
        if self._late_summary_at is not None and now >= self._late_summary_at:
            self._report_late(now)
        deadline = self._next_deadline()
        if self._store.take_deferred() and self._store_nudge_at is None:
            self._store_nudge_at = now + COALESCE_SECONDS
        if self._store_nudge_at is not None and (
            deadline is None or self._store_nudge_at < deadline
        ):
            deadline = self._store_nudge_at
        if waiting_for_loop:
            check = now + LOOP_CHECK_SECONDS
            deadline = check if deadline is None else min(deadline, check)
        if fence_at is not None:
            deadline = fence_at if deadline is None else min(deadline, fence_at)
        if self._calendar_tasks:
            check = now + WALL_CHECK_SECONDS
            deadline = check if deadline is None else min(deadline, check)
        return deadline

    def _check_wall(self, now: float) -> None:
        """Recompute the deadlines of calendar runs if the wall clock moved against the
        monotonic one since the last look."""
        offset = self._epoch() - now
        if abs(offset - self._wall_offset) <= WALL_DRIFT_SECONDS:
            return
        self._logger.info(
            "the wall clock moved %+.3f s against the monotonic clock; re-timing calendar runs",
            offset - self._wall_offset,
        )
        self._wall_offset = offset
        for task in self._tasks.values():
            if task.wall_timed and task.slot is not None and task.id in self._timeline:
                self._timeline.schedule(task.id, task.next_run_at - offset)

    def _next_deadline(self) -> float | None:
        # While a purge is in flight its answer wakes the loop; an overdue purge deadline
        # must not make it spin meanwhile.
        deadline = None if self._purge_pending else self._purge_at
        summary = self._late_summary_at
        if summary is not None and (deadline is None or summary < deadline):
            deadline = summary
        timeout = self._timeouts.peek()
        if timeout is not None and (deadline is None or timeout[0] < deadline):
            deadline = timeout[0]
        if self._running < self.pool_size:
            if self._ready:
                return self._clock.monotonic()
            head = self._timeline.peek()
            if head is not None and (deadline is None or head[0] < deadline):
                deadline = head[0]
        return deadline

    def _dispatch_due(self, now: float) -> None:
        free = self.pool_size - self._running
        while self._ready and free > 0:  # claimed runs first: they hold their lease
            task, due, late_base, job_id = self._ready.popleft()
            if task.claiming and self._tasks.get(task.id) is task:
                task.claiming = False
                task.claimed_job = job_id
                overdue = task.id in self._overdue_claims
                self._overdue_claims.discard(task.id)
                self._start_due(task, due, late_base + now, now, overdue=overdue)
                task.claimed_job = None
            free = self.pool_size - self._running
        if free <= 0:
            return
        wall = self._epoch() if self._calendar_tasks else 0.0
        claims: list[tuple[Claim, float, float]] = []
        looks: list[str] = []
        ahead = CLAIM_AHEAD if self._coordinator is not None and not self._claims_in_flight else 0
        for task_id, due in self._timeline.pop_due(now, free + ahead):
            task = self._tasks[task_id]
            if not task.shared and free <= 0:
                # Popped in a claim's look-ahead, but no worker is free: back it goes.
                self._timeline.schedule(task_id, due)
                continue
            if task.recheck:
                task.recheck = False
                looks.append(task_id)
                continue
            # Runs that fell due before start() were waiting for it, not for a worker
            # (unless their time had passed already when they were planned).
            overdue = task_id in self._overdue
            late = now - (due if overdue else max(due, self._started_mono))
            if task.wall_timed:
                at = task.next_run_at
                wall_late = wall - (at if overdue else max(at, self._started_wall))
                if wall_late < -0.001 and task.slot is not None:
                    # The wall clock says not yet (it was set back): wait for it.
                    self._timeline.schedule(task.id, now - wall_late)
                    continue
                late = max(late, wall_late)
            self._overdue.discard(task_id)
            if task.shared:
                # Another process may want this run too: claim it first.
                job_id = task.pending.id if task.pending is not None else new_id()
                regular = task.slot is not None and task.pending is None
                slot = task.slot if regular else None
                claims.append((Claim(task.id, slot, task.next_run_at, job_id), due, late))
                task.claiming = True
                if overdue:
                    self._overdue_claims.add(task_id)
                continue
            self._start_due(task, due, late, now, overdue=overdue)
            free -= 1
        if claims:
            self._send_claims(claims, wall)
        if looks:
            self._look(looks)

    def _hand_off(self) -> None:
        """Give the jobs dispatched in this pass to their reserved worker threads; then
        record them."""
        handoffs, self._handoffs = self._handoffs, []
        for run, job in handoffs:
            self._workers.hand(run, job)
        dispatched, self._unrecorded = self._unrecorded, []
        for job in dispatched:
            try:
                self._record(job)
            except Exception:  # one job's trouble must not cost the others their records
                self._logger.exception("could not record the start of job %s", job.id)

    def _start_due(
        self, task: TaskEntry, due: float, late: float, now: float, *, overdue: bool = False
    ) -> None:
        """Start the due run of ``task`` (``late`` seconds late), or skip it by its misfire
        policy. ``overdue``: its time had passed when it was planned (a run restored from a
        durable store, an ``at=`` time in the past), so no worker held it up."""
        try:
            if (
                task.settings.misfire is Misfire.SKIP
                and late > task.settings.grace
                and task.slot is not None
                and task.pending is None
            ):
                self._miss(task, late, now)
                return
            if overdue and late > LATE_START_WARNING_SECONDS:
                self._logger.info(
                    "task %r (%s) runs now, %.3f s after its planned time, which had passed "
                    "when it was planned (restored from the store, or an at= time in the past)",
                    task.name,
                    task.id,
                    late,
                )
            elif late > LATE_START_WARNING_SECONDS:
                self._late_start(task, late, now)
            self._dispatch(task, due)
        except Exception:
            # A defect must cost this one run, not the scheduler thread.
            self._logger.exception("could not start a job of task %r", task.id)

    # -- shared tasks: claims, and catching up with other processes ------------------------

    def _send_claims(self, claims: list[tuple[Claim, float, float]], wall: float) -> None:
        assert self._coordinator is not None
        store = self._store
        batch = [claim for claim, _, _ in claims]
        # How late each run was when it was taken off the timeline (by the same rules as a
        # run of this process alone), and when that was: it is later still when it starts.
        mono = self._clock.monotonic()
        dues = {claim.task_id: (claim, due, late - mono) for claim, due, late in claims}
        self._claims_in_flight += 1
        self._coordinator.submit(
            lambda: store.claim(batch, wall), lambda answers: self._claimed(dues, answers)
        )

    def _claimed(
        self, dues: dict[str, tuple[Claim, float, float]], answers: dict[str, Row | int] | None
    ) -> None:
        """The store's answer to claims: start the runs won, catch up on the others."""
        self._claims_in_flight -= 1
        for task_id, (claim, due, late_base) in dues.items():
            task = self._tasks.get(task_id)
            if task is None:
                continue  # removed meanwhile (its row was deleted with it)
            try:
                self._answer(task, claim, due, late_base, answers)
            except Exception:
                # One task's trouble must not strand the others of the batch.
                self._logger.exception("could not handle the claim of task %r", task.id)
                task.claiming = False
                if answers is not None and isinstance(answers.get(task.id, GONE), int):
                    self._store.put_task_values(task.values())  # hand the run back

    def _answer(
        self,
        task: TaskEntry,
        claim: Claim,
        due: float,
        late_base: float,
        answers: dict[str, Row | int] | None,
    ) -> None:
        now = self._clock.monotonic()
        wall = self._epoch()
        task_id = task.id
        answer = GONE if answers is None else answers.get(task_id, GONE)
        if isinstance(answer, int):  # won: this process's writes carry the lease's token
            task.lease_token = answer
        if not task.claiming:  # paused meanwhile: a run won is handed back
            if isinstance(answer, int):
                self._store.put_task_values(task.values())
            return
        if self._stopping:
            task.claiming = False
            return
        if answers is None:  # the store could not be reached: try again soon
            task.claiming = False
            self._apply(task, Plan(now + 1.0, task.slot, wall + 1.0))
            return
        if not isinstance(answer, int):
            task.claiming = False
            self._catch_up(task, answer)
            return
        if task.state not in (TaskState.ACTIVE, TaskState.PAUSED):
            task.claiming = False
            self._store.put_task_values(task.values())  # hand the run back
            return
        # It starts when a worker is free (at once, if one is); the lease names the job.
        self._ready.append((task, due, late_base, claim.job_id))

    def _look(self, task_ids: list[str]) -> None:
        assert self._coordinator is not None
        store = self._store

        def done(rows: dict[str, Row] | None) -> None:
            for task_id in task_ids:
                task = self._tasks.get(task_id)
                if task is None or task.job is not None or task.claiming:
                    continue
                try:
                    if rows is None:
                        self._recheck(task, 1.0)
                    else:
                        self._catch_up(task, rows[task_id])
                except Exception:
                    self._logger.exception("could not catch up with task %r", task_id)

        self._coordinator.submit(lambda: store.read_tasks(task_ids), done)

    def _recheck(self, task: TaskEntry, seconds: float) -> None:
        self._apply(task, self._plan_now(self._clock.monotonic() + seconds))
        task.recheck = True

    def _catch_up(self, task: TaskEntry, row: Row) -> None:
        """Make the local view of a shared task what the store says other processes did."""
        if self._stopping:
            return
        status = row["status"]
        if status != "gone":
            task.changed_at = max(task.changed_at, float(row["changed_at"] or 0.0))
            # What it knows now is the store's latest: its writes may carry that token.
            task.lease_token = max(task.lease_token, int(row["lease_token"] or 0))
        if status == TaskStatus.FINISHED.value:  # a one-shot run elsewhere: it is done
            if task.state is TaskState.ACTIVE:
                self._end(task, "miss_last")
            elif task.state is TaskState.PAUSED:
                self._end(task, "remove")
            return
        if status in ("gone", "removed"):  # removed by another process
            snapshot = task.snapshot()
            pending = task.pending
            self._end(task, "remove")
            self._emit_task(TASK_MACHINE.event_for("remove"), lambda: snapshot)
            if pending is not None:
                self._cancel_pending(pending, "its task was removed", restore=False)
            return
        if status == TaskStatus.PAUSED.value:
            if task.state is TaskState.ACTIVE:
                task.state = TASK_MACHINE.next_state(task.id, task.state, "pause")
                self._timeline.cancel(task.id)
                self._emit_task(TASK_MACHINE.event_for("pause"), task.snapshot)
                if task.pending is not None:
                    self._cancel_pending(task.pending, "its task was paused")
            self._recheck(task, RECHECK_SECONDS)
            return
        if task.state is TaskState.PAUSED:  # resumed by another process
            task.state = TASK_MACHINE.next_state(task.id, task.state, "resume")
            self._emit_task(TASK_MACHINE.event_for("resume"), task.snapshot)
        wall = self._epoch()
        if status == TaskStatus.RUNNING.value and row["lease_node"] == task.node:
            # A lease of this process that no job of it holds (its start failed): hand the
            # run back, and try again.
            self._store.put_task_values(task.values())
            self._apply(task, Plan(self._clock.monotonic() + 1.0, task.slot, wall + 1.0))
            return
        if status == TaskStatus.RUNNING.value:
            self._running_elsewhere(task, row, wall)
            return
        # Active: its next run is the one the store holds; a run asked for here (run now, a
        # retry) is claimed at once, by that same next_run_at.
        at = float(row["next_run_at"])
        mono = self._clock.monotonic()
        if task.pending is not None:
            self._apply(task, Plan(mono, None, at))
        else:
            self._apply(task, Plan(mono + (at - wall), row["slot"], at))

    def _running_elsewhere(self, task: TaskEntry, row: Row, wall: float) -> None:
        """Another process runs ``task`` (its row is ``running`` under that one's lease)."""
        lease_until = row["lease_until"] or 0.0
        if lease_until < wall:
            self._take_over(task)
            return
        # Expect the slot after the one it runs, and claim that; if its owner plans another,
        # that claim loses and brings the new plan. (Or look again when its lease would run
        # out, if that comes first: a crashed owner's run is then taken over at once.)
        following = self._following(task, row["slot"])
        until = max(0.0, lease_until - wall) + 0.5
        if task.pending is not None:  # a run asked for here follows that one at once
            self._recheck(task, min(until, 1.0))
        elif following is None or following > lease_until:
            self._recheck(task, until)
        elif following <= wall:  # it overran its slot: look again soon, not at once
            self._recheck(task, min(until, 1.0))
        else:
            self._apply(task, self._calendar_plan(task, following))

    def _following(self, task: TaskEntry, slot: float | None) -> float | None:
        """The regular slot after ``slot`` (wall clock), as every process computes it."""
        if slot is None or task.run_once:
            return None
        schedule = task.schedule
        if isinstance(schedule, CronSchedule):
            return schedule.next_slot(slot)
        if isinstance(schedule, IntervalSchedule):
            return slot + schedule.seconds
        return None

    def _take_over(self, task: TaskEntry) -> None:
        assert self._coordinator is not None
        store, wall, task_id = self._store, self._epoch(), task.id

        def done(row: Row | None) -> None:
            current = self._tasks.get(task_id)
            if current is None or current.job is not None or current.claiming:
                return
            if row is None:
                self._recheck(current, 1.0)
            else:
                self._catch_up(current, row)

        self._coordinator.submit(lambda: store.take_over(task_id, wall), done)

    def share(self, task_id: str, status: str) -> None:
        """Tell every process now what this one did to a shared task (pause, resume, run)."""
        task = self._tasks.get(task_id)
        if task is None or not task.shared or self._coordinator is None:
            return
        task.changed_at = changed = max(self._epoch(), task.changed_at + 1e-6)
        store, next_run_at, slot = self._store, task.next_run_at, task.slot
        self._coordinator.submit(
            lambda: store.set_shared(task_id, status, next_run_at, slot, changed),
            lambda _: None,
        )

    def _miss(self, task: TaskEntry, late: float, now: float) -> None:
        """Record a regular run that is too late under ``misfire='skip'`` as missed, and
        plan the next slot (or end a one-shot task)."""
        job = self._new_job(task)
        job.state = JOB_MACHINE.next_state(job.id, job.state, "miss")
        if task.wall_timed:
            job.slot = task.slot
        wall = self._epoch()
        job.ended_at = wall
        job.error = (
            f"missed: {late:.3f} s late, beyond the {task.settings.grace:g} s misfire grace "
            "(misfire='skip')"
        )
        self._store.put_job_values(job.values())
        self._logger.warning(
            "task %r (%s) skipped a run %.3f s late (misfire grace %g s)",
            task.name,
            task.id,
            late,
            task.settings.grace,
        )
        if task.run_once:
            self._end(task, "miss_last")
        else:
            plan = self._skip_plan(task, now, wall)
            if plan is not None:
                self._apply(task, plan)
            self._write_task(task)
        self._ended(job, JOB_MACHINE.event_for("miss"), now)

    def _skip_plan(self, task: TaskEntry, now: float, wall: float) -> Plan | None:
        """The first regular slot after now, in the cadence of the one skipped."""
        schedule, slot = task.schedule, task.slot
        assert slot is not None
        if isinstance(schedule, IntervalSchedule):
            if task.wall_timed:
                following = next_after_run(
                    anchor=slot, ended=wall, interval=schedule.seconds, fixed_interval=True
                )
                return self._calendar_plan(task, following)
            following = next_after_run(
                anchor=slot, ended=now, interval=schedule.seconds, fixed_interval=True
            )
            return self._interval_plan(task, following)
        assert isinstance(schedule, CronSchedule)
        # A slot at this very instant is on time: it is the next one, not one to skip.
        return self._cron_plan(task, max(slot, wall - 0.001))

    def _late_start(self, task: TaskEntry, late: float, now: float) -> None:
        # One line per backlog, then a summary at most every LATE_START_SUMMARY_SECONDS:
        # a saturated pool (or a process that was suspended) must not also flood the log
        # with a line per job.
        self._late_starts += 1
        self._late_unreported += 1
        self._late_max = max(self._late_max, late)
        if self._late_reported_at is not None and (
            now - self._late_reported_at < LATE_START_SUMMARY_SECONDS
        ):
            # Held back: summed up when the window ends, with or without another one.
            if self._late_summary_at is None:
                self._late_summary_at = self._late_reported_at + LATE_START_SUMMARY_SECONDS
            return
        if self._late_unreported == 1:
            self._logger.warning(
                "task %r (%s) starts %.3f s late: %s",
                task.name,
                task.id,
                late,
                self._why_late(),
            )
            self._late_reported_at = now
            self._late_unreported = 0
            self._late_max = 0.0
        else:
            self._report_late(now)

    def _why_late(self) -> str:
        workers = (
            "the one worker was" if self.pool_size == 1 else f"all {self.pool_size} workers were"
        )
        return f"{workers} busy, or the process was suspended"

    def _report_late(self, now: float | None) -> None:
        """Log the late starts held back since the last report, if any (``now``: the
        monotonic time of the report; None at shutdown)."""
        self._late_summary_at = None
        if self._late_unreported:
            self._logger.warning(
                "%d job start%s late (up to %.3f s): %s",
                self._late_unreported,
                " was" if self._late_unreported == 1 else "s were",
                self._late_max,
                self._why_late(),
            )
        self._late_reported_at = now
        self._late_unreported = 0
        self._late_max = 0.0

    def _new_job(self, task: TaskEntry, attempt: int = 1) -> JobEntry:
        # A shared task's claimed run takes the job id its claim named.
        claimed, task.claimed_job = task.claimed_job, None
        job = JobEntry(
            id=new_id() if claimed is None else claimed,
            task=task,
            created_at=self._epoch(),
            attempt=attempt,
        )
        if task.waiters:  # wait_for_task: its next job is this one
            waiters, task.waiters = task.waiters, None
            for waiter in waiters:
                waiter(job.id)
        return job

    def _dispatch(self, task: TaskEntry, due: float) -> None:
        state = TASK_MACHINE.next_state(task.id, task.state, "start")
        job = task.pending if task.pending is not None else self._new_job(task)
        if job.anchor is None:
            # A fixed cadence counts from the slot, not from the jittered deadline.
            regular = task.slot is not None and not task.wall_timed
            job.anchor = task.slot if regular else due
        if job.slot is None and task.wall_timed:
            job.slot = task.slot
        # A job handed to a worker thread starts now: the pool never takes more jobs than it
        # has idle threads, so one is waiting for it (one message per job comes back, its
        # end). A job for the main loop starts when the loop gets to it, and says so.
        job_state = JOB_MACHINE.next_state(job.id, job.state, "start")
        try:
            # First, as the step that can fail (no thread or no loop to be had): then
            # nothing has changed yet. The job's own commands queue behind this one.
            on_worker = self._submit(job)
        except RuntimeError as exc:
            self._logger.error("cannot start task %r: %s; retrying in 1 s", task.id, exc)
            retry = self._plan_now(self._clock.monotonic() + 1.0, keep_slot=True, task=task)
            self._apply(task, retry)
            return
        if task.pending is job:
            task.pending = None
            del self._pending[job.id]
        task.state = state
        task.job = job
        self._jobs[job.id] = job
        self._running += 1
        self._jobs_started += 1
        if on_worker:
            self._begin(job, job_state, self._epoch(), self._clock.monotonic())
        # Its rows and its event wait until the worker has it (_hand_off): the worker
        # wakes meanwhile.
        self._unrecorded.append(job)

    def _submit(self, job: JobEntry) -> bool:
        """Hand ``job`` over to run; True if to a worker thread, False if to the main loop.

        A worker thread is reserved here (the step that can fail); it gets the job at the
        end of the dispatch pass (``_hand_off``), with every job of the pass, and the
        pass's rows and events are written after that, while the worker wakes up.
        """
        if not job.task.settings.on_main_loop:
            self._workers.reserve()
            self._handoffs.append((self._runner.run_on_worker, job))
            return True
        loop = self._bridge.loop
        if loop is None:
            # The job starts and fails, visibly, rather than waiting for a loop forever.
            self._workers.reserve()
            self._handoffs.append((self._runner.run_without_loop, job))
            return True
        coroutine = self._runner.run_on_loop(job)
        try:
            job.loop_future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except BaseException:
            coroutine.close()  # never scheduled: it must not warn that it was never awaited
            raise
        job.loop_coroutine = coroutine
        self._on_loop[job.id] = job
        return False

    def _check_loop(self) -> bool:
        """Fail the main-loop jobs whose loop stopped before it ran them (handed over just
        as it stopped, say): they would wait for it forever. True while some still wait
        for a running loop (the caller looks again a little later)."""
        if not self._on_loop:
            return False
        if self._bridge.loop is not None:
            return True
        for job in list(self._on_loop.values()):
            del self._on_loop[job.id]
            if job.id not in self._jobs:
                continue
            # Should the loop run it after all, it ends at once. (Its future is not
            # cancelled: that would ask a closed loop to cancel its task, and fail there.)
            job.request_stop()
            coroutine, job.loop_coroutine = job.loop_coroutine, None
            if coroutine is not None and inspect.getcoroutinestate(coroutine) == "CORO_CREATED":
                coroutine.close()
            wall, mono = self._epoch(), self._clock.monotonic()
            self._begin(job, JOB_MACHINE.next_state(job.id, job.state, "start"), wall, mono)
            self._store.put_job_values(job.values())
            self._emit_job(JOB_MACHINE.event_for("start"), job)
            error = "the main loop stopped before the job began"
            self._finish(job, Outcome("fail", wall, mono, error=error))
        return False

    def _fence(self, now: float) -> float | None:
        """Stop the shared jobs of this process if it could not renew their leases for
        ``FENCE_AFTER_SECONDS`` (the database did not answer its heartbeats): before the
        leases expire and another process may run those slots, their handlers are asked
        to return. Returns when to look again (this scheduler's clock), None if no shared
        job runs here."""
        shared = [job for job in self._jobs.values() if job.task.shared and not job.fenced]
        if not shared:
            return None
        left = self._store.fence_deadline() - time.monotonic()  # the store's real clock
        if left > 0:
            return now + left
        for job in shared:
            job.fenced = True
            job.note = (
                "stopped: this process could not renew its lease on the run (the database "
                "did not answer its heartbeats), so another process may take the run over"
            )
            self._logger.warning(
                "job %s of shared task %r: its lease could not be renewed; stopping it "
                "before another process may take the run over",
                job.id,
                job.task.name,
            )
            self._stop(job)
        return None

    def _stop(self, job: JobEntry) -> None:
        """Set ``job``'s stop event, and cancel its asyncio task if it runs on the main loop."""
        job.request_stop()
        if job.loop_future is not None:
            job.loop_future.cancel()

    def _time_out(self, job_id: str, now: float) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        if not job.timed_out:
            job.timed_out = True
            self._logger.warning(
                "job %s of task %r ran past its %.3f s timeout; stopping it",
                job.id,
                job.task.name,
                job.task.settings.timeout,
            )
            self._stop(job)
            self._timeouts.schedule(job.id, now + UNRESPONSIVE_AFTER_SECONDS)
            return
        job.unresponsive = True
        self._store.put_job_values(job.values())
        self._logger.warning(
            "job %s of task %r ignores its stop event %.0f s after its timeout; its "
            "worker stays busy until the handler returns (Python cannot stop a thread)",
            job.id,
            job.task.name,
            UNRESPONSIVE_AFTER_SECONDS,
        )

    # -- job life, on the scheduler thread ----------------------------------------------

    def _started(self, job: JobEntry, started_at: float, started_mono: float) -> None:
        """A main-loop job's coroutine began."""
        self._on_loop.pop(job.id, None)
        job.loop_coroutine = None
        if job.id not in self._jobs:
            return  # already closed by shutdown
        state = JOB_MACHINE.next_state(job.id, job.state, "start")
        self._begin(job, state, started_at, started_mono)
        self._store.put_job_values(job.values())
        self._emit_job(JOB_MACHINE.event_for("start"), job)

    def _begin(
        self, job: JobEntry, state: JobStatus, started_at: float, started_mono: float
    ) -> None:
        """The job is running from ``started_at``: in memory; ``_record`` stores it."""
        job.state = state
        job.started_at, job.started_mono = started_at, started_mono
        task = job.task
        timeout = task.settings.timeout
        if timeout is not None:
            self._timeouts.schedule(job.id, started_mono + timeout)

    def _write_task(self, task: TaskEntry) -> None:
        """Hand ``task``'s changed state to the store: a shared task's whole row (its lease
        and stamps go with it), any other's status and next run only (the rest of its row
        changes only when it is registered again, which writes it whole)."""
        if task.shared:
            self._store.put_task_values(task.values())
        else:
            self._store.put_task_state(task.id, task.status.value, task.next_run_at)

    def _record(self, job: JobEntry) -> None:
        """Hand the rows of a job just dispatched (and its task's) to the store (its worker
        tells the listeners that it started)."""
        self._write_task(job.task)
        self._store.put_job_values(job.values())

    def _may_retry(self, job: JobEntry, outcome: Outcome) -> bool:
        task = job.task
        return (
            outcome.retryable
            and task.settings.retry is not None
            and job.attempt <= task.settings.retry.max_retries
            and task.state is TaskState.RUNNING  # not paused or removed meanwhile
            and not job.stopping  # not cancelled
            and not self._stopping
        )

    def _finish(self, job: JobEntry, outcome: Outcome) -> None:
        self._on_loop.pop(job.id, None)
        if job.id not in self._jobs:
            return  # already closed by shutdown
        task = job.task
        # Everything that can fail comes first; state changes only after it.
        trigger = outcome.trigger
        retry_at = None
        if job.timed_out:
            trigger = "time_out"
        elif trigger == "fail" and self._may_retry(job, outcome):
            assert task.settings.retry is not None
            trigger = "retry"
            retry_at = outcome.ended_mono + retry_delay(
                task.settings.retry, job.attempt, self._random.random()
            )
        job_state = JOB_MACHINE.next_state(job.id, job.state, trigger)
        if outcome.exc is not None:
            try:
                self._log_failure(job, outcome, retry_at)
            except Exception:  # a logging handler that raises must not strand the job
                outcome.exc = None
        regular = None
        if task.state is TaskState.RUNNING and not task.run_once and not self._stopping:
            regular = self._next_regular(task, job, outcome)
        elif task.state is TaskState.RUNNING and not task.run_once and task.key is not None:
            # Shutting down: nothing more runs here, but a durable keyed task's record must
            # say its slot was served, or the next start (or another process) runs it again.
            following = self._next_regular(task, job, outcome)
            if following is not None and self._store.durable:
                task.slot, task.next_run_at = following.slot, following.at
        job.state = job_state
        job.ended_at = outcome.ended_at
        job.error = outcome.error if outcome.error is not None else job.note
        job.result, job.result_note = outcome.result, outcome.result_note
        start = job.started_mono
        job.duration = 0.0 if start is None else max(0.0, outcome.ended_mono - start)
        del self._jobs[job.id]
        self._timeouts.cancel(job.id)
        self._running -= 1
        self._store.put_job_values(job.values())
        task.job = None
        if task.state is not TaskState.REMOVED:
            if retry_at is not None:
                self._retry(task, job, regular, retry_at)
            else:
                follow_up = task.follow_up
                self._after_run(task, regular if follow_up is None else self._plan_now(follow_up))
        self._ended(job, JOB_MACHINE.event_for(trigger), outcome.ended_mono)

    def _log_failure(self, job: JobEntry, outcome: Outcome, retry_at: float | None) -> None:
        """Log what a handler raised: a warning for an attempt that is retried, an error
        with its traceback for a failure that stands."""
        exc, outcome.exc = outcome.exc, None
        task = job.task
        if retry_at is not None:
            assert task.settings.retry is not None
            self._logger.warning(
                "job %s of task %r (%s) raised %s: %s; attempt %d of %d, retrying in %.3g s",
                job.id,
                task.name,
                task.id,
                type(exc).__name__,
                outcome.error,
                job.attempt,
                task.settings.retry.max_retries + 1,
                max(0.0, retry_at - outcome.ended_mono),
            )
            return
        self._logger.error(
            "job %s of task %r (%s) raised %s",
            job.id,
            task.name,
            task.id,
            type(exc).__name__,
            exc_info=exc,
        )

    def _retry(self, task: TaskEntry, job: JobEntry, regular: Plan | None, at: float) -> None:
        """Make the next attempt of ``job``, which failed, due at the monotonic ``at``."""
        retry = task.pending
        if retry is None:
            retry = self._new_job(task)
            retry.displaced = regular
            self._after_run(task, self._plan_now(at), retrying=True)
        else:  # a run asked for meanwhile (run_task): it is the next attempt, now
            follow_up = task.follow_up
            plan = None if follow_up is None else self._plan_now(follow_up)
            self._after_run(task, plan, retrying=True)
        retry.attempt, retry.anchor, retry.retry_of = job.attempt + 1, job.anchor, job.id
        retry.slot = job.slot
        self._make_pending(task, retry)
        # Whoever waits for this run waits for its final attempt.
        job.next_attempt = retry
        retry.on_end.extend(job.on_end)
        if job.ended is not None:
            retry.waitable()  # a waiter follows next_attempt to this one's event
        job.on_end.clear()

    def _next_regular(self, task: TaskEntry, job: JobEntry, outcome: Outcome) -> Plan | None:
        """The regular run after ``job``: the next slot at or after its end (slots that
        passed while it ran are skipped, never made up)."""
        schedule = task.schedule
        if isinstance(schedule, IntervalSchedule) and task.wall_timed:
            return self._calendar_plan(
                task, self._slot_after(job, outcome.ended_at, fixed=schedule.fixed, wall=True)
            )
        if isinstance(schedule, IntervalSchedule):
            slot = self._slot_after(job, outcome.ended_mono, fixed=schedule.fixed, wall=False)
            return self._interval_plan(task, slot)
        after = outcome.ended_at if job.slot is None else max(job.slot, outcome.ended_at)
        return self._cron_plan(task, after)

    @staticmethod
    def _slot_after(job: JobEntry, ended: float, *, fixed: bool, wall: bool) -> float:
        """The regular slot of an interval task after ``job``, had it ended at ``ended``:
        on the wall clock for a shared task (``wall``), else on the monotonic clock."""
        schedule = job.task.schedule
        assert isinstance(schedule, IntervalSchedule)
        if wall:
            started: float | None = job.started_at if job.started_at is not None else job.created_at
            anchor = job.slot if job.slot is not None else started
        else:
            started, anchor = job.started_mono, job.anchor
        assert anchor is not None
        return slot_after_run(
            anchor=anchor,
            started=started,
            ended=ended,
            interval=schedule.seconds,
            fixed_interval=fixed,
        )

    def _ended(self, job: JobEntry, event: Event | None, ended_mono: float) -> None:
        """After a job's end is recorded: tell listeners and waiters; time the next purge."""
        self._emit_job(event, job)
        if job.ended is not None:
            job.ended.set()
        for callback in job.on_end:
            try:
                callback()
            except Exception:
                self._logger.exception("a waiter of job %s failed", job.id)
        job.on_end.clear()
        if self._purge_at is None:
            self._purge_at = ended_mono + self._retention

    def _emit_job(self, event: Event | None, job: JobEntry) -> None:
        if event is not None and self._listeners.any:
            self._emit(event, lambda: (job.task.snapshot(), job.snapshot()))

    def _emit(self, event: Event, payload: Callable[[], tuple[Any, ...]]) -> None:
        """Emit ``event`` now (its payload is built now): for the thread waiting for this
        work to deliver, else for delivery without waiting (see ``_collect``)."""
        emission = self._listeners.emission(event, payload)
        if emission is None:
            return
        if self._collect is not None:
            self._collect.append(emission)
        else:
            self._listeners.deliver_later(emission)

    def _after_run(self, task: TaskEntry, plan: Plan | None, *, retrying: bool = False) -> None:
        if task.run_once and not retrying:
            self._end(task, "finish_last")
            return
        task.state = TASK_MACHINE.next_state(task.id, task.state, "finish")
        task.follow_up = None
        if plan is not None:
            self._apply(task, plan)
        elif task.shared and task.state is TaskState.PAUSED and not self._stopping:
            self._recheck(task, RECHECK_SECONDS)  # to hear of a resume elsewhere
        self._write_task(task)

    def _make_pending(self, task: TaskEntry, job: JobEntry) -> None:
        task.pending = job
        self._pending[job.id] = job
        self._store.put_job_values(job.values())

    def _cancel_pending(self, job: JobEntry, reason: str, *, restore: bool = True) -> None:
        """Cancel a job made ahead (scheduled, never started: no start time, a duration
        of 0, and ``reason`` in its record); with ``restore``, the task's schedule returns
        to what it was before the job displaced it."""
        task = job.task
        job.state = JOB_MACHINE.next_state(job.id, job.state, "cancel")
        now = self._clock.monotonic()
        job.ended_at = self._epoch()
        # No duration stored: that is how the record says it never started (job_model).
        job.error = f"cancelled before it started: {reason}"
        del self._pending[job.id]
        task.pending = None
        self._store.put_job_values(job.values())
        if not restore:
            pass
        elif task.job is not None:
            task.follow_up = None if job.displaced is None else job.displaced.deadline
        elif task.state is TaskState.ACTIVE and not self._stopping:
            if job.displaced is not None:
                self._apply(task, job.displaced)
                self._write_task(task)
            elif task.run_once and job.attempt > 1:
                self._end(task, "abandon")  # its one run failed and its retry is cancelled
            else:
                self._timeline.cancel(task.id)
        self._ended(job, JOB_MACHINE.event_for("cancel"), now)

    # -- plans: what the timeline holds for a task ------------------------------------------

    def _apply(self, task: TaskEntry, plan: Plan, *, starts_now: bool = False) -> None:
        """Plan ``task``'s next run; ``starts_now``: the caller starts it at once, so its
        deadline stays off the timeline (and any earlier one leaves it)."""
        self._overdue.discard(task.id)
        task.recheck = False
        if starts_now:
            self._timeline.cancel(task.id)
        else:
            self._timeline.schedule(task.id, plan.deadline)
        task.slot = plan.slot
        task.next_run_at = plan.at

    def _plan_now(
        self, deadline: float, *, keep_slot: bool = False, task: TaskEntry | None = None
    ) -> Plan:
        """A run at the monotonic ``deadline`` that is not a regular one (run now, resume, a
        retry); ``keep_slot``: the regular run it stands for, only later."""
        wall = self._epoch() + (deadline - self._clock.monotonic())
        return Plan(deadline, task.slot if keep_slot and task is not None else None, wall)

    def _jitter(self, task: TaskEntry) -> float:
        return self._random.uniform(0.0, task.settings.jitter) if task.settings.jitter else 0.0

    def _interval_plan(self, task: TaskEntry, slot: float) -> Plan:
        """The run of an interval task at the monotonic ``slot``, jitter added."""
        deadline = slot + self._jitter(task)
        wall = self._epoch() + (deadline - self._clock.monotonic())
        return Plan(deadline, slot, wall)

    def _calendar_plan(self, task: TaskEntry, slot: float) -> Plan:
        """The run of a calendar task at the epoch instant ``slot``, jitter added."""
        at = slot + self._jitter(task)
        return Plan(self._clock.monotonic() + (at - self._epoch()), slot, at)

    def _cron_plan(self, task: TaskEntry, after: float) -> Plan | None:
        """The first run of a cron task after the epoch instant ``after``."""
        schedule = task.schedule
        assert isinstance(schedule, CronSchedule)
        slot = schedule.next_slot(after)
        return None if slot is None else self._calendar_plan(task, slot)

    def _current_plan(self, task: TaskEntry) -> Plan | None:
        deadline = self._timeline.deadline(task.id)
        return None if deadline is None else Plan(deadline, task.slot, task.next_run_at)

    def _end(self, task: TaskEntry, trigger: str) -> None:
        """Take ``task`` to its terminal state and forget it; its snapshots keep the
        status it had before (there is no stored status for a task that is gone)."""
        state = TASK_MACHINE.next_state(task.id, task.state, trigger)
        task.final_status = task.state.status
        task.state = state
        self._timeline.cancel(task.id)
        self._overdue.discard(task.id)
        self._overdue_claims.discard(task.id)
        del self._tasks[task.id]
        if task.waiters and task.job is None:  # no job of it will come
            waiters, task.waiters = task.waiters, None
            for waiter in waiters:
                waiter(None)
        if task.wall_timed:
            self._calendar_tasks -= 1
        if task.shared and trigger == "remove":
            pass  # its row stays, 'removed': remove() tells the store, or the store told us
        elif trigger != "remove" and task.key is not None and self._store.durable:
            # A keyed one-shot task that ran (or missed its run) stays on record, so that
            # registering its key again at the next start does not run it again.
            row = task.row()
            row["status"] = TaskStatus.FINISHED.value
            self._store.put_task(row)
        else:
            self._store.delete_task(task.id)

    # -- history --------------------------------------------------------------------------

    def _purge(self) -> None:
        self._purge_at = None
        self._purge_pending = True
        cutoff = self._epoch() - self._retention
        self._store.purge(cutoff, lambda oldest: self.post(lambda: self._purged(oldest)))

    def _purged(self, oldest: float | None) -> None:
        self._purge_pending = False
        if oldest is None:
            return
        wall_delay = oldest + self._retention - self._epoch()
        due = self._clock.monotonic() + max(0.0, wall_delay)
        # A job that ended while the purge was in flight may already have set an earlier one.
        self._purge_at = due if self._purge_at is None else min(self._purge_at, due)

    # -- commands from the API (run on the scheduler thread) ------------------------------

    def add(
        self, task: TaskEntry, first: float, *, restored: bool = False, replanned: bool = False
    ) -> None:
        """Take over ``task``; its first run is at ``first``: a monotonic instant for an
        interval schedule, the epoch instant of its first slot for a calendar one.

        ``restored``: the task comes back from a durable store (a restart), and ``first``
        is its stored next run: if that has passed, the run is late from then, so the
        misfire policy decides. A task restored ``paused`` gets no run. ``replanned``: it was
        restored with a new schedule, planned afresh, which its row must show.
        """
        self._tasks[task.id] = task
        incoming = self._incoming
        incoming.pop(task.id, None)  # after it is in _tasks: see knows()
        if not incoming and sys.getsizeof(incoming) > _SHRINK_BYTES:
            # A dict keeps the table it grew to: after a burst of adds, a fresh one. (A
            # caller that put a task in the old one meanwhile loses only knows()'s fast
            # answer: run_task_immediately then asks this thread.)
            self._incoming = {}
        if task.wall_timed:
            self._calendar_tasks += 1
        if task.state is TaskState.PAUSED:
            if task.shared:
                self._recheck(task, RECHECK_SECONDS)  # to hear of a resume elsewhere
        elif task.wall_timed:
            self._apply(task, self._calendar_plan(task, first))
            stale = restored or isinstance(task.schedule, AtSchedule)
            if stale and first < self._epoch():
                self._overdue.add(task.id)  # an at= time, or a stored run, in the past
        elif not task.settings.jitter and not restored:
            # The common case, kept short: add_task computed next_run_at for this deadline.
            self._timeline.schedule(task.id, first)
            task.slot = first
        else:
            self._apply(task, self._interval_plan(task, first))
            if restored and first < self._clock.monotonic():
                self._overdue.add(task.id)
        # The row stored by add_task shows another run. (A shared task's row is the store's:
        # only a process that ran it, or a user's call, writes it.)
        if replanned or ((task.settings.jitter or restored) and not task.shared):
            self._store.put_task_values(task.values())
        # task_added is add_task's to deliver, on its caller's thread, before it returns.

    def rebind(self, task_id: str, new: TaskEntry, first: float) -> bool:
        """Give the live task ``task_id`` what ``new`` (a registration of the same key) has:
        its handler, arguments and policies, and its schedule, re-planned from ``first``
        (as ``add`` takes it) if that changed. False if no such task is live here."""
        task = self._tasks.get(task_id)
        if task is None:
            return False
        changed = task.schedule != new.schedule
        task.name, task.func = new.name, new.func
        task.args_blob, task.kwargs_blob = new.args_blob, new.kwargs_blob
        # Its policies; the key's scope and the task's owner stay as they were.
        task.settings = new.settings._replace(scope=task.settings.scope, owner=task.settings.owner)
        if changed:
            before = task.wall_timed
            task.schedule = new.schedule
            self._calendar_tasks += int(task.wall_timed) - int(before)
            self._logger.info(
                "task %r (%s) registered again with a new schedule: %s",
                task.name,
                task.id,
                new.schedule.describe()["description"],
            )
            if task.id in self._timeline and task.pending is None:
                if task.wall_timed:
                    self._apply(task, self._calendar_plan(task, first))
                else:
                    self._apply(task, self._interval_plan(task, first))
        task.refresh()
        if changed or not task.shared:
            self._store.put_task_values(task.values())
        return True

    def _emit_task(self, event: Event | None, snapshot: Callable[[], Task]) -> None:
        # The snapshot is taken now, on this thread: later changes must not leak into it.
        if event is not None and self._listeners.any:
            self._emit(event, lambda: (snapshot(),))

    def _task(self, task_id: str) -> TaskEntry:
        task = self._tasks.get(task_id)
        if task is None:
            raise TaskNotFoundError(task_id)
        return task

    def pause(self, task_id: str) -> None:
        """Stop scheduling runs of a task; a running job goes on; a job made ahead (run_task,
        a pending retry) is cancelled."""
        task = self._task(task_id)
        task.state = TASK_MACHINE.next_state(task.id, task.state, "pause")
        self._timeline.cancel(task.id)
        task.follow_up = None
        # The pause first, then what it cancelled: listeners hear it as it happened.
        pending, task.pending = task.pending, None
        task.claiming = False  # a run claimed but not started is handed back (by the write)
        self.share(task.id, TaskStatus.PAUSED.value)
        self._write_task(task)
        if task.shared and task.job is None:
            self._recheck(task, RECHECK_SECONDS)  # to hear of a resume elsewhere
        self._emit_task(TASK_MACHINE.event_for("pause"), task.snapshot)
        if pending is not None:
            task.pending = pending
            self._cancel_pending(pending, "its task was paused")

    def resume(self, task_id: str, delay: float) -> None:
        """Schedule the next run ``delay`` seconds from now (after the running job, if any)."""
        task = self._task(task_id)
        task.state = TASK_MACHINE.next_state(task.id, task.state, "resume")
        deadline = self._clock.monotonic() + delay
        schedule = task.schedule
        if isinstance(schedule, CronSchedule):
            # Back to its slots: the next one at least ``delay`` from now (after the
            # running job, if any, its end finds the slot itself).
            if task.job is None:
                plan = self._cron_plan(task, self._epoch() + delay)
                if plan is not None:
                    self._apply(task, plan)
        elif isinstance(schedule, AtSchedule):
            if task.job is None:
                # Its one time; if that has passed, the misfire policy decides (unless a
                # delay asks for a run later than it).
                wall = self._epoch()
                at = schedule.instant + self._jitter(task)
                if delay:
                    at = max(at, wall + delay)
                mono = self._clock.monotonic()
                self._apply(task, Plan(mono + (at - wall), schedule.instant, at))
                if at < wall:
                    self._overdue.add(task.id)
        elif task.job is None:
            self._apply(task, self._plan_now(deadline))
        elif not task.run_once:
            task.follow_up = deadline
            task.next_run_at = self._epoch() + delay
        status = TaskStatus.RUNNING if task.job is not None else TaskStatus.ACTIVE
        self.share(task.id, status.value)
        self._write_task(task)
        self._emit_task(TASK_MACHINE.event_for("resume"), task.snapshot)

    def run_task(self, task_id: str) -> str | None:
        """Make a run due now (right after the running job, if any) and return its job's id,
        which exists at once as ``scheduled``; None if there is no such task.

        A job already made ahead (an earlier call, a pending retry) is that run: it is made
        due now and its id returned. A run-once task's running job is its one run.
        """
        task = self._tasks.get(task_id)
        if task is None:
            return None
        now = self._clock.monotonic()
        if task.pending is not None:
            job = task.pending
        elif task.run_once and task.job is not None:
            return task.job.id
        else:
            job = self._new_job(task)
            job.displaced = self._current_plan(task) if task.job is None else None
            self._make_pending(task, job)
        if task.job is None:
            self._apply(task, self._plan_now(now))
            self._write_task(task)
        else:
            task.follow_up = now
        return job.id

    def run_soon(self, task_id: str) -> None:
        """``run_task`` for a caller that wants no job id (``run_task_immediately``).

        An idle task of this process alone just gets a deadline of now: its job is made
        when it starts, with no job made ahead (no ``scheduled`` row to write first). Any
        other case (a running job, a job made ahead, a shared task) goes through
        ``run_task``.
        """
        task = self._tasks.get(task_id)
        if task is None:
            return
        if task.state is not TaskState.ACTIVE or task.pending is not None or task.shared:
            self.run_task(task_id)
            return
        now = self._clock.monotonic()
        plan = self._plan_now(now)
        if (
            self._thread is not None
            and not self._stopping
            and self._running < self.pool_size
            and not self._ready
        ):
            # Started now, not after the rest of the command queue: someone waits for it.
            # Straight to a worker: its deadline of now never goes through the timeline.
            self._apply(task, plan, starts_now=True)
            try:
                self._start_due(task, now, 0.0, now)
            finally:
                self._hand_off()
        else:
            self._apply(task, plan)
            self._write_task(task)

    def run_soon_here(self, task_id: str) -> bool:
        """``run_soon`` on the calling thread (see ``_here``); False if the request must be
        sent instead. A run-now request then costs no wake-up of the scheduler thread
        before its job reaches a worker: the caller hands it over itself."""
        return self._here(self._run_soon_now, task_id)

    def _run_soon_now(self, task_id: str) -> bool:
        task = self._tasks.get(task_id)
        if task is None or task.settings.on_main_loop:
            return False  # unknown yet (its add is queued), or its start is the loop's
        self.run_soon(task_id)
        return True

    def _finished(self, job: JobEntry, outcome: Outcome) -> None:
        """A job's end, from the thread that ran it. On a worker thread, while the
        scheduler thread sleeps with nothing queued, the worker records it and starts what
        is due itself (see ``_here``): under load, a batch of jobs then costs no round trip
        through the scheduler thread. Else, and for main-loop and shared jobs, the end is
        posted to the scheduler thread."""
        task = job.task
        on_loop = task.settings.on_main_loop
        if not on_loop and not task.shared and self._here(self._finish_now, job, outcome):
            return
        if on_loop or not self._listeners.wants_any(_END_EVENTS):
            # Nobody to tell, or the main loop must not wait: its events go to it later.
            self.post(partial(self._finish, job, outcome))
            return
        # The job's end events are this worker's to deliver, once the end is recorded.
        reply = _Reply()

        def _finish_for_worker() -> None:
            try:
                self._collecting(partial(self._finish, job, outcome), reply.events)
            finally:
                reply.done.set()

        self.post(_finish_for_worker)
        while not reply.done.wait(1.0):
            thread = self._thread
            if (thread is None or not thread.is_alive()) and not reply.done.wait(1.0):
                return  # shut down, and the end was never recorded: nothing to tell
        self._listeners.deliver(reply.events)

    def _finish_now(self, job: JobEntry, outcome: Outcome) -> bool:
        self._finish(job, outcome)
        try:
            self._dispatch_due(self._clock.monotonic())
        finally:
            self._hand_off()
        return True

    def _here(self, work: Callable[..., bool], *args: Any) -> bool:
        """Run ``work(*args)`` on the calling thread, if the scheduler thread sleeps with no
        command queued; False if the thread is busy, a command waits, or ``work`` says so
        (nothing done: the caller then queues a command instead).

        The scheduler thread holds ``_state`` from waking until it sleeps, so holding it
        here, the caller is the only one at the scheduler's state, as the thread would be.
        Afterwards it wakes the thread only if that has an earlier deadline to keep now (a
        timeout, a purge) or main-loop jobs to watch; else the next job's end, or its own
        deadline, wakes it, as always.
        """
        if self._inbox or not self._state.acquire(blocking=False):
            return False
        events: list[Emission] = []
        try:
            if self._closed or self._stopping or self._thread is None or self._inbox:
                return False
            try:
                if not self._collecting(partial(work, *args), events):
                    return False
            except Exception:  # as on the scheduler thread: logged, and the thread goes on
                self._logger.exception("scheduler thread: a command failed")
            deadline, asleep_until = self._next_deadline(), self._sleep_until
            wake = bool(self._on_loop) or (
                deadline is not None and (asleep_until is None or deadline < asleep_until)
            )
        finally:
            self._state.release()
        if wake:
            self._nudge()
        if events:  # delivered by this thread, with the scheduler's state let go
            self._listeners.deliver(events)
        return True

    def remove(self, task_id: str) -> Task:
        """Delete a task, stop its running job, cancel a job made ahead; return its last
        snapshot."""
        task = self._task(task_id)
        snapshot = task.snapshot()
        pending = task.pending
        self._end(task, "remove")
        if task.job is not None:
            self._stop(task.job)
        if task.shared and self._coordinator is not None:
            store, changed = self._store, max(self._epoch(), task.changed_at)
            self._coordinator.submit(lambda: store.delete_shared(task_id, changed), lambda _: None)
        self._emit_task(TASK_MACHINE.event_for("remove"), lambda: snapshot)
        if pending is not None:  # after the removal, as it happened
            self._cancel_pending(pending, "its task was removed", restore=False)
        return snapshot

    def freed(self, task_ids: list[str]) -> None:
        """Look at once at shared tasks that a dead process was running."""
        ids = [
            task_id
            for task_id in task_ids
            if (task := self._tasks.get(task_id)) is not None
            and task.shared
            and task.job is None
            and not task.claiming
        ]
        if ids and not self._stopping:
            self._look(ids)

    def cancel_requested(self, job_ids: list[str]) -> None:
        """Cancel jobs of this process that another process asked to cancel."""
        for job_id in job_ids:
            if self.cancel_job(job_id):
                self._logger.info("job %s cancelled at another process's request", job_id)

    def cancel_job(self, job_id: str) -> bool:
        """Stop a running job (its stop event, and asyncio cancellation on the main loop) or
        cancel a job made ahead; False when the job is neither."""
        pending = self._pending.get(job_id)
        if pending is not None:
            self._cancel_pending(pending, "cancel_job was called")
            return True
        job = self._jobs.get(job_id)
        if job is None:
            return False
        self._stop(job)
        return True

    def watch(self, job_id: str, on_end: Callable[[], None] | None = None) -> JobEntry | None:
        """The entry of a job not yet ended (running or made ahead), or None; ``on_end`` is
        called on this thread once its end is recorded."""
        job = self._jobs.get(job_id) or self._pending.get(job_id)
        if job is not None:
            job.waitable()
            if on_end is not None:
                job.on_end.append(on_end)
        return job

    def upcoming(self, task_id: str) -> tuple[TaskEntry, float, float] | None:
        """A task's next run as epoch instants: the planned one (jitter included) and the
        regular slot its cadence continues from; None when no run is planned (paused, or a
        one-shot task whose run is under way)."""
        task = self._task(task_id)
        if task.state in (TaskState.PAUSED, TaskState.PAUSED_RUNNING):
            return None
        mono, wall = self._clock.monotonic(), self._epoch()
        if task.id in self._timeline:
            first = task.next_run_at
            if task.slot is None:
                return task, first, first
            base = task.slot if task.wall_timed else wall + (task.slot - mono)
            return task, first, base
        job, schedule = task.job, task.schedule
        if job is None or task.run_once:
            return None
        if task.follow_up is not None:
            first = wall + (task.follow_up - mono)
            return task, first, first
        # Running: the slot after the job, as if it ended now.
        if isinstance(schedule, IntervalSchedule) and task.wall_timed:
            first = self._slot_after(job, wall, fixed=True, wall=True)
            return task, first, first
        if isinstance(schedule, IntervalSchedule):
            slot = self._slot_after(job, mono, fixed=True, wall=False)
            first = wall + (slot - mono)
            return task, first, first
        assert isinstance(schedule, CronSchedule)
        following = schedule.next_slot(wall if job.slot is None else max(job.slot, wall))
        return None if following is None else (task, following, following)

    def watch_task(self, task_id: str, waiter: Callable[[str | None], None]) -> str | None:
        """The id of the job of ``task_id`` that ends next: its running job or the job made
        ahead for it, else None, and ``waiter`` gets the id of its next job when it is made
        (or None if the task ends first). ``TaskNotActiveError`` for a paused task that
        has nothing under way or asked for."""
        task = self._task(task_id)
        current = task.job or task.pending
        if current is not None:
            return current.id
        if task.state is TaskState.PAUSED and task.id not in self._timeline:
            raise TaskNotActiveError(task_id, task.status.value)
        task.waiters = [*(task.waiters or ()), waiter]
        return None

    def entry(self, task_id: str) -> TaskEntry:
        """The entry of a task (``TaskNotFoundError`` for an unknown id)."""
        return self._task(task_id)

    def progress_callback(self, task_id: str) -> Callable[..., Any] | None:
        """The progress callback of a task (``TaskNotFoundError`` for an unknown id)."""
        return self._task(task_id).settings.progress_callback

    def update(self, task_id: str, change: TaskChange) -> Task:
        """Change a task in place (``Quiv.update_task``): same id, same state; return its
        snapshot after the change. A new interval plans the next run an interval from now;
        ``change.run_at`` (epoch) moves the next run there (after the running job, if any)."""
        task = self._task(task_id)
        if task.shared:
            raise ConfigurationError(
                f"task {task_id!r} is shared by every process (a key on a durable store): "
                "register its key again with the new settings instead of update_task"
            )
        if change.run_at is not None:
            if task.state in (TaskState.PAUSED, TaskState.PAUSED_RUNNING):
                raise TaskNotActiveError(task_id, task.status.value)
            if task.job is not None and task.run_once:
                raise TaskRunningError(task_id, "move the next run")
        if change.name is not None:
            task.name = change.name
        if change.blobs is not None:
            task.args_blob, task.kwargs_blob = change.blobs
        if change.settings is not None:
            task.settings = change.settings
        replan = change.schedule is not None and change.schedule != task.schedule
        if change.schedule is not None:
            task.schedule = change.schedule
            task.refresh()
        mono, wall = self._clock.monotonic(), self._epoch()
        if change.run_at is not None:
            deadline = mono + (change.run_at - wall)
            if task.job is None:
                self._apply(task, Plan(deadline, None, change.run_at))
                if change.run_at < wall:
                    self._overdue.add(task.id)
            else:
                task.follow_up, task.next_run_at = deadline, change.run_at
        elif replan and task.state is TaskState.ACTIVE and task.pending is None:
            schedule = task.schedule
            assert isinstance(schedule, IntervalSchedule)
            self._apply(task, self._interval_plan(task, mono + schedule.seconds))
        self._store.put_task_values(task.values())
        snapshot = task.snapshot()
        self._emit_task(Event.TASK_UPDATED, lambda: snapshot)
        return snapshot

    def next_run(self) -> float | None:
        """The earliest planned run of any task (epoch), or None."""
        times = [t.next_run_at for t in self._tasks.values() if t.id in self._timeline]
        return min(times, default=None)

    def tasks_by_status(self) -> dict[str, int]:
        """How many tasks have each stored status."""
        counts: dict[str, int] = {}
        for task in self._tasks.values():
            status = task.status.value
            counts[status] = counts.get(status, 0) + 1
        return counts

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
        self._timeouts._check()
        for job_id, _ in self._timeouts:
            assert job_id in self._jobs
        for job in self._pending.values():
            assert job.task.pending is job
            assert job.state is JobStatus.SCHEDULED
        for task_id, _ in self._timeline:
            assert task_id in self._tasks
        assert self._overdue <= self._tasks.keys()
        running = 0
        for task in self._tasks.values():
            if task.job is not None:
                running += 1
                assert task.state in (TaskState.RUNNING, TaskState.PAUSED_RUNNING)
                assert task.id not in self._timeline
            else:
                assert task.state in (TaskState.ACTIVE, TaskState.PAUSED)
        assert running <= self._running == len(self._jobs) <= self.pool_size
        for task, _, _, _ in self._ready:
            assert task.claiming
