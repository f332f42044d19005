"""Job control: timeouts, retries, run_task and wait_for_job, results, async handlers on the
main loop, and the configurable shutdown grace period."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from quiv import (
    ConfigurationError,
    Event,
    JobNotFoundError,
    JobStatus,
    RetryPolicy,
    WaitTimeoutError,
)
from quiv.testing import settle, wait_until

from ._helpers import WAIT, Recorder, advance, quiesce, tick


@pytest.fixture
def q(quiv, clock):
    instance = quiv(clock=clock, pool_size=2)
    instance.start()
    return instance


def _statuses(q, task_id: str) -> list[str]:
    return [job.status for job in q.get_all_jobs() if job.task_id == task_id]


# -- timeouts ----------------------------------------------------------------------------


def test_a_job_past_its_timeout_is_stopped_and_ends_timed_out(q, clock) -> None:
    events = Recorder()
    q.add_listener(Event.JOB_TIMED_OUT, lambda _e, _t, job: events(job.status))
    q.add_listener(Event.JOB_CANCELLED, lambda _e, _t, job: events("cancelled-event"))
    stopped = threading.Event()
    entered = threading.Event()

    def cooperative(_stop_event: threading.Event) -> None:
        entered.set()
        _stop_event.wait(WAIT)
        stopped.set()

    task_id = q.add_task("slow", cooperative, interval=3600, timeout=5)
    assert entered.wait(WAIT)  # the timeout counts from the start, at fake time 0
    advance(q, clock, 4.9)
    assert _statuses(q, task_id) == [JobStatus.RUNNING]
    advance(q, clock, 0.1)
    assert stopped.wait(WAIT)
    quiesce(q)
    (job,) = q.get_all_jobs()
    assert job.status == JobStatus.TIMED_OUT  # distinct from a user's cancel
    assert job.unresponsive is False
    events.wait_for(1)
    assert events.calls == [(JobStatus.TIMED_OUT.value,)]


def test_a_handler_ignoring_its_timeout_is_flagged_and_blocks_only_its_worker(
    q, clock, gate
) -> None:
    release = gate()
    others = Recorder()
    entered = threading.Event()

    def stubborn() -> None:
        entered.set()
        release.wait(WAIT)  # never looks at a stop event

    task_id = q.add_task("stubborn", stubborn, interval=3600, timeout=2)
    q.add_task("other", others, interval=1)
    assert entered.wait(WAIT)
    advance(q, clock, 2)  # timed out: stop event set, the handler goes on
    advance(q, clock, 5)  # 5 s later it is flagged
    settle(q)
    (job,) = [j for j in q.get_all_jobs() if j.task_id == task_id]
    assert job.status == JobStatus.RUNNING
    assert job.unresponsive is True
    # The other task kept running on the other worker all along. (settle covers dispatch,
    # not the worker entering the handler: wait for that.)
    wait_until(lambda: len(others) >= 2, WAIT)
    release.set()
    quiesce(q)
    (job,) = [j for j in q.get_all_jobs() if j.task_id == task_id]
    assert job.status == JobStatus.TIMED_OUT
    assert job.unresponsive is True


def test_a_job_that_returns_in_time_is_not_timed_out(q, clock) -> None:
    task_id = q.add_task("quick", lambda: None, interval=3600, timeout=1)
    quiesce(q)
    advance(q, clock, 10)
    assert _statuses(q, task_id) == [JobStatus.COMPLETED]


# -- retries -----------------------------------------------------------------------------


def _flaky(failures: int) -> tuple[Recorder, Any]:
    calls = Recorder()

    def handler(_job_id: str) -> str:
        calls(_job_id)
        if len(calls) <= failures:
            raise OSError(f"attempt {len(calls)} failed")
        return "ok"

    return calls, handler


def test_a_failed_run_is_retried_with_backoff_until_it_succeeds(q, clock) -> None:
    events = Recorder()
    for event in (Event.JOB_RETRYING, Event.JOB_FAILED, Event.JOB_COMPLETED):
        q.add_listener(event, lambda e, _t, job: events(e.value, job.attempt))
    calls, handler = _flaky(2)
    policy = RetryPolicy(max_retries=3, backoff=1.0, jitter=0.0)
    task_id = q.add_task("flaky", handler, interval=3600, retries=policy)
    quiesce(q)
    jobs = q.get_all_jobs()
    # The next attempt exists at once, scheduled, with its number.
    assert [(j.status, j.attempt) for j in jobs] == [("retried", 1), ("scheduled", 2)]
    assert jobs[0].error_message == "attempt 1 failed"
    tick(q, clock, 0.9)
    assert len(calls) == 1  # the backoff is 1 s
    tick(q, clock, 0.1)
    assert len(calls) == 2
    tick(q, clock, 1.9)
    assert len(calls) == 2  # then 2 s
    tick(q, clock, 0.1)
    assert len(calls) == 3
    history = [(j.status, j.attempt) for j in q.get_all_jobs() if j.task_id == task_id]
    assert history == [("retried", 1), ("retried", 2), ("completed", 3)]
    # Each attempt is its own job, and the handler saw each one's id.
    assert [c[0] for c in calls.calls] == [j.id for j in q.get_all_jobs()]
    events.wait_for(3)
    assert events.calls == [
        ("job_retrying", 1),
        ("job_retrying", 2),
        ("job_completed", 3),
    ]


def test_the_last_failure_is_failed(q, clock) -> None:
    events = Recorder()
    q.add_listener(Event.JOB_FAILED, lambda _e, _t, job: events(job.attempt))
    calls, handler = _flaky(10)
    q.add_task("doomed", handler, interval=3600, retries=RetryPolicy(2, backoff=1, jitter=0))
    quiesce(q)
    tick(q, clock, 1)
    tick(q, clock, 2)
    tick(q, clock, 10)
    assert len(calls) == 3
    assert [j.status for j in q.get_all_jobs()] == ["retried", "retried", "failed"]
    events.wait_for(1)
    assert events.calls == [(3,)]


def test_only_retryable_exceptions_are_retried(q, clock) -> None:
    def handler() -> None:
        raise ValueError("not transient")

    policy = RetryPolicy(max_retries=3, retry_on=(OSError,))
    q.add_task("strict", handler, interval=3600, retries=policy)
    quiesce(q)
    assert [j.status for j in q.get_all_jobs()] == ["failed"]


def test_an_int_means_that_many_retries_with_the_default_backoff(q, clock) -> None:
    _, handler = _flaky(10)
    task_id = q.add_task("int", handler, interval=3600, retries=1)
    assert q.get_task(task_id).max_retries == 1
    quiesce(q)
    tick(q, clock, 1)  # RetryPolicy's default backoff: at most 1 s for the first retry
    assert [j.status for j in q.get_all_jobs()] == ["retried", "failed"]


@pytest.mark.parametrize("how", ["pause", "remove", "cancel_job"])
def test_a_pending_retry_respects_pause_remove_and_cancel(q, clock, how) -> None:
    cancelled = Recorder()
    q.add_listener(Event.JOB_CANCELLED, lambda _e, _t, job: cancelled(job.attempt))
    calls, handler = _flaky(10)
    task_id = q.add_task("t", handler, interval=3600, retries=RetryPolicy(5, backoff=1))
    quiesce(q)
    pending = [j for j in q.get_all_jobs() if j.status == JobStatus.SCHEDULED]
    assert len(pending) == 1
    if how == "pause":
        q.pause_task(task_id)
    elif how == "remove":
        q.remove_task(task_id)
    else:
        assert q.cancel_job(pending[0].id) is True
    tick(q, clock, 100)
    assert len(calls) == 1  # no retry ran
    assert q.get_job(pending[0].id).status == JobStatus.CANCELLED
    cancelled.wait_for(1)
    assert cancelled.calls == [(2,)]
    if how == "cancel_job":
        # The task itself goes back to its cadence: an hour after the failed run.
        assert q.get_task(task_id).status == "active"
        tick(q, clock, 3500)
        assert len(calls) == 2


def test_a_run_once_task_whose_pending_retry_is_cancelled_is_gone(q, clock) -> None:
    calls, handler = _flaky(10)
    task_id = q.add_task("once", handler, interval=1, run_once=True, retries=2)
    quiesce(q)
    (pending,) = [j for j in q.get_all_jobs() if j.status == JobStatus.SCHEDULED]
    q.cancel_job(pending.id)
    assert q.get_all_tasks(include_run_once=True) == []
    tick(q, clock, 100)
    assert len(calls) == 1
    assert q.statistics().tasks == 0
    q._scheduler.check()
    del task_id


def test_a_run_once_task_retries_then_is_gone(q, clock) -> None:
    _, handler = _flaky(1)
    q.add_task("once", handler, interval=1, run_once=True, retries=RetryPolicy(1, jitter=0))
    quiesce(q)
    assert len(q.get_all_tasks(include_run_once=True)) == 1  # waiting for its retry
    tick(q, clock, 1)
    assert [j.status for j in q.get_all_jobs()] == ["retried", "completed"]
    assert q.get_all_tasks(include_run_once=True) == []


def test_shutdown_cancels_a_pending_retry(quiv, clock) -> None:
    q = quiv(clock=clock)
    q.start()
    cancelled = Recorder()
    q.add_listener(Event.JOB_CANCELLED, lambda _e, _t, job: cancelled(job.attempt))
    _, handler = _flaky(10)
    q.add_task("t", handler, interval=3600, retries=3)
    quiesce(q)
    q.shutdown()
    assert cancelled.calls == [(2,)]


def test_a_cancelled_attempt_is_not_retried(q, clock) -> None:
    started = threading.Event()

    def handler(_stop_event: threading.Event) -> None:
        started.set()
        _stop_event.wait(WAIT)
        raise OSError("interrupted")

    q.add_task("t", handler, interval=3600, retries=3)
    assert started.wait(WAIT)
    (job,) = q.get_all_jobs()
    q.cancel_job(job.id)
    quiesce(q)
    # Cancelled wins (quiv 0.4.0): the error raised on the way out is kept, not retried.
    assert [(j.status, j.error_message) for j in q.get_all_jobs()] == [("cancelled", "interrupted")]


# -- run_task and waiting ------------------------------------------------------------------


def test_run_task_returns_a_job_that_exists_at_once(q, gate) -> None:
    release = gate()

    def handler() -> dict[str, int]:
        release.wait(WAIT)
        return {"rows": 3}

    task_id = q.add_task("t", handler, interval=3600, delay=3600)
    job_id = q.run_task(task_id)
    assert q.get_job(job_id).status in {JobStatus.SCHEDULED, JobStatus.RUNNING}
    release.set()
    job = q.wait_for_job(job_id, timeout=WAIT)
    assert job.status == JobStatus.COMPLETED
    assert job.result == {"rows": 3}
    assert q.wait_for_job(job_id).id == job_id  # an ended job returns at once


def test_run_task_while_running_makes_one_follow_up_job(q, gate) -> None:
    release = gate()
    started = Recorder()

    def handler(_job_id: str) -> None:
        started(_job_id)
        if len(started) == 1:
            release.wait(WAIT)

    task_id = q.add_task("t", handler, interval=3600)
    started.wait_for(1)
    first = q.run_task(task_id)
    second = q.run_task(task_id)
    assert first == second  # coalesced into one pending job
    assert q.get_job(first).status == JobStatus.SCHEDULED
    release.set()
    assert q.wait_for_job(first, timeout=WAIT).status == JobStatus.COMPLETED
    assert started.calls[1] == (first,)


def test_cancelling_a_run_task_job_before_it_starts_restores_the_schedule(
    quiv, clock, gate
) -> None:
    q = quiv(clock=clock, pool_size=1)
    q.start()
    release = gate()
    busy = threading.Event()

    def blocker() -> None:
        busy.set()
        release.wait(WAIT)

    q.add_task("blocker", blocker, interval=3600)
    assert busy.wait(WAIT)  # the only worker is taken: what is due must wait
    runs = Recorder()
    task_id = q.add_task("t", runs, interval=60, delay=30)
    before = q.get_task(task_id).next_run_at
    job_id = q.run_task(task_id)
    assert q.get_job(job_id).status == JobStatus.SCHEDULED
    assert q.cancel_job(job_id) is True
    assert q.get_job(job_id).status == JobStatus.CANCELLED
    assert q.wait_for_job(job_id).status == JobStatus.CANCELLED
    assert q.get_task(task_id).next_run_at == before  # back to its own schedule
    release.set()
    quiesce(q)
    assert len(runs) == 0
    advance(q, clock, 30)
    runs.wait_for(1)


def test_wait_for_job_times_out_and_knows_unknown_ids(q, gate) -> None:
    release = gate()
    task_id = q.add_task("t", lambda: release.wait(WAIT), interval=3600)
    job_id = q.run_task(task_id)
    with pytest.raises(WaitTimeoutError) as exc:
        q.wait_for_job(job_id, timeout=0.05)
    assert exc.value.job_id == job_id
    assert isinstance(exc.value, TimeoutError)
    with pytest.raises(JobNotFoundError):
        q.wait_for_job("no-such-job")
    with pytest.raises(ConfigurationError):
        q.wait_for_job(job_id, timeout=-1)
    release.set()


def test_wait_for_job_async_does_not_block_the_loop(quiv) -> None:
    async def main() -> None:
        q = quiv()
        q.start()
        release = threading.Event()
        task_id = q.add_task("t", lambda: release.wait(WAIT) and 7, interval=3600)
        job_id = q.run_task(task_id)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                if ticks == 5:
                    release.set()
                await asyncio.sleep(0.01)

        ticking = asyncio.ensure_future(ticker())
        job = await q.wait_for_job_async(job_id, timeout=WAIT)
        ticking.cancel()
        assert ticks >= 5  # the loop ran while we waited
        assert job.status == JobStatus.COMPLETED
        assert job.result == 7
        hold = threading.Event()
        other = q.run_task(q.add_task("u", lambda: hold.wait(WAIT), interval=3600))
        with pytest.raises(WaitTimeoutError):
            await q.wait_for_job_async(other, timeout=0.01)
        hold.set()

    asyncio.run(main())


# -- results -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "result", "note"),
    [
        ([1, "two", {"three": 3.0}], [1, "two", {"three": 3.0}], None),
        (None, None, None),
        ({1, 2}, None, "dropped: not JSON-serializable (set"),
        (float("nan"), None, "dropped: not JSON-serializable (float"),
        ("x" * 70_000, None, "over the 65536-byte limit"),
    ],
)
def test_a_return_value_is_kept_when_it_is_small_json(q, value, result, note) -> None:
    task_id = q.add_task("t", lambda: value, interval=3600, delay=3600)
    job = q.wait_for_job(q.run_task(task_id), timeout=WAIT)
    assert job.status == JobStatus.COMPLETED
    assert job.result == result
    if note is None:
        assert job.result_note is None
    else:
        assert note in job.result_note
    assert job.model_dump_json()


# -- async handlers on the main loop ---------------------------------------------------------


def test_an_async_handler_can_run_on_the_main_loop(quiv) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        lock = asyncio.Lock()  # bound to this loop: unusable from another loop
        q = quiv(pool_size=1)
        q.start()
        seen: list[Any] = []

        async def handler(_job_id: str) -> str:
            async with lock:
                seen.append((asyncio.get_running_loop() is loop, threading.current_thread()))
                await asyncio.sleep(0)
            return _job_id

        task_id = q.add_task("on-main", handler, interval=3600, on_main_loop=True)
        assert q.get_task(task_id).on_main_loop is True
        job_id = q.run_task(task_id)
        job = await q.wait_for_job_async(job_id, timeout=WAIT)
        assert job.status == JobStatus.COMPLETED
        assert job.result == job_id
        assert job.executor == "main_loop"
        assert seen[0] == (True, threading.main_thread())

    asyncio.run(main())


def test_a_main_loop_job_is_cancelled_through_asyncio(quiv) -> None:
    async def main() -> None:
        q = quiv()
        q.start()
        started = asyncio.Event()

        async def handler() -> None:
            started.set()
            await asyncio.sleep(3600)  # never checks its stop event

        task_id = q.add_task("t", handler, interval=3600, delay=3600, on_main_loop=True)
        job_id = q.run_task(task_id)
        await asyncio.wait_for(started.wait(), WAIT)
        assert q.cancel_job(job_id) is True
        job = await q.wait_for_job_async(job_id, timeout=WAIT)
        assert job.status == JobStatus.CANCELLED

    asyncio.run(main())


def test_a_main_loop_job_past_its_timeout_is_cancelled_through_asyncio(quiv) -> None:
    async def main() -> None:
        q = quiv()
        q.start()

        async def handler() -> None:
            await asyncio.sleep(3600)

        task_id = q.add_task(
            "t", handler, interval=3600, delay=3600, timeout=0.05, on_main_loop=True
        )
        job = await q.wait_for_job_async(q.run_task(task_id), timeout=WAIT)
        assert job.status == JobStatus.TIMED_OUT
        assert job.unresponsive is False

    asyncio.run(main())


def test_main_loop_jobs_count_against_the_pool(quiv, gate) -> None:
    async def main() -> None:
        q = quiv(pool_size=1)
        q.start()
        release = gate()
        worker_started = threading.Event()

        def blocking() -> None:
            worker_started.set()
            release.wait(WAIT)

        ran = asyncio.Event()

        async def on_main() -> None:
            ran.set()

        q.add_task("blocking", blocking, interval=3600)
        await asyncio.to_thread(worker_started.wait, WAIT)
        job_id = q.run_task(q.add_task("m", on_main, interval=3600, delay=3600, on_main_loop=True))
        await asyncio.sleep(0.05)
        assert not ran.is_set()  # the one slot is taken
        assert q.get_job(job_id).status == JobStatus.SCHEDULED
        release.set()
        await asyncio.wait_for(ran.wait(), WAIT)

    asyncio.run(main())


def test_a_main_loop_task_without_a_main_loop_fails_clearly(q) -> None:
    async def handler() -> None:
        pass

    task_id = q.add_task("t", handler, interval=3600, delay=3600, on_main_loop=True)
    job = q.wait_for_job(q.run_task(task_id), timeout=WAIT)
    assert job.status == JobStatus.FAILED
    assert "no running main loop" in job.error_message


# -- shutdown and validation -------------------------------------------------------------------


def test_the_shutdown_grace_period_is_configurable(quiv, gate) -> None:
    release = gate()
    cancelled = Recorder()
    q = quiv(shutdown_timeout=0.05)
    q.add_listener(Event.JOB_CANCELLED, lambda _e, _t, job: cancelled(job.error_message))
    started = threading.Event()

    def stubborn() -> None:
        started.set()
        release.wait(WAIT)

    q.start()
    q.add_task("t", stubborn, interval=3600)
    assert started.wait(WAIT)
    q.shutdown()  # returns after ~0.05 s, abandoning the job
    assert cancelled.calls == [("still running when shutdown gave up waiting for it",)]
    release.set()


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0},
        {"timeout": -1},
        {"timeout": float("inf")},
        {"retries": -1},
        {"retries": True},
        {"retries": 1.5},
        {"on_main_loop": 1},
        {"on_main_loop": True},  # the handler below is not async
    ],
)
def test_job_control_options_are_validated(quiv, options) -> None:
    q = quiv()
    with pytest.raises(ConfigurationError):
        q.add_task("t", lambda: None, interval=1, **options)
    assert q.get_all_tasks(include_run_once=True) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"max_retries": -1},
        {"max_retries": True},
        {"backoff": -1},
        {"backoff_max": float("nan")},
        {"jitter": 1.5},
        {"retry_on": ()},
        {"retry_on": (ValueError, "not a class")},
        {"retry_on": ValueError},
    ],
)
def test_retry_policies_are_validated(fields) -> None:
    with pytest.raises(ConfigurationError, match="invalid RetryPolicy"):
        RetryPolicy(**fields)


def test_waiting_follows_a_run_through_its_retries(quiv) -> None:
    q = quiv()
    q.start()
    _, handler = _flaky(2)
    policy = RetryPolicy(max_retries=3, backoff=0.01, jitter=0.0)
    task_id = q.add_task("t", handler, interval=3600, delay=3600, retries=policy)
    first = q.run_task(task_id)
    job = q.wait_for_job(first, timeout=WAIT)
    assert (job.status, job.attempt, job.result) == ("completed", 3, "ok")
    assert job.id != first

    async def main() -> None:
        _, again = _flaky(1)
        other = q.add_task("u", again, interval=3600, delay=3600, retries=policy)
        job = await q.wait_for_job_async(q.run_task(other), timeout=WAIT)
        assert (job.status, job.attempt) == ("completed", 2)

    asyncio.run(main())


def test_shutdown_cancels_a_main_loop_job_through_asyncio(quiv) -> None:
    async def main() -> None:
        q = quiv()
        q.start()
        started = asyncio.Event()
        cancelled = Recorder()
        q.add_listener(Event.JOB_CANCELLED, lambda _e, _t, job: cancelled(job.status))

        async def handler() -> None:
            started.set()
            await asyncio.sleep(3600)  # never checks its stop event

        q.add_task("t", handler, interval=3600, on_main_loop=True)
        await asyncio.wait_for(started.wait(), WAIT)
        await asyncio.to_thread(q.shutdown, timeout=WAIT)  # returns once the task is cancelled
        await asyncio.sleep(0)
        assert cancelled.calls == [(JobStatus.CANCELLED.value,)]

    asyncio.run(main())


def test_the_process_exits_with_an_abandoned_handler_still_blocked(tmp_path) -> None:
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "abandon.py"
    script.write_text(
        textwrap.dedent(
            """
            import threading, time
            from quiv import Quiv

            started = threading.Event()

            def stubborn():
                started.set()
                threading.Event().wait()  # blocks forever, ignores its stop event

            q = Quiv(shutdown_timeout=0.2)
            q.add_task("stubborn", stubborn, interval=3600)
            q.start()
            assert started.wait(10)
            q.shutdown()
            print("shut down")
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "shut down" in done.stdout
    assert "did not stop within the shutdown timeout" in done.stderr


