"""Concurrency with the real clock: the pool bounds how many jobs run at once, and a task
never overlaps itself, however run-now and resume requests pile up."""

from __future__ import annotations

import threading
import time
from collections import Counter

from quiv import JobStatus
from quiv.testing import wait_until

from ._helpers import WAIT


class Meter:
    """Counts how many handler calls are inside at once, overall and per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.per_key: Counter[str] = Counter()
        self.max_per_key = 0
        self.calls: Counter[str] = Counter()

    def enter(self, key: str) -> None:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.per_key[key] += 1
            self.max_per_key = max(self.max_per_key, self.per_key[key])
            self.calls[key] += 1

    def leave(self, key: str) -> None:
        with self._lock:
            self.active -= 1
            self.per_key[key] -= 1


def test_at_most_pool_size_jobs_run_at_once(quiv, gate) -> None:
    q = quiv(pool_size=3)
    q.start()
    meter = Meter()
    release = gate()

    def handler(key: str) -> None:
        meter.enter(key)
        try:
            release.wait(WAIT)
        finally:
            meter.leave(key)

    for i in range(7):
        q.add_task(f"t{i}", handler, interval=3600, run_once=True, args=(f"t{i}",))
    wait_until(lambda: meter.active == 3, WAIT)
    stats = q.statistics()
    assert stats.running_jobs == 3
    assert stats.free_workers == 0
    assert len(q.get_all_jobs(status=JobStatus.RUNNING)) == 3
    release.set()
    wait_until(lambda: len(q.get_all_jobs(status=JobStatus.COMPLETED)) == 7, WAIT)
    assert meter.max_active == 3
    assert sum(meter.calls.values()) == 7


def test_pool_bound_holds_under_churn(quiv) -> None:
    q = quiv(pool_size=2)
    q.start()
    meter = Meter()
    pause = threading.Event()  # never set: a short wait inside the handler

    def handler(key: str) -> None:
        meter.enter(key)
        try:
            pause.wait(0.002)
        finally:
            meter.leave(key)

    for i in range(5):
        q.add_task(f"t{i}", handler, interval=0.001, args=(f"t{i}",))
    wait_until(lambda: all(meter.calls[f"t{i}"] >= 5 for i in range(5)), WAIT)
    assert meter.max_active <= 2
    assert meter.max_per_key == 1


def test_a_task_never_overlaps_itself_under_run_now_and_resume_storms(quiv) -> None:
    q = quiv(pool_size=4)
    q.start()
    meter = Meter()
    pause = threading.Event()

    def handler(key: str) -> None:
        meter.enter(key)
        try:
            pause.wait(0.002)
        finally:
            meter.leave(key)

    ids = [q.add_task(f"t{i}", handler, interval=0.01, args=(f"t{i}",)) for i in range(2)]
    end = time.monotonic() + WAIT
    while min(meter.calls[f"t{i}"] for i in range(2)) < 15:
        assert time.monotonic() < end, f"the tasks did not run often enough: {meter.calls}"
        for task_id in ids:
            assert q.run_task_immediately(task_id) == 1
            q.resume_task(task_id)
    assert meter.max_per_key == 1
    assert meter.max_active <= 2
