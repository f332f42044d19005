"""Several processes, one schedule: claims per second, dispatch latency, duplicates and losses.

``uv run python benchmarks/shared_store.py [--processes 4] [--tasks 1000] [--interval 2]
[--periods 10] [--url URL ...]``

Starts ``--processes`` worker processes on one durable store. Each registers the same
``--tasks`` shared tasks (keys ``t0``...), every ``--interval`` seconds, all due together at
a common first slot, and runs ``--periods`` periods: ``tasks * periods`` runs in all. Then it
reads the job history and reports:

* claims won per second (runs started per second, over the span of the slots);
* dispatch latency: a job's start minus the slot it ran for (p50, p90, p99, max);
* duplicates (a slot of a task that completed more than once) and losses (a slot between a
  task's first and last run with no run): both must be 0;
* how the runs spread over the processes.

``--url`` defaults to a fresh SQLite file, plus PostgreSQL when QUIV_TEST_POSTGRES_URL names
a server (a fresh database is created on it and dropped after). Results go to
benchmarks/results/shared-<kind>.json.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

RESULTS = Path(__file__).parent / "results"

WORKER = """
import sys, time
from quiv import Quiv

url, tasks = sys.argv[1], int(sys.argv[2])
interval, start, stop = (float(value) for value in sys.argv[3:6])
q = Quiv(database_url=url, pool_size=10)

def work():
    pass

for i in range(tasks):
    q.add_task(f"t{i}", work, interval=interval, delay=max(0.0, start - time.time()), key=f"t{i}")
q.start()
time.sleep(max(0.0, stop - time.time()))
q.shutdown(timeout=10)
"""


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(url: str, *, processes: int, tasks: int, interval: float, periods: int) -> dict[str, Any]:
    """One measurement on the store ``url``."""
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "worker.py"
        script.write_text(WORKER)
        # Every process registers before the first slot; the slots end a period before stop.
        start = time.time() + 3.0 + 0.01 * tasks
        stop = start + interval * periods + interval / 2
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        workers = [
            subprocess.Popen(
                [sys.executable, str(script), url, *map(str, (tasks, interval, start, stop))],
                env=env,
            )
            for _ in range(processes)
        ]
        for worker in workers:
            worker.wait(timeout=stop - time.time() + 120)
    engine_url = url.replace("postgresql://", "postgresql+psycopg://")
    if "://" not in engine_url:
        engine_url = f"sqlite:///{engine_url}"
    engine = create_engine(engine_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT task_name, scheduled_for, started_at, status, node FROM quiv_job")
            ).all()
    finally:
        engine.dispose()
    completed = [row for row in rows if row.status == "completed"]
    by_task: dict[str, list[float]] = collections.defaultdict(list)
    for row in completed:
        by_task[row.task_name].append(row.scheduled_for)
    duplicates = sum(len(slots) - len(set(slots)) for slots in by_task.values())
    lost = 0
    for slots in by_task.values():
        ordered = sorted(set(slots))
        lost += sum(round((b - a) / interval) - 1 for a, b in itertools.pairwise(ordered))
    lost += tasks - len(by_task)  # a task that never ran at all
    latency = [row.started_at - row.scheduled_for for row in completed]
    slots = [row.scheduled_for for row in completed]
    span = max(slots) - min(slots) + interval if slots else 0.0
    per_node = sorted(collections.Counter(row.node for row in completed).values())
    return {
        "store": "postgresql" if url.startswith("postgres") else "sqlite",
        "processes": processes,
        "tasks": tasks,
        "interval_s": interval,
        "runs": len(completed),
        "other_statuses": dict(
            collections.Counter(row.status for row in rows if row.status != "completed")
        ),
        "claims_per_s": len(completed) / span if span else 0.0,
        "latency_ms": {
            "p50": 1e3 * _percentile(latency, 0.50),
            "p90": 1e3 * _percentile(latency, 0.90),
            "p99": 1e3 * _percentile(latency, 0.99),
            "max": 1e3 * max(latency),
            "mean": 1e3 * statistics.fmean(latency),
        },
        "duplicates": duplicates,
        "lost": lost,
        "runs_per_process": per_node,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }


def _postgres_database(server: str) -> tuple[str, Any]:
    import psycopg  # only when PostgreSQL is asked for
    from sqlalchemy.engine import make_url

    parsed = make_url(server)
    name = f"quiv_bench_{uuid.uuid4().hex[:10]}"
    admin = parsed.set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return parsed.set(database=name).render_as_string(False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--periods", type=int, default=10)
    parser.add_argument("--url", action="append", default=[])
    options = parser.parse_args()
    targets: list[tuple[str, Any]] = []
    scratch = tempfile.TemporaryDirectory()
    if options.url:
        targets = [(url, None) for url in options.url]
    else:
        targets.append((str(Path(scratch.name) / "shared.db"), None))
        server = os.environ.get("QUIV_TEST_POSTGRES_URL")
        if server:
            targets.append(_postgres_database(server))
        else:
            print("PostgreSQL skipped: set QUIV_TEST_POSTGRES_URL (.ci/postgres starts a server)")
    RESULTS.mkdir(exist_ok=True)
    for url, drop in targets:
        try:
            result = run(
                url,
                processes=options.processes,
                tasks=options.tasks,
                interval=options.interval,
                periods=options.periods,
            )
        finally:
            if drop is not None:
                drop()
        latency = result["latency_ms"]
        print(
            f"{result['store']:>10}: {result['runs']} runs by {result['processes']} processes, "
            f"{result['claims_per_s']:.0f} claims/s; latency p50 {latency['p50']:.1f} ms, "
            f"p90 {latency['p90']:.1f}, p99 {latency['p99']:.1f}, max {latency['max']:.1f}; "
            f"duplicates {result['duplicates']}, lost {result['lost']}; "
            f"per process {result['runs_per_process']}; other {result['other_statuses']}"
        )
        out = RESULTS / f"shared-{result['store']}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
    scratch.cleanup()


if __name__ == "__main__":
    main()