def test_a_run_asked_for_during_a_failing_attempt_becomes_the_next_attempt(q, gate) -> None:
    release = gate()
    calls = Recorder()

    def handler() -> None:
        calls()
        if len(calls) == 1:
            release.wait(WAIT)
            raise OSError("first attempt failed")

    policy = RetryPolicy(max_retries=2, backoff=3600, jitter=0)
    task_id = q.add_task("t", handler, interval=3600, retries=policy)
    calls.wait_for(1)
    asked = q.run_task(task_id)  # made ahead while attempt 1 runs
    release.set()
    job = q.wait_for_job(asked, timeout=WAIT)  # due at once, not after the 1 h backoff
    assert (job.id, job.status, job.attempt) == (asked, "completed", 2)
    quiesce(q)
    assert [j.status for j in q.get_all_jobs()] == ["retried", "completed"]
    q._scheduler.check()


def test_removing_a_run_once_task_with_a_pending_retry(q) -> None:
    _, handler = _flaky(10)
    task_id = q.add_task("once", handler, interval=1, run_once=True, retries=RetryPolicy(3))
    quiesce(q)
    q.remove_task(task_id)
    assert [j.status for j in q.get_all_jobs()] == ["retried", "cancelled"]
    assert q.statistics().tasks == 0
    q._scheduler.check()
