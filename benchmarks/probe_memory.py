"""What an idle task costs in memory, three ways: ``uv run python benchmarks/probe_memory.py
[tasks]``.

Adds ``tasks`` idle tasks (default 10,000) to a started scheduler, lets the writer commit
them, and prints, per task:

- the Python heap the tasks hold (``tracemalloc``: what quiv keeps for each task);
- the growth of the process's RSS, as the benchmark measures it;
- the same RSS after ``malloc_trim(0)`` (glibc): memory the C allocator kept for reuse
  instead of giving it back. It gives back memory freed before the tasks were added too
  (the imports'), so this can fall below the heap held: read it as an upper bound of what
  the allocator kept;
- the SQLite file's bytes.

Linux with glibc only (``malloc_trim``); needs psutil (the ``bench`` group).
"""

from __future__ import annotations

import ctypes
import gc
import os
import subprocess
import sys
import time
import tracemalloc

import psutil

from quiv import Quiv


def _noop() -> None:
    pass


def _registered(tasks: int, *, heap: bool) -> tuple[Quiv, float]:
    """A started Quiv with ``tasks`` idle tasks, once they are committed; with ``heap``, the
    Python heap they hold (traced from before the first add_task), else 0."""
    q = Quiv(pool_size=10)
    q.start()
    q.statistics()
    time.sleep(0.3)
    gc.collect()
    if heap:
        tracemalloc.start()
    heap0 = tracemalloc.get_traced_memory()[0] if heap else 0
    for _ in range(tasks):
        q.add_task("idle", _noop, interval=3600, delay=3600)
    q.statistics()
    time.sleep(1.0)  # the writer commits; what waited for it is freed
    gc.collect()
    held = (tracemalloc.get_traced_memory()[0] - heap0) / tasks if heap else 0.0
    tracemalloc.stop()
    return q, held


def main(tasks: int) -> None:
    if "--heap" in sys.argv:  # the child run: tracing inflates the RSS, so it runs apart
        q, held = _registered(tasks, heap=True)
        q.shutdown()
        print(held)
        return
    process = psutil.Process()
    q = Quiv(pool_size=10)
    q.start()
    q.statistics()
    time.sleep(0.3)
    gc.collect()
    rss0 = process.memory_info().rss
    for _ in range(tasks):
        q.add_task("idle", _noop, interval=3600, delay=3600)
    q.statistics()
    time.sleep(1.0)
    gc.collect()
    rss = (process.memory_info().rss - rss0) / tasks
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    trimmed = (process.memory_info().rss - rss0) / tasks
    database = os.path.getsize(q._store.path) / tasks
    q.shutdown()
    child = subprocess.run(
        [sys.executable, __file__, str(tasks), "--heap"], capture_output=True, text=True, check=True
    )
    heap = float(child.stdout.strip().splitlines()[-1])
    print(f"{tasks:,} idle tasks, bytes per task:")
    print(f"  Python heap held (tracemalloc)   {heap:7.0f}")
    print(f"  RSS growth                       {rss:7.0f}")
    print(f"  RSS growth after malloc_trim(0)  {trimmed:7.0f}")
    print(f"  SQLite file                      {database:7.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 10_000)
