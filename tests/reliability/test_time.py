"""Time: the wall clock jumping forward and back by hours, again and again, while many tasks
run, changes nothing about when they run (no burst, no stall): their run times on the
monotonic clock are those of the same schedule without the jumps.

Sizes: ``QUIV_TIME_TASKS`` and ``QUIV_TIME_TICKS`` (slow defaults 1,000 and 200).
"""

from __future__ import annotations

import random
import threading

import pytest

from integration._helpers import quiesce
from quiv.testing import FakeClock

from .invariants import Tracker, assert_invariants, env_int

JUMPS = [3 * 3600, -5 * 3600, 86400, -86400 * 2, 7200, 1800, -600]


def _schedule(quiv, n_tasks: int, ticks: int, jumps: bool) -> dict[str, list[float]]:
    clock = FakeClock()
    q = quiv(clock=clock, pool_size=3, history_retention_seconds=10**9)
    tracker = Tracker()
    times: dict[str, list[float]] = {}
    lock = threading.Lock()
    rng = random.Random(11)
    for i in range(n_tasks):
        name = f"w{i}"
        times[name] = []

        def body(_stop: threading.Event, name: str = name) -> None:
            with lock:
                times[name].append(clock.monotonic())

        kind = i % 3
        if kind == 0:
            q.add_task(name, tracker.handler(name, body), interval=rng.choice([1, 2.5, 4]))
        elif kind == 1:
            q.add_task(
                name,
                tracker.handler(name, body),
                interval=rng.choice([1.5, 3]),
                delay=rng.choice([0, 0.5, 2]),
                fixed_interval=False,
            )
        else:
            delay = rng.randrange(ticks * 2) / 2
            q.add_task(name, tracker.handler(name, body), interval=1, delay=delay, run_once=True)
    q.start()
    quiesce(q)
    for step in range(ticks * 2):
        if jumps and step % 3 == 1:
            clock.jump_wall(JUMPS[step % len(JUMPS)])
            quiesce(q)
        clock.advance(0.5)
        quiesce(q)
    assert_invariants(q, tracker)
    return times


def _no_burst_no_stall(quiv, n_tasks: int, ticks: int) -> None:
    reference = _schedule(quiv, n_tasks, ticks, jumps=False)
    jumped = _schedule(quiv, n_tasks, ticks, jumps=True)
    differ = {
        name: (reference[name], jumped[name])
        for name in reference
        if reference[name] != jumped[name]
    }
    assert differ == {}, list(differ.items())[:3]
    assert all(reference.values())  # every task ran


def test_wall_jumps_cause_no_burst_and_no_stall(quiv) -> None:
    _no_burst_no_stall(quiv, 45, 20)


@pytest.mark.slow
def test_wall_jumps_cause_no_burst_and_no_stall_full(quiv) -> None:
    _no_burst_no_stall(quiv, env_int("QUIV_TIME_TASKS", 1_000), env_int("QUIV_TIME_TICKS", 200))
