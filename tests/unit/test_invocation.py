"""Unit tests of ``quiv._invocation``: injected keywords and running coroutines."""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any

import pytest

from quiv._invocation import (
    Injection,
    inspect_handler,
    resolve_awaitable,
    run_coroutine_here,
)

NOTHING = Injection(job_id=False, stop_event=False, progress_hook=False)
EVERYTHING = Injection(job_id=True, stop_event=True, progress_hook=True)

# -- inspect_handler: plain functions --------------------------------------------------------


def _none(a: int, b: str = "") -> None: ...


def _job_id_only(a: int, _job_id: str) -> None: ...


def _stop_and_hook(_stop_event: threading.Event, _progress_hook: Callable[..., Any]) -> None: ...


def _all_three(_job_id: str, _stop_event: threading.Event, _progress_hook: object) -> None: ...


def _keyword_only(a: int, *, _job_id: str = "", _progress_hook: object = None) -> None: ...


def _var_kwargs(a: int, **kwargs: Any) -> None: ...


def _var_kwargs_and_names(_job_id: str, **extra: Any) -> None: ...


def _var_args_only(*args: Any) -> None: ...


def _star_named_like_injection(*_progress_hook: Any) -> None: ...


def _positional_only(_job_id: str, /, _stop_event: threading.Event) -> None: ...


def _similar_names(
    job_id: str, stop_event: object, _job_id_: str, progress_hook: object
) -> None: ...


async def _async_handler(x: int, _job_id: str, _stop_event: threading.Event) -> None: ...


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (_none, NOTHING),
        (_job_id_only, Injection(job_id=True)),
        (_stop_and_hook, Injection(stop_event=True, progress_hook=True)),
        (_all_three, EVERYTHING),
        (_keyword_only, Injection(job_id=True, progress_hook=True)),
        (_var_kwargs, EVERYTHING),
        (_var_kwargs_and_names, EVERYTHING),
        (_var_args_only, NOTHING),
        (_star_named_like_injection, NOTHING),
        (_positional_only, Injection(stop_event=True)),  # a positional-only name is no keyword
        (_similar_names, NOTHING),
        (_async_handler, Injection(job_id=True, stop_event=True)),
        (lambda _progress_hook: None, Injection(progress_hook=True)),
        (lambda: None, NOTHING),
    ],
    ids=lambda value: getattr(value, "__name__", None) or repr(value),
)
def test_inspect_functions(func: Callable[..., Any], expected: Injection) -> None:
    assert inspect_handler(func) == expected


def test_default_injection_is_nothing() -> None:
    assert Injection() == NOTHING


# -- inspect_handler: other callables --------------------------------------------------------


@pytest.mark.parametrize("func", [print, len, max, dict.fromkeys, str.upper])
def test_builtins_get_nothing(func: Callable[..., Any]) -> None:
    assert inspect_handler(func) == NOTHING


def test_callable_without_a_signature_gets_nothing() -> None:
    class Opaque:
        __signature__ = "not a signature"

        def __call__(self, _job_id: str) -> None: ...

    handler = Opaque()
    with pytest.raises((TypeError, ValueError)):  # which one depends on the Python
        inspect.signature(handler)
    assert inspect_handler(handler) == NOTHING


class _Worker:
    def run(self, item: int, _stop_event: threading.Event) -> None: ...

    def run_all(self, **kwargs: Any) -> None: ...

    @classmethod
    def build(cls, _job_id: str) -> None: ...

    @staticmethod
    def helper(_progress_hook: object) -> None: ...


class _CallableObject:
    def __call__(self, payload: dict[str, Any], *, _job_id: str) -> None: ...


class _WithInit:
    def __init__(self, _stop_event: threading.Event) -> None: ...


def test_bound_methods() -> None:
    worker = _Worker()
    assert inspect_handler(worker.run) == Injection(stop_event=True)
    assert inspect_handler(worker.run_all) == EVERYTHING
    assert inspect_handler(_Worker.build) == Injection(job_id=True)
    assert inspect_handler(_Worker.helper) == Injection(progress_hook=True)


def test_callable_instance_and_class() -> None:
    assert inspect_handler(_CallableObject()) == Injection(job_id=True)
    assert inspect_handler(_WithInit) == Injection(stop_event=True)


