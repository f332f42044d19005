"""The scheduler of one ``Quiv``: the parts wired together, its lifecycle, and the ways in
that the façade, workers and timers use.

``Scheduler`` gives each part what it needs explicitly: the tables (``state``), planning,
dispatch, outcomes, shared tasks, housekeeping, the API's commands and the thread's loop.
The commands are exposed as its own methods, for the façade to send to the thread.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Any

from .._bridge import MainLoop
from .._clock import Clock, epoch_seconds
from .._coordinator import Coordinator
from .._entries import JobEntry, TaskEntry
from .._events import Listeners
from .._instruments import Instruments, Origins
from .._machines import JOB_MACHINE
from .._processes import ProcessPool
from .._runner import JobRunner, Outcome
from .._store import Store
from .._threads import start_thread
from .._workers import WorkerPool
from .commands import TaskCommands
from .dispatch import Dispatcher
from .emitting import Emitter
from .housekeeping import Housekeeping
from .inbox import Inbox, Reply
from .loop import Loop
from .outcomes import Outcomes
from .planning import Planner
from .runs import RunCommands
from .shared import SharedTasks
from .state import SchedulerState

__all__ = ["Lifecycle", "Scheduler", "SchedulerStatistics"]

# The events of a job's end: a worker that posts its end waits for it to be recorded only
# when someone listens to one of them (it then delivers them itself).
_END_EVENTS = frozenset(
    event
    for trigger in ("complete", "fail", "cancel", "time_out", "retry")
    if (event := JOB_MACHINE.event_for(trigger)) is not None
)


@dataclass(frozen=True)
class SchedulerStatistics:
    """A snapshot of the scheduler's load, from ``Quiv.statistics()``.

    ``running_jobs`` counts every running job; ``running_process_jobs`` those of them that
    run in a process of the pool (``executor="process"``), each also holding one of the
    ``free_workers``' threads; ``free_processes`` is how many more could start now.
    ``queued_runs`` counts the runs due now that wait for a free worker or process.
    """

    tasks: int
    pending_deadlines: int
    running_jobs: int
    free_workers: int
    late_starts: int
    jobs_started: int
    store_write_failures: int
    running_process_jobs: int = 0
    free_processes: int = 0
    queued_runs: int = 0


class Lifecycle(str, Enum):
    """Where a scheduler is in its life."""

    CREATED = "created"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class _Add:
    """``Scheduler.add(task, first)`` waiting in the inbox: a burst of registrations queues
    thousands, and this is a quarter of the bytes of the ``partial`` it replaces (which
    brings an empty keyword dict and a bound method along), bytes the allocator would keep
    after the burst."""

    __slots__ = ("add", "first", "task")

    def __init__(self, add: Callable[[TaskEntry, float], None], task: TaskEntry, first: float):
        self.add, self.task, self.first = add, task, first

    def __call__(self) -> None:
        self.add(self.task, self.first)


class Scheduler:
    """Dispatch of one ``Quiv``: owns tasks, jobs in flight, deadlines, and the workers."""

    def __init__(
        self,
        *,
        pool_size: int,
        processes: ProcessPool,
        retention: float,
        clock: Clock,
        store: Store,
        listeners: Listeners,
        bridge: MainLoop,
        logger: logging.Logger,
    ) -> None:
        self.pool_size = pool_size
        self._clock, self._store, self._listeners, self._logger = clock, store, listeners, logger
        epoch = self._epoch = epoch_seconds(clock)
        self.planner = planner = Planner(clock, epoch, random.Random())
        self._emitter = emitter = Emitter(listeners)
        self.inbox = inbox = Inbox(emitter)
        self.processes = processes
        self.instruments = instruments = Instruments(clock, epoch, logger)
        self.state = state = SchedulerState(
            pool_size=pool_size,
            process_pool_size=processes.size,
            retention=retention,
            store=store,
            emitter=emitter,
            planner=planner,
            clock=clock,
            epoch=epoch,
            logger=logger,
            instruments=instruments,
        )
        base: dict[str, Any] = {"state": state, "clock": clock, "epoch": epoch, "logger": logger}
        self.housekeeping = Housekeeping(store=store, post=inbox.post, retention=retention, **base)
        self.coordinator = (
            Coordinator(inbox.post, logger, store.told_once) if store.durable else None
        )
        common = {**base, "planner": planner, "store": store, "emitter": emitter}
        self.shared: SharedTasks | None = None
        if self.coordinator is not None:
            self.shared = SharedTasks(coordinator=self.coordinator, **common)
        self.outcomes = outcomes = Outcomes(rng=planner.rng, **common)
        self.workers = WorkerPool(pool_size, "quiv-worker")
        runner = JobRunner(
            clock,
            bridge,
            logger,
            listeners=listeners,
            processes=processes,
            instruments=instruments,
            started=lambda job, at, mono: self.post(partial(outcomes.started, job, at, mono)),
            finished=self._finished,
        )
        self.dispatcher = dispatcher = Dispatcher(
            workers=self.workers,
            runner=runner,
            bridge=bridge,
            outcomes=outcomes,
            housekeeping=self.housekeeping,
            shared=self.shared,
            **common,
        )
        # The API's commands, which the façade sends (run by the scheduler thread, or
        # inline before it starts): to tasks, and to runs and jobs.
        self.tasks = TaskCommands(shared=self.shared, **common)
        self.runs = RunCommands(
            state=state, planner=planner, dispatcher=dispatcher, clock=clock, logger=logger
        )
        self.send, self.post, self.call = inbox.send, inbox.post, inbox.call
        self.loop = Loop(
            inbox=inbox,
            emitter=emitter,
            dispatcher=dispatcher,
            outcomes=outcomes,
            housekeeping=self.housekeeping,
            shared=self.shared,
            store=store,
            state=state,
            clock=clock,
            logger=logger,
        )
        self.state_lock = self.loop.lock

    @property
    def thread(self) -> threading.Thread | None:
        return self.inbox.thread

    # -- commands ---------------------------------------------------------------------

    def send_add(self, task: TaskEntry, first: float, **options: bool) -> None:
        """Send ``add(task, first, **options)``; until it runs, ``knows`` says the task is
        known already."""
        self.state.incoming[task.id] = task
        try:
            self.send(
                partial(self.tasks.add, task, first, **options)
                if options
                else _Add(self.tasks.add, task, first)
            )
        except BaseException:
            self.state.incoming.pop(task.id, None)
            raise

    def knows(self, task_id: str) -> bool:
        """Whether ``task_id`` is a task of this scheduler, or one on its way to it (any
        thread). ``add`` puts a task in ``tasks`` before it takes it out of ``incoming``,
        and this looks in the opposite order, so no task falls between."""
        return task_id in self.state.incoming or task_id in self.state.tasks

    def freed(self, task_ids: list[str]) -> None:
        """Look at once at shared tasks that a dead process was running."""
        if self.shared is not None:
            self.shared.freed(task_ids)

    def settle(self, timeout: float) -> bool:
        """Wait until the thread has run every command posted before and then made one
        dispatch pass at the clock's current time, with no round trip to a shared store on
        its way; False on timeout. Not started: True."""
        if self.thread is None:
            return True
        end = time.monotonic() + timeout
        while True:
            # Claims of shared runs are answered on the coordinator thread: settled means
            # none was on its way before a pass, nor after it.
            quiet = self._quiet()
            barrier = threading.Event()
            self.post(partial(self.loop.barriers.append, barrier))
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
        if self.coordinator is not None:
            self.coordinator.drain(timeout)

    def _quiet(self) -> bool:
        return self.shared is None or self.shared.quiet

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduler thread; commands run on it from now on."""
        state = self.state
        state.started_mono = self._clock.monotonic()
        state.started_wall = self._epoch()
        self.housekeeping.started(state.started_mono, state.started_wall)
        self._store.start()

        def begin() -> threading.Thread:
            state.threaded = True
            return start_thread(self.loop.run, "quiv-scheduler")

        self.inbox.open(begin)

    def stop(self, timeout: float | None, *, at_exit: bool = False) -> list[str]:
        """Stop dispatching, set every running job's stop event, and wait for jobs to end.

        Waits up to ``timeout`` real seconds (None: without limit) for running jobs; the
        injected clock plays no part, so a test clock cannot make shutdown hang. Jobs still
        running then are recorded as cancelled and their ids returned: their threads are
        daemons and end with their handler or the process. Every child process of the
        pool is ended before this returns (a process job asked to stop is killed
        ``kill_grace`` after, so such a job holds the wait no longer than that).
        """
        thread = self.inbox.close()
        if thread is None:
            # Never started; round trips a pause or a removal sent to a shared store may
            # still be on their way: let them finish, and end the coordinator's thread.
            if self.coordinator is not None:
                self.coordinator.close(timeout)
            self.processes.close()
            return []
        state = self.state
        if thread is threading.current_thread():
            # Only a finalizer can get here: stop the loop, and let nothing wait on itself.
            state.stopping = self.loop.abandon = True
            return []

        def _begin() -> None:
            state.stopping = True
            for job in list(state.pending.values()):
                state.cancel_pending(job, "the scheduler shut down")
            for job in state.jobs.values():
                state.stop_job(job)

        def _abandon() -> None:
            self.loop.abandon = True

        self.post(_begin)
        thread.join(timeout)
        if thread.is_alive():
            self.post(_abandon)
            thread.join()
        inbox = self.inbox.queue
        while inbox:  # ends that workers posted while the thread was leaving
            try:
                inbox.popleft()()
            except Exception:
                self._logger.exception("scheduler thread: a command failed during shutdown")
        # The thread has exited: what is still in flight is the caller's to close.
        self.housekeeping.report_late(None)
        abandoned = self.outcomes.abandon(at_exit=at_exit)
        # The children of jobs given up on are killed now (a few seconds at most, whatever
        # the timeout: no child may outlive its pool); the idle ones exit.
        self.processes.close()
        self.workers.shutdown(0.0 if abandoned else timeout)
        if self.coordinator is not None:
            self.coordinator.close(timeout)
        return abandoned

    # -- off the scheduler thread -------------------------------------------------------

    def run_soon(self, task_id: str) -> bool:
        """Make a run of a known task due now, unwaited (False: unknown here). Made here
        while the scheduler thread sleeps with nothing queued (``Loop.here``: no wake-up
        before its job reaches a worker), else sent (as quiv 0.4.0 returned at once)."""
        origin = self.instruments.capture() if self.instruments.observers else None
        if self.loop.here(self._run_soon_now, task_id, origin):
            return True
        if not self.knows(task_id):
            return False
        self.send(partial(self.runs.run_soon, task_id, origin))
        return True

    def _run_soon_now(self, task_id: str, origin: Origins | None) -> bool:
        task = self.state.tasks.get(task_id)
        if task is None or task.settings.on_main_loop:
            return False  # unknown yet (its add is queued), or its start is the loop's
        self.runs.run_soon(task_id, origin)
        return True

    def _finished(self, job: JobEntry, outcome: Outcome) -> None:
        """A job's end, from the thread that ran it. On a worker thread, while the
        scheduler thread sleeps with nothing queued, the worker records it and starts what
        is due itself (see ``Loop.here``): under load, a batch of jobs then costs no round trip
        through the scheduler thread. Else, and for main-loop and shared jobs, the end is
        posted to the scheduler thread."""
        task = job.task
        on_loop = task.settings.on_main_loop
        if not on_loop and not task.shared and self.loop.here(self._finish_now, job, outcome):
            return
        finish = self.outcomes.finish
        if on_loop or not self._listeners.wants_any(_END_EVENTS):
            # Nobody to tell, or the main loop must not wait: its events go to it later.
            self.post(partial(finish, job, outcome))
            return
        # The job's end events are this worker's to deliver, once the end is recorded.
        reply = Reply()

        def _finish_for_worker() -> None:
            try:
                self._emitter.collecting(partial(finish, job, outcome), reply.events)
            finally:
                reply.done.set()

        self.post(_finish_for_worker)
        while not reply.done.wait(1.0):
            thread = self.thread
            if (thread is None or not thread.is_alive()) and not reply.done.wait(1.0):
                return  # shut down, and the end was never recorded: nothing to tell
        self._listeners.deliver(reply.events)

    def _finish_now(self, job: JobEntry, outcome: Outcome) -> bool:
        self.outcomes.finish(job, outcome)
        try:
            self.dispatcher.dispatch_due(self._clock.monotonic())
        finally:
            self.dispatcher.hand_off()
        return True

    # -- questions ------------------------------------------------------------------------

    def statistics(self) -> SchedulerStatistics:
        """Counters of the scheduler now."""
        state = self.state
        return SchedulerStatistics(
            tasks=len(state.tasks),
            pending_deadlines=len(state.timeline),
            running_jobs=state.running,
            free_workers=self.pool_size - state.running,
            late_starts=self.housekeeping.late_starts,
            jobs_started=state.jobs_started,
            store_write_failures=self._store.write_failures,
            running_process_jobs=state.process_running,
            free_processes=state.process_pool_size - state.process_running,
            queued_runs=state.queued(self._clock.monotonic()),
        )

    def check(self) -> None:
        """Assert the invariants between tasks, jobs and deadlines (for tests)."""
        self.state.check()
