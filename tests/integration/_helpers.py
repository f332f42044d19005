"""Helpers shared by the integration tests: waiting for quiet, and recording calls."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import text

from quiv import Job, Quiv, SchedulerStatistics
from quiv._database import open_database
from quiv._store import _registry
from quiv.testing import FakeClock, settle, wait_until

# ``FakeClock``'s default start.
EPOCH = datetime(2030, 1, 1, tzinfo=timezone.utc)

# Generous real-time limit for anything a worker or listener thread does: a loaded CI
# machine can be slow, and a test only pays it when it is about to fail anyway.
WAIT = 20.0


def at(seconds: float) -> datetime:
    """The fake clock's wall time ``seconds`` after its start."""
    return EPOCH + timedelta(seconds=seconds)


def quiesce(q: Quiv, timeout: float = WAIT) -> SchedulerStatistics:
    """Wait until no job runs and nothing is due at the clock's current time.

    Two statistics snapshots with no running job and the same number of started jobs,
    separated by a dispatch pass (``settle``), mean the scheduler found nothing to start.
    """
    end = time.monotonic() + timeout
    previous: SchedulerStatistics | None = None
    while True:
        settle(q, timeout)
        stats = q.statistics()
        if (
            stats.running_jobs == 0
            and previous is not None
            and previous.running_jobs == 0
            and previous.jobs_started == stats.jobs_started
        ):
            return stats
        previous = stats
        if time.monotonic() > end:
            raise TimeoutError(f"quiv did not quiesce within {timeout} s: {stats}")
        if stats.running_jobs:
            time.sleep(0.002)


def advance(q: Quiv, clock: FakeClock, seconds: float) -> None:
    """Advance the fake clock and wait for the dispatch pass at the new time (jobs that
    became due have been handed to workers; they may still be running).

    Settles first: ``add_task`` hands the task to the scheduler thread without waiting,
    and its delay counts from when that thread takes it.
    """
    settle(q)
    clock.advance(seconds)
    settle(q)


def tick(q: Quiv, clock: FakeClock, seconds: float = 1.0) -> None:
    """Advance the fake clock and wait until every job it made due has run (after letting
    what is due before run: a handler may read the clock)."""
    quiesce(q)
    clock.advance(seconds)
    quiesce(q)


def step_to(q: Quiv, clock: FakeClock, until: float, step: float = 1.0) -> None:
    """Advance the fake clock in steps of ``step`` until it reads ``until``, first letting
    what is due now run (a handler reads the clock when it runs)."""
    quiesce(q)
    while clock.monotonic() + step <= until + 1e-9:
        tick(q, clock, step)


def sync_history(q: Quiv) -> list[Job]:
    """Let purges that are due run to the end; return the job history then.

    A read commits pending store work (a queued purge included); the purge then reports
    back to the scheduler thread, which ``settle`` lets handle it, and so on until the
    history stops changing.
    """
    jobs = q.get_all_jobs()
    for _ in range(20):
        settle(q)
        again = q.get_all_jobs()
        settle(q)
        if [j.id for j in again] == [j.id for j in jobs]:
            return again
        jobs = again
    raise AssertionError("the job history did not settle")


class Recorder:
    """A thread-safe callable that records the arguments and thread of every call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[Any, ...]] = []
        self.kwargs: list[dict[str, Any]] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.calls.append(args)
            self.kwargs.append(kwargs)
            self.threads.append(threading.current_thread())

    def __len__(self) -> int:
        with self._lock:
            return len(self.calls)

    def wait_for(self, count: int, timeout: float = WAIT) -> None:
        """Wait until at least ``count`` calls were recorded."""
        wait_until(lambda: len(self) >= count, timeout)


class Runs:
    """A handler that records the fake clock's time of every run."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.times: list[float] = []

    def __call__(self) -> None:
        with self._lock:
            self.times.append(self._clock.monotonic())

    def __len__(self) -> int:
        with self._lock:
            return len(self.times)


def stored_rows(url: str, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``statement`` on the durable database ``url``, read on a connection of its
    own (as another process would see them)."""
    database = open_database(url, _registry.metadata)
    try:
        with database.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(statement), params)]
    finally:
        database.close()


def quiv_threads() -> set[threading.Thread]:
    """The live threads quiv started (their names begin ``quiv-``)."""
    return {t for t in threading.enumerate() if t.name.startswith("quiv-") and t.is_alive()}


def assert_consistent(q: Quiv) -> None:
    """``Scheduler.check()`` holds on the scheduler thread, and the stored tasks are the
    scheduler's, with the same status and next run (read in one step on that thread)."""
    scheduler = q._scheduler

    def snapshot() -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
        scheduler.check()
        tasks = scheduler.state.tasks.values()
        held = {task.id: (task.status.value, task.next_run_at) for task in tasks}
        stored = {
            row["id"]: (row["status"], row["next_run_at"])
            for row in q._store.get_tasks(include_run_once=True)
        }
        return held, stored

    held, stored = scheduler.call(snapshot)
    assert held == stored


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A UTC instant: ``utc(2027, 3, 28, 1)``."""
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


def noop() -> None:
    pass


def seconds_until(clock: FakeClock, when: datetime) -> float:
    return (when - clock.now()).total_seconds()


def walk(q: Quiv, clock: FakeClock, until: datetime, step: float) -> None:
    """Advance the fake clock in steps of ``step`` seconds (the last one shorter if need
    be) until it reads ``until``, letting the runs due at each step run to their end."""
    quiesce(q)
    while (remaining := seconds_until(clock, until)) > 0:
        tick(q, clock, min(step, remaining))


class WallRuns:
    """A handler that records the fake clock's wall time (UTC) of every run."""

    def __init__(self, clock: FakeClock, gate: threading.Event | None = None) -> None:
        self._clock = clock
        self._gate = gate
        self._lock = threading.Lock()
        self.times: list[datetime] = []

    def __call__(self) -> None:
        with self._lock:
            self.times.append(self._clock.now())
        if self._gate is not None:
            self._gate.wait(WAIT)

    def __len__(self) -> int:
        with self._lock:
            return len(self.times)
