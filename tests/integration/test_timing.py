"""Deterministic timing with ``FakeClock``: cadence, delay, overruns, resume delay, wall-clock
jumps and a saturated pool. Run times are read from the fake clock, so counts are exact."""

from __future__ import annotations

import threading

import pytest

from quiv import JobStatus
from quiv.testing import FakeClock, settle, wait_until

from ._helpers import WAIT, Runs, advance, at, quiesce, step_to, tick


@pytest.fixture
def q(quiv, clock):
    instance = quiv(clock=clock)
    instance.start()
    return instance


class Overrun:
    """A handler whose first run blocks on a gate; later runs return at once."""

    def __init__(self, clock: FakeClock, release: threading.Event) -> None:
        self._clock = clock
        self._release = release
        self.times: list[float] = []
        self.started = threading.Event()

    def __call__(self) -> None:
        self.times.append(self._clock.monotonic())
        if len(self.times) == 1:
            self.started.set()
            self._release.wait(WAIT)


@pytest.mark.parametrize("fixed_interval", [True, False])
def test_interval_cadence(q, clock, fixed_interval) -> None:
    runs = Runs(clock)
    q.add_task("every-3", runs, interval=3, fixed_interval=fixed_interval)
    step_to(q, clock, 12)
    assert runs.times == [0.0, 3.0, 6.0, 9.0, 12.0]
    assert len(q.get_all_jobs(status=JobStatus.COMPLETED)) == 5


def test_fractional_interval_cadence(q, clock) -> None:
    runs = Runs(clock)
    q.add_task("every-0.5", runs, interval=0.5)
    step_to(q, clock, 3, step=0.25)
    assert runs.times == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def test_delay_then_interval(q, clock) -> None:
    runs = Runs(clock)
    task_id = q.add_task("delayed", runs, interval=4, delay=2.5)
    assert q.get_task(task_id).next_run_at == at(2.5)
    step_to(q, clock, 11, step=0.5)
    assert runs.times == [2.5, 6.5, 10.5]
    assert q.get_task(task_id).next_run_at == at(14.5)


def test_several_tasks_keep_their_own_cadence(q, clock) -> None:
    two, three = Runs(clock), Runs(clock)
    q.add_task("two", two, interval=2)
    q.add_task("three", three, interval=3, delay=1)
    step_to(q, clock, 10)
    assert two.times == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert three.times == [1.0, 4.0, 7.0, 10.0]


def test_fixed_interval_skips_the_slots_missed_while_a_run_overran(q, clock, gate) -> None:
    handler = Overrun(clock, gate())
    task_id = q.add_task("fixed", handler, interval=2, fixed_interval=True)
    assert handler.started.wait(WAIT)
    for _ in range(5):
        advance(q, clock, 1)  # slots 2 and 4 come and go while the first run blocks
    assert handler.times == [0.0]
    assert q.statistics().running_jobs == 1
    handler._release.set()
    quiesce(q)
    assert handler.times == [0.0]  # no burst of missed runs
    assert q.get_task(task_id).next_run_at == at(6)
    step_to(q, clock, 10)
    assert handler.times == [0.0, 6.0, 8.0, 10.0]


def test_not_fixed_interval_counts_from_the_end_of_the_run(q, clock, gate) -> None:
    handler = Overrun(clock, gate())
    task_id = q.add_task("floating", handler, interval=2, fixed_interval=False)
    assert handler.started.wait(WAIT)
    for _ in range(5):
        advance(q, clock, 1)
    handler._release.set()
    quiesce(q)
    assert handler.times == [0.0]
    assert q.get_task(task_id).next_run_at == at(7)
    step_to(q, clock, 11)
    assert handler.times == [0.0, 7.0, 9.0, 11.0]


def test_fixed_interval_short_overrun_keeps_the_cadence(q, clock, gate) -> None:
    handler = Overrun(clock, gate())
    q.add_task("fixed", handler, interval=4, fixed_interval=True)
    assert handler.started.wait(WAIT)
    advance(q, clock, 1)
    handler._release.set()
    step_to(q, clock, 12)
    assert handler.times == [0.0, 4.0, 8.0, 12.0]


def test_resume_delay_sets_the_next_run(q, clock) -> None:
    runs = Runs(clock)
    task_id = q.add_task("t", runs, interval=5)
    step_to(q, clock, 1)
    q.pause_task(task_id)
    step_to(q, clock, 7)
    q.resume_task(task_id, delay=2.5)
    step_to(q, clock, 20, step=0.5)
    assert runs.times == [0.0, 9.5, 14.5, 19.5]


@pytest.mark.parametrize("jump", [3600, -3600, 86400 * 30, -86400 * 30])
def test_wall_clock_jump_causes_no_burst_and_no_stall(q, clock, jump) -> None:
    runs = Runs(clock)
    task_id = q.add_task("t", runs, interval=10)
    step_to(q, clock, 5)
    clock.jump_wall(jump)
    quiesce(q)
    assert runs.times == [0.0]
    step_to(q, clock, 9)
    assert runs.times == [0.0]
    step_to(q, clock, 40)
    assert runs.times == [0.0, 10.0, 20.0, 30.0, 40.0]
    # Records follow the wall clock, jump included.
    started = sorted(j.started_at for j in q.get_all_jobs())
    assert started == sorted([at(0)] + [at(t + jump) for t in (10, 20, 30, 40)])
    assert q.get_task(task_id).next_run_at == at(50 + jump)


def test_a_deadline_far_ahead_is_not_brought_forward_by_a_wall_jump(q, clock) -> None:
    runs = Runs(clock)
    q.add_task("t", runs, interval=3600, delay=3600)
    clock.jump_wall(7200)
    step_to(q, clock, 3240, step=360)
    tick(q, clock, 359)
    assert runs.times == []
    tick(q, clock, 1)
    assert runs.times == [3600.0]


