"""The bridge to the application's main asyncio loop, and ``run_on_main``.

Progress callbacks, listeners and ``run_on_main`` calls reach the main loop with one
thread-safe hop. The main loop is the one given to ``Quiv(main_loop=...)``, else the loop that
is running when ``start()`` or another quiv call is made from async code. A callback returning
a coroutine becomes a task on that loop. Failures are logged, never raised into the caller.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from ._invocation import is_private_loop, resolve_awaitable, run_coroutine_here
from ._threads import is_internal_thread

__all__ = ["MainLoop", "activate", "current_bridge", "deactivate", "run_on_main"]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    # asyncio's own "running loop or None": get_running_loop() raises instead, and an
    # exception on every API call outside async code costs more than the rest of it.
    return asyncio._get_running_loop()


class MainLoop:
    """One scheduler's handle on the main loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None, logger: logging.Logger) -> None:
        self._loop = loop
        self._logger = logger
        # Tasks created on the loop are kept referenced until done, so that they are not
        # garbage-collected mid-flight.
        self._tasks: set[asyncio.Task[Any]] = set()

    def capture(self) -> None:
        """Adopt the loop running in this thread, if no usable loop is known yet.

        quiv's own temporary loops (an async handler's, a callback's) never qualify, nor
        any loop found on a thread quiv started or inside a job (a handler may run
        ``asyncio.run`` itself).
        """
        if self._loop is None or self._loop.is_closed():
            running = _running_loop()
            if (
                running is not None
                and not is_private_loop(running)
                and not is_internal_thread()
                and _current.get() is None
            ):
                self._loop = running

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The main loop if it is running now, else None."""
        self.capture()
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            return None
        return loop

    def submit(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], what: str
    ) -> bool:
        """Run ``func(*args, **kwargs)`` on the main loop; False when no loop is running.

        On the loop's own thread the call is made at once; elsewhere it is queued with
        ``call_soon_threadsafe``.
        """
        loop = self.loop
        if loop is None:
            return False
        if _running_loop() is loop:
            self._invoke(func, args, kwargs, what)
            return True
        try:
            loop.call_soon_threadsafe(self._invoke, func, args, kwargs, what)
        except RuntimeError:  # closed between the check and the call
            return False
        return True

    def _invoke(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], what: str
    ) -> None:
        try:
            result = func(*args, **kwargs)
        except BaseException:
            # Even SystemExit: a callback is no way to stop the application's loop.
            self._logger.exception("%s raised", what)
            return
        coroutine = resolve_awaitable(result)
        if coroutine is None:
            return
        task = asyncio.get_running_loop().create_task(self._guarded(coroutine, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, coroutine: Coroutine[Any, Any, Any], what: str) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except BaseException:
            # Even SystemExit: asyncio would re-raise it out of the application's loop.
            self._logger.exception("%s raised", what)

    def call_here(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], what: str
    ) -> None:
        """Run ``func`` on the calling thread (a coroutine on a temporary loop); log failures."""
        try:
            coroutine = resolve_awaitable(func(*args, **kwargs))
            if coroutine is not None:
                run_coroutine_here(coroutine)
        except BaseException:
            # Even SystemExit: it must not reach the handler or end the dispatcher thread.
            self._logger.exception("%s raised", what)


# The bridge of the scheduler whose job is running in this context (set by the worker).
_current: contextvars.ContextVar[MainLoop | None] = contextvars.ContextVar(
    "quiv_current_bridge", default=None
)
_active: list[MainLoop] = []
_active_lock = threading.Lock()


def current_bridge() -> contextvars.ContextVar[MainLoop | None]:
    """The context variable a worker sets to its scheduler's bridge while a job runs."""
    return _current


def activate(bridge: MainLoop) -> None:
    """Make ``bridge`` the fallback of ``run_on_main`` outside jobs (latest started wins)."""
    with _active_lock:
        if bridge in _active:
            _active.remove(bridge)
        _active.append(bridge)


def deactivate(bridge: MainLoop) -> None:
    """Forget ``bridge``; the previously started, still running scheduler is the fallback."""
    with _active_lock:
        if bridge in _active:
            _active.remove(bridge)


def run_on_main(func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Fire-and-forget ``func(*args, **kwargs)`` (sync or async) on the main loop.

    The scheduler is the one running the current job, else the most recently started one.
    On the main loop's own thread the call is made at once. Exceptions of ``func`` are logged
    by that scheduler's logger. Raises ``RuntimeError`` when no scheduler is started or its
    main loop is not running.
    """
    bridge = _current.get()
    if bridge is None:
        with _active_lock:
            bridge = _active[-1] if _active else None
    if bridge is None:
        raise RuntimeError("run_on_main() needs a started Quiv instance; call start() first")
    name = getattr(func, "__qualname__", repr(func))
    if not bridge.submit(func, args, kwargs, f"run_on_main({name})"):
        raise RuntimeError(
            "run_on_main() found no running main loop: pass main_loop= to Quiv or start it "
            "from async code"
        )
