"""Stored rows as the public models: a task's or a job's row as the ``Task`` or ``Job`` that
reads from the store and event snapshots return.

Pure: a row (a dict of every stored column, by name) in, a model out.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from ._arguments import PICKLE, ArgumentCodec
from ._schedule import IntervalSchedule
from .models import Job, Task

__all__ = ["Row", "job_model", "schedule_data", "task_model"]

Row = dict[str, Any]


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def schedule_data(row: Row) -> dict[str, Any]:
    """A stored task's schedule as JSON-friendly data (``Task.schedule``), from its
    ``schedule`` column or, when that is '', from its interval columns."""
    text = row["schedule"]
    if text:
        data: dict[str, Any] = json.loads(text)
        return data
    return IntervalSchedule(
        float(row["interval_seconds"]), bool(row["fixed_interval"]), bool(row["run_once"])
    ).describe()


def task_model(row: Row, codec: ArgumentCodec = PICKLE) -> Task:
    """The public ``Task`` of a stored row, its arguments decoded by the store's ``codec``."""
    return Task(
        id=row["id"],
        key=row["key"],
        task_name=row["task_name"],
        args=codec.decode_args(row["args"]),
        kwargs=codec.decode_kwargs(row["kwargs"]),
        interval_seconds=row["interval_seconds"],
        fixed_interval=row["fixed_interval"],
        run_once=row["run_once"],
        status=row["status"],
        next_run_at=_utc(row["next_run_at"]),
        timeout_seconds=row["timeout_seconds"],
        max_retries=row["max_retries"],
        on_main_loop=row["on_main_loop"],
        schedule=schedule_data(row),
        misfire=row["misfire"],
        misfire_grace_seconds=row["misfire_grace_seconds"],
        jitter_seconds=row["jitter_seconds"],
        executor=row["executor"],
        max_instances=row["max_instances"],
    )


# Statuses of jobs whose handler never started. (A job cancelled before it started is
# known by its duration: the store keeps none for it, as for these.)
_NEVER_STARTED = frozenset(("scheduled", "missed"))


def job_model(row: Row) -> Job:
    """The public ``Job`` of a stored row.

    The ``started_at`` column holds when a job was made until it starts, so that history
    keeps its order; a job that never started shows no start and, once ended, a duration
    of 0 (the store keeps its duration empty).
    """
    ended = row["ended_at"]
    result = row["result"]
    status = row["status"]
    duration = row["duration_seconds"]
    never_started = status != "running" and (
        status in _NEVER_STARTED or (status == "cancelled" and duration is None)
    )
    if never_started:
        duration = None if ended is None else 0.0
    return Job(
        id=row["id"],
        task_id=row["task_id"],
        task_name=row["task_name"],
        status=status,
        started_at=None if never_started else _utc(row["started_at"]),
        ended_at=None if ended is None else _utc(ended),
        duration_seconds=duration,
        error_message=row["error_message"],
        attempt=row["attempt"],
        retry_of=row["retry_of"],
        result=None if result is None else json.loads(result),
        result_note=row["result_note"],
        unresponsive=bool(row["unresponsive"]),
        scheduled_for=None if row["scheduled_for"] is None else _utc(row["scheduled_for"]),
        node=row["node"],
        executor=row["executor"],
    )
