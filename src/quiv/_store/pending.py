"""The rows handed to the store and not yet committed, and the wake-up of the writer.

``put_*`` calls (the scheduler's hot path) only replace an entry in a dict of pending rows,
under one short lock, and wake the writer thread: several changes of one row between two
commits cost one row write. A commit takes the whole dict at once (``take``); a row whose
write failed comes back (``put_back``) unless a newer one replaced it meanwhile. While the
database does not answer, job rows wait here within a bound (``MAX_WAITING_JOB_ROWS``), and a
job's latest row is read from here (so that a job's end is known during an outage).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

from .health import Outage
from .tables import (
    _JOB_ATTEMPT,
    _JOB_DEFAULTS,
    _JOB_STARTED,
    _JOB_TASK_ID,
    _JOB_WIDTH,
    _TASK_DEFAULTS,
    _TASK_ID,
    _TASK_NEXT_RUN,
    _TASK_STATUS,
    _TASK_WIDTH,
    Row,
)

# How many job rows may wait for a database that does not answer. Beyond that the oldest
# waiting rows are dropped (logged once per outage): memory must stay bounded.
MAX_WAITING_JOB_ROWS = 100_000

_ABSENT: Any = object()


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

PurgeDone = Callable[[float | None], None]
Purge = tuple[float, PurgeDone]


def _values(row: Values | TaskSource) -> Values:
    return row if isinstance(row, tuple) else row.values()


def _with_state(values: Values, state: PendingState) -> Values:
    """A task row's values with ``state`` in place of its own status and next run."""
    changed = list(values)
    changed[_TASK_STATUS], changed[_TASK_NEXT_RUN] = state
    return tuple(changed)


class Pending:
    """Rows waiting for their commit, by id, and the event that wakes the writer. Thread-safe.

    Each hand-over and ``take`` is O(1) under one short lock (``put_back`` beyond the bound
    also drops the excess); ``latest_waiting_job_of`` scans the job rows that wait, which are
    many only while the database does not answer.
    """

    def __init__(
        self,
        logger: logging.Logger,
        outage: Outage,
        task_values: Callable[[Row], Values],
        job_values: Callable[[Row], Values],
    ) -> None:
        self._logger = logger
        self._outage = outage  # counts the job rows dropped for the bound in an outage
        self._task_values = task_values
        self._job_values = job_values
        self._job_defaults = _JOB_DEFAULTS
        self._pending_lock = threading.Lock()
        # Pending task writes by id (see PendingTask).
        self._tasks: dict[str, PendingTask] = {}
        self._new_tasks: set[str] = set()  # handed over as new since the last commit
        self._jobs: dict[str, Values] = {}
        # The rows a commit took and is writing now (get_job reads them meanwhile).
        self._writing: Mapping[str, Values] = {}
        self._writing_tasks = 0
        self._purge: Purge | None = None
        self._wake = threading.Event()
        self._deferring: int | None = None  # the thread whose rows wait for its nudge
        self._deferred = False
        self._gathered = False  # the next wake needs no pause: see nudge()

    # -- hand over rows ---------------------------------------------------------------------

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

    def purge(self, cutoff: float, done: PurgeDone) -> None:
        """Queue the deletion of finished jobs that ended at or before ``cutoff`` (epoch seconds).

        After the deletion, ``done`` is called on the writer thread with the end time of the
        oldest finished job left, or None when there is none.
        """
        with self._pending_lock:
            self._purge = (cutoff, done)
        self._wake.set()

    def record_node(self, node: str) -> None:
        """Job rows handed over without their node are this ``node``'s from now on."""
        self._job_defaults = {**_JOB_DEFAULTS, "node": node}

    # -- wake the writer ----------------------------------------------------------------------

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

    def wake(self) -> None:
        """Wake the writer (to commit, to notice its node, or to leave)."""
        self._wake.set()

    def wait(self, timeout: float | None) -> bool:
        """Block the writer until woken or ``timeout`` seconds pass; whether it was woken."""
        return self._wake.wait(timeout)

    def gathered(self) -> bool:
        """Whether ``nudge`` said the rows have waited already (no pause for more)."""
        return self._gathered

    def begin_batch(self) -> None:
        """The writer is about to take the rows: wakes from now on are for the next batch."""
        self._gathered = False
        self._wake.clear()

    # -- commits --------------------------------------------------------------------------------

    def take(self) -> tuple[dict[str, PendingTask], dict[str, Values], Purge | None]:
        """Take every pending task and job row, and the purge if any, for a commit. The job
        rows stay readable (``waiting_job``) until ``written``."""
        with self._pending_lock:
            tasks, self._tasks = self._tasks, {}
            self._new_tasks = set()
            jobs, self._jobs = self._jobs, {}
            self._writing, self._writing_tasks = jobs, len(tasks)
            purge, self._purge = self._purge, None
        return tasks, jobs, purge

    def written(self) -> None:
        """The rows ``take`` took are written, or handed back to the pending rows."""
        with self._pending_lock:
            self._writing, self._writing_tasks = {}, 0

    def put_back(self, kind: str, row_id: str, row: PendingTask) -> None:
        """Hand back a row whose write failed, unless a newer one was handed over meanwhile;
        beyond MAX_WAITING_JOB_ROWS job rows, the oldest are dropped."""
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
        if not self._outage.dropped:
            self._logger.error(
                "store: %d job rows wait for the database, the most it keeps: the oldest "
                "are dropped from now on until it answers again (their jobs will be missing "
                "from the history)",
                MAX_WAITING_JOB_ROWS,
            )
        self._outage.dropped += excess

    # -- what waits -----------------------------------------------------------------------------

    def waiting(self) -> tuple[int, int]:
        """How many task and job rows wait to be written (or are being written now)."""
        with self._pending_lock:
            return (
                len(self._tasks) + self._writing_tasks,
                len(self._jobs) + len(self._writing),
            )

    def waiting_job(self, job_id: str) -> Values | None:
        """The row of job ``job_id`` waiting to be written (or being written now), if any."""
        with self._pending_lock:
            return self._jobs.get(job_id) or self._writing.get(job_id)

    def latest_waiting_job_of(self, task_id: str) -> str | None:
        """The id of the latest job of a task among the rows waiting to be written, if any."""
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
        return None
