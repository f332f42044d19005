"""Stored rows as the public models: a task's or a job's row as the ``Task`` or ``Job`` that
reads from the store and event snapshots return.

Pure: a row (a dict of every stored column, by name) in, a model out.
"""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from ._arguments import PICKLE, ArgumentCodec
from ._schedule import IntervalSchedule
from .models import Job, Task

__all__ = ["Row", "job_model", "schedule_data", "task_model"]

Row = dict[str, Any]
M = TypeVar("M", Task, Job)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def schedule_data(row: Row) -> dict[str, Any]:
    """A stored task's schedule as JSON-friendly data (``Task.schedule``), from its
    ``schedule`` column or, when that is '', from its interval columns. A new dict each
    time: the caller may change it."""
    text = row["schedule"]
    if text:
        data: dict[str, Any] = json.loads(text)
        return data
    return dict(
        _interval_data(
            float(row["interval_seconds"]), bool(row["fixed_interval"]), bool(row["run_once"])
        )
    )


@lru_cache(maxsize=256)
def _interval_data(seconds: float, fixed: bool, run_once: bool) -> dict[str, Any]:
    """An interval schedule's data, described once per kind (most tasks share a few): a
    flat dict of plain values, which a shallow copy keeps apart."""
    return IntervalSchedule(seconds, fixed, run_once).describe()


def task_model(row: Row, codec: ArgumentCodec = PICKLE) -> Task:
    """The public ``Task`` of a stored row, its arguments decoded by the store's ``codec``.

    Built without validation (``_built``): every value comes from quiv's own row, of the
    declared type, its times UTC already."""
    return _built(
        Task,
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
    # Without validation, as task_model: every value is of the declared type already.
    return _built(
        Job,
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


def _raw(cls: type[M], /, **values: Any) -> M:
    """A model of ``values`` made as pydantic makes one once it has validated them: its
    field values as its ``__dict__``, no extra and no private values. About 0.7 us, where
    validating a ``Job`` costs 6-10 us and ``model_construct`` (through SQLModel) as much:
    with a listener registered, every job makes a ``Task`` and a ``Job``, and that was a
    third of the job's cost."""
    model = object.__new__(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def _validated(cls: type[M], /, **values: Any) -> M:
    return cls(**values)


class _Build(Protocol):
    def __call__(self, cls: type[M], /, **values: Any) -> M: ...


def _choose() -> _Build:
    """``_raw`` if a model it makes is the model that validation makes (equal, dumped and
    pickled alike) with the pydantic at hand, else plain validation. (``_raw`` needs every
    field given, as ``task_model`` and ``job_model`` give them.)"""
    sample = {
        "id": "j", "task_id": "t", "task_name": "n", "status": "completed",
        "started_at": _utc(0.0), "ended_at": _utc(1.5), "duration_seconds": 1.5,
        "error_message": None, "attempt": 1, "retry_of": None, "result": {"a": [1]},
        "result_note": None, "unresponsive": False, "scheduled_for": None, "node": None,
        "executor": "thread",
    }  # fmt: skip
    try:
        raw, checked = _raw(Job, **sample), Job(**sample)
        same = (
            raw == checked
            and raw.model_dump() == checked.model_dump()
            and raw.model_dump_json() == checked.model_dump_json()
            and pickle.loads(pickle.dumps(raw)) == checked
            and raw.model_copy(update={"status": "failed"}).status == "failed"
        )
    except Exception:
        same = False
    return _raw if same else _validated


_set = object.__setattr__
_built: _Build = _choose()
