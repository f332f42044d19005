"""The threads quiv starts: one way to start them, a way to tell them apart, and punctual
timers for the one that sleeps until deadlines.

Code running on a quiv thread (a worker, the scheduler, the store writer, the events
dispatcher) must never adopt an event loop it finds there as the application's main loop:
any loop on such a thread is a temporary one.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable

__all__ = ["is_internal_thread", "punctual_timers", "start_thread"]

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


_PR_SET_TIMERSLACK = 29  # prctl(2)


def punctual_timers() -> bool:
    """Ask Linux to end the calling thread's timed waits on time; whether it agreed.

    A thread's timed waits may end up to its "timer slack" late (50 us by default), so that
    the kernel can batch wake-ups: a tenth of the latency of a run that falls due. A slack
    of 1 ns makes them end when due. Elsewhere, or should the call fail, nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
