"""Round trips to a shared store, off the scheduler thread.

Claims of shared runs, reads of rows other processes changed, and take-overs of expired
leases are database transactions: milliseconds, not microseconds. The scheduler thread must
not wait for them, so it hands them to this one thread, which runs them in order and posts
each answer back to the scheduler as a command. A failed round trip answers None; the
scheduler then tries again later.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from ._threads import start_thread

__all__ = ["Coordinator"]

T = TypeVar("T")


class Coordinator:
    """One thread that runs store round trips and posts their answers to the scheduler."""

    def __init__(
        self,
        post: Callable[[Callable[[], None]], None],
        logger: logging.Logger,
        quiet: Callable[[BaseException], bool] = lambda _exc: False,
    ) -> None:
        self._post = post
        self._logger = logger
        # Failures already told once elsewhere (the store's outage log): not again per trip.
        self._quiet = quiet
        self._queue: deque[tuple[Callable[[], Any], Callable[[Any], None]]] = deque()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._working = False

    def submit(self, work: Callable[[], T], done: Callable[[T | None], None]) -> None:
        """Run ``work`` on the coordinator thread, then ``done(result)`` on the scheduler
        thread (``done(None)`` if ``work`` raised: it is logged)."""
        with self._lock:
            if self._closed:
                return
            if self._thread is None:
                self._thread = start_thread(self._run, "quiv-coordinator")
            self._queue.append((work, done))
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._queue:
                self._working = True
                work, done = self._queue.popleft()
                try:
                    result = work()
                except Exception as exc:
                    if not self._quiet(exc):
                        self._logger.exception("a round trip to the shared store failed")
                    result = None
                self._post(partial(done, result))
            self._working = False
            if self._closed:
                return

    def drain(self, timeout: float) -> bool:
        """Wait until everything submitted so far has run; False on timeout."""
        reached = threading.Event()
        with self._lock:
            if self._closed or self._thread is None:
                return True
            self._queue.append((reached.set, lambda _: None))
        self._wake.set()
        return reached.wait(timeout)

    @property
    def idle(self) -> bool:
        """Whether nothing is queued or under way (every answer has been posted)."""
        return not self._queue and not self._working

    def close(self, timeout: float | None) -> None:
        """Finish what was submitted (up to ``timeout`` seconds), then stop."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
