"""Quick dispatch-latency probe: ``uv run python benchmarks/quick_latency.py [idle_tasks]``.

Measures, on the real clock, (a) delay latency: from the due instant of a run-once task
added with ``delay=0.2`` to its handler's entry, and (b) run-now latency: from the call of
``run_task_immediately`` to the handler's entry; each over many samples, with ``idle_tasks``
other tasks registered (due in an hour). A precursor of the pytest-benchmark suite.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time

from quiv import Quiv


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return (
        f"p50 {pick(0.5):6.2f} ms  p90 {pick(0.9):6.2f} ms  p99 {pick(0.99):6.2f} ms  "
        f"max {ordered[-1] * 1000:6.2f} ms  mean {statistics.fmean(ordered) * 1000:6.2f} ms"
    )


def main(idle: int, samples: int = 100) -> None:
    q = Quiv(pool_size=10)
    for i in range(idle):
        q.add_task(f"idle-{i}", lambda: None, interval=3600, delay=3600)
    q.start()
    entered = threading.Event()
    entry: list[float] = [0.0]

    def handler() -> None:
        entry[0] = time.monotonic()
        entered.set()

    delay_latency = []
    for _ in range(samples):
        entered.clear()
        due = time.monotonic() + 0.2
        q.add_task("probe", handler, interval=1, delay=0.2, run_once=True)
        assert entered.wait(5)
        delay_latency.append(entry[0] - due)
        time.sleep(0.01)
    task_id = q.add_task("run-now", handler, interval=3600, delay=3600)
    run_now = []
    for _ in range(samples):
        entered.clear()
        called = time.monotonic()
        q.run_task_immediately(task_id)
        assert entered.wait(5)
        run_now.append(entry[0] - called)
        time.sleep(0.01)
    q.shutdown()
    print(f"idle tasks {idle:>6}: delay 0.2 s  {_percentiles(delay_latency)}")
    print(f"idle tasks {idle:>6}: run now     {_percentiles(run_now)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
