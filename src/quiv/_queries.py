"""The API's reads: stored tasks and jobs as public models, their filters checked, and snapshots.

Tasks and jobs are read from the store, never through the scheduler thread. A row that
cannot be read (a durable store may hold rows that something other than this quiv wrote, or
damaged ones) is logged once and skipped, so that one bad row does not break every read of
every process. ``stats()`` and ``next_run_times()`` ask the scheduler thread instead, for
what only it knows (running jobs, planned runs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, tzinfo
from datetime import timezone as dt_timezone
from enum import Enum
from functools import partial
from typing import TypeVar

from ._bridge import MainLoop
from ._config import check_id
from ._preview import check_count, run_times, upcoming_runs
from ._schedule import IntervalSchedule
from ._scheduler import Scheduler
from ._snapshots import Row, job_model, task_model
from ._store import Store
from .exceptions import ConfigurationError, JobNotFoundError, TaskNotFoundError
from .models import Job, JobStatus, QuivStats, RunTime, Task, TaskStatus

__all__ = ["Queries"]

T = TypeVar("T")

# Rows logged as unreadable are remembered up to this many, so that each is logged once
# without the memory of them growing without bound.
_UNREADABLE_KEPT = 10_000


class Queries:
    """The reads of one ``Quiv``; each checks that it may run (``usable``) and its arguments."""

    __slots__ = (
        "_bridge",
        "_logger",
        "_pool_size",
        "_scheduler",
        "_store",
        "_unreadable",
        "_usable",
        "_zone",
    )

    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        bridge: MainLoop,
        logger: logging.Logger,
        *,
        usable: Callable[[str], None],
        zone: tzinfo,
        pool_size: int,
    ) -> None:
        self._store = store
        self._scheduler = scheduler
        self._bridge = bridge
        self._logger = logger
        self._usable = usable
        self._zone = zone
        self._pool_size = pool_size
        self._unreadable: set[tuple[str, str]] = set()  # malformed rows, logged once each

    def get_task(self, task_id: str) -> Task:
        """See ``Quiv.get_task``."""
        self._usable("read tasks")
        check_id("task_id", task_id)
        row = self._store.get_task(task_id)
        found = None if row is None else self._readable("task", [row], self._task_model)
        if not found:
            raise TaskNotFoundError(task_id)
        return found[0]

    def get_all_tasks(
        self,
        include_run_once: bool,
        status: TaskStatus | str | None,
        limit: int | None,
        offset: int,
    ) -> list[Task]:
        """See ``Quiv.get_all_tasks``."""
        self._usable("read tasks")
        if not isinstance(include_run_once, bool):
            raise ConfigurationError(f"include_run_once must be a bool, got {include_run_once!r}")
        rows = self._store.get_tasks(
            include_run_once=include_run_once,
            status=_status("status", status, TaskStatus),
            limit=_count("limit", limit),
            offset=_count("offset", offset, zero=True) or 0,
        )
        return self._readable("task", rows, self._task_model)

    def get_job(self, job_id: str) -> Job:
        """See ``Quiv.get_job``."""
        self._usable("read jobs")
        check_id("job_id", job_id)
        row = self._store.get_job(job_id)
        found = None if row is None else self._readable("job", [row], job_model)
        if not found:
            raise JobNotFoundError(job_id)
        return found[0]

    def get_all_jobs(
        self,
        status: JobStatus | str | None,
        task_id: str | None,
        since: datetime | None,
        until: datetime | None,
        order_by: str,
        descending: bool,
        limit: int | None,
        offset: int,
    ) -> list[Job]:
        """See ``Quiv.get_all_jobs``."""
        self._usable("read jobs")
        if order_by not in ("started_at", "ended_at"):
            raise ConfigurationError(
                f"order_by must be 'started_at' or 'ended_at', got {order_by!r}"
            )
        if not isinstance(descending, bool):
            raise ConfigurationError(f"descending must be a bool, got {descending!r}")
        if task_id is not None:
            check_id("task_id", task_id)
        rows = self._store.get_jobs(
            status=_status("status", status, JobStatus),
            task_id=task_id,
            since=_instant("since", since),
            until=_instant("until", until),
            order_by=order_by,
            descending=descending,
            limit=_count("limit", limit),
            offset=_count("offset", offset, zero=True) or 0,
        )
        return self._readable("job", rows, job_model)

    def jobs_page(
        self,
        status: JobStatus | str | None,
        task_id: str | None,
        since: datetime | None,
        until: datetime | None,
        before: tuple[float, str] | None,
        limit: int,
    ) -> tuple[list[Job], tuple[float, str] | None]:
        """A keyset page of jobs, newest first (the store's ``jobs_page``), and the position
        the next page starts after; None when this page is the last. Internal: the
        dashboard of ``quiv.web`` pages the history with it."""
        self._usable("read jobs")
        if task_id is not None:
            check_id("task_id", task_id)
        size = _count("limit", limit)
        assert size is not None
        rows = self._store.jobs_page(
            status=_status("status", status, JobStatus),
            task_id=task_id,
            since=_instant("since", since),
            until=_instant("until", until),
            before=before,
            limit=size + 1,  # one more, to know whether another page follows
        )
        last = rows[size - 1] if len(rows) > size else None
        following = None if last is None else (float(last["started_at"]), str(last["id"]))
        return self._readable("job", rows[:size], job_model), following

    def jobs_by_status(self) -> dict[str, int]:
        """How many jobs of the history have each status (internal, for ``quiv.web``)."""
        self._usable("read jobs")
        return self._store.count_jobs_by_status()

    def next_run_times(self, task_id: str, count: int) -> list[RunTime]:
        """See ``Quiv.next_run_times``."""
        self._usable("read the next run times")
        check_id("task_id", task_id)
        count = check_count(count)
        upcoming = self._scheduler.call(partial(self._scheduler.runs.upcoming, task_id))
        if upcoming is None:
            return []
        task, first, base = upcoming
        schedule = task.schedule
        zone = self._zone if isinstance(schedule, IntervalSchedule) else schedule.zone
        return run_times(upcoming_runs(schedule, first, base, count), zone)

    def stats(self) -> QuivStats:
        """See ``Quiv.stats``."""
        self._usable("read statistics")
        scheduler = self._scheduler

        def _take() -> tuple[int, dict[str, int], float | None]:
            return (
                scheduler.statistics().running_jobs,
                scheduler.runs.tasks_by_status(),
                scheduler.runs.next_run(),
            )

        running, by_status, next_run = scheduler.call(_take)
        size = self._pool_size
        return QuivStats(
            active_jobs=running,
            pool_size=size,
            pool_utilization=running / size,
            tasks_by_status=by_status,
            next_run_at=None
            if next_run is None
            else datetime.fromtimestamp(next_run, dt_timezone.utc),
            job_history_count=self._store.count_jobs(),
            loop_alive=self._bridge.loop is not None,
        )

    def _task_model(self, row: Row) -> Task:
        return task_model(row, self._store.codec)

    def _readable(self, kind: str, rows: list[Row], build: Callable[[Row], T]) -> list[T]:
        """The models of ``rows``, without those that cannot be read: each is logged once,
        by id, and skipped."""
        models = []
        for row in rows:
            try:
                models.append(build(row))
            except Exception as exc:
                key = (kind, str(row.get("id")))
                if key not in self._unreadable:
                    if len(self._unreadable) < _UNREADABLE_KEPT:
                        self._unreadable.add(key)
                    self._logger.warning(
                        "%s %s in the database cannot be read (%s: %s); reads skip it. It was "
                        "written by something other than this quiv, or damaged: fix or delete "
                        "that row",
                        kind,
                        key[1],
                        type(exc).__name__,
                        exc,
                    )
        return models


def _status(name: str, value: object, kind: type[Enum]) -> str | None:
    """A status filter as its stored value; ``ConfigurationError`` for anything else."""
    if value is None:
        return None
    allowed = sorted(str(member.value) for member in kind)
    found = value.value if isinstance(value, kind) else value
    if not isinstance(found, str) or found not in allowed:
        raise ConfigurationError(f"{name} must be one of {allowed} or None, got {value!r}")
    return found


def _count(name: str, value: object, *, zero: bool = False) -> int | None:
    """A ``limit`` (None, or an int >= 1) or an ``offset`` (an int >= 0)."""
    if value is None and not zero:
        return None
    least = 0 if zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigurationError(f"{name} must be an int >= {least}, got {value!r}")
    return value


def _instant(name: str, value: object) -> float | None:
    """A datetime bound as epoch seconds (naive: UTC)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ConfigurationError(f"{name} must be a datetime or None, got {value!r}")
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt_timezone.utc)
    return aware.timestamp()
