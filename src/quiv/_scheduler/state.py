"""The scheduler's state: its tables of tasks, jobs and deadlines, and the primitive changes
that every part of the scheduler makes to them.

One ``SchedulerState`` belongs to one scheduler. Only the thread that holds the scheduler's
state lock touches it (the scheduler thread, or a caller on a fast path, see ``loop``), so
nothing here locks. The parts of the scheduler (dispatch, outcomes, shared tasks, the
commands) share these tables and these primitives, and nothing else of one another.

Invariants (``check``): a task is on the timeline only while fewer of its jobs run than
its ``max_instances`` (one, for most: while none runs); a job made
ahead is its task's ``pending`` and ``scheduled``; no more jobs run than there are workers,
nor process jobs than processes; every timeout belongs to a running job; every task held
for a process (at ``HELD``) is in ``held``.

A task whose runs need a process (``executor="process"``) and whose run falls due while
every process is busy is *held*: it stays on the timeline, at ``HELD`` (+inf, which no pass
reaches), and ``held`` keeps the instant it was due. When processes are free again, each
takes one held run back to the timeline, at its due instant (``release_held``), in the
order they were held; the rest stay held, so that a long queue costs a job's end no more
than the runs it can start. Everything else about such a task stays as it was: a command
that plans it meanwhile (a resume, a run asked for, an update) moves it off ``HELD``, and
its entry in ``held`` is then stale, dropped when the release reaches it, as the timeline
drops its own cancelled entries lazily. So a run waiting for a process is never
``running``, and waits without a deadline that would wake the scheduler thread.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable

from .._clock import Clock
from .._entries import JobEntry, Plan, TaskEntry
from .._ids import new_id
from .._machines import JOB_MACHINE, TASK_MACHINE, TaskState
from .._store import Store
from .._timing import Timeline
from ..exceptions import TaskNotFoundError
from ..models import Event, JobStatus, TaskStatus
from .emitting import Emitter
from .planning import Planner

__all__ = ["HELD", "RECHECK_SECONDS", "SchedulerState"]

# A shared task that another process has paused, or is running without a slot to expect
# next, is looked at again in the store this often.
RECHECK_SECONDS = 5.0
# The deadline of a run held for a process: later than any pass looks.
HELD = math.inf


class SchedulerState:
    """The tables of one scheduler and the changes made to them (see the module)."""

    def __init__(
        self,
        *,
        pool_size: int,
        process_pool_size: int = 1,
        retention: float,
        store: Store,
        emitter: Emitter,
        planner: Planner,
        clock: Clock,
        epoch: Callable[[], float],
        logger: logging.Logger,
    ) -> None:
        self.pool_size = pool_size
        self.process_pool_size = process_pool_size
        self._retention = retention
        self._store, self._emitter, self._planner = store, emitter, planner
        self._clock, self._epoch, self._logger = clock, epoch, logger
        self.tasks: dict[str, TaskEntry] = {}
        # Tasks sent by add_task whose add command has not run yet (written by callers).
        self.incoming: dict[str, TaskEntry] = {}
        self.jobs: dict[str, JobEntry] = {}  # dispatched, not yet ended
        self.pending: dict[str, JobEntry] = {}  # made ahead, not yet dispatched
        self.on_loop: dict[str, JobEntry] = {}  # handed to the main loop, until they end
        self.timeline: Timeline[str] = Timeline()  # task id -> its next run
        self.timeouts: Timeline[str] = Timeline()  # job id -> its timeout, then its grace
        # Runs of shared tasks claimed and waiting for a free worker:
        # (task, due, late at the claim minus when that was, the job id the claim named).
        self.ready: deque[tuple[TaskEntry, float, float, str]] = deque()
        # Tasks whose planned run was already past when it was planned (an at= time in the
        # past, a stored run): late from that time, not from start(). Cleared by the next plan.
        self.overdue: set[str] = set()
        self.overdue_claims: set[str] = set()  # shared tasks whose claimed run was overdue
        self.running = 0
        self.process_running = 0  # of the running jobs, those in a process of the pool
        # Runs of process tasks held while every process was busy: task id -> the
        # monotonic instant each was due (see the module).
        self.held: dict[str, float] = {}
        self.jobs_started = 0
        self.calendar_tasks = 0  # wall-timed tasks: while there are any, drift is watched
        self.threaded = False  # the scheduler thread was started
        self.stopping = False
        self.started_mono = 0.0  # when the scheduler started, on each clock
        self.started_wall = 0.0
        self.purge_at: float | None = None  # monotonic; set by the first end after a purge

    def task(self, task_id: str) -> TaskEntry:
        """The entry of a live task; ``TaskNotFoundError`` for any other id."""
        task = self.tasks.get(task_id)
        if task is None:
            raise TaskNotFoundError(task_id)
        return task

    # -- plans --------------------------------------------------------------------------

    def apply(self, task: TaskEntry, plan: Plan, *, starts_now: bool = False) -> None:
        """Plan ``task``'s next run; ``starts_now``: the caller starts it at once, so its
        deadline stays off the timeline (and any earlier one leaves it)."""
        self.overdue.discard(task.id)
        task.recheck = False
        if starts_now:
            self.timeline.cancel(task.id)
        else:
            self.timeline.schedule(task.id, plan.deadline)
        task.slot = plan.slot
        task.next_run_at = plan.at

    def current_plan(self, task: TaskEntry) -> Plan | None:
        deadline = self.timeline.deadline(task.id)
        if deadline == HELD:
            deadline = self.held[task.id]
        return None if deadline is None else Plan(deadline, task.slot, task.next_run_at)

    # -- processes ------------------------------------------------------------------------

    @staticmethod
    def needs_process(task: TaskEntry) -> bool:
        """Whether ``task``'s runs run in a process of the pool."""
        return task.settings.executor == "process"

    @property
    def process_free(self) -> bool:
        """Whether a process job could start now (a worker thread aside)."""
        return self.process_running < self.process_pool_size

    def claimed_startable(self) -> bool:
        """Whether the claimed run at the head of ``ready`` could start now as far as
        processes go (one that is no longer to start at all starts nothing: it may go)."""
        task = self.ready[0][0]
        live = task.claiming and self.tasks.get(task.id) is task
        return self.process_free or not live or not self.needs_process(task)

    def hold(self, task_id: str, due: float) -> None:
        """Hold ``task_id``'s run, due at ``due``, until a process is free. O(log n)."""
        self.held[task_id] = due
        self.timeline.schedule(task_id, HELD)

    def release_held(self, limit: int | None = None) -> None:
        """Put the runs held longest back on the timeline at their due instants: ``limit``
        of them (as many as processes are free), or all. O(k log n) for k released, and
        O(1) for each stale entry dropped on the way."""
        held, timeline = self.held, self.timeline
        released = 0
        while held and (limit is None or released < limit):
            task_id = next(iter(held))
            due = held.pop(task_id)
            if timeline.deadline(task_id) == HELD:  # else planned anew meanwhile, or gone
                timeline.schedule(task_id, due)
                released += 1

    def recheck(self, task: TaskEntry, seconds: float) -> None:
        """Look at a shared task in the store again ``seconds`` from now."""
        self.apply(task, self._planner.at(self._clock.monotonic() + seconds))
        task.recheck = True

    def write_task(self, task: TaskEntry) -> None:
        """Hand ``task``'s changed state to the store: a shared task's whole row (its lease
        and stamps go with it), any other's status and next run only (the rest of its row
        changes only when it is registered again, which writes it whole)."""
        if task.shared:
            self._store.put_task_values(task.values())
        else:
            self._store.put_task_state(task.id, task.status.value, task.next_run_at)

    # -- jobs -----------------------------------------------------------------------------

    def new_job(self, task: TaskEntry, attempt: int = 1) -> JobEntry:
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

    def begin(
        self, job: JobEntry, state: JobStatus, started_at: float, started_mono: float
    ) -> None:
        """The job is running from ``started_at``: in memory; the store hears of it after."""
        job.state = state
        job.started_at, job.started_mono = started_at, started_mono
        timeout = job.task.settings.timeout
        if timeout is not None:
            self.timeouts.schedule(job.id, started_mono + timeout)

    @staticmethod
    def stop_job(job: JobEntry) -> None:
        """Set ``job``'s stop event, and cancel its asyncio task if it runs on the main loop."""
        job.request_stop()
        if job.loop_future is not None:
            job.loop_future.cancel()

    def make_pending(self, task: TaskEntry, job: JobEntry) -> None:
        task.pending = job
        self.pending[job.id] = job
        self._store.put_job_values(job.values())

    def cancel_pending(self, job: JobEntry, reason: str, *, restore: bool = True) -> None:
        """Cancel a job made ahead (scheduled, never started: no start time, a duration
        of 0, and ``reason`` in its record); with ``restore``, the task's schedule returns
        to what it was before the job displaced it."""
        task = job.task
        job.state = JOB_MACHINE.next_state(job.id, job.state, "cancel")
        now = self._clock.monotonic()
        job.ended_at = self._epoch()
        # No duration stored: that is how the record says it never started (job_model).
        job.error = f"cancelled before it started: {reason}"
        del self.pending[job.id]
        task.pending = None
        self._store.put_job_values(job.values())
        if not restore:
            pass
        elif task.full:
            task.follow_up = None if job.displaced is None else job.displaced.deadline
        elif task.state in (TaskState.ACTIVE, TaskState.RUNNING) and not self.stopping:
            if job.displaced is not None:
                self.apply(task, job.displaced)
                self.write_task(task)
            elif task.run_once and job.attempt > 1:
                self.end_task(task, "abandon")  # its one run failed and its retry is cancelled
            else:
                self.timeline.cancel(task.id)
        self.ended(job, JOB_MACHINE.event_for("cancel"), now)

    def ended(self, job: JobEntry, event: Event | None, ended_mono: float) -> None:
        """After a job's end is recorded: tell listeners and waiters; time the next purge."""
        self._emitter.job(event, job)
        if job.ended is not None:
            job.ended.set()
        for callback in job.on_end:
            try:
                callback()
            except Exception:
                self._logger.exception("a waiter of job %s failed", job.id)
        job.on_end.clear()
        if self.purge_at is None:
            self.purge_at = ended_mono + self._retention

    # -- tasks ----------------------------------------------------------------------------

    def end_task(self, task: TaskEntry, trigger: str) -> None:
        """Take ``task`` to its terminal state and forget it; its snapshots keep the
        status it had before (there is no stored status for a task that is gone)."""
        state = TASK_MACHINE.next_state(task.id, task.state, trigger)
        task.final_status = task.state.status
        task.state = state
        self.timeline.cancel(task.id)
        self.overdue.discard(task.id)
        self.overdue_claims.discard(task.id)
        del self.tasks[task.id]
        if task.waiters and task.job is None:  # no job of it will come
            waiters, task.waiters = task.waiters, None
            for waiter in waiters:
                waiter(None)
        if task.wall_timed:
            self.calendar_tasks -= 1
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

    def check(self) -> None:
        """Assert the invariants between tasks, jobs and deadlines (for tests)."""
        self.timeline._check()
        self.timeouts._check()
        for job_id, _ in self.timeouts:
            assert job_id in self.jobs
        for job in self.pending.values():
            assert job.task.pending is job
            assert job.state is JobStatus.SCHEDULED
        for task_id, deadline in self.timeline:
            assert task_id in self.tasks
            assert deadline != HELD or task_id in self.held
        assert self.overdue <= self.tasks.keys()
        running = 0
        for task in self.tasks.values():
            if task.job is not None:
                jobs = task.running_jobs()
                running += len(jobs)
                assert len(jobs) <= max(task.settings.max_instances, 1)
                assert all(self.jobs.get(job.id) is job for job in jobs)
                assert task.others is None or task.others  # never an empty list
                assert task.state in (TaskState.RUNNING, TaskState.PAUSED_RUNNING)
                assert not task.full or task.id not in self.timeline
            else:
                assert task.others is None
                assert task.state in (TaskState.ACTIVE, TaskState.PAUSED)
        assert running <= self.running == len(self.jobs) <= self.pool_size
        in_process = sum(job.process for job in self.jobs.values())
        assert in_process == self.process_running <= self.process_pool_size
        for task, _, _, _ in self.ready:
            assert task.claiming
