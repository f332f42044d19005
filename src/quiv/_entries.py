"""Tasks and jobs as the scheduler thread holds them, and their rows and public snapshots.

Only the scheduler thread changes an entry (workers read the parts that never change after
dispatch). ``row()`` gives every stored column, which ``_snapshots`` turns into the public
``Task``/``Job`` for reads from the store and event snapshots alike.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from ._arguments import PICKLE, ArgumentCodec
from ._invocation import Injection
from ._machines import TaskState
from ._schedule import IntervalSchedule, Misfire, RetryPolicy, RuleSchedule, Schedule
from ._snapshots import Row, job_model, task_model
from .models import Job, JobStatus, Task, TaskStatus
from .schedules import Interval

__all__ = [
    "EXECUTORS",
    "JOB_COLUMNS",
    "TASK_COLUMNS",
    "JobEntry",
    "Plan",
    "Row",
    "TaskEntry",
    "TaskSettings",
    "shared_settings",
]


# Where a task's handler runs: on a worker thread, or in a process of the pool.
EXECUTORS = ("thread", "process")


class Plan(NamedTuple):
    """A run the timeline is to hold: its monotonic ``deadline``, its regular ``slot`` (see
    ``TaskEntry.slot``; None for a run that is not a regular one) and the epoch instant
    ``at`` that ``next_run_at`` shows."""

    deadline: float
    slot: float | None
    at: float


# The job table's columns, in its order (the store checks that they match).
JOB_COLUMNS = (
    "id",
    "task_id",
    "task_name",
    "status",
    "started_at",
    "ended_at",
    "duration_seconds",
    "error_message",
    "attempt",
    "retry_of",
    "result",
    "result_note",
    "unresponsive",
    "node",
    "scheduled_for",
    "cancel_requested",
    "executor",
)

# The task table's columns, in its order (the store checks that they match).
TASK_COLUMNS = (
    "id",
    "key",
    "scope",
    "owner",
    "created_at",
    "task_name",
    "args",
    "kwargs",
    "interval_seconds",
    "fixed_interval",
    "run_once",
    "status",
    "next_run_at",
    "timeout_seconds",
    "max_retries",
    "on_main_loop",
    "schedule",
    "misfire",
    "misfire_grace_seconds",
    "jitter_seconds",
    "shared",
    "slot",
    "lease_node",
    "lease_job",
    "lease_until",
    "lease_token",
    "updated_by",
    "changed_at",
    "executor",
    "max_instances",
)


@lru_cache(maxsize=256)
def _schedule_json(schedule: Schedule) -> str:
    """What a task's ``schedule`` column holds: the schedule's JSON, or '' for an interval
    schedule, which the interval columns hold already (the description is made when read:
    most tasks have one, and it would be a third of their row)."""
    # Schedules are frozen and hashable, and most tasks share a few: encode each once.
    if isinstance(schedule, IntervalSchedule) and schedule.value is None:
        return ""
    return json.dumps(schedule.describe())


class TaskSettings(NamedTuple):
    """What a registration sets besides its handler, arguments and schedule, and what is
    fixed for a task's life (``rebind`` replaces it whole). Tasks registered alike share
    one (``shared_settings``): most take the defaults, and eleven fields of their own
    were 88 B of every idle task."""

    injection: Injection
    progress_callback: Callable[..., Any] | None = None
    timeout: float | None = None
    retry: RetryPolicy | None = None
    on_main_loop: bool = False
    misfire: Misfire = Misfire.COALESCE
    grace: float = 1.0  # seconds a run may be late before the misfire policy applies
    jitter: float = 0.0
    codec: ArgumentCodec = PICKLE
    scope: str = "deployment"  # of the key: 'deployment' or 'process'
    owner: str | None = None  # the node a task without a key lives and dies with
    executor: str = "thread"  # where its handler runs: 'thread' or 'process'
    max_instances: int = 1  # how many of its jobs may run at once


# Settings of recent registrations, each its own key: at most _SHARED_MAX of them (with
# their callbacks), so that the cache does not grow with every registration.
_shared: dict[TaskSettings, TaskSettings] = {}
_SHARED_MAX = 256


def shared_settings(settings: TaskSettings) -> TaskSettings:
    """The ``TaskSettings`` equal to ``settings`` that earlier tasks registered alike got,
    or ``settings`` itself (any thread)."""
    try:
        found = _shared.get(settings)
    except TypeError:  # an unhashable progress callback: this task's own settings
        return settings
    if found is None:
        if len(_shared) >= _SHARED_MAX:
            _shared.clear()
        _shared[settings] = found = settings
    return found


@dataclass(eq=False, slots=True)
class TaskEntry:
    """A task as the scheduler thread knows it."""

    id: str
    name: str
    func: Callable[..., Any]
    args_blob: bytes
    kwargs_blob: bytes
    schedule: Schedule
    settings: TaskSettings
    next_run_at: float  # UTC epoch seconds, as stored: the planned run, jitter included
    # The regular run the timeline holds, before jitter: a monotonic instant for an interval
    # schedule, an epoch instant for a calendar one. None when the deadline is not a regular
    # run (run now, resume, a retry): then no misfire policy applies to it.
    slot: float | None = None
    state: TaskState = TaskState.ACTIVE
    # Its running job (the latest started, when several run: max_instances > 1), and the
    # others, oldest first; None for none (a list only for a task that overlaps itself).
    job: JobEntry | None = None
    others: list[JobEntry] | None = None
    # A job made ahead of its start (run_task, or the next attempt of a retry); it starts
    # when the task's deadline comes.
    pending: JobEntry | None = None
    # A run asked for (run now, resume) while a job ran: its monotonic deadline.
    follow_up: float | None = None
    # The status it had when it was removed or ended; snapshots of it show that.
    final_status: TaskStatus | None = None
    key: str | None = None  # the application's stable name, if it gave one
    created_at: float = 0.0
    # Shared: a keyed task on a durable store that runs once per deployment. Each run is
    # claimed in the store first; ``node`` is this process's node id (durable stores).
    shared: bool = False
    node: str | None = None
    claiming: bool = False  # a claim of its due run is on its way to the store
    recheck: bool = False  # its deadline is a look at the store, not a run
    claimed_job: str | None = None  # the job id of a claim just won, for the job it starts
    # The fencing token of the latest lease on it this process knows of (a shared task):
    # the store refuses a write of its row that carries an older one.
    lease_token: int = 0
    # When a user last paused, resumed or removed it, as far as this process knows (epoch).
    changed_at: float = 0.0
    # wait_for_task callers waiting for its next job to be made: given its id (None: the
    # task ended first).
    waiters: list[Callable[[str | None], None]] | None = None
    _schedule_text: str = field(default="", repr=False)  # its schedule column

    @property
    def status(self) -> TaskStatus:
        """The status stored for this task (or last stored, once it is gone)."""
        if self.final_status is not None:
            return self.final_status
        return self.state.status

    @property
    def running_count(self) -> int:
        """How many of its jobs run now."""
        if self.job is None:
            return 0
        return 1 if self.others is None else 1 + len(self.others)

    @property
    def full(self) -> bool:
        """Whether as many of its jobs run as it allows (``max_instances``): until one
        ends, no other run starts, and none is planned (it is off the timeline)."""
        limit = self.settings.max_instances
        return self.job is not None and (limit == 1 or self.running_count >= limit)

    def running_jobs(self) -> list[JobEntry]:
        """Its running jobs, oldest first."""
        if self.job is None:
            return []
        return [*(self.others or ()), self.job]

    def add_running(self, job: JobEntry) -> None:
        """``job`` of this task started (it becomes ``job``, the latest)."""
        if self.job is not None:
            self.others = [*(self.others or ()), self.job]
        self.job = job

    def remove_running(self, job: JobEntry) -> None:
        """``job`` of this task ended; the latest of the others, if any, becomes ``job``."""
        others = self.others
        if job is self.job:
            self.job = others.pop() if others else None
        elif others is not None:
            others.remove(job)
        if not others:
            self.others = None

    @property
    def run_once(self) -> bool:
        """Whether the task ends after one run (``run_once=True`` or an ``at=`` time)."""
        return self.schedule.run_once

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Encode again what changes only when the task is registered again."""
        self._schedule_text = _schedule_json(self.schedule)

    def values(self) -> tuple[Any, ...]:
        """Every stored column's value, in the order of ``TASK_COLUMNS`` (the task table's):
        what the store writes, with no dict built on the way.

        Built afresh at each call rather than kept: 27 columns held per task would be most
        of an idle task's memory.
        """
        schedule = self.schedule
        shared = self.shared
        job = self.job if shared else None
        if isinstance(schedule, IntervalSchedule):
            interval: float | None = schedule.seconds
            fixed = schedule.fixed
        elif isinstance(schedule, RuleSchedule) and isinstance(schedule.value, Interval):
            interval, fixed = schedule.value.seconds, True  # an interval with a start or end
        else:
            interval, fixed = None, True
        settings = self.settings
        retry = settings.retry
        return (
            self.id,
            self.key,
            settings.scope,
            settings.owner,
            self.created_at,
            self.name,
            self.args_blob,
            self.kwargs_blob,
            interval,
            fixed,
            schedule.run_once,
            self.status.value,
            self.next_run_at,
            settings.timeout,
            0 if retry is None else retry.max_retries,
            settings.on_main_loop,
            self._schedule_text,
            settings.misfire.value,
            settings.grace,
            settings.jitter,
            shared,
            self.slot if shared else None,  # slot
            None if job is None else self.node,  # lease_node
            None if job is None else job.id,  # lease_job
            None,  # lease_until: the store keeps it
            self.lease_token if shared else 0,
            self.node,  # updated_by
            self.changed_at if shared else 0.0,
            settings.executor,
            settings.max_instances,
        )

    def row(self) -> Row:
        """Every stored column, by name."""
        return dict(zip(TASK_COLUMNS, self.values(), strict=True))

    @property
    def wall_timed(self) -> bool:
        """Whether its runs are wall-clock instants: calendar schedules, and every shared
        task (processes agree on wall-clock slots, not on their own monotonic clocks)."""
        return self.schedule.calendar or self.shared

    def snapshot(self) -> Task:
        """The public model of this task now."""
        return task_model(self.row(), self.settings.codec)


