"""Emitting lifecycle events from the scheduler's state: to the thread that waits for the
work, or for delivery without waiting.

An API caller that waits for a command (``Inbox.call``), or a worker that records its own
job's end, delivers the events of that work itself once it has let the scheduler's state go,
as quiv 0.4.0 did: listeners then run on the caller's thread, in order, and never with the
state held. Work nobody waits for hands its events to ``Listeners.deliver_later``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .._entries import JobEntry
from .._events import Emission, Listeners
from ..models import Event, Task

__all__ = ["Emitter"]

T = TypeVar("T")


class Emitter:
    """Builds the payloads of events as they happen and routes them (see the module)."""

    __slots__ = ("_collect", "listeners")

    def __init__(self, listeners: Listeners) -> None:
        self.listeners = listeners
        # Where the events of the work under way go: a list that the thread waiting for
        # that work delivers afterwards; None: nobody waits.
        self._collect: list[Emission] | None = None

    def collecting(self, command: Callable[[], T], events: list[Emission]) -> T:
        """Run ``command`` here and now, its events collected into ``events`` for this
        thread to deliver (the caller holds the scheduler's state)."""
        outer, self._collect = self._collect, events
        try:
            return command()
        finally:
            self._collect = outer

    def emit(self, event: Event, payload: Callable[[], tuple[Any, ...]]) -> None:
        """Emit ``event`` now (its payload is built now)."""
        emission = self.listeners.emission(event, payload)
        if emission is None:
            return
        if self._collect is not None:
            self._collect.append(emission)
        else:
            self.listeners.deliver_later(emission)

    def job(self, event: Event | None, job: JobEntry) -> None:
        if event is not None and self.listeners.any:
            self.emit(event, lambda: (job.task.snapshot(), job.snapshot()))

    def task(self, event: Event | None, snapshot: Callable[[], Task]) -> None:
        # The snapshot is taken now, on this thread: later changes must not leak into it.
        if event is not None and self.listeners.any:
            self.emit(event, lambda: (snapshot(),))
