"""Handlers for the process executor's tests: a child process imports them by name, so they
live at the top level of a module of their own (the tests' modules define handlers inside
their tests)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any


def add(a: int, b: int, scale: int = 1) -> int:
    return (a + b) * scale


def echo(value: Any, other: Any = None) -> list[Any]:
    return [value, other]


def pid() -> int:
    return os.getpid()


async def async_pid() -> dict[str, Any]:
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    return {"pid": os.getpid(), "thread": threading.current_thread().name, "loop": id(loop)}


def injected(_job_id: str, stop_event: threading.Event, progress_hook: Callable[..., None]) -> str:
    progress_hook("started", job=_job_id)
    return f"{_job_id} {type(stop_event).__name__}"


def ignore_stop(seconds: float = 60.0) -> None:
    """Sleeps through its stop event: only a kill ends it early."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)


def honour_stop(_stop_event: threading.Event, progress_hook: Callable[..., None]) -> str:
    progress_hook("waiting")
    _stop_event.wait(60.0)
    return "stopped"


def spin(_stop_event: threading.Event, progress_hook: Callable[..., None]) -> int:
    """CPU-bound until asked to stop: counts as fast as it can."""
    progress_hook("spinning")
    count = 0
    while not _stop_event.is_set():
        for _ in range(10_000):
            count += 1
    return count


def report(progress_hook: Callable[..., None], count: int) -> int:
    for index in range(count):
        progress_hook(index, of=count)
    return count


def exit_now(status: int) -> None:
    os._exit(status)


def crash_once(marker: str) -> str:
    """Dies the first time (no marker file yet), returns the second."""
    if not os.path.exists(marker):
        with open(marker, "w", encoding="utf-8"):
            pass
        os._exit(3)
    return "second try"


def raise_value(message: str) -> None:
    raise ValueError(message)


def raise_key() -> None:
    raise KeyError("missing")


class TwoArguments(Exception):
    """An exception whose pickle does not load (its __init__ takes two arguments)."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a} and {b}")


def raise_two_arguments() -> None:
    raise TwoArguments(1, 2)


def log_lines(_job_id: str) -> None:
    logging.getLogger("handlers").warning("hello from %s", _job_id)
    try:
        raise RuntimeError("logged with its traceback")
    except RuntimeError:
        logging.getLogger("handlers").exception("it failed")


def wait_for_file(path: str, _stop_event: threading.Event) -> str:
    while not os.path.exists(path):
        if _stop_event.wait(0.01):
            return "stopped"
    return "found"


def unpicklable_progress(progress_hook: Callable[..., None]) -> str:
    progress_hook(threading.Lock())
    progress_hook("after")
    return "done"


class Holder:
    @staticmethod
    def static(x: int) -> int:
        return x + 1

    @classmethod
    def klass(cls, x: int) -> int:
        return x + 2

    def method(self, x: int) -> int:
        return x + 3


def stubborn(progress_hook: Callable[..., None]) -> None:
    """Says which process it runs in, then sleeps through its stop event."""
    progress_hook(os.getpid())
    ignore_stop()


def hold_until(path: str, progress_hook: Callable[..., None], _stop_event: threading.Event) -> str:
    """Says which process it runs in, then waits for ``path`` to exist (or a stop)."""
    progress_hook(os.getpid())
    return wait_for_file(path, _stop_event)


def call_the_main_loop() -> None:
    """Asks for the main loop, which a child process has none of."""
    from quiv import run_on_main

    run_on_main(print, "never")
