"""Process jobs end to end: dispatch latency and throughput of handlers that run in child
processes, shared by ``bench_processes.py`` and ``process_peers.py``.

A *subject* runs a handler in a pool of ``PROCESSES`` child processes:

- ``bare``: ``concurrent.futures.ProcessPoolExecutor`` alone, with a thread that sleeps until
  each due instant and submits (the floor: no scheduler at all);
- ``quiv``: this tree's ``Quiv(process_pool_size=PROCESSES)``, run-once tasks with
  ``executor="process"``;
- ``apscheduler``: APScheduler 3.x, ``BackgroundScheduler`` with its
  ``ProcessPoolExecutor(PROCESSES)`` (as it comes: the interpreter's default start method),
  one-off ``date`` jobs, unlimited misfire grace.

Each subject's pool is warmed up first (every process has run a job), so that what is
measured is dispatch, not process start-up. Nothing here imports a scheduler at module level:
each environment has only its own.

- ``latency``: one job at a time, due ``DELAY`` seconds after the call that adds it; the
  handler returns ``time.monotonic()`` at its entry in the child (the monotonic clock is the
  system's, the same in every process on Linux and macOS). ``from_due`` = entry - (return of
  the call + DELAY), ``from_call`` = entry - (start of the call + DELAY), in ms.
- ``throughput``: ``jobs`` trivial jobs added at once (due now); jobs per second from the
  first add to the last job's end as the subject reports it (quiv: the job's end recorded).

Run as a script, it measures one subject and prints JSON (how ``process_peers.py`` measures
APScheduler in an environment of its own)::

    python benchmarks/_process_jobs.py --subject quiv --samples 100 --jobs 2000
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _e2e import percentiles  # noqa: E402  (found through HERE on sys.path)

SUBJECTS = ("bare", "quiv", "apscheduler")
PROCESSES = 2
POOL_SIZE = 10
DELAY = 0.1


def entered() -> float:
    """The handler of the latency probes: when it began, on the system's monotonic clock."""
    return time.monotonic()


def nothing() -> None:
    """The handler of the throughput runs."""


class Subject:
    """What the measurements need from a scheduler with a process pool."""

    name = "?"
    version = "?"
    detail = ""

    def start(self) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        raise NotImplementedError

    def once(self, func: Callable[[], Any], delay: float) -> Any:
        """Run ``func`` once in a child, ``delay`` seconds from now; return a handle."""
        raise NotImplementedError

    def result(self, handle: Any, timeout: float) -> Any:
        """Wait for the run of ``handle`` to end; return what its handler returned."""
        raise NotImplementedError

    def wait_all(self, jobs: int, timeout: float) -> None:
        """Wait until the ``jobs`` runs added since ``start`` (or the last wait) ended."""
        raise NotImplementedError


class _Counted(Subject):
    """A subject that hears of each end by a callback: it counts them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ended = 0
        self._changed = threading.Condition(self._lock)
        self._results: dict[Any, Any] = {}

    def _end(self, handle: Any, value: Any) -> None:
        with self._lock:
            self._ended += 1
            self._results[handle] = value
            self._changed.notify_all()

    def result(self, handle: Any, timeout: float) -> Any:
        with self._lock:
            if not self._changed.wait_for(lambda: handle in self._results, timeout):
                raise TimeoutError(f"{self.name}: a job did not end within {timeout} s")
            return self._results.pop(handle)

    def wait_all(self, jobs: int, timeout: float) -> None:
        with self._lock:
            if not self._changed.wait_for(lambda: self._ended >= jobs, timeout):
                raise TimeoutError(f"{self.name}: {jobs - self._ended} of {jobs} never ended")
            self._ended -= jobs
            self._results.clear()


class BareSubject(_Counted):
    name = "bare"

    def __init__(self) -> None:
        import concurrent.futures
        import multiprocessing

        super().__init__()
        self.version = f"Python {sys.version.split()[0]}"
        method = (
            "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        )
        self.detail = f"concurrent.futures.ProcessPoolExecutor({PROCESSES}), {method}"
        self.pool = concurrent.futures.ProcessPoolExecutor(
            PROCESSES, mp_context=multiprocessing.get_context(method)
        )
        self._handles = itertools.count()

    def start(self) -> None:
        pass

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)

    def once(self, func: Callable[[], Any], delay: float) -> Any:
        handle = next(self._handles)

        def submit() -> None:
            if delay:
                time.sleep(delay)
            future = self.pool.submit(func)
            future.add_done_callback(lambda done: self._end(handle, done.result()))

        if delay:
            threading.Thread(target=submit, daemon=True).start()
        else:
            submit()
        return handle


class QuivSubject(Subject):
    """quiv keeps every job's record: a job has ended when its task (run once) is gone."""

    name = "quiv"

    def __init__(self) -> None:
        from importlib.metadata import version

        from quiv import Quiv

        self.version = version("quiv-scheduler")
        self.q = Quiv(pool_size=POOL_SIZE, process_pool_size=PROCESSES)
        self.detail = f"process_pool_size={PROCESSES}, {self.q._scheduler.processes.start_method}"

    def start(self) -> None:
        self.q.start()

    def shutdown(self) -> None:
        self.q.shutdown()

    def once(self, func: Callable[[], Any], delay: float) -> Any:
        return self.q.add_task("probe", func, delay=delay, run_once=True, executor="process")

    def result(self, handle: Any, timeout: float) -> Any:
        return self.q.wait_for_task(handle, timeout=timeout).result

    def wait_all(self, jobs: int, timeout: float) -> None:
        end = time.monotonic() + timeout
        while self.q.statistics().tasks:  # each run-once task goes once its job has ended
            if time.monotonic() > end:
                raise TimeoutError("quiv: jobs still to run")
            time.sleep(0.0005)


