"""Tasks: add, read, pause, resume, remove and run now, also while a job of the task runs."""

from __future__ import annotations

import threading
import uuid

import pytest

from quiv import (
    Event,
    HandlerNotRegisteredError,
    JobStatus,
    Task,
    TaskNotFoundError,
    TaskNotScheduledError,
    TaskStatus,
)
from quiv.testing import FakeClock, settle, wait_until

from ._helpers import WAIT, Recorder, Runs, advance, at, quiesce, step_to


class Blocking:
    """A handler whose runs block on a gate until the test opens it (one gate per run).

    ``times`` holds the fake clock's time at the start of each run and ``active`` how many
    runs are inside the handler now; ``max_active`` is the most there ever were.
    """

    def __init__(self, clock: FakeClock, gate) -> None:
        self._clock = clock
        self._gate = gate
        self._lock = threading.Lock()
        self.times: list[float] = []
        self.gates: list[threading.Event] = []
        self.active = 0
        self.max_active = 0
        self.stop_events: list[threading.Event] = []

    def __call__(self, _stop_event: threading.Event) -> None:
        with self._lock:
            self.times.append(self._clock.monotonic())
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.stop_events.append(_stop_event)
            if len(self.gates) < len(self.times):
                self.gates.append(self._gate())
            gate = self.gates[len(self.times) - 1]
        try:
            gate.wait(WAIT)
        finally:
            with self._lock:
                self.active -= 1

    def wait_runs(self, count: int) -> None:
        wait_until(lambda: len(self.times) >= count, WAIT)

    def release(self, run: int) -> None:
        """Open the gate of run number ``run`` (1-based), created ahead if need be."""
        with self._lock:
            while len(self.gates) < run:
                self.gates.append(self._gate())
            self.gates[run - 1].set()


def _noop() -> None:
    pass


@pytest.fixture
def q(quiv, clock):
    instance = quiv(clock=clock)
    instance.start()
    return instance


def test_add_task_returns_a_uuid_and_stores_the_task(q) -> None:
    task_id = q.add_task(
        "report",
        _noop,
        interval=30,
        delay=5,
        fixed_interval=False,
        args=(1, "two"),
        kwargs={"three": 3.0},
    )
    assert isinstance(task_id, str)
    assert str(uuid.UUID(task_id)) == task_id
    task = q.get_task(task_id)
    assert isinstance(task, Task)
    assert task.id == task_id
    assert task.task_name == "report"
    assert task.args == (1, "two")
    assert task.kwargs == {"three": 3.0}
    assert task.interval_seconds == 30
    assert task.fixed_interval is False
    assert task.run_once is False
    assert task.status == TaskStatus.ACTIVE.value
    assert task.next_run_at == at(5)


def test_task_ids_are_unique_and_names_may_repeat(q) -> None:
    ids = [q.add_task("same", _noop, interval=60, delay=60) for _ in range(5)]
    assert len(set(ids)) == 5
    assert [t.id for t in q.get_all_tasks()] == ids


def test_handler_gets_args_and_kwargs(q) -> None:
    calls = []

    def handler(a, b, *, k):
        calls.append((a, b, k))

    q.add_task("args", handler, interval=60, args=(1, [2]), kwargs={"k": "v"})
    quiesce(q)
    assert calls == [(1, [2], "v")]


def test_get_all_tasks_in_order_and_run_once_only_on_request(q) -> None:
    a = q.add_task("a", _noop, interval=60, delay=60)
    once = q.add_task("once", _noop, interval=60, delay=60, run_once=True)
    b = q.add_task("b", _noop, interval=60, delay=60)
    assert [t.id for t in q.get_all_tasks()] == [a, b]
    assert [t.id for t in q.get_all_tasks(include_run_once=True)] == [a, once, b]
    assert q.get_task(once).run_once is True


def test_run_once_task_runs_once_after_its_delay_then_is_gone(q, clock) -> None:
    runs = Runs(clock)
    task_id = q.add_task("once", runs, interval=1, delay=3, run_once=True)
    step_to(q, clock, 2)
    assert runs.times == []
    step_to(q, clock, 10)
    assert runs.times == [3.0]
    with pytest.raises(TaskNotFoundError):
        q.get_task(task_id)
    assert q.get_all_tasks(include_run_once=True) == []
    (job,) = q.get_all_jobs()
    assert job.task_id == task_id
    assert job.status == JobStatus.COMPLETED.value
    with pytest.raises(TaskNotScheduledError):
        q.run_task_immediately(task_id)
    with pytest.raises(TaskNotFoundError):
        q.pause_task(task_id)


