"""Prometheus metrics of a ``Quiv``: ``quiv.metrics.instrument(quiv)`` (extra
``quiv[prometheus]``, on ``prometheus-client``).

>>> from prometheus_client import CollectorRegistry, generate_latest
>>> from quiv import Quiv
>>> registry = CollectorRegistry()
>>> q = Quiv()
>>> metrics = instrument(q, registry=registry)
>>> b"quiv_workers_free 10.0" in generate_latest(registry)
True
>>> metrics.detach(); q.shutdown()

The series, named from ``prefix`` (``quiv`` here):

=====================================  =========  ============  ==========================
name                                   type       labels        what
=====================================  =========  ============  ==========================
``quiv_jobs_total``                    counter    task, status  jobs ended, by final status
``quiv_job_duration_seconds``          histogram  task          how long handlers ran
``quiv_job_start_lateness_seconds``    histogram  task          due → handler start
``quiv_jobs_running``                  gauge                    jobs running now
``quiv_process_jobs_running``          gauge                    of them, in a process
``quiv_jobs_queued``                   gauge                    runs due, waiting
``quiv_workers_free``                  gauge                    idle worker threads
``quiv_processes_free``                gauge                    idle process slots
``quiv_tasks``                         gauge      status        tasks by status
``quiv_jobs_started_total``            counter                  jobs started
``quiv_late_starts_total``             counter                  runs started over 1 s late
``quiv_store_write_failures_total``    counter                  failed store writes
=====================================  =========  ============  ==========================

- ``task`` is the task's name (not its id: run-once tasks would make a series each);
  ``status`` of a job is its final ``JobStatus``: ``completed``, ``failed``, ``retried``
  (an attempt that failed and is tried again), ``timed_out``, ``cancelled`` or ``missed``;
  of a task, ``active``, ``running`` or ``paused``.
- The counter and the histograms count from ``instrument()`` on, through an
  ``Instrumentation`` attached to the scheduler: a job's lateness is noted when its
  handler starts (on its worker, for a deque), its end and duration where its end is
  recorded, as plain integers and floats (about a microsecond a job: no lock, no
  prometheus-client metric object on the hot path). Lateness runs from the instant the run
  was due (planned, jitter included; for a run asked for now, the request) to its
  handler's first line, on the monotonic clock: the dispatch latency the benchmarks track.
  A job whose handler never ran (cancelled before it started, missed) is counted, and has
  no duration.
- Everything is read when the registry is collected: the tallies, ``Quiv.statistics()``
  and a count of tasks by status, in one call on the scheduler thread (O(tasks) there:
  nothing is kept up to date between scrapes). Once the ``Quiv`` is shut down the gauges
  and the counters read from it are left out; the job counter and histograms stay.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import weakref
from collections import deque
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ._instruments import JobEnd, JobRun
from ._quiv import Quiv
from ._scheduler import Lifecycle, SchedulerStatistics
from ._scheduler.housekeeping import LATE_START_WARNING_SECONDS
from .exceptions import ConfigurationError, QuivError

__all__ = ["Metrics", "instrument"]

# Seconds. Handlers run from microseconds to hours; starts are late by microseconds when
# all is well, and by seconds when workers are saturated.
DURATION_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)
LATENESS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_TASK_STATUSES = ("active", "running", "paused")

# Per task: how many observations fell in each bucket (not cumulative; the last is +Inf),
# then their sum.
Buckets = list[float]
Tally = tuple[dict[tuple[str, str], int], dict[str, Buckets], dict[str, Buckets]]


class _Tallies:
    """The job counter and the two histograms, as plain numbers (the ``Instrumentation``).

    Only ``job_ended`` and ``snapshot`` write them, and neither needs a lock: calls of
    ``job_ended`` never overlap (one thread at a time holds the scheduler's state) and
    ``snapshot`` runs on the scheduler thread, holding it too. ``job_started`` runs on
    worker threads, so it only appends to ``_started`` (atomic), which the other two drain.
    """

    def __init__(self, duration_bounds: Sequence[float], lateness_bounds: Sequence[float]):
        self._duration_bounds = tuple(float(b) for b in duration_bounds)
        self._lateness_bounds = tuple(float(b) for b in lateness_bounds)
        self._ends: dict[tuple[str, str], int] = {}
        self._durations: dict[str, Buckets] = {}
        self._lateness: dict[str, Buckets] = {}
        self._started: deque[tuple[str, float]] = deque()

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return self._duration_bounds, self._lateness_bounds

    def capture(self) -> object | None:
        return None

    def job_started(self, run: JobRun, origin: object | None) -> None:
        lateness = run.lateness
        if lateness is not None:
            self._started.append((run.task_name, max(0.0, lateness)))

    def handler_returned(self, run: JobRun) -> None:
        pass

    def job_ended(self, run: JobRun, end: JobEnd) -> None:
        if self._started:
            self._drain()
        key = (run.task_name, end.status)
        self._ends[key] = self._ends.get(key, 0) + 1
        if end.duration is not None:
            _observe(self._durations, self._duration_bounds, run.task_name, end.duration)

    def _drain(self) -> None:
        started, lateness, bounds = self._started, self._lateness, self._lateness_bounds
        while started:
            task, seconds = started.popleft()
            _observe(lateness, bounds, task, seconds)

    def snapshot(self, *, drain: bool = True) -> Tally:
        """Copies of the tallies (see the class for where this may run; without
        ``drain``, anywhere, the lateness not yet drained left out)."""
        if drain:
            self._drain()
        # dict() and list() of a dict or list copy in one step, even while another thread
        # writes them.
        return (
            dict(self._ends),
            {task: list(b) for task, b in dict(self._durations).items()},
            {task: list(b) for task, b in dict(self._lateness).items()},
        )


def _observe(table: dict[str, Buckets], bounds: tuple[float, ...], task: str, value: float) -> None:
    counts = table.get(task)
    if counts is None:
        counts = table[task] = [0.0] * (len(bounds) + 2)
    counts[bisect.bisect_left(bounds, value)] += 1  # the first bucket whose bound >= value
    counts[-1] += value


class _Collector(Collector):
    """Every series, read when the registry is collected (see the module)."""

    def __init__(self, quiv: Quiv, prefix: str, tallies: _Tallies) -> None:
        self._quiv = weakref.ref(quiv)  # the registry must not keep a dropped Quiv alive
        self._prefix = prefix
        self._tallies = tallies

    def describe(self) -> Iterable[Metric]:
        # What collect() yields, without samples: registering reads nothing.
        return [*self._jobs(({}, {}, {})), *self._scheduler(None, {})]

    def collect(self) -> Iterable[Metric]:
        quiv = self._quiv()
        tallies = self._tallies
        stopped = quiv is None or quiv.lifecycle is Lifecycle.STOPPED
        snapshot = None
        if quiv is not None and not stopped:
            scheduler = quiv._scheduler

            def read() -> tuple[Tally, SchedulerStatistics, dict[str, int]]:
                stats = scheduler.statistics()
                return tallies.snapshot(), stats, scheduler.runs.tasks_by_status()

            try:
                snapshot = scheduler.call(read)
            except QuivError:  # shutting down: its thread takes no more calls
                snapshot = None
        if snapshot is None:
            # No thread to read on. Stopped, nothing writes the tallies any more; while it
            # stops, the last ends may still be recorded: copy without draining.
            return list(self._jobs(tallies.snapshot(drain=stopped)))
        tally, stats, by_status = snapshot
        return [*self._jobs(tally), *self._scheduler(stats, by_status)]

    def _jobs(self, tally: Tally) -> Iterator[Metric]:
        p = self._prefix
        ends, durations, lateness = tally
        jobs = CounterMetricFamily(
            f"{p}_jobs", "Jobs ended, by task name and final status.", labels=["task", "status"]
        )
        for (task, status), count in sorted(ends.items()):
            jobs.add_metric([task, status], count)
        yield jobs
        duration_bounds, lateness_bounds = self._tallies.bounds
        yield _histogram(
            f"{p}_job_duration_seconds",
            "How long job handlers ran, by task name.",
            duration_bounds,
            durations,
        )
        yield _histogram(
            f"{p}_job_start_lateness_seconds",
            "From when a run was due to when its handler started, by task name.",
            lateness_bounds,
            lateness,
        )

    def _scheduler(
        self, stats: SchedulerStatistics | None, by_status: dict[str, int]
    ) -> Iterator[Metric]:
        p = self._prefix

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{p}_{name}", doc, value=None if stats is None else value)

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(f"{p}_{name}", doc, value=None if stats is None else value)

        s = stats or SchedulerStatistics(0, 0, 0, 0, 0, 0, 0)
        yield gauge("jobs_running", "Jobs running now, process jobs included.", s.running_jobs)
        yield gauge(
            "process_jobs_running",
            "Jobs running now in a process of the pool (executor='process').",
            s.running_process_jobs,
        )
        yield gauge(
            "jobs_queued", "Runs due now that wait for a free worker or process.", s.queued_runs
        )
        yield gauge("workers_free", "Worker threads free to start a job.", s.free_workers)
        yield gauge(
            "processes_free", "Processes of the pool free to start a job.", s.free_processes
        )
        tasks = GaugeMetricFamily(f"{p}_tasks", "Tasks by status.", labels=["status"])
        if stats is not None:
            for status in (*_TASK_STATUSES, *sorted(set(by_status) - set(_TASK_STATUSES))):
                tasks.add_metric([status], by_status.get(status, 0))
        yield tasks
        yield counter("jobs_started", "Jobs started since the scheduler was built.", s.jobs_started)
        yield counter(
            "late_starts",
            f"Runs that started more than {LATE_START_WARNING_SECONDS:g} s after they were due.",
            s.late_starts,
        )
        yield counter(
            "store_write_failures",
            "Writes of task and job records that failed.",
            s.store_write_failures,
        )


def _histogram(
    name: str, doc: str, bounds: tuple[float, ...], table: dict[str, Buckets]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=["task"])
    for task, counts in sorted(table.items()):
        cumulative = 0.0
        buckets = []
        for bound, count in zip((*bounds, float("inf")), counts, strict=False):
            cumulative += count
            buckets.append(("+Inf" if math.isinf(bound) else repr(bound), cumulative))
        family.add_metric([task], buckets, sum_value=counts[-1])
    return family


class Metrics:
    """The metrics of one ``Quiv`` on one registry, from ``instrument``: ``detach()``
    stops counting and takes every series off the registry."""

    def __init__(
        self,
        quiv: Quiv,
        registry: CollectorRegistry,
        prefix: str,
        duration_buckets: Sequence[float],
        lateness_buckets: Sequence[float],
    ) -> None:
        self.registry = registry
        self.prefix = prefix
        self._quiv = weakref.ref(quiv)
        self._tallies = _Tallies(duration_buckets, lateness_buckets)
        self._collector: _Collector | None = _Collector(quiv, prefix, self._tallies)
        try:
            registry.register(self._collector)
        except ValueError as exc:
            raise ConfigurationError(
                f"metrics named {prefix}_* are already registered on this registry "
                f"({exc}): instrument each Quiv with a prefix= or a registry= of its own"
            ) from None
        quiv.add_instrumentation(self._tallies)

    def detach(self) -> None:
        """Stop counting this ``Quiv``'s jobs and unregister every series; idempotent."""
        quiv = self._quiv()
        if quiv is not None:
            quiv.remove_instrumentation(self._tallies)
        collector, self._collector = self._collector, None
        if collector is not None:
            self.registry.unregister(collector)


def instrument(
    quiv: Quiv,
    *,
    registry: CollectorRegistry | None = None,
    prefix: str = "quiv",
    duration_buckets: Sequence[float] = DURATION_BUCKETS,
    lateness_buckets: Sequence[float] = LATENESS_BUCKETS,
) -> Metrics:
    """Count ``quiv``'s jobs and expose its load as Prometheus series on ``registry``
    (default: prometheus-client's global ``REGISTRY``), named from ``prefix`` (see the
    module for the series). Returns the handle whose ``detach()`` undoes it. The bucket
    bounds of the two histograms are in seconds, increasing (default
    ``DURATION_BUCKETS`` and ``LATENESS_BUCKETS`` of this module; +Inf is added).

    ``ConfigurationError`` for a ``prefix`` that is not a Prometheus metric name, for
    bounds that are not increasing finite numbers, or when series of that prefix are
    already on the registry (two instrumented schedulers need a ``prefix`` or a
    ``registry`` each).
    """
    if not isinstance(quiv, Quiv):
        raise ConfigurationError(f"instrument takes a Quiv, got {type(quiv).__name__}")
    if not isinstance(prefix, str) or not _NAME.match(prefix):
        raise ConfigurationError(
            f"prefix must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got {prefix!r}"
        )
    for name, bounds in (
        ("duration_buckets", duration_buckets),
        ("lateness_buckets", lateness_buckets),
    ):
        _check_bounds(name, bounds)
    return Metrics(
        quiv,
        REGISTRY if registry is None else registry,
        prefix,
        duration_buckets,
        lateness_buckets,
    )


def _check_bounds(name: str, bounds: Sequence[float]) -> None:
    try:
        values = [float(b) for b in bounds]
    except (TypeError, ValueError):
        values = []
    if (
        not values
        or any(isinstance(b, bool) for b in bounds)
        or not all(math.isfinite(v) for v in values)
        or any(a >= b for a, b in itertools.pairwise(values))
    ):
        raise ConfigurationError(
            f"{name} must be increasing finite numbers of seconds (+Inf is added), got {bounds!r}"
        )
