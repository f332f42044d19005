"""Realistic user code, type-checked with mypy --strict in CI: the public API must type well."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import quiv
from quiv import Event, Job, JobStatus, Quiv, QuivConfig, Task, TaskStatus, run_on_main
from quiv.exceptions import QuivError, TaskNotFoundError
from quiv.schedules import Calendar, Cron, Schedule, from_json
from quiv.testing import FakeClock, settle, wait_until


def sync_handler(
    path: str, *, _job_id: str, _stop_event: threading.Event, _progress_hook: Callable[..., None]
) -> None:
    while not _stop_event.is_set():
        _progress_hook(path=path, job=_job_id)
        _stop_event.wait(0.1)


async def async_handler(**kwargs: Any) -> None:
    await asyncio.sleep(0)
    run_on_main(print, "done", kwargs["_job_id"])


async def on_progress(path: str, job: str) -> None:
    await asyncio.sleep(0)


def on_job(event: Event, task: Task, job: Job) -> None:
    started: datetime | None = job.started_at  # None: the job never started
    ended: datetime | None = job.ended_at
    logging.getLogger("app").info("%s %s %s %s", event.value, task.task_name, started, ended)


def crunch(numbers: list[int], _stop_event: threading.Event) -> int:
    return sum(n * n for n in numbers if not _stop_event.is_set())


def in_processes() -> None:
    scheduler = Quiv(pool_size=4, process_pool_size=2, kill_grace=2.5)
    config = QuivConfig(process_pool_size=3, kill_grace=1.0, process_start_method="spawn")
    Quiv(config).shutdown()
    scheduler.add_task(
        "crunch", crunch, interval=60, args=([1, 2, 3],), executor="process", timeout=30
    )
    try:
        scheduler.add_task("no", lambda: None, run_once=True, executor="process")
    except quiv.ConfigurationError as exc:
        print(exc)
    died = quiv.JobProcessDiedError("job", 4242, -9)
    print(died.job_id, died.pid, died.exitcode)
    scheduler.shutdown()


def main() -> None:
    scheduler = Quiv(QuivConfig(pool_size=4, timezone="Europe/Berlin"), logger=logging.getLogger())
    task_id: str = scheduler.add_task(
        "sync", sync_handler, interval=5, args=("/tmp/x",), progress_callback=on_progress
    )
    scheduler.add_task("async", async_handler, 1.5, delay=0.5, run_once=True)
    nightly: str = scheduler.add_task(
        "nightly", sync_handler, cron="0 3 * * *", timezone="Europe/Berlin", jitter=60
    )
    scheduler.add_task(
        "launch", async_handler, at=datetime(2027, 1, 1, 9), misfire=quiv.Misfire.SKIP
    )
    scheduler.add_task("hourly", async_handler, cron="@hourly", misfire="skip", misfire_grace=30)
    month_end: Schedule = Calendar(months=1, at="09:00") | Cron("0 18 L * *")
    closing: str = scheduler.add_task("close", sync_handler, schedule=month_end)
    again: Schedule = from_json(scheduler.get_task(closing).schedule)
    print(again.describe(), quiv.preview(again, 3)[0].local)
    upcoming: list[quiv.RunTime] = scheduler.next_run_times(nightly, count=3)
    preview: list[quiv.RunTime] = quiv.preview_cron("*/15 9-17 * * MON-FRI", "UTC", 4)
    print(upcoming[0].local.isoformat(), preview[-1].utc, scheduler.get_task(nightly).schedule)
    try:
        scheduler.add_task("bad", sync_handler, cron="61 * * * *")
    except quiv.InvalidCronExpressionError as exc:
        print(exc.field, exc.reason)
    scheduler.add_listener(Event.JOB_COMPLETED, on_job)
    scheduler.start()
    count: int = scheduler.run_task_immediately(task_id)
    scheduler.pause_task(task_id)
    scheduler.resume_task(task_id, delay=1)
    task: Task = scheduler.get_task(task_id)
    assert task.status in {TaskStatus.ACTIVE, TaskStatus.RUNNING}
    jobs: list[Job] = scheduler.get_all_jobs(status=JobStatus.COMPLETED)
    tasks: list[Task] = scheduler.get_all_tasks(include_run_once=True)
    cancelled: bool = scheduler.cancel_job(jobs[0].id) if jobs else False
    stats: quiv.SchedulerStatistics = scheduler.statistics()
    print(count, tasks, cancelled, stats.free_workers)
    in_processes: int = stats.running_process_jobs + stats.free_processes
    executor: str = task.executor
    print(in_processes, executor)
    try:
        scheduler.remove_task("nope")
    except TaskNotFoundError as exc:
        print(exc.task_id)
    except QuivError:
        raise
    scheduler.shutdown(timeout=5)


def test_with_fake_clock() -> None:
    clock = FakeClock()
    scheduler = Quiv(clock=clock, pool_size=1)
    runs: list[int] = []
    scheduler.add_task("tick", lambda: runs.append(1), interval=60)
    scheduler.start()
    settle(scheduler)
    clock.advance(60)
    settle(scheduler)
    wait_until(lambda: len(runs) == 2)
    scheduler.stop()
