"""The bare loop: the least a threaded in-process scheduler can do, as a baseline.

One heap of ``(deadline, seq, key)`` entries with lazy deletion, one ``threading.Condition``
the loop sleeps on until the earliest deadline, and a ``ThreadPoolExecutor`` that runs what
is due. No validation, no records, no events, no pause or removal beyond what the benchmarks
need. Standard library only, so it runs in every benchmark environment, peers' included.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["BareScheduler"]


class BareScheduler:
    """Interval and one-shot callables on a pool of ``workers`` threads."""

    def __init__(self, workers: int = 10) -> None:
        self._heap: list[tuple[float, int, int]] = []
        self._live: dict[int, int] = {}  # key -> seq of its one live heap entry
        self._tasks: dict[int, tuple[Callable[[], Any], float, bool]] = {}
        self._seq = itertools.count()
        self._keys = itertools.count()
        self._cond = threading.Condition()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="bare-worker")
        self._thread: threading.Thread | None = None
        self._stopping = False

    def add_task(
        self, func: Callable[[], Any], interval: float, delay: float = 0.0, run_once: bool = False
    ) -> int:
        """Run ``func`` after ``delay`` s, then every ``interval`` s unless ``run_once``."""
        deadline = time.monotonic() + delay
        with self._cond:
            key = next(self._keys)
            self._tasks[key] = (func, interval, run_once)
            self._push(key, deadline)
            if self._heap[0][1] == self._live[key]:  # the new earliest: wake the loop
                self._cond.notify()
        return key

    def run_now(self, key: int) -> None:
        """Make ``key``'s next run due now."""
        now = time.monotonic()
        with self._cond:
            if key in self._tasks:
                self._push(key, now)
                self._cond.notify()

    def _push(self, key: int, deadline: float) -> None:
        seq = next(self._seq)
        self._live[key] = seq  # an older entry of this key is now stale
        heapq.heappush(self._heap, (deadline, seq, key))

    def start(self) -> None:
        """Start the loop thread."""
        self._thread = threading.Thread(target=self._loop, name="bare-loop", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop the loop and wait for running callables."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
        self._pool.shutdown(wait=True)

    def _loop(self) -> None:
        heap = self._heap
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                while heap and heap[0][0] <= now:
                    deadline, seq, key = heapq.heappop(heap)
                    if self._live.get(key) != seq:
                        continue  # cancelled or rescheduled since
                    del self._live[key]
                    func, interval, run_once = self._tasks[key]
                    if run_once:
                        del self._tasks[key]
                    else:
                        self._push(key, deadline + interval)
                    self._pool.submit(func)
                self._cond.wait(heap[0][0] - now if heap else None)
