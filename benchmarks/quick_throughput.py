"""Quick throughput probe: ``uv run python benchmarks/quick_throughput.py [jobs]``.

Adds ``jobs`` trivial run-once tasks (delay 0) to a started scheduler with a pool of 10 and
reports the add_task rate, the jobs/s until every job record is written, and how much wall
time the store's writer thread spent committing rows (to show it stays off the dispatch
path). A precursor of the pytest-benchmark suite.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from quiv import JobStatus, Quiv
from quiv._store.writer import Writer


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of each live thread, grouped by name prefix (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    result: dict[str, float] = {}
    for thread in threading.enumerate():
        try:
            with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = (
            thread.name.rsplit("-", 1)[0] if thread.name.startswith("quiv-worker") else thread.name
        )
        result[name] = result.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return result


def main(jobs: int) -> None:
    spent = [0.0, 0]
    original = Writer._write

    def timed_write(self: Writer, *args: object) -> None:
        start = time.thread_time()
        original(self, *args)  # type: ignore[arg-type]
        spent[0] += time.thread_time() - start
        spent[1] += 1

    Writer._write = timed_write  # type: ignore[method-assign]
    q = Quiv(pool_size=10, history_retention_seconds=3600)
    q.start()
    done = threading.Event()
    count = [0]
    lock = threading.Lock()

    def handler() -> None:
        with lock:
            count[0] += 1
            if count[0] == jobs:
                done.set()

    start = time.perf_counter()
    for _ in range(jobs):
        q.add_task("t", handler, interval=1, run_once=True)
    added = time.perf_counter()
    assert done.wait(300)
    ran = time.perf_counter()
    while q.statistics().running_jobs:  # the last ends are being recorded
        time.sleep(0.001)
    completed = len(q.get_all_jobs(status=JobStatus.COMPLETED))
    recorded = time.perf_counter()
    cpu = _thread_cpu()
    q.shutdown()
    Writer._write = original  # type: ignore[method-assign]
    assert completed == jobs, completed
    print(f"add_task: {jobs / (added - start):,.0f} tasks/s")
    print(f"throughput: {jobs / (recorded - start):,.0f} jobs/s (add, run, all records written)")
    print(
        f"handlers done after {ran - start:.2f} s; records queryable after {recorded - start:.2f} s"
    )
    total = sum(cpu.values())
    print(f"store writes: {spent[0]:.2f} s of CPU in {spent[1]} batches")
    print(
        "CPU by thread: "
        + ", ".join(
            f"{name} {seconds:.2f} s ({seconds / total:.0%})" for name, seconds in cpu.items()
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
