"""The job a piece of code runs inside, for helpers deep in a handler's call stack.

A worker sets ``current_job`` for the length of a handler's call (sync, on the job's own
event loop, or as a task on the main loop), so ``call_on_main`` and ``run_subprocess`` find
the job's stop event without the handler passing it down. Outside a job it is None.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Protocol

__all__ = ["RunningJob", "current_job", "job_context"]


class RunningJob(Protocol):
    """What code inside a job may know of it."""

    @property
    def id(self) -> str:
        """The job's id (what ``_job_id``/``job_id`` injects)."""
        ...

    def handler_stop_event(self) -> threading.Event:
        """The job's stop event (what ``_stop_event``/``stop_event`` injects)."""
        ...


_current: contextvars.ContextVar[RunningJob | None] = contextvars.ContextVar(
    "quiv_current_job", default=None
)


def job_context() -> contextvars.ContextVar[RunningJob | None]:
    """The context variable a worker sets to the job it runs."""
    return _current


def current_job() -> RunningJob | None:
    """The job whose handler the calling code runs inside, if any."""
    return _current.get()
