"""``max_instances``: up to N jobs of one task at once, never N + 1, on a fake clock.

Handlers block on gates the test opens, so how many run at each instant is exact; the
scheduler's own invariants (``check``) are asserted after each step.
"""

from __future__ import annotations

import threading

import pytest

from quiv import ConfigurationError, Event, JobStatus, TaskStatus
from quiv.testing import FakeClock, settle, wait_until

from ._helpers import WAIT, advance, at, quiesce, stored_rows


class Held:
    """A handler whose every run blocks until the test releases it; counts how many run
    at once, and the most that ever did."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.starts: list[float] = []
        self.gates: list[threading.Event] = []
        self.stops: list[threading.Event] = []
        self.running = 0
        self.most = 0
        self.opened = False  # release_all: later runs return at once

    def __call__(self, _stop_event: threading.Event) -> None:
        gate = threading.Event()
        with self._lock:
            if self.opened:
                gate.set()
            self.starts.append(self._clock.monotonic())
            self.gates.append(gate)
            self.stops.append(_stop_event)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            while not gate.wait(0.01):
                if _stop_event.is_set():
                    return
        finally:
            with self._lock:
                self.running -= 1

    def release(self, index: int) -> None:
        self.gates[index].set()

    def release_all(self) -> None:
        with self._lock:
            self.opened = True
        for gate in list(self.gates):
            gate.set()


def assert_scheduler_consistent(q) -> None:
    """The scheduler's invariants hold (checked on its thread): among them, no task runs
    more jobs than its max_instances, and none that is full is on the timeline."""
    q._scheduler.call(q._scheduler.check)


@pytest.fixture
def q(quiv, clock):
    instance = quiv(clock=clock, pool_size=8)
    instance.start()
    return instance


def _step(q, clock, seconds: float = 1.0, held: Held | None = None) -> None:
    """Advance the clock; first, every started job's handler has read the clock (``held``)."""
    if held is not None:
        settle(q)
        wait_until(lambda: len(held.starts) == q.statistics().jobs_started, WAIT)
    advance(q, clock, seconds)
    assert_scheduler_consistent(q)


def _running(q, task_id: str) -> int:
    return len(q.get_all_jobs(task_id=task_id, status=JobStatus.RUNNING))


def test_three_overlap_and_never_a_fourth(q, clock) -> None:
    held = Held(clock)
    task_id = q.add_task("overlapping", held, interval=1, max_instances=3)
    for _ in range(6):
        _step(q, clock, held=held)
        wait_until(lambda: len(held.starts) >= min(3, int(clock.monotonic()) + 1), WAIT)
    assert held.starts == [0.0, 1.0, 2.0]  # one per slot while there was room
    assert q.statistics().running_jobs == 3
    assert _running(q, task_id) == 3
    assert q.get_task(task_id).status == TaskStatus.RUNNING
    # The first ends at t=6: the slots 3..5 passed while three ran, and coalesce into one
    # run now; it takes the freed place.
    held.release(0)
    wait_until(lambda: len(held.starts) == 4, WAIT)
    assert held.starts[3] == 6.0
    for _ in range(3):
        _step(q, clock, held=held)
    assert len(held.starts) == 4
    assert held.most == 3
    assert _running(q, task_id) == 3
    held.release_all()
    quiesce(q)
    assert held.most == 3
    assert_scheduler_consistent(q)


def test_runs_that_end_in_time_do_not_overlap(q, clock) -> None:
    """max_instances allows overlap, it does not make it: quick runs keep the cadence."""
    starts: list[float] = []
    q.add_task("quick", lambda: starts.append(clock.monotonic()), interval=2, max_instances=3)
    quiesce(q)  # the handler reads the clock: its first run ends before the clock moves
    for _ in range(6):
        _step(q, clock)
        quiesce(q)
    assert starts == [0.0, 2.0, 4.0, 6.0]


