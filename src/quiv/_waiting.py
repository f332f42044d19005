"""Waiting for a job or a task's next job to end, blocking or from async code, through its retries.

The scheduler thread hands a waiter the job's entry (``Scheduler.watch``), whose ``ended``
event is set when the run is recorded; a job that ends ``retried`` is followed to the attempt
that retried it, in memory while the scheduler still holds that attempt, else through the
store. The final ``Job`` is read back from the store, as any read is.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from functools import partial

from ._config import check_id, check_number
from ._scheduler import Scheduler
from ._store import Store
from .exceptions import TaskNotFoundError, WaitTimeoutError
from .models import Job, JobStatus

__all__ = ["Waiter"]


class Waiter:
    """The waits of one ``Quiv``; each checks that it may run (``usable``) and its arguments."""

    __slots__ = ("_get_job", "_scheduler", "_store", "_usable")

    def __init__(
        self,
        scheduler: Scheduler,
        store: Store,
        *,
        usable: Callable[[str], None],
        get_job: Callable[[str], Job],
    ) -> None:
        self._scheduler = scheduler
        self._store = store
        self._usable = usable
        self._get_job = get_job

    def wait_for_job(self, job_id: str, timeout: float | None) -> Job:
        """See ``Quiv.wait_for_job``."""
        self._usable("wait for a job")
        check_id("job_id", job_id)
        if timeout is not None:
            timeout = check_number("timeout", timeout)
        end = None if timeout is None else time.monotonic() + timeout
        current = job_id
        while True:
            entry = self._scheduler.call(partial(self._scheduler.runs.watch, current))
            while entry is not None:
                remaining = None if end is None else max(0.0, end - time.monotonic())
                ended = entry.ended
                # Made by watch() on the scheduler thread, or with the retry that ended the
                # attempt before (next_attempt): never here, where an end could slip past it.
                assert ended is not None
                if not ended.wait(remaining):
                    raise WaitTimeoutError(job_id, timeout)
                current, entry = entry.id, entry.next_attempt
            following = self._next_attempt(current)
            if following is None:
                return self._get_job(current)
            current = following

    async def wait_for_job_async(self, job_id: str, timeout: float | None) -> Job:
        """See ``Quiv.wait_for_job_async``."""
        self._usable("wait for a job")
        check_id("job_id", job_id)
        if timeout is not None:
            timeout = check_number("timeout", timeout)
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()

        def _resolve() -> None:
            if not ended.done():
                ended.set_result(None)

        def _on_end() -> None:  # on the scheduler thread
            loop.call_soon_threadsafe(_resolve)

        end = None if timeout is None else loop.time() + timeout
        current = job_id
        while True:
            entry = self._scheduler.call(partial(self._scheduler.runs.watch, current, _on_end))
            if entry is not None:
                remaining = None if end is None else max(0.0, end - loop.time())
                try:
                    await asyncio.wait_for(asyncio.shield(ended), remaining)
                except asyncio.TimeoutError:
                    raise WaitTimeoutError(job_id, timeout) from None
                while entry is not None:  # the callback moved along to the final attempt
                    current, entry = entry.id, entry.next_attempt
            following = self._next_attempt(current)
            if following is None:
                return self._get_job(current)
            current = following
            ended = loop.create_future()

    def wait_for_task(self, task_id: str, timeout: float | None) -> Job:
        """See ``Quiv.wait_for_task``."""
        self._usable("wait for a task")
        check_id("task_id", task_id)
        if timeout is not None:
            timeout = check_number("timeout", timeout)
        end = None if timeout is None else time.monotonic() + timeout
        made = threading.Event()
        found: list[str | None] = []

        def _made(job_id: str | None) -> None:  # on the scheduler thread
            found.append(job_id)
            made.set()

        try:
            job_id = self._scheduler.call(partial(self._scheduler.runs.watch_task, task_id, _made))
        except TaskNotFoundError:
            # A one-off task whose run is over (add_task, then wait_for_task, as quiv 1.4.0
            # users write it: the job may have ended before the wait began): its last job.
            job_id = self._store.last_job_of(task_id)
            if job_id is None:
                raise
        if job_id is None:
            if not made.wait(timeout):
                raise WaitTimeoutError(f"the next job of task {task_id}", timeout)
            job_id = found[0]
            if job_id is None:
                raise TaskNotFoundError(task_id)
        remaining = None if end is None else max(0.0, end - time.monotonic())
        return self.wait_for_job(job_id, remaining)

    def _next_attempt(self, job_id: str) -> str | None:
        """The id of the attempt that retried ``job_id``, if it ended ``retried``."""
        if self._get_job(job_id).status != JobStatus.RETRIED.value:
            return None
        row = self._store.next_attempt_of(job_id)
        return None if row is None else str(row["id"])
