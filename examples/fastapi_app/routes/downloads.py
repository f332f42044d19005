"""``POST /downloads``: schedule a run-once, cancellable, progress-reporting download."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from ..scheduler import ServicesDep
from ..tasks import download

__all__ = ["DownloadRequest", "Scheduled", "router"]

router = APIRouter(tags=["downloads"])


class DownloadRequest(BaseModel):
    url: str = Field(min_length=1, max_length=2048, examples=["https://example.com/big.iso"])
    chunks: int = Field(default=20, ge=1, le=100_000)
    chunk_delay: float = Field(default=0.25, ge=0, le=10, description="seconds per chunk")
    delay: float = Field(default=0, ge=0, le=86_400, description="seconds before it starts")


class Scheduled(BaseModel):
    task_id: str


# Plain ``def`` endpoints: FastAPI runs them on its threadpool. quiv's calls are quick and
# thread-safe, but reads touch SQLite, which is better kept off the event loop.
@router.post("/downloads", status_code=status.HTTP_202_ACCEPTED)
def start_download(request: DownloadRequest, services: ServicesDep) -> Scheduled:
    """Returns the task id. Its job id comes with the ``job_started`` event on the feed, or
    from ``GET /tasks/{task_id}/jobs``; cancel the download with ``POST /jobs/{id}/cancel``.
    """
    task_id = services.scheduler.add_task(
        "download",
        download,
        interval=1,  # required, unused by a run-once task
        delay=request.delay,
        run_once=True,
        args=(request.url, request.chunks, request.chunk_delay, str(services.scratch_dir)),
        progress_callback=services.feed.on_progress,
    )
    return Scheduled(task_id=task_id)
