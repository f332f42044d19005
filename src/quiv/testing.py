"""Helpers for testing code that uses quiv: a clock you move by hand.

>>> clock = FakeClock()
>>> clock.advance(5)
>>> clock.monotonic()
5.0
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from ._quiv import Quiv
from .exceptions import ConfigurationError

__all__ = ["FakeClock", "settle", "wait_until"]

_EPOCH = datetime(2030, 1, 1, tzinfo=timezone.utc)


class FakeClock:
    """A ``Clock`` that stands still until ``advance()`` moves it.

    Pass it as ``Quiv(clock=...)``: deadlines then fall due only when the test advances
    time, and every advance wakes the scheduler thread. ``now()`` moves with the monotonic
    time from ``start`` (an aware datetime, default 2030-01-01 UTC); ``jump_wall()`` moves
    wall time alone, as an NTP step or a suspended laptop would.
    """

    def __init__(self, start: datetime = _EPOCH) -> None:
        if start.tzinfo is None:
            raise ConfigurationError("FakeClock start must be a timezone-aware datetime")
        self._lock = threading.Lock()
        self._monotonic = 0.0
        self._wall = start.astimezone(timezone.utc)
        self._waiters: set[threading.Event] = set()

    def monotonic(self) -> float:
        """Seconds advanced so far."""
        return self._monotonic

    def now(self) -> datetime:
        """The start time plus the seconds advanced (plus any wall jumps)."""
        return self._wall + timedelta(seconds=self._monotonic)

    def wait(self, wakeup: threading.Event, deadline: float | None) -> None:
        """Block until ``wakeup`` is set or time was advanced past ``deadline``."""
        with self._lock:
            if deadline is not None and self._monotonic >= deadline:
                return
            self._waiters.add(wakeup)
        try:
            wakeup.wait()
        finally:
            with self._lock:
                self._waiters.discard(wakeup)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (>= 0) and wake every waiter."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ConfigurationError(f"advance takes a number of seconds, got {seconds!r}")
        if not 0 <= seconds < math.inf:
            raise ConfigurationError(
                "FakeClock cannot go backwards or jump to infinity: advance by a finite "
                f"number of seconds >= 0, not {seconds!r}"
            )
        with self._lock:
            # Rounded to the nanosecond, so that ten advances of 0.1 make exactly 1.0.
            self._monotonic = round(self._monotonic + seconds, 9)
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.set()

    def jump_wall(self, seconds: float) -> None:
        """Move wall time alone by ``seconds`` (either way); deadlines are not affected."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ConfigurationError(f"jump_wall takes a number of seconds, got {seconds!r}")
        if not math.isfinite(seconds):
            raise ConfigurationError(f"jump_wall takes a finite number, not {seconds!r}")
        with self._lock:
            self._wall += timedelta(seconds=seconds)
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.set()


def settle(quiv: Quiv, timeout: float = 5.0) -> None:
    """Return once ``quiv``'s scheduler thread has handled every call made before this one
    and made a dispatch pass at its clock's current time (so after ``FakeClock.advance``,
    the jobs then due have been handed to workers). Raises ``TimeoutError`` after ``timeout``.
    """
    if not quiv._scheduler.settle(timeout):
        raise TimeoutError(f"the quiv scheduler did not settle within {timeout} s")


def wait_until(
    predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.005
) -> None:
    """Poll ``predicate`` until it is true; ``TimeoutError`` after ``timeout`` real seconds.

    For waiting on what worker threads do (a job's end, a listener's call) in tests,
    instead of sleeping for a fixed time.
    """
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= end:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)
