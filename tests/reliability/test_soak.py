"""Soak: many tasks for a set time, sampling RSS, threads, open files and the size of the job
table; fails if any of them grows without bound (history retention must bound the table).

Runs under ``nox -s soak`` only (it needs ``QUIV_SOAK_MINUTES``): ``QUIV_SOAK_MINUTES``
(default 10 through nox), ``QUIV_SOAK_TASKS`` (1,000), ``QUIV_SOAK_RETENTION`` (30 s).
Samples are taken every minute, or every 10 s for runs shorter than 5 minutes, and printed
as a table (run pytest with ``-s`` to see it). With ``QUIV_SOAK_LOG`` set to a path, each
sample is also appended there as a JSON line when it is taken (after a first line with the
run's settings), so a long soak leaves a record even if it is stopped early.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import random
import resource
import threading
import time
from dataclasses import asdict, dataclass
from typing import TextIO

import pytest

from quiv import Quiv

from .invariants import assert_scheduler_consistent, env_float, env_int, open_fds

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("QUIV_SOAK_MINUTES"), reason="soak runs under `nox -s soak` only"
    ),
]

# The churn adds tasks of the same intervals as it removes: the job rate, and so the size
# of the table that retention keeps, stay level.
INTERVALS = [1, 2, 3, 5, 8]


def rss_mib() -> float:
    """Resident memory now (from /proc), else the peak (getrusage) where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if os.uname().sysname == "Darwin" else peak / 1024


@dataclass
class Sample:
    elapsed: float
    rss: float
    threads: int
    fds: int
    table: int
    jobs: int
    tasks: int


def _print(samples: list[Sample]) -> None:
    print()
    print(
        f"{'t (s)':>7} {'RSS MiB':>8} {'threads':>7} {'fds':>5} {'jobs rows':>9} "
        f"{'jobs run':>9} {'tasks':>6}"
    )
    for s in samples:
        print(
            f"{s.elapsed:7.0f} {s.rss:8.1f} {s.threads:7d} {s.fds:5d} {s.table:9d} "
            f"{s.jobs:9d} {s.tasks:6d}"
        )


def _open_log(settings: dict[str, object]) -> TextIO | None:
    path = os.environ.get("QUIV_SOAK_LOG")
    if not path:
        return None
    log = open(path, "w", encoding="utf-8")
    log.write(json.dumps({"settings": settings}) + "\n")
    log.flush()
    return log


def test_soak() -> None:
    minutes = env_float("QUIV_SOAK_MINUTES", 10)
    n_tasks = env_int("QUIV_SOAK_TASKS", 1_000)
    retention = env_int("QUIV_SOAK_RETENTION", 30)
    every = 60.0 if minutes >= 5 else 10.0
    rng = random.Random(5)
    threads_before = threading.active_count()
    logger = logging.getLogger("quiv.soak")  # the failing tasks' tracebacks stay quiet
    logger.propagate = False
    logger.addHandler(logging.NullHandler())
    q = Quiv(pool_size=8, history_retention_seconds=retention, logger=logger)
    counter = [0]
    lock = threading.Lock()

    def work(fail: bool = False) -> int:
        with lock:
            counter[0] += 1
        if fail:
            raise RuntimeError("soak failure")
        return sum(range(200))

    ids = [
        q.add_task(
            f"soak-{i}",
            work,
            interval=rng.choice(INTERVALS),
            delay=rng.random() * 5,
            kwargs={"fail": i % 50 == 0},
        )
        for i in range(n_tasks)
    ]
    q.start()
    samples: list[Sample] = []
    log = _open_log(
        {
            "minutes": minutes,
            "tasks": n_tasks,
            "retention_seconds": retention,
            "pool_size": 8,
            "python": platform.python_version(),
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )
    started = time.monotonic()
    end = started + minutes * 60
    churned = 0
    try:
        while True:
            stats = q.statistics()
            samples.append(
                Sample(
                    elapsed=time.monotonic() - started,
                    rss=rss_mib(),
                    threads=threading.active_count(),
                    fds=open_fds() or -1,
                    table=q._store.count_jobs(),
                    jobs=stats.jobs_started,
                    tasks=stats.tasks,
                )
            )
            if log is not None:
                log.write(json.dumps(asdict(samples[-1])) + "\n")
                log.flush()
            if time.monotonic() >= end:
                break
            # Churn between samples: remove some tasks, add others, and a few run-once.
            for _ in range(20):
                victim = ids.pop(rng.randrange(len(ids)))
                q.remove_task(victim)
                churned += 1
                ids.append(q.add_task(f"churn-{churned}", work, interval=rng.choice(INTERVALS)))
                q.add_task(f"once-{churned}", work, interval=1, run_once=True)
            time.sleep(max(0.0, min(every, end - time.monotonic())))
        assert_scheduler_consistent(q)
    finally:
        if log is not None:
            log.close()
        _print(samples)
        q.shutdown(timeout=30)
    duration = samples[-1].elapsed
    rate = samples[-1].jobs / duration
    print(
        f"\nsoak: {duration / 60:.1f} min, {samples[-1].jobs} jobs run "
        f"({rate:.0f}/s), {n_tasks} tasks, retention {retention} s, {churned} churned"
    )
    assert len(samples) >= 4, "too short a soak to judge growth"
    warm = [s for s in samples if s.elapsed >= min(retention * 2, duration / 3)]
    assert len(warm) >= 3, "too short a soak to judge growth"
    half = len(warm) // 2
    first, last = warm[: half or 1], warm[half:]
    # Memory: the second half of the run holds no more than the first, give or take.
    assert max(s.rss for s in last) <= max(s.rss for s in first) * 1.25 + 16, samples
    # Threads: the pool's 8 workers (started as needed) and quiv's own few, no more.
    assert max(s.threads for s in samples) <= threads_before + 8 + 4
    assert max(s.fds for s in last) <= max(s.fds for s in first) + 4
    # The table: bounded by what retention keeps (jobs of ~retention + purge slack).
    bound = rate * (retention + every + 10) * 1.5 + 1000
    assert max(s.table for s in warm) <= bound, (bound, [s.table for s in samples])
    assert max(s.table for s in last) <= max(s.table for s in first) * 1.25 + 1000
