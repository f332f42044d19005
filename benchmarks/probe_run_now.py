"""Where a run-now request's time goes, stage by stage: ``uv run python
benchmarks/probe_run_now.py [samples]``.

Times ``run_task_immediately`` on a started scheduler (pool of 10, one idle task) and splits
each request, from the call to the handler's first line, into:

- ``call``: the API call itself. While the scheduler thread sleeps with nothing queued, the
  caller makes the run and hands its job to a worker itself (``Scheduler.run_soon``), so this
  holds the stages below up to ``to_worker``; otherwise it queues the request;
- ``to_scheduler``: from the call until ``run_soon`` begins (on the caller's thread, or on
  the scheduler thread once woken, which then needs the GIL back from the caller);
- ``scheduler``: ``run_soon``'s work, up to handing the job to a worker thread;
- ``to_worker``: until the worker runs (woken, it needs the GIL from the thread that
  handed it the job, which records the job's start meanwhile);
- ``worker``: the worker's own work, up to the handler.

Prints the median and 90th percentile of each stage, in microseconds. The stages are timed
by wrapping quiv's internals, which adds a little to each; read them as shares.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import quiv._runner as runner_module
import quiv._scheduler.runs as runs_module
import quiv._workers as workers_module
from quiv import Quiv

_marks: dict[str, float] = {}


def _stamp(owner: Any, name: str, mark: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    def stamped(self: Any, *args: Any) -> Any:
        _marks[mark] = time.perf_counter()
        return original(self, *args)

    setattr(owner, name, stamped)


def main(samples: int) -> None:
    _stamp(runs_module.RunCommands, "run_soon", "scheduler")
    _stamp(workers_module.WorkerPool, "hand", "handed")
    _stamp(runner_module.JobRunner, "run_on_worker", "worker")
    q = Quiv(pool_size=10)
    q.start()
    entered = threading.Event()
    entry = [0.0]

    def probe() -> None:
        entry[0] = time.perf_counter()
        entered.set()

    task_id = q.add_task("probe", probe, interval=3600, delay=3600)
    time.sleep(0.2)
    rows = []
    try:
        for _ in range(samples):
            entered.clear()
            t0 = time.perf_counter()
            q.run_task_immediately(task_id)
            t1 = time.perf_counter()
            if not entered.wait(10):
                raise TimeoutError("a run-now request never ran")
            m = _marks
            rows.append(
                {
                    "call": t1 - t0,
                    "to_scheduler": m["scheduler"] - t0,
                    "scheduler": m["handed"] - m["scheduler"],
                    "to_worker": m["worker"] - m["handed"],
                    "worker": entry[0] - m["worker"],
                    "total": entry[0] - t0,
                }
            )
            time.sleep(0.01)
    finally:
        q.shutdown()
    for stage in rows[0]:
        values = sorted(row[stage] for row in rows)
        p90 = values[int(0.9 * (len(values) - 1))]
        print(f"{stage:13} p50 {statistics.median(values) * 1e6:7.1f} us   p90 {p90 * 1e6:7.1f} us")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
