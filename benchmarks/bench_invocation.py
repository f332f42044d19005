"""Invocation: reading a handler's signature, building its arguments, starting it.

- ``invocation.inspect_cold``: ``inspect_handler`` on a callable it has never seen (a fresh
  function object per round), against ``inspect.signature`` alone.
- ``invocation.inspect_cached``: ``inspect_handler`` on a registered handler (what every
  ``add_task`` of a known handler pays), against a plain dict lookup.
- ``invocation.arguments``: a run's own copy of its arguments, as the worker builds it
  (unpickle the stored ``args`` and ``kwargs``, add the injected keywords), against
  ``copy.deepcopy`` and a shallow copy.
- ``invocation.start_sync`` / ``invocation.start_async``: from the worker's call to the
  handler's return, for a trivial sync handler and a trivial ``async def``; baselines: a
  plain call, ``asyncio.run``, and one long-lived loop's ``run_until_complete``.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import pickle
import threading
import types
from collections.abc import Callable
from typing import Any

import pytest

from quiv._invocation import inspect_handler, resolve_awaitable, run_coroutine_here


def plain(a: int, b: str = "x") -> None:
    pass


def injected(a: int, _job_id: str = "", _stop_event: Any = None) -> None:
    pass


def catch_all(*args: Any, **kwargs: Any) -> None:
    pass


SHAPES = {"plain": plain, "injected": injected, "var_keyword": catch_all}


def _fresh(template: Callable[..., Any]) -> Callable[..., Any]:
    """A new function object with ``template``'s code: no cache has seen it."""
    func = types.FunctionType(
        template.__code__, template.__globals__, template.__name__, template.__defaults__
    )
    func.__annotations__ = template.__annotations__
    return func


@pytest.mark.parametrize("impl", ["inspect_handler", "inspect.signature"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_inspect_cold(benchmark: Any, shape: str, impl: str) -> None:
    """Signature inspection of a handler never seen before."""
    benchmark.group = "invocation.inspect_cold"
    benchmark.extra_info.update(concept="invocation", shape=shape, impl=impl)
    template = SHAPES[shape]
    target = inspect_handler if impl == "inspect_handler" else inspect.signature

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (_fresh(template),), {}

    benchmark.pedantic(target, setup=setup, rounds=500, warmup_rounds=20)


@pytest.mark.benchmark(max_time=0.2)
@pytest.mark.parametrize("impl", ["inspect_handler", "dict"])
def test_inspect_cached(benchmark: Any, impl: str) -> None:
    """Signature inspection of a handler registered before (the cache's hit path)."""
    benchmark.group = "invocation.inspect_cached"
    benchmark.extra_info.update(concept="invocation", impl=impl)
    func = _fresh(injected)
    inspect_handler(func)
    if impl == "inspect_handler":
        benchmark(inspect_handler, func)
    else:
        table = {func: inspect_handler(func)}
        benchmark(table.__getitem__, func)


ARGUMENTS = {
    "empty": ((), {}),
    "small": ((1, "name"), {"retries": 3, "tags": ["a", "b"], "limit": 2.5}),
}


@pytest.mark.benchmark(max_time=0.2)
@pytest.mark.parametrize("impl", ["quiv-unpickle", "deepcopy", "shallow"])
@pytest.mark.parametrize("size", list(ARGUMENTS))
def test_arguments(benchmark: Any, size: str, impl: str) -> None:
    """A run's own arguments, with _job_id and _stop_event injected."""
    benchmark.group = "invocation.arguments"
    benchmark.extra_info.update(concept="invocation", size=size, impl=impl)
    args, kwargs = ARGUMENTS[size]
    args_blob = pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)
    kwargs_blob = pickle.dumps(kwargs, protocol=pickle.HIGHEST_PROTOCOL)
    injection = inspect_handler(injected)
    stop = threading.Event()

    def quiv_unpickle() -> tuple[Any, dict[str, Any]]:
        # The steps of the worker (quiv._runner.JobRunner.run_on_worker) before the call.
        run_args = pickle.loads(args_blob)
        run_kwargs = pickle.loads(kwargs_blob)
        if injection.job_id:
            run_kwargs["_job_id"] = "job"
        if injection.stop_event:
            run_kwargs["_stop_event"] = stop
        return run_args, run_kwargs

    def deep() -> tuple[Any, dict[str, Any]]:
        run_kwargs = copy.deepcopy(kwargs)
        run_kwargs["_job_id"] = "job"
        run_kwargs["_stop_event"] = stop
        return copy.deepcopy(args), run_kwargs

    def shallow() -> tuple[Any, dict[str, Any]]:
        run_kwargs = dict(kwargs)
        run_kwargs["_job_id"] = "job"
        run_kwargs["_stop_event"] = stop
        return args, run_kwargs

    target = {"quiv-unpickle": quiv_unpickle, "deepcopy": deep, "shallow": shallow}[impl]
    benchmark(target)


def _sync_handler() -> None:
    pass


async def _async_handler() -> None:
    pass


@pytest.mark.benchmark(max_time=0.2)
@pytest.mark.parametrize("impl", ["quiv", "plain-call"])
def test_start_sync(benchmark: Any, impl: str) -> None:
    """A trivial sync handler called as the worker calls it."""
    benchmark.group = "invocation.start_sync"
    benchmark.extra_info.update(concept="invocation", impl=impl)
    if impl == "quiv":

        def target() -> None:
            coroutine = resolve_awaitable(_sync_handler())
            if coroutine is not None:
                run_coroutine_here(coroutine)

        benchmark(target)
    else:
        benchmark(_sync_handler)


@pytest.mark.parametrize("impl", ["quiv-run_coroutine_here", "asyncio.run", "reused-loop"])
def test_start_async(benchmark: Any, impl: str) -> None:
    """A trivial async handler run to completion on the worker thread."""
    benchmark.group = "invocation.start_async"
    benchmark.extra_info.update(concept="invocation", impl=impl)
    if impl == "quiv-run_coroutine_here":

        def target() -> None:
            coroutine = resolve_awaitable(_async_handler())
            assert coroutine is not None
            run_coroutine_here(coroutine)

        benchmark.pedantic(target, rounds=300, warmup_rounds=10)
    elif impl == "asyncio.run":
        benchmark.pedantic(lambda: asyncio.run(_async_handler()), rounds=300, warmup_rounds=10)
    else:
        loop = asyncio.new_event_loop()
        try:
            benchmark.pedantic(
                lambda: loop.run_until_complete(_async_handler()), rounds=300, warmup_rounds=10
            )
        finally:
            loop.close()
