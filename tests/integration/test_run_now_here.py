"""``run_task_immediately`` on the caller's thread: while the scheduler thread sleeps with
nothing queued, the caller makes the run and hands its job to a worker itself (no wake-up
of the scheduler thread in between); otherwise the request is queued behind what came first.
"""

from __future__ import annotations

import threading
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


def _sends(q: Any) -> list[Any]:
    """The commands queued for the scheduler thread from now on (they still run)."""
    sent: list[Any] = []
    scheduler = q._scheduler
    real = scheduler.send

    def send(command: Any) -> None:
        sent.append(command)
        real(command)

    scheduler.send = send
    return sent


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
    runs = Runs(clock)
    task_id = q.add_task("t", runs, interval=60, delay=60)
    settle(q)
    order: list[str] = []
    scheduler = q._scheduler
    real_run_soon = scheduler.run_soon
    scheduler.run_soon = lambda task_id: (order.append("run now"), real_run_soon(task_id))
    with scheduler._state:  # the scheduler thread is busy: commands queue up
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
    runs = Runs(clock)
    task_id = q.add_task("t", runs, interval=60, delay=60)
    settle(q)
    order: list[str] = []
    scheduler = q._scheduler
    real_run_soon = scheduler.run_soon
    scheduler.run_soon = lambda task_id: (order.append("run now"), real_run_soon(task_id))
    scheduler._inbox.append(lambda: order.append("first"))  # queued, its wake-up not yet
    assert q.run_task_immediately(task_id) == 1
    wait_until(lambda: len(runs.times) == 1, WAIT)
    assert order == ["first", "run now"]
