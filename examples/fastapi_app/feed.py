"""The progress feed: messages fanned out to every connected WebSocket client.

quiv delivers progress callbacks, listeners and ``run_on_main`` calls on the application's
main loop, where the WebSocket connections live. There, ``ProgressFeed.publish`` puts each
message on every subscriber's queue *synchronously*, so all clients see the messages in the
order they were published; one task per connection drains its queue onto the socket. A
client that falls too far behind is disconnected rather than allowed to grow its queue
without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from quiv import Event, Job, Task

__all__ = ["Item", "Message", "ProgressFeed", "Signal"]

Message = dict[str, Any]


class Signal(enum.Enum):
    """What a subscriber's queue can hold besides messages."""

    CLOSED = "closed"  # the app is shutting down
    LAGGING = "lagging"  # the client fell behind: its backlog was dropped


Item = Message | Signal


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class ProgressFeed:
    """Fan-out of messages to subscribers. Build it on the main loop (in the lifespan)."""

    def __init__(self, max_backlog: int = 1000) -> None:
        self._loop = asyncio.get_running_loop()
        self._max_backlog = max_backlog
        self._subscribers: set[asyncio.Queue[Item]] = set()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @contextmanager
    def subscription(self) -> Iterator[asyncio.Queue[Item]]:
        """A queue that receives every message published while the block runs."""
        inbox: asyncio.Queue[Item] = asyncio.Queue(self._max_backlog)
        self._subscribers.add(inbox)
        try:
            yield inbox
        finally:
            self._subscribers.discard(inbox)

    def publish(self, message: Message) -> None:
        """Send ``message`` to every subscriber.

        Meant to run on the main loop, where quiv delivers callbacks while it runs. From any
        other thread the message is handed to the loop (or dropped if the loop is gone), so
        the queues are only ever touched on their own loop.
        """
        if _running_loop() is self._loop:
            self._fan_out(message)
        elif not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed in between
                self._loop.call_soon_threadsafe(self._fan_out, message)

    def _fan_out(self, item: Item) -> None:
        for inbox in list(self._subscribers):
            try:
                inbox.put_nowait(item)
            except asyncio.QueueFull:
                self._subscribers.discard(inbox)
                while not inbox.empty():
                    inbox.get_nowait()
                inbox.put_nowait(Signal.LAGGING)

    def close(self) -> None:
        """Tell every subscriber that the feed is over (at shutdown)."""
        self._fan_out(Signal.CLOSED)
        self._subscribers.clear()

    # -- the sources: quiv calls these on the main loop ----------------------------------

    def on_progress(self, **payload: Any) -> None:
        """A task's ``progress_callback``: whatever the handler gave ``_progress_hook``."""
        self.publish({"type": "progress", **payload})

    def on_event(self, event: Event, task: Task, job: Job | None = None) -> None:
        """A listener for every event: task events pass no job."""
        self.publish(
            {
                "type": "event",
                "event": event.value,
                "task": task.model_dump(mode="json"),
                "job": None if job is None else job.model_dump(mode="json"),
            }
        )
