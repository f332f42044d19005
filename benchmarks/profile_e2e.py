"""Where quiv's time goes in the throughput and add_task runs, thread by thread (cProfile).

    uv run python benchmarks/profile_e2e.py throughput [jobs]   # default 20,000
    uv run python benchmarks/profile_e2e.py add [tasks]         # default 10,000

Every thread gets a profiler of its own (``threading.Thread.run`` is wrapped before quiv
starts any), and the main thread, which adds the tasks, one too. Prints, per kind of thread,
its share of the profiled time and its functions by own time (``tottime``) and by time
including callees (``cumtime``); time a thread spends blocked (waiting on a lock, a queue,
a sleep) is counted too, so read the waits as waits. The throughput run includes its final
check, which reads every job back (``get_all_jobs``). cProfile slows Python code down by a
factor of 2 to 3, more where calls are many and small: the shares are what to read, not the
absolute times.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

_profiles: list[tuple[str, cProfile.Profile]] = []
_run = threading.Thread.run


def _profiled_run(self: threading.Thread) -> None:
    profile = cProfile.Profile()
    _profiles.append((self.name, profile))
    profile.enable()
    try:
        _run(self)
    finally:
        profile.disable()


def _kind(name: str) -> str:
    return name.rsplit("-", 1)[0] if name.startswith("quiv-worker") else name


def _report(main: cProfile.Profile, top: int) -> None:
    groups: dict[str, list[cProfile.Profile]] = {"main (the caller)": [main]}
    for name, profile in _profiles:
        groups.setdefault(_kind(name), []).append(profile)
    totals = {}
    stats = {}
    for kind, profiles in groups.items():
        merged = pstats.Stats(profiles[0], stream=io.StringIO())
        for other in profiles[1:]:
            merged.add(other)
        stats[kind] = merged
        totals[kind] = merged.total_tt  # type: ignore[attr-defined]
    whole = sum(totals.values())
    print("profiled time by thread kind:")
    for kind, total in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {kind:<22} {total:7.2f} s  {total / whole:5.1%}")
    for kind, merged in sorted(stats.items(), key=lambda item: -totals[item[0]]):
        if totals[kind] < 0.02 * whole:
            continue
        for order in ("tottime", "cumtime"):
            out = io.StringIO()
            merged.stream = out  # type: ignore[attr-defined]
            merged.sort_stats(order).print_stats(top)
            body = out.getvalue()
            start = body.find("   ncalls")
            print(f"\n== {kind}: by {order}\n{body[start:].rstrip()}")


def main(argv: list[str]) -> None:
    what = argv[0] if argv else "throughput"
    count = int(argv[1]) if len(argv) > 1 else (20_000 if what == "throughput" else 10_000)
    threading.Thread.run = _profiled_run  # type: ignore[method-assign]
    import _e2e

    import quiv  # noqa: F401 (imported before the profilers start)

    main_profile = cProfile.Profile()
    start = time.perf_counter()
    if what == "throughput":
        main_profile.enable()
        result: Any = _e2e.throughput("quiv", count)
        main_profile.disable()
        print(f"throughput under the profiler: {result['jobs_per_second']:,.0f} jobs/s")
    else:
        subject = _e2e.make_subject("quiv")
        subject.start()
        main_profile.enable()
        subject.add_idle(count)
        main_profile.disable()
        elapsed = time.perf_counter() - start
        subject.shutdown()
        print(f"add_task under the profiler: {count / elapsed:,.0f} tasks/s")
    _report(main_profile, 18)


if __name__ == "__main__":
    main(sys.argv[1:])
