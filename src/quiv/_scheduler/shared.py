"""Shared tasks: claims of their runs, catching up with what other processes did, taking
over a dead process's run, and the fence that stops this process's runs in time.

A shared task (a key on a durable store) is planned by every process that registered it,
and its run goes to the one whose claim wins in the store. The store's answers come back on
the coordinator's thread and are posted to the scheduler thread, where they land here. This
part never dispatches: a won run waits in ``state.ready`` for a free worker, and dispatch
starts it (holding its lease meanwhile).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .._clock import Clock
from .._coordinator import Coordinator
from .._entries import Plan, TaskEntry
from .._machines import TASK_MACHINE, TaskState
from .._store import GONE, Claim, Row, Store
from ..models import TaskStatus
from .emitting import Emitter
from .planning import Planner, following
from .state import RECHECK_SECONDS, SchedulerState

__all__ = ["SharedTasks"]


class SharedTasks:
    """Claims, catch-up, take-over and the fence of shared tasks (see the module)."""

    def __init__(
        self,
        *,
        state: SchedulerState,
        planner: Planner,
        store: Store,
        coordinator: Coordinator,
        emitter: Emitter,
        clock: Clock,
        epoch: Callable[[], float],
        logger: logging.Logger,
    ) -> None:
        self._state, self._planner, self._store = state, planner, store
        self._coordinator, self._emitter = coordinator, emitter
        self._clock, self._epoch, self._logger = clock, epoch, logger
        self.claims_in_flight = 0

    @property
    def quiet(self) -> bool:
        """No claim is on its way to the store or back, nor any other round trip."""
        return not self.claims_in_flight and self._coordinator.idle

    # -- claims ---------------------------------------------------------------------------

    def send_claims(self, claims: list[tuple[Claim, float, float]], wall: float) -> None:
        store = self._store
        batch = [claim for claim, _, _ in claims]
        # How late each run was when it was taken off the timeline (by the same rules as a
        # run of this process alone), and when that was: it is later still when it starts.
        mono = self._clock.monotonic()
        dues = {claim.task_id: (claim, due, late - mono) for claim, due, late in claims}
        self.claims_in_flight += 1
        self._coordinator.submit(
            lambda: store.claim(batch, wall), lambda answers: self._claimed(dues, answers)
        )

    def _claimed(
        self, dues: dict[str, tuple[Claim, float, float]], answers: dict[str, Row | int] | None
    ) -> None:
        """The store's answer to claims: start the runs won, catch up on the others."""
        self.claims_in_flight -= 1
        for task_id, (claim, due, late_base) in dues.items():
            task = self._state.tasks.get(task_id)
            if task is None:
                continue  # removed meanwhile (its row was deleted with it)
            try:
                self._answer(task, claim, due, late_base, answers)
            except Exception:
                # One task's trouble must not strand the others of the batch.
                self._logger.exception("could not handle the claim of task %r", task.id)
                task.claiming = False
                if answers is not None and isinstance(answers.get(task.id, GONE), int):
                    self._store.put_task_values(task.values())  # hand the run back

    def _answer(
        self,
        task: TaskEntry,
        claim: Claim,
        due: float,
        late_base: float,
        answers: dict[str, Row | int] | None,
    ) -> None:
        now = self._clock.monotonic()
        wall = self._epoch()
        answer = GONE if answers is None else answers.get(task.id, GONE)
        if isinstance(answer, int):  # won: this process's writes carry the lease's token
            task.lease_token = answer
        if not task.claiming:  # paused meanwhile: a run won is handed back
            if isinstance(answer, int):
                self._store.put_task_values(task.values())
            return
        if self._state.stopping:
            task.claiming = False
            return
        if answers is None:  # the store could not be reached: try again soon
            task.claiming = False
            self._state.apply(task, Plan(now + 1.0, task.slot, wall + 1.0))
            return
        if not isinstance(answer, int):
            task.claiming = False
            self.catch_up(task, answer)
            return
        if task.state not in (TaskState.ACTIVE, TaskState.PAUSED):
            task.claiming = False
            self._store.put_task_values(task.values())  # hand the run back
            return
        # It starts when a worker is free (at once, if one is); the lease names the job.
        self._state.ready.append((task, due, late_base, claim.job_id))

    # -- catching up with other processes ---------------------------------------------------

    def look(self, task_ids: list[str]) -> None:
        """Read these tasks' rows in the store, and catch up with them."""
        store, state = self._store, self._state

        def done(rows: dict[str, Row] | None) -> None:
            for task_id in task_ids:
                task = state.tasks.get(task_id)
                if task is None or task.job is not None or task.claiming:
                    continue
                try:
                    if rows is None:
                        state.recheck(task, 1.0)
                    else:
                        self.catch_up(task, rows[task_id])
                except Exception:
                    self._logger.exception("could not catch up with task %r", task_id)

        self._coordinator.submit(lambda: store.read_tasks(task_ids), done)

    def catch_up(self, task: TaskEntry, row: Row) -> None:
        """Make the local view of a shared task what the store says other processes did."""
        state = self._state
        if state.stopping:
            return
        status = row["status"]
        if status != "gone":
            task.changed_at = max(task.changed_at, float(row["changed_at"] or 0.0))
            # What it knows now is the store's latest: its writes may carry that token.
            task.lease_token = max(task.lease_token, int(row["lease_token"] or 0))
        if status == TaskStatus.FINISHED.value:  # a one-shot run elsewhere: it is done
            if task.state is TaskState.ACTIVE:
                state.end_task(task, "miss_last")
            elif task.state is TaskState.PAUSED:
                state.end_task(task, "remove")
            return
        if status in ("gone", "removed"):  # removed by another process
            snapshot = task.snapshot()
            pending = task.pending
            state.end_task(task, "remove")
            self._emitter.task(TASK_MACHINE.event_for("remove"), lambda: snapshot)
            if pending is not None:
                state.cancel_pending(pending, "its task was removed", restore=False)
            return
        if status == TaskStatus.PAUSED.value:
            if task.state is TaskState.ACTIVE:
                task.state = TASK_MACHINE.next_state(task.id, task.state, "pause")
                state.timeline.cancel(task.id)
                self._emitter.task(TASK_MACHINE.event_for("pause"), task.snapshot)
                if task.pending is not None:
                    state.cancel_pending(task.pending, "its task was paused")
            state.recheck(task, RECHECK_SECONDS)
            return
        if task.state is TaskState.PAUSED:  # resumed by another process
            task.state = TASK_MACHINE.next_state(task.id, task.state, "resume")
            self._emitter.task(TASK_MACHINE.event_for("resume"), task.snapshot)
        wall = self._epoch()
        if status == TaskStatus.RUNNING.value and row["lease_node"] == task.node:
            # A lease of this process that no job of it holds (its start failed): hand the
            # run back, and try again.
            self._store.put_task_values(task.values())
            state.apply(task, Plan(self._clock.monotonic() + 1.0, task.slot, wall + 1.0))
            return
        if status == TaskStatus.RUNNING.value:
            self._running_elsewhere(task, row, wall)
            return
        # Active: its next run is the one the store holds; a run asked for here (run now, a
        # retry) is claimed at once, by that same next_run_at.
        at = float(row["next_run_at"])
        mono = self._clock.monotonic()
        if task.pending is not None:
            state.apply(task, Plan(mono, None, at))
        else:
            state.apply(task, Plan(mono + (at - wall), row["slot"], at))

    def _running_elsewhere(self, task: TaskEntry, row: Row, wall: float) -> None:
        """Another process runs ``task`` (its row is ``running`` under that one's lease)."""
        lease_until = row["lease_until"] or 0.0
        if lease_until < wall:
            self._take_over(task)
            return
        # Expect the slot after the one it runs, and claim that; if its owner plans another,
        # that claim loses and brings the new plan. (Or look again when its lease would run
        # out, if that comes first: a crashed owner's run is then taken over at once.)
        next_slot = following(task, row["slot"])
        until = max(0.0, lease_until - wall) + 0.5
        if task.pending is not None:  # a run asked for here follows that one at once
            self._state.recheck(task, min(until, 1.0))
        elif next_slot is None or next_slot > lease_until:
            self._state.recheck(task, until)
        elif next_slot <= wall:  # it overran its slot: look again soon, not at once
            self._state.recheck(task, min(until, 1.0))
        else:
            self._state.apply(task, self._planner.calendar(task, next_slot))

    def _take_over(self, task: TaskEntry) -> None:
        store, state, wall, task_id = self._store, self._state, self._epoch(), task.id

        def done(row: Row | None) -> None:
            current = state.tasks.get(task_id)
            if current is None or current.job is not None or current.claiming:
                return
            if row is None:
                state.recheck(current, 1.0)
            else:
                self.catch_up(current, row)

        self._coordinator.submit(lambda: store.take_over(task_id, wall), done)

    def freed(self, task_ids: list[str]) -> None:
        """Look at once at shared tasks that a dead process was running."""
        tasks = self._state.tasks
        ids = [
            task_id
            for task_id in task_ids
            if (task := tasks.get(task_id)) is not None
            and task.shared
            and task.job is None
            and not task.claiming
        ]
        if ids and not self._state.stopping:
            self.look(ids)

    # -- telling other processes ------------------------------------------------------------

    def share(self, task: TaskEntry, status: str) -> None:
        """Tell every process now what this one did to a shared task (pause, resume, run)."""
        if not task.shared:
            return
        task.changed_at = changed = max(self._epoch(), task.changed_at + 1e-6)
        store, task_id, next_run_at, slot = self._store, task.id, task.next_run_at, task.slot
        self._coordinator.submit(
            lambda: store.set_shared(task_id, status, next_run_at, slot, changed),
            lambda _: None,
        )

    def removed(self, task: TaskEntry) -> None:
        """Tell every process that this one removed a shared task."""
        store, task_id, changed = self._store, task.id, max(self._epoch(), task.changed_at)
        self._coordinator.submit(lambda: store.delete_shared(task_id, changed), lambda _: None)

    # -- the fence ----------------------------------------------------------------------------

    def fence(self, now: float) -> float | None:
        """Stop the shared jobs of this process if it could not renew their leases for
        ``FENCE_AFTER_SECONDS`` (the database did not answer its heartbeats): before the
        leases expire and another process may run those slots, their handlers are asked
        to return. Returns when to look again (this scheduler's clock), None if no shared
        job runs here."""
        shared = [job for job in self._state.jobs.values() if job.task.shared and not job.fenced]
        if not shared:
            return None
        left = self._store.fence_deadline() - time.monotonic()  # the store's real clock
        if left > 0:
            return now + left
        for job in shared:
            job.fenced = True
            job.note = (
                "stopped: this process could not renew its lease on the run (the database "
                "did not answer its heartbeats), so another process may take the run over"
            )
            self._logger.warning(
                "job %s of shared task %r: its lease could not be renewed; stopping it "
                "before another process may take the run over",
                job.id,
                job.task.name,
            )
            self._state.stop_job(job)
        return None
