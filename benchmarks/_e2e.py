"""End-to-end measurements, shared by the pytest suite and by ``peers.py``.

A *subject* is one scheduler behind a small adapter: ``bare`` (the loop of ``_bare.py``),
``quiv`` (whichever quiv is importable: this tree's, or 0.4.0 in the peers' environment) and
``apscheduler`` (3.x, ``BackgroundScheduler`` with a ``ThreadPoolExecutor`` of 10). Nothing
here imports a scheduler at module level: each environment has only its own.

Every measurement returns a plain dict (JSON-ready). Run as a script, this module measures one
subject and prints JSON; that is how peers get measured in their own environments, and how
memory and idle CPU get measured in a fresh process::

    python benchmarks/_e2e.py all --subject apscheduler       # every metric, one JSON
    python benchmarks/_e2e.py idle --subject quiv --tasks 10000 --window 3

Latency samples record three instants on ``time.monotonic`` (the clock the schedulers keep
deadlines on): ``t0`` when the API call starts, ``t1`` when it returns, and the handler's
entry. With ``delay`` the run's requested delay (0 for run-now):

- ``from_due`` = entry - (t1 + delay): from the due instant as the caller knows it (by the time
  the call returns the scheduler has fixed it). For run-now it can be slightly negative: the
  handler may be entered before the API call has returned.
- ``from_call`` = entry - (t0 + delay): the same, plus the API call's own cost.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

SUBJECTS = ("bare", "quiv", "apscheduler")
POOL_SIZE = 10
IDLE_DELAY = 3600.0  # idle tasks: due in an hour, every hour
PROBE_DELAY = 0.3  # the delay of a delay-latency probe, as in the reference figures


def _noop() -> None:
    pass


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean of ``samples`` (nearest rank), in the samples' unit."""
    ordered = sorted(samples)
    n = len(ordered)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * n) - 1)]

    return {
        "n": n,
        "p50": rank(0.5),
        "p90": rank(0.9),
        "p99": rank(0.99),
        "max": ordered[-1],
        "mean": sum(ordered) / n,
    }


# -- subjects ------------------------------------------------------------------------------


class Subject:
    """What the measurements need from a scheduler."""

    name = "?"
    version = "?"

    def start(self) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        raise NotImplementedError

    def add_idle(self, n: int) -> None:
        """Register ``n`` tasks that are due in an hour, every hour."""
        for _ in range(n):
            self.add_every(_noop)

    def add_every(self, func: Callable[[], Any]) -> Any:
        """Register ``func`` every hour, first due in an hour; return a handle for run_now."""
        raise NotImplementedError

    def add_once(self, func: Callable[..., Any], delay: float, args: tuple[Any, ...] = ()) -> None:
        """Register one run of ``func(*args)`` after ``delay`` seconds."""
        raise NotImplementedError

    def run_now(self, handle: Any) -> None:
        """Make a run of the task ``handle`` due now."""
        raise NotImplementedError

    def settle(self) -> None:
        """Return once everything handed over so far is taken in (and stored, if it stores)."""

    def wait_recorded(self, jobs: int, timeout: float) -> None:
        """Return once the records of ``jobs`` finished jobs are written (if it keeps any)."""

    def check_recorded(self, jobs: int) -> int | None:
        """How many completed job records it holds (None: it keeps none)."""
        return None

    @property
    def keeps_records(self) -> bool:
        return self.check_recorded(0) is not None


class BareSubject(Subject):
    name = "bare"
    version = "heapq + Condition + ThreadPoolExecutor"

    def __init__(self) -> None:
        from _bare import BareScheduler

        self.s = BareScheduler(POOL_SIZE)

    def start(self) -> None:
        self.s.start()

    def shutdown(self) -> None:
        self.s.shutdown()

    def add_every(self, func: Callable[[], Any]) -> Any:
        return self.s.add_task(func, IDLE_DELAY, IDLE_DELAY)

    def add_once(self, func: Callable[..., Any], delay: float, args: tuple[Any, ...] = ()) -> None:
        self.s.add_task(partial(func, *args) if args else func, 1.0, delay, run_once=True)

    def run_now(self, handle: Any) -> None:
        self.s.run_now(handle)


# ``import quiv`` comes from this tree's distribution, or from quiv 0.4.0's in the peers' one.
_DISTRIBUTIONS = {"quiv": ("quiv-scheduler", "quiv")}


def _installed_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    *first, last = _DISTRIBUTIONS.get(name, (name,))
    for dist in first:
        try:
            return version(dist)
        except PackageNotFoundError:
            pass
    return version(last)


