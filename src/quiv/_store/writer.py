"""The writer thread: commits of the pending rows in batches, retries, and backoff in outages.

The writer (thread ``quiv-store``) wakes when rows are handed over, lets them gather for a
moment (``COALESCE_SECONDS``), and commits them in one transaction; any reader commits what
is pending first (``flush``) too. A batch that fails is written again row by row, so that a
row the database refuses costs only itself (given up after ``MAX_WRITE_ATTEMPTS``), while a
database that does not answer costs no row: the rows wait, tried less and less often. On a
durable store the same thread also beats the node's heartbeat and polls for cancel requests
(its ``Chores``), between commits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Protocol

from .._threads import start_thread
from .health import OUTAGE_RETRY_MAX_SECONDS, RETRY_SECONDS, Outage
from .pending import Pending, PendingTask, Purge, Values
from .statements import Statements

COALESCE_SECONDS = 0.01
# A row the database refuses (bad data, a constraint) is given up after this many tries.
MAX_WRITE_ATTEMPTS = 3


class Chores(Protocol):
    """What the writer thread does besides commits, each at its own cadence (``Nodes``)."""

    @property
    def node(self) -> str | None:
        """The node the chores are for; None while there is none (they wait for one)."""

    def beat_every(self) -> float:
        """Seconds between two heartbeats."""

    def heartbeat(self) -> None:
        """Tell others this node lives, renew its leases, recover after dead nodes."""

    def poll_every(self) -> float:
        """Seconds between two polls for cancel requests."""

    def poll_cancels(self) -> None:
        """Look for cancel requests others made for this node's running jobs."""


class Writer:
    """Commits the pending rows, on its thread or on a reader's (``flush``). Thread-safe:
    one commit at a time."""

    def __init__(
        self,
        engine: Any,
        statements: Statements,
        pending: Pending,
        outage: Outage,
        file_intact: Callable[[], bool],
        logger: logging.Logger,
    ) -> None:
        self._engine = engine
        self._statements = statements
        self._pending = pending
        self._outage = outage
        self._file_intact = file_intact
        self._logger = logger
        self._write_lock = threading.Lock()
        # Rows whose write failed, by (kind, id): how many times. Guarded by _write_lock.
        self._attempts: dict[tuple[str, str], int] = {}
        self.failures = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def closed(self) -> bool:
        """Whether ``stop`` was called: the store is closed."""
        return self._closed

    def start(self, chores: Chores) -> None:
        """Start the writer thread. Until then, rows wait for a read or ``close`` to commit
        them (they are coalesced per row, so waiting costs no unbounded memory)."""
        if self._thread is None and not self._closed:
            self._thread = start_thread(partial(self._run, chores), "quiv-store")

    def stop(self) -> None:
        """Stop the writer thread after its batch under way; commit what is left."""
        self._closed = True
        self._pending.wake()
        if self._thread is not None:
            self._thread.join()
        self.flush()  # rows handed over while the writer was leaving

    def flush(self) -> None:
        """Commit everything handed over so far; return when it is in the database."""
        with self._write_lock:
            tasks, jobs, purge = self._pending.take()
            if tasks or jobs or purge:
                try:
                    self._write(tasks, jobs, purge)
                except Exception as exc:  # _write handles its own failures: a last guard
                    self.failures += 1
                    self._logger.exception("store: a commit failed; its rows will be retried")
                    counted = not self._outage.unanswered(exc)
                    for task_id, task_row in tasks.items():
                        self._requeue("task", task_id, task_row, counted=counted)
                    for job_id, job_row in jobs.items():
                        self._requeue("job", job_id, job_row, counted=counted)
                    if purge is not None:
                        purge[1](None)
            if jobs or tasks:
                self._pending.written()  # written, or handed back to the pending rows

    def _write(
        self,
        tasks: Mapping[str, PendingTask],
        jobs: Mapping[str, Values],
        purge: Purge | None,
    ) -> None:
        oldest: float | None = None
        try:
            if self._attempts:
                # A batch failed before: write row by row, so that a row the database
                # refuses costs only itself, not the rows beside it.
                self._write_each(tasks, jobs)
                tasks, jobs = {}, {}
            with self._engine.begin() as conn:
                cutoff = None if purge is None else purge[0]
                oldest = self._statements.write(conn, tasks, jobs, cutoff)
        except Exception as exc:
            self._failed(exc, tasks, jobs)
            oldest = None  # the caller must hear back all the same, or it waits forever
        else:
            if tasks or jobs or purge is not None:
                self._outage.answered()
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
        self.failures += 1
        counted = not self._outage.unanswered(exc, len(tasks) + len(jobs))
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
                    self._statements.write_one(conn, kind, row_id, row)
            except Exception as exc:
                self.failures += 1
                if self._outage.unanswered(exc, len(items) - index):
                    # Nobody answers: this row and the rest wait, none of them at fault.
                    for rest_kind, rest_id, rest_row in items[index:]:
                        self._requeue(rest_kind, rest_id, rest_row, counted=False)
                    return
                self._logger.exception("store: writing %s %s failed", kind, row_id)
                self._requeue(kind, row_id, row)
            else:
                self._attempts.pop((kind, row_id), None)
                self._outage.answered()

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
        self._pending.put_back(kind, row_id, row)

    def drain(self, deadline: float) -> bool:
        """Flush until nothing waits or ``deadline`` (monotonic) passes; whether all went."""
        wait = RETRY_SECONDS
        while True:
            self.flush()
            if self._pending.waiting() == (0, 0):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(wait, remaining))
            wait = min(wait * 2, OUTAGE_RETRY_MAX_SECONDS)

    def _run(self, chores: Chores) -> None:
        pending, outage = self._pending, self._outage
        beat = time.monotonic() + chores.beat_every()
        poll = time.monotonic() + chores.poll_every()
        while True:
            if chores.node is None:
                pending.wait(None)
            elif not pending.wait(max(0.0, min(beat, poll) - time.monotonic())):
                now = time.monotonic()
                if now >= beat:
                    beat = now + chores.beat_every()
                    self._file_intact()
                    chores.heartbeat()
                if now >= poll:
                    poll = now + chores.poll_every()
                    chores.poll_cancels()
                continue
            if self._closed:
                return
            # Let rows gather for a moment: the batch gets bigger, the changes of one job
            # coalesce, and the writer does not fight for the GIL at the instant a job
            # starts, when the worker needs it to reach the handler.
            if outage.since is not None:
                # Backing off: a database that does not answer gets fewer tries.
                time.sleep(outage.wait)
                outage.wait = min(outage.wait * 2, OUTAGE_RETRY_MAX_SECONDS)
            elif self._attempts:
                time.sleep(RETRY_SECONDS)
            elif not pending.gathered():
                time.sleep(COALESCE_SECONDS)
            pending.begin_batch()
            if self._closed:  # close() came during the pause; it flushes itself
                return
            try:
                self.flush()
            except Exception:  # the writer must outlive any one batch
                self._logger.exception("store: a commit failed")
            # A steady stream of rows must not starve the heartbeat: other nodes would take
            # this one for dead.
            now = time.monotonic()
            if chores.node is not None and now >= beat:
                beat = now + chores.beat_every()
                chores.heartbeat()
            if chores.node is not None and now >= poll:
                poll = now + chores.poll_every()
                chores.poll_cancels()
