"""Lifecycle listeners: registration, and delivery where quiv 0.4.0 delivered them.

Delivery follows quiv 0.4.0's documented dispatch table. With a running main loop, each
listener is handed to it (``call_soon_threadsafe``; a coroutine becomes a task there; on the
loop's own thread a sync listener runs at once). Without one, a sync listener is called on
the thread that emits the event and an async one runs to completion on a temporary loop of
that thread. Exceptions are logged on the ``Quiv`` logger, never raised.

Who emits: an API call's events are delivered by its caller once the change is made
(``add_task`` returns after the ``task_added`` listeners ran); a job's events by the worker
thread that runs it, in order (``job_started`` before the handler, its end after the end is
recorded). The scheduler thread never waits for a listener: the few events it makes itself
(a run missed under ``misfire='skip'``, a change made by another process, a main-loop job's
end) go to the main loop, else to a dispatcher thread that delivers them in order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from ._bridge import MainLoop
from ._progress import ProgressTap
from ._threads import start_thread
from .exceptions import ConfigurationError, HandlerRegistrationError
from .models import Event

__all__ = ["Listeners"]

Payload = Callable[[], tuple[Any, ...]]

_STOP = object()


# Listeners of one event, and the arguments to call them with: an emission, made when the
# change happens and delivered by whichever thread is to deliver it.
Emission = tuple[tuple[Callable[..., Any], ...], tuple[Any, ...]]


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
        # Observers of every job's progress reports (quiv.web's dashboard): see _progress.
        self.progress = ProgressTap()

    @property
    def any(self) -> bool:
        """Whether any listener is registered at all (a plain read)."""
        return bool(self._by_event)

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

    def wants_any(self, events: frozenset[Event]) -> bool:
        """Whether anyone listens to one of ``events``."""
        # An empty dict first: hashing an Enum member runs Python code, and most
        # schedulers have no listener at all.
        by_event = self._by_event
        return bool(by_event) and not events.isdisjoint(by_event)

    def emission(self, event: Event | None, payload: Payload) -> Emission | None:
        """``event`` with the arguments ``payload()`` returns now, for its listeners now;
        None (and ``payload`` not called) when nobody listens."""
        if event is None or not self._by_event:
            return None
        callbacks = self._by_event.get(event)
        if not callbacks:
            return None
        return callbacks, (event, *payload())

    def deliver(self, emissions: list[Emission]) -> None:
        """Deliver ``emissions`` in order, from the calling thread (see the module docstring)."""
        if self._closed:
            return  # shut down: nobody is left to deliver to
        for callbacks, args in emissions:
            self._deliver(callbacks, args, on_loop=self._bridge.loop is not None)

    def emit(self, event: Event | None, payload: Payload) -> None:
        """Deliver ``event`` now, from the calling thread; ``payload`` is only called when
        there is a listener."""
        emission = self.emission(event, payload)
        if emission is not None:
            self.deliver([emission])

    def deliver_later(self, emission: Emission) -> None:
        """Deliver ``emission`` without waiting for its listeners (the scheduler thread's
        events): to the main loop if one runs, else through the dispatcher thread."""
        with self._lock:
            if self._closed:
                return
            if self._thread is None and self._bridge.loop is None:
                self._thread = start_thread(self._run, "quiv-events")
        if self._thread is None:
            callbacks, args = emission
            self._deliver(callbacks, args, on_loop=True)
            return
        # Once the dispatcher exists, everything goes through it, so order holds.
        self._queue.put(emission)

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
            if not on_loop or not self._bridge.submit(callback, args, {}, what):
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
