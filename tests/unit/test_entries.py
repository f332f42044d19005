"""Unit tests of ``quiv._entries``: a job entry's stop flag, handler stop event and end event;
a task entry's row and the schedule it stores.

The stop event is made lazily, on the worker thread, while the scheduler thread may be asking
the job to stop at the same moment: whichever side comes second must leave it set.
"""

from __future__ import annotations

import json
import threading
from datetime import timezone
from typing import Any

import quiv._entries
from quiv._arguments import PICKLE
from quiv._entries import (
    JobEntry,
    TaskEntry,
    TaskSettings,
    shared_settings,
)
from quiv._invocation import Injection
from quiv._schedule import AtSchedule, IntervalSchedule
from quiv._snapshots import schedule_data, task_model


def _task(**fields: Any) -> TaskEntry:
    """A task entry with plain settings, ``fields`` overriding them (its own fields and
    those of its ``TaskSettings`` alike)."""
    policy = {name: fields.pop(name) for name in TaskSettings._fields if name in fields}
    entry: dict[str, Any] = {
        "id": "t",
        "name": "t",
        "func": lambda: None,
        "args_blob": b"",
        "kwargs_blob": b"",
        "schedule": IntervalSchedule(1.0, fixed=True, run_once=False),
        "settings": shared_settings(
            TaskSettings(**{"injection": Injection(), "codec": PICKLE, **policy})
        ),
        "next_run_at": 0.0,
    }
    return TaskEntry(**{**entry, **fields})


def _job() -> JobEntry:
    return JobEntry(id="j", task=_task(), created_at=0.0)


def test_a_new_job_has_no_events_until_asked() -> None:
    job = _job()
    assert job.stop_event is None
    assert job.ended is None
    assert not job.stopping


def test_stop_before_the_handler_asks_gives_a_set_event() -> None:
    job = _job()
    job.request_stop()
    assert job.stopping
    assert job.handler_stop_event().is_set()


def test_stop_after_the_handler_asked_sets_its_event() -> None:
    job = _job()
    event = job.handler_stop_event()
    assert not event.is_set()
    job.request_stop()
    assert event.is_set()
    assert job.handler_stop_event() is event  # one event per job


