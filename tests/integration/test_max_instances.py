"""``max_instances``: up to N jobs of one task at once, never N + 1, on a fake clock.

Handlers block on gates the test opens, so how many run at each instant is exact; the
scheduler's own invariants (``check``) are asserted after each step.
"""

from __future__ import annotations

import threading

import pytest

from quiv import ConfigurationError, Event, JobStatus, TaskStatus
from quiv.testing import FakeClock, settle, wait_until

from ._helpers import WAIT, advance, assert_consistent, at, quiesce, stored_rows


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
    assert_consistent(q)


def _three_running(q, clock, name: str) -> tuple[Held, str]:
    """A task of interval 1 s and max_instances=3 whose first three runs (at 0, 1 and 2 s)
    are running, held, with the fake clock at 3 s."""
    held = Held(clock)
    task_id = q.add_task(name, held, interval=1, max_instances=3)
    for _ in range(3):
        _step(q, clock, held=held)
    wait_until(lambda: len(held.starts) == 3, WAIT)
    return held, task_id


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
    assert_consistent(q)


def test_a_late_run_that_starts_on_a_slot_stands_for_that_slot(q, clock) -> None:
    """A run due at 1 that starts late, at 3, coalesces the slots 1 to 3: the next run with
    room for it is the slot after 3, not slot 3 again at once (which made two jobs start
    together for one slot)."""
    held = Held(clock)
    task_id = q.add_task("late", held, interval=1, delay=1, max_instances=3)
    settle(q)
    clock.advance(3.0)
    wait_until(lambda: len(held.starts) == 1, WAIT)
    for _ in range(3):  # dispatch passes, at 3
        settle(q)
    assert q.statistics().jobs_started == 1
    assert q.get_task(task_id).next_run_at == at(4)
    _step(q, clock)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    assert held.starts == [3.0, 4.0]
    held.release_all()
    quiesce(q)
    assert_consistent(q)


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
    assert_consistent(q)


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
    assert_consistent(q)


@pytest.mark.parametrize("call", ["run_task", "run_task_immediately"])
def test_a_run_asked_for_on_an_idle_task_keeps_the_regular_plan(q, clock, call) -> None:
    """Both ways of asking for a run give the regular run back as the asked-for one starts
    (run_task_immediately, whose idle task's job was made as it started, restarted the
    cadence from the run asked for instead)."""
    held = Held(clock)
    task_id = q.add_task("idle", held, interval=10, delay=7, max_instances=3)
    advance(q, clock, 2.0)
    getattr(q, call)(task_id)
    wait_until(lambda: len(held.starts) == 1, WAIT)
    settle(q)
    assert held.starts == [2.0]
    assert q.get_task(task_id).next_run_at == at(7)
    _step(q, clock, 5.0)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    assert held.starts == [2.0, 7.0]
    held.release_all()
    quiesce(q)
    assert_consistent(q)


def _end_together(q, held: Held, *indexes: int) -> None:
    """End the jobs of ``held`` at ``indexes`` while the scheduler thread is busy, so that
    it records their ends one after the other, with no dispatch pass between them."""
    scheduler = q._scheduler

    def hold_the_thread() -> None:
        for index in indexes:
            held.release(index)
        wait_until(lambda: len(scheduler.inbox.queue) >= len(indexes), WAIT)

    scheduler.call(hold_the_thread)


@pytest.mark.parametrize("together", [False, True])
@pytest.mark.parametrize(("fixed", "after"), [(True, 22.0), (False, 25.0)])
def test_a_run_asked_for_while_full_plans_the_same_whatever_the_order_of_ends(
    q, clock, together, fixed, after
) -> None:
    """Two jobs end at one instant while a run asked for waits for room. Whether that run
    starts between the two ends (as it does when a worker records an end itself) or after
    both (the ends queued for the scheduler thread), the task then plans the same run:
    with a fixed interval, the next slot counted from the run asked for (the latest
    started); with fixed_interval=False, an interval after the ends. It never waits with
    room and nothing planned (as it did when the run asked for started after both ends)."""
    held = Held(clock)
    task_id = q.add_task(
        "asked-while-full", held, interval=10, fixed_interval=fixed, max_instances=2
    )
    wait_until(lambda: len(held.starts) == 1, WAIT)
    q.run_task_immediately(task_id)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    _step(q, clock, 12.0)
    asked = q.run_task(task_id)  # both run: it waits for one to end
    _step(q, clock, 3.0)
    assert q.get_job(asked).status == JobStatus.SCHEDULED
    if together:
        _end_together(q, held, 0, 1)
    else:
        held.release(0)
        wait_until(lambda: len(held.starts) == 3, WAIT)
        held.release(1)
    wait_until(lambda: len(held.starts) == 3 and _running(q, task_id) == 1, WAIT)
    settle(q)
    assert q.get_job(asked).status == JobStatus.RUNNING
    assert held.starts[2] == 15.0
    assert q.statistics().pending_deadlines == 1
    assert q.get_task(task_id).next_run_at == at(after)
    assert_consistent(q)
    _step(q, clock, after - 15.0)
    wait_until(lambda: len(held.starts) == 4, WAIT)
    assert held.starts[3] == after
    held.release_all()
    quiesce(q)


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
    assert_consistent(q)