class APSchedulerSubject(_Counted):
    name = "apscheduler"

    def __init__(self) -> None:
        import multiprocessing
        from importlib.metadata import version

        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
        from apscheduler.executors.pool import ProcessPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        super().__init__()
        self.version = version("apscheduler")
        method = multiprocessing.get_start_method()
        self.detail = f"ProcessPoolExecutor({PROCESSES}), {method}"
        self.s = BackgroundScheduler(
            executors={"default": ProcessPoolExecutor(PROCESSES)},
            job_defaults={"misfire_grace_time": None},
            timezone="UTC",
        )
        self.s.add_listener(
            lambda event: self._end(event.job_id, getattr(event, "retval", None)),
            EVENT_JOB_EXECUTED | EVENT_JOB_ERROR,
        )

    def start(self) -> None:
        self.s.start()

    def shutdown(self) -> None:
        self.s.shutdown(wait=True)

    def once(self, func: Callable[[], Any], delay: float) -> Any:
        from datetime import datetime, timedelta, timezone

        run_date = datetime.now(timezone.utc) + timedelta(seconds=delay)
        return self.s.add_job(func, "date", run_date=run_date).id


def make_subject(name: str) -> Subject:
    if name == "bare":
        return BareSubject()
    if name == "quiv":
        return QuivSubject()
    if name == "apscheduler":
        return APSchedulerSubject()
    raise ValueError(f"unknown subject {name!r}")


def _warm(subject: Subject) -> None:
    """Make every process of the pool run a job (they start when first needed)."""
    for _ in range(4 * PROCESSES):
        subject.once(nothing, 0.0)
    subject.wait_all(4 * PROCESSES, 120)


def latency(name: str, samples: int, delay: float = DELAY) -> dict[str, Any]:
    """Due instant (and call) to handler entry in the child, one job at a time."""
    subject = make_subject(name)
    subject.start()
    try:
        _warm(subject)
        rows = []
        for _ in range(samples):
            t0 = time.monotonic()
            handle = subject.once(entered, delay)
            t1 = time.monotonic()
            rows.append((t0, t1, subject.result(handle, 60)))
        subject.wait_all(samples, 60)
    finally:
        subject.shutdown()
    from_due = [(entry - (t1 + delay)) * 1000 for t0, t1, entry in rows]
    from_call = [(entry - (t0 + delay)) * 1000 for t0, t1, entry in rows]
    return {
        "subject": name,
        "version": subject.version,
        "detail": subject.detail,
        "delay_seconds": delay,
        "unit": "ms",
        "from_due": percentiles(from_due),
        "from_call": percentiles(from_call),
    }


def throughput(name: str, jobs: int) -> dict[str, Any]:
    """``jobs`` trivial jobs added at once; per second, from the first add to the last end."""
    subject = make_subject(name)
    subject.start()
    try:
        _warm(subject)
        start = time.perf_counter()
        for _ in range(jobs):
            subject.once(nothing, 0.0)
        added = time.perf_counter()
        subject.wait_all(jobs, 600)
        ended = time.perf_counter()
    finally:
        subject.shutdown()
    return {
        "subject": name,
        "version": subject.version,
        "detail": subject.detail,
        "jobs": jobs,
        "jobs_per_second": jobs / (ended - start),
        "add_seconds": added - start,
        "seconds": ended - start,
    }


def measure(name: str, samples: int, jobs: int) -> dict[str, Any]:
    """Both measurements of one subject."""
    return {
        "subject": name,
        "latency": latency(name, samples),
        "throughput": throughput(name, jobs),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", choices=SUBJECTS, required=True)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2000)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.subject, args.samples, args.jobs)))


if __name__ == "__main__":
    # Measured through the module imported by its name, so that the handlers are
    # ``_process_jobs.entered`` (which a child imports from the benchmarks folder on its
    # path), not attributes of this script's ``__main__``.
    import _process_jobs

    _process_jobs.main()