def test_partials() -> None:
    assert inspect_handler(functools.partial(_job_id_only, 1)) == Injection(job_id=True)
    # Binding the injected name positionally removes it from the signature.
    assert inspect_handler(functools.partial(_all_three, "fixed")) == Injection(
        stop_event=True, progress_hook=True
    )
    assert inspect_handler(functools.partial(_var_kwargs, 1)) == EVERYTHING
    assert inspect_handler(functools.partial(_none, 1, "x")) == NOTHING


# -- resolve_awaitable ----------------------------------------------------------------------


async def _answer() -> int:
    return 42


class _CustomAwaitable:
    def __init__(self, value: object) -> None:
        self.value = value
        self.awaited = False

    def __await__(self) -> Generator[Any, None, object]:
        self.awaited = True
        yield from asyncio.sleep(0).__await__()
        return self.value


def test_resolve_coroutine_is_returned_as_is() -> None:
    coroutine = _answer()
    try:
        assert resolve_awaitable(coroutine) is coroutine
    finally:
        coroutine.close()


def test_resolve_custom_awaitable() -> None:
    awaitable = _CustomAwaitable("done")
    coroutine = resolve_awaitable(awaitable)
    assert coroutine is not None
    assert inspect.iscoroutine(coroutine)
    assert not awaitable.awaited  # wrapping does not start it
    assert asyncio.run(coroutine) == "done"
    assert awaitable.awaited


def test_resolve_generator_based_coroutine() -> None:
    @types.coroutine
    def legacy() -> Generator[Any, None, str]:
        yield from asyncio.sleep(0).__await__()
        return "legacy"

    generator = legacy()
    coroutine = resolve_awaitable(generator)
    assert coroutine is not None
    assert run_coroutine_here(coroutine) == "legacy"


def _plain_generator() -> Generator[int, None, None]:
    yield 1


@pytest.mark.parametrize(
    "value", [None, 0, 42, "text", [1, 2], {"a": 1}, _answer, _plain_generator()]
)
def test_resolve_plain_values(value: object) -> None:
    assert resolve_awaitable(value) is None


# -- run_coroutine_here ---------------------------------------------------------------------


class _Boom(Exception):
    pass


async def _where() -> tuple[str, asyncio.AbstractEventLoop]:
    await asyncio.sleep(0)
    return threading.current_thread().name, asyncio.get_running_loop()


async def _fail(error: BaseException) -> None:
    await asyncio.sleep(0)
    raise error


def _in_thread(func: Callable[[], Any]) -> Any:
    """Run ``func`` on a fresh plain thread; return its result or re-raise its error."""
    results: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(func())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="plain-worker")
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    if errors:
        raise errors[0]
    return results[0]


def test_run_here_returns_the_result() -> None:
    assert run_coroutine_here(_answer()) == 42


def test_run_here_on_a_plain_thread_runs_on_that_thread() -> None:
    name, loop = _in_thread(lambda: run_coroutine_here(_where()))
    assert name == "plain-worker"
    assert loop.is_closed()  # a temporary loop, closed afterwards


def test_run_here_propagates_the_exception() -> None:
    error = _Boom("handler failed")
    with pytest.raises(_Boom) as info:
        run_coroutine_here(_fail(error))
    assert info.value is error


def test_run_here_propagates_the_exception_from_a_plain_thread() -> None:
    error = _Boom("on a thread")
    with pytest.raises(_Boom) as info:
        _in_thread(lambda: run_coroutine_here(_fail(error)))
    assert info.value is error


def _nested(inner: Coroutine[Any, Any, Any]) -> Any:
    """Call ``run_coroutine_here`` synchronously from inside a running loop."""

    async def outer() -> tuple[Any, asyncio.AbstractEventLoop]:
        return run_coroutine_here(inner), asyncio.get_running_loop()

    return asyncio.run(outer())


def test_run_here_inside_a_running_loop_uses_a_helper_thread() -> None:
    (name, inner_loop), outer_loop = _nested(_where())
    assert name == "quiv-callback-loop"
    assert inner_loop is not outer_loop
    assert inner_loop.is_closed()
    # The helper thread is gone once the call returned.
    assert not any(t.name == "quiv-callback-loop" for t in threading.enumerate())


def test_run_here_inside_a_running_loop_returns_the_result() -> None:
    result, _ = _nested(_answer())
    assert result == 42


def test_run_here_inside_a_running_loop_propagates_the_exception() -> None:
    error = _Boom("nested")
    with pytest.raises(_Boom) as info:
        _nested(_fail(error))
    assert info.value is error
