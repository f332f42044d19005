"""Observers of every job's progress: an internal tap beside the tasks' own callbacks.

A task's ``progress_callback`` sees the reports of that task's jobs only, and it belongs to
the application. Some parts of quiv need to see every report of every job (the dashboard of
``quiv.web`` draws progress bars from them): they subscribe an observer here, which the
progress hook calls on the thread that reports (a worker, or the worker relaying for a
process job) before the task's callback is handed on. An observer must therefore be quick
and thread-safe, and must not raise (what it raises is logged and dropped: a report never
fails the handler).

Cost when nobody observes: the hook reads one attribute and tests a tuple, nothing else.
Subscriptions are copy-on-write tuples, so the hook reads them without a lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["ProgressObserver", "ProgressTap"]

# (task_id, job_id, args, kwargs): job_id is None for Quiv.run_progress_callback's reports,
# which belong to a task, not to one of its jobs.
ProgressObserver = Callable[[str, "str | None", tuple[Any, ...], dict[str, Any]], None]


class ProgressTap:
    """The observers of one scheduler's progress reports."""

    __slots__ = ("_lock", "observers")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.observers: tuple[ProgressObserver, ...] = ()

    def subscribe(self, observer: ProgressObserver) -> None:
        """Call ``observer`` with every report from now on."""
        with self._lock:
            self.observers = (*self.observers, observer)

    def unsubscribe(self, observer: ProgressObserver) -> None:
        """Stop calling ``observer``; an unknown one is ignored."""
        with self._lock:
            observers = list(self.observers)
            if observer in observers:
                observers.remove(observer)
            self.observers = tuple(observers)

    def publish(
        self,
        task_id: str,
        job_id: str | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        logger: logging.Logger,
    ) -> None:
        """Hand one report to every observer, here; an observer's failure is logged."""
        for observer in self.observers:
            try:
                observer(task_id, job_id, args, kwargs)
            except Exception:
                logger.exception("progress observer %r raised", observer)