def test_pause_with_several_running_then_resume(q, clock) -> None:
    held, task_id = _three_running(q, clock, "paused")
    q.pause_task(task_id)
    held.release(0)
    wait_until(lambda: _running(q, task_id) == 2, WAIT)
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
    assert_consistent(q)


def test_remove_stops_every_running_job(q, clock) -> None:
    held, task_id = _three_running(q, clock, "removed")
    q.remove_task(task_id)
    assert all(stop.wait(WAIT) for stop in held.stops)
    quiesce(q)
    statuses = [job.status for job in q.get_all_jobs(task_id=task_id)]
    assert statuses == [JobStatus.CANCELLED] * 3
    assert_consistent(q)


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
    wait_until(lambda: len(q.get_all_jobs(task_id=task_id)) == 2, WAIT)
    for _ in range(12):
        _step(q, clock)
    wait_until(lambda: len(attempts) == 3, WAIT)
    jobs = q.get_all_jobs(task_id=task_id)
    assert [job.status for job in jobs].count(JobStatus.RETRIED) == 1
    assert [job.status for job in jobs].count(JobStatus.RUNNING) == 2
    gate.set()
    quiesce(q)
    assert_consistent(q)


def test_a_key_registered_again_with_fewer_instances_starts_none_beyond_the_new_limit(
    q, clock
) -> None:
    """Registered again with max_instances=1 while two of its jobs run: both go on (a
    thread cannot be stopped), no third starts, and the next run waits until the last of
    them has ended (it started a third, and the scheduler's check failed)."""
    held = Held(clock)
    task_id = q.add_task("keyed", held, interval=10, key="k", max_instances=3)
    wait_until(lambda: len(held.starts) == 1, WAIT)
    _step(q, clock, 10.0, held)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    _step(q, clock, 2.0, held)
    assert q.add_task("keyed", held, interval=10, key="k", max_instances=1) == task_id
    settle(q)
    assert q.get_task(task_id).max_instances == 1
    assert q.statistics().pending_deadlines == 0  # full: off the timeline
    assert_consistent(q)
    _step(q, clock, 8.0, held)  # slot 20: no room
    _step(q, clock, 5.0, held)
    assert held.starts == [0.0, 10.0]
    held.release(0)
    wait_until(lambda: _running(q, task_id) == 1, WAIT)
    settle(q)
    assert q.statistics().pending_deadlines == 0  # one runs: still full
    assert_consistent(q)
    _step(q, clock, 3.0, held)
    assert len(held.starts) == 2
    held.release(1)
    wait_until(lambda: q.statistics().pending_deadlines == 1, WAIT)
    assert q.get_task(task_id).next_run_at == at(30)  # the slot after the end, at 28
    _step(q, clock, 2.0, held)
    wait_until(lambda: len(held.starts) == 3, WAIT)
    assert held.starts[2] == 30.0
    held.release_all()
    quiesce(q)
    assert held.most == 2
    assert_consistent(q)


def test_a_run_asked_for_waits_for_the_jobs_beyond_a_lowered_limit(q, clock) -> None:
    held = Held(clock)
    task_id = q.add_task("keyed", held, interval=100, key="k", max_instances=2)
    wait_until(lambda: len(held.starts) == 1, WAIT)
    q.run_task_immediately(task_id)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    q.add_task("keyed", held, interval=100, key="k", max_instances=1)
    asked = q.run_task(task_id)
    held.release(0)
    wait_until(lambda: _running(q, task_id) == 1, WAIT)
    settle(q)
    assert q.get_job(asked).status == JobStatus.SCHEDULED
    assert_consistent(q)
    held.release(1)
    wait_until(lambda: len(held.starts) == 3, WAIT)
    assert q.get_job(asked).status == JobStatus.RUNNING
    held.release_all()
    quiesce(q)
    assert held.most == 2
    assert_consistent(q)


def test_a_key_registered_again_with_more_instances_plans_with_the_room(q, clock) -> None:
    """Registered again with max_instances=2 while its one job runs (long, say): the next
    slot is planned at once, and runs beside it, instead of waiting for it to end."""
    held = Held(clock)
    task_id = q.add_task("keyed", held, interval=10, key="k")
    wait_until(lambda: len(held.starts) == 1, WAIT)
    _step(q, clock, 12.0, held)
    assert q.statistics().pending_deadlines == 0  # full
    q.add_task("keyed", held, interval=10, key="k", max_instances=2)
    settle(q)
    assert q.statistics().pending_deadlines == 1
    assert q.get_task(task_id).next_run_at == at(20)
    assert_consistent(q)
    _step(q, clock, 8.0, held)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    assert held.starts == [0.0, 20.0]
    held.release_all()
    quiesce(q)
    assert_consistent(q)


