"""Logging: every line written while a job runs carries that job's id.

A handler wraps its body in ``job_context(_job_id)``; ``JobIdFilter``, attached to the log
*handler*, copies the id from a ``ContextVar`` onto every record as ``job_id``. Because the
filter sits on the handler, it covers every logger whose records reach it. A ``ContextVar``
rather than a thread-local: it also works in ``async def`` handlers, and the ``reset`` in
``job_context`` keeps one job's id off the next job that reuses the worker thread.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["LOGGER_NAME", "JobIdFilter", "configure_logging", "current_job_id", "job_context"]

LOGGER_NAME = "fastapi_app"
NO_JOB = "-"
FORMAT = "%(asctime)s %(levelname)-7s [%(job_id)s] %(name)s: %(message)s"

_job_id: ContextVar[str] = ContextVar("fastapi_app_job_id", default=NO_JOB)


def current_job_id() -> str:
    """The id of the job running in this context, or ``"-"``."""
    return _job_id.get()


@contextmanager
def job_context(job_id: str) -> Iterator[None]:
    """Tag every log line written inside the block with ``job_id``."""
    token = _job_id.set(job_id)
    try:
        yield
    finally:
        _job_id.reset(token)


class JobIdFilter(logging.Filter):
    """Sets ``record.job_id`` from the context (unless the caller passed one in ``extra``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "job_id"):
            record.job_id = _job_id.get()
        return True


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time of each record.

    A ``StreamHandler`` keeps the stream it was built with, which breaks when that stream is
    swapped and closed later (as test runners do when they capture output).
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def configure_logging(level: str | int = logging.INFO) -> logging.Logger:
    """Give the app's logger tree (``fastapi_app`` and below) its handler; idempotent.

    Only this tree is configured: the root logger, uvicorn's loggers and other libraries
    are left as they are. quiv logs into the tree too (``Quiv(logger=...)``).
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        handler = _StderrHandler()
        handler.addFilter(JobIdFilter())
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
    return logger
