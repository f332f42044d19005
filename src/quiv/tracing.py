"""OpenTelemetry spans of a ``Quiv``'s jobs: ``quiv.tracing.instrument(quiv)`` (extra
``quiv[otel]``: the OpenTelemetry API only; the application sets up its SDK and exporters).

Each job whose handler runs gets one span, named ``quiv.job <task name>``:

- It starts just before the handler, on the thread the handler runs on, and is the current
  span while the handler runs, so the spans the handler makes are its children. A process
  job's span is in this process, around the worker thread that relays for the child.
- It is a root span (a job is not part of the request that scheduled it), with a link to
  the span that was current when the run was asked for: the ``run_task`` or
  ``run_task_immediately`` call that asked for this run, else the ``add_task`` call that
  registered the task (retries keep their first attempt's). No link when no span was
  current then.
- Attributes: ``quiv.task.name``, ``quiv.task.id``, ``quiv.job.id``, ``quiv.job.attempt``,
  ``quiv.job.executor`` (``thread``, ``process`` or ``main_loop``) and, once it ends,
  ``quiv.job.status`` (the job's final status).
- It ends when the job's end is recorded, at the job's end time: with status ERROR for
  ``failed``, ``retried`` (the attempt failed; the next one gets a span of its own) and
  ``timed_out``, the handler's exception recorded as an event; status unset for
  ``completed`` and ``cancelled``.

A job that never started (cancelled before, or missed) gets no span. Spans end where quiv
records a job's end (the scheduler thread), so give the tracer provider a
``BatchSpanProcessor``, as OpenTelemetry advises in production: a processor that exports
on the spot would hold that thread up. While tracing is not instrumented, quiv captures
nothing at ``add_task`` and the run calls.
"""

from __future__ import annotations

import threading
import weakref
from contextvars import Token

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, Status, StatusCode, Tracer

from . import __version__
from ._instruments import JobEnd, JobRun
from ._quiv import Quiv
from .exceptions import ConfigurationError

__all__ = ["Tracing", "instrument"]

# The final statuses whose span says ERROR.
_ERRORS = frozenset(("failed", "retried", "timed_out"))


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1e9)


class _SpanObserver:
    """The ``Instrumentation`` that makes the spans (see the module).

    ``_open`` holds each started job's span and, until its handler returns, the token that
    made it current; ``_lock`` makes a detach and a job's last steps agree on who ends it.
    """

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        self._lock = threading.Lock()
        self._open: dict[str, tuple[Span, Token[Context] | None]] = {}
        self._detached = False

    def capture(self) -> object | None:
        span_context = trace.get_current_span().get_span_context()
        return span_context if span_context.is_valid else None

    def job_started(self, run: JobRun, origin: object | None) -> None:
        span = self._tracer.start_span(
            f"quiv.job {run.task_name}",
            context=Context(),  # a root, whatever the thread's context holds
            attributes={
                "quiv.task.name": run.task_name,
                "quiv.task.id": run.task_id,
                "quiv.job.id": run.job_id,
                "quiv.job.attempt": run.attempt,
                "quiv.job.executor": run.executor,
            },
            links=[Link(origin)] if isinstance(origin, SpanContext) else None,
            start_time=_ns(run.started_at),
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        with self._lock:
            self._open[run.job_id] = (span, token)

    def handler_returned(self, run: JobRun) -> None:
        with self._lock:
            entry = self._open.get(run.job_id)
            if entry is None:
                return
            span, token = entry
            ending = self._detached  # no job_ended will come: end it now
            if ending:
                del self._open[run.job_id]
            else:
                self._open[run.job_id] = (span, None)
        if token is not None:
            otel_context.detach(token)
        if ending:
            span.end()

    def job_ended(self, run: JobRun, end: JobEnd) -> None:
        with self._lock:
            entry = self._open.pop(run.job_id, None)
        if entry is None:  # it never started, or started before tracing was instrumented
            return
        span = entry[0]
        span.set_attribute("quiv.job.status", end.status)
        if end.status in _ERRORS:
            if end.exception is not None:
                span.record_exception(end.exception, timestamp=_ns(end.ended_at))
            span.set_status(Status(StatusCode.ERROR, end.error or end.status))
        span.end(end_time=_ns(end.ended_at))

    def detach(self) -> None:
        """End the spans of jobs whose handler has returned (their end would not come);
        those still in their handler end when it returns."""
        with self._lock:
            self._detached = True
            done = [job for job, (_, token) in self._open.items() if token is None]
            spans = [self._open.pop(job)[0] for job in done]
        for span in spans:
            span.end()


class Tracing:
    """The spans of one ``Quiv``'s jobs, from ``instrument``: ``detach()`` stops them."""

    def __init__(self, quiv: Quiv, tracer: Tracer) -> None:
        self.tracer = tracer
        self._quiv = weakref.ref(quiv)
        self._observer = _SpanObserver(tracer)
        quiv.add_instrumentation(self._observer)

    def detach(self) -> None:
        """Make no more spans; idempotent. A job in its handler now still gets its span
        ended (without its final status) when the handler returns."""
        quiv = self._quiv()
        if quiv is not None:
            quiv.remove_instrumentation(self._observer)
        self._observer.detach()


def instrument(quiv: Quiv, *, tracer_provider: trace.TracerProvider | None = None) -> Tracing:
    """Make a span of each of ``quiv``'s jobs (see the module) with a tracer of
    ``tracer_provider`` (default: the global one, as ``trace.set_tracer_provider`` set it,
    even later). Returns the handle whose ``detach()`` undoes it."""
    if not isinstance(quiv, Quiv):
        raise ConfigurationError(f"instrument takes a Quiv, got {type(quiv).__name__}")
    tracer = trace.get_tracer("quiv", __version__, tracer_provider=tracer_provider)
    return Tracing(quiv, tracer)
