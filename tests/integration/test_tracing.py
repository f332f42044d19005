"""``quiv.tracing``: a span per job, current while its handler runs, with its attributes,
its status, and a link to the span that asked for the run; read from an in-memory
exporter of the OpenTelemetry SDK."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from quiv import ConfigurationError, JobStatus, Quiv, RetryPolicy
from quiv.testing import FakeClock, wait_until
from quiv.tracing import instrument

from . import _process_handlers as handlers
from ._helpers import WAIT, advance, quiesce


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def tracer(provider) -> trace.Tracer:
    return provider.get_tracer("the app")


@pytest.fixture
def q(quiv, clock, provider) -> Quiv:
    instance: Quiv = quiv(clock=clock, pool_size=2)
    instrument(instance, tracer_provider=provider)
    instance.start()
    return instance


def _job_spans(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    """The finished job spans, by job id."""
    return {
        str(s.attributes["quiv.job.id"]): s
        for s in exporter.get_finished_spans()
        if s.attributes is not None and "quiv.job.id" in s.attributes
    }


def _ns(when) -> int:
    return round(when.timestamp() * 1e9)


def test_a_span_wraps_the_handler_and_links_to_the_span_that_added_the_task(
    q, tracer, exporter, clock
) -> None:
    def handler() -> None:
        clock.advance(2)
        with tracer.start_as_current_span("inside"):
            pass

    with tracer.start_as_current_span("request") as request:
        task_id = q.add_task("nightly", handler, run_once=True)
    job = q.wait_for_task(task_id, timeout=WAIT)
    span = _job_spans(exporter)[job.id]
    assert span.name == "quiv.job nightly"
    assert dict(span.attributes or {}) == {
        "quiv.task.name": "nightly",
        "quiv.task.id": task_id,
        "quiv.job.id": job.id,
        "quiv.job.attempt": 1,
        "quiv.job.executor": "thread",
        "quiv.job.status": "completed",
    }
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None  # a root: the job is not part of the request
    assert [link.context for link in span.links] == [request.get_span_context()]
    assert (span.start_time, span.end_time) == (_ns(job.started_at), _ns(job.ended_at))
    assert span.end_time - span.start_time == 2_000_000_000  # type: ignore[operator]
    (inside,) = [s for s in exporter.get_finished_spans() if s.name == "inside"]
    assert inside.parent is not None
    assert inside.parent.span_id == span.context.span_id  # type: ignore[union-attr]
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left current here


def test_an_async_handler_on_a_worker_sees_the_span(q, tracer, exporter) -> None:
    async def handler() -> None:
        await asyncio.sleep(0)
        with tracer.start_as_current_span("inside"):
            pass

    job = q.wait_for_task(q.add_task("async", handler, run_once=True), timeout=WAIT)
    span = _job_spans(exporter)[job.id]
    (inside,) = [s for s in exporter.get_finished_spans() if s.name == "inside"]
    assert inside.parent.span_id == span.context.span_id  # type: ignore[union-attr]


def test_a_failed_attempt_and_a_failure_are_errors_with_their_exception(q, exporter) -> None:
    def fails() -> None:
        raise KeyError("no such thing")

    policy = RetryPolicy(max_retries=1, backoff=0)
    last = q.wait_for_task(q.add_task("fails", fails, run_once=True, retries=policy), WAIT)
    spans = _job_spans(exporter)
    first, second = spans[last.retry_of], spans[last.id]  # type: ignore[index]
    assert (first.attributes or {})["quiv.job.status"] == "retried"
    assert (second.attributes or {})["quiv.job.status"] == "failed"
    assert (second.attributes or {})["quiv.job.attempt"] == 2
    for span in (first, second):
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "'no such thing'"  # the job's error_message
        (event,) = span.events
        assert event.name == "exception"
        assert (event.attributes or {})["exception.type"] == "KeyError"


def test_cancelled_is_not_an_error_and_timed_out_is(q, exporter, clock) -> None:
    def cooperative(_stop_event: threading.Event) -> None:
        _stop_event.wait(WAIT)

    cancelled = q.add_task("cancelled", cooperative, run_once=True)
    timed = q.add_task("timed", cooperative, run_once=True, timeout=5)
    wait_until(lambda: len(q.get_all_jobs(status=JobStatus.RUNNING)) == 2, WAIT)
    (running,) = [j for j in q.get_all_jobs(status=JobStatus.RUNNING) if j.task_id == cancelled]
    q.cancel_job(running.id)
    advance(q, clock, 5)
    assert q.wait_for_task(timed, timeout=WAIT).status == JobStatus.TIMED_OUT
    quiesce(q)
    by_task = {s.attributes["quiv.task.name"]: s for s in _job_spans(exporter).values()}  # type: ignore[index]
    assert by_task["cancelled"].status.status_code is StatusCode.UNSET
    assert (by_task["cancelled"].attributes or {})["quiv.job.status"] == "cancelled"
    assert by_task["timed"].status.status_code is StatusCode.ERROR
    assert by_task["timed"].status.description == "timed_out"
    assert (by_task["timed"].attributes or {})["quiv.job.status"] == "timed_out"
    assert not by_task["timed"].events  # no exception: it returned, late


def test_a_run_asked_for_links_to_its_own_caller(q, tracer, exporter) -> None:
    with tracer.start_as_current_span("registration") as registration:
        task_id = q.add_task("t", lambda: None, interval=3600, delay=3600)
    with tracer.start_as_current_span("run_task") as asked:
        job = q.wait_for_job(q.run_task(task_id), timeout=WAIT)
    with tracer.start_as_current_span("run now") as now:
        q.run_task_immediately(task_id)
    quiesce(q)
    spans = _job_spans(exporter)
    assert [link.context for link in spans[job.id].links] == [asked.get_span_context()]
    (other,) = [s for job_id, s in spans.items() if job_id != job.id]
    assert [link.context for link in other.links] == [now.get_span_context()]
    assert registration.get_span_context() not in [
        link.context for s in spans.values() for link in s.links
    ]


def test_without_a_current_span_there_is_no_link(q, exporter) -> None:
    job = q.wait_for_task(q.add_task("t", lambda: None, run_once=True), timeout=WAIT)
    assert _job_spans(exporter)[job.id].links == ()


def test_a_process_job_gets_its_span_in_this_process(quiv, provider, tracer, exporter) -> None:
    q: Quiv = quiv(pool_size=2)
    instrument(q, tracer_provider=provider)
    q.start()
    with tracer.start_as_current_span("request") as request:
        task_id = q.add_task("pid", handlers.pid, run_once=True, executor="process")
    job = q.wait_for_task(task_id, timeout=WAIT)
    span = _job_spans(exporter)[job.id]
    assert (span.attributes or {})["quiv.job.executor"] == "process"
    assert (span.attributes or {})["quiv.job.status"] == "completed"
    assert [link.context for link in span.links] == [request.get_span_context()]


def test_a_main_loop_job_span_is_current_in_its_coroutine(quiv, provider, tracer, exporter):
    async def main() -> None:
        q: Quiv = quiv()
        instrument(q, tracer_provider=provider)
        q.start()

        async def handler() -> None:
            await asyncio.sleep(0)
            with tracer.start_as_current_span("inside"):
                pass

        task_id = q.add_task("loop", handler, interval=3600, delay=3600, on_main_loop=True)
        job = await q.wait_for_job_async(q.run_task(task_id), timeout=WAIT)
        span = _job_spans(exporter)[job.id]
        assert (span.attributes or {})["quiv.job.executor"] == "main_loop"
        (inside,) = [s for s in exporter.get_finished_spans() if s.name == "inside"]
        assert inside.parent.span_id == span.context.span_id  # type: ignore[union-attr]

    asyncio.run(main())


def test_detaching_stops_the_spans_and_ends_the_one_in_flight(quiv, provider, exporter, gate):
    q: Quiv = quiv(clock=FakeClock())
    tracing = instrument(q, tracer_provider=provider)
    q.start()
    release = gate()
    entered = threading.Event()
    seen: list[bool] = []

    def blocker() -> None:
        entered.set()
        release.wait(WAIT)
        seen.append(trace.get_current_span().is_recording())

    in_flight = q.add_task("blocker", blocker, run_once=True)
    assert entered.wait(WAIT)
    tracing.detach()
    tracing.detach()  # again: nothing happens
    release.set()
    job = q.wait_for_task(in_flight, timeout=WAIT)
    assert seen == [True]  # it stayed current until the handler returned
    span = _job_spans(exporter)[job.id]
    assert "quiv.job.status" not in (span.attributes or {})  # ended without its end
    after = q.wait_for_task(q.add_task("after", lambda: None, run_once=True), timeout=WAIT)
    assert after.id not in _job_spans(exporter)
    assert q._scheduler.instruments.observers == ()


def test_instrument_takes_a_quiv() -> None:
    with pytest.raises(ConfigurationError, match="instrument takes a Quiv, got NoneType"):
        instrument(None)  # type: ignore[arg-type]
