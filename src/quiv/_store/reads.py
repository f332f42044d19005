"""The store's queries: tasks and jobs as stored, after committing what is pending.

Every read commits the pending rows first (``flush``), so that it sees every change handed
over before it began. A job's row that waits for a database that does not answer is read
from memory, so that a job's end is known during an outage; any other read then raises
``DatabaseUnavailableError``. Rows come back in the order they were first written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, literal_column, or_, select

from .._entries import JOB_COLUMNS
from ..exceptions import DatabaseUnavailableError, SchedulerStoppedError
from .health import Outage
from .pending import Pending
from .tables import _JOB_COLUMNS, _LIVE_TASK, _TASK_COLUMNS, Row, _job_table, _task_table
from .writer import Writer

_ROWID: Any = literal_column("rowid")


class Reads:
    """Queries of one store's tasks and jobs. Thread-safe."""

    def __init__(
        self,
        engine: Any,
        kind: str,
        location: str,
        pending: Pending,
        writer: Writer,
    ) -> None:
        self._engine = engine
        self._location = location
        self._pending = pending
        self._writer = writer  # commits before each read; closed, no read
        # Reads list rows in the order they were first written: SQLite's rowid says so; on
        # PostgreSQL, creation times do (ties, within a microsecond, by id).
        if kind == "postgresql":
            self._task_order: Any = (_task_table.c.created_at, _task_table.c.id)
            self._job_order: Any = (_job_table.c.id,)
        else:
            self._task_order = (_ROWID,)
            self._job_order = (_ROWID,)

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
        waiting = self._pending.waiting_job(job_id)
        if waiting is not None:
            return dict(zip(JOB_COLUMNS, waiting, strict=True))
        return self._one(select(*_JOB_COLUMNS).where(_job_table.c.id == job_id))

    def last_job_of(self, task_id: str) -> str | None:
        """The id of the latest job of a task: among the rows waiting to be written first
        (a job that just ended, while the database does not answer), else stored."""
        waiting = self._pending.latest_waiting_job_of(task_id)
        if waiting is not None:
            return waiting
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
        query = _filtered(select(*_JOB_COLUMNS), status, task_id, since, until)
        keys = [_job_table.c[order_by], *self._job_order]
        if order_by == "ended_at":  # jobs not ended yet last, whichever the direction
            keys.insert(0, _job_table.c.ended_at.is_(None))
        if descending:
            keys = [key.desc() for key in keys[1 if order_by == "ended_at" else 0 :]]
            if order_by == "ended_at":
                keys.insert(0, _job_table.c.ended_at.is_(None))
        query = query.order_by(*keys).offset(offset)
        return self._all(query if limit is None else query.limit(limit))

    def jobs_page(
        self,
        *,
        status: str | None,
        task_id: str | None,
        since: float | None,
        until: float | None,
        before: tuple[float, str] | None,
        limit: int,
    ) -> list[Row]:
        """Up to ``limit`` stored jobs, newest ``started_at`` first (ties: greatest id
        first), filtered as ``get_jobs``, from those that sort after ``before``, the
        ``(started_at, id)`` of the last row of the previous page.

        A keyset page: rows written after the first page was read sort before it (they
        start later), so they never shift a later page as an offset would, and no job is
        listed twice in one walk. A job that starts during the walk moves up (its
        ``started_at`` becomes its start) and the walk may miss it.
        """
        query = _filtered(select(*_JOB_COLUMNS), status, task_id, since, until)
        started, job_id = _job_table.c.started_at, _job_table.c.id
        if before is not None:
            at, last = before
            query = query.where(or_(started < at, and_(started == at, job_id < last)))
        return self._all(query.order_by(started.desc(), job_id.desc()).limit(limit))

    def count_jobs_by_status(self) -> dict[str, int]:
        """How many stored jobs have each status (those with none are left out)."""
        status = _job_table.c.status
        rows = self._all(select(status, func.count().label("count")).group_by(status))
        return {str(row["status"]): int(row["count"]) for row in rows}

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
        self._writer.flush()
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(_job_table)).scalar_one())

    def _one(self, query: Any) -> Row | None:
        rows = self._all(query)
        return rows[0] if rows else None

    def _all(self, query: Any) -> list[Row]:
        if self._writer.closed:
            raise SchedulerStoppedError("read the history (its database is deleted)")
        self._writer.flush()
        try:
            with self._engine.connect() as conn:
                result: Sequence[Any] = conn.execute(query).mappings().all()
                return [dict(row) for row in result]
        except Exception as exc:
            if Outage.is_unanswered(exc):
                raise DatabaseUnavailableError(self._location, exc) from exc
            raise


def _filtered(
    query: Any,
    status: str | None,
    task_id: str | None,
    since: float | None,
    until: float | None,
) -> Any:
    """``query`` of jobs narrowed to a status, a task and a window of ``started_at``."""
    if status is not None:
        query = query.where(_job_table.c.status == status)
    if task_id is not None:
        query = query.where(_job_table.c.task_id == task_id)
    if since is not None:
        query = query.where(_job_table.c.started_at >= since)
    if until is not None:
        query = query.where(_job_table.c.started_at <= until)
    return query