def test_a_run_asked_for_starts_when_more_instances_make_room(q, clock) -> None:
    held = Held(clock)
    task_id = q.add_task("keyed", held, interval=10, key="k")
    wait_until(lambda: len(held.starts) == 1, WAIT)
    _step(q, clock, 3.0, held)
    asked = q.run_task(task_id)
    settle(q)
    assert q.get_job(asked).status == JobStatus.SCHEDULED
    q.add_task("keyed", held, interval=10, key="k", max_instances=2)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    assert q.get_job(asked).status == JobStatus.RUNNING
    assert held.starts == [0.0, 3.0]
    held.release_all()
    quiesce(q)
    assert_consistent(q)


def test_update_task_with_room_plans_the_new_interval_now(q, clock) -> None:
    held = Held(clock)
    task_id = q.add_task("updated", held, interval=10, max_instances=2)
    wait_until(lambda: len(held.starts) == 1, WAIT)
    _step(q, clock, 3.0, held)
    updated = q.update_task(task_id, interval=4)
    assert updated.status == TaskStatus.RUNNING
    assert updated.next_run_at == at(7)  # an interval from now: the job runs, with room
    _step(q, clock, 4.0, held)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    assert held.starts == [0.0, 7.0]
    settle(q)
    assert q.statistics().pending_deadlines == 0  # two run: full
    held.release(0)
    wait_until(lambda: q.statistics().pending_deadlines == 1, WAIT)
    assert q.get_task(task_id).next_run_at == at(11)  # the new cadence, from the run at 7
    held.release_all()
    quiesce(q)
    assert_consistent(q)


def test_update_task_on_a_full_task_applies_at_the_end_of_one(q, clock) -> None:
    held = Held(clock)
    task_id = q.add_task("updated-full", held, interval=10, max_instances=2)
    wait_until(lambda: len(held.starts) == 1, WAIT)
    _step(q, clock, 10.0, held)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    _step(q, clock, 1.0, held)
    q.update_task(task_id, interval=4)
    moved = q.update_task(task_id, run_at=at(12))
    assert moved.next_run_at == at(12)
    settle(q)
    assert q.statistics().pending_deadlines == 0  # no room: nothing is planned yet
    _step(q, clock, 2.0, held)
    assert len(held.starts) == 2
    held.release(0)  # at 13: the run moved to 12 takes the room, late
    wait_until(lambda: len(held.starts) == 3, WAIT)
    assert held.starts[2] == 13.0
    held.release(1)
    wait_until(lambda: q.statistics().pending_deadlines == 1, WAIT)
    assert q.get_task(task_id).next_run_at == at(16)  # 12 + 4: from the run asked for
    held.release_all()
    quiesce(q)
    assert_consistent(q)


def test_misfire_skip_misses_a_late_slot_beside_running_jobs(q, clock) -> None:
    held = Held(clock)
    task_id = q.add_task("skipping", held, interval=1, max_instances=3, misfire="skip")
    wait_until(lambda: len(held.starts) == 1, WAIT)
    _step(q, clock, 5.0, held)  # slot 1 is 4 s late: missed; slot 5 runs on time
    wait_until(lambda: len(held.starts) == 2, WAIT)
    assert held.starts == [0.0, 5.0]
    statuses = sorted(job.status for job in q.get_all_jobs(task_id=task_id))
    assert statuses == [JobStatus.MISSED, JobStatus.RUNNING, JobStatus.RUNNING]
    assert q.get_task(task_id).next_run_at == at(6)
    _step(q, clock, 1.0, held)
    wait_until(lambda: len(held.starts) == 3, WAIT)
    _step(q, clock, 10.0, held)  # full meanwhile: its slots are neither run nor missed
    assert len(q.get_all_jobs(task_id=task_id)) == 4
    held.release(0)  # at 16: the slot after the end (16, on time) runs
    wait_until(lambda: len(held.starts) == 4, WAIT)
    assert held.starts[3] == 16.0
    held.release_all()
    quiesce(q)
    assert_consistent(q)


def test_next_run_times_while_several_run(q, clock) -> None:
    held = Held(clock)
    task_id = q.add_task("shown", held, interval=10, max_instances=2)
    wait_until(lambda: len(held.starts) == 1, WAIT)
    _step(q, clock, 3.0, held)
    # Room for another: the planned run, then its cadence.
    assert [run.utc for run in q.next_run_times(task_id, count=3)] == [at(10), at(20), at(30)]
    _step(q, clock, 7.0, held)
    wait_until(lambda: len(held.starts) == 2, WAIT)
    _step(q, clock, 15.0, held)
    # Full, at 25: the first slot after now, counted from the latest started job (at 10),
    # which is what the end of one plans.
    assert [run.utc for run in q.next_run_times(task_id, count=2)] == [at(30), at(40)]
    held.release(0)
    wait_until(lambda: q.statistics().pending_deadlines == 1, WAIT)
    assert q.get_task(task_id).next_run_at == at(30)
    q.pause_task(task_id)
    assert q.next_run_times(task_id) == []
    held.release_all()
    quiesce(q)


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
