"""Tasks and jobs as the scheduler thread holds them, and their rows and public snapshots.

Only the scheduler thread changes an entry (workers read the parts that never change after
dispatch). ``row()`` gives every stored column; ``task_model``/``job_model`` turn a row into
the public ``Task``/``Job``, for reads from the store and event snapshots alike.
"""

from __future__ import annotations

import json
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ._invocation import Injection
from ._machines import TaskState
from ._schedule import RetryPolicy
from .models import Job, JobStatus, Task, TaskStatus

__all__ = ["JobEntry", "Row", "TaskEntry", "job_model", "task_model"]

Row = dict[str, Any]


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def task_model(row: Row) -> Task:
    """The public ``Task`` of a stored row."""
    return Task(
        id=row["id"],
        task_name=row["task_name"],
        args=pickle.loads(row["args"]),
        kwargs=pickle.loads(row["kwargs"]),
        interval_seconds=row["interval_seconds"],
        fixed_interval=row["fixed_interval"],
        run_once=row["run_once"],
        status=row["status"],
        next_run_at=_utc(row["next_run_at"]),
        timeout_seconds=row["timeout_seconds"],
        max_retries=row["max_retries"],
        on_main_loop=row["on_main_loop"],
    )


def job_model(row: Row) -> Job:
    """The public ``Job`` of a stored row."""
    ended = row["ended_at"]
    result = row["result"]
    return Job(
        id=row["id"],
        task_id=row["task_id"],
        task_name=row["task_name"],
        status=row["status"],
        started_at=_utc(row["started_at"]),
        ended_at=None if ended is None else _utc(ended),
        duration_seconds=row["duration_seconds"],
        error_message=row["error_message"],
        attempt=row["attempt"],
        retry_of=row["retry_of"],
        result=None if result is None else json.loads(result),
        result_note=row["result_note"],
        unresponsive=bool(row["unresponsive"]),
    )


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
    timeout: float | None = None
    retry: RetryPolicy | None = None
    on_main_loop: bool = False
    state: TaskState = TaskState.ACTIVE
    job: JobEntry | None = None
    # A job made ahead of its start (run_task, or the next attempt of a retry); it starts
    # when the task's deadline comes.
    pending: JobEntry | None = None
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

    def row(self) -> Row:
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
            "timeout_seconds": self.timeout,
            "max_retries": 0 if self.retry is None else self.retry.max_retries,
            "on_main_loop": self.on_main_loop,
        }

    def snapshot(self) -> Task:
        """The public model of this task now."""
        return task_model(self.row())


@dataclass(eq=False, slots=True)
class JobEntry:
    """A job from its creation until the scheduler thread records its end."""

    id: str
    task: TaskEntry
    created_at: float  # UTC epoch
    # The monotonic instant the run was due; fixed cadences count from it. Retries keep
    # the first attempt's; a job made ahead gets it when it starts.
    anchor: float | None = None
    attempt: int = 1
    retry_of: str | None = None  # the id of the attempt this one retries
    state: JobStatus = JobStatus.SCHEDULED
    stop_event: threading.Event = field(default_factory=threading.Event)
    started_at: float | None = None
    started_mono: float | None = None
    ended_at: float | None = None
    duration: float | None = None
    error: str | None = None
    result: str | None = None  # JSON
    result_note: str | None = None
    timed_out: bool = False
    unresponsive: bool = False
    # The task's deadline this job displaced when it was made ahead; restored if it is
    # cancelled before it starts.
    displaced: float | None = None
    # A job run on the main loop: the future of its asyncio task.
    loop_future: Future[None] | None = None
    # The job of the next attempt, once this one ended ``retried``; waiters follow it.
    next_attempt: JobEntry | None = None
    ended: threading.Event = field(default_factory=threading.Event)
    on_end: list[Callable[[], None]] = field(default_factory=list)

    def row(self) -> Row:
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
            "attempt": self.attempt,
            "retry_of": self.retry_of,
            "result": self.result,
            "result_note": self.result_note,
            "unresponsive": self.unresponsive,
        }

    def snapshot(self) -> Job:
        """The public model of this job now."""
        return job_model(self.row())
