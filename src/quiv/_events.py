"""Lifecycle listeners: registration, and delivery in order without disturbing the scheduler.

Every emission goes through one FIFO queue to a single dispatcher thread, so events are
delivered in the order they happened, whatever the main loop does meanwhile. For each event
the dispatcher hands the listeners to the main loop when one runs (they run there, in
registration order), else calls them itself. Before it calls listeners itself after handing
some to the loop (the loop stopped), it waits a moment for the loop to finish those, so that
order holds across the switch too. A slow or blocking listener delays other listeners, never
the scheduler thread or a job.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from ._bridge import MainLoop
from ._threads import start_thread
from .exceptions import ConfigurationError, HandlerRegistrationError
from .models import Event

__all__ = ["Listeners"]

Payload = Callable[[], tuple[Any, ...]]

_STOP = object()


class Listeners:
    """The listeners of one scheduler and the means to deliver events to them."""

    def __init__(self, bridge: MainLoop) -> None:
        self._bridge = bridge
        self._lock = threading.Lock()
        # Copy-on-write tuples: emitters read without locking.
        self._by_event: dict[Event, tuple[Callable[..., Any], ...]] = {}
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        # Deliveries handed to the loop and not yet run there; guarded by _lock.
        self._on_loop = 0
        self._loop_idle = threading.Condition(self._lock)

    def add(self, event: Event, callback: Callable[..., Any]) -> None:
        """Register ``callback`` for ``event`` (after the ones already registered)."""
        if not isinstance(event, Event):
            allowed = ", ".join(e.value for e in Event)
            raise ConfigurationError(f"event must be a quiv Event ({allowed}), got {event!r}")
        if not callable(callback):
            raise HandlerRegistrationError("listener callback", callback)
        with self._lock:
            self._by_event[event] = (*self._by_event.get(event, ()), callback)

    def remove(self, event: Event, callback: Callable[..., Any]) -> None:
        """Unregister ``callback`` from ``event``; unknown callbacks are ignored."""
        if not isinstance(event, Event):
            allowed = ", ".join(e.value for e in Event)
            raise ConfigurationError(f"event must be a quiv Event ({allowed}), got {event!r}")
        with self._lock:
            callbacks = list(self._by_event.get(event, ()))
            if callback in callbacks:
                callbacks.remove(callback)
                if callbacks:
                    self._by_event[event] = tuple(callbacks)
                else:
                    del self._by_event[event]  # back to the no-listener fast path

    def wants(self, event: Event) -> bool:
        """Whether anyone listens to ``event``: emitters skip building payloads otherwise."""
        # An empty dict first: hashing an Enum member runs Python code, and most
        # schedulers have no listener at all.
        return bool(self._by_event) and bool(self._by_event.get(event))

    def emit(self, event: Event, payload: Payload) -> None:
        """Deliver ``event`` to its listeners with the arguments ``payload()`` returns.

        ``payload`` is only called when there is a listener.
        """
        callbacks = self._by_event.get(event) if self._by_event else None
        if not callbacks:
            return
        args = (event, *payload())
        with self._lock:
            if self._closed:
                return  # shut down: nobody is left to deliver to
            if self._thread is None:
                self._thread = start_thread(self._run, "quiv-events")
        self._queue.put((callbacks, args))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            callbacks, args = item
            with self._lock:
                self._on_loop += 1
            if self._bridge.submit(self._deliver_on_loop, (callbacks, args), {}, "listeners"):
                continue
            with self._lock:
                self._on_loop -= 1
                # The loop went away with deliveries still queued on it: give them a moment,
                # so that these listeners do not overtake earlier ones.
                if not self._loop_idle.wait_for(lambda: self._on_loop == 0, timeout=1.0):
                    self._on_loop = 0  # closed with them queued: they will never run

            self._deliver(callbacks, args, on_loop=False)

    def _deliver_on_loop(
        self, callbacks: tuple[Callable[..., Any], ...], args: tuple[Any, ...]
    ) -> None:
        try:
            self._deliver(callbacks, args, on_loop=True)
        finally:
            with self._lock:
                self._on_loop = max(0, self._on_loop - 1)
                if self._on_loop == 0:
                    self._loop_idle.notify_all()

    def _deliver(
        self, callbacks: tuple[Callable[..., Any], ...], args: tuple[Any, ...], *, on_loop: bool
    ) -> None:
        for callback in callbacks:
            what = f"listener {getattr(callback, '__qualname__', callback)!r} for {args[0].value}"
            if on_loop:
                self._bridge.submit(callback, args, {}, what)
            else:
                self._bridge.call_here(callback, args, {}, what)

    def close(self, timeout: float) -> bool:
        """Deliver what is queued, then stop the dispatcher thread; False if it overran.

        Later emissions are dropped.
        """
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is None:
            return True
        self._queue.put(_STOP)
        if thread is threading.current_thread():  # shutdown called by a listener
            return True
        thread.join(timeout)
        return not thread.is_alive()
