"""``quiv demo``: a short, self-contained run that shows what quiv does, in a terminal.

The run keeps to the seconds it is given, counted from its start: each step of the script
waits for its own mark on one timeline (``_Timeline``) rather than sleeping a share of the
total after whatever came before, and the shutdown gets the time left before the end. A step
that runs late (the retried task can take longer than its share) leaves the next steps less
time, never more total time.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from ._quiv import Quiv
from ._schedule import RetryPolicy
from .exceptions import WaitTimeoutError
from .models import Event, Job, Task

__all__ = ["run_demo"]


# The share of the run after which each step begins; the last 5% is the shutdown's.
_SHARES = {"cancel": 0.45, "pause": 0.6, "resume": 0.75, "history": 0.95}


@dataclass(frozen=True)
class _Timeline:
    """When each step of the demo is due, as readings of the demo's clock.

    Every mark is ``start`` plus a share of ``seconds``, so the marks do not drift with the
    time the steps before them took; ``end`` (``start + seconds``) bounds the shutdown.
    """

    start: float
    seconds: float

    def at(self, step: str) -> float:
        """The clock reading at which ``step`` is due."""
        return self.start + _SHARES[step] * self.seconds

    @property
    def end(self) -> float:
        """The clock reading by which the demo, shutdown included, is over."""
        return self.start + self.seconds


class _Printer:
    def __init__(self, out: TextIO, clock: Callable[[], float], t0: float) -> None:
        self._out = out
        self._clock = clock
        self._t0 = t0
        self._lock = threading.Lock()

    def __call__(self, where: str, text: str) -> None:
        with self._lock:
            elapsed = self._clock() - self._t0
            self._out.write(f"[{elapsed:6.2f}s] {where:<8} {text}\n")
            self._out.flush()


class _LogToPrinter(logging.Handler):
    def __init__(self, say: _Printer) -> None:
        super().__init__(logging.INFO)
        self._say = say

    def emit(self, record: logging.LogRecord) -> None:
        self._say("log", f"{record.levelname.lower()}: {record.getMessage()}")


async def _demo(seconds: float, out: TextIO, clock: Callable[[], float]) -> int:
    timeline = _Timeline(clock(), seconds)
    say = _Printer(out, clock, timeline.start)

    async def until(step: str) -> None:
        await asyncio.sleep(max(0.0, timeline.at(step) - clock()))

    logger = logging.getLogger("quiv.demo")
    logger.propagate = False
    handler = _LogToPrinter(say)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    quiv = Quiv(pool_size=4, logger=logger)
    cancel_target: dict[str, str] = {}

    def on_task(event: Event, task: Task) -> None:
        say("event", f"{event.value:<14} task {task.task_name!r} ({task.status})")

    def on_job(event: Event, task: Task, job: Job) -> None:
        detail = f" attempt {job.attempt}" if job.attempt > 1 else ""
        detail += f" error={job.error_message!r}" if job.error_message else ""
        if job.duration_seconds is not None:
            detail += f" after {job.duration_seconds * 1000:.0f} ms"
        say("event", f"{event.value:<14} job of {task.task_name!r}{detail}")
        if event is Event.JOB_STARTED and task.task_name == "long-export":
            cancel_target["job"] = job.id

    for event in (Event.TASK_ADDED, Event.TASK_REMOVED, Event.TASK_PAUSED, Event.TASK_RESUMED):
        quiv.add_listener(event, on_task)
    for event in (
        Event.JOB_STARTED,
        Event.JOB_COMPLETED,
        Event.JOB_FAILED,
        Event.JOB_CANCELLED,
        Event.JOB_TIMED_OUT,
        Event.JOB_RETRYING,
    ):
        quiv.add_listener(event, on_job)

    def heartbeat(_job_id: str) -> None:
        say("worker", f"heartbeat (job {_job_id[:8]}) on {threading.current_thread().name}")

    async def download(url: str, _progress_hook: Any) -> None:
        for percent in (0, 25, 50, 75, 100):
            _progress_hook(url=url, percent=percent)
            await asyncio.sleep(0.25)

    async def show_progress(url: str, percent: int) -> None:
        on_main = threading.current_thread() is threading.main_thread()
        say("main", f"progress {url} {percent:3d}% (on the main loop: {on_main})")

    def long_export(_stop_event: threading.Event) -> None:
        say("worker", "export started; it checks its stop event every 100 ms")
        while not _stop_event.wait(0.1):
            pass
        say("worker", "export saw its stop event and returns")

    def broken() -> None:
        raise ValueError("the upstream API answered 503")

    attempts = [0]

    def flaky_sync() -> dict[str, int]:
        attempts[0] += 1
        if attempts[0] < 3:
            raise ConnectionError(f"attempt {attempts[0]}: connection reset")
        return {"synced": 42}

    def slow_report(_stop_event: threading.Event) -> None:
        say("worker", "report started; its task has a 1 s timeout")
        _stop_event.wait(30)
        say("worker", "report saw its stop event (the timeout) and returns")

    quiv.start()
    beat = quiv.add_task("heartbeat", heartbeat, interval=max(seconds / 5, 0.5))
    quiv.add_task(
        "download",
        download,
        interval=1,
        run_once=True,
        delay=0.3,
        args=("https://example.invalid/data.csv",),
        progress_callback=show_progress,
    )
    quiv.add_task("long-export", long_export, interval=60, run_once=True, delay=0.5)
    quiv.add_task("broken", broken, interval=1, run_once=True, delay=1.0)
    quiv.add_task("slow-report", slow_report, interval=60, run_once=True, delay=0.2, timeout=1.0)
    flaky = quiv.add_task(
        "flaky-sync",
        flaky_sync,
        interval=3600,
        delay=3600,
        retries=RetryPolicy(max_retries=3, backoff=0.4, jitter=0.0),
    )
    try:
        job_id = quiv.run_task(flaky)
        say("main", "started flaky-sync with run_task; awaiting its end without blocking")
        try:
            wait = max(0.0, timeline.at("cancel") - clock())
            job = await quiv.wait_for_job_async(job_id, timeout=wait)
        except WaitTimeoutError:
            say("main", "flaky-sync is still retrying; the demo moves on")
        else:
            say("main", f"flaky-sync ended {job.status} on attempt {job.attempt}: {job.result}")
        await until("cancel")
        if "job" in cancel_target:
            say("main", "cancelling the export job")
            quiv.cancel_job(cancel_target["job"])
        await until("pause")
        say("main", "pausing the heartbeat")
        quiv.pause_task(beat)
        await until("resume")
        say("main", "resuming the heartbeat, and running it at once")
        quiv.resume_task(beat, delay=seconds / 5)
        quiv.run_task_immediately(beat)
        await until("history")
        say("main", "job history:")
        for job in quiv.get_all_jobs():
            say("main", f"  {job.task_name:<12} {job.status:<10} {job.error_message or ''}")
        quiv.remove_task(beat)
    finally:
        # A job still running at the end is cancelled rather than waited for past it.
        quiv.shutdown(timeout=max(0.0, timeline.end - clock()))
        logger.removeHandler(handler)
    await asyncio.sleep(0)  # the listeners' last calls, queued on this loop during shutdown
    say("main", "scheduler shut down; its temporary database is gone")
    return 0


def run_demo(
    seconds: float = 10.0,
    out: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Run the demo for ``seconds`` from this call, shutdown included; return 0.

    ``clock`` (monotonic seconds) times the steps and stamps the lines; it is for tests.
    """
    return asyncio.run(_demo(seconds, out if out is not None else sys.stdout, clock))
