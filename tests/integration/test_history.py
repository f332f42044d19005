"""Job history retention: finished jobs older than ``history_retention_seconds`` are purged,
running jobs never are, and tasks are not touched."""

from __future__ import annotations

import threading

import pytest

from quiv import Event, JobNotFoundError, JobStatus
from quiv.testing import settle, wait_until

from ._helpers import WAIT, Recorder, Runs, at, step_to, sync_history, tick


def test_retention_zero_purges_finished_jobs_with_the_real_clock(quiv) -> None:
    q = quiv(history_retention_seconds=0)
    q.start()
    job_ids: list[str] = []

    def handler(_job_id: str) -> None:
        job_ids.append(_job_id)

    q.add_task("once", handler, interval=60, run_once=True)
    q.add_task("every", lambda: None, interval=0.05)
    wait_until(lambda: job_ids, WAIT)
    wait_until(lambda: all(j.id != job_ids[0] for j in q.get_all_jobs()), WAIT)
    with pytest.raises(JobNotFoundError):
        q.get_job(job_ids[0])
    # The interval task's jobs go the same way, one after the other.
    wait_until(lambda: q.statistics().jobs_started >= 5, WAIT)
    first_five = {j.id for j in q.get_all_jobs()}
    wait_until(lambda: not first_five & {j.id for j in q.get_all_jobs()}, WAIT)


def test_retention_one_second_with_the_real_clock(quiv) -> None:
    q = quiv(history_retention_seconds=1)
    q.start()
    completed = Recorder()
    q.add_listener(Event.JOB_COMPLETED, completed)
    q.add_task("once", lambda: None, interval=60, run_once=True)
    completed.wait_for(1)
    job = completed.calls[0][2]
    wait_until(lambda: q.get_all_jobs() == [], WAIT)
    with pytest.raises(JobNotFoundError):
        q.get_job(job.id)


def test_a_running_job_is_never_purged(quiv, gate) -> None:
    q = quiv(history_retention_seconds=0)
    q.start()
    release = gate()
    running: list[str] = []

    def slow(_job_id: str) -> None:
        running.append(_job_id)
        release.wait(WAIT)

    q.add_task("slow", slow, interval=3600)
    wait_until(lambda: running, WAIT)
    quick_ran = threading.Event()
    q.add_task("quick", quick_ran.set, interval=3600)
    assert quick_ran.wait(WAIT)
    # The quick job is purged (retention 0) while the slow one stays.
    wait_until(lambda: [j.id for j in q.get_all_jobs()] == running, WAIT)
    assert q.get_job(running[0]).status == JobStatus.RUNNING.value
    release.set()
    wait_until(lambda: q.get_all_jobs() == [], WAIT)


def test_retention_with_the_fake_clock_is_exact(quiv, clock) -> None:
    q = quiv(history_retention_seconds=10, clock=clock)
    q.start()
    first = q.add_task("first", Runs(clock), interval=60, run_once=True)
    second = q.add_task("second", Runs(clock), interval=60, run_once=True, delay=4)
    step_to(q, clock, 4)
    assert [j.task_id for j in sync_history(q)] == [first, second]
    step_to(q, clock, 9)
    assert [j.task_id for j in sync_history(q)] == [first, second]
    tick(q, clock, 1)  # t = 10: the first job is 10 s old
    assert [j.task_id for j in sync_history(q)] == [second]
    step_to(q, clock, 13)
    assert [j.task_id for j in sync_history(q)] == [second]
    tick(q, clock, 1)  # t = 14
    assert sync_history(q) == []


def test_retention_keeps_a_sliding_window_of_an_interval_task(quiv, clock) -> None:
    q = quiv(history_retention_seconds=5, clock=clock)
    q.start()
    task_id = q.add_task("t", Runs(clock), interval=1)
    step_to(q, clock, 3)
    assert [j.started_at for j in sync_history(q)] == [at(t) for t in range(4)]
    for now in range(4, 20):
        tick(q, clock, 1)
        kept = [j.started_at for j in sync_history(q)]
        assert kept == [at(t) for t in range(now - 4, now + 1)], now
    assert q.get_task(task_id).status == "active"


def test_purge_leaves_tasks_alone(quiv, clock) -> None:
    q = quiv(history_retention_seconds=0, clock=clock)
    q.start()
    task_id = q.add_task("t", Runs(clock), interval=10)
    step_to(q, clock, 30)
    assert sync_history(q) == []
    assert q.get_task(task_id).task_name == "t"


def test_a_job_that_ends_during_a_purge_is_purged_later(quiv, clock, gate) -> None:
    q = quiv(history_retention_seconds=10, clock=clock, pool_size=2)
    q.start()
    release_b = gate()
    purge_in_flight = threading.Event()
    let_purge_finish = gate()

    # Make the store's writer slow to report a purge back, as a slow disk would: the
    # report waits until the test has let job B end.
    store_purge = q._store.purge

    def slow_purge(cutoff, done):
        def slow_done(oldest):
            purge_in_flight.set()
            let_purge_finish.wait(WAIT)
            done(oldest)

        store_purge(cutoff, slow_done)

    q._store.purge = slow_purge

    q.add_task("a", lambda: None, interval=60, run_once=True)
    job_b: list[str] = []

    def b(_job_id: str) -> None:
        job_b.append(_job_id)
        release_b.wait(WAIT)

    q.add_task("b", b, interval=60, run_once=True)
    wait_until(lambda: job_b, WAIT)
    wait_until(lambda: q.statistics().running_jobs == 1, WAIT)  # A ended at t = 0
    settle(q)
    clock.advance(10)  # A is 10 s old: its purge starts
    settle(q)
    assert purge_in_flight.wait(WAIT)
    release_b.set()  # B ends at t = 10 while the purge is in flight
    wait_until(lambda: q.statistics().running_jobs == 0, WAIT)
    settle(q)
    let_purge_finish.set()
    settle(q)
    assert [j.id for j in q.get_all_jobs()] == job_b
    settle(q)
    clock.advance(100)  # B is 100 s old, retention is 10 s
    assert sync_history(q) == []
