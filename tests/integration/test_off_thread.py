"""Scheduler work done off the scheduler thread, while it sleeps with nothing queued.

``run_task_immediately``: the caller makes the run and hands its job to a worker itself (no
wake-up of the scheduler thread in between). A job's end: the worker that ran it records it
and starts what is due. Otherwise, both are queued for the scheduler thread, behind what came
first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from quiv import Event, JobStatus, SchedulerStateError
from quiv.testing import settle, wait_until

from ._helpers import WAIT, Recorder, Runs, quiesce


@pytest.fixture
def q(quiv, clock):
    instance = quiv(clock=clock)
    instance.start()
    return instance


def _queued(q: Any, method: str, keep: Callable[[Any], bool] = lambda _: True) -> list[Any]:
    """The commands handed to the scheduler thread from now on through ``method`` (``send``
    or ``post``) that ``keep`` picks; they still run."""
    queued: list[Any] = []
    real = getattr(q._scheduler, method)

    def queue(command: Any) -> None:
        if keep(command):
            queued.append(command)
        real(command)

    setattr(q._scheduler, method, queue)
    return queued


def _sends(q: Any) -> list[Any]:
    """The commands sent to the scheduler thread from now on."""
    return _queued(q, "send")


def _run_now_in_order(q: Any, clock: Any) -> tuple[Runs, str, list[str]]:
    """An idle task, and a list where run-now requests note when the scheduler takes them."""
    runs = Runs(clock)
    task_id = q.add_task("t", runs, interval=60, delay=60)
    settle(q)
    order: list[str] = []
    runs_of = q._scheduler.runs
    real_run_soon = runs_of.run_soon
    runs_of.run_soon = lambda task_id, *origin: (
        order.append("run now"),
        real_run_soon(task_id, *origin),
    )
    return runs, task_id, order


def test_a_sleeping_scheduler_is_not_needed_to_start_the_run(q, clock) -> None:
    runs = Runs(clock)
    started, completed = Recorder(), Recorder()
    q.add_listener(Event.JOB_STARTED, started)
    q.add_listener(Event.JOB_COMPLETED, completed)
    task_id = q.add_task("t", runs, interval=60, delay=60)
    settle(q)
    sent = _sends(q)
    assert q.run_task_immediately(task_id) == 1
    wait_until(lambda: len(runs.times) == 1, WAIT)
    assert sent == []  # handed over on this thread
    quiesce(q)
    completed.wait_for(1)
    [job] = q.get_all_jobs()
    assert job.status == JobStatus.COMPLETED.value
    assert started.calls[0][2].id == job.id
    # Its next run is planned from this one, as a run made by the scheduler thread is.
    assert q.get_task(task_id).status == "active"
    q._scheduler.call(q._scheduler.check)


def test_a_run_now_queued_behind_a_command_runs_after_it(q, clock) -> None:
    runs, task_id, order = _run_now_in_order(q, clock)
    scheduler = q._scheduler
    with scheduler.state_lock:  # the scheduler thread is busy: commands queue up
        scheduler.send(lambda: order.append("first"))
        assert q.run_task_immediately(task_id) == 1
        assert order == []
    wait_until(lambda: len(runs.times) == 1, WAIT)
    assert order == ["first", "run now"]


def test_a_run_now_right_after_add_task_runs(q, clock) -> None:
    """The add is still queued: the request goes behind it, not ahead of it."""
    runs = Runs(clock)
    task_id = q.add_task("t", runs, interval=60, delay=60)
    assert q.run_task_immediately(task_id) == 1
    wait_until(lambda: len(runs.times) == 1, WAIT)


def test_a_timeout_of_a_run_made_on_the_callers_thread_is_kept(quiv) -> None:
    """The scheduler thread slept until an hour from now; the job's timeout is earlier,
    so the caller wakes it to keep it (real clock)."""
    q = quiv()
    q.start()
    stopped = threading.Event()

    def handler(_stop_event: threading.Event) -> None:
        if _stop_event.wait(WAIT):
            stopped.set()

    task_id = q.add_task("t", handler, interval=3600, delay=3600, timeout=0.2)
    settle(q)
    sent = _sends(q)
    q.run_task_immediately(task_id)
    assert stopped.wait(WAIT), "the timeout never stopped the job"
    assert sent == []
    wait_until(lambda: q.get_all_jobs()[0].status == JobStatus.TIMED_OUT.value, WAIT)


def test_run_now_racing_shutdown_runs_or_refuses(quiv) -> None:
    q = quiv()
    q.start()
    task_id = q.add_task("t", lambda: None, interval=3600, delay=3600)
    settle(q)
    outcomes: list[str] = []
    going = threading.Event()

    def hammer() -> None:
        going.set()
        while True:
            try:
                q.run_task_immediately(task_id)
            except SchedulerStateError:
                outcomes.append("refused")
                return
            outcomes.append("ran")

    thread = threading.Thread(target=hammer)
    thread.start()
    going.wait(WAIT)
    q.shutdown(timeout=WAIT)
    thread.join(WAIT)
    assert not thread.is_alive()
    assert outcomes[-1] == "refused"


def test_a_run_now_goes_behind_a_command_still_in_the_queue(q, clock) -> None:
    """The scheduler thread sleeps, but a command waits in its queue (it was queued and
    not yet read): the request must not overtake it."""
    runs, task_id, order = _run_now_in_order(q, clock)
    q._scheduler.inbox.queue.append(lambda: order.append("first"))  # queued, its wake-up not yet
    assert q.run_task_immediately(task_id) == 1
    wait_until(lambda: len(runs.times) == 1, WAIT)
    assert order == ["first", "run now"]


# -- a job's end, recorded by the worker that ran it ---------------------------------------


def _posted(q: Any) -> list[Any]:
    """Jobs' ends posted to the scheduler thread from now on."""
    finish = q._scheduler.outcomes.finish
    return _queued(q, "post", lambda command: getattr(command, "func", None) == finish)