@dataclass(eq=False, slots=True)
class JobEntry:
    """A job from its creation until the scheduler thread records its end."""

    id: str
    task: TaskEntry
    created_at: float  # UTC epoch
    # The monotonic instant the run was due; fixed cadences count from it. Retries keep
    # the first attempt's; a job made ahead gets it when it starts.
    anchor: float | None = None
    # The calendar slot (epoch) this job runs for; the next slot is sought after it.
    slot: float | None = None
    attempt: int = 1
    retry_of: str | None = None  # the id of the attempt this one retries
    state: JobStatus = JobStatus.SCHEDULED
    # Whether the job is to stop (cancel_job, a timeout, shutdown): set by the scheduler
    # thread, read by the worker. The handler's ``_stop_event`` is made only for a handler
    # that asks for one (most never do, and an Event costs a Condition and a lock).
    stopping: bool = False
    stop_event: threading.Event | None = None
    started_at: float | None = None
    started_mono: float | None = None
    ended_at: float | None = None
    duration: float | None = None
    error: str | None = None
    result: str | None = None  # JSON
    result_note: str | None = None
    timed_out: bool = False
    unresponsive: bool = False
    process: bool = False  # it runs in a process of the pool (counted apart from threads)
    # Where it runs: 'thread', 'process' or 'main_loop' (set when it is dispatched).
    executor: str = "thread"
    # Stopped because its lease could not be renewed (a shared job), and why, for its record.
    fenced: bool = False
    note: str | None = None
    # The task's planned run this job displaced when it was made ahead; restored if it is
    # cancelled before it starts.
    displaced: Plan | None = None
    # A job run on the main loop: the future of its asyncio task.
    loop_future: Future[None] | None = None
    # Its coroutine, until it starts: closed unstarted if its loop stops first.
    loop_coroutine: Coroutine[Any, Any, None] | None = None
    # The job of the next attempt, once this one ended ``retried``; waiters follow it.
    next_attempt: JobEntry | None = None
    # Set once the job's end is recorded; made (on the scheduler thread) only for a waiter.
    ended: threading.Event | None = None
    on_end: list[Callable[[], None]] = field(default_factory=list)

    def request_stop(self) -> None:
        """Ask the job to stop (scheduler thread): its flag, and its handler's event if any."""
        self.stopping = True
        event = self.stop_event
        if event is not None:
            event.set()

    def handler_stop_event(self) -> threading.Event:
        """The ``_stop_event`` to pass to the handler (worker thread), made on first use.

        Races with ``request_stop`` safely: each side writes its field before it reads the
        other's, so whichever comes second sees the first and the event ends up set.
        """
        event = self.stop_event
        if event is None:
            event = self.stop_event = threading.Event()
            if self.stopping:
                event.set()
        return event

    def waitable(self) -> threading.Event:
        """The event set when the job's end is recorded (scheduler thread: made here, set
        by the same thread, so no end can slip past it)."""
        if self.ended is None:
            self.ended = threading.Event()
        return self.ended

    def values(self) -> tuple[Any, ...]:
        """Every stored column's value, in the order of ``JOB_COLUMNS`` (the job table's):
        what the store writes, with no dict built on the way (twice per job)."""
        task = self.task
        started = self.started_at
        return (
            self.id,
            task.id,
            task.name,
            self.state.value,
            started if started is not None else self.created_at,
            self.ended_at,
            self.duration,
            self.error,
            self.attempt,
            self.retry_of,
            self.result,
            self.result_note,
            self.unresponsive,
            task.node,
            self.slot,  # scheduled_for
            False,  # cancel_requested: another process's request, which the store keeps
            self.executor,
        )

    def row(self) -> Row:
        """Every stored column, by name."""
        return dict(zip(JOB_COLUMNS, self.values(), strict=True))

    def snapshot(self) -> Job:
        """The public model of this job now."""
        return job_model(self.row())
