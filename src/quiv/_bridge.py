"""The bridge to the application's main asyncio loop, and ``run_on_main``.

Progress callbacks, listeners, ``run_on_main`` and ``call_on_main`` calls reach the main
loop with one thread-safe hop. The main loop is the one given to ``Quiv(main_loop=...)``,
else the loop that is running when ``start()`` or another quiv call is made from async code.
A callback returning a coroutine becomes a task on that loop. Failures of fire-and-forget
calls are logged, never raised into the caller; ``call_on_main`` raises them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from ._context import current_job
from ._invocation import is_private_loop, resolve_awaitable, run_coroutine_here
from ._threads import is_internal_thread
from .exceptions import JobCancelledError, MainLoopUnavailableError

__all__ = [
    "MainLoop",
    "activate",
    "call_on_main",
    "current_bridge",
    "deactivate",
    "run_on_main",
]

# How often call_on_main looks at the job's stop event while it waits.
_STOP_POLL_SECONDS = 0.05


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
        # run_on_main/call_on_main work handed to the loop and not finished there.
        self._pending = 0
        self._pending_lock = threading.Lock()

    @property
    def pending(self) -> int:
        """How many ``run_on_main``/``call_on_main`` calls the loop has not finished."""
        return self._pending

    def _count(self, delta: int) -> None:
        with self._pending_lock:
            self._pending += delta

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
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        what: str,
        *,
        counted: bool = False,
    ) -> bool:
        """Run ``func(*args, **kwargs)`` on the main loop; False when no loop is running.

        On the loop's own thread the call is made at once; elsewhere it is queued with
        ``call_soon_threadsafe``. ``counted``: it counts in ``pending`` until it is done.
        """
        loop = self.loop
        if loop is None:
            return False
        if counted:
            self._count(1)
        if _running_loop() is loop:
            self._invoke(func, args, kwargs, what, counted)
            return True
        try:
            loop.call_soon_threadsafe(self._invoke, func, args, kwargs, what, counted)
        except RuntimeError:  # closed between the check and the call
            if counted:
                self._count(-1)
            return False
        return True

    def _invoke(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        what: str,
        counted: bool = False,
    ) -> None:
        try:
            result = func(*args, **kwargs)
        except BaseException:
            # Even SystemExit: a callback is no way to stop the application's loop.
            self._logger.exception("%s raised", what)
            if counted:
                self._count(-1)
            return
        coroutine = resolve_awaitable(result)
        if coroutine is None:
            if counted:
                self._count(-1)
            return
        task = asyncio.get_running_loop().create_task(self._guarded(coroutine, what, counted))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(
        self, coroutine: Coroutine[Any, Any, Any], what: str, counted: bool = False
    ) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except BaseException:
            # Even SystemExit: asyncio would re-raise it out of the application's loop.
            self._logger.exception("%s raised", what)
        finally:
            if counted:
                self._count(-1)

    def call(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run ``func`` on the main loop, wait for it and return its result (or raise its
        error); the current job's stop event ends the wait (``call_on_main``)."""
        loop = self.loop
        if loop is None:
            raise MainLoopUnavailableError("call_on_main()", _NO_LOOP)
        name = getattr(func, "__qualname__", repr(func))
        if _running_loop() is loop:
            result = func(*args, **kwargs)
            if resolve_awaitable(result) is not None:
                if inspect.iscoroutine(result):
                    result.close()  # never awaited: it must not warn
                raise MainLoopUnavailableError(
                    f"call_on_main({name})",
                    "an async function cannot be waited for on the main loop's own thread "
                    "(the wait would block the loop that must run it): await it instead",
                )
            return result

        async def _run() -> Any:
            result = func(*args, **kwargs)
            coroutine = resolve_awaitable(result)
            return result if coroutine is None else await coroutine

        async def _counted() -> Any:
            try:
                return await _run()
            finally:
                self._count(-1)

        self._count(1)
        coroutine = _counted()
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except RuntimeError:  # the loop closed meanwhile
            coroutine.close()
            self._count(-1)
            raise MainLoopUnavailableError(f"call_on_main({name})", _NO_LOOP) from None
        job = current_job()
        stop = None if job is None else job.handler_stop_event()
        while True:
            try:
                return future.result(None if stop is None else _STOP_POLL_SECONDS)
            except concurrent.futures.TimeoutError:
                assert stop is not None
                assert job is not None
                if stop.is_set():
                    future.cancel()  # cancels the coroutine on the loop
                    raise JobCancelledError(job.id, f"call_on_main({name})") from None

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
# Set in a child process of the process executor: there is no main loop in it to reach.
_child_process = False


def current_bridge() -> contextvars.ContextVar[MainLoop | None]:
    """The context variable a worker sets to its scheduler's bridge while a job runs."""
    return _current


def mark_child_process() -> None:
    """This process runs jobs for a parent's process pool (``executor="process"``): the
    main-loop helpers say so instead of looking for a scheduler here."""
    global _child_process  # noqa: PLW0603 - set once, at the child's start
    _child_process = True


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
    by that scheduler's logger. Raises ``MainLoopUnavailableError`` (a ``RuntimeError``) when
    no scheduler is started or its main loop is not running.
    """
    bridge = _bridge_here("run_on_main()")
    name = getattr(func, "__qualname__", repr(func))
    if not bridge.submit(func, args, kwargs, f"run_on_main({name})", counted=True):
        raise MainLoopUnavailableError("run_on_main()", _NO_LOOP)


def call_on_main(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``func(*args, **kwargs)`` (sync or async) on the main loop, wait for it, and
    return its result or raise its exception.

    The scheduler is found as ``run_on_main`` finds it. Inside a job, the job's stop event
    ends the wait: the call is cancelled on the loop and ``JobCancelledError`` raised (let it
    propagate: the job ends ``cancelled``). On the main loop's own thread a sync ``func``
    runs at once; an async one cannot be waited for there. Raises
    ``MainLoopUnavailableError`` when there is no started scheduler or no running loop.
    """
    return _bridge_here("call_on_main()").call(func, args, kwargs)


_NO_LOOP = "no running main loop: pass main_loop= to Quiv or start it from async code"


def _bridge_here(what: str) -> MainLoop:
    bridge = _current.get()
    if bridge is None:
        with _active_lock:
            bridge = _active[-1] if _active else None
    if bridge is None and _child_process:
        raise MainLoopUnavailableError(
            what,
            "this job runs in a child process (executor='process') and the main loop is "
            "in the parent: report to it through the progress hook (progress_callback runs "
            "on the main loop), or run the task with executor='thread'",
        )
    if bridge is None:
        raise MainLoopUnavailableError(what, "no started Quiv instance; call start() first")
    return bridge
