"""``quiv.metrics``: the Prometheus exposition parses and holds every documented series, with
the values that jobs of known outcomes (on a fake clock) must give; detaching takes it all
back."""

from __future__ import annotations

import doctest
import pathlib
import re
import threading

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from quiv import ConfigurationError, JobStatus, Quiv
from quiv import metrics as quiv_metrics
from quiv.metrics import instrument
from quiv.testing import FakeClock

from ._helpers import WAIT, advance, quiesce

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _scrape(registry: CollectorRegistry) -> tuple[dict[str, str], Samples]:
    """The registry's exposition, parsed: each family's type, and every sample's value."""
    text = generate_latest(registry).decode()
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return types, samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def _documented() -> list[str]:
    """The series named in ``quiv.metrics``' docstring table."""
    assert quiv_metrics.__doc__ is not None
    return re.findall(r"^``(quiv_\w+)``", quiv_metrics.__doc__, re.MULTILINE)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_the_documented_series_cover_every_kind() -> None:
    assert len(_documented()) == 12


def test_the_guide_lists_the_documented_series_with_their_kinds() -> None:
    guide = pathlib.Path(__file__).resolve().parents[2] / "docs/guides/dashboard-and-metrics.md"
    rows = re.findall(r"^\| `(quiv_\w+)` \| (\w+) \|", guide.read_text(), re.MULTILINE)
    doc = quiv_metrics.__doc__ or ""
    assert rows == [(name, doc.split(f"``{name}``", 1)[1].split()[0]) for name in _documented()]


def test_the_exposition_has_every_series_with_the_values_of_known_jobs(
    quiv, registry, gate
) -> None:
    clock = FakeClock()
    q: Quiv = quiv(clock=clock, pool_size=1)
    instrument(q, registry=registry)
    q.start()

    def ok() -> None:
        clock.advance(0.5)  # its duration

    def bad() -> None:
        raise ValueError("no")

    entered = threading.Event()

    def stop(_stop_event: threading.Event) -> None:
        entered.set()
        _stop_event.wait(WAIT)

    assert q.wait_for_task(q.add_task("ok", ok, run_once=True), WAIT).status == "completed"
    assert q.wait_for_task(q.add_task("bad", bad, run_once=True), WAIT).status == "failed"
    stop_id = q.add_task("stop", stop, run_once=True)
    assert entered.wait(WAIT)
    q.add_task("late", lambda: None, run_once=True, delay=1)  # due at 1.5
    advance(q, clock, 3)  # 3.5: the one worker is busy, the late run waits

    types, samples = _scrape(registry)
    assert _value(samples, "quiv_jobs_running") == 1
    assert _value(samples, "quiv_process_jobs_running") == 0
    assert _value(samples, "quiv_workers_free") == 0
    assert _value(samples, "quiv_processes_free") == 2
    assert _value(samples, "quiv_jobs_queued") == 1
    assert q.statistics().queued_runs == 1
    assert _value(samples, "quiv_tasks", status="running") == 1
    assert _value(samples, "quiv_tasks", status="active") == 1
    assert _value(samples, "quiv_tasks", status="paused") == 0
    # A start's lateness is counted when its handler starts, before its end.
    assert _value(samples, "quiv_job_start_lateness_seconds_count", task="stop") == 1
    assert ("quiv_job_duration_seconds_count", frozenset({("task", "stop")})) not in samples

    (running,) = q.get_all_jobs(status=JobStatus.RUNNING, task_id=stop_id)
    assert q.cancel_job(running.id)
    quiesce(q)

    types, samples = _scrape(registry)
    for name in _documented():  # every documented series is there, of its documented kind
        family = name.removesuffix("_total")
        assert family in types, name
        kind = quiv_metrics.__doc__.split(f"``{name}``", 1)[1].split()[0]  # type: ignore[union-attr]
        assert types[family] == kind, name
    jobs = {
        (dict(labels)["task"], dict(labels)["status"]): value
        for (name, labels), value in samples.items()
        if name == "quiv_jobs_total"
    }
    assert jobs == {
        ("ok", "completed"): 1,
        ("bad", "failed"): 1,
        ("stop", "cancelled"): 1,
        ("late", "completed"): 1,
    }
    durations = {"ok": 0.5, "bad": 0.0, "stop": 3.0, "late": 0.0}
    for task, seconds in durations.items():
        assert _value(samples, "quiv_job_duration_seconds_count", task=task) == 1
        assert _value(samples, "quiv_job_duration_seconds_sum", task=task) == seconds
    assert _value(samples, "quiv_job_duration_seconds_bucket", task="ok", le="0.1") == 0
    assert _value(samples, "quiv_job_duration_seconds_bucket", task="ok", le="0.5") == 1
    assert _value(samples, "quiv_job_duration_seconds_bucket", task="stop", le="1.0") == 0
    assert _value(samples, "quiv_job_duration_seconds_bucket", task="stop", le="5.0") == 1
    for task in ("ok", "bad", "stop"):
        assert _value(samples, "quiv_job_start_lateness_seconds_sum", task=task) == 0
    assert _value(samples, "quiv_job_start_lateness_seconds_count", task="late") == 1
    assert _value(samples, "quiv_job_start_lateness_seconds_sum", task="late") == 2.0
    assert _value(samples, "quiv_job_start_lateness_seconds_bucket", task="late", le="1.0") == 0
    assert _value(samples, "quiv_job_start_lateness_seconds_bucket", task="late", le="5.0") == 1
    assert _value(samples, "quiv_jobs_started_total") == 4
    assert _value(samples, "quiv_late_starts_total") == 1  # 2 s late: over the 1 s mark
    assert _value(samples, "quiv_store_write_failures_total") == 0
    assert _value(samples, "quiv_jobs_running") == 0
    assert _value(samples, "quiv_workers_free") == 1
    assert _value(samples, "quiv_jobs_queued") == 0
    assert all(_value(samples, "quiv_tasks", status=s) == 0 for s in ("active", "running"))


