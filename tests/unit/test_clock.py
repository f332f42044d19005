"""Unit tests of the clocks: ``quiv._clock.SystemClock`` and ``quiv.testing.FakeClock``."""

from __future__ import annotations

import doctest
import itertools
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import quiv.testing
from quiv._clock import SystemClock
from quiv.exceptions import ConfigurationError
from quiv.testing import FakeClock, wait_until


def _start(func: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=func, daemon=True)
    thread.start()
    return thread


def _finishes(thread: threading.Thread, timeout: float = 5.0) -> bool:
    thread.join(timeout)
    return not thread.is_alive()


# -- SystemClock -----------------------------------------------------------------------------


def test_system_monotonic_never_goes_back() -> None:
    clock = SystemClock()
    samples = [clock.monotonic() for _ in range(2000)]
    assert all(a <= b for a, b in itertools.pairwise(samples))
    assert all(isinstance(sample, float) for sample in samples[:10])


def test_system_now_is_aware_utc() -> None:
    clock = SystemClock()
    before = datetime.now(timezone.utc)
    now = clock.now()
    after = datetime.now(timezone.utc)
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after


def test_system_wait_returns_when_the_event_is_set() -> None:
    clock = SystemClock()
    wakeup = threading.Event()
    waiter = _start(lambda: clock.wait(wakeup, None))
    assert not _finishes(waiter, 0.01)  # no deadline: it waits for the event
    wakeup.set()
    assert _finishes(waiter)


def test_system_wait_with_a_far_deadline_returns_when_the_event_is_set() -> None:
    clock = SystemClock()
    wakeup = threading.Event()
    waiter = _start(lambda: clock.wait(wakeup, clock.monotonic() + 3600))
    wakeup.set()
    assert _finishes(waiter)


def test_system_wait_returns_at_the_deadline() -> None:
    clock = SystemClock()
    wakeup = threading.Event()
    deadline = clock.monotonic() + 0.05
    clock.wait(wakeup, deadline)
    # Event.wait's timeout is not early on the monotonic clock (allow a little rounding).
    assert clock.monotonic() >= deadline - 0.002
    assert clock.monotonic() < deadline + 5
    assert not wakeup.is_set()


@pytest.mark.parametrize("behind", [0.0, 10.0, math.inf])
def test_system_wait_for_a_past_deadline_returns_at_once(behind: float) -> None:
    clock = SystemClock()
    wakeup = threading.Event()
    deadline = clock.monotonic() - behind
    started = time.monotonic()
    waiter = _start(lambda: clock.wait(wakeup, deadline))
    assert _finishes(waiter)
    assert time.monotonic() - started < 1.0
    assert not wakeup.is_set()


# -- FakeClock -------------------------------------------------------------------------------


def test_fake_clock_starts_at_zero_and_2030() -> None:
    clock = FakeClock()
    assert clock.monotonic() == 0.0
    assert clock.now() == datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert clock.now().utcoffset() == timedelta(0)


def test_fake_clock_stands_still() -> None:
    clock = FakeClock()
    first = (clock.monotonic(), clock.now())
    assert (clock.monotonic(), clock.now()) == first


def test_advance_moves_monotonic_and_wall_time() -> None:
    clock = FakeClock()
    clock.advance(5)
    assert clock.monotonic() == 5.0
    clock.advance(0.25)
    clock.advance(0)
    assert clock.monotonic() == 5.25
    assert clock.now() == datetime(2030, 1, 1, 0, 0, 5, 250000, tzinfo=timezone.utc)


@pytest.mark.parametrize("seconds", [-1, -1e-9, math.nan, -math.inf])
def test_advance_refuses_going_back_or_nan(seconds: float) -> None:
    clock = FakeClock()
    clock.advance(1)
    with pytest.raises(ConfigurationError, match="cannot go backwards"):
        clock.advance(seconds)
    assert clock.monotonic() == 1.0


def test_custom_start() -> None:
    start = datetime(2024, 6, 1, 14, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    clock = FakeClock(start)
    assert clock.now() == start  # the same instant...
    assert clock.now().utcoffset() == timedelta(0)  # ...in UTC
    assert clock.now().hour == 12
    clock.advance(60)
    assert clock.now() == start + timedelta(minutes=1)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="timezone-aware"):
        FakeClock(datetime(2030, 1, 1))


