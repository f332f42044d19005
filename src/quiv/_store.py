"""The store: tasks and job history in a database (``_database``: private by default).

Writes are write-behind. The scheduler thread and API callers hand the store whole rows
(``put_task``, ``put_job``), which only replace an entry in a dict of pending rows; a writer
thread commits them in batches, so several changes of one job between two commits cost one
row write, and no database work sits on the dispatch path. Every read first commits what is
pending (``flush``), so a read sees every change handed over before it began.

The tables belong to a private SQLAlchemy registry: the user's ``SQLModel.metadata`` never
sees them. The private database file lives in a fresh directory of mode 0700, the file
itself is 0600, and both are deleted by ``close``. A durable database (a SQLite file,
PostgreSQL) is left in place; its arguments are JSON (see ``_arguments``), never pickles.
"""

from __future__ import annotations

import logging
import operator
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import Any, NamedTuple, Protocol

from sqlalchemy import (
    Index,
    case,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from ._arguments import ArgumentCodec, codec_for
from ._database import Database, open_database
from ._entries import JOB_COLUMNS, TASK_COLUMNS
from ._machines import JOB_MACHINE, TASK_MACHINE, TaskState
from ._threads import start_thread
from .exceptions import DatabaseUnavailableError, SchedulerStoppedError
from .models import JobStatus

__all__ = ["GONE", "Claim", "JobRow", "Recovery", "Store", "TaskRow", "TaskSource"]

_registry = registry()

Row = dict[str, Any]

COALESCE_SECONDS = 0.01
# A durable store's node records that its process is alive this often; a node silent for
# NODE_TIMEOUT_SECONDS is taken for dead (sooner, on its own host, once its pid is gone).
HEARTBEAT_SECONDS = 5.0
NODE_TIMEOUT_SECONDS = 30.0
# A claimed run's lease: renewed with each heartbeat, taken over by others once expired.
LEASE_SECONDS = NODE_TIMEOUT_SECONDS
# A node that could not renew its leases for this long (its heartbeats failed: the database
# did not answer it) stops its shared jobs: their handlers get the rest of the lease to
# return before another process may take the runs over. None: the lease minus two beats,
# reckoned when used, so that a process that changes the lease or the beat changes it too.
FENCE_AFTER_SECONDS: float | None = None
# How often a node looks for cancel requests other processes made for its running jobs.
CANCEL_POLL_SECONDS = 1.0
RETRY_SECONDS = 0.2  # before writing again the rows of a batch that failed
# A row the database refuses (bad data, a constraint) is given up after this many tries. A
# database that does not answer (down, unreachable, disk full, locked) costs no row: rows
# wait and are retried, every RETRY_SECONDS doubling up to OUTAGE_RETRY_MAX_SECONDS.
MAX_WRITE_ATTEMPTS = 3
OUTAGE_RETRY_MAX_SECONDS = 5.0
# How many job rows may wait for a database that does not answer. Beyond that the oldest
# waiting rows are dropped (logged once per outage): memory must stay bounded.
MAX_WAITING_JOB_ROWS = 100_000

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


_DIED = "interrupted: the process running it stopped without ending it (it crashed, or was killed)"
_EXPIRED = "interrupted: the lease of the process running it expired (it stopped its heartbeat)"

# The columns a registration sets, as opposed to the state of the task.
_REGISTRATION = (
    "task_name", "args", "kwargs", "interval_seconds", "fixed_interval", "run_once",
    "timeout_seconds", "max_retries", "on_main_loop", "schedule", "misfire",
    "misfire_grace_seconds", "jitter_seconds",
)  # fmt: skip


class Claim(NamedTuple):
    """A run this node wants: of ``task_id``, at the stored ``slot``, as job ``job_id``. A
    run that is not a regular one (run now, a retry) has no slot and is known by the
    ``next_run_at`` it was stored with (``at``)."""

    task_id: str
    slot: float | None
    at: float
    job_id: str


_CLAIMABLE = ("active", "paused")
# PostgreSQL advisory lock that serialises recoveries (any number unlikely to be taken).
_RECOVERY_LOCK = 0x71756977

# The row of a task that is no longer stored.
GONE: Row = {"status": "gone"}


class Recovery(NamedTuple):
    """What ``Store.recover`` cleaned up after dead nodes."""

    interrupted: list[str]  # ids of the jobs they left unfinished
    tasks_deleted: int  # their tasks without a key
    tasks_freed: list[str]  # keyed tasks they were running, active again


# Nodes of this process that are open now: another node with this process's pid is a
# previous life of it (a container restarted in place runs the app as the same pid again).
_LIVE_NODES: set[str] = set()


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but is not ours to signal
        return True
    return True


def _upsert(table: Any, placeholder: str) -> tuple[str, Callable[[Row], tuple[Any, ...]]]:
    """The upsert statement of ``table`` and a function from a row to its parameters.

    Plain SQL with positional parameters, handed to the driver's executemany: SQLAlchemy's
    per-row bind processing, and even named parameters, cost more than SQLite itself. An
    upsert, not INSERT OR REPLACE: replacing would renumber the rowid, which orders reads.
    The same text serves SQLite and PostgreSQL, but for the driver's ``placeholder``.
    """
    names = [column.name for column in table.c]
    # A row written again keeps the creation-time columns it was first written with, and a
    # cancel request another process made.
    keep = {"id", "key", "scope", "owner", "created_at", "cancel_requested"}
    special = (
        {"status", "updated_by", "lease_until", "changed_at"} if "lease_node" in names else set()
    )
    sets = [f"{name} = excluded.{name}" for name in names if name not in keep | special]
    guard = ""
    t = table.name
    if "lease_node" in names:
        # A user's pause, resume or removal made in another process after the last one this
        # process saw (``changed_at``) wins over this process's view of the status. A lease
        # is renewed by the heartbeat, not by row writes. And only the lease holder writes a
        # leased row: a process whose lease expired and was taken over must not undo its
        # successor's run.
        newer = f"{t}.changed_at > excluded.changed_at"
        sets += [
            # (A resume elsewhere while this process ran it left it 'running': its run is
            # over when this write clears the lease.)
            f"status = CASE WHEN {newer} THEN (CASE WHEN {t}.status = 'running' AND "
            f"excluded.lease_node IS NULL THEN 'active' ELSE {t}.status END) "
            "ELSE excluded.status END",
            f"changed_at = CASE WHEN {newer} THEN {t}.changed_at ELSE excluded.changed_at END",
            "updated_by = excluded.updated_by",
            f"lease_until = CASE WHEN excluded.lease_node IS NULL THEN NULL "
            f"ELSE {t}.lease_until END",
        ]
        guard = (
            f" WHERE ({t}.lease_node IS NULL OR {t}.lease_node = excluded.updated_by)"
            f" AND {t}.lease_token <= excluded.lease_token"
        )
    elif "cancel_requested" in names:
        # A job's end is final, but for one guess: 'interrupted' is what another process
        # wrote for a run it took for lost (its lease expired, its node fell silent). The
        # process that ran it knows better, and its own record of the end replaces it.
        guard = (
            f" WHERE {t}.status IN ('scheduled', 'running')"
            f" OR ({t}.status = 'interrupted' AND {t}.node = excluded.node)"
        )
    statement = (
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"VALUES ({', '.join(placeholder for _ in names)}) "
        f"ON CONFLICT (id) DO UPDATE SET {', '.join(sets)}{guard}"
    )
    return statement, operator.itemgetter(*names)


def _defaults(table: Any) -> Row:
    return {
        column.name: column.default.arg if column.default is not None else None
        for column in table.c
        if column.nullable or column.default is not None
    }


_TASK_DEFAULTS = _defaults(_task_table)
_ABSENT: Any = object()
_TASK_NAMES = [column.name for column in _task_table.c]
if tuple(_TASK_NAMES) != TASK_COLUMNS:  # TaskEntry.values() writes them in this order
    raise RuntimeError(f"the task table's columns {_TASK_NAMES} are not TASK_COLUMNS")
_JOB_NAMES = tuple(column.name for column in _job_table.c)
if _JOB_NAMES != JOB_COLUMNS or _JOB_NAMES[0] != "id":  # JobEntry.values() writes these
    raise RuntimeError(f"the job table's columns {_JOB_NAMES} are not JOB_COLUMNS")
_TASK_ID = _TASK_NAMES.index("id")
_TASK_STATUS = _TASK_NAMES.index("status")
_TASK_NEXT_RUN = _TASK_NAMES.index("next_run_at")


class PendingState(NamedTuple):
    """A task's status and next run: the part of its row that changes with its runs."""

    status: str
    next_run_at: float


# A row waiting to be written: its values in the upsert's column order. Kept as a tuple,
# not as the dict it was handed over as: thousands of 27-key dicts waiting for a commit
# leave the heap fragmented after they are freed (most of an idle task's RSS, measured).
Values = tuple[Any, ...]


class TaskSource(Protocol):
    """What makes a task's row when it is written (a ``TaskEntry``): a new task waits for
    its commit as itself, not as a copy of its row, and its row is built at the commit
    from its state then."""

    def values(self) -> Values: ...


# A pending task write: a whole row, the source of one, a (status, next run) state, or None
# for a deletion.
PendingTask = Values | TaskSource | PendingState | None

# Whole rows built from their sources at a commit are written this many at a time: a burst
# of registrations never has more of them built at once, which the allocator would keep
# after they are freed.
SOURCE_CHUNK = 256


def _values(row: Values | TaskSource) -> Values:
    return row if isinstance(row, tuple) else row.values()


# SQLite runs a statement of many rows in one step, and the driver lets go of the GIL for
# each step: a statement per row made the writer wait for the GIL again after every row,
# while the scheduler and the workers had it. Rows go in statements of up to this many
# (a power of two, so that few distinct statements are prepared), within SQLite's limit
# on parameters per statement. Not more: the prepared statements of up to 256 rows held
# about 1 MB of compiled programs for as long as the connection lives (measured: 110 B
# more RSS per task with 10,000 idle tasks), and 64 rows per step gave as much throughput.
MULTI_ROW_MAX = 64
_SQLITE_MAX_PARAMETERS = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


def _group(placeholder: str, width: int) -> str:
    """The ``VALUES`` group of one row of ``width`` columns."""
    return f"({', '.join(placeholder for _ in range(width))})"


class _MultiRow:
    """A statement whose ``VALUES`` group (or ``IN`` list) repeats for many rows at once."""

    def __init__(self, statement: str, group: str, width: int) -> None:
        if statement.count(group) != 1:
            raise ValueError(f"{group!r} must occur once in {statement!r}")
        self._head, self._tail = statement.split(group)
        self._group = group
        self._width = width
        most = min(MULTI_ROW_MAX, _SQLITE_MAX_PARAMETERS // width)
        self._most = 1 << (most.bit_length() - 1)
        self._texts: dict[int, str] = {}

    def _text(self, rows: int) -> str:
        text = self._texts.get(rows)
        if text is None:
            groups = ", ".join([self._group] * rows)
            text = self._texts[rows] = f"{self._head}{groups}{self._tail}"
        return text

    def run(self, conn: Any, rows: Sequence[Sequence[Any]]) -> None:
        """Run the statement for ``rows`` (each ``width`` values), in order."""
        start, total = 0, len(rows)
        while start < total:
            size = min(self._most, 1 << ((total - start).bit_length() - 1))
            chunk = rows[start : start + size]
            conn.exec_driver_sql(self._text(size), tuple(chain.from_iterable(chunk)))
            start += size


def _with_state(values: Values, state: PendingState) -> Values:
    """A task row's values with ``state`` in place of its own status and next run."""
    changed = list(values)
    changed[_TASK_STATUS], changed[_TASK_NEXT_RUN] = state
    return tuple(changed)


_TASK_WIDTH = len(_task_table.c)
_JOB_DEFAULTS = _defaults(_job_table)
_JOB_WIDTH = len(_job_table.c)
_ROWID: Any = literal_column("rowid")
_TASK_COLUMNS = list(_task_table.c)
# A keyed one-shot task that finished stays on record, but reads treat it as gone.
_LIVE_TASK = _task_table.c.status.not_in(("finished", "removed"))
_JOB_COLUMNS = list(_job_table.c)

PurgeDone = Callable[[float | None], None]


class Store:
    """Tasks and jobs of one scheduler, with write-behind batching. Thread-safe."""

    def __init__(self, logger: logging.Logger, url: object = None) -> None:
        self._logger = logger
        self.database: Database = open_database(url, _registry.metadata, logger)
        self.path = self.database.path
        self.durable = self.database.durable
        # A durable SQLite file's identity, to notice it deleted or replaced under us.
        self._file_id: tuple[int, int] | None = None
        self._file_lost = False
        if self.database.kind == "sqlite" and self.path is not None:
            opened = os.stat(self.path)
            self._file_id = (opened.st_dev, opened.st_ino)
        self.codec: ArgumentCodec = codec_for(durable=self.durable)
        self._engine = self.database.engine
        placeholder = self.database.paramstyle
        self._task_upsert, self._task_values = _upsert(_task_table, placeholder)
        self._job_upsert, self._job_values = _upsert(_job_table, placeholder)
        self._task_delete = f"DELETE FROM {_task_table.name} WHERE id = {placeholder}"
        # SQLite: many rows per statement (see _MultiRow). PostgreSQL's driver sends an
        # executemany's rows in one pipeline already.
        self._multi: tuple[_MultiRow, _MultiRow, _MultiRow] | None = None
        if self.database.kind != "postgresql":
            self._multi = (
                _MultiRow(self._task_upsert, _group(placeholder, _TASK_WIDTH), _TASK_WIDTH),
                _MultiRow(self._job_upsert, _group(placeholder, _JOB_WIDTH), _JOB_WIDTH),
                _MultiRow(
                    f"DELETE FROM {_task_table.name} WHERE id IN ({placeholder})", placeholder, 1
                ),
            )
        self._task_state_update = (
            f"UPDATE {_task_table.name} SET status = {placeholder}, "
            f"next_run_at = {placeholder} WHERE id = {placeholder}"
        )
        # Reads list rows in the order they were first written: SQLite's rowid says so; on
        # PostgreSQL, creation times do (ties, within a microsecond, by id).
        if self.database.kind == "postgresql":
            self._task_order: Any = (_task_table.c.created_at, _task_table.c.id)
            self._job_order: Any = (_job_table.c.id,)
        else:
            self._task_order = (_ROWID,)
            self._job_order = (_ROWID,)
        self.node: str | None = None  # this process, once registered (durable stores)
        # Called on the writer thread with ids of this node's jobs that others asked to cancel.
        self.on_cancel_requests: Callable[[list[str]], None] | None = None
        # Called on the writer thread with ids of shared tasks freed from dead nodes.
        self.on_tasks_freed: Callable[[list[str]], None] | None = None
        self._job_defaults = _JOB_DEFAULTS
        self._pending_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._node_lock = threading.Lock()  # a heartbeat, or this node's unregistering
        # Pending task writes by id (see PendingTask).
        self._tasks: dict[str, PendingTask] = {}
        self._new_tasks: set[str] = set()  # handed over as new since the last commit
        # Rows whose write failed, by (kind, id): how many times. Guarded by _write_lock.
        self._attempts: dict[tuple[str, str], int] = {}
        self._jobs: dict[str, Values] = {}
        # The rows a commit took and is writing now (get_job reads them meanwhile).
        self._writing: Mapping[str, Values] = {}
        self._writing_tasks = 0
        self._purge: tuple[float, PurgeDone] | None = None
        self._wake = threading.Event()
        self._deferring: int | None = None  # the thread whose rows wait for its nudge
        self._deferred = False
        self._gathered = False  # the next wake needs no pause: see nudge()
        self._closed = False
        self.write_failures = 0
        # Liveness (durable stores): when the last heartbeat that went through began
        # (monotonic), whether one failed since, and when (database clock) this node
        # reached the database again after failing: others' silence counts from then.
        self.renewed_at, self._missed_beat, self._back_at = time.monotonic(), False, 0.0
        # Since when (monotonic) the database has not answered, and the wait before the
        # next try; None while it answers. Job rows dropped for the bound in this outage.
        self._outage_since: float | None = None
        self._outage_wait = RETRY_SECONDS
        self._dropped = 0
        self._writer: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer thread. Until then, rows wait for a read or ``close`` to commit
        them (they are coalesced per row, so waiting costs no unbounded memory)."""
        if self._writer is None and not self._closed:
            self._writer = start_thread(self._run_writer, "quiv-store")

    # -- writes: hand over rows -------------------------------------------------------------

    def put_task(self, row: Row, *, new: bool = False) -> None:
        """Queue ``row`` (a task's columns; optional ones may be left out) to be written,
        replacing any earlier one. ``new``: the task was never stored before, so deleting
        it before the next commit writes nothing at all (a short run-once task)."""
        if len(row) != _TASK_WIDTH:  # a TaskEntry's row has every column already
            row = {**_TASK_DEFAULTS, **row}
        self.put_task_values(self._task_values(row), new=new)

    def put_task_values(self, values: Values, *, new: bool = False) -> None:
        """``put_task`` of a row given as every column's value, in the table's order
        (``TaskEntry.values()``)."""
        task_id = values[_TASK_ID]
        with self._pending_lock:
            self._tasks[task_id] = values
            if new:
                self._new_tasks.add(task_id)
        self._nudge()

    def put_new_task(self, task_id: str, source: TaskSource) -> None:
        """Queue a new task's row, built from ``source`` when it is written: whatever state
        the task has by then is in it. ``put_task_state`` for it changes nothing meanwhile
        (the source has that state already); a whole row or a deletion replaces it.

        The source's ``values()`` runs on whichever thread commits (the writer, or a
        reader flushing): the task's registration must not change after this call, and
        every change of its state must be followed by ``put_task_state``, so that a row
        built in the middle of a change is written over by the next commit.
        """
        with self._pending_lock:
            self._tasks[task_id] = source
            self._new_tasks.add(task_id)
        self._nudge()

    def put_task_state(self, task_id: str, status: str, next_run_at: float) -> None:
        """Queue a change of a stored task's status and next run only (the task's other
        columns change only when it is registered again, which writes its whole row).

        Merged into the task's whole row if that is still pending; else written as a
        narrow UPDATE, which binds 3 values instead of the row's 27.
        """
        state = PendingState(status, next_run_at)
        with self._pending_lock:
            pending = self._tasks.get(task_id, _ABSENT)
            if pending is _ABSENT or isinstance(pending, PendingState):
                self._tasks[task_id] = state
            elif isinstance(pending, tuple):  # a whole row: it takes the state
                self._tasks[task_id] = _with_state(pending, state)
            # None: its deletion is pending, and wins. A source: it has the state.
        self._nudge()

    def delete_task(self, task_id: str) -> None:
        """Queue the deletion of a task (its jobs stay until retention ends)."""
        with self._pending_lock:
            if task_id in self._new_tasks:  # never written: nothing to delete
                self._new_tasks.discard(task_id)
                self._tasks.pop(task_id, None)
                return
            self._tasks[task_id] = None
        self._nudge()

    def put_job(self, row: Row) -> None:
        """Queue ``row`` (a job's columns; optional ones may be left out) to be written,
        replacing any earlier one."""
        if len(row) != _JOB_WIDTH:
            row = {**self._job_defaults, **row}
        self.put_job_values(self._job_values(row))

    def put_job_values(self, values: Values) -> None:
        """``put_job`` of a row given as every column's value, in the table's order
        (``JobEntry.values()``)."""
        with self._pending_lock:
            self._jobs[values[0]] = values
        self._nudge()

    def _nudge(self) -> None:
        # is_set() is a plain read; set() takes a lock. The writer clears the flag before it
        # takes the pending rows, so a skipped set() can never strand a row.
        if not self._wake.is_set():
            if self._deferring is not None and threading.get_ident() == self._deferring:
                self._deferred = True  # that thread nudges later (take_deferred)
                return
            self._wake.set()

    def defer_nudges(self) -> None:
        """Rows handed over by the calling thread no longer wake the writer: that thread
        promises to call ``take_deferred`` before it sleeps, and ``nudge`` soon after.

        For the scheduler thread: woken at the instant a job starts, the writer would take
        the GIL from the worker that is about to call the handler.
        """
        self._deferring = threading.get_ident()

    def take_deferred(self) -> bool:
        """Whether rows were handed over without waking the writer since the last call."""
        deferred, self._deferred = self._deferred, False
        return deferred

    def nudge(self) -> None:
        """Wake the writer to commit what is pending now: the rows have waited already, so
        it skips its pause for more to gather."""
        self._gathered = True
        if not self._wake.is_set():
            self._wake.set()

    def purge(self, cutoff: float, done: PurgeDone) -> None:
        """Queue the deletion of finished jobs that ended at or before ``cutoff`` (epoch seconds).

        After the deletion, ``done`` is called on the writer thread with the end time of the
        oldest finished job left, or None when there is none.
        """
        with self._pending_lock:
            self._purge = (cutoff, done)
        self._wake.set()

    def flush(self) -> None:
        """Commit everything handed over so far; return when it is in the database."""
        with self._write_lock:
            with self._pending_lock:
                tasks, self._tasks = self._tasks, {}
                self._new_tasks = set()
                jobs, self._jobs = self._jobs, {}
                self._writing, self._writing_tasks = jobs, len(tasks)
                purge, self._purge = self._purge, None
            if tasks or jobs or purge:
                try:
                    self._write(tasks, jobs, purge)
                except Exception as exc:  # _write handles its own failures: a last guard
                    self.write_failures += 1
                    self._logger.exception("store: a commit failed; its rows will be retried")
                    counted = not self._unanswered(exc)
                    for task_id, task_row in tasks.items():
                        self._requeue("task", task_id, task_row, counted=counted)
                    for job_id, job_row in jobs.items():
                        self._requeue("job", job_id, job_row, counted=counted)
                    if purge is not None:
                        purge[1](None)
            if jobs or tasks:
                with self._pending_lock:  # written, or handed back to the pending rows
                    self._writing, self._writing_tasks = {}, 0

    def _write(
        self,
        tasks: Mapping[str, PendingTask],
        jobs: Mapping[str, Values],
        purge: tuple[float, PurgeDone] | None,
    ) -> None:
        oldest: float | None = None
        try:
            if self._attempts:
                # A batch failed before: write row by row, so that a row the database
                # refuses costs only itself, not the rows beside it.
                self._write_each(tasks, jobs)
                tasks, jobs = {}, {}
            with self._engine.begin() as conn:
                gone = [(task_id,) for task_id, row in tasks.items() if row is None]
                states = [
                    (*row, task_id)
                    for task_id, row in tasks.items()
                    if isinstance(row, PendingState)
                ]
                whole = [
                    (task_id, row)
                    for task_id, row in tasks.items()
                    if row is not None and not isinstance(row, PendingState)
                ]
                if self.database.kind == "postgresql":
                    # In id order, as claims lock them: two processes writing the same rows
                    # in different orders could deadlock. (SQLite locks the whole database,
                    # and lists rows in the order they were first written.)
                    gone.sort()
                    states.sort(key=operator.itemgetter(2))
                    whole.sort(key=operator.itemgetter(0))
                multi = self._multi
                if gone:
                    if multi is not None:
                        multi[2].run(conn, gone)
                    else:
                        conn.exec_driver_sql(self._task_delete, gone)
                for start in range(0, len(whole), SOURCE_CHUNK):
                    rows = [_values(row) for _, row in whole[start : start + SOURCE_CHUNK]]
                    if multi is not None:
                        multi[0].run(conn, rows)
                    else:
                        conn.exec_driver_sql(self._task_upsert, rows)
                if states:
                    conn.exec_driver_sql(self._task_state_update, states)
                if jobs:
                    if multi is not None:
                        multi[1].run(conn, list(jobs.values()))
                    else:
                        conn.exec_driver_sql(self._job_upsert, list(jobs.values()))
                if purge is not None:
                    finished = _job_table.c.status.in_(_TERMINAL)
                    conn.execute(
                        delete(_job_table).where(finished, _job_table.c.ended_at <= purge[0])
                    )
                    oldest = conn.execute(
                        select(func.min(_job_table.c.ended_at)).where(finished)
                    ).scalar()
        except Exception as exc:
            self._failed(exc, tasks, jobs)
            oldest = None  # the caller must hear back all the same, or it waits forever
        else:
            if tasks or jobs or purge is not None:
                self._answered()
        if purge is not None:
            try:
                purge[1](oldest)
            except Exception:
                self._logger.exception("store: purge callback failed")

    def _failed(
        self, exc: Exception, tasks: Mapping[str, PendingTask], jobs: Mapping[str, Values]
    ) -> None:
        """A batch failed: its rows go back to be written again (unless newer ones replaced
        them): a scheduler that stops scheduling would be worse than a late record."""
        self.write_failures += 1
        counted = not self._unanswered(exc, len(tasks) + len(jobs))
        if counted and not (tasks or jobs):  # only the history's purge was in the batch
            self._logger.error("store: purging the job history failed", exc_info=exc)
        elif counted:
            self._logger.error(
                "store: writing %d task and %d job rows failed; they will be retried",
                len(tasks),
                len(jobs),
                exc_info=exc,
            )
        for task_id, task_row in tasks.items():
            self._requeue("task", task_id, task_row, counted=counted)
        for job_id, job_row in jobs.items():
            self._requeue("job", job_id, job_row, counted=counted)

    def _write_each(self, tasks: Mapping[str, PendingTask], jobs: Mapping[str, Values]) -> None:
        items: list[tuple[str, str, PendingTask]] = [("task", i, r) for i, r in tasks.items()]
        items += [("job", i, r) for i, r in jobs.items()]
        for index, (kind, row_id, row) in enumerate(items):
            try:
                with self._engine.begin() as conn:
                    if kind == "job":
                        conn.exec_driver_sql(self._job_upsert, [row])
                    elif row is None:
                        conn.execute(delete(_task_table).where(_task_table.c.id == row_id))
                    elif isinstance(row, PendingState):
                        conn.exec_driver_sql(self._task_state_update, [(*row, row_id)])
                    else:
                        conn.exec_driver_sql(self._task_upsert, [_values(row)])
            except Exception as exc:
                self.write_failures += 1
                if self._unanswered(exc, len(items) - index):
                    # Nobody answers: this row and the rest wait, none of them at fault.
                    for rest_kind, rest_id, rest_row in items[index:]:
                        self._requeue(rest_kind, rest_id, rest_row, counted=False)
                    return
                self._logger.exception("store: writing %s %s failed", kind, row_id)
                self._requeue(kind, row_id, row)
            else:
                self._attempts.pop((kind, row_id), None)
                self._answered()

    def _requeue(self, kind: str, row_id: str, row: PendingTask, *, counted: bool = True) -> None:
        """Hand a row whose write failed back to be written again; ``counted``: the database
        refused it (after MAX_WRITE_ATTEMPTS it is given up), else nobody answered (it waits
        for the database, whatever the time, within MAX_WAITING_JOB_ROWS)."""
        key = (kind, row_id)
        if counted:
            attempts = self._attempts.get(key, 0) + 1
            if attempts >= MAX_WRITE_ATTEMPTS:
                self._attempts.pop(key, None)
                self._logger.error(
                    "store: giving up on %s %s after %d failed writes", kind, row_id, attempts
                )
                return
            self._attempts[key] = attempts
        pending: dict[str, Any] = self._tasks if kind == "task" else self._jobs
        with self._pending_lock:
            newer = pending.get(row_id, _ABSENT)
            if newer is _ABSENT:
                pending[row_id] = row
            elif (
                row is not None
                and not isinstance(row, PendingState)
                and isinstance(newer, PendingState)
            ):
                # A state handed over meanwhile applies to this whole row, which must
                # still be written: the row may never have been stored. (A source has
                # that state already.)
                pending[row_id] = _with_state(row, newer) if isinstance(row, tuple) else row
            # Otherwise a newer row (or deletion) handed over meanwhile wins.
            if kind == "job" and len(pending) > MAX_WAITING_JOB_ROWS:
                self._drop_oldest(pending)
        self._nudge()

    def _drop_oldest(self, jobs: dict[str, Any]) -> None:
        """Drop the oldest waiting job rows beyond MAX_WAITING_JOB_ROWS (under the pending
        lock): memory stays bounded in an outage of any length."""
        excess = len(jobs) - MAX_WAITING_JOB_ROWS
        for job_id in list(jobs)[:excess]:
            del jobs[job_id]
        if not self._dropped:
            self._logger.error(
                "store: %d job rows wait for the database, the most it keeps: the oldest "
                "are dropped from now on until it answers again (their jobs will be missing "
                "from the history)",
                MAX_WAITING_JOB_ROWS,
            )
        self._dropped += excess

    @staticmethod
    def is_unanswered(exc: BaseException) -> bool:
        """Whether ``exc`` says the database did not answer (down, unreachable, a lost
        connection, a full disk, a lock not granted), rather than refused a row."""
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        return isinstance(
            exc,
            (OperationalError, InterfaceError, PoolTimeoutError, OSError, sqlite3.OperationalError),
        )

    def _unanswered(self, exc: BaseException, rows: int = 0) -> bool:
        """``is_unanswered``, noting the outage it means: logged when it begins, not at
        every try."""
        if not self.is_unanswered(exc):
            return False
        self._missed_beat = True  # others may have been cut off as well
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            self._outage_wait = RETRY_SECONDS
            self._logger.warning(
                "store: the database does not answer (%s: %s); %d rows wait, and are written "
                "when it answers again (tried every few seconds, logged once)",
                type(exc).__name__,
                str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                rows,
            )
        return True

    def _answered(self) -> None:
        """A write went through: an outage, if any, is over."""
        since = self._outage_since
        if since is None:
            return
        self._outage_since = None
        dropped, self._dropped = self._dropped, 0
        self._logger.warning(
            "store: the database answers again after %.1f s; the rows that waited are written%s",
            time.monotonic() - since,
            f" (but {dropped} job rows were dropped)" if dropped else "",
        )

    def told_once(self, exc: BaseException) -> bool:
        """Whether a failure of a round trip to the store is one it logs once (an outage,
        a lost file), not at every try."""
        return isinstance(exc, DatabaseUnavailableError) or self._unanswered(exc)

    @property
    def unanswered(self) -> bool:
        """Whether the database has not answered the last write (an outage is under way)."""
        return self._outage_since is not None

    def waiting(self) -> tuple[int, int]:
        """How many task and job rows wait to be written (or are being written now)."""
        with self._pending_lock:
            return (
                len(self._tasks) + self._writing_tasks,
                len(self._jobs) + len(self._writing),
            )

    def file_intact(self) -> bool:
        """Whether a durable SQLite file is still the one opened (not deleted, not replaced
        by another file on its path); logged once when it is not. Always True for other
        kinds of database. O(1): one stat."""
        if self._file_id is None:
            return True
        path = self.database.path
        assert path is not None
        try:
            found = os.stat(path)
            intact = (found.st_dev, found.st_ino) == self._file_id
        except OSError:
            intact = False
        if not intact and not self._file_lost:
            self._file_lost = True
            self._logger.error(
                "store: the database file %s was deleted or replaced while in use: what this "
                "process writes now goes to a file nobody else reads, and shared tasks claim "
                "no more runs here (another process on that path would run them too). "
                "Restore the file and restart this process",
                path,
            )
        return intact

    def _run_writer(self) -> None:
        beat = time.monotonic() + HEARTBEAT_SECONDS
        poll = time.monotonic() + CANCEL_POLL_SECONDS
        while True:
            if self.node is None:
                self._wake.wait()
            elif not self._wake.wait(max(0.0, min(beat, poll) - time.monotonic())):
                now = time.monotonic()
                if now >= beat:
                    beat = now + HEARTBEAT_SECONDS
                    self.file_intact()
                    self._heartbeat()
                if now >= poll:
                    poll = now + CANCEL_POLL_SECONDS
                    self._poll_cancels()
                continue
            if self._closed:
                return
            # Let rows gather for a moment: the batch gets bigger, the changes of one job
            # coalesce, and the writer does not fight for the GIL at the instant a job
            # starts, when the worker needs it to reach the handler.
            if self._outage_since is not None:
                # Backing off: a database that does not answer gets fewer tries.
                time.sleep(self._outage_wait)
                self._outage_wait = min(self._outage_wait * 2, OUTAGE_RETRY_MAX_SECONDS)
            elif self._attempts:
                time.sleep(RETRY_SECONDS)
            elif not self._gathered:
                time.sleep(COALESCE_SECONDS)
            self._gathered = False
            self._wake.clear()
            if self._closed:  # close() came during the pause; it flushes itself
                return
            try:
                self.flush()
            except Exception:  # the writer must outlive any one batch
                self._logger.exception("store: a commit failed")
            # A steady stream of rows must not starve the heartbeat: other nodes would take
            # this one for dead.
            now = time.monotonic()
            if self.node is not None and now >= beat:
                beat = now + HEARTBEAT_SECONDS
                self._heartbeat()
            if self.node is not None and now >= poll:
                poll = now + CANCEL_POLL_SECONDS
                self._poll_cancels()

    # -- nodes, keys and recovery (durable stores) -----------------------------------------

    def register_node(self, node: str, now: float) -> None:
        """Record this process as a live node; from now on the writer keeps it alive."""
        began = time.monotonic()
        with self._engine.begin() as conn:
            # Liveness is between processes: on the database's clock, whatever clock the
            # scheduler runs on (a test's fake clock, a host's wrong one).
            now = self._db_now(conn)
            row = {
                "id": node,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": now,
                "heartbeat_at": now,
            }
            conn.execute(insert(_node_table).values(**row))
        self.renewed_at = began
        self.node = node
        _LIVE_NODES.add(node)
        self._job_defaults = {**_JOB_DEFAULTS, "node": node}
        self.start()  # the writer beats from now on, whenever the scheduler starts
        self._wake.set()

    def _heartbeat(self) -> None:
        """Tell other nodes this one is alive, renew the leases of the runs it holds, and
        recover after nodes that died. Never at the same time as ``unregister_node``: a
        beat racing a clean shutdown would register the node again, or take its own last
        jobs for a dead node's."""
        with self._node_lock:
            node = self.node
            if node is not None:
                self._beat(node)

    def _db_now(self, conn: Any) -> float:
        """The database's clock, epoch seconds (a SQLite file's is this host's)."""
        if self.database.kind == "postgresql":
            return float(
                conn.execute(text("SELECT EXTRACT(EPOCH FROM clock_timestamp())")).scalar()
            )
        return time.time()

    def fence_deadline(self) -> float:
        """When (monotonic) this node must stop its shared jobs unless a heartbeat renews
        its leases before: FENCE_AFTER_SECONDS after the start of the last renewal."""
        after = FENCE_AFTER_SECONDS
        if after is None:
            after = max(HEARTBEAT_SECONDS, LEASE_SECONDS - 2 * HEARTBEAT_SECONDS)
        return self.renewed_at + after

    def _beat(self, node: str) -> None:
        now = time.time()  # leases: on the clock claims use (see claim)
        began = time.monotonic()
        try:
            with self._engine.begin() as conn:
                seen = self._db_now(conn)
                alive = conn.execute(
                    update(_node_table).where(_node_table.c.id == node).values(heartbeat_at=seen)
                ).rowcount
                if not alive:
                    # Taken for dead (silent too long: a stalled process, a clock jump):
                    # the others have closed what it had. Register again, and go on.
                    self._logger.warning(
                        "node %s was taken for dead by another process; it registers "
                        "again (its unfinished jobs may have been ended 'interrupted')",
                        node,
                    )
                    conn.execute(
                        insert(_node_table).values(
                            id=node,
                            host=socket.gethostname(),
                            pid=os.getpid(),
                            started_at=seen,
                            heartbeat_at=seen,
                        )
                    )
                if self.database.kind == "postgresql":  # lock in id order, as claims do
                    conn.execute(
                        select(_task_table.c.id)
                        .where(_task_table.c.lease_node == node)
                        .order_by(_task_table.c.id)
                        .with_for_update()
                    )
                conn.execute(
                    update(_task_table)
                    .where(_task_table.c.lease_node == node)
                    .values(lease_until=now + LEASE_SECONDS)
                )
        except Exception as exc:
            self._missed_beat = True
            if not self._unanswered(exc):  # an outage is logged once, not every beat
                self._logger.exception("store: the heartbeat of node %s failed", node)
            return
        self.renewed_at = began
        if self._missed_beat:
            # Back after beats that failed: the others could likely not beat either, so
            # their silence counts from now (see recover).
            self._missed_beat = False
            self._back_at = seen
        # Nodes die while this one lives: close what they leave, without waiting for a start.
        try:
            recovery = self.recover(now)
        except Exception as exc:
            if not self._unanswered(exc):
                self._logger.exception("store: recovery after dead nodes failed")
            return
        if recovery.tasks_freed and self.on_tasks_freed is not None:
            self.on_tasks_freed(recovery.tasks_freed)
        if recovery.interrupted or recovery.tasks_deleted:
            self._logger.warning(
                "a process sharing this store died: %d of its jobs are now "
                "'interrupted', %d of its tasks without a key deleted",
                len(recovery.interrupted),
                recovery.tasks_deleted,
            )

    def _poll_cancels(self) -> None:
        callback = self.on_cancel_requests
        if callback is None:
            return
        try:
            with self._engine.connect() as conn:
                ids = (
                    conn.execute(
                        select(_job_table.c.id).where(
                            _job_table.c.node == self.node,
                            _job_table.c.cancel_requested.is_(True),
                            _job_table.c.status.in_(_UNFINISHED),
                        )
                    )
                    .scalars()
                    .all()
                )
            if ids:
                callback(list(ids))
        except Exception as exc:
            if not self._unanswered(exc):
                self._logger.exception("store: polling for cancel requests failed")

    def recover(self, now: float) -> Recovery:
        """Close what dead nodes left behind: their unfinished jobs end ``interrupted``,
        their tasks without a key are deleted, and keyed tasks they were running are
        ``active`` again (their next run follows the task's misfire policy)."""
        self.flush()
        host = socket.gethostname()
        with self._engine.connect() as conn, conn.execution_options(immediate=True).begin():
            if self.database.kind == "postgresql":
                # One recovery at a time (SQLite's immediate transaction does this there):
                # two processes noticing the same death must not both record it.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _RECOVERY_LOCK})
            nodes = conn.execute(select(_node_table)).mappings().all()
            # Silent for NODE_TIMEOUT_SECONDS on the database's clock, counted from this
            # node's own return if it could not reach the database meanwhile: an outage
            # that silenced everyone must not make each take the others for dead.
            silent_since = self._db_now(conn) - NODE_TIMEOUT_SECONDS
            dead = [
                node["id"]
                for node in nodes
                if node["id"] != self.node
                and (
                    max(node["heartbeat_at"], self._back_at) < silent_since
                    or (
                        node["host"] == host
                        and (
                            not _alive(node["pid"])
                            or (node["pid"] == os.getpid() and node["id"] not in _LIVE_NODES)
                        )
                    )
                )
            ]
            if not dead:
                return Recovery([], 0, [])
            lost = conn.execute(
                select(_job_table.c.id, _job_table.c.status).where(
                    _job_table.c.node.in_(dead), _job_table.c.status.in_(_UNFINISHED)
                )
            ).all()
            for job in lost:  # the machine has the last word on every status change
                JOB_MACHINE.next_state(job.id, JobStatus(job.status), "interrupt")
            TASK_MACHINE.next_state("*", TaskState.RUNNING, "recover")
            if lost:
                conn.execute(
                    update(_job_table)
                    .where(_job_table.c.id.in_([job.id for job in lost]))
                    .values(
                        status=JobStatus.INTERRUPTED.value,
                        ended_at=now,
                        error_message=_DIED,
                    )
                )
            gone = conn.execute(delete(_task_table).where(_task_table.c.owner.in_(dead))).rowcount
            # Keyed tasks they were running: active again, on the slot that was running.
            running = (_task_table.c.key.is_not(None), _task_table.c.status == "running")
            freed_rows = (
                conn.execute(
                    select(*_TASK_COLUMNS).where(*running, _task_table.c.lease_node.in_(dead))
                )
                .mappings()
                .all()
            )
            freed = [row["id"] for row in freed_rows]
            for row in freed_rows:
                self._record_lost_run(conn, dict(row), now, _DIED)
            conn.execute(
                update(_task_table)
                .where(_task_table.c.key.is_not(None), _task_table.c.status == "running")
                .where(_task_table.c.lease_node.in_(dead) | _task_table.c.lease_node.is_(None))
                .where(
                    ~_task_table.c.id.in_(
                        select(_job_table.c.task_id).where(
                            _job_table.c.status == JobStatus.RUNNING.value
                        )
                    )
                )
                .values(
                    status="active",
                    lease_node=None,
                    lease_job=None,
                    lease_until=None,
                    lease_token=_task_table.c.lease_token + 1,
                )
            )
            conn.execute(
                update(_task_table)
                .where(_task_table.c.lease_node.in_(dead))
                .values(
                    lease_node=None,
                    lease_job=None,
                    lease_until=None,
                    lease_token=_task_table.c.lease_token + 1,
                )
            )
            conn.execute(delete(_node_table).where(_node_table.c.id.in_(dead)))
        return Recovery([job.id for job in lost], int(gone or 0), list(freed))

    @staticmethod
    def _record_lost_run(conn: Any, task: Row, now: float, reason: str) -> None:
        """A claimed run whose job row was never written (its process died within the
        write-behind pause after the claim): record it, ``interrupted``, all the same."""
        job_id = task["lease_job"]
        if job_id is None:
            return
        exists = conn.execute(select(_job_table.c.id).where(_job_table.c.id == job_id)).first()
        if exists is not None:
            return
        JOB_MACHINE.next_state(job_id, JobStatus.SCHEDULED, "interrupt")
        conn.execute(
            insert(_job_table).values(
                {
                    **_JOB_DEFAULTS,
                    "id": job_id,
                    "task_id": task["id"],
                    "task_name": task["task_name"],
                    "status": JobStatus.INTERRUPTED.value,
                    "started_at": now,
                    "ended_at": now,
                    "error_message": reason,
                    "node": task["lease_node"],
                    "scheduled_for": task["slot"],
                }
            )
        )

    # -- shared tasks: claims, leases, cancel requests ----------------------------------------

    def claim(self, claims: Sequence[Claim], now: float) -> dict[str, Row | int]:
        """Try to claim each run in ``claims`` for this node, in one transaction.

        A claim wins when the task is ``active`` and its stored ``slot`` (or, for a run that
        is not a regular one, its ``next_run_at``) is the one claimed: then the row is
        ``running`` under this node's lease, and the answer for it is the lease's fencing
        token (an int, which the holder's writes of the row carry). A claim that
        loses gets the row as it is now (``GONE`` if the task was removed), so that the
        caller can catch up with other processes.
        """
        if not self.file_intact():
            # Another worker starting on this path makes a new database: both would run
            # every shared slot. Claim nothing here rather than run anything twice.
            raise DatabaseUnavailableError(
                self.database.location, FileNotFoundError("the database file was replaced")
            )
        by_slot = [claim for claim in claims if claim.slot is not None]
        by_time = [claim for claim in claims if claim.slot is None]
        if by_time:
            self.flush()  # a run asked for here is known by the next_run_at written here
        won: dict[str, int] = {}
        with self._engine.connect() as conn, conn.execution_options(immediate=True).begin():
            if self.database.kind == "postgresql":
                # Lock the rows in id order first, as row writes do (see _write): the update
                # below locks them in whatever order its plan visits them, and two processes
                # locking the same rows in different orders deadlock.
                conn.execute(
                    select(_task_table.c.id)
                    .where(_task_table.c.id.in_(sorted(claim.task_id for claim in claims)))
                    .order_by(_task_table.c.id)
                    .with_for_update()
                )
            # One statement per kind of claim, whatever the batch size: a round trip to the
            # database costs more than the update of a row.
            # A regular run needs an active task; a run asked for (run now) also runs on a
            # paused one, which stays paused, as it does in one process.
            for batch, column, key, statuses in (
                (by_slot, _task_table.c.slot, operator.attrgetter("slot"), ("active",)),
                (by_time, _task_table.c.next_run_at, operator.attrgetter("at"), _CLAIMABLE),
            ):
                if not batch:
                    continue
                jobs = {claim.task_id: claim.job_id for claim in batch}
                result = conn.execute(
                    update(_task_table)
                    .where(
                        tuple_(_task_table.c.id, column).in_(
                            [(claim.task_id, key(claim)) for claim in sorted(batch)]
                        ),
                        _task_table.c.status.in_(statuses),
                        _task_table.c.lease_node.is_(None),
                    )
                    .values(
                        status="running",
                        lease_node=self.node,
                        lease_job=case(jobs, value=_task_table.c.id),
                        lease_until=now + LEASE_SECONDS,
                        lease_token=_task_table.c.lease_token + 1,
                        updated_by=self.node,
                    )
                    .returning(_task_table.c.id, _task_table.c.lease_token)
                )
                won.update({row.id: row.lease_token for row in result})
            lost = [claim.task_id for claim in claims if claim.task_id not in won]
            rows = self._rows(conn, lost)
        answers: dict[str, Row | int] = dict(won)
        for task_id in lost:
            answers[task_id] = rows.get(task_id, GONE)
        return answers

    def read_tasks(self, task_ids: Sequence[str]) -> dict[str, Row]:
        """The stored rows of these tasks (``GONE`` for one that was removed)."""
        with self._engine.connect() as conn:
            rows = self._rows(conn, task_ids)
        return {task_id: rows.get(task_id, GONE) for task_id in task_ids}

    @staticmethod
    def _rows(conn: Any, task_ids: Sequence[str]) -> dict[str, Row]:
        if not task_ids:
            return {}
        result = conn.execute(select(*_TASK_COLUMNS).where(_task_table.c.id.in_(task_ids)))
        return {row["id"]: dict(row) for row in result.mappings().all()}

    def take_over(self, task_id: str, now: float) -> Row:
        """If another node's lease on ``task_id`` has expired (it crashed or froze), end its
        run ``interrupted`` and make the task ``active`` again on the slot it was running,
        so that the task's misfire policy decides about that run. Returns the row after."""
        self.flush()
        with self._engine.connect() as conn, conn.execution_options(immediate=True).begin():
            row = self._rows(conn, [task_id]).get(task_id)
            if row is None:
                return GONE
            if row["status"] != "running" or (row["lease_until"] or 0.0) >= now:
                return row
            TASK_MACHINE.next_state(task_id, TaskState.RUNNING, "recover")
            taken = conn.execute(
                update(_task_table)
                .where(
                    _task_table.c.id == task_id,
                    _task_table.c.status == "running",
                    _task_table.c.lease_until < now,  # not renewed meanwhile
                )
                .values(
                    status="active",
                    lease_node=None,
                    lease_job=None,
                    lease_until=None,
                    lease_token=_task_table.c.lease_token + 1,  # its holder's writes: refused
                    updated_by=self.node,
                )
            ).rowcount
            if not taken:
                return self._rows(conn, [task_id]).get(task_id, GONE)
            self._record_lost_run(conn, row, now, _EXPIRED)
            job_id = row["lease_job"]
            status = None
            if job_id is not None:
                status = conn.execute(
                    select(_job_table.c.status).where(_job_table.c.id == job_id)
                ).scalar()
            if job_id is not None and status in _UNFINISHED:
                JOB_MACHINE.next_state(job_id, JobStatus(status), "interrupt")
                conn.execute(
                    update(_job_table)
                    .where(_job_table.c.id == job_id)
                    .values(
                        status=JobStatus.INTERRUPTED.value,
                        ended_at=now,
                        error_message=_EXPIRED,
                    )
                )
            self._logger.warning(
                "took over task %s from node %s, whose lease expired",
                task_id,
                row["lease_node"],
            )
            return self._rows(conn, [task_id]).get(task_id, GONE)

    def set_shared(
        self, task_id: str, status: str, next_run_at: float, slot: float | None, changed_at: float
    ) -> None:
        """Pause, resume or remove a shared task for every process; the others learn it when
        they next try to claim it or look at it. A run under way (a lease) goes on: a resume
        keeps the task ``running`` until it ends, and changes only what follows."""
        if status == "active":
            status_value: Any = case(
                (_task_table.c.lease_node.is_not(None), "running"), else_="active"
            )
        else:
            status_value = status
        with self._engine.begin() as conn:
            conn.execute(
                update(_task_table)
                .where(_task_table.c.id == task_id, _task_table.c.changed_at <= changed_at)
                .values(
                    status=status_value,
                    next_run_at=next_run_at,
                    slot=slot,
                    changed_at=changed_at,
                    updated_by=self.node,
                )
            )

    def delete_shared(self, task_id: str, changed_at: float) -> None:
        """Remove a shared task for every process; a run of it elsewhere is asked to cancel.
        The row stays, ``removed`` (reads treat it as gone), so that a process that has not
        heard yet cannot bring it back with a write of its own; registering its key again
        makes it a task again."""
        with self._engine.begin() as conn:
            conn.execute(
                update(_task_table)
                .where(_task_table.c.id == task_id)
                .values(status="removed", changed_at=changed_at, updated_by=self.node)
            )
            conn.execute(
                update(_job_table)
                .where(_job_table.c.task_id == task_id, _job_table.c.status.in_(_UNFINISHED))
                .values(cancel_requested=True)
            )

    def request_cancel(self, job_id: str) -> bool:
        """Ask the process running job ``job_id`` to cancel it; False if it is not unfinished."""
        try:
            return self._request_cancel(job_id)
        except IntegrityError:  # its owner wrote the job's row meanwhile: update that
            return self._request_cancel(job_id)

    def _request_cancel(self, job_id: str) -> bool:
        self.flush()
        with self._engine.connect() as conn, conn.execution_options(immediate=True).begin():
            result = conn.execute(
                update(_job_table)
                .where(_job_table.c.id == job_id, _job_table.c.status.in_(_UNFINISHED))
                .values(cancel_requested=True)
            )
            if result.rowcount:
                return True
            # Its process may have claimed the run and started it without having written
            # the job's row yet (rows are written behind): the lease names the job. Write
            # the request into a row of its own, which the owner's row write keeps.
            task = conn.execute(
                select(_task_table.c.id, _task_table.c.task_name, _task_table.c.lease_node).where(
                    _task_table.c.lease_job == job_id, _task_table.c.status == "running"
                )
            ).first()
            if task is None:
                return False
            conn.execute(
                insert(_job_table).values(
                    {
                        **_JOB_DEFAULTS,
                        "id": job_id,
                        "task_id": task.id,
                        "task_name": task.task_name,
                        "status": JobStatus.SCHEDULED.value,
                        "started_at": time.time(),
                        "node": task.lease_node,
                        "cancel_requested": True,
                    }
                )
            )
        return True

    def update_registration(self, row: Row) -> None:
        """Store what a registration of a key says (name, arguments, schedule, policies)
        and nothing of the task's state, which the store keeps for every process."""
        values = {name: row[name] for name in _REGISTRATION if name in row}
        self.flush()
        with self._engine.begin() as conn:
            conn.execute(update(_task_table).where(_task_table.c.id == row["id"]).values(values))

    def claim_key(self, row: Row) -> Row:
        """Store the new task ``row`` unless a task with its key exists; return the stored
        row of that key (``row`` itself when it was new). Safe against other processes
        registering the same key at the same time: one of them creates it."""
        self.flush()
        row = {**_TASK_DEFAULTS, **row}
        insert_new = (
            self._task_upsert.split(" ON CONFLICT", 1)[0]
            + " ON CONFLICT (key) WHERE scope = 'deployment' DO NOTHING"
        )
        with self._engine.connect() as conn, conn.execution_options(immediate=True).begin():
            conn.exec_driver_sql(insert_new, self._task_values(row))
            stored = (
                conn.execute(
                    select(*_TASK_COLUMNS).where(
                        _task_table.c.key == row["key"], _task_table.c.scope == "deployment"
                    )
                )
                .mappings()
                .one()
            )
        return dict(stored)

    def unregister_node(self) -> None:
        """At shutdown: delete this node's tasks without a key, and the node itself."""
        with self._node_lock:  # after a beat under way, and no beat after this
            node, self.node = self.node, None
        if node is None:
            return
        _LIVE_NODES.discard(node)
        self.flush()
        with self._engine.begin() as conn:
            conn.execute(delete(_task_table).where(_task_table.c.owner == node))
            # Runs it claimed and never started (shut down first) go back to the others.
            conn.execute(
                update(_task_table)
                .where(_task_table.c.lease_node == node, _task_table.c.status == "running")
                .values(status="active", lease_node=None, lease_job=None, lease_until=None)
            )
            conn.execute(
                update(_task_table)
                .where(_task_table.c.lease_node == node)
                .values(lease_node=None, lease_job=None, lease_until=None)
            )
            conn.execute(delete(_node_table).where(_node_table.c.id == node))

    def _drain(self, deadline: float) -> bool:
        """Flush until nothing waits or ``deadline`` (monotonic) passes; whether all went."""
        wait = RETRY_SECONDS
        while True:
            self.flush()
            if self.waiting() == (0, 0):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(wait, remaining))
            wait = min(wait * 2, OUTAGE_RETRY_MAX_SECONDS)

    # -- reads --------------------------------------------------------------------------

    def get_task(self, task_id: str) -> Row | None:
        """The stored row of a task, or None."""
        return self._one(select(*_TASK_COLUMNS).where(_task_table.c.id == task_id, _LIVE_TASK))

    def get_tasks(
        self,
        *,
        include_run_once: bool,
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Row]:
        """Stored tasks, oldest first; run-once tasks only when asked for; of one status
        (``paused`` also finds a task paused while its job runs); a page of them."""
        query = select(*_TASK_COLUMNS).where(_LIVE_TASK)
        if not include_run_once:
            query = query.where(_task_table.c.run_once.is_(False))
        if status is not None:
            query = query.where(_task_table.c.status == status)
        query = query.order_by(*self._task_order).offset(offset)
        return self._all(query if limit is None else query.limit(limit))

    def get_job(self, job_id: str) -> Row | None:
        """The row of a job, or None: the one waiting to be written if there is one (so
        a job's end is known while the database does not answer), else the stored one."""
        with self._pending_lock:
            waiting = self._jobs.get(job_id) or self._writing.get(job_id)
        if waiting is not None:
            return dict(zip(JOB_COLUMNS, waiting, strict=True))
        return self._one(select(*_JOB_COLUMNS).where(_job_table.c.id == job_id))

    def last_job_of(self, task_id: str) -> str | None:
        """The id of the latest job of a task: among the rows waiting to be written first
        (a job that just ended, while the database does not answer), else stored."""
        with self._pending_lock:
            waiting = [
                row
                for rows in (self._jobs, self._writing)
                for row in rows.values()
                if row[_JOB_TASK_ID] == task_id
            ]
        if waiting:
            latest = max(waiting, key=lambda row: (row[_JOB_ATTEMPT], row[_JOB_STARTED]))
            return str(latest[0])
        rows = self.get_jobs(status=None, task_id=task_id, descending=True, limit=1)
        return str(rows[0]["id"]) if rows else None

    def get_jobs(
        self,
        *,
        status: str | None,
        task_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        order_by: str = "started_at",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Row]:
        """Stored jobs, oldest first (by ``order_by``: ``started_at``, which holds when a job
        that never started was made, or ``ended_at``; ``descending`` reverses it), filtered
        by status, task and a window of ``started_at`` (epoch), a page of them."""
        query = select(*_JOB_COLUMNS)
        column = _job_table.c.started_at
        if status is not None:
            query = query.where(_job_table.c.status == status)
        if task_id is not None:
            query = query.where(_job_table.c.task_id == task_id)
        if since is not None:
            query = query.where(column >= since)
        if until is not None:
            query = query.where(column <= until)
        keys = [_job_table.c[order_by], *self._job_order]
        if order_by == "ended_at":  # jobs not ended yet last, whichever the direction
            keys.insert(0, _job_table.c.ended_at.is_(None))
        if descending:
            keys = [key.desc() for key in keys[1 if order_by == "ended_at" else 0 :]]
            if order_by == "ended_at":
                keys.insert(0, _job_table.c.ended_at.is_(None))
        query = query.order_by(*keys).offset(offset)
        return self._all(query if limit is None else query.limit(limit))

    def next_attempt_of(self, job_id: str) -> Row | None:
        """The row of the attempt that retries job ``job_id``, or None."""
        return self._one(select(*_JOB_COLUMNS).where(_job_table.c.retry_of == job_id))

    def has_jobs_of(self, task_id: str) -> bool:
        """Whether the history holds any job of this task."""
        return (
            self._one(select(_job_table.c.id).where(_job_table.c.task_id == task_id).limit(1))
            is not None
        )

    def count_jobs(self) -> int:
        """How many job rows are stored."""
        self.flush()
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(_job_table)).scalar_one())

    def _one(self, query: Any) -> Row | None:
        rows = self._all(query)
        return rows[0] if rows else None

    def _all(self, query: Any) -> list[Row]:
        if self._closed:
            raise SchedulerStoppedError("read the history (its database is deleted)")
        self.flush()
        try:
            with self._engine.connect() as conn:
                result: Sequence[Any] = conn.execute(query).mappings().all()
                return [dict(row) for row in result]
        except Exception as exc:
            if self.is_unanswered(exc):
                raise DatabaseUnavailableError(self.database.location, exc) from exc
            raise

    # -- lifecycle --------------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        """Commit what is pending, stop the writer, and close the database (deleting a
        private one and its directory; a durable one forgets this node and its tasks
        without a key).

        A durable database that does not answer gets up to ``timeout`` seconds to take the
        rows that wait. Rows still unwritten then are lost with the process, and said so
        in the log; this node then stays registered, so that other processes (or the next
        start) end its unfinished jobs ``interrupted`` rather than leave them ``running``.
        """
        if self._closed:
            return
        deadline = time.monotonic() + timeout
        watchdog = self.database.watchdog
        if watchdog is not None:  # a server that hangs is cut off at the bound (and a bit)
            watchdog.cut_off(deadline + 2.0)
        if self.durable and not self._drain(deadline):
            tasks, jobs = self.waiting()
            self._logger.error(
                "store: the database did not take %d task and %d job rows before shutdown "
                "gave up on it: they are lost; node %s stays registered, so that its "
                "unfinished jobs end 'interrupted' when another process recovers it",
                tasks,
                jobs,
                self.node,
            )
            if self.node is not None:
                _LIVE_NODES.discard(self.node)
                self.node = None
        try:
            self.unregister_node()
        except Exception:
            self._logger.exception("store: could not unregister this node")
        self.flush()
        self._closed = True
        self._wake.set()
        if self._writer is not None:
            self._writer.join()
        self.flush()  # rows handed over while the writer was leaving
        self.database.close()
