"""TEMPORARY copy of the original test, for before/after flake counts (deleted after)."""

from __future__ import annotations

import threading

from quiv import JobStatus
from quiv.testing import settle, wait_until

from ._helpers import WAIT, advance, quiesce


def test_pool_saturation_starts_the_rest_in_due_order(quiv, clock, gate) -> None:
    q = quiv(clock=clock, pool_size=2)
    q.start()
    lock = threading.Lock()
    started: list[str] = []
    gates = {name: gate() for name in ("t0", "t1", "t2", "t3", "t4")}

    def handler(name: str) -> None:
        with lock:
            started.append(name)
        gates[name].wait(WAIT)

    # Added t0 first, but due in the reverse order: t4 at 1 s, t3 at 2 s, ... t0 at 5 s.
    for index, name in enumerate(gates):
        q.add_task(name, handler, interval=100, delay=5 - index, args=(name,))
    advance(q, clock, 10)
    wait_until(lambda: len(started) >= 2, WAIT)
    settle(q)
    stats = q.statistics()
    assert stats.running_jobs == 2
    assert stats.free_workers == 0
    assert stats.pending_deadlines == 3
    assert started == ["t4", "t3"]
    for done, expected in (("t4", ["t4", "t3", "t2"]), ("t2", ["t4", "t3", "t2", "t1"])):
        gates[done].set()
        wait_until(lambda expected=expected: len(started) == len(expected), WAIT)
        settle(q)
        assert started == expected
        assert q.statistics().running_jobs == 2
    gates["t3"].set()
    wait_until(lambda: len(started) == 5, WAIT)
    assert started == ["t4", "t3", "t2", "t1", "t0"]
    for event in gates.values():
        event.set()
    stats = quiesce(q)
    assert stats.jobs_started == 5
    assert stats.late_starts == 5  # all started more than a second after they were due
    assert len(q.get_all_jobs(status=JobStatus.COMPLETED)) == 5
