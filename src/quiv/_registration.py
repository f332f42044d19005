"""Registering a built task: by its key if it has one, stored at once, handed to the scheduler.

A task is stored at once (so that a read right after ``add_task`` finds it) and handed to
the scheduler; its ``task_added`` event is delivered from the caller's thread before
``add_task`` returns, as in quiv 0.4.0. A key makes registering idempotent:

- scope ``"process"``: the key names this process's own task; registering it again re-binds
  the live task to the new handler and settings, in place;
- scope ``"deployment"``: the key is claimed in the store. Registered again, it re-binds the
  live task, or restores the stored one (left by an earlier run of the application on a
  durable store) with its id, its status and, if the schedule is unchanged, its next run; a
  changed schedule is planned afresh, and a one-off that has run and keeps its schedule
  does not run again.

A ``Registrar`` also changes a registered task in place (``update_task``), and tells apart
the two kinds of id that a run-now request cannot run: one quiv never knew, and a task that
has gone but left jobs in the history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, tzinfo
from functools import partial

from ._clock import Clock
from ._entries import TaskEntry
from ._events import Listeners
from ._machines import TaskState
from ._resolve import with_anchor
from ._schedule import RuleSchedule
from ._scheduler import Scheduler
from ._snapshots import Row, schedule_data
from ._store import Store
from ._task_options import task_change
from .exceptions import (
    HandlerNotRegisteredError,
    InvalidScheduleError,
    SchedulerStateError,
    TaskNotScheduledError,
)
from .models import Event, Task, TaskStatus

__all__ = ["Registrar"]


class Registrar:
    """Adds the tasks of one ``Quiv`` to its scheduler and store, and changes them.

    The ``Quiv`` has checked that the call may run and its task id before calling it. It
    holds one piece of state of its own: which task id each key of scope ``"process"`` names
    in this process.
    """

    __slots__ = (
        "_clock",
        "_epoch",
        "_listeners",
        "_local_keys",
        "_logger",
        "_scheduler",
        "_store",
        "_zone",
    )

    def __init__(
        self,
        scheduler: Scheduler,
        store: Store,
        listeners: Listeners,
        logger: logging.Logger,
        clock: Clock,
        epoch: Callable[[], float],
        zone: tzinfo,
    ) -> None:
        self._scheduler = scheduler
        self._store = store
        self._listeners = listeners
        self._logger = logger
        self._clock = clock
        self._epoch = epoch
        self._zone = zone  # of the log lines only
        self._local_keys: dict[str, str] = {}  # keys of scope 'process' -> task ids

    def add(
        self, task: TaskEntry, first: float, expired: InvalidScheduleError | None = None
    ) -> str:
        """Add ``task`` (its first run ``first`` as ``Scheduler.add`` takes it), or re-bind
        the task its key names; return the id of the task registered. ``expired``: the
        task's schedule has no run left, which only a registration of its key already
        stored may have (raised otherwise)."""
        key = task.key
        if key is not None:
            if task.settings.scope == "deployment":
                return self._add_keyed(task, first, expired)
            # This process's own: idempotent here, by key.
            known = self._local_keys.get(key)
            rebind = self._scheduler.tasks.rebind
            if known is not None and self._scheduler.call(partial(rebind, known, task, first)):
                return known
            if expired is not None:
                raise expired
            self._local_keys[key] = task.id
        # Stored now, so that a read right after this call finds the task; its row is
        # built when it is written, from its state then.
        self._store.put_new_task(task.id, task)
        self._send_add(task, first)
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug(
                "task %r (%s) added, %s, first run at %s",
                task.name,
                task.id,
                task.schedule.describe()["description"],
                self._display(task.next_run_at),
            )
        return task.id

    def run_task(self, task_id: str) -> str:
        """Make a run of the task due now (as ``Quiv.run_task``) and return its job's id.

        Raises ``HandlerNotRegisteredError`` for an id quiv does not know, and
        ``TaskNotScheduledError`` for a task that is gone but whose jobs are still in the
        history.
        """
        job_id = self._scheduler.call(partial(self._scheduler.runs.run_task, task_id))
        if job_id is not None:
            return job_id
        if self._store.has_jobs_of(task_id):
            raise TaskNotScheduledError(task_id)
        raise HandlerNotRegisteredError(task_id)

    def update(
        self,
        task_id: str,
        name: object,
        interval: object,
        fixed: object,
        args: object,
        kwargs: object,
        timeout: object,
        max_retries: object,
        retry_backoff: object,
        jitter: object,
        progress_callback: object,
        run_at: object,
    ) -> Task:
        """Change the task in place, from ``update_task``'s arguments (in its order, each
        ``UNSET`` or its new value); return it as it is now."""
        scheduler = self._scheduler
        change = task_change(
            scheduler.call(partial(scheduler.runs.entry, task_id)),
            self._store.codec,
            name=name,
            interval=interval,
            fixed=fixed,
            args=args,
            kwargs=kwargs,
            timeout=timeout,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            jitter=jitter,
            progress_callback=progress_callback,
            run_at=run_at,
        )
        return scheduler.call(partial(scheduler.tasks.update, task_id, change))

    def _add_keyed(
        self, task: TaskEntry, first: float, expired: InvalidScheduleError | None
    ) -> str:
        """Add ``task``, or re-bind the task that already has its key (live here, or stored
        by an earlier run of the application)."""
        stored = self._store.claim_key(task.row())
        if stored["id"] == task.id:  # the first registration of this key
            if expired is not None:  # with no run: it leaves no trace
                self._store.delete_task(task.id)
                raise expired
            self._send_add(task, first)
            return task.id
        same = replace(task, id=stored["id"], created_at=stored["created_at"])
        unchanged = _same_schedule(stored, same.row())
        if unchanged:
            same = _stored_anchor(same, stored, self._zone)
        if stored["status"] == TaskStatus.FINISHED.value and unchanged:
            self._logger.info(
                "task %r (%s) ran already; registering its key again does not run it "
                "again (give it a new time to)",
                same.name,
                same.id,
            )
            return same.id
        if expired is not None and not unchanged:
            raise expired  # a new schedule, with no run
        if same.shared:  # the new registration's settings, not its view of the state
            self._store.update_registration(same.row())
        if self._scheduler.call(partial(self._scheduler.tasks.rebind, same.id, same, first)):
            return same.id
        # Back from the store: its status, and its next run unless the schedule changed.
        if stored["status"] == TaskStatus.PAUSED.value:
            same.state = TaskState.PAUSED
        if unchanged:
            at = float(stored["next_run_at"])
            same.next_run_at = at
            first = at if same.wall_timed else self._clock.monotonic() + (at - self._epoch())
        self._send_add(same, first, restored=True, replanned=not unchanged)
        self._logger.info(
            "task %r (%s) restored from the store: %s, next run at %s",
            same.name,
            same.id,
            same.status.value,
            self._display(same.next_run_at),
        )
        return same.id

    def _send_add(
        self, task: TaskEntry, first: float, *, restored: bool = False, replanned: bool = False
    ) -> None:
        added = self._listeners.emission(Event.TASK_ADDED, lambda: (task.snapshot(),))
        try:
            self._scheduler.send_add(task, first, restored=restored, replanned=replanned)
        except SchedulerStateError:  # shut down meanwhile: leave no trace
            if task.key is None or task.settings.scope == "process":
                self._store.delete_task(task.id)
            raise
        if added is not None:  # on this thread, before add_task returns (as in quiv 0.4.0)
            self._listeners.deliver([added])

    def _display(self, epoch: float) -> str:
        return datetime.fromtimestamp(epoch, self._zone).isoformat()


def _same_schedule(stored: Row, given: Row) -> bool:
    """Whether two task rows have the same schedule: their words (``description``) may
    change between quiv releases without changing it, a key an earlier release did not
    write reads as None, and the moment a schedule's runs are counted from (``anchor``:
    when it was first added) is not part of it."""
    try:
        a, b = schedule_data(stored), schedule_data(given)
    except (ValueError, TypeError):  # not JSON, or an interval row without its interval
        return False
    return _essence(a) == _essence(b)


def _essence(data: object) -> object:
    if isinstance(data, dict):
        return {
            name: _essence(value)
            for name, value in data.items()
            if value is not None and name not in ("description", "anchor")
        }
    if isinstance(data, list):
        return [_essence(item) for item in data]
    return data


def _stored_anchor(task: TaskEntry, stored: Row, zone: tzinfo) -> TaskEntry:
    """``task`` (registered again with the schedule it had) with its runs counted from when
    its schedule was first added, as they were."""
    schedule = task.schedule
    if not isinstance(schedule, RuleSchedule):
        return task
    try:
        anchor = datetime.fromisoformat(schedule_data(stored)["anchor"]).timestamp()
    except (KeyError, TypeError, ValueError):  # stored by a release that kept none
        return task
    return replace(task, schedule=with_anchor(schedule.value, anchor, zone))
