"""``POST /reports``: schedule a run-once report, which fails when asked to."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from ..scheduler import SchedulerDep
from ..tasks import build_report
from .downloads import Scheduled

__all__ = ["ReportRequest", "router"]

router = APIRouter(tags=["reports"])


class ReportRequest(BaseModel):
    title: str = Field(default="monthly", min_length=1, max_length=200)
    fail: bool = Field(default=False, description="make the job raise")


@router.post("/reports", status_code=status.HTTP_202_ACCEPTED)
def start_report(request: ReportRequest, scheduler: SchedulerDep) -> Scheduled:
    task_id = scheduler.add_task(
        "report", build_report, interval=1, run_once=True, args=(request.title, request.fail)
    )
    return Scheduled(task_id=task_id)
