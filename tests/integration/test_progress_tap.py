"""The internal progress tap (``_progress``): every job's reports reach its observers, with the
job's id, whether or not the task has a callback, on threads and from process jobs."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from quiv import Quiv

from . import _process_handlers as handlers
from ._helpers import WAIT, Recorder


def _tap(q: Quiv) -> Any:
    return q._listeners.progress


@pytest.fixture
def q(quiv):
    instance = quiv(pool_size=2)
    instance.start()
    return instance


def test_reports_of_a_task_without_callback_reach_the_observer_with_the_job_id(q) -> None:
    seen = Recorder()
    _tap(q).subscribe(seen)

    def handler(_progress_hook: Any) -> None:
        _progress_hook(0.5)
        _progress_hook(done=2, total=4)

    task_id = q.add_task("t", handler, run_once=True)
    job_id = q.wait_for_task(task_id, timeout=WAIT).id
    seen.wait_for(2)
    assert seen.calls == [
        (task_id, job_id, (0.5,), {}),
        (task_id, job_id, (), {"done": 2, "total": 4}),
    ]


def test_the_task_callback_still_gets_every_report_and_the_observer_goes_first(q) -> None:
    order: list[str] = []
    lock = threading.Lock()

    def observer(*_: Any) -> None:
        with lock:
            order.append("observer")

    def callback(*_: Any) -> None:
        with lock:
            order.append("callback")

    _tap(q).subscribe(observer)
    task_id = q.add_task("t", lambda _progress_hook: _progress_hook(1), run_once=True,
                         progress_callback=callback)  # fmt: skip
    q.wait_for_task(task_id, timeout=WAIT)
    assert order == ["observer", "callback"]


def test_unsubscribed_observers_see_nothing_more(q) -> None:
    seen = Recorder()
    tap = _tap(q)
    tap.subscribe(seen)
    tap.unsubscribe(seen)
    tap.unsubscribe(seen)  # unknown: ignored
    assert tap.observers == ()
    task_id = q.add_task("t", lambda _progress_hook: _progress_hook(1), run_once=True)
    q.wait_for_task(task_id, timeout=WAIT)
    assert seen.calls == []


def test_a_failing_observer_is_logged_and_the_job_completes(q, caplog) -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("observer down")

    seen = Recorder()
    _tap(q).subscribe(broken)
    _tap(q).subscribe(seen)
    with caplog.at_level(logging.ERROR, logger="Quiv"):
        task_id = q.add_task("t", lambda _progress_hook: _progress_hook(1), run_once=True)
        job = q.wait_for_task(task_id, timeout=WAIT)
    assert job.status == "completed"
    assert len(seen) == 1  # the next observer still ran
    assert any("progress observer" in r.getMessage() for r in caplog.records)


def test_run_progress_callback_reports_for_the_task_without_a_job(q) -> None:
    seen = Recorder()
    _tap(q).subscribe(seen)
    task_id = q.add_task("t", lambda: None, interval=3600, delay=3600)
    q.run_progress_callback(task_id, 3, of=10)
    assert seen.calls == [(task_id, None, (3,), {"of": 10})]


def test_reports_of_a_process_job_reach_the_observer(q) -> None:
    seen = Recorder()
    _tap(q).subscribe(seen)
    task_id = q.add_task("r", handlers.report, run_once=True, kwargs={"count": 3},
                         executor="process")  # fmt: skip
    job = q.wait_for_task(task_id, timeout=WAIT)
    seen.wait_for(3)
    assert seen.calls == [(task_id, job.id, (i,), {"of": 3}) for i in range(3)]
