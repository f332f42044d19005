"""Calling handlers: which injected keywords a handler accepts, and running sync or async code.

A handler receives ``_job_id``, ``_stop_event`` and ``_progress_hook`` (quiv 0.4.0's names)
only if its signature names them or takes ``**kwargs``; also under quiv 1.4.0's plain names
``job_id``, ``stop_event`` and ``progress_hook`` when its signature names those and the task's
own arguments do not fill them (a handler of 0.4.0 days with a parameter of that name keeps
getting its own value). A coroutine (from an ``async def`` or returned by a plain
function) runs to completion on a fresh event loop of the calling worker thread: never on the
application's main loop, whose objects it must not touch from another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
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
PLAIN = ("job_id", "stop_event", "progress_hook")


@dataclass(frozen=True, slots=True)
class Injection:
    """The keywords under which a handler gets each injected value (empty: not at all).

    ``positions`` maps each plain name the signature has to its position among the
    positional parameters (-1 for keyword-only), for ``supplied_by``.
    """

    job_id: tuple[str, ...] = ()
    stop_event: tuple[str, ...] = ()
    progress_hook: tuple[str, ...] = ()
    positions: tuple[tuple[str, int], ...] = ()

    def supplied_by(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Injection:
        """This injection without the plain names that the task's own ``args`` or
        ``kwargs`` fill: the caller's value wins, as it did before 1.4.0's names existed."""
        if not self.positions:
            return self
        taken = {name for name, index in self.positions if name in kwargs or 0 <= index < len(args)}
        if not taken:
            return self
        return Injection(
            tuple(n for n in self.job_id if n not in taken),
            tuple(n for n in self.stop_event if n not in taken),
            tuple(n for n in self.progress_hook if n not in taken),
        )


_NOTHING = Injection()
_EVERYTHING = Injection(("_job_id",), ("_stop_event",), ("_progress_hook",))


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


def _bound_keywords(func: object) -> set[str]:
    """The keywords that ``functools.partial`` layers around ``func`` bind."""
    bound: set[str] = set()
    while isinstance(func, functools.partial):
        bound.update(func.keywords)
        func = func.func
    return bound


def _inspect(func: Callable[..., Any]) -> Injection:
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # builtins and C callables without a signature
        return _NOTHING
    names: list[str] = []
    positions: list[tuple[str, int]] = []
    var_keyword = False
    index = 0
    bound = _bound_keywords(func)
    for parameter in parameters:
        kind = parameter.kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = True
        elif kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            if parameter.name in PLAIN and parameter.name in bound:
                continue  # a value the application bound (functools.partial) stays its own
            names.append(parameter.name)
            if parameter.name in PLAIN:
                keyword_only = kind is inspect.Parameter.KEYWORD_ONLY
                positions.append((parameter.name, -1 if keyword_only else index))
        if kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            index += 1
    if var_keyword:
        # **kwargs takes 0.4.0's names, as it did there; plain names only if spelled out.
        names.extend(n for n in INJECTED if n not in names)
    if not positions and not any(n in INJECTED for n in names):
        return _NOTHING

    def under(underscored: str, plain: str) -> tuple[str, ...]:
        return tuple(n for n in (underscored, plain) if n in names)

    return Injection(
        under("_job_id", "job_id"),
        under("_stop_event", "stop_event"),
        under("_progress_hook", "progress_hook"),
        tuple(positions),
    )


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
    # Asked without try/except: asyncio.run inside an except block would chain every
    # error of the coroutine under an unrelated "no running event loop".
    if asyncio._get_running_loop() is None:
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
