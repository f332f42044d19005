"""Fixtures of the reliability suite (the shared ``quiv``/``clock``/``gate`` fixtures apply)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from quiv import Quiv
from quiv.testing import FakeClock

from .invariants import Tracker


@pytest.fixture
def tracker() -> Tracker:
    return Tracker()


@pytest.fixture
def fq(quiv: Callable[..., Quiv], clock: FakeClock) -> Quiv:
    """A started ``Quiv`` on the fake clock with a pool of 2."""
    q = quiv(clock=clock, pool_size=2)
    q.start()
    return q
