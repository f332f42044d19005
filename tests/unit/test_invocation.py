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

NOTHING = Injection()
EVERYTHING = Injection(("_job_id",), ("_stop_event",), ("_progress_hook",))
JOB_ID = Injection(job_id=("_job_id",))
STOP_EVENT = Injection(stop_event=("_stop_event",))
PROGRESS_HOOK = Injection(progress_hook=("_progress_hook",))

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


def _plain_positional_only(job_id: str, /, stop_event: threading.Event) -> None: ...


def _similar_names(
    jobid: str, _stop_event_: object, _job_id_: str, progress: object, job_id_: str
) -> None: ...


def _star_named_like_plain(*job_id: Any, **stop_event: Any) -> None: ...


async def _async_handler(x: int, _job_id: str, _stop_event: threading.Event) -> None: ...


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (_none, NOTHING),
        (_job_id_only, JOB_ID),
        (_stop_and_hook, Injection(stop_event=("_stop_event",), progress_hook=("_progress_hook",))),
        (_all_three, EVERYTHING),
        (_keyword_only, Injection(job_id=("_job_id",), progress_hook=("_progress_hook",))),
        (_var_kwargs, EVERYTHING),
        (_var_kwargs_and_names, EVERYTHING),
        (_var_args_only, NOTHING),
        (_star_named_like_injection, NOTHING),
        (_positional_only, STOP_EVENT),  # a positional-only name is no keyword
        (
            _plain_positional_only,
            Injection(stop_event=("stop_event",), positions=(("stop_event", 1),)),
        ),
        (_similar_names, NOTHING),
        # *job_id and **stop_event are no parameters of those names; **stop_event is **kwargs.
        (_star_named_like_plain, EVERYTHING),
        (_async_handler, Injection(job_id=("_job_id",), stop_event=("_stop_event",))),
        (lambda _progress_hook: None, PROGRESS_HOOK),
        (lambda: None, NOTHING),
    ],
    ids=lambda value: getattr(value, "__name__", None) or repr(value),
)
def test_inspect_functions(func: Callable[..., Any], expected: Injection) -> None:
    assert inspect_handler(func) == expected


def test_default_injection_is_nothing() -> None:
    assert Injection() == Injection((), (), (), ())
    assert not any((NOTHING.job_id, NOTHING.stop_event, NOTHING.progress_hook))


# -- inspect_handler: quiv 1.4.0's plain names ------------------------------------------------


def _plain_names(job_id: str, stop_event: threading.Event, progress_hook: object) -> None: ...


def _both_spellings(
    job_id: str, _job_id: str, stop_event: threading.Event, *, _progress_hook: object = None
) -> None: ...


def _plain_keyword_only(a: int, *, job_id: str = "", progress_hook: object = None) -> None: ...


def _plain_names_and_var_kwargs(item: int, stop_event: threading.Event, **rest: Any) -> None: ...


def test_plain_names_are_injected_under_their_own_names() -> None:
    assert inspect_handler(_plain_names) == Injection(
        ("job_id",),
        ("stop_event",),
        ("progress_hook",),
        (("job_id", 0), ("stop_event", 1), ("progress_hook", 2)),
    )


def test_both_spellings_in_one_signature_get_both() -> None:
    injection = inspect_handler(_both_spellings)
    assert injection.job_id == ("_job_id", "job_id")
    assert injection.stop_event == ("stop_event",)
    assert injection.progress_hook == ("_progress_hook",)
    assert injection.positions == (("job_id", 0), ("stop_event", 2))


def test_keyword_only_plain_names_have_no_position() -> None:
    assert inspect_handler(_plain_keyword_only) == Injection(
        job_id=("job_id",),
        progress_hook=("progress_hook",),
        positions=(("job_id", -1), ("progress_hook", -1)),
    )


def test_var_kwargs_gets_the_underscore_names_only() -> None:
    # **kwargs takes 0.4.0's names, never the plain ones it would not have named.
    for func in (_var_kwargs, _var_kwargs_and_names):
        injection = inspect_handler(func)
        assert injection == EVERYTHING
        assert not {"job_id", "stop_event", "progress_hook"} & {
            *injection.job_id,
            *injection.stop_event,
            *injection.progress_hook,
        }
    # A plain name spelled out beside **kwargs is injected under both.
    assert inspect_handler(_plain_names_and_var_kwargs) == Injection(
        ("_job_id",),
        ("_stop_event", "stop_event"),
        ("_progress_hook",),
        (("stop_event", 1),),
    )


