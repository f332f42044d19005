"""Tasks: list, inspect, pause, resume, run now, remove. Unknown ids are 404s (``errors``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel

from quiv import Job, Task

from ..scheduler import SchedulerDep

__all__ = ["RunRequested", "router"]

router = APIRouter(prefix="/tasks", tags=["tasks"])


class RunRequested(BaseModel):
    task_id: str


@router.get("")
def list_tasks(scheduler: SchedulerDep, include_run_once: bool = True) -> list[Task]:
    return scheduler.get_all_tasks(include_run_once=include_run_once)


@router.get("/{task_id}")
def get_task(task_id: str, scheduler: SchedulerDep) -> Task:
    return scheduler.get_task(task_id)


@router.get("/{task_id}/jobs")
def list_task_jobs(task_id: str, scheduler: SchedulerDep) -> list[Job]:
    """The runs of one task, oldest first; they outlive a run-once or removed task."""
    jobs = [job for job in scheduler.get_all_jobs() if job.task_id == task_id]
    if not jobs:
        scheduler.get_task(task_id)  # 404 unless the task exists (and has not run yet)
    return jobs


@router.post("/{task_id}/pause")
def pause_task(task_id: str, scheduler: SchedulerDep) -> Task:
    scheduler.pause_task(task_id)
    return scheduler.get_task(task_id)


@router.post("/{task_id}/resume")
def resume_task(
    task_id: str,
    scheduler: SchedulerDep,
    delay: Annotated[float, Query(ge=0, le=86_400)] = 0,
) -> Task:
    scheduler.resume_task(task_id, delay=delay)
    return scheduler.get_task(task_id)


@router.post("/{task_id}/run", status_code=status.HTTP_202_ACCEPTED)
def run_task(task_id: str, scheduler: SchedulerDep) -> RunRequested:
    """A run now (or right after the running one); a paused task stays paused."""
    scheduler.run_task_immediately(task_id)
    return RunRequested(task_id=task_id)


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_task(task_id: str, scheduler: SchedulerDep) -> Response:
    """Removes the task; its running job, if any, is asked to stop and ends ``cancelled``."""
    scheduler.remove_task(task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