def test_the_task_is_active_again_when_its_last_job_ends(q, clock) -> None:
    held = Held(clock)
    task_id = q.add_task("two", held, interval=10, max_instances=2)
    wait_until(lambda: len(held.starts) == 1, WAIT)
    q.run_task_immediately(task_id)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    held.release(0)
    settle(q)
    wait_until(lambda: _running(q, task_id) == 1, WAIT)
    assert q.get_task(task_id).status == TaskStatus.RUNNING
    held.release(1)
    quiesce(q)
    assert q.get_task(task_id).status == TaskStatus.ACTIVE
    assert q.get_task(task_id).next_run_at == at(10)
    assert_scheduler_consistent(q)


def test_a_run_asked_for_starts_at_once_while_there_is_room(q, clock) -> None:
    held = Held(clock)
    task_id = q.add_task("asked", held, interval=100, max_instances=2)
    wait_until(lambda: len(held.starts) == 1, WAIT)
    second = q.run_task(task_id)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    assert q.get_job(second).status == JobStatus.RUNNING
    # The regular cadence is untouched by the run asked for.
    assert [run.utc for run in q.next_run_times(task_id, count=1)] == [at(100)]
    # Full now: a third run asked for waits for one of the two to end.
    third = q.run_task(task_id)
    settle(q)
    assert q.get_job(third).status == JobStatus.SCHEDULED
    assert len(held.starts) == 2
    held.release(0)
    wait_until(lambda: len(held.starts) == 3, WAIT)
    assert q.get_job(third).status == JobStatus.RUNNING
    assert held.most == 2
    held.release_all()
    quiesce(q)
    assert_scheduler_consistent(q)


def test_not_fixed_interval_counts_from_each_end_so_regular_runs_never_overlap(q, clock) -> None:
    held = Held(clock)
    q.add_task("from-the-end", held, interval=1, fixed_interval=False, max_instances=3)
    wait_until(lambda: len(held.starts) == 1, WAIT)
    for _ in range(5):
        _step(q, clock, held=held)
    assert held.starts == [0.0]
    held.release(0)
    settle(q)
    quiesce(q)
    _step(q, clock, 1.0, held)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    assert held.starts[1] == 6.0
    held.release_all()
    quiesce(q)


def test_cron_runs_overlap_up_to_the_limit(q, clock) -> None:
    held = Held(clock)
    task_id = q.add_task("minutely", held, cron="* * * * *", max_instances=2)
    for _ in range(4):
        _step(q, clock, 60.0, held)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    assert held.starts == [60.0, 120.0]
    assert _running(q, task_id) == 2
    held.release(0)
    wait_until(lambda: _running(q, task_id) == 1, WAIT)
    # Ended at 240: the next slot after its end is 300 (180 and 240 passed while two ran,
    # and are not made up).
    _step(q, clock, 60.0, held)
    wait_until(lambda: len(held.starts) == 3, WAIT)
    assert held.starts[2] == 300.0
    jobs = q.get_all_jobs(task_id=task_id, status=JobStatus.RUNNING)
    assert {job.scheduled_for for job in jobs} == {at(120), at(300)}
    held.release_all()
    quiesce(q)
    assert_scheduler_consistent(q)


def test_pause_with_several_running_then_resume(q, clock) -> None:
    held = Held(clock)
    task_id = q.add_task("paused", held, interval=1, max_instances=3)
    for _ in range(3):
        _step(q, clock, held=held)
    wait_until(lambda: len(held.starts) == 3, WAIT)
    q.pause_task(task_id)
    held.release(0)
    quiesce_until = lambda: _running(q, task_id) == 2  # noqa: E731
    wait_until(quiesce_until, WAIT)
    assert q.get_task(task_id).status == TaskStatus.PAUSED
    _step(q, clock, 5.0, held)
    assert len(held.starts) == 3  # paused: nothing new starts, though there is room
    q.resume_task(task_id)
    wait_until(lambda: len(held.starts) == 4, WAIT)
    assert held.starts[3] == 8.0
    assert q.get_task(task_id).status == TaskStatus.RUNNING
    held.release_all()
    quiesce(q)
    assert q.get_task(task_id).status == TaskStatus.ACTIVE
    assert_scheduler_consistent(q)


