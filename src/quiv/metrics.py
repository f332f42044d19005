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
  ``Instrumentation`` attached to the scheduler (a few microseconds per job, where the
  handler starts and where its end is recorded). A job's duration is observed when its
  handler ran; its lateness when its handler starts: from the instant its run was due
  (planned, jitter included; for a run asked for now, the request) to its handler's
  first line, on the monotonic clock: the dispatch latency the benchmarks track.
- The gauges and the ``*_started``, ``*_late_starts`` and ``*_store_write_failures``
  counters are read from the scheduler when the registry is collected
  (``Quiv.statistics()`` and a count of tasks by status, O(tasks) on the scheduler thread:
  nothing is kept up to date between scrapes). Once the ``Quiv`` is shut down they are
  left out.
- prometheus-client adds its ``_created`` series to counters and histograms (unless the
  application turns them off), and ``_bucket``, ``_count`` and ``_sum`` to histograms.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
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


class _JobObserver:
    """The ``Instrumentation`` behind the counter and the histograms (see the module)."""

    def __init__(self, jobs: Counter, duration: Histogram, lateness: Histogram) -> None:
        self._jobs, self._duration, self._lateness = jobs, duration, lateness
        # Label children by label values: ``labels()`` takes a lock and checks its
        # arguments at every call; a dict read does not.
        self._ends: dict[tuple[str, str], Counter] = {}
        self._durations: dict[str, Histogram] = {}
        self._latenesses: dict[str, Histogram] = {}

    def capture(self) -> object | None:
        return None

    def job_started(self, run: JobRun, origin: object | None) -> None:
        lateness = run.lateness
        if lateness is None:
            return
        child = self._latenesses.get(run.task_name)
        if child is None:
            child = self._latenesses[run.task_name] = self._lateness.labels(run.task_name)
        child.observe(max(0.0, lateness))

    def handler_returned(self, run: JobRun) -> None:
        pass

    def job_ended(self, run: JobRun, end: JobEnd) -> None:
        key = (run.task_name, end.status)
        child = self._ends.get(key)
        if child is None:
            child = self._ends[key] = self._jobs.labels(*key)
        child.inc()
        if end.duration is not None:
            observed = self._durations.get(run.task_name)
            if observed is None:
                observed = self._durations[run.task_name] = self._duration.labels(run.task_name)
            observed.observe(end.duration)


class _SchedulerCollector(Collector):
    """The gauges and counters read from the scheduler at each collection."""

    def __init__(self, quiv: Quiv, prefix: str) -> None:
        self._quiv = weakref.ref(quiv)  # the registry must not keep a dropped Quiv alive
        self._prefix = prefix

    def describe(self) -> Iterable[Metric]:
        # What collect() yields, without its samples: registering reads no statistics.
        return list(self._families(None, {}))

    def collect(self) -> Iterable[Metric]:
        snapshot = self._snapshot()
        if snapshot is None:
            return []
        return list(self._families(*snapshot))

    def _snapshot(self) -> tuple[SchedulerStatistics, dict[str, int]] | None:
        quiv = self._quiv()
        if quiv is None or quiv.lifecycle in (Lifecycle.STOPPING, Lifecycle.STOPPED):
            return None
        scheduler = quiv._scheduler
        try:
            return scheduler.call(
                lambda: (scheduler.statistics(), scheduler.runs.tasks_by_status())
            )
        except QuivError:  # shut down meanwhile
            return None

    def _families(
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
        jobs = Counter(
            f"{prefix}_jobs",
            "Jobs ended, by task name and final status.",
            ["task", "status"],
            registry=None,
        )
        duration = Histogram(
            f"{prefix}_job_duration_seconds",
            "How long job handlers ran, by task name.",
            ["task"],
            registry=None,
            buckets=duration_buckets,
        )
        lateness = Histogram(
            f"{prefix}_job_start_lateness_seconds",
            "From when a run was due to when its handler started, by task name.",
            ["task"],
            registry=None,
            buckets=lateness_buckets,
        )
        self._collectors: list[Collector] = []
        for collector in (jobs, duration, lateness, _SchedulerCollector(quiv, prefix)):
            try:
                registry.register(collector)
            except ValueError as exc:
                self._unregister()
                raise ConfigurationError(
                    f"metrics named {prefix}_* are already registered on this registry "
                    f"({exc}): instrument each Quiv with a prefix= or a registry= of its own"
                ) from None
            self._collectors.append(collector)
        self._observer = _JobObserver(jobs, duration, lateness)
        quiv.add_instrumentation(self._observer)

    def detach(self) -> None:
        """Stop counting this ``Quiv``'s jobs and unregister every series; idempotent."""
        quiv = self._quiv()
        if quiv is not None:
            quiv.remove_instrumentation(self._observer)
        self._unregister()

    def _unregister(self) -> None:
        collectors, self._collectors = self._collectors, []
        for collector in collectors:
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
    module for the series). Returns the handle whose ``detach()`` undoes it. The buckets
    of the two histograms are in seconds (default ``DURATION_BUCKETS`` and
    ``LATENESS_BUCKETS`` of this module).

    ``ConfigurationError`` for a ``prefix`` that is not a Prometheus metric name, or when
    series of that prefix are already on the registry (two instrumented schedulers need
    a ``prefix`` or a ``registry`` each).
    """
    if not isinstance(quiv, Quiv):
        raise ConfigurationError(f"instrument takes a Quiv, got {type(quiv).__name__}")
    if not isinstance(prefix, str) or not _NAME.match(prefix):
        raise ConfigurationError(
            f"prefix must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got {prefix!r}"
        )
    return Metrics(
        quiv,
        REGISTRY if registry is None else registry,
        prefix,
        duration_buckets,
        lateness_buckets,
    )
