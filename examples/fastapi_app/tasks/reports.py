"""A report that fails on demand, to show what a failing job looks like.

When the handler raises, quiv records the job as ``failed`` with ``str(exc)`` as its
``error_message``, logs the traceback, and emits ``job_failed``.
"""

from __future__ import annotations

import logging

from ..logs import LOGGER_NAME, job_context

__all__ = ["ReportSourceError", "build_report"]

log = logging.getLogger(f"{LOGGER_NAME}.reports")


class ReportSourceError(RuntimeError):
    """The data behind a report could not be read."""


def build_report(title: str, fail: bool, *, _job_id: str) -> None:
    """Build the report ``title``; raise ``ReportSourceError`` if ``fail`` is set."""
    with job_context(_job_id):
        log.info("building report %r", title)
        if fail:
            raise ReportSourceError(f"source of report {title!r} is unavailable")
        log.info("report %r built", title)
