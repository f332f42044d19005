"""The store's tables: SQLModel row classes in a private registry, and facts about their columns.

Owns the schema of ``quiv_task``, ``quiv_job`` and ``quiv_node`` (their columns, defaults and
indexes), the column order the scheduler's entries write rows in (checked against
``TASK_COLUMNS`` and ``JOB_COLUMNS`` at import), and the groups of statuses the queries share.
The registry is private: the user's ``SQLModel.metadata`` never sees these tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from .._entries import JOB_COLUMNS, TASK_COLUMNS
from ..models import JobStatus

_registry = registry()

Row = dict[str, Any]

_JOB_TASK_ID = JOB_COLUMNS.index("task_id")
_JOB_ATTEMPT = JOB_COLUMNS.index("attempt")
_JOB_STARTED = JOB_COLUMNS.index("started_at")

_UNFINISHED = (JobStatus.SCHEDULED.value, JobStatus.RUNNING.value)
_TERMINAL = tuple(status.value for status in JobStatus if status.value not in _UNFINISHED)


class _Base(SQLModel, registry=_registry):
    pass


class TaskRow(_Base, table=True):
    """A stored task; ``args`` and ``kwargs`` are encoded by the store's codec."""

    __tablename__ = "quiv_task"
    # One task per key among tasks of the whole deployment; tasks of scope 'process' may
    # share a key across processes (each process has its own).
    __table_args__ = (
        Index(
            "quiv_task_deployment_key",
            "key",
            unique=True,
            sqlite_where=text("scope = 'deployment'"),
            postgresql_where=text("scope = 'deployment'"),
        ),
    )

    id: str = Field(primary_key=True)
    # The application's stable name of the task: registering it again re-binds this row.
    key: str | None = None
    # 'deployment': one task (and, when shared, one run per slot) for all processes;
    # 'process': this process's own.
    scope: str = "deployment"
    # The process (node id) a task without a key belongs to; it dies with that process.
    owner: str | None = None
    created_at: float = 0.0  # UTC, seconds since the epoch
    task_name: str
    args: bytes
    kwargs: bytes
    interval_seconds: float | None = None  # None for a calendar schedule
    fixed_interval: bool
    run_once: bool
    status: str
    next_run_at: float  # UTC, seconds since the epoch
    timeout_seconds: float | None = None
    max_retries: int = 0
    on_main_loop: bool = False
    schedule: str = "{}"  # JSON: the kind of schedule and its parameters
    misfire: str = "coalesce"
    misfire_grace_seconds: float = 1.0
    jitter_seconds: float = 0.0
    # Shared tasks (a key, on a durable store) run once per deployment: a process runs a
    # slot only after claiming it, atomically, with a lease its heartbeat renews.
    shared: bool = False
    slot: float | None = None  # the regular slot of the next run (epoch, without jitter)
    lease_node: str | None = None  # the node running it now
    lease_job: str | None = None
    lease_until: float | None = None
    # Grows with every claim and take-over: a write of the row carrying an older token (a
    # process whose lease was taken over, and which has not heard of it) is refused.
    lease_token: int = 0
    updated_by: str | None = None  # the node that wrote the row last
    # When a user last paused, resumed or removed it (epoch): the latest such change wins.
    changed_at: float = 0.0
    executor: str = "thread"  # where its handler runs: 'thread' or 'process'
    max_instances: int = 1  # how many of its jobs may run at once


class JobRow(_Base, table=True):
    """A stored job: one run of a task, kept after the task is gone until retention ends."""

    __tablename__ = "quiv_job"

    id: str = Field(primary_key=True)
    task_id: str
    task_name: str
    # No index on task_id or status: every index costs each job's write, and those are only
    # read by queries (get_all_jobs by status, an error path), never on the hot path.
    status: str
    started_at: float  # UTC, seconds since the epoch
    ended_at: float | None = Field(default=None, index=True)
    duration_seconds: float | None = None
    error_message: str | None = None
    attempt: int = 1
    retry_of: str | None = Field(default=None, index=True)  # the attempt this one retries
    result: str | None = None  # JSON
    result_note: str | None = None
    unresponsive: bool = False
    node: str | None = None  # the process that ran it
    scheduled_for: float | None = None  # the wall-clock slot it ran for (epoch), if any
    # Set by cancel_job in another process; the node running the job polls for it.
    cancel_requested: bool = False
    executor: str = "thread"  # where it ran: 'thread', 'process' or 'main_loop'


class NodeRow(_Base, table=True):
    """A process with a scheduler on a durable database, and when it was last seen alive."""

    __tablename__ = "quiv_node"

    id: str = Field(primary_key=True)
    host: str
    pid: int
    started_at: float
    heartbeat_at: float


_task_table = TaskRow.__table__  # type: ignore[attr-defined]
_job_table = JobRow.__table__  # type: ignore[attr-defined]
_node_table = NodeRow.__table__  # type: ignore[attr-defined]

# The row of a task that is no longer stored.
GONE: Row = {"status": "gone"}


def _defaults(table: Any) -> Row:
    return {
        column.name: column.default.arg if column.default is not None else None
        for column in table.c
        if column.nullable or column.default is not None
    }


_TASK_DEFAULTS = _defaults(_task_table)
_TASK_NAMES = [column.name for column in _task_table.c]
if tuple(_TASK_NAMES) != TASK_COLUMNS:  # TaskEntry.values() writes them in this order
    raise RuntimeError(f"the task table's columns {_TASK_NAMES} are not TASK_COLUMNS")
_JOB_NAMES = tuple(column.name for column in _job_table.c)
if _JOB_NAMES != JOB_COLUMNS or _JOB_NAMES[0] != "id":  # JobEntry.values() writes these
    raise RuntimeError(f"the job table's columns {_JOB_NAMES} are not JOB_COLUMNS")
_TASK_ID = _TASK_NAMES.index("id")
_TASK_STATUS = _TASK_NAMES.index("status")
_TASK_NEXT_RUN = _TASK_NAMES.index("next_run_at")

_TASK_WIDTH = len(_task_table.c)
_JOB_DEFAULTS = _defaults(_job_table)
_JOB_WIDTH = len(_job_table.c)
_TASK_COLUMNS = list(_task_table.c)
# A keyed one-shot task that finished stays on record, but reads treat it as gone.
_LIVE_TASK = _task_table.c.status.not_in(("finished", "removed"))
_JOB_COLUMNS = list(_job_table.c)
