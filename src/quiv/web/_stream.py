"""The live stream: lifecycle events and progress reports as Server-Sent Events.

A ``Hub`` per scheduler fans messages out to the connected clients. It listens only while
someone is connected: the first client adds a listener for every ``Event`` and subscribes
to the progress tap, the last one to leave removes them, so a scheduler nobody watches keeps
its fast paths. Messages are made once (JSON text) on the thread that reports them (a
worker, the main loop, an API caller) and put on every client's queue.

Each client's queue is bounded: a client that cannot keep up loses messages, counted, and
is told how many with a ``dropped`` event, rather than growing its queue without bound; a
publisher never waits for a client. The stream sends a keep-alive comment when it has been
quiet for ``KEEPALIVE_SECONDS``, and ends when the client goes away or the scheduler has
shut down (it looks every ``POLL_SECONDS``), after a final ``shutdown`` event, so that
neither holds the other up.

The events, each ``event: <name>`` with one line of JSON as ``data``:

- ``lifecycle``: ``{"event": "job_started", "task": {"id", "task_name", "status"},
  "job": <a job as the API shows it, or null for a task event>}``;
- ``progress``: ``{"task_id", "job_id", "fraction", "label", "payload"}`` (see ``_views``);
- ``dropped``: ``{"count": n}``, messages this client lost since the last one;
- ``shutdown``: ``{}``, the scheduler has stopped; the stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from .._quiv import Quiv
from .._scheduler import Lifecycle
from ..models import Event, Job, Task
from ._source import progress_tap
from ._views import job_view, progress_view

__all__ = ["KEEPALIVE_SECONDS", "POLL_SECONDS", "QUEUE_LIMIT", "Hub", "Subscription"]

KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 1.0
QUEUE_LIMIT = 1000
RETRY_MILLISECONDS = 3000


def message(name: str, data: dict[str, Any]) -> str:
    """One Server-Sent Event: its name and its data as one line of JSON."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class Subscription:
    """One client's bounded queue. ``put`` from any thread; ``take`` on the client's loop."""

    __slots__ = ("_items", "_limit", "_lock", "_loop", "_ready", "_wake_pending", "dropped")

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self._loop = loop
        self._limit = limit
        self._lock = threading.Lock()
        self._items: deque[str] = deque()
        self._ready = asyncio.Event()
        self._wake_pending = False
        self.dropped = 0

    def put(self, item: str) -> None:
        """Queue ``item``, or count it as dropped when the queue is full; never waits.
        The client's loop is woken once per batch, not once per message."""
        with self._lock:
            if len(self._items) >= self._limit:
                self.dropped += 1
                return
            self._items.append(item)
            if self._wake_pending:
                return
            self._wake_pending = True
        # RuntimeError: the client's loop is closed, and nobody will read this.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._ready.set)

    async def take(self, timeout: float) -> tuple[list[str], int]:
        """What is queued (waiting up to ``timeout`` seconds for something), and how many
        messages were dropped since the last call."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        with self._lock:
            self._ready.clear()
            self._wake_pending = False
            items = list(self._items)
            self._items.clear()
            dropped, self.dropped = self.dropped, 0
        return items, dropped


class Hub:
    """The clients of one scheduler's stream (see the module)."""

    def __init__(self, quiv: Quiv) -> None:
        self._quiv = quiv
        self._lock = threading.Lock()
        self._subscriptions: tuple[Subscription, ...] = ()

    @property
    def quiv(self) -> Quiv:
        """The scheduler whose events this hub relays."""
        return self._quiv

    @property
    def clients(self) -> int:
        """How many clients are connected now."""
        return len(self._subscriptions)

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> Subscription:
        """A new client's queue; the first client starts the listening."""
        subscription = Subscription(loop, QUEUE_LIMIT)
        with self._lock:
            first = not self._subscriptions
            self._subscriptions = (*self._subscriptions, subscription)
            if first:
                for event in Event:
                    self._quiv.add_listener(event, self._on_event)
                progress_tap(self._quiv).subscribe(self._on_progress)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a client; the last one stops the listening."""
        with self._lock:
            left = tuple(s for s in self._subscriptions if s is not subscription)
            if len(left) == len(self._subscriptions):
                return
            self._subscriptions = left
            if not left:
                progress_tap(self._quiv).unsubscribe(self._on_progress)
                for event in Event:
                    self._quiv.remove_listener(event, self._on_event)

    def publish(self, item: str) -> None:
        """Queue ``item`` for every client."""
        for subscription in self._subscriptions:
            subscription.put(item)

    def _on_event(self, event: Event, task: Task, job: Job | None = None) -> None:
        task_view = {"id": task.id, "task_name": task.task_name, "status": task.status}
        data = {"event": event.value, "task": task_view, "job": job and job_view(job)}
        self.publish(message("lifecycle", data))

    def _on_progress(
        self, task_id: str, job_id: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.publish(message("progress", progress_view(task_id, job_id, args, kwargs)))


async def event_stream(hub: Hub, quiv: Quiv, disconnected: Callable[[], Any]) -> AsyncIterator[str]:
    """The stream of one client (see the module). ``disconnected`` is awaited to learn
    whether the client has gone (Starlette's ``Request.is_disconnected``)."""
    subscription = hub.subscribe(asyncio.get_running_loop())
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while True:
            stopped = quiv.lifecycle is Lifecycle.STOPPED
            items, dropped = await subscription.take(0 if stopped else POLL_SECONDS)
            if dropped:
                items.insert(0, message("dropped", {"count": dropped}))
            if items:
                yield "".join(items)
                quiet_since = loop.time()
            if stopped:
                yield message("shutdown", {})
                return
            if await disconnected():
                return
            if loop.time() - quiet_since >= KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                quiet_since = loop.time()
    finally:
        hub.unsubscribe(subscription)
