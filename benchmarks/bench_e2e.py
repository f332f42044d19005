"""End to end: quiv against the bare loop (``_bare.py``), measured in the same run.

These metrics are distributions and rates, not the time of one function call. Each test
still goes through the ``benchmark`` fixture, so that it lands in the same pytest-benchmark
JSON as the rest of the suite, but the figures are in ``extra_info``:

- ``e2e.delay_latency`` / ``e2e.run_now_latency`` (per subject and number of idle tasks):
  ``from_due`` and ``from_call`` percentiles in ms, and the samples themselves
  (``samples_from_due``, ``samples_from_call``) for the CDF plots. The timing of these
  entries is only how long the sampling took.
- ``e2e.throughput``: ``jobs_per_second`` of the best round; a round's time is the time from
  the first ``add_task`` to the last job record written.
- ``e2e.add_rate``: a round's time is the time to add ``tasks`` tasks to a started scheduler;
  ``per_second`` is derived from the median round.
- ``e2e.idle``: RSS, database bytes and CPU over a window of idle time, measured in a fresh
  process; ``bytes_per_task`` is the difference to the same subject with no task, per task.

How the latency samples are taken is documented in ``_e2e.py``.
"""

from __future__ import annotations

import os
from typing import Any

import _e2e
import pytest

SUBJECTS = ["bare", "quiv"]
SAMPLES = int(os.environ.get("QUIV_BENCH_SAMPLES", "200"))
JOBS = 20_000
IDLE_WINDOW = float(os.environ.get("QUIV_BENCH_IDLE_WINDOW", "3"))


def _store(benchmark: Any, group: str, result: dict[str, Any]) -> None:
    benchmark.extra_info.update(concept="e2e", metric=group, **result)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_delay_latency(benchmark: Any, idle: int, subject: str) -> None:
    """Due instant to handler entry of run-once tasks added with a 0.3 s delay."""
    benchmark.group = "e2e.delay_latency"
    result = benchmark.pedantic(_e2e.delay_latency, args=(subject, idle, SAMPLES), rounds=1)
    _store(benchmark, "delay_latency", result)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_run_now_latency(benchmark: Any, idle: int, subject: str) -> None:
    """Run-now request to handler entry, one request at a time on one task."""
    benchmark.group = "e2e.run_now_latency"
    result = benchmark.pedantic(_e2e.run_now_latency, args=(subject, idle, SAMPLES), rounds=1)
    _store(benchmark, "run_now_latency", result)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_throughput(benchmark: Any, subject: str) -> None:
    """20,000 trivial run-once jobs, from the first add_task to the last job record."""
    benchmark.group = "e2e.throughput"
    rounds: list[dict[str, Any]] = []
    benchmark.pedantic(lambda: rounds.append(_e2e.throughput(subject, JOBS)), rounds=3)
    best = max(rounds, key=lambda r: r["jobs_per_second"])
    _store(
        benchmark,
        "throughput",
        {**best, "rounds": [round(r["jobs_per_second"]) for r in rounds]},
    )


@pytest.mark.parametrize("tasks", [10**3, 10**4])
@pytest.mark.parametrize("subject", SUBJECTS)
def test_add_rate(benchmark: Any, subject: str, tasks: int) -> None:
    """add_task of interval tasks on a started scheduler (a fresh one per round)."""
    benchmark.group = "e2e.add_rate"
    subjects: list[_e2e.Subject] = []

    def setup() -> None:
        fresh = _e2e.make_subject(subject)
        fresh.start()
        subjects.append(fresh)

    def teardown() -> None:
        subjects[-1].shutdown()

    benchmark.pedantic(
        lambda: subjects[-1].add_idle(tasks), setup=setup, teardown=teardown, rounds=5
    )
    stats = benchmark.stats.stats
    _store(
        benchmark,
        "add_rate",
        {
            "subject": subject,
            "tasks": tasks,
            "per_second": tasks / stats.median,
            "best_per_second": tasks / stats.min,
        },
    )


_empty: dict[str, dict[str, Any]] = {}


@pytest.mark.parametrize("subject", SUBJECTS)
def test_idle(benchmark: Any, subject: str, idle: int) -> None:
    """RSS and CPU of a started scheduler holding idle tasks, in a fresh process."""
    benchmark.group = "e2e.idle"
    tasks = idle
    result = benchmark.pedantic(_e2e.idle_footprint, args=(subject, tasks, IDLE_WINDOW), rounds=1)
    if tasks == 0:
        _empty[subject] = result
    else:
        if subject not in _empty:
            _empty[subject] = _e2e.idle_footprint(subject, 0, IDLE_WINDOW)
        result.update(_e2e.per_task_memory(_empty[subject], result))
    _store(benchmark, "idle", result)
