"""The SQL of the store's row writes: upserts, many-row statements, and a batch's statements.

A commit hands ``Statements.write`` the pending rows it took; they run as plain SQL with
positional parameters through the driver (SQLAlchemy's per-row work costs more than SQLite
itself), in statements of many rows on SQLite and as one pipelined executemany on
PostgreSQL. The upserts carry the rules of who may write a row over whose: a user's later
pause or resume, a lease holder's fencing token, a job's final end.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import delete, func, select

from .pending import PendingState, PendingTask, Values, _values
from .tables import _JOB_WIDTH, _TASK_WIDTH, _TERMINAL, Row, _job_table, _task_table

# Whole rows built from their sources at a commit are written this many at a time: a burst
# of registrations never has more of them built at once, which the allocator would keep
# after they are freed.
SOURCE_CHUNK = 256

# SQLite runs a statement of many rows in one step, and the driver lets go of the GIL for
# each step: a statement per row made the writer wait for the GIL again after every row,
# while the scheduler and the workers had it. Rows go in statements of up to this many
# (a power of two, so that few distinct statements are prepared), within SQLite's limit
# on parameters per statement. Not more: the prepared statements of up to 256 rows held
# about 1 MB of compiled programs for as long as the connection lives (measured: 110 B
# more RSS per task with 10,000 idle tasks), and 64 rows per step gave as much throughput.
MULTI_ROW_MAX = 64
_SQLITE_MAX_PARAMETERS = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


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


class Statements:
    """The row writes of one database, in its driver's ``placeholder`` style. Immutable
    after construction; a statement's text is made once and reused."""

    def __init__(self, placeholder: str, kind: str) -> None:
        self.task_upsert, self.task_values = _upsert(_task_table, placeholder)
        self.job_upsert, self.job_values = _upsert(_job_table, placeholder)
        self._task_delete = f"DELETE FROM {_task_table.name} WHERE id = {placeholder}"
        self._postgresql = kind == "postgresql"
        # SQLite: many rows per statement (see _MultiRow). PostgreSQL's driver sends an
        # executemany's rows in one pipeline already.
        self._multi: tuple[_MultiRow, _MultiRow, _MultiRow] | None = None
        if kind != "postgresql":
            self._multi = (
                _MultiRow(self.task_upsert, _group(placeholder, _TASK_WIDTH), _TASK_WIDTH),
                _MultiRow(self.job_upsert, _group(placeholder, _JOB_WIDTH), _JOB_WIDTH),
                _MultiRow(
                    f"DELETE FROM {_task_table.name} WHERE id IN ({placeholder})", placeholder, 1
                ),
            )
        self._task_state_update = (
            f"UPDATE {_task_table.name} SET status = {placeholder}, "
            f"next_run_at = {placeholder} WHERE id = {placeholder}"
        )

    def write(
        self,
        conn: Any,
        tasks: Mapping[str, PendingTask],
        jobs: Mapping[str, Values],
        purge_cutoff: float | None,
    ) -> float | None:
        """Write a batch on ``conn`` (in the caller's transaction): task deletions, whole
        task rows (built from their sources ``SOURCE_CHUNK`` at a time), task states, job
        rows, then the purge of finished jobs that ended at or before ``purge_cutoff``.
        Returns the end time of the oldest finished job left after a purge, else None."""
        gone = [(task_id,) for task_id, row in tasks.items() if row is None]
        states = [
            (*row, task_id) for task_id, row in tasks.items() if isinstance(row, PendingState)
        ]
        whole = [
            (task_id, row)
            for task_id, row in tasks.items()
            if row is not None and not isinstance(row, PendingState)
        ]
        if self._postgresql:
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
                conn.exec_driver_sql(self.task_upsert, rows)
        if states:
            conn.exec_driver_sql(self._task_state_update, states)
        if jobs:
            if multi is not None:
                multi[1].run(conn, list(jobs.values()))
            else:
                conn.exec_driver_sql(self.job_upsert, list(jobs.values()))
        if purge_cutoff is None:
            return None
        finished = _job_table.c.status.in_(_TERMINAL)
        conn.execute(delete(_job_table).where(finished, _job_table.c.ended_at <= purge_cutoff))
        oldest: float | None = conn.execute(
            select(func.min(_job_table.c.ended_at)).where(finished)
        ).scalar()
        return oldest

    def write_one(self, conn: Any, kind: str, row_id: str, row: PendingTask) -> None:
        """Write one pending row on ``conn``: a job's, or a task's (a whole row, its state,
        or its deletion)."""
        if kind == "job":
            conn.exec_driver_sql(self.job_upsert, [row])
        elif row is None:
            conn.execute(delete(_task_table).where(_task_table.c.id == row_id))
        elif isinstance(row, PendingState):
            conn.exec_driver_sql(self._task_state_update, [(*row, row_id)])
        else:
            conn.exec_driver_sql(self.task_upsert, [_values(row)])
