"""Shared fixtures: schedulers that are always shut down, a fake clock, and gates.

``quiv`` is a factory: ``quiv(pool_size=2, clock=clock)`` builds a ``Quiv`` that the fixture
shuts down when the test ends, whether it passed or failed. ``gate()`` gives a
``threading.Event`` for a handler to block on; every gate is set before the schedulers are
shut down, so a failing test never leaves a handler blocking shutdown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from quiv import Quiv
from quiv.testing import FakeClock

SHUTDOWN_TIMEOUT = 10.0


@pytest.fixture
def _gates() -> list[threading.Event]:
    return []


@pytest.fixture
def gate(_gates: list[threading.Event]) -> Callable[[], threading.Event]:
    """A factory of events that handlers wait on; all are set at teardown."""

    def factory() -> threading.Event:
        event = threading.Event()
        _gates.append(event)
        return event

    return factory


@pytest.fixture
def quiv(_gates: list[threading.Event]) -> Iterator[Callable[..., Quiv]]:
    """A factory of ``Quiv`` instances, each shut down at teardown (even on failure)."""
    created: list[Quiv] = []

    def factory(*args: Any, **kwargs: Any) -> Quiv:
        instance = Quiv(*args, **kwargs)
        created.append(instance)
        return instance

    yield factory

    for event in _gates:
        event.set()
    errors: list[BaseException] = []
    for instance in reversed(created):
        try:
            instance.shutdown(timeout=SHUTDOWN_TIMEOUT)
        except Exception as exc:  # shut the others down all the same
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def clock() -> FakeClock:
    """A clock that stands still until the test advances it (starts 2030-01-01 UTC)."""
    return FakeClock()
