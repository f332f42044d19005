"""``quiv._snapshots``: rows as the public ``Task`` and ``Job``, built without validation,
must be exactly the models validation builds (equal, dumped, copied and pickled alike)."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

import quiv._snapshots as snapshots
from quiv._snapshots import job_model, schedule_data, task_model
from quiv.models import Job, Task


def _validated(model: Task | Job) -> Task | Job:
    return type(model)(**{name: getattr(model, name) for name in type(model).model_fields})


def _task_row(**changes: Any) -> dict[str, Any]:
    args, kwargs = pickle.dumps((1, "a")), pickle.dumps({"k": [1, 2]})
    row: dict[str, Any] = {
        "id": "t", "key": None, "task_name": "n", "args": args, "kwargs": kwargs,
        "interval_seconds": 5.0, "fixed_interval": True, "run_once": False,
        "status": "active", "next_run_at": 1_900_000_000.25, "timeout_seconds": None,
        "max_retries": 0, "on_main_loop": False, "schedule": "", "misfire": "coalesce",
        "misfire_grace_seconds": 1.0, "jitter_seconds": 0.0, "executor": "thread",
        "max_instances": 1,
    }  # fmt: skip
    return {**row, **changes}


def _job_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": "j", "task_id": "t", "task_name": "n", "status": "completed",
        "started_at": 1_900_000_000.0, "ended_at": 1_900_000_001.5, "duration_seconds": 1.5,
        "error_message": None, "attempt": 1, "retry_of": None, "result": '{"a": [1, 2]}',
        "result_note": None, "unresponsive": False, "scheduled_for": None, "node": None,
        "executor": "thread",
    }  # fmt: skip
    return {**row, **changes}


TASKS = [
    _task_row(),
    _task_row(key="k", status="paused", executor="process", max_instances=3),
    _task_row(
        interval_seconds=None,
        schedule='{"kind": "cron", "expression": "0 3 * * *", "timezone": "UTC"}',
    ),
]
JOBS = [
    _job_row(),
    _job_row(status="scheduled", ended_at=None, duration_seconds=None, result=None),
    _job_row(status="cancelled", duration_seconds=None, error_message="cancelled before"),
    _job_row(status="failed", result=None, error_message="boom", scheduled_for=1.9e9),
]


def test_the_fast_build_is_in_use_with_this_pydantic() -> None:
    assert snapshots._built is snapshots._raw


@pytest.mark.parametrize("row", TASKS)
def test_a_task_snapshot_is_the_validated_task(row: dict[str, Any]) -> None:
    model = task_model(row)
    checked = _validated(model)
    assert model == checked
    assert model.model_dump() == checked.model_dump()
    assert model.model_dump_json() == checked.model_dump_json()
    assert pickle.loads(pickle.dumps(model)) == checked
    assert copy.deepcopy(model) == checked
    assert model.next_run_at.utcoffset() is not None


@pytest.mark.parametrize("row", JOBS)
def test_a_job_snapshot_is_the_validated_job(row: dict[str, Any]) -> None:
    model = job_model(row)
    checked = _validated(model)
    assert model == checked
    assert model.model_dump_json() == checked.model_dump_json()
    assert repr(model) == repr(checked)
    changed = model.model_copy(update={"status": "failed"})
    assert (changed.status, model.status) == ("failed", row["status"])


def test_schedule_data_is_a_dict_of_its_own_each_time() -> None:
    first = schedule_data(_task_row())
    first["description"] = "changed by a caller"
    assert schedule_data(_task_row())["description"] != "changed by a caller"


def test_validation_is_used_when_the_fast_build_differs(monkeypatch) -> None:
    def wrong(cls: Any, /, **values: Any) -> Any:
        model = object.__new__(cls)
        object.__setattr__(model, "__dict__", {})  # as if pydantic kept its values elsewhere
        object.__setattr__(model, "__pydantic_fields_set__", set())
        object.__setattr__(model, "__pydantic_extra__", None)
        object.__setattr__(model, "__pydantic_private__", None)
        return model

    monkeypatch.setattr(snapshots, "_raw", wrong)
    assert snapshots._choose() is snapshots._validated