class QuivSubject(Subject):
    """quiv 1.x, this tree's: job records are written behind by a writer thread."""

    name = "quiv"

    def __init__(self) -> None:
        from quiv import Quiv

        self.version = _installed_version("quiv")
        self.q = Quiv(pool_size=POOL_SIZE)
        self._last: str | None = None

    def start(self) -> None:
        self.q.start()

    def shutdown(self) -> None:
        self.q.shutdown()

    def add_every(self, func: Callable[[], Any]) -> Any:
        self._last = self.q.add_task("idle", func, interval=IDLE_DELAY, delay=IDLE_DELAY)
        return self._last

    def add_once(self, func: Callable[..., Any], delay: float, args: tuple[Any, ...] = ()) -> None:
        self.q.add_task("once", func, interval=1, delay=delay, run_once=True, args=args)

    def run_now(self, handle: Any) -> None:
        self.q.run_task_immediately(handle)

    def settle(self) -> None:
        # statistics() is answered by the scheduler thread after every command before it;
        # a read commits every row handed over before it.
        self.q.statistics()
        if self._last is not None:
            self.q.get_task(self._last)

    def wait_recorded(self, jobs: int, timeout: float) -> None:
        end = time.monotonic() + timeout
        # Every job has ended and its end been handed to the store...
        while self.q.statistics().running_jobs:
            if time.monotonic() > end:
                raise TimeoutError("jobs still running")
            time.sleep(0.0005)
        # ... and a read commits whatever the writer has not committed yet.
        self.q.get_all_tasks()

    def check_recorded(self, jobs: int) -> int | None:
        return len(self.q.get_all_jobs(status="completed")) if jobs else 0


class Quiv040Subject(QuivSubject):
    """quiv 0.4.0: polls its SQLite database once a second; writes records synchronously."""

    def settle(self) -> None:
        pass  # every call wrote to the database before returning

    def wait_recorded(self, jobs: int, timeout: float) -> None:
        end = time.monotonic() + timeout
        while len(self.q.get_all_jobs(status="completed")) < jobs:
            if time.monotonic() > end:
                raise TimeoutError("job records missing")
            time.sleep(0.02)


class APSchedulerSubject(Subject):
    """APScheduler 3.x: BackgroundScheduler, memory job store, ThreadPoolExecutor(10).

    It keeps no job history: ``wait_recorded`` has nothing to wait for. Missed-run grace is
    unlimited, so that a backlog of due jobs runs late rather than being dropped.
    """

    name = "apscheduler"

    def __init__(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self.version = _installed_version("apscheduler")
        self.s = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(POOL_SIZE)},
            job_defaults={"misfire_grace_time": None},
            timezone="UTC",
        )

    def start(self) -> None:
        self.s.start()

    def shutdown(self) -> None:
        self.s.shutdown(wait=True)

    def add_every(self, func: Callable[[], Any]) -> Any:
        return self.s.add_job(func, "interval", seconds=IDLE_DELAY).id

    def add_once(self, func: Callable[..., Any], delay: float, args: tuple[Any, ...] = ()) -> None:
        from datetime import datetime, timedelta, timezone

        if delay:
            run_date = datetime.now(timezone.utc) + timedelta(seconds=delay)
            self.s.add_job(func, "date", run_date=run_date, args=args)
        else:
            self.s.add_job(func, args=args)  # no trigger: run once, now

    def run_now(self, handle: Any) -> None:
        from datetime import datetime, timezone

        self.s.modify_job(handle, next_run_time=datetime.now(timezone.utc))


def make_subject(name: str) -> Subject:
    """A fresh, not yet started, scheduler behind its adapter."""
    if name == "bare":
        return BareSubject()
    if name == "quiv":
        if _installed_version("quiv").startswith("0."):
            return Quiv040Subject()
        return QuivSubject()
    if name == "apscheduler":
        return APSchedulerSubject()
    raise ValueError(f"unknown subject {name!r}")


def subject_version(name: str) -> str:
    """The version of the package a subject measures."""
    if name == "bare":
        return f"Python {sys.version.split()[0]}"
    return _installed_version(name)


# -- latency -------------------------------------------------------------------------------


def _summarize(rows: list[tuple[float, float, float, float]]) -> dict[str, Any]:
    """rows: (t0, t1, delay, entry) -> both distributions, in milliseconds."""
    from_due = [(entry - (t1 + delay)) * 1000 for t0, t1, delay, entry in rows]
    from_call = [(entry - (t0 + delay)) * 1000 for t0, t1, delay, entry in rows]
    return {
        "unit": "ms",
        "from_due": percentiles(from_due),
        "from_call": percentiles(from_call),
        "samples_from_due": [round(x, 4) for x in from_due],
        "samples_from_call": [round(x, 4) for x in from_call],
    }