def test_detaching_stops_counting_and_unregisters_every_series(quiv, registry) -> None:
    q: Quiv = quiv()
    metrics = instrument(q, registry=registry)
    q.start()
    q.wait_for_task(q.add_task("t", lambda: None, run_once=True), WAIT)
    _, samples = _scrape(registry)
    assert _value(samples, "quiv_jobs_total", task="t", status="completed") == 1
    metrics.detach()
    metrics.detach()  # again: nothing happens
    assert _scrape(registry) == ({}, {})
    assert q._scheduler.instruments.observers == ()
    q.wait_for_task(q.add_task("t", lambda: None, run_once=True), WAIT)
    again = instrument(q, registry=registry)  # the names are free again; counting restarts
    _, samples = _scrape(registry)
    assert not any(name == "quiv_jobs_total" for name, _ in samples)
    again.detach()


def test_two_schedulers_need_a_prefix_or_a_registry_each(quiv, registry) -> None:
    first: Quiv = quiv()
    second: Quiv = quiv()
    instrument(first, registry=registry)
    with pytest.raises(ConfigurationError, match="already registered on this registry"):
        instrument(second, registry=registry)
    assert len(second._scheduler.instruments.observers) == 0  # nothing half-attached
    instrument(second, registry=registry, prefix="other")
    types, _ = _scrape(registry)
    assert {"quiv_jobs", "other_jobs", "quiv_workers_free", "other_workers_free"} <= set(types)


@pytest.mark.parametrize("prefix", ["", "1quiv", "quiv-jobs", "q u"])
def test_a_prefix_must_be_a_metric_name(quiv, registry, prefix) -> None:
    with pytest.raises(ConfigurationError, match="prefix must be a Prometheus metric name"):
        instrument(quiv(), registry=registry, prefix=prefix)


@pytest.mark.parametrize("bounds", [(), (1.0, 1.0), (2.0, 1.0), (1.0, float("inf")), ("a",)])
def test_bucket_bounds_must_increase(quiv, registry, bounds) -> None:
    with pytest.raises(ConfigurationError, match="lateness_buckets must be increasing"):
        instrument(quiv(), registry=registry, lateness_buckets=bounds)


def test_custom_buckets_are_exposed(quiv, registry) -> None:
    q: Quiv = quiv()
    instrument(q, registry=registry, duration_buckets=(1, 10))
    q.start()
    q.wait_for_task(q.add_task("t", lambda: None, run_once=True), WAIT)
    _, samples = _scrape(registry)
    les = sorted(
        dict(labels)["le"] for name, labels in samples if name == "quiv_job_duration_seconds_bucket"
    )
    assert les == ["+Inf", "1.0", "10.0"]


def test_instrument_takes_a_quiv(registry) -> None:
    with pytest.raises(ConfigurationError, match="instrument takes a Quiv, got str"):
        instrument("quiv", registry=registry)  # type: ignore[arg-type]


def test_a_stopped_scheduler_leaves_its_gauges_out(quiv, registry) -> None:
    q: Quiv = quiv()
    q.start()
    instrument(q, registry=registry)
    q.wait_for_task(q.add_task("t", lambda: None, run_once=True), WAIT)
    q.shutdown()
    types, samples = _scrape(registry)
    assert "quiv_workers_free" not in types
    assert _value(samples, "quiv_jobs_total", task="t", status="completed") == 1


def test_the_default_registry_is_the_global_one(quiv) -> None:
    metrics = instrument(quiv())
    try:
        assert metrics.registry is REGISTRY
        assert REGISTRY.get_sample_value("quiv_workers_free") == 10
    finally:
        metrics.detach()
    assert REGISTRY.get_sample_value("quiv_workers_free") is None


def test_module_doctest() -> None:
    assert doctest.testmod(quiv_metrics).failed == 0