# -- Injection.supplied_by: the task's own arguments win over plain names ----------------------


def _fields(injection: Injection) -> tuple[tuple[str, ...], ...]:
    return injection.job_id, injection.stop_event, injection.progress_hook


def test_supplied_by_drops_a_plain_name_the_kwargs_fill() -> None:
    injection = inspect_handler(_plain_names).supplied_by((), {"job_id": "mine"})
    assert _fields(injection) == ((), ("stop_event",), ("progress_hook",))


def test_supplied_by_drops_a_plain_name_a_positional_arg_fills() -> None:
    injection = inspect_handler(_plain_names).supplied_by(("mine", "theirs"), {})
    assert _fields(injection) == ((), (), ("progress_hook",))


def test_supplied_by_keeps_the_underscore_name_beside_a_filled_plain_one() -> None:
    injection = inspect_handler(_both_spellings).supplied_by(("mine",), {})
    assert _fields(injection) == (("_job_id",), ("stop_event",), ("_progress_hook",))


def test_supplied_by_positional_only_parameters_count_toward_the_position() -> None:
    injection = inspect_handler(_plain_positional_only)
    assert _fields(injection.supplied_by(("x",), {})) == ((), ("stop_event",), ())
    assert _fields(injection.supplied_by(("x", "y"), {})) == ((), (), ())


def test_supplied_by_positional_args_never_fill_a_keyword_only_name() -> None:
    injection = inspect_handler(_plain_keyword_only)
    assert injection.supplied_by((1, "a", "b", "c"), {}) is injection
    assert _fields(injection.supplied_by((1,), {"progress_hook": None})) == (
        ("job_id",),
        (),
        (),
    )


def test_supplied_by_leaves_alone_what_no_argument_fills() -> None:
    injection = inspect_handler(_plain_names)
    assert injection.supplied_by((), {"other": 1}) is injection
    # Underscore names are always quiv's: a task kwarg of that name changes nothing here.
    assert EVERYTHING.supplied_by(("a",), {"_job_id": "x"}) is EVERYTHING


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

    def run_plain(self, item: int, job_id: str) -> None: ...

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
    assert inspect_handler(worker.run) == STOP_EVENT
    assert inspect_handler(worker.run_all) == EVERYTHING
    # self is bound: job_id's position counts from the first argument a task passes.
    assert inspect_handler(worker.run_plain) == Injection(("job_id",), positions=(("job_id", 1),))
    assert inspect_handler(_Worker.build) == JOB_ID
    assert inspect_handler(_Worker.helper) == PROGRESS_HOOK


def test_callable_instance_and_class() -> None:
    assert inspect_handler(_CallableObject()) == JOB_ID
    assert inspect_handler(_WithInit) == STOP_EVENT


def test_partials() -> None:
    assert inspect_handler(functools.partial(_job_id_only, 1)) == JOB_ID
    # Binding the injected name positionally removes it from the signature.
    assert inspect_handler(functools.partial(_all_three, "fixed")) == Injection(
        stop_event=("_stop_event",), progress_hook=("_progress_hook",)
    )
    assert inspect_handler(functools.partial(_plain_names, "fixed")) == Injection(
        (), ("stop_event",), ("progress_hook",), (("stop_event", 0), ("progress_hook", 1))
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


def test_a_plain_name_bound_by_a_partial_keeps_its_bound_value() -> None:
    """The application bound that value; a 1.4.0 injection must not replace it."""

    def handler(job_id: str, stop_event: object = None, _job_id: str = "") -> None: ...

    injection = inspect_handler(functools.partial(handler, job_id="mine"))
    assert injection.job_id == ("_job_id",)
    assert injection.stop_event == ("stop_event",)
    nested = functools.partial(functools.partial(handler, stop_event=1), job_id="x")
    assert inspect_handler(nested).stop_event == ()
