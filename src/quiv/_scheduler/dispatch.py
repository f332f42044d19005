"""Dispatch: the runs that fell due go to free workers (or to the app's main loop).

One pass takes due runs off the timeline, no more than there are free workers (the rest
stay on the timeline: there is no other queue), decides for each whether it runs, is
skipped by its misfire policy, or must first be claimed in a shared store, and reserves a
worker thread for each run. At the end of the pass (``hand_off``) the workers get their jobs
together, and only then are the pass's rows handed to the store, while the workers wake up.
A run of a process task also needs a free process: while none is, it is held on the
timeline (see ``state``), and never started to wait as ``running``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable

from .._bridge import MainLoop
from .._clock import Clock
from .._entries import JobEntry, TaskEntry
from .._ids import new_id
from .._machines import JOB_MACHINE, TASK_MACHINE
from .._runner import JobRunner, Outcome
from .._store import Claim, Store
from .._workers import WorkerPool
from ..models import JobStatus
from .emitting import Emitter
from .housekeeping import LATE_START_WARNING_SECONDS, Housekeeping
from .outcomes import Outcomes
from .planning import Planner, misfire_skips
from .shared import SharedTasks
from .state import SchedulerState

__all__ = ["CLAIM_AHEAD", "Dispatcher"]

# How many due runs of shared tasks one claim may ask for beyond the free workers: a round
# trip to the store costs milliseconds, so claims go in batches, and runs won beyond the
# free workers wait for one (holding their lease) instead of waiting for another round trip.
CLAIM_AHEAD = 256


class Dispatcher:
    """Starts due runs on workers (see the module)."""

    def __init__(
        self,
        *,
        state: SchedulerState,
        planner: Planner,
        store: Store,
        workers: WorkerPool,
        runner: JobRunner,
        bridge: MainLoop,
        emitter: Emitter,
        outcomes: Outcomes,
        housekeeping: Housekeeping,
        shared: SharedTasks | None,
        clock: Clock,
        epoch: Callable[[], float],
        logger: logging.Logger,
    ) -> None:
        self._state, self._planner, self._store = state, planner, store
        self._workers, self._runner, self._bridge = workers, runner, bridge
        self._emitter, self._outcomes, self._housekeeping = emitter, outcomes, housekeeping
        self._shared = shared
        self._clock, self._epoch, self._logger = clock, epoch, logger
        # Jobs dispatched in the current pass, each with a worker thread reserved for it.
        self._handoffs: list[tuple[Callable[[JobEntry], None], JobEntry]] = []
        self._unrecorded: list[JobEntry] = []  # dispatched in this pass, rows not handed over

    def dispatch_due(self, now: float) -> None:
        """Start what is due at the monotonic ``now``, as far as workers are free."""
        state = self._state
        free = state.pool_size - state.running
        if state.held and state.process_free:
            state.release_held(state.process_pool_size - state.process_running)
        if state.ready and free > 0:  # claimed runs first: they hold their lease
            free = self._start_claimed(now, free)
        if free <= 0:
            return
        processes = state.process_pool_size - state.process_running
        wall = self._epoch() if state.calendar_tasks else 0.0
        claims: list[tuple[Claim, float, float]] = []
        looks: list[str] = []
        shared = self._shared
        ahead = CLAIM_AHEAD if shared is not None and not shared.claims_in_flight else 0
        for task_id, due in state.timeline.pop_due(now, free + ahead):
            task = state.tasks[task_id]
            if not task.shared and free <= 0:
                # Popped in a claim's look-ahead, but no worker is free: back it goes.
                state.timeline.schedule(task_id, due)
                continue
            if task.recheck:
                task.recheck = False
                looks.append(task_id)
                continue
            # Runs that fell due before start() were waiting for it, not for a worker
            # (unless their time had passed already when they were planned).
            overdue = task_id in state.overdue
            late = now - (due if overdue else max(due, state.started_mono))
            if task.wall_timed:
                at = task.next_run_at
                wall_late = wall - (at if overdue else max(at, state.started_wall))
                if wall_late < -0.001 and task.slot is not None:
                    # The wall clock says not yet (it was set back): wait for it.
                    state.timeline.schedule(task.id, now - wall_late)
                    continue
                late = max(late, wall_late)
            if state.needs_process(task):
                if processes <= 0:
                    state.hold(task_id, due)  # until a process is free
                    continue
                processes -= 1
            state.overdue.discard(task_id)
            if task.shared:  # another process may want this run too: claim it first
                claims.append(self._claim(task, due, late, overdue=overdue))
                continue
            self.start_due(task, due, late, now, overdue=overdue)
            free -= 1
        if shared is not None:
            if claims:
                shared.send_claims(claims, wall)
            if looks:
                shared.look(looks)

    def _claim(
        self, task: TaskEntry, due: float, late: float, *, overdue: bool
    ) -> tuple[Claim, float, float]:
        """The claim of ``task``'s due run, as ``send_claims`` takes it."""
        job_id = task.pending.id if task.pending is not None else new_id()
        regular = task.slot is not None and task.pending is None
        slot = task.slot if regular else None
        task.claiming = True
        if overdue:
            self._state.overdue_claims.add(task.id)
        return Claim(task.id, slot, task.next_run_at, job_id), due, late

    def _start_claimed(self, now: float, free: int) -> int:
        """Start runs of shared tasks that this process won, while workers are free;
        return how many are still free."""
        state = self._state
        while state.ready and free > 0:
            if not state.claimed_startable():
                break  # a process task's run heads the queue, and every process is busy
            task, due, late_base, job_id = state.ready.popleft()
            if task.claiming and state.tasks.get(task.id) is task:
                task.claiming = False
                task.claimed_job = job_id
                overdue = task.id in state.overdue_claims
                state.overdue_claims.discard(task.id)
                self.start_due(task, due, late_base + now, now, overdue=overdue)
                task.claimed_job = None
            free = state.pool_size - state.running
        return free

    def hand_off(self) -> None:
        """Give the jobs dispatched in this pass to their reserved worker threads; then
        record them."""
        handoffs, self._handoffs = self._handoffs, []
        for run, job in handoffs:
            self._workers.hand(run, job)
        dispatched, self._unrecorded = self._unrecorded, []
        for job in dispatched:
            try:
                # The rows of a job just dispatched, and its task's (its worker tells the
                # listeners that it started).
                self._state.write_task(job.task)
                self._store.put_job_values(job.values())
            except Exception:  # one job's trouble must not cost the others their records
                self._logger.exception("could not record the start of job %s", job.id)

    def start_due(
        self, task: TaskEntry, due: float, late: float, now: float, *, overdue: bool = False
    ) -> None:
        """Start the due run of ``task`` (``late`` seconds late), or skip it by its misfire
        policy. ``overdue``: its time had passed when it was planned (a run restored from a
        durable store, an ``at=`` time in the past), so no worker held it up."""
        try:
            if misfire_skips(task, late):
                self._miss(task, late, now)
                return
            if overdue and late > LATE_START_WARNING_SECONDS:
                self._logger.info(
                    "task %r (%s) runs now, %.3f s after its planned time, which had passed "
                    "when it was planned (restored from the store, or an at= time in the past)",
                    task.name,
                    task.id,
                    late,
                )
            elif late > LATE_START_WARNING_SECONDS:
                self._housekeeping.late_start(task, late, now)
            self._dispatch(task, due)
        except Exception:
            # A defect must cost this one run, not the scheduler thread.
            self._logger.exception("could not start a job of task %r", task.id)

    def _miss(self, task: TaskEntry, late: float, now: float) -> None:
        """Record a regular run that is too late under ``misfire='skip'`` as missed, and
        plan the next slot (or end a one-shot task)."""
        state = self._state
        job = state.new_job(task)
        job.state = JOB_MACHINE.next_state(job.id, job.state, "miss")
        if task.wall_timed:
            job.slot = task.slot
        job.ended_at = self._epoch()
        job.error = (
            f"missed: {late:.3f} s late, beyond the {task.settings.grace:g} s misfire grace "
            "(misfire='skip')"
        )
        self._store.put_job_values(job.values())
        self._logger.warning(
            "task %r (%s) skipped a run %.3f s late (misfire grace %g s)",
            task.name,
            task.id,
            late,
            task.settings.grace,
        )
        if task.run_once:
            state.end_task(task, "miss_last")
        else:
            plan = self._planner.after_skip(task, now)
            if plan is None:
                if task.job is None:  # else the end of its last running job ends it
                    state.end_task(task, "expire")  # that was its last run
            else:
                state.apply(task, plan)
                state.write_task(task)
        state.ended(job, JOB_MACHINE.event_for("miss"), now)

    def _dispatch(self, task: TaskEntry, due: float) -> None:
        state = self._state
        process = state.needs_process(task)
        if process and not state.process_free:
            # Asked for now (run-now's fast path) while every process is busy: it waits.
            state.hold(task.id, due)
            return
        trigger = "start" if task.job is None else "start_another"  # max_instances > 1
        task_state = TASK_MACHINE.next_state(task.id, task.state, trigger)
        job = task.pending if task.pending is not None else state.new_job(task)
        if job.anchor is None:
            # A fixed cadence counts from the slot, not from the jittered deadline.
            regular = task.slot is not None and not task.wall_timed
            job.anchor = task.slot if regular else due
        if job.slot is None and task.wall_timed:
            job.slot = task.slot
        # A job handed to a worker thread starts now: the pool never takes more jobs than it
        # has idle threads, so one is waiting for it (one message per job comes back, its
        # end). A job for the main loop starts when the loop gets to it, and says so.
        job_state = JOB_MACHINE.next_state(job.id, job.state, "start")
        try:
            # First, as the step that can fail (no thread or no loop to be had): then
            # nothing has changed yet. The job's own commands queue behind this one.
            on_worker = self._submit(job)
        except RuntimeError as exc:
            self._logger.error("cannot start task %r: %s; retrying in 1 s", task.id, exc)
            state.apply(task, self._planner.at(self._clock.monotonic() + 1.0, task.slot))
            return
        if made_ahead := task.pending is job:
            task.pending = None
            del state.pending[job.id]
        task.state = task_state
        task.add_running(job)
        state.jobs[job.id] = job
        state.running += 1
        job.executor = "process" if process else "thread" if on_worker else "main_loop"
        if process:
            job.process = True
            state.process_running += 1
        if task.settings.max_instances > 1 and not task.full:
            plan = self._planner.overlapping(task, job, made_ahead)
            if plan is not None:  # room for another: its next run is planned now
                state.apply(task, plan)
        state.jobs_started += 1
        if on_worker:
            state.begin(job, job_state, self._epoch(), self._clock.monotonic())
        # Its rows and its event wait until the worker has it (hand_off): the worker
        # wakes meanwhile.
        self._unrecorded.append(job)

    def _submit(self, job: JobEntry) -> bool:
        """Hand ``job`` over to run; True if to a worker thread, False if to the main loop.

        A worker thread is reserved here (the step that can fail); it gets the job at the
        end of the dispatch pass (``hand_off``), with every job of the pass, and the
        pass's rows and events are written after that, while the worker wakes up.
        """
        settings = job.task.settings
        if not settings.on_main_loop:
            self._workers.reserve()
            run = self._runner.run_on_worker
            if settings.executor == "process":
                run = self._runner.run_in_process  # the worker relays for its process
            self._handoffs.append((run, job))
            return True
        loop = self._bridge.loop
        if loop is None:
            # The job starts and fails, visibly, rather than waiting for a loop forever.
            self._workers.reserve()
            self._handoffs.append((self._runner.run_without_loop, job))
            return True
        coroutine = self._runner.run_on_loop(job)
        try:
            job.loop_future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except BaseException:
            coroutine.close()  # never scheduled: it must not warn that it was never awaited
            raise
        job.loop_coroutine = coroutine
        self._state.on_loop[job.id] = job
        return False

    def check_loop(self) -> bool:
        """Fail the main-loop jobs whose loop stopped before it ran them (handed over just
        as it stopped, say) or while they ran: they would wait for it forever. True while
        some still wait for a running loop (the caller looks again a little later)."""
        state = self._state
        if not state.on_loop:
            return False
        if self._bridge.loop is not None:
            return True
        for job in list(state.on_loop.values()):
            del state.on_loop[job.id]
            if job.id not in state.jobs:
                continue
            # Should the loop run it after all, it ends at once. (Its future is not
            # cancelled: that would ask a closed loop to cancel its task, and fail there.)
            job.request_stop()
            coroutine, job.loop_coroutine = job.loop_coroutine, None
            if coroutine is not None and inspect.getcoroutinestate(coroutine) == "CORO_CREATED":
                coroutine.close()
            wall, mono = self._epoch(), self._clock.monotonic()
            if job.state is JobStatus.RUNNING:
                # It began, and its loop stopped under it: it will never end by itself.
                error = "the main loop stopped while the job ran"
            else:
                state.begin(job, JOB_MACHINE.next_state(job.id, job.state, "start"), wall, mono)
                self._store.put_job_values(job.values())
                self._emitter.job(JOB_MACHINE.event_for("start"), job)
                error = "the main loop stopped before the job began"
            self._outcomes.finish(job, Outcome("fail", wall, mono, error=error))
        return False
