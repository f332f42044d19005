"""The worker threads that run jobs.

Not ``concurrent.futures.ThreadPoolExecutor``, for two reasons: the scheduler needs no
``Future`` per job (it is told about a job's end by a command), and the executor's threads are
joined at interpreter exit, so one handler that ignores its stop event would keep the whole
process from exiting after ``shutdown`` gave up on it. These threads are daemons; the scheduler
never submits more work than there are threads.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ._threads import start_thread

__all__ = ["WorkerPool"]

_EXIT = None


class WorkerPool:
    """Up to ``size`` daemon threads, started on demand, taking work from one queue."""

    def __init__(self, size: int, name: str) -> None:
        self._size = size
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func(*args)`` on a worker thread; start a thread if none is idle.

        Raises ``RuntimeError`` when a needed thread cannot be started; the work is then
        not queued.
        """
        self.reserve()
        self.hand(func, *args)

    def reserve(self) -> None:
        """Make sure a thread will be free for one ``hand``: take an idle one, or start one.

        The one step of a submission that can fail (``RuntimeError`` when no thread can be
        started, and then nothing is reserved); ``hand`` cannot.
        """
        with self._lock:
            if self._idle == 0 and len(self._threads) < self._size:
                # Started before it is counted: a thread that cannot start leaves no trace.
                self._threads.append(start_thread(self._work, f"{self._name}-{len(self._threads)}"))
            else:
                self._idle -= 1

    def hand(self, func: Callable[..., Any], *args: Any) -> None:
        """Give ``func(*args)`` to the thread a ``reserve`` set aside."""
        self._queue.put((func, args))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _EXIT:
                return
            func, args = item
            # The job wrapper records every failure itself; nothing may end this thread.
            with contextlib.suppress(BaseException):
                func(*args)
            with self._lock:
                self._idle += 1

    def shutdown(self, timeout: float | None) -> list[str]:
        """Ask every thread to exit once its work is done; wait up to ``timeout`` seconds.

        Returns the names of the threads still busy when the time ran out (they are daemons
        and stop with their handler, or with the process).
        """
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(_EXIT)
        end = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            if thread is threading.current_thread():
                continue  # a finalizer running on a worker: it cannot wait for itself
            thread.join(None if end is None else max(0.0, end - time.monotonic()))
        return [thread.name for thread in threads if thread.is_alive()]