def test_failed_run_once_task_is_gone_too(q) -> None:
    def boom() -> None:
        raise ValueError("boom")

    task_id = q.add_task("once", boom, interval=1, run_once=True)
    quiesce(q)
    assert [j.status for j in q.get_all_jobs()] == [JobStatus.FAILED.value]
    with pytest.raises(TaskNotFoundError):
        q.get_task(task_id)


def test_pause_stops_runs_and_resume_restarts_them(q, clock) -> None:
    runs = Runs(clock)
    task_id = q.add_task("t", runs, interval=2)
    step_to(q, clock, 3)
    assert runs.times == [0.0, 2.0]
    q.pause_task(task_id)
    assert q.get_task(task_id).status == TaskStatus.PAUSED.value
    q.pause_task(task_id)  # pausing twice is harmless
    step_to(q, clock, 20)
    assert runs.times == [0.0, 2.0]
    q.resume_task(task_id)
    quiesce(q)
    assert runs.times == [0.0, 2.0, 20.0]
    assert q.get_task(task_id).status == TaskStatus.ACTIVE.value
    step_to(q, clock, 24)
    assert runs.times == [0.0, 2.0, 20.0, 22.0, 24.0]


def test_resume_delay(q, clock) -> None:
    runs = Runs(clock)
    task_id = q.add_task("t", runs, interval=10)
    step_to(q, clock, 3)
    q.pause_task(task_id)
    step_to(q, clock, 5)
    q.resume_task(task_id, delay=4)
    settle(q)
    assert q.get_task(task_id).next_run_at == at(9)
    step_to(q, clock, 8)
    assert runs.times == [0.0]
    step_to(q, clock, 30)
    assert runs.times == [0.0, 9.0, 19.0, 29.0]


def test_remove_task(q, clock) -> None:
    runs = Runs(clock)
    removed = Recorder()
    q.add_listener(Event.TASK_REMOVED, removed)
    task_id = q.add_task("t", runs, interval=2)
    step_to(q, clock, 2)
    q.remove_task(task_id)
    with pytest.raises(TaskNotFoundError):
        q.get_task(task_id)
    with pytest.raises(TaskNotFoundError):
        q.remove_task(task_id)
    step_to(q, clock, 10)
    assert runs.times == [0.0, 2.0]
    assert q.get_all_tasks() == []
    assert len(q.get_all_jobs()) == 2  # the history outlives the task
    with pytest.raises(TaskNotScheduledError):
        q.run_task_immediately(task_id)
    removed.wait_for(1)
    assert removed.calls[0][1].id == task_id


def test_run_task_immediately_runs_now(q, clock) -> None:
    runs = Runs(clock)
    task_id = q.add_task("t", runs, interval=10)
    step_to(q, clock, 3)
    assert q.run_task_immediately(task_id) == 1
    quiesce(q)
    assert runs.times == [0.0, 3.0]
    assert q.get_task(task_id).status == TaskStatus.ACTIVE.value


def test_run_task_immediately_before_the_first_delay(q, clock) -> None:
    runs = Runs(clock)
    task_id = q.add_task("t", runs, interval=10, delay=100)
    assert q.run_task_immediately(task_id) == 1
    quiesce(q)
    assert runs.times == [0.0]


def test_run_task_immediately_on_a_paused_task_runs_once_and_it_stays_paused(q, clock) -> None:
    runs = Runs(clock)
    task_id = q.add_task("t", runs, interval=2)
    quiesce(q)
    q.pause_task(task_id)
    step_to(q, clock, 5)
    assert q.run_task_immediately(task_id) == 1
    quiesce(q)
    assert runs.times == [0.0, 5.0]
    assert q.get_task(task_id).status == TaskStatus.PAUSED.value
    step_to(q, clock, 30)
    assert runs.times == [0.0, 5.0]


def test_run_now_on_a_paused_task_while_it_runs(q, clock, gate) -> None:
    handler = Blocking(clock, gate)
    task_id = q.add_task("t", handler, interval=2)
    handler.wait_runs(1)
    q.pause_task(task_id)
    assert q.get_task(task_id).status == TaskStatus.PAUSED.value
    q.run_task_immediately(task_id)
    advance(q, clock, 1)
    assert handler.times == [0.0]
    handler.release(1)
    handler.release(2)
    handler.wait_runs(2)
    quiesce(q)
    assert handler.times == [0.0, 1.0]
    assert q.get_task(task_id).status == TaskStatus.PAUSED.value
    step_to(q, clock, 20)
    assert handler.times == [0.0, 1.0]
    assert handler.max_active == 1


