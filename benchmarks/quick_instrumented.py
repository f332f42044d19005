"""What instrumentation costs the hot path: ``uv run python benchmarks/quick_instrumented.py
[--rounds 7] [--jobs 10000] [--baseline-src DIR]``.

Measures, as ``quick_throughput.py`` does, the jobs/s of ``jobs`` trivial run-once tasks
added to a started scheduler with a pool of 10, until every job record is written; and,
as ``quick_latency.py`` does, the median run-now latency (``run_task_immediately`` to the
handler's first line, 200 samples), and the CPU time the process spent per job during the
throughput run (all its threads: steadier than wall time on a loaded machine, where time
spent descheduled costs no CPU). Subjects, each in a fresh process:

- ``main``: the tree in ``--baseline-src`` (a directory holding a ``quiv`` package: the
  source of the commit before the instrumentation hook, say), nothing attached;
- ``none``: this tree, nothing attached (the hook's cost when unused);
- ``metrics``: this tree with ``quiv.metrics`` on a registry of its own;
- ``tracing``: this tree with ``quiv.tracing`` on an SDK ``TracerProvider`` whose
  ``BatchSpanProcessor`` hands spans to an exporter that drops them;
- ``both``: metrics and tracing.

The machine may be noisy and shared: subjects run interleaved (A B C ... A B C ..., the
order reversed every other round), and the report gives, per subject, the median of its
figures and the median (and quartiles) of its per-round ratios to ``main`` and to
``none``.

To measure against ``main``: ``git archive main src | tar -x -C /tmp/quiv-main`` and pass
``--baseline-src /tmp/quiv-main/src``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

SUBJECTS = ("main", "none", "metrics", "tracing", "both")
# What each run reports: its key, a title, and how to print its median.
MEASURES = (
    ("jobs_per_s", "throughput, jobs/s (higher is better)", "9,.0f"),
    ("cpu_us_per_job", "CPU per job, us, all threads (lower is better)", "9.1f"),
    ("run_now_us", "run-now latency, median us (lower is better)", "9.0f"),
)


def _attach(q: Any, subject: str) -> list[Any]:
    handles: list[Any] = []
    if subject in ("metrics", "both"):
        from prometheus_client import CollectorRegistry

        from quiv import metrics

        handles.append(metrics.instrument(q, registry=CollectorRegistry()))
    if subject in ("tracing", "both"):
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        from quiv import tracing

        class Dropping(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Dropping()))
        handles.append(tracing.instrument(q, tracer_provider=provider))
    return handles


def _throughput(q: Any, jobs: int) -> tuple[float, float]:
    """Jobs/s, and CPU microseconds per job (every thread of this process: steadier than
    wall time on a loaded machine, where being descheduled costs no CPU)."""
    done = threading.Event()
    count = [0]
    lock = threading.Lock()

    def handler() -> None:
        with lock:
            count[0] += 1
            if count[0] == jobs:
                done.set()

    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(jobs):
        q.add_task("t", handler, interval=1, run_once=True)
    assert done.wait(300)
    while q.statistics().running_jobs:  # the last ends are being recorded
        time.sleep(0.001)
    from quiv import JobStatus

    completed = len(q.get_all_jobs(status=JobStatus.COMPLETED))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert completed == jobs, completed
    return jobs / elapsed, cpu / jobs * 1e6


def _run_now(q: Any, samples: int) -> float:
    entered = threading.Event()
    entry = [0.0]

    def handler() -> None:
        entry[0] = time.perf_counter()
        entered.set()

    task_id = q.add_task("run-now", handler, interval=3600, delay=3600)
    latencies = []
    for _ in range(samples):
        entered.clear()
        called = time.perf_counter()
        q.run_task_immediately(task_id)
        assert entered.wait(5)
        latencies.append(entry[0] - called)
        time.sleep(0.002)
    return statistics.median(latencies) * 1e6


def one(subject: str, jobs: int) -> dict[str, Any]:
    """Measure ``subject`` in this process."""
    import quiv

    q = quiv.Quiv(pool_size=10, history_retention_seconds=3600)
    handles = _attach(q, subject)
    q.start()
    try:
        jobs_per_s, cpu_us = _throughput(q, jobs)
        run_now_us = _run_now(q, 200)
    finally:
        for handle in handles:
            handle.detach()
        q.shutdown()
    return {
        "subject": subject,
        "jobs_per_s": jobs_per_s,
        "cpu_us_per_job": cpu_us,
        "run_now_us": run_now_us,
        "quiv": quiv.__file__,
    }


def _child(subject: str, jobs: int, baseline: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if subject == "main":
        assert baseline is not None
        env["PYTHONPATH"] = baseline  # ahead of the editable install of this tree
    out = subprocess.run(
        [sys.executable, __file__, "--one", subject, "--jobs", str(jobs)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--baseline-src", default=None)
    parser.add_argument("--one", choices=SUBJECTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.jobs)))
        return
    subjects = [s for s in SUBJECTS if s != "main" or args.baseline_src]
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in subjects}
    for round_ in range(args.rounds):
        order = subjects if round_ % 2 == 0 else subjects[::-1]
        for subject in order:
            result = _child(subject, args.jobs, args.baseline_src)
            runs[subject].append(result)
            print(
                f"round {round_ + 1} {subject:>8}: {result['jobs_per_s']:8,.0f} jobs/s  "
                f"{result['cpu_us_per_job']:5.0f} us CPU/job  "
                f"run-now {result['run_now_us']:6.0f} us  ({result['quiv']})",
                flush=True,
            )
    print(f"\nmedians over {args.rounds} rounds; ratios per round, with their quartiles")
    references = [r for r in ("main", "none") if r in runs]
    for key, title, form in MEASURES:
        print(f"\n{title}")
        print(f"{'subject':>8}  {'median':>9}" + "".join(f"  {'/ ' + r:>20}" for r in references))
        for subject in subjects:
            mine = runs[subject]
            line = f"{subject:>8}  {statistics.median(r[key] for r in mine):{form}}"
            for reference in references:
                line += _ratio(mine, runs[reference], key)
            print(line)


def _ratio(mine: list[dict[str, Any]], reference: list[dict[str, Any]], key: str) -> str:
    """The median of per-round ratios of ``key``, with its quartiles."""
    ratios = [a[key] / b[key] for a, b in zip(mine, reference, strict=True)]
    if len(ratios) < 2:
        return f"  {ratios[0]:20.3f}"
    low, _, high = statistics.quantiles(ratios, n=4)
    return f"  {statistics.median(ratios):6.3f} ({low:.2f}-{high:.2f})"


if __name__ == "__main__":
    main()
