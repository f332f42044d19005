"""Calling handlers: which injected keywords a handler accepts, and running sync or async code.

A handler receives ``_job_id``, ``_stop_event`` and ``_progress_hook`` only if its signature
names them or takes ``**kwargs``. A coroutine (from an ``async def`` or returned by a plain
function) runs to completion on a fresh event loop of the calling worker thread: never on the
application's main loop, whose objects it must not touch from another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ._threads import start_thread

__all__ = [
    "Injection",
    "inspect_handler",
    "is_private_loop",
    "resolve_awaitable",
    "run_coroutine_here",
]

# The temporary loops quiv runs coroutines on. They must never be mistaken for the
# application's main loop, even when quiv is called from code running on one.
_private_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def is_private_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` is one of quiv's temporary loops (of a job or a callback)."""
    return loop in _private_loops


async def _on_private_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    _private_loops.add(asyncio.get_running_loop())
    return await coroutine


INJECTED = ("_job_id", "_stop_event", "_progress_hook")


@dataclass(frozen=True, slots=True)
class Injection:
    """Which of the injected keywords a handler accepts."""

    job_id: bool = False
    stop_event: bool = False
    progress_hook: bool = False


_NOTHING = Injection()
_EVERYTHING = Injection(True, True, True)


def inspect_handler(func: Callable[..., Any]) -> Injection:
    """Read ``func``'s signature once, at registration, so dispatch does no introspection.

    Results are cached per callable for as long as it lives (weakly: the cache keeps no
    handler alive): applications register the same few handlers over and over, and
    ``inspect.signature`` costs more than all the rest of ``add_task``.
    """
    try:
        return _cache[func]
    except (KeyError, TypeError):  # TypeError: unhashable, or no weak references to it
        pass
    injection = _inspect(func)
    with contextlib.suppress(TypeError):
        _cache[func] = injection
    return injection


_cache: weakref.WeakKeyDictionary[Callable[..., Any], Injection] = weakref.WeakKeyDictionary()


def _inspect(func: Callable[..., Any]) -> Injection:
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # builtins and C callables without a signature
        return _NOTHING
    names = set()
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return _EVERYTHING
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        ):
            names.add(parameter.name)
    return Injection("_job_id" in names, "_stop_event" in names, "_progress_hook" in names)


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def resolve_awaitable(result: Any) -> Coroutine[Any, Any, Any] | None:
    """``result`` as a coroutine to run, if it is awaitable; else None."""
    if result is None:  # most handlers return nothing
        return None
    if inspect.iscoroutine(result):
        return result
    if inspect.isawaitable(result):
        return _await(result)
    return None


def run_coroutine_here(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coroutine`` to completion on a temporary event loop and return its result.

    On a thread that already runs a loop (an async handler calling back into quiv), the
    temporary loop gets a short-lived thread of its own, since loops do not nest.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_on_private_loop(coroutine))
    outcome: list[Any] = []
    failure: list[BaseException] = []

    def _run() -> None:
        try:
            outcome.append(asyncio.run(_on_private_loop(coroutine)))
        except BaseException as exc:
            failure.append(exc)

    start_thread(_run, "quiv-callback-loop").join()
    if failure:
        raise failure[0]
    return outcome[0]
