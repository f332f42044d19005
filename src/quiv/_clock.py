"""Time as the scheduler sees it: a monotonic clock for deadlines, UTC wall time for records,
and a way to sleep until a deadline or a wake-up, whichever comes first.

The scheduler takes a ``Clock`` so that tests can drive time by hand (``quiv.testing.FakeClock``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Protocol

__all__ = ["MAX_WAIT_SECONDS", "Clock", "SystemClock", "epoch_seconds"]

MAX_WAIT_SECONDS = 3600.0


class Clock(Protocol):
    """What the scheduler needs to know about time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; deadlines are kept on it."""
        ...

    def now(self) -> datetime:
        """The current UTC wall time (timezone-aware); records are stamped with it."""
        ...

    def wait(self, wakeup: threading.Event, deadline: float | None) -> None:
        """Block until ``wakeup`` is set or ``monotonic()`` reaches ``deadline``.

        ``deadline=None`` waits for ``wakeup`` alone. Returning early is allowed: the
        scheduler re-reads the clock after every wait.
        """
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and ``datetime.now(timezone.utc)``."""

    def monotonic(self) -> float:
        """Seconds from ``time.monotonic()``."""
        return time.monotonic()

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(timezone.utc)

    def wait(self, wakeup: threading.Event, deadline: float | None) -> None:
        """Sleep on ``wakeup`` with a timeout that ends at ``deadline``."""
        if deadline is None:
            wakeup.wait()
            return
        remaining = deadline - time.monotonic()
        if remaining > 0:
            # Capped: Event.wait overflows past threading.TIMEOUT_MAX, and returning early
            # is allowed (the caller re-reads the clock).
            wakeup.wait(min(remaining, MAX_WAIT_SECONDS))


def epoch_seconds(clock: Clock) -> Callable[[], float]:
    """A function that returns ``clock.now().timestamp()``: for the system clock that is
    ``time.time`` itself, the same instant without making a datetime at every call (the hot
    path stamps every job several times)."""
    if type(clock) is SystemClock:
        return time.time
    return lambda: clock.now().timestamp()