def _loaded(name: str, idle: int) -> tuple[Subject, float]:
    subject = make_subject(name)
    subject.start()
    start = time.perf_counter()
    subject.add_idle(idle)
    subject.settle()
    seconds = time.perf_counter() - start
    time.sleep(0.2)  # let writers and collectors go quiet before the first sample
    return subject, seconds


def delay_latency(
    name: str, idle: int, samples: int, *, delay: float = PROBE_DELAY, seed: int = 1
) -> dict[str, Any]:
    """``samples`` run-once tasks, due ``delay`` s after they are added and ~25 ms apart.

    All probes are added at once, with due instants staggered by 20-30 ms (random, so that
    nothing periodic lines up with them): one run is over before the next is due.
    """
    rng = random.Random(seed)
    subject, loading = _loaded(name, idle)
    entries = [math.nan] * samples
    remaining = [samples]
    lock = threading.Lock()
    done = threading.Event()

    def probe(i: int) -> None:
        entries[i] = time.monotonic()
        with lock:
            remaining[0] -= 1
            if remaining[0] == 0:
                done.set()

    try:
        calls = []
        offset = delay
        for i in range(samples):
            t0 = time.monotonic()
            subject.add_once(probe, offset, (i,))
            t1 = time.monotonic()
            calls.append((t0, t1, offset))
            # Due instants are t0 + offset: spaced by the gap, whatever the calls cost.
            offset += rng.uniform(0.020, 0.030) - (time.monotonic() - t0)
            offset = max(offset, delay)
        if not done.wait(offset + 30):
            raise TimeoutError(f"{name}: {remaining[0]} of {samples} probes never ran")
    finally:
        subject.shutdown()
    result = _summarize([(*call, entry) for call, entry in zip(calls, entries, strict=True)])
    result.update(subject=name, idle=idle, delay=delay, loading_seconds=loading)
    return result


def run_now_latency(name: str, idle: int, samples: int, *, seed: int = 2) -> dict[str, Any]:
    """``samples`` run-now requests on one task, one at a time, 5-15 ms apart."""
    rng = random.Random(seed)
    subject, loading = _loaded(name, idle)
    entered = threading.Event()
    entry = [0.0]

    def probe() -> None:
        entry[0] = time.monotonic()
        entered.set()

    rows = []
    try:
        handle = subject.add_every(probe)
        subject.settle()
        for _ in range(samples):
            entered.clear()
            t0 = time.monotonic()
            subject.run_now(handle)
            t1 = time.monotonic()
            if not entered.wait(30):
                raise TimeoutError(f"{name}: a run-now request never ran")
            rows.append((t0, t1, 0.0, entry[0]))
            time.sleep(rng.uniform(0.005, 0.015))  # the job's end is recorded meanwhile
    finally:
        subject.shutdown()
    result = _summarize(rows)
    result.update(subject=name, idle=idle, loading_seconds=loading)
    return result


# -- throughput and add rate -------------------------------------------------------------


def throughput(name: str, jobs: int) -> dict[str, Any]:
    """Add ``jobs`` trivial run-once tasks (delay 0) to a started scheduler; time them until
    every handler has run and every job record is written."""
    subject = make_subject(name)
    subject.start()
    count = [0]
    lock = threading.Lock()
    done = threading.Event()

    def handler() -> None:
        with lock:
            count[0] += 1
            if count[0] == jobs:
                done.set()

    try:
        gc.collect()
        start = time.perf_counter()
        for _ in range(jobs):
            subject.add_once(handler, 0.0)
        added = time.perf_counter()
        if not done.wait(600):
            raise TimeoutError(f"{name}: {jobs - count[0]} jobs never ran")
        ran = time.perf_counter()
        subject.wait_recorded(jobs, 600)
        recorded = time.perf_counter()
        kept = subject.check_recorded(jobs)
    finally:
        subject.shutdown()
    if kept is not None and kept != jobs:
        raise AssertionError(f"{name}: {kept} completed job records for {jobs} jobs")
    return {
        "subject": name,
        "jobs": jobs,
        "records_kept": kept is not None,
        "jobs_per_second": jobs / (recorded - start),
        "add_seconds": added - start,
        "handlers_done_seconds": ran - start,
        "recorded_seconds": recorded - start,
    }


