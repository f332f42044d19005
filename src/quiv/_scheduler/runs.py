"""The API's commands about runs and jobs: run now, cancel, watch a job or a task, and the
questions the façade asks (the next run, counts by status).

Like the task commands, each runs where the scheduler's state is held. ``run_soon`` is also
the body of the run-now fast path: on a caller's thread, while the scheduler thread sleeps,
it hands the run to a worker itself (``Scheduler.run_soon_here``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .._clock import Clock
from .._entries import JobEntry, TaskEntry
from .._machines import TaskState
from ..exceptions import TaskNotActiveError
from .dispatch import Dispatcher
from .planning import Planner, upcoming
from .state import SchedulerState

__all__ = ["RunCommands"]


class RunCommands:
    """Runs asked for, jobs cancelled or watched through the API (see the module)."""

    def __init__(
        self,
        *,
        state: SchedulerState,
        planner: Planner,
        dispatcher: Dispatcher,
        clock: Clock,
        logger: logging.Logger,
    ) -> None:
        self._state, self._planner, self._dispatcher = state, planner, dispatcher
        self._clock, self._logger = clock, logger

    def run_task(self, task_id: str) -> str | None:
        """Make a run due now (right after a running job, if ``max_instances`` of them run)
        and return its job's id,
        which exists at once as ``scheduled``; None if there is no such task.

        A job already made ahead (an earlier call, a pending retry) is that run: it is made
        due now and its id returned. A run-once task's running job is its one run.
        """
        state = self._state
        task = state.tasks.get(task_id)
        if task is None:
            return None
        now = self._clock.monotonic()
        if task.pending is not None:
            job = task.pending
        elif task.run_once and task.job is not None:
            return task.job.id
        else:
            job = state.new_job(task)
            job.displaced = None if task.full else state.current_plan(task)
            state.make_pending(task, job)
        if not task.full:  # idle, or running fewer jobs than max_instances: it starts now
            state.apply(task, self._planner.at(now))
            state.write_task(task)
        else:
            task.follow_up = now
        return job.id

    def run_soon(self, task_id: str) -> None:
        """``run_task`` for a caller that wants no job id (``run_task_immediately``).

        An idle task of this process alone just gets a deadline of now: its job is made
        when it starts, with no job made ahead (no ``scheduled`` row to write first). Any
        other case (a running job, a job made ahead, a shared task) goes through
        ``run_task``.
        """
        state = self._state
        task = state.tasks.get(task_id)
        if task is None:
            return
        if task.state is not TaskState.ACTIVE or task.pending is not None or task.shared:
            self.run_task(task_id)
            return
        now = self._clock.monotonic()
        plan = self._planner.at(now)
        if (
            state.threaded
            and not state.stopping
            and state.running < state.pool_size
            and not state.ready
        ):
            # Started now, not after the rest of the command queue: someone waits for it.
            # Straight to a worker: its deadline of now never goes through the timeline.
            state.apply(task, plan, starts_now=True)
            try:
                self._dispatcher.start_due(task, now, 0.0, now)
            finally:
                self._dispatcher.hand_off()
        else:
            state.apply(task, plan)
            state.write_task(task)

    def cancel_requested(self, job_ids: list[str]) -> None:
        """Cancel jobs of this process that another process asked to cancel."""
        for job_id in job_ids:
            if self.cancel_job(job_id):
                self._logger.info("job %s cancelled at another process's request", job_id)

    def cancel_job(self, job_id: str) -> bool:
        """Stop a running job (its stop event, and asyncio cancellation on the main loop) or
        cancel a job made ahead; False when the job is neither."""
        state = self._state
        pending = state.pending.get(job_id)
        if pending is not None:
            state.cancel_pending(pending, "cancel_job was called")
            return True
        job = state.jobs.get(job_id)
        if job is None:
            return False
        state.stop_job(job)
        return True

    def watch(self, job_id: str, on_end: Callable[[], None] | None = None) -> JobEntry | None:
        """The entry of a job not yet ended (running or made ahead), or None; ``on_end`` is
        called on this thread once its end is recorded."""
        job = self._state.jobs.get(job_id) or self._state.pending.get(job_id)
        if job is not None:
            job.waitable()
            if on_end is not None:
                job.on_end.append(on_end)
        return job

    def watch_task(self, task_id: str, waiter: Callable[[str | None], None]) -> str | None:
        """The id of the job of ``task_id`` that ends next: its running job or the job made
        ahead for it, else None, and ``waiter`` gets the id of its next job when it is made
        (or None if the task ends first). ``TaskNotActiveError`` for a paused task that
        has nothing under way or asked for."""
        task = self._state.task(task_id)
        current = task.job or task.pending
        if current is not None:
            return current.id
        if task.state is TaskState.PAUSED and task.id not in self._state.timeline:
            raise TaskNotActiveError(task_id, task.status.value)
        task.waiters = [*(task.waiters or ()), waiter]
        return None

    def upcoming(self, task_id: str) -> tuple[TaskEntry, float, float] | None:
        """A task's next run as epoch instants: the planned one (jitter included) and the
        regular slot its cadence continues from; None when no run is planned (paused, or a
        one-shot task whose run is under way)."""
        task = self._state.task(task_id)
        if task.state in (TaskState.PAUSED, TaskState.PAUSED_RUNNING):
            return None
        return upcoming(task, task.id in self._state.timeline, self._planner.now())

    def entry(self, task_id: str) -> TaskEntry:
        """The entry of a task (``TaskNotFoundError`` for an unknown id)."""
        return self._state.task(task_id)

    def progress_callback(self, task_id: str) -> Callable[..., Any] | None:
        """The progress callback of a task (``TaskNotFoundError`` for an unknown id)."""
        return self._state.task(task_id).settings.progress_callback

    def next_run(self) -> float | None:
        """The earliest planned run of any task (epoch), or None."""
        timeline = self._state.timeline
        times = [t.next_run_at for t in self._state.tasks.values() if t.id in timeline]
        return min(times, default=None)

    def tasks_by_status(self) -> dict[str, int]:
        """How many tasks have each stored status."""
        counts: dict[str, int] = {}
        for task in self._state.tasks.values():
            status = task.status.value
            counts[status] = counts.get(status, 0) + 1
        return counts