def test_jump_wall_moves_only_wall_time() -> None:
    clock = FakeClock()
    clock.advance(10)
    clock.jump_wall(3600)
    assert clock.monotonic() == 10.0
    assert clock.now() == datetime(2030, 1, 1, 1, 0, 10, tzinfo=timezone.utc)
    clock.jump_wall(-7200)  # backwards too
    assert clock.monotonic() == 10.0
    assert clock.now() == datetime(2029, 12, 31, 23, 0, 10, tzinfo=timezone.utc)
    clock.advance(5)
    assert clock.now() == datetime(2029, 12, 31, 23, 0, 15, tzinfo=timezone.utc)


@pytest.mark.parametrize("deadline", [0.0, 3.0, 4.999, -math.inf])
def test_fake_wait_returns_at_once_when_the_deadline_has_passed(deadline: float) -> None:
    clock = FakeClock()
    clock.advance(5)
    wakeup = threading.Event()
    waiter = _start(lambda: clock.wait(wakeup, deadline))
    assert _finishes(waiter)
    assert not wakeup.is_set()


def _blocked_waiter(
    clock: FakeClock, wakeup: threading.Event, deadline: float | None
) -> threading.Thread:
    """A thread in ``clock.wait``, returned once it is registered as a waiter."""
    waiter = _start(lambda: clock.wait(wakeup, deadline))
    wait_until(lambda: wakeup in clock._waiters)
    assert waiter.is_alive()
    return waiter


def test_fake_wait_is_released_by_advance_to_the_deadline() -> None:
    clock = FakeClock()
    wakeup = threading.Event()
    waiter = _blocked_waiter(clock, wakeup, 10.0)
    clock.advance(10)
    assert _finishes(waiter)
    assert clock.monotonic() == 10.0
    assert wakeup.is_set()  # the scheduler sees it was woken
    assert not clock._waiters


def test_fake_wait_is_woken_by_any_advance() -> None:
    # Every advance wakes the waiter (returning early is allowed; the scheduler re-reads
    # the clock), so a test never depends on hitting a deadline exactly.
    clock = FakeClock()
    wakeup = threading.Event()
    waiter = _blocked_waiter(clock, wakeup, 10.0)
    clock.advance(1)
    assert _finishes(waiter)


def test_fake_wait_is_released_by_the_event() -> None:
    clock = FakeClock()
    wakeup = threading.Event()
    waiter = _blocked_waiter(clock, wakeup, None)
    wakeup.set()
    assert _finishes(waiter)
    assert clock.monotonic() == 0.0
    assert not clock._waiters


def test_fake_wait_is_released_by_jump_wall() -> None:
    clock = FakeClock()
    wakeup = threading.Event()
    waiter = _blocked_waiter(clock, wakeup, None)
    clock.jump_wall(60)
    assert _finishes(waiter)


def test_fake_advance_wakes_every_waiter() -> None:
    clock = FakeClock()
    events = [threading.Event() for _ in range(3)]
    waiters = [_blocked_waiter(clock, event, 1.0) for event in events]
    clock.advance(1)
    assert all(_finishes(waiter) for waiter in waiters)
    assert all(event.is_set() for event in events)


def test_testing_doctest() -> None:
    failed, attempted = doctest.testmod(quiv.testing, verbose=False)
    assert attempted > 0
    assert failed == 0


# -- wait_until ------------------------------------------------------------------------------


def test_wait_until_returns_once_true() -> None:
    calls: list[int] = []

    def third_time() -> bool:
        calls.append(1)
        return len(calls) >= 3

    wait_until(third_time, timeout=5, interval=0)
    assert len(calls) == 3


def test_wait_until_times_out() -> None:
    with pytest.raises(TimeoutError, match="not met within"):
        wait_until(lambda: False, timeout=0.02, interval=0.001)


def test_epoch_seconds_follows_the_clock_it_is_given() -> None:
    from quiv._clock import epoch_seconds

    assert epoch_seconds(SystemClock()) is time.time
    fake = FakeClock()
    epoch = epoch_seconds(fake)
    before = epoch()
    assert before == fake.now().timestamp()
    fake.advance(90)
    assert epoch() == before + 90
