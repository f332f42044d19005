"""Public models: JSON-serialisable, UTC-aware whatever the display time zone."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from quiv import Event, Job, Task

from ._helpers import Recorder, at, quiesce, step_to


def _is_utc(value: datetime) -> bool:
    offset = value.utcoffset()
    return value.tzinfo is not None and offset is not None and offset.total_seconds() == 0


@pytest.mark.parametrize(
    "tz", ["UTC", "America/New_York", "Asia/Kolkata", ZoneInfo("Pacific/Chatham")]
)
def test_datetimes_are_utc_aware_whatever_the_timezone(quiv, clock, tz) -> None:
    q = quiv(timezone=tz, clock=clock)
    q.start()
    recorder = Recorder()
    for event in Event:
        q.add_listener(event, recorder)

    def fails() -> None:
        raise ValueError("x")

    task_id = q.add_task("t", lambda: None, interval=60, delay=5)
    q.add_task("f", fails, interval=60, delay=5, run_once=True)
    task = q.get_task(task_id)
    assert _is_utc(task.next_run_at)
    assert task.next_run_at == at(5)
    step_to(q, clock, 5)
    jobs = q.get_all_jobs()
    assert len(jobs) == 2
    for job in jobs:
        assert _is_utc(job.started_at)
        assert job.ended_at is not None
        assert _is_utc(job.ended_at)
        assert job.started_at == at(5)
    for task in q.get_all_tasks(include_run_once=True):
        assert _is_utc(task.next_run_at)
    quiesce(q)
    recorder.wait_for(6)  # added x2, started x2, completed, failed
    for call in recorder.calls:
        for model in call[1:]:
            for value in model.model_dump().values():
                if isinstance(value, datetime):
                    assert _is_utc(value)


def test_timezone_formats_log_output(quiv, clock, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="Quiv")
    q = quiv(timezone="America/New_York", clock=clock)
    q.add_task("logged", lambda: None, interval=60, delay=5)
    # 2030-01-01T00:00:05Z is 19:00:05 the day before in New York (EST, UTC-5).
    assert any("2029-12-31T19:00:05-05:00" in r.getMessage() for r in caplog.records)
    assert q.get_task(q.get_all_tasks()[0].id).next_run_at == at(5)


def test_custom_logger_is_used(quiv, clock, caplog) -> None:
    logger = logging.getLogger("my.app.scheduler")
    caplog.set_level(logging.DEBUG, logger="my.app.scheduler")
    q = quiv(logger=logger, clock=clock)
    q.add_task("logged", lambda: None, interval=60, delay=5)
    assert any(r.name == "my.app.scheduler" for r in caplog.records)


def test_models_serialise_to_json(quiv, clock) -> None:
    q = quiv(clock=clock)
    q.start()
    task_id = q.add_task(
        "json",
        lambda *a, **k: None,
        interval=1.5,
        args=(1, "two", [3], {"four": 4}),
        kwargs={"flag": True, "ratio": 0.5, "none": None},
    )
    step_to(q, clock, 0)
    task = q.get_task(task_id)
    data = json.loads(task.model_dump_json())
    assert data["id"] == task_id
    assert data["task_name"] == "json"
    assert data["args"] == [1, "two", [3], {"four": 4}]
    assert data["kwargs"] == {"flag": True, "ratio": 0.5, "none": None}
    assert data["interval_seconds"] == 1.5
    assert data["fixed_interval"] is True
    assert data["run_once"] is False
    assert data["status"] == "active"
    assert datetime.fromisoformat(data["next_run_at"].replace("Z", "+00:00")) == at(1.5)

    (job,) = q.get_all_jobs()
    data = json.loads(job.model_dump_json())
    assert data["id"] == job.id
    assert data["task_id"] == task_id
    assert data["status"] == "completed"
    assert datetime.fromisoformat(data["started_at"].replace("Z", "+00:00")) == at(0)
    assert datetime.fromisoformat(data["ended_at"].replace("Z", "+00:00")) == at(0)
    assert data["duration_seconds"] == 0
    assert data["error_message"] is None

    # As a web framework would return a list of them.
    tasks_json = TypeAdapter(list[Task]).dump_json(q.get_all_tasks())
    jobs_json = TypeAdapter(list[Job]).dump_json(q.get_all_jobs())
    assert json.loads(tasks_json)[0]["id"] == task_id
    assert json.loads(jobs_json)[0]["id"] == job.id


def test_models_round_trip_through_json(quiv, clock) -> None:
    q = quiv(clock=clock)
    q.start()
    task_id = q.add_task("rt", lambda: None, interval=2, delay=1)
    step_to(q, clock, 1)
    task = q.get_task(task_id)
    job = q.get_all_jobs()[0]
    assert Task.model_validate_json(task.model_dump_json()) == task
    assert Job.model_validate_json(job.model_dump_json()) == job
    assert task.next_run_at.tzinfo is not None
    assert task.next_run_at.astimezone(timezone.utc) == at(3)
