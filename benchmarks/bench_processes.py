"""Process jobs: dispatch latency and throughput of handlers run in child processes, quiv
(``executor="process"``) against the bare ``concurrent.futures.ProcessPoolExecutor`` in the
same run, and APScheduler 3.x's ``ProcessPoolExecutor`` when it is installed here.

As in ``bench_e2e.py``, the figures are distributions and rates, in each entry's
``extra_info``; the timing pytest-benchmark prints is only how long the measurement took.
``_process_jobs.py`` documents how they are taken. ``nox -s bench_processes`` measures
APScheduler too, from an environment of its own (``process_peers.py``).

- ``processes.latency``: due instant to handler entry in the child, one job at a time, due
  0.1 s after the call (``from_due`` and ``from_call`` percentiles, in ms);
- ``processes.throughput``: 2,000 trivial jobs added at once; ``jobs_per_second`` from the
  first add to the last end.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import _process_jobs
import pytest

SUBJECTS = [
    "bare",
    "quiv",
    pytest.param(
        "apscheduler",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("apscheduler") is None,
            reason="APScheduler is not installed here (nox -s bench_processes measures it)",
        ),
    ),
]
SAMPLES = int(os.environ.get("QUIV_BENCH_SAMPLES", "200"))
JOBS = 2000


@pytest.mark.parametrize("subject", SUBJECTS)
def test_process_latency(benchmark: Any, subject: str) -> None:
    """Due instant to handler entry in a child process, one job at a time."""
    benchmark.group = "processes.latency"
    result = benchmark.pedantic(_process_jobs.latency, args=(subject, SAMPLES), rounds=1)
    benchmark.extra_info.update(concept="processes", metric="latency", **result)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_process_throughput(benchmark: Any, subject: str) -> None:
    """2,000 trivial jobs in child processes, from the first add to the last end."""
    benchmark.group = "processes.throughput"
    result = benchmark.pedantic(_process_jobs.throughput, args=(subject, JOBS), rounds=1)
    benchmark.extra_info.update(concept="processes", metric="throughput", **result)