def test_run_now_during_a_run_gives_exactly_one_follow_up_run(q, clock, gate) -> None:
    handler = Blocking(clock, gate)
    task_id = q.add_task("t", handler, interval=10)
    handler.wait_runs(1)
    assert q.get_task(task_id).status == TaskStatus.RUNNING.value
    for _ in range(3):
        assert q.run_task_immediately(task_id) == 1
    advance(q, clock, 4)
    assert q.statistics().running_jobs == 1
    assert handler.times == [0.0]
    handler.release(1)
    handler.wait_runs(2)
    handler.release(2)
    quiesce(q)
    assert handler.times == [0.0, 4.0]
    assert handler.max_active == 1
    assert [j.status for j in q.get_all_jobs()] == ["completed", "completed"]
    assert q.get_task(task_id).status == TaskStatus.ACTIVE.value


def test_pause_during_a_run_is_kept_after_the_run(q, clock, gate) -> None:
    handler = Blocking(clock, gate)
    task_id = q.add_task("t", handler, interval=2)
    handler.wait_runs(1)
    q.pause_task(task_id)
    assert q.get_task(task_id).status == TaskStatus.PAUSED.value
    advance(q, clock, 5)
    handler.release(1)
    quiesce(q)
    assert q.get_task(task_id).status == TaskStatus.PAUSED.value
    assert [j.status for j in q.get_all_jobs()] == ["completed"]
    step_to(q, clock, 30)
    assert handler.times == [0.0]


def test_resume_during_a_run_never_overlaps(q, clock, gate) -> None:
    handler = Blocking(clock, gate)
    task_id = q.add_task("t", handler, interval=10)
    handler.wait_runs(1)
    q.pause_task(task_id)
    q.resume_task(task_id)
    q.resume_task(task_id)
    assert q.get_task(task_id).status == TaskStatus.RUNNING.value
    advance(q, clock, 3)
    assert q.statistics().running_jobs == 1
    assert handler.times == [0.0]
    handler.release(1)
    handler.wait_runs(2)  # the resume asked for a run now: it follows the running one
    handler.release(2)
    quiesce(q)
    assert handler.times == [0.0, 3.0]
    assert handler.max_active == 1
    assert q.get_task(task_id).status == TaskStatus.ACTIVE.value


def test_resume_with_delay_during_a_run(q, clock, gate) -> None:
    handler = Blocking(clock, gate)
    task_id = q.add_task("t", handler, interval=10)
    handler.wait_runs(1)
    q.pause_task(task_id)
    advance(q, clock, 1)
    q.resume_task(task_id, delay=5)  # next run due at 6, after the running job
    advance(q, clock, 1)
    handler.release(1)
    quiesce(q)
    step_to(q, clock, 5)
    assert handler.times == [0.0]
    handler.release(2)
    step_to(q, clock, 6)
    assert handler.times == [0.0, 6.0]


def test_remove_during_a_run_sets_the_stop_event(q, clock, gate) -> None:
    handler = Blocking(clock, gate)
    task_id = q.add_task("t", handler, interval=1)
    handler.wait_runs(1)
    q.remove_task(task_id)
    assert handler.stop_events[0].is_set()
    with pytest.raises(TaskNotFoundError):
        q.get_task(task_id)
    handler.release(1)
    quiesce(q)
    step_to(q, clock, 10)
    assert handler.times == [0.0]
    (job,) = q.get_all_jobs()
    assert job.status == JobStatus.CANCELLED.value
    with pytest.raises(TaskNotScheduledError):
        q.run_task_immediately(task_id)


def test_unknown_task_for_run_now_is_handler_not_registered(q) -> None:
    with pytest.raises(HandlerNotRegisteredError):
        q.run_task_immediately(str(uuid.uuid4()))


def test_a_task_never_runs_concurrently_with_itself(q, clock, gate) -> None:
    handler = Blocking(clock, gate)
    task_id = q.add_task("t", handler, interval=1, fixed_interval=False)
    for run in range(1, 6):
        handler.wait_runs(run)
        for _ in range(3):
            q.run_task_immediately(task_id)
            q.resume_task(task_id)
            clock.advance(1)
        settle(q)
        assert q.statistics().running_jobs == 1
        handler.release(run)
    handler.wait_runs(6)
    handler.release(6)
    quiesce(q)
    assert handler.max_active == 1
    assert len(handler.times) == 6
