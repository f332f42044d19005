"""The scheduler thread's inbox: commands from API callers, workers and timers, run in order
on that thread, and the wake-up that ends its sleep.

A command is a plain callable. ``send`` and ``post`` queue it and return; ``call`` waits for
its result. Before the thread starts there is nobody to run them, so they run inline, on the
caller's thread, under a lock instead. ``close`` shuts the door: the check and the queueing
are one step under the same lock, so no command slips in behind the last one the thread
runs.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from .._events import Emission
from ..exceptions import SchedulerStoppedError
from .emitting import Emitter

__all__ = ["Inbox", "Reply"]

T = TypeVar("T")


class Reply:
    """The answer to a command someone waits for."""

    __slots__ = ("done", "error", "events", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        # What the command emitted, for the thread that waits for it to deliver.
        self.events: list[Emission] = []


class Inbox:
    """Commands for the scheduler thread, and its wake-up (see the module)."""

    __slots__ = ("_emitter", "closed", "lock", "queue", "thread", "wake")

    def __init__(self, emitter: Emitter) -> None:
        self._emitter = emitter
        self.queue: deque[Callable[[], None]] = deque()
        self.wake = threading.Event()
        self.lock = threading.RLock()  # commands run inline under it before the thread starts
        self.closed = False
        self.thread: threading.Thread | None = None

    def send(self, command: Callable[[], None]) -> None:
        """Queue an API caller's ``command`` and return; ``SchedulerStoppedError`` once
        closed."""
        with self.lock:
            if self.closed:
                raise SchedulerStoppedError("schedule work")
            inline = self.thread is None
            events: list[Emission] = []
            if inline:
                self._emitter.collecting(command, events)
            else:
                self.queue.append(command)
        if not inline:
            self.nudge()
        elif events:
            self._emitter.listeners.deliver(events)

    def post(self, command: Callable[[], None]) -> None:
        """Queue an internal ``command`` (a worker's, a timer's) and wake the thread."""
        if self.thread is None:
            with self.lock:
                if self.thread is None:
                    command()
                    return
        self.queue.append(command)
        self.nudge()

    def nudge(self) -> None:
        # is_set() is a plain read; set() takes a lock. The thread clears the flag before
        # it looks at the inbox, so a skipped set() can never be a lost wake-up.
        if not self.wake.is_set():
            self.wake.set()

    def call(self, command: Callable[[], T]) -> T:
        """Run ``command`` on the scheduler thread and return its result (or raise its error).

        ``SchedulerStoppedError`` once closed.
        """
        reply = Reply()
        emitter = self._emitter

        def _run() -> None:
            try:
                reply.value = emitter.collecting(command, reply.events)
            except BaseException as exc:
                reply.error = exc
            reply.done.set()

        with self.lock:
            if self.closed:
                raise SchedulerStoppedError("reach the scheduler")
            if self.thread is None:
                _run()
            else:
                self.queue.append(_run)
        if not reply.done.is_set():
            self.nudge()
            while not reply.done.wait(1.0):
                thread = self.thread
                if thread is None or not thread.is_alive():  # only if the thread itself died
                    raise SchedulerStoppedError("reach the scheduler")
        # The events of the change, delivered by its caller as quiv 0.4.0 did.
        if reply.events:
            emitter.listeners.deliver(reply.events)
        if reply.error is not None:
            raise reply.error
        return reply.value  # type: ignore[no-any-return]

    def open(self, thread: Callable[[], threading.Thread]) -> None:
        """Start the thread (``thread()`` starts it) under the lock: from now on commands
        queue for it."""
        with self.lock:
            self.thread = thread()

    def close(self) -> threading.Thread | None:
        """Take no more commands; return the thread that runs them (None: never started)."""
        with self.lock:
            self.closed = True
            return self.thread