def test_a_worker_records_its_jobs_end_and_starts_the_next_due_run(quiv, clock, gate) -> None:
    """Pool of one, two runs due at once: the second waits for the first's worker, which,
    while the scheduler thread sleeps, records the end and hands the second run over."""
    q = quiv(clock=clock, pool_size=1)
    q.start()
    first_gate, runs = gate(), []

    def first() -> None:
        runs.append("first")
        first_gate.wait(WAIT)

    q.add_task("first", first, interval=60, run_once=True)
    q.add_task("second", lambda: runs.append("second"), interval=60, run_once=True)
    settle(q)
    wait_until(lambda: runs == ["first"], WAIT)
    settle(q)  # the second waits for a worker; the scheduler thread sleeps
    posted = _posted(q)
    first_gate.set()
    wait_until(lambda: runs == ["first", "second"], WAIT)
    quiesce(q)
    assert sorted(job.status for job in q.get_all_jobs()) == ["completed", "completed"]
    assert posted == []  # neither end went through the scheduler thread
    q._scheduler.call(q._scheduler.check)


def test_a_jobs_end_is_posted_while_the_scheduler_thread_is_busy(quiv, clock, gate) -> None:
    q = quiv(clock=clock)
    q.start()
    release = gate()
    q.add_task("t", lambda: release.wait(WAIT), interval=60, run_once=True)
    settle(q)
    wait_until(lambda: q.statistics().running_jobs == 1, WAIT)
    posted = _posted(q)
    scheduler = q._scheduler
    with scheduler.state_lock:  # busy: the worker cannot record the end itself
        release.set()
        wait_until(lambda: len(posted) == 1, WAIT)
    quiesce(q)
    assert [job.status for job in q.get_all_jobs()] == ["completed"]