def test_stop_and_handler_event_racing_always_end_set() -> None:
    for _ in range(300):
        job = _job()
        barrier = threading.Barrier(2)
        got: list[threading.Event] = []

        def worker(job: JobEntry = job, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            got.append(job.handler_stop_event())

        thread = threading.Thread(target=worker)
        thread.start()
        barrier.wait()
        job.request_stop()
        thread.join()
        assert got[0].is_set()


def test_waitable_is_made_once() -> None:
    job = _job()
    event = job.waitable()
    assert job.ended is event
    assert job.waitable() is event


def test_a_task_row_puts_every_value_under_its_own_column() -> None:
    # values() is written out in the table's column order by hand: each value must land in
    # its own column (a swapped pair would store one setting as another).
    from quiv._entries import TASK_COLUMNS
    from quiv._schedule import Misfire, RetryPolicy

    task = _task(
        id="the-id",
        name="the-name",
        args_blob=b"args",
        kwargs_blob=b"kwargs",
        schedule=IntervalSchedule(7.5, fixed=False, run_once=False),
        next_run_at=1234.5,
        timeout=3.25,
        retry=RetryPolicy(max_retries=4),
        on_main_loop=True,
        misfire=Misfire.SKIP,
        grace=2.5,
        jitter=0.75,
        key="the-key",
        scope="deployment",
        owner="the-owner",
        created_at=99.5,
        shared=True,
        node="the-node",
        changed_at=55.5,
        executor="process",
        max_instances=3,
    )
    task.slot = 1230.0
    task.lease_token = 17
    task.job = JobEntry(id="the-job", task=task, created_at=0.0)
    row = task.row()
    assert tuple(row) == TASK_COLUMNS
    assert row == {
        "id": "the-id",
        "key": "the-key",
        "scope": "deployment",
        "owner": "the-owner",
        "created_at": 99.5,
        "task_name": "the-name",
        "args": b"args",
        "kwargs": b"kwargs",
        "interval_seconds": 7.5,
        "fixed_interval": False,
        "run_once": False,
        "status": "active",
        "next_run_at": 1234.5,
        "timeout_seconds": 3.25,
        "max_retries": 4,
        "on_main_loop": True,
        "schedule": task._schedule_text,
        "misfire": "skip",
        "misfire_grace_seconds": 2.5,
        "jitter_seconds": 0.75,
        "shared": True,
        "slot": 1230.0,
        "lease_node": "the-node",
        "lease_job": "the-job",
        "lease_until": None,
        "lease_token": 17,
        "updated_by": "the-node",
        "changed_at": 55.5,
        "executor": "process",
        "max_instances": 3,
    }
    # An interval schedule is in the interval columns; the schedule column leaves it out.
    assert row["schedule"] == ""
    assert schedule_data(row) == {
        "kind": "interval",
        "every_seconds": 7.5,
        "fixed_interval": False,
        "run_once": False,
        "description": "every 7.5 s after the previous run ends",
    }


def test_a_calendar_schedule_is_stored_as_json_and_read_back() -> None:
    task = _task(schedule=AtSchedule(86400.0, timezone.utc))
    row = task.row()
    assert json.loads(row["schedule"])["kind"] == "at"
    assert schedule_data(row) == AtSchedule(86400.0, timezone.utc).describe()
    assert row["interval_seconds"] is None


def test_an_interval_row_reads_the_same_with_or_without_its_json() -> None:
    """Rows written before the schedule column left interval schedules out hold their JSON:
    both forms give the same public schedule."""
    args, kwargs = PICKLE.encode((), {})
    task = _task(schedule=IntervalSchedule(30.0, run_once=True), args_blob=args, kwargs_blob=kwargs)
    row = task.row()
    old = {**row, "schedule": json.dumps(IntervalSchedule(30.0, run_once=True).describe())}
    assert task_model(row).schedule == task_model(old).schedule
    assert task_model(row).schedule["description"] == "once, after its delay"


def test_tasks_registered_alike_share_their_settings() -> None:
    first, second = _task(timeout=2.0, grace=3.0), _task(id="u", timeout=2.0, grace=3.0)
    assert first.settings is second.settings
    assert (second.settings.timeout, second.settings.grace, second.settings.jitter) == (
        2.0,
        3.0,
        0.0,
    )
    assert _task(timeout=5.0).settings is not first.settings


def test_an_unhashable_progress_callback_gets_settings_of_its_own() -> None:
    class Callback:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self) -> None:
            pass

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Callback)

    callback = Callback()
    task = _task(progress_callback=callback)
    assert task.settings.progress_callback is callback
    assert _task(progress_callback=Callback()).settings is not task.settings


def test_the_shared_settings_stay_bounded() -> None:
    for i in range(1000):
        _task(timeout=float(i + 1))
    assert 0 < len(quiv._entries._shared) <= quiv._entries._SHARED_MAX


def test_running_jobs_of_a_task_that_may_overlap_itself() -> None:
    """``job`` is the latest started; an end of any of them keeps the others in order; the
    task is full at ``max_instances``, and never holds an empty list of others."""
    task = _task(max_instances=3)
    jobs = [JobEntry(id=f"j{n}", task=task, created_at=0.0) for n in range(3)]
    assert (task.running_count, task.full, task.running_jobs()) == (0, False, [])
    for count, job in enumerate(jobs, 1):
        task.add_running(job)
        assert task.job is job
        assert task.running_count == count
    assert task.full
    assert task.running_jobs() == jobs
    task.remove_running(jobs[1])  # a middle one
    assert (task.job, task.others, task.full) == (jobs[2], [jobs[0]], False)
    task.remove_running(jobs[2])  # the latest: the one before it becomes the latest
    assert (task.job, task.others) == (jobs[0], None)
    task.remove_running(jobs[0])
    assert (task.job, task.others, task.running_count) == (None, None, 0)


def test_a_task_of_one_instance_is_full_with_one_job() -> None:
    task = _task()
    task.add_running(JobEntry(id="j", task=task, created_at=0.0))
    assert task.full
    assert task.others is None
