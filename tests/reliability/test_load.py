"""Load: many interval and run-once tasks on a small pool. Every due run happens once, no
task overlaps itself, and a backlog drains in the order of its due times.

Sizes: ``QUIV_LOAD_TASKS`` (slow default 10,000), ``QUIV_LOAD_SECONDS`` (real-time run).
"""

from __future__ import annotations

import random
import time

import pytest

from integration._helpers import quiesce
from quiv.testing import FakeClock, settle

from .invariants import Leaks, Tracker, assert_invariants, env_float, env_int

FAST_TASKS = 400
FULL_TASKS = env_int("QUIV_LOAD_TASKS", 10_000)


def _fake_clock_load(quiv, n_tasks: int, ticks: int) -> None:
    clock = FakeClock()
    pool = 3
    q = quiv(clock=clock, pool_size=pool, history_retention_seconds=10**9)
    tracker = Tracker()
    rng = random.Random(n_tasks)
    expected: dict[str, int] = {}
    due: dict[str, float] = {}
    for i in range(n_tasks):
        name = f"t{i}"
        if i % 2:
            interval = rng.choice([1, 2, 3, 5, 7])
            q.add_task(name, tracker.handler(name), interval=interval)
            expected[name] = ticks // interval + 1
        else:
            delay = rng.randrange(0, ticks * 10) / 10
            q.add_task(name, tracker.handler(name), interval=1, delay=delay, run_once=True)
            expected[name] = 1
            due[name] = delay
    q.start()
    quiesce(q, 120)
    for _ in range(ticks):
        clock.advance(1)
        quiesce(q, 120)
    counts = {name: tracker.calls(name) for name in expected}
    wrong = {name: (counts[name], n) for name, n in expected.items() if counts[name] != n}
    assert wrong == {}, f"{len(wrong)} tasks ran a wrong number of times: {list(wrong.items())[:5]}"
    assert_invariants(q, tracker)
    assert q.statistics().jobs_started == sum(expected.values())
    assert len(q.get_all_tasks(include_run_once=True)) == n_tasks // 2


def test_load_on_a_fake_clock(quiv) -> None:
    _fake_clock_load(quiv, FAST_TASKS, ticks=12)


@pytest.mark.slow
def test_load_on_a_fake_clock_full(quiv) -> None:
    _fake_clock_load(quiv, FULL_TASKS, ticks=env_int("QUIV_LOAD_TICKS", 30))


def _backlog_drains_in_due_order(quiv, n_tasks: int) -> None:
    # Everything falls due at once, in a known order of due times, on a pool of 3: the jobs
    # must be dispatched in exactly that order. (The order in which handlers are entered is
    # not asserted: a worker thread the OS sets aside for a moment can be overtaken by any
    # number of jobs on the others, which says nothing about the scheduler.)
    clock = FakeClock()
    pool = 3
    q = quiv(clock=clock, pool_size=pool)
    tracker = Tracker()
    rng = random.Random(7)
    delays = [rng.random() * 100 for _ in range(n_tasks)]
    for i, delay in enumerate(delays):
        q.add_task(f"b{i}", tracker.handler(f"b{i}"), interval=1, delay=delay, run_once=True)
    q.start()
    settle(q)
    clock.advance(101)  # the whole backlog is due now
    quiesce(q, 300)
    by_due = [f"b{i}" for i in sorted(range(n_tasks), key=delays.__getitem__)]
    assert sorted(tracker.order) == sorted(by_due)  # every task ran once
    # The history is in the order the jobs were created, which is the order of dispatch.
    assert [job.task_name for job in q.get_all_jobs()] == by_due
    assert_invariants(q, tracker)


def test_backlog_drains_in_due_order(quiv) -> None:
    _backlog_drains_in_due_order(quiv, 300)


@pytest.mark.slow
def test_backlog_drains_in_due_order_full(quiv) -> None:
    _backlog_drains_in_due_order(quiv, FULL_TASKS)


def _real_clock_load(quiv, n_tasks: int, seconds: float) -> None:
    leaks = Leaks()
    q = quiv(pool_size=4, history_retention_seconds=10**9)
    tracker = Tracker()
    rng = random.Random(3)
    once = []
    ids = []
    for i in range(n_tasks):
        name = f"r{i}"
        if i % 3 == 0:
            delay = rng.random() * seconds / 2
            q.add_task(name, tracker.handler(name), interval=1, delay=delay, run_once=True)
            once.append(name)
        else:
            interval = rng.choice([0.05, 0.1, 0.25, 0.5, 1.0])
            ids.append(q.add_task(name, tracker.handler(name), interval=interval))
    q.start()
    time.sleep(seconds)
    for task_id in ids:
        q.pause_task(task_id)
    end = time.monotonic() + 300
    while any(tracker.calls(name) == 0 for name in once) and time.monotonic() < end:
        time.sleep(0.05)
    quiesce(q, 300)
    assert [name for name in once if tracker.calls(name) != 1] == []
    assert_invariants(q, tracker)
    assert tracker.total() == q.statistics().jobs_started
    q.shutdown(timeout=10)
    leaks.check([q])


def test_load_in_real_time(quiv) -> None:
    _real_clock_load(quiv, 150, 1.5)


@pytest.mark.slow
def test_load_in_real_time_full(quiv) -> None:
    _real_clock_load(quiv, FULL_TASKS, env_float("QUIV_LOAD_SECONDS", 30.0))