def test_remove_stops_every_running_job(q, clock) -> None:
    held = Held(clock)
    task_id = q.add_task("removed", held, interval=1, max_instances=3)
    for _ in range(3):
        _step(q, clock, held=held)
    wait_until(lambda: len(held.starts) == 3, WAIT)
    q.remove_task(task_id)
    assert all(stop.wait(WAIT) for stop in held.stops)
    quiesce(q)
    statuses = [job.status for job in q.get_all_jobs(task_id=task_id)]
    assert statuses == [JobStatus.CANCELLED] * 3
    assert_scheduler_consistent(q)


def test_a_failed_run_retries_beside_the_others(q, clock) -> None:
    attempts: list[float] = []
    gate = threading.Event()
    lock = threading.Lock()

    def flaky() -> None:
        with lock:
            attempts.append(clock.monotonic())
            first = len(attempts) == 1
        if first:
            raise RuntimeError("first attempt fails")
        gate.wait(WAIT)

    task_id = q.add_task("flaky", flaky, interval=10, max_instances=2, retries=1, misfire_grace=100)
    wait_until(lambda: len(attempts) == 1, WAIT)
    quiesce_until = lambda: len(q.get_all_jobs(task_id=task_id)) == 2  # noqa: E731
    wait_until(quiesce_until, WAIT)
    for _ in range(12):
        _step(q, clock)
    wait_until(lambda: len(attempts) == 3, WAIT)
    jobs = q.get_all_jobs(task_id=task_id)
    assert [job.status for job in jobs].count(JobStatus.RETRIED) == 1
    assert [job.status for job in jobs].count(JobStatus.RUNNING) == 2
    gate.set()
    quiesce(q)
    assert_scheduler_consistent(q)


def test_events_and_records_say_where_each_job_ran(q, clock) -> None:
    seen: list[tuple[str, str]] = []
    q.add_listener(Event.JOB_COMPLETED, lambda _e, _t, job: seen.append((job.id, job.executor)))
    task_id = q.add_task("thread", lambda: None, interval=1, max_instances=2)
    quiesce(q)
    wait_until(lambda: len(seen) == 1, WAIT)
    job = q.get_all_jobs(task_id=task_id)[0]
    assert job.executor == "thread"
    assert seen == [(job.id, "thread")]
    assert q.get_task(task_id).max_instances == 2


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (0, "at least 1, got 0"),
        (-2, "at least 1, got -2"),
        (1.5, "whole number"),
        (True, "whole number"),
        ("2", "whole number"),
    ],
)
def test_bad_max_instances_is_refused(q, value, says) -> None:
    with pytest.raises(ConfigurationError, match=says):
        q.add_task("bad", lambda: None, interval=1, max_instances=value)
    assert q.get_all_tasks(include_run_once=True) == []


@pytest.mark.parametrize(
    "once",
    [{"interval": 1, "run_once": True}, {"at": at(5)}, {"run_at": at(5), "run_once": True}],
)
def test_a_one_shot_task_refuses_max_instances(q, once) -> None:
    with pytest.raises(ConfigurationError, match="one-shot task"):
        q.add_task("once", lambda: None, max_instances=2, **once)


def test_a_task_shared_by_every_process_refuses_max_instances(quiv, clock, tmp_path) -> None:
    durable = quiv(clock=clock, database_url=f"sqlite:///{tmp_path / 'q.db'}")
    with pytest.raises(ConfigurationError, match="shared by every process"):
        durable.add_task("shared", lambda: None, interval=1, key="k", max_instances=2)
    # Its own process's keyed task may overlap itself.
    task_id = durable.add_task(
        "mine", lambda: None, interval=1, key="k2", scope="process", max_instances=2
    )
    assert durable.get_task(task_id).max_instances == 2


def test_max_instances_is_stored(quiv, clock, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    durable = quiv(clock=clock, database_url=url)
    task_id = durable.add_task("kept", lambda: None, interval=60, max_instances=4)
    durable.get_all_jobs()  # a read commits what is pending
    rows = stored_rows(url, "SELECT max_instances FROM quiv_task WHERE id = :id", id=task_id)
    assert rows == [(4,)]
