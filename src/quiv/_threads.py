"""The threads quiv starts: one way to start them, and a way to tell them apart.

Code running on a quiv thread (a worker, the scheduler, the store writer, the events
dispatcher) must never adopt an event loop it finds there as the application's main loop:
any loop on such a thread is a temporary one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["is_internal_thread", "start_thread"]

_marker = threading.local()


def start_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """Start a daemon thread named ``name`` that runs ``target``, marked as quiv's own.

    The thread is returned only once it has started; if it cannot be started, the error
    propagates and nothing refers to it.
    """

    def _run() -> None:
        _marker.internal = True
        target()

    thread = threading.Thread(target=_run, name=name, daemon=True)
    thread.start()
    return thread


def is_internal_thread() -> bool:
    """Whether the calling thread is one that quiv started."""
    return getattr(_marker, "internal", False)
