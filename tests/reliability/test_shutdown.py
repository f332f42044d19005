"""Shutdown under load, with cooperative and with uncooperative handlers: it returns within
its documented bound, every later call raises ``SchedulerStateError`` (a second shutdown
does nothing), and the temporary directory and the threads are gone.

Sizes: ``QUIV_SHUTDOWN_TASKS`` (slow default 5,000).
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from integration._helpers import WAIT
from quiv import Event, SchedulerStateError
from quiv.testing import wait_until

from .invariants import Leaks, Tracker, env_int

# A slow CI machine may take this much longer than the documented bound.
SLACK = 1.5


def _after_shutdown_every_call_is_refused(q) -> None:
    calls = {
        "start": q.start,
        "add_task": lambda: q.add_task("late", lambda: None, interval=1),
        "remove_task": lambda: q.remove_task("x"),
        "pause_task": lambda: q.pause_task("x"),
        "resume_task": lambda: q.resume_task("x"),
        "run_task": lambda: q.run_task("x"),
        "run_task_immediately": lambda: q.run_task_immediately("x"),
        "cancel_job": lambda: q.cancel_job("x"),
        "wait_for_job": lambda: q.wait_for_job("x", timeout=0.1),
        "get_task": lambda: q.get_task("x"),
        "get_all_tasks": q.get_all_tasks,
        "get_job": lambda: q.get_job("x"),
        "get_all_jobs": q.get_all_jobs,
        "statistics": q.statistics,
    }
    for name, call in calls.items():
        try:
            call()
        except SchedulerStateError:
            continue
        pytest.fail(f"{name} did not raise SchedulerStateError after shutdown")
    q.shutdown()  # idempotent
    q.stop(timeout=0)
    assert q.lifecycle.value == "stopped"


def _shutdown_under_load(quiv, gate, n_tasks: int, cooperative: bool) -> None:
    leaks = Leaks()
    pool = 4
    q = quiv(pool_size=pool)
    tracker = Tracker()
    release = gate()
    entered = threading.Semaphore(0)

    def body(stop: threading.Event) -> None:
        entered.release()
        if cooperative:
            stop.wait(WAIT)
        else:
            release.wait(WAIT)  # ignores its stop event

    q.add_listener(Event.JOB_CANCELLED, lambda *_: None)
    for i in range(n_tasks):
        q.add_task(f"d{i}", tracker.handler(f"d{i}", body), interval=0.01)
    q.start()
    for _ in range(pool):  # every worker is busy, the rest of the load waits
        assert entered.acquire(timeout=WAIT)
    directory = os.path.dirname(q._store.path)
    assert os.path.isdir(directory)
    timeout = 0.5
    started = time.monotonic()
    q.shutdown(timeout=timeout)
    took = time.monotonic() - started
    if cooperative:
        assert took < timeout + SLACK, took
    else:
        # Up to `timeout` for the jobs, then up to max(timeout, 1) for the listeners.
        assert timeout - 0.05 <= took < timeout + max(timeout, 1.0) + SLACK, took
    assert not os.path.exists(directory)
    _after_shutdown_every_call_is_refused(q)
    assert tracker.total() == pool  # nothing started after shutdown began
    release.set()
    wait_until(lambda: not +tracker.running, WAIT)
    tracker.assert_no_overlap()
    leaks.check([q])


@pytest.mark.parametrize("cooperative", [True, False], ids=["cooperative", "uncooperative"])
def test_shutdown_under_load(quiv, gate, cooperative) -> None:
    _shutdown_under_load(quiv, gate, 300, cooperative)


@pytest.mark.slow
@pytest.mark.parametrize("cooperative", [True, False], ids=["cooperative", "uncooperative"])
def test_shutdown_under_load_full(quiv, gate, cooperative) -> None:
    _shutdown_under_load(quiv, gate, env_int("QUIV_SHUTDOWN_TASKS", 5_000), cooperative)


def test_shutdown_before_start_and_twice(quiv) -> None:
    leaks = Leaks()
    q = quiv()
    q.add_task("never", lambda: None, interval=1)
    directory = os.path.dirname(q._store.path)
    q.shutdown()
    assert not os.path.exists(directory)
    _after_shutdown_every_call_is_refused(q)
    leaks.check([q])