def add_rate(name: str, tasks: int, rounds: int) -> dict[str, Any]:
    """``tasks`` interval tasks added to a started scheduler, per second; ``rounds`` fresh
    schedulers, best and median round."""
    rates = []
    for _ in range(rounds):
        subject = make_subject(name)
        subject.start()
        try:
            gc.collect()
            start = time.perf_counter()
            subject.add_idle(tasks)
            rates.append(tasks / (time.perf_counter() - start))
        finally:
            subject.shutdown()
    rates.sort()
    return {
        "subject": name,
        "tasks": tasks,
        "rounds": rounds,
        "best_per_second": rates[-1],
        "median_per_second": rates[len(rates) // 2],
        "rates": rates,
    }


# -- memory and idle CPU, in a fresh process -----------------------------------------------


def _database_bytes() -> int:
    """Bytes of the SQLite files this process has open under the temporary directory."""
    import psutil

    tmp = os.path.realpath(tempfile.gettempdir())
    total = 0
    seen = set()
    for item in psutil.Process().open_files():
        path = os.path.realpath(item.path)
        if not path.startswith(tmp + os.sep):
            continue
        for candidate in (path, path + "-wal", path + "-shm"):
            if candidate not in seen and os.path.exists(candidate):
                seen.add(candidate)
                total += os.path.getsize(candidate)
    return total


def _idle_here(name: str, tasks: int, window: float) -> dict[str, Any]:
    import psutil

    process = psutil.Process()
    subject = make_subject(name)
    subject.start()
    subject.add_idle(tasks)
    subject.settle()
    time.sleep(1.0)  # the writer commits, the first garbage collections pass
    gc.collect()
    rss = process.memory_info().rss
    database = _database_bytes()
    threads = threading.active_count()
    cpu0, wall0 = time.process_time(), time.monotonic()
    time.sleep(window)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    subject.shutdown()
    return {
        "subject": name,
        "tasks": tasks,
        "rss_bytes": rss,
        "database_bytes": database,
        "threads": threads,
        "window_seconds": wall,
        "cpu_seconds": cpu,
        "cpu_ms_per_10s": cpu * 1000 * 10 / wall,
    }


def idle_footprint(name: str, tasks: int, window: float, python: str | None = None) -> dict:
    """Memory and idle CPU of a started scheduler holding ``tasks`` idle tasks, measured in a
    fresh process (``python``: that environment's interpreter; default this one)."""
    out = subprocess.run(
        [
            python or sys.executable,
            os.path.abspath(__file__),
            "idle",
            "--subject",
            name,
            "--tasks",
            str(tasks),
            "--window",
            str(window),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def per_task_memory(empty: dict[str, Any], loaded: dict[str, Any]) -> dict[str, Any]:
    """Bytes per idle task from two fresh processes: with 0 and with N idle tasks."""
    tasks = loaded["tasks"]
    rss = (loaded["rss_bytes"] - empty["rss_bytes"]) / tasks
    database = (loaded["database_bytes"] - empty["database_bytes"]) / tasks
    return {
        "tasks": tasks,
        "rss_bytes_per_task": rss,
        "database_bytes_per_task": database,
        "total_bytes_per_task": rss + database,
    }


# -- every metric of one subject (the peers' runs) -----------------------------------------


def measure_all(name: str, plan: dict[str, Any]) -> dict[str, Any]:
    """Every end-to-end metric of one subject, sized by ``plan`` (see ``peers.py``)."""
    result: dict[str, Any] = {"subject": name, "version": subject_version(name)}
    result["delay_latency"] = [
        delay_latency(name, idle, plan["delay_samples"]) for idle in plan["loads"]
    ]
    result["run_now_latency"] = [
        run_now_latency(name, idle, plan["run_now_samples"]) for idle in plan["loads"]
    ]
    result["throughput"] = throughput(name, plan["jobs"])
    result["add_rate"] = add_rate(name, plan["add_tasks"], plan["add_rounds"])
    idle = {n: idle_footprint(name, n, plan["idle_window"]) for n in (0, *plan["idle_tasks"])}
    result["idle"] = list(idle.values())
    result["memory"] = [per_task_memory(idle[0], idle[n]) for n in plan["idle_tasks"] if n]
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("idle", "all"))
    parser.add_argument("--subject", choices=SUBJECTS, required=True)
    parser.add_argument("--tasks", type=int, default=0)
    parser.add_argument("--window", type=float, default=3.0)
    parser.add_argument("--plan", help="JSON sizes for 'all' (see peers.py)")
    options = parser.parse_args(argv)
    if options.what == "idle":
        result = _idle_here(options.subject, options.tasks, options.window)
    else:
        result = measure_all(options.subject, json.loads(options.plan))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