def test_run_once_with_delay(q, clock) -> None:
    runs = Runs(clock)
    q.add_task("once", runs, interval=1, delay=4, run_once=True)
    step_to(q, clock, 20)
    assert runs.times == [4.0]


def test_due_at_the_same_time_run_in_the_order_added(quiv, clock) -> None:
    q = quiv(clock=clock, pool_size=1)
    q.start()
    order: list[str] = []
    for name in "abcde":
        q.add_task(name, order.append, interval=100, delay=1, args=(name,))
    step_to(q, clock, 1)
    assert order == list("abcde")


def test_pool_saturation_starts_the_rest_in_due_order(quiv, clock, gate) -> None:
    q = quiv(clock=clock, pool_size=2)
    q.start()
    lock = threading.Lock()
    started: list[str] = []
    gates = {name: gate() for name in ("t0", "t1", "t2", "t3", "t4")}

    def handler(name: str) -> None:
        with lock:
            started.append(name)
        gates[name].wait(WAIT)

    # Added t0 first, but due in the reverse order: t4 at 1 s, t3 at 2 s, ... t0 at 5 s.
    for index, name in enumerate(gates):
        q.add_task(name, handler, interval=100, delay=5 - index, args=(name,))
    advance(q, clock, 10)
    wait_until(lambda: len(started) >= 2, WAIT)
    settle(q)
    stats = q.statistics()
    assert stats.running_jobs == 2
    assert stats.free_workers == 0
    assert stats.pending_deadlines == 3
    # The two due first have the two workers. They were handed over together, in due
    # order, but which of the two threads appends first is up to the OS: the order the
    # scheduler gave them out in is the history's (checked below).
    assert sorted(started) == ["t3", "t4"]
    # From here on one worker frees up at a time: each start follows the one before.
    for done, expected in (("t4", ["t2"]), ("t2", ["t2", "t1"]), ("t3", ["t2", "t1", "t0"])):
        gates[done].set()
        wait_until(lambda expected=expected: len(started) == 2 + len(expected), WAIT)
        settle(q)
        assert started[2:] == expected
        assert q.statistics().running_jobs == 2
    for event in gates.values():
        event.set()
    stats = quiesce(q)
    assert stats.jobs_started == 5
    assert stats.late_starts == 5  # all started more than a second after they were due
    jobs = q.get_all_jobs(status=JobStatus.COMPLETED)
    # Oldest first: all started at the same (fake) time, so in the order they were started.
    assert [job.task_name for job in jobs] == ["t4", "t3", "t2", "t1", "t0"]


class HeldClock(FakeClock):
    """A fake clock that can keep the scheduler thread in its sleep until released, as a
    busy or descheduled thread would be: commands posted meanwhile wait in its inbox."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.release.set()
        self.held = threading.Event()

    def wait(self, wakeup: threading.Event, deadline: float | None) -> None:
        if not self.release.is_set():
            self.held.set()
            self.release.wait(WAIT)
        super().wait(wakeup, deadline)


def test_delay_counts_from_the_add_task_call(quiv) -> None:
    clock = HeldClock()
    q = quiv(clock=clock)
    q.start()
    settle(q)
    clock.release.clear()
    q.statistics()  # one more loop turn: the thread then sleeps, held
    assert clock.held.wait(WAIT)
    runs = Runs(clock)
    task_id = q.add_task("t", runs, interval=60, delay=5)
    assert q.get_task(task_id).next_run_at == at(5)
    clock.advance(5)  # the task is due now...
    clock.release.set()  # ...when the scheduler thread gets to the add_task command
    quiesce(q)
    assert runs.times == [5.0]


def test_a_saturated_pool_logs_one_warning_then_summaries(quiv, clock, gate, caplog) -> None:
    q = quiv(clock=clock, pool_size=1)
    q.start()
    release = gate()
    started: list[int] = []

    def handler(index: int) -> None:
        started.append(index)
        if index == 0:
            release.wait(WAIT)

    for index in range(6):
        q.add_task(f"t{index}", handler, interval=1000, delay=0, run_once=True, args=(index,))
    with caplog.at_level("WARNING", logger="Quiv"):
        settle(q)
        wait_until(lambda: started == [0], WAIT)
        advance(q, clock, 5)  # t1..t5 are now 5 s late behind the blocked t0
        release.set()
        wait_until(lambda: len(started) == 6, WAIT)
        quiesce(q)
        late = [r.getMessage() for r in caplog.records if "late" in r.getMessage()]
        # The first late start is reported on its own; the next four fall inside the
        # summary window and are not logged one by one.
        assert len(late) == 1
        assert "task 't1'" in late[0]
        assert "5.000 s late" in late[0]
        assert q.statistics().late_starts == 5
        # Once the window has passed, the next late start reports what was held back.
        release2 = gate()
        q.add_task("slow", lambda: release2.wait(WAIT), interval=1000, run_once=True)
        q.add_task("after", lambda: None, interval=1000, run_once=True)
        settle(q)
        advance(q, clock, 12)
        release2.set()
        quiesce(q)
        late = [r.getMessage() for r in caplog.records if "late" in r.getMessage()]
        # The four held back are summed up once their window ended, though no late start
        # came after them then; the next one falls in the window of that report, and is
        # summed up when the window ends, or at shutdown at the latest.
        assert len(late) == 2
        assert late[1].startswith("4 job starts were late (up to 5.000 s): the one worker")
        q.shutdown()
        late = [r.getMessage() for r in caplog.records if "late" in r.getMessage()]
        assert len(late) == 3
        assert late[2].startswith("1 job start was late (up to 12.000 s)")
