"""Outcomes: how a job ends (completed, failed, cancelled, timed out, retried) and what its
task does next.

A job's end comes from the thread that ran it (``Outcome``) and is recorded here, on
whichever thread holds the scheduler's state. Everything that can fail comes first (the
state machines' checks, the log line); the state changes only after it, so a defect costs
one job's record, never a job left ``running``. Timeouts are deadlines on their own
timeline: the first sets the job's stop event, the second, ``UNRESPONSIVE_AFTER_SECONDS``
later, flags a handler that ignores it (a thread job's: a process job's process is killed
instead, by its pool, ``kill_grace`` after the stop).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from .._clock import Clock
from .._entries import JobEntry, Plan, TaskEntry
from .._machines import JOB_MACHINE, TASK_MACHINE, TaskState
from .._runner import Outcome
from .._schedule import retry_delay
from .._store import Store
from .emitting import Emitter
from .planning import Planner
from .state import RECHECK_SECONDS, SchedulerState

__all__ = ["UNRESPONSIVE_AFTER_SECONDS", "Outcomes"]

# After a timeout set a job's stop event, how long its handler may take to return before
# the job is flagged unresponsive (and a warning logged).
UNRESPONSIVE_AFTER_SECONDS = 5.0


class Outcomes:
    """Job starts on the main loop, job ends, retries and timeouts (see the module)."""

    def __init__(
        self,
        *,
        state: SchedulerState,
        planner: Planner,
        store: Store,
        emitter: Emitter,
        clock: Clock,
        epoch: Callable[[], float],
        rng: random.Random,
        logger: logging.Logger,
    ) -> None:
        self._state, self._planner, self._store, self._emitter = state, planner, store, emitter
        self._clock, self._epoch, self._rng, self._logger = clock, epoch, rng, logger

    def started(self, job: JobEntry, started_at: float, started_mono: float) -> None:
        """A main-loop job's coroutine began. (It stays in ``on_loop`` until it ends: if its
        loop stops meanwhile, ``Dispatcher.check_loop`` ends it.)"""
        state = self._state
        job.loop_coroutine = None
        if job.id not in state.jobs:
            return  # already closed by shutdown
        job_state = JOB_MACHINE.next_state(job.id, job.state, "start")
        state.begin(job, job_state, started_at, started_mono)
        self._store.put_job_values(job.values())
        self._emitter.job(JOB_MACHINE.event_for("start"), job)

    def _may_retry(self, job: JobEntry, outcome: Outcome) -> bool:
        task = job.task
        return (
            outcome.retryable
            and task.settings.retry is not None
            and job.attempt <= task.settings.retry.max_retries
            and task.state is TaskState.RUNNING  # not paused or removed meanwhile
            and not job.stopping  # not cancelled
            and not self._state.stopping
        )

    def finish(self, job: JobEntry, outcome: Outcome) -> None:
        """Record the end of ``job`` and plan what its task does next."""
        state = self._state
        state.on_loop.pop(job.id, None)
        if job.id not in state.jobs:
            return  # already closed by shutdown
        task = job.task
        # Everything that can fail comes first; state changes only after it.
        trigger = outcome.trigger
        retry_at = None
        if job.timed_out:
            trigger = "time_out"
        elif trigger == "fail" and self._may_retry(job, outcome):
            assert task.settings.retry is not None
            trigger = "retry"
            retry_at = outcome.ended_mono + retry_delay(
                task.settings.retry, job.attempt, self._rng.random()
            )
        job_state = JOB_MACHINE.next_state(job.id, job.state, trigger)
        if outcome.exc is not None:
            try:
                self._log_failure(job, outcome, retry_at)
            except Exception:  # a logging handler that raises must not strand the job
                outcome.exc = None
        regular, last = self._next_regular(job, outcome)
        job.state = job_state
        job.ended_at = outcome.ended_at
        job.error = outcome.error if outcome.error is not None else job.note
        job.result, job.result_note = outcome.result, outcome.result_note
        start = job.started_mono
        job.duration = 0.0 if start is None else max(0.0, outcome.ended_mono - start)
        del state.jobs[job.id]
        state.timeouts.cancel(job.id)
        state.running -= 1
        if job.process:
            state.process_running -= 1
        self._store.put_job_values(job.values())
        task.remove_running(job)
        if task.state is not TaskState.REMOVED:
            if retry_at is not None:
                self._retry(task, job, regular, retry_at)
            else:
                follow_up = task.follow_up
                plan = regular if follow_up is None else self._planner.at(follow_up)
                self._after_run(task, plan, last=last)
        state.ended(job, JOB_MACHINE.event_for(trigger), outcome.ended_mono)

    def _next_regular(self, job: JobEntry, outcome: Outcome) -> tuple[Plan | None, bool]:
        """The regular run after ``job``'s end, if its task is to plan one now, and whether
        its schedule has no run left (the task ends with this run)."""
        task, state = job.task, self._state
        if task.state is not TaskState.RUNNING or task.run_once:
            return None, False
        # Several of its jobs may run (max_instances > 1): the cadence goes on from the
        # latest started, and a run planned already (one started with room for more) stays.
        latest = task.job if task.job is not None else job
        if state.stopping:
            if task.key is not None:
                # Shutting down: nothing more runs here, but a durable keyed task's record
                # must say its slot was served, or the next start (or another process)
                # runs it again.
                following = self._planner.after_run(
                    task, latest, outcome.ended_at, outcome.ended_mono
                )
                if following is not None and self._store.durable:
                    task.slot, task.next_run_at = following.slot, following.at
            return None, False
        if task.id in state.timeline:
            return None, False
        regular = self._planner.after_run(task, latest, outcome.ended_at, outcome.ended_mono)
        last = (
            regular is None
            and task.others is None
            and task.follow_up is None
            and task.pending is None
        )
        return regular, last

    def _log_failure(self, job: JobEntry, outcome: Outcome, retry_at: float | None) -> None:
        """Log what a handler raised: a warning for an attempt that is retried, an error
        with its traceback for a failure that stands."""
        exc, outcome.exc = outcome.exc, None
        task = job.task
        if retry_at is not None:
            assert task.settings.retry is not None
            self._logger.warning(
                "job %s of task %r (%s) raised %s: %s; attempt %d of %d, retrying in %.3g s",
                job.id,
                task.name,
                task.id,
                type(exc).__name__,
                outcome.error,
                job.attempt,
                task.settings.retry.max_retries + 1,
                max(0.0, retry_at - outcome.ended_mono),
            )
            return
        self._logger.error(
            "job %s of task %r (%s) raised %s",
            job.id,
            task.name,
            task.id,
            type(exc).__name__,
            exc_info=exc,
        )

    def _retry(self, task: TaskEntry, job: JobEntry, regular: Plan | None, at: float) -> None:
        """Make the next attempt of ``job``, which failed, due at the monotonic ``at``."""
        retry = task.pending
        if retry is None:
            retry = self._state.new_job(task)
            # What it displaces: the next regular run, or one planned already (another of
            # its jobs started with room for more), which comes back when this one starts.
            current = self._state.current_plan(task)
            retry.displaced = regular if current is None else current
            self._after_run(task, self._planner.at(at), retrying=True)
        else:  # a run asked for meanwhile (run_task): it is the next attempt, now
            follow_up = task.follow_up
            plan = None if follow_up is None else self._planner.at(follow_up)
            self._after_run(task, plan, retrying=True)
        retry.attempt, retry.anchor, retry.retry_of = job.attempt + 1, job.anchor, job.id
        retry.slot = job.slot
        self._state.make_pending(task, retry)
        # Whoever waits for this run waits for its final attempt.
        job.next_attempt = retry
        retry.on_end.extend(job.on_end)
        if job.ended is not None:
            retry.waitable()  # a waiter follows next_attempt to this one's event
        job.on_end.clear()

    def _after_run(
        self, task: TaskEntry, plan: Plan | None, *, retrying: bool = False, last: bool = False
    ) -> None:
        state = self._state
        if (task.run_once or last) and not retrying:
            state.end_task(task, "finish_last")
            return
        trigger = "finish" if task.job is None else "finish_one"  # others still run
        task.state = TASK_MACHINE.next_state(task.id, task.state, trigger)
        task.follow_up = None
        if plan is not None:
            state.apply(task, plan)
        elif task.shared and task.state is TaskState.PAUSED and not state.stopping:
            state.recheck(task, RECHECK_SECONDS)  # to hear of a resume elsewhere
        state.write_task(task)

    def time_out(self, job_id: str, now: float) -> None:
        """A timeout deadline of a running job passed: stop it, or flag it unresponsive."""
        job = self._state.jobs.get(job_id)
        if job is None:
            return
        if not job.timed_out:
            job.timed_out = True
            self._logger.warning(
                "job %s of task %r ran past its %.3f s timeout; stopping it",
                job.id,
                job.task.name,
                job.task.settings.timeout,
            )
            self._state.stop_job(job)
            if not job.process:  # a process job is killed instead, kill_grace later
                self._state.timeouts.schedule(job.id, now + UNRESPONSIVE_AFTER_SECONDS)
            return
        job.unresponsive = True
        self._store.put_job_values(job.values())
        self._logger.warning(
            "job %s of task %r ignores its stop event %.0f s after its timeout; its "
            "worker stays busy until the handler returns (Python cannot stop a thread)",
            job.id,
            job.task.name,
            UNRESPONSIVE_AFTER_SECONDS,
        )

    def abandon(self, *, at_exit: bool) -> list[str]:
        """Record the jobs still running once the scheduler thread has exited as cancelled
        (their daemon threads are left behind); return their ids."""
        abandoned = list(self._state.jobs.values())
        for job in abandoned:
            if at_exit:  # dropped, or left running at exit: nothing was waited for
                self._logger.warning(
                    "job %s of task %r was still running when its Quiv was dropped or the "
                    "interpreter exited without shutdown(); recording it as cancelled",
                    job.id,
                    job.task.name,
                )
                continue
            self._logger.warning(
                "job %s of task %r did not stop within the shutdown timeout; "
                "recording it as cancelled and leaving its daemon thread behind",
                job.id,
                job.task.name,
            )
        for job in abandoned:
            error = (
                "still running when the process exited without shutdown()"
                if at_exit
                else "still running when shutdown gave up waiting for it"
            )
            self.finish(job, Outcome("cancel", self._epoch(), self._clock.monotonic(), error=error))
        return [job.id for job in abandoned]
