"""Reusable checkers of what a scheduler promises, for any test to call.

``Tracker`` wraps handlers: it records every job id a handler ran with and notices a task
running twice at once. The ``assert_*`` functions check a ``Quiv`` after it has quiesced
(no job running, nothing due), and ``Leaks`` checks that a shutdown left no thread and no
temporary file behind.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from quiv import JobStatus, Quiv
from quiv.testing import wait_until

TERMINAL = frozenset(
    s.value for s in JobStatus if s not in (JobStatus.SCHEDULED, JobStatus.RUNNING)
)
# Statuses a job can only have if its handler was called.
INVOKED = frozenset(
    {
        JobStatus.COMPLETED.value,
        JobStatus.FAILED.value,
        JobStatus.TIMED_OUT.value,
        JobStatus.RETRIED.value,
    }
)

WAIT = 20.0


def env_int(name: str, default: int) -> int:
    """An int from the environment (``nox -s stress`` sets the full sizes), else ``default``."""
    value = os.environ.get(name)
    return default if not value else int(value)


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if not value else float(value)


class Tracker:
    """Makes handlers that record the job ids they run with and catch overlapping runs.

    ``tracker.handler("name")`` is a handler for the task named ``name`` (names must be
    unique among the tracked tasks). ``body`` runs inside it, between the enter and exit
    marks, with the stop event.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running: Counter[str] = Counter()
        self.max_running: Counter[str] = Counter()
        self.overlaps: list[str] = []
        self.job_ids: dict[str, list[str]] = {}
        self.order: list[str] = []  # task names, in the order their handlers were entered

    def handler(
        self, name: str, body: Callable[[threading.Event], Any] | None = None
    ) -> Callable[..., Any]:
        def handler(_job_id: str, _stop_event: threading.Event) -> Any:
            with self._lock:
                self.running[name] += 1
                if self.running[name] > 1:
                    self.overlaps.append(name)
                self.max_running[name] = max(self.max_running[name], self.running[name])
                self.job_ids.setdefault(name, []).append(_job_id)
                self.order.append(name)
            try:
                return None if body is None else body(_stop_event)
            finally:
                with self._lock:
                    self.running[name] -= 1

        handler.__name__ = f"tracked_{name}"[:60]
        return handler

    def calls(self, name: str) -> int:
        with self._lock:
            return len(self.job_ids.get(name, ()))

    def total(self) -> int:
        with self._lock:
            return sum(len(ids) for ids in self.job_ids.values())

    def assert_no_overlap(self) -> None:
        with self._lock:
            assert self.overlaps == [], f"tasks ran twice at once: {sorted(set(self.overlaps))}"
            assert not +self.running, f"handlers still inside: {+self.running}"

    def assert_calls_match_jobs(self, q: Quiv) -> None:
        """Each handler call has its own job record, in a status only a run can reach (or
        cancelled); every job in such a status had exactly one call."""
        with self._lock:
            calls = [(name, job_id) for name, ids in self.job_ids.items() for job_id in ids]
        called = Counter(job_id for _, job_id in calls)
        twice = [job_id for job_id, n in called.items() if n > 1]
        assert twice == [], f"jobs whose handler ran more than once: {twice}"
        jobs = {job.id: job for job in q.get_all_jobs()}
        tracked = {name for name, _ in calls}
        for name, job_id in calls:
            job = jobs.get(job_id)
            assert job is not None, f"a call of {name!r} has no job record ({job_id})"
            assert job.task_name == name
            assert job.status in INVOKED | {JobStatus.CANCELLED.value}, job
        for job in jobs.values():
            if job.task_name in tracked and job.status in INVOKED:
                assert job.id in called, f"job {job.id} is {job.status} but never ran"


def assert_all_terminal(q: Quiv) -> None:
    """Every job in the history has ended (call once quiesced, with no run asked for)."""
    stuck = [(j.task_name, j.id, j.status) for j in q.get_all_jobs() if j.status not in TERMINAL]
    assert stuck == [], f"jobs not in a terminal status: {stuck[:10]} ({len(stuck)})"


def assert_scheduler_consistent(q: Quiv) -> None:
    """``Scheduler.check()`` holds, and the stored tasks are the scheduler's tasks (taken in
    one step on the scheduler thread, so nothing changes between the two reads)."""
    scheduler = q._scheduler

    def snapshot() -> tuple[set[str], set[str]]:
        scheduler.check()
        stored = {row["id"] for row in q._store.get_tasks(include_run_once=True)}
        return set(scheduler.state.tasks), stored

    held, stored = scheduler.call(snapshot)
    assert held == stored, (
        f"only in the scheduler: {sorted(held - stored)[:5]}; "
        f"only stored: {sorted(stored - held)[:5]}"
    )


def assert_invariants(q: Quiv, tracker: Tracker | None = None) -> None:
    """Every checker that applies to a quiesced, running ``Quiv``."""
    assert_scheduler_consistent(q)
    assert_all_terminal(q)
    if tracker is not None:
        tracker.assert_no_overlap()
        tracker.assert_calls_match_jobs(q)


def quiv_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("quiv-") and t.is_alive()}


def open_fds() -> int | None:
    """How many file descriptors this process has open, or None where /proc is missing."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


class Leaks:
    """Take a baseline before building a ``Quiv``; ``check(q)`` after its shutdown asserts
    that its threads are gone, its database directory deleted, and no descriptor leaked."""

    def __init__(self) -> None:
        self.threads = quiv_threads()
        self.fds = open_fds()

    def check(self, qs: Iterable[Quiv], timeout: float = WAIT) -> None:
        for q in qs:
            directory = os.path.dirname(q._store.path)
            assert not os.path.exists(directory), f"{directory} left behind"

        def no_new_threads() -> bool:
            return not (quiv_threads() - self.threads)

        try:
            wait_until(no_new_threads, timeout)
        except TimeoutError:
            names = sorted(t.name for t in quiv_threads() - self.threads)
            raise AssertionError(f"quiv threads left after shutdown: {names}") from None
        if self.fds is not None:
            # A little slack: the interpreter itself may hold a file for a moment.
            end = time.monotonic() + timeout
            while (open_fds() or 0) > self.fds + 2 and time.monotonic() < end:
                time.sleep(0.05)
            assert (open_fds() or 0) <= self.fds + 2, (self.fds, open_fds())
