"""Jobs: the history, one job, and cancellation of a running one."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from quiv import Job, JobStatus

from ..scheduler import SchedulerDep

__all__ = ["CancelRequested", "router"]

router = APIRouter(prefix="/jobs", tags=["jobs"])


class CancelRequested(BaseModel):
    job_id: str


@router.get("")
def list_jobs(scheduler: SchedulerDep, status: JobStatus | None = None) -> list[Job]:
    return scheduler.get_all_jobs(status=status)


@router.get("/{job_id}")
def get_job(job_id: str, scheduler: SchedulerDep) -> Job:
    return scheduler.get_job(job_id)


@router.post("/{job_id}/cancel", status_code=status.HTTP_202_ACCEPTED)
def cancel_job(job_id: str, scheduler: SchedulerDep) -> CancelRequested:
    """Sets the job's stop event. The handler decides when to stop; the job then ends
    ``cancelled`` (``job_cancelled`` on the feed). 409 if it has already ended.
    """
    if scheduler.cancel_job(job_id):
        return CancelRequested(job_id=job_id)
    job = scheduler.get_job(job_id)  # cancel_job never raises: an unknown id is a 404 here
    detail = f"job {job_id!r} has already ended: {job.status}"
    raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail=detail)
