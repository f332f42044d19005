"""quiv's errors as HTTP responses: unknown ids are 404s, impossible changes 409s."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from quiv import (
    HandlerNotRegisteredError,
    InvalidTransitionError,
    JobNotFoundError,
    QuivError,
    SchedulerStateError,
    TaskNotFoundError,
    TaskNotScheduledError,
)

__all__ = ["register_error_handlers"]

_STATUS: dict[type[QuivError], int] = {
    # An id quiv does not know: get_task, pause/resume/remove (TaskNotFoundError),
    # get_job (JobNotFoundError), run_task_immediately (HandlerNotRegisteredError, or
    # TaskNotScheduledError for a run-once task that has run or a removed task).
    TaskNotFoundError: status.HTTP_404_NOT_FOUND,
    JobNotFoundError: status.HTTP_404_NOT_FOUND,
    HandlerNotRegisteredError: status.HTTP_404_NOT_FOUND,
    TaskNotScheduledError: status.HTTP_404_NOT_FOUND,
    InvalidTransitionError: status.HTTP_409_CONFLICT,
    # The scheduler is shutting down: the request came too late.
    SchedulerStateError: status.HTTP_503_SERVICE_UNAVAILABLE,
}


async def _quiv_error(request: Request, exc: Exception) -> JSONResponse:
    code = next(
        (code for kind, code in _STATUS.items() if isinstance(exc, kind)),
        status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
    return JSONResponse(status_code=code, content={"detail": str(exc), "error": type(exc).__name__})


def register_error_handlers(app: FastAPI) -> None:
    for kind in _STATUS:
        app.add_exception_handler(kind, _quiv_error)
