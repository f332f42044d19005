"""The API's commands that change a task: add, register again, pause, resume, update and
remove.

Each runs where the scheduler's state is held (posted to the scheduler thread by the
façade, or inline before it starts), checks first (``TaskNotFoundError``, the task state
machine), then changes the tables, hands the rows to the store, and emits its event.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import NamedTuple

from .._clock import Clock
from .._entries import Plan, TaskEntry, TaskSettings
from .._machines import TASK_MACHINE, TaskState
from .._schedule import AtSchedule, IntervalSchedule, RuleSchedule, Schedule
from .._store import Store
from ..exceptions import ConfigurationError, TaskNotActiveError, TaskRunningError
from ..models import Event, Task, TaskStatus
from .emitting import Emitter
from .planning import Planner
from .shared import SharedTasks
from .state import RECHECK_SECONDS, SchedulerState

__all__ = ["TaskChange", "TaskCommands"]

# An empty dict of tasks on their way that is bigger than this is replaced (see add()).
_SHRINK_BYTES = 4096


class TaskChange(NamedTuple):
    """What ``update_task`` changes, each checked by the facade (None: unchanged)."""

    name: str | None = None
    blobs: tuple[bytes, bytes] | None = None
    settings: TaskSettings | None = None
    schedule: Schedule | None = None
    run_at: float | None = None  # epoch


def _same_schedule(live: Schedule, new: Schedule) -> bool:
    """Whether a registration again (``new``) has the schedule the live task has.

    A wall-clock schedule's ``anchor`` (when its runs are counted from: the moment it was
    first added) is not part of it. Comparing whole ``RuleSchedule``s took the same value,
    registered again, for a new schedule (its anchor is the moment of the new
    registration, or a stored one rounded to the microsecond): the task was planned afresh
    from now, so a bounded ``Interval`` ran again at once and a ``Calendar`` moved to the
    day of the new registration.
    """
    if isinstance(live, RuleSchedule) and isinstance(new, RuleSchedule):
        return live.value == new.value and live.zone == new.zone
    return live == new


class TaskCommands:
    """Changes to tasks asked for through the API (see the module)."""

    def __init__(
        self,
        *,
        state: SchedulerState,
        planner: Planner,
        store: Store,
        emitter: Emitter,
        shared: SharedTasks | None,
        clock: Clock,
        epoch: Callable[[], float],
        logger: logging.Logger,
    ) -> None:
        self._state, self._planner, self._store = state, planner, store
        self._emitter, self._shared = emitter, shared
        self._clock, self._epoch, self._logger = clock, epoch, logger

    def add(
        self, task: TaskEntry, first: float, *, restored: bool = False, replanned: bool = False
    ) -> None:
        """Take over ``task``; its first run is at ``first``: a monotonic instant for an
        interval schedule, the epoch instant of its first slot for a calendar one.

        ``restored``: the task comes back from a durable store (a restart), and ``first``
        is its stored next run: if that has passed, the run is late from then, so the
        misfire policy decides. A task restored ``paused`` gets no run. ``replanned``: it was
        restored with a new schedule, planned afresh, which its row must show.
        """
        state = self._state
        state.tasks[task.id] = task
        incoming = state.incoming
        incoming.pop(task.id, None)  # after it is in tasks: see Scheduler.knows()
        if not incoming and sys.getsizeof(incoming) > _SHRINK_BYTES:
            # A dict keeps the table it grew to: after a burst of adds, a fresh one. (A
            # caller that put a task in the old one meanwhile loses only knows()'s fast
            # answer: run_task_immediately then asks this thread.)
            state.incoming = {}
        if task.wall_timed:
            state.calendar_tasks += 1
        if task.state is TaskState.PAUSED:
            if task.shared:
                state.recheck(task, RECHECK_SECONDS)  # to hear of a resume elsewhere
        elif task.wall_timed:
            state.apply(task, self._planner.calendar(task, first))
            stale = restored or isinstance(task.schedule, AtSchedule)
            if stale and first < self._epoch():
                state.overdue.add(task.id)  # an at= time, or a stored run, in the past
        elif not task.settings.jitter and not restored:
            # The common case, kept short: add_task computed next_run_at for this deadline.
            state.timeline.schedule(task.id, first)
            task.slot = first
        else:
            state.apply(task, self._planner.interval(task, first))
            if restored and first < self._clock.monotonic():
                state.overdue.add(task.id)
        # The row stored by add_task shows another run. (A shared task's row is the store's:
        # only a process that ran it, or a user's call, writes it.)
        if replanned or ((task.settings.jitter or restored) and not task.shared):
            self._store.put_task_values(task.values())
        # task_added is add_task's to deliver, on its caller's thread, before it returns.

    def rebind(self, task_id: str, new: TaskEntry, first: float) -> bool:
        """Give the live task ``task_id`` what ``new`` (a registration of the same key) has:
        its handler, arguments and policies, and its schedule, re-planned from ``first``
        (as ``add`` takes it) if that changed. False if no such task is live here."""
        state = self._state
        task = state.tasks.get(task_id)
        if task is None:
            return False
        changed = not _same_schedule(task.schedule, new.schedule)
        task.name, task.func = new.name, new.func
        task.args_blob, task.kwargs_blob = new.args_blob, new.kwargs_blob
        # Its policies; the key's scope and the task's owner stay as they were.
        task.settings = new.settings._replace(scope=task.settings.scope, owner=task.settings.owner)
        if task.id in state.held:  # held for a process: its executor may have changed
            state.release_held()
        if changed:
            before = task.wall_timed
            task.schedule = new.schedule
            state.calendar_tasks += int(task.wall_timed) - int(before)
            self._logger.info(
                "task %r (%s) registered again with a new schedule: %s",
                task.name,
                task.id,
                new.schedule.describe()["description"],
            )
            if task.id in state.timeline and task.pending is None:
                if task.wall_timed:
                    state.apply(task, self._planner.calendar(task, first))
                else:
                    state.apply(task, self._planner.interval(task, first))
        task.refresh()
        if changed or not task.shared:
            self._store.put_task_values(task.values())
        return True

    def _share(self, task: TaskEntry, status: TaskStatus) -> None:
        if self._shared is not None:
            self._shared.share(task, status.value)

    def pause(self, task_id: str) -> None:
        """Stop scheduling runs of a task; a running job goes on; a job made ahead (run_task,
        a pending retry) is cancelled."""
        state = self._state
        task = state.task(task_id)
        task.state = TASK_MACHINE.next_state(task.id, task.state, "pause")
        state.timeline.cancel(task.id)
        task.follow_up = None
        # The pause first, then what it cancelled: listeners hear it as it happened.
        pending, task.pending = task.pending, None
        task.claiming = False  # a run claimed but not started is handed back (by the write)
        self._share(task, TaskStatus.PAUSED)
        state.write_task(task)
        if task.shared and task.job is None:
            state.recheck(task, RECHECK_SECONDS)  # to hear of a resume elsewhere
        self._emitter.task(TASK_MACHINE.event_for("pause"), task.snapshot)
        if pending is not None:
            task.pending = pending
            state.cancel_pending(pending, "its task was paused")

    def resume(self, task_id: str, delay: float) -> None:
        """Schedule the next run ``delay`` seconds from now (after the running job, if any)."""
        state = self._state
        task = state.task(task_id)
        task.state = TASK_MACHINE.next_state(task.id, task.state, "resume")
        expired = False
        if not task.full:  # idle, or room for another of its jobs (max_instances > 1)
            # A cron task goes back to its slots, an at= task to its one time (if that has
            # passed, the misfire policy decides), an interval task runs after the delay.
            plan, overdue = self._planner.resumed(task, delay)
            if plan is not None:
                state.apply(task, plan)
            else:
                expired = not overdue  # its end= has passed while it was paused
            if overdue:
                state.overdue.add(task.id)
        elif not task.run_once and isinstance(task.schedule, IntervalSchedule):
            # After the running job (a cron task's job finds its next slot itself).
            task.follow_up = self._clock.monotonic() + delay
            task.next_run_at = self._epoch() + delay
        status = TaskStatus.RUNNING if task.job is not None else TaskStatus.ACTIVE
        self._share(task, status)
        state.write_task(task)
        self._emitter.task(TASK_MACHINE.event_for("resume"), task.snapshot)
        if expired:
            state.end_task(task, "expire")

    def update(self, task_id: str, change: TaskChange) -> Task:
        """Change a task in place (``Quiv.update_task``): same id, same state; return its
        snapshot after the change. A new interval plans the next run an interval from now;
        ``change.run_at`` (epoch) moves the next run there (after the running job, if any)."""
        state = self._state
        task = state.task(task_id)
        if task.shared:
            raise ConfigurationError(
                f"task {task_id!r} is shared by every process (a key on a durable store): "
                "register its key again with the new settings instead of update_task"
            )
        if change.run_at is not None:
            if task.state in (TaskState.PAUSED, TaskState.PAUSED_RUNNING):
                raise TaskNotActiveError(task_id, task.status.value)
            if task.job is not None and task.run_once:
                raise TaskRunningError(task_id, "move the next run")
        if change.name is not None:
            task.name = change.name
        if change.blobs is not None:
            task.args_blob, task.kwargs_blob = change.blobs
        if change.settings is not None:
            task.settings = change.settings
        replan = change.schedule is not None and change.schedule != task.schedule
        if change.schedule is not None:
            task.schedule = change.schedule
            task.refresh()
        mono, wall = self._clock.monotonic(), self._epoch()
        if change.run_at is not None:
            deadline = mono + (change.run_at - wall)
            if not task.full:
                state.apply(task, Plan(deadline, None, change.run_at))
                if change.run_at < wall:
                    state.overdue.add(task.id)
            else:
                task.follow_up, task.next_run_at = deadline, change.run_at
        elif replan and task.pending is None and self._plannable(task):
            schedule = task.schedule
            assert isinstance(schedule, IntervalSchedule)
            state.apply(task, self._planner.interval(task, mono + schedule.seconds))
        self._store.put_task_values(task.values())
        snapshot = task.snapshot()
        self._emitter.task(Event.TASK_UPDATED, lambda: snapshot)
        return snapshot

    @staticmethod
    def _plannable(task: TaskEntry) -> bool:
        """Whether a run of ``task`` may be planned now: it is active, or running fewer
        jobs than its ``max_instances``."""
        return task.state is TaskState.ACTIVE or (task.state is TaskState.RUNNING and not task.full)

    def remove(self, task_id: str) -> Task:
        """Delete a task, stop its running job, cancel a job made ahead; return its last
        snapshot."""
        state = self._state
        task = state.task(task_id)
        snapshot = task.snapshot()
        pending = task.pending
        state.end_task(task, "remove")
        for job in task.running_jobs():
            state.stop_job(job)
        if task.shared and self._shared is not None:
            self._shared.removed(task)
        self._emitter.task(TASK_MACHINE.event_for("remove"), lambda: snapshot)
        if pending is not None:  # after the removal, as it happened
            state.cancel_pending(pending, "its task was removed", restore=False)
        return snapshot
