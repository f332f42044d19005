"""The public data of quiv: event names, statuses, and the ``Task`` and ``Job`` snapshots.

``Task`` and ``Job`` are read-only snapshots built from the store; FastAPI can return them
as JSON directly. Every datetime in them is timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from pydantic import ConfigDict, field_validator
from sqlmodel import SQLModel

__all__ = ["Event", "Job", "JobStatus", "QuivStats", "RunTime", "Task", "TaskStatus"]


class Event(str, Enum):
    """Lifecycle events that listeners can subscribe to with ``Quiv.add_listener``.

    Task events call ``callback(event, task)``; job events call ``callback(event, task, job)``.
    """

    TASK_ADDED = "task_added"
    TASK_REMOVED = "task_removed"
    TASK_PAUSED = "task_paused"
    TASK_RESUMED = "task_resumed"
    TASK_UPDATED = "task_updated"
    JOB_STARTED = "job_started"
    JOB_COMPLETED = "job_completed"
    JOB_FAILED = "job_failed"
    JOB_CANCELLED = "job_cancelled"
    JOB_TIMED_OUT = "job_timed_out"
    JOB_RETRYING = "job_retrying"
    JOB_MISSED = "job_missed"


class TaskStatus(str, Enum):
    """Stored status of a task.

    ``active``: waiting for its next run; ``running``: a job of it runs now; ``paused``:
    no run is scheduled until it is resumed (a job started before the pause may still be
    running; its own status says so). ``finished`` is only stored, never shown: a one-shot
    task with a key, on a durable store, whose run is over (reads treat it as gone, and
    registering its key again does not run it again).
    """

    ACTIVE = "active"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"


class JobStatus(str, Enum):
    """Status of one run of a task.

    ``scheduled`` until a worker starts it, then ``running``; it ends ``completed``,
    ``failed`` (the handler raised; ``error_message`` says what), ``cancelled`` (its stop
    event was set when the handler returned, or it was cancelled before it started),
    ``timed_out`` (it ran past its task's ``timeout``; its stop event was set and the handler
    then returned), ``retried`` (it failed, and another attempt of the task is scheduled) or
    ``missed`` (its run was later than the task's misfire grace period and the task's
    misfire policy is ``skip``: it never ran; ``error_message`` says how late it was) or
    ``interrupted`` (found unfinished in a durable store after the process running it died:
    a crash, a kill; quiv cannot know whether its handler finished its work).
    """

    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    RETRIED = "retried"
    MISSED = "missed"
    INTERRUPTED = "interrupted"


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


class Task(SQLModel):
    """A snapshot of a scheduled task, as returned by ``get_task`` and ``get_all_tasks``.

    ``key`` is the application's stable name for it (``add_task(key=...)``), if any.
    ``schedule`` describes when it runs, as JSON-friendly data: the schedule value's
    ``to_json()`` (``quiv.schedules.from_json`` reads it back): ``kind`` (``interval``,
    ``cron``, ``at``, ``calendar``, ``any_of`` or ``all_of``), that kind's parameters,
    ``start`` and ``end`` when set, an English ``description``, and for a schedule counted
    from when it was added, that moment (``anchor``). ``interval_seconds`` is None except
    for interval tasks. ``next_run_at`` is the planned next
    run (jitter included); ``misfire``, ``misfire_grace_seconds`` and ``jitter_seconds`` are
    the task's policies. ``executor`` is where its handler runs: ``"thread"`` (a worker
    thread, or the main loop with ``on_main_loop``) or ``"process"`` (a process of the pool);
    ``max_instances`` how many of its jobs may run at once.
    """

    model_config = ConfigDict(from_attributes=True)  # type: ignore[assignment]

    id: str
    key: str | None = None
    task_name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    interval_seconds: float | None = None
    fixed_interval: bool = True
    run_once: bool = False
    status: str
    next_run_at: datetime
    timeout_seconds: float | None = None
    max_retries: int = 0
    on_main_loop: bool = False
    schedule: dict[str, Any] = {}
    misfire: str = "coalesce"
    misfire_grace_seconds: float = 1.0
    jitter_seconds: float = 0.0
    executor: str = "thread"
    max_instances: int = 1

    @field_validator("next_run_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        result = _as_utc(value)
        assert result is not None
        return result


class Job(SQLModel):
    """A snapshot of one run of a task, as returned by ``get_job`` and ``get_all_jobs``.

    ``started_at`` is when its handler started; a job that never started (still
    ``scheduled``, ``missed``, or cancelled before it started) has none, and once ended a
    ``duration_seconds`` of 0. ``ended_at`` and ``duration_seconds`` are set once it has
    ended. ``node`` is the id of the process that ran it, on a durable store (None on a
    private one). ``attempt`` counts the
    tries of one run (2 and up are retries; ``retry_of`` is the id of the attempt retried).
    ``result`` is what the handler returned, when it was JSON-serializable and at most
    64 KiB as JSON; otherwise ``result_note`` says why it was dropped. ``unresponsive`` is
    set when the handler was still running 5 s after a timeout had set its stop event.
    ``scheduled_for`` is the slot a run of a cron, ``at=`` or shared task was for (None for
    a run asked for by hand, and for interval tasks of one process, whose slots are on its
    own monotonic clock). ``executor`` is where it ran: ``"thread"`` (a worker thread),
    ``"process"`` (a process of the pool) or ``"main_loop"`` (``on_main_loop=True``).
    """

    model_config = ConfigDict(from_attributes=True)  # type: ignore[assignment]

    id: str
    task_id: str
    task_name: str
    status: str = JobStatus.SCHEDULED.value
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: float | None = None
    error_message: str | None = None
    attempt: int = 1
    retry_of: str | None = None
    result: Any = None
    result_note: str | None = None
    unresponsive: bool = False
    scheduled_for: datetime | None = None
    node: str | None = None
    executor: str = "thread"

    @field_validator("started_at", "ended_at", "scheduled_for")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)


class RunTime(SQLModel):
    """One planned run, from ``Quiv.next_run_times`` and ``preview_cron``: the instant in
    UTC (``utc``) and on the clock of the schedule's time zone (``local``)."""

    utc: datetime
    local: datetime


@dataclass(frozen=True)
class QuivStats:
    """A snapshot of a scheduler at one moment, from ``Quiv.stats()`` (quiv 1.4.0's
    names; ``dataclasses.asdict`` makes it JSON-ready).

    ``active_jobs`` run now, out of ``pool_size`` workers (``pool_utilization`` is their
    ratio, 0 to 1); ``tasks_by_status`` counts tasks by stored status; ``next_run_at`` is
    the earliest planned run (UTC), None when nothing is planned; ``job_history_count`` is
    the number of jobs in the history; ``loop_alive`` says whether the main loop runs.
    """

    active_jobs: int
    pool_size: int
    pool_utilization: float
    tasks_by_status: dict[str, int] = field(default_factory=dict)
    next_run_at: datetime | None = None
    job_history_count: int = 0
    loop_alive: bool = False
