"""Housekeeping of the scheduler thread: purging old history, reporting late starts, and
re-timing calendar runs when the wall clock moves.

None of it starts a job. Each part has a deadline of its own, which the loop sleeps until
along with the timeline's (``deadline``): the purge when the oldest kept job is due to go,
the summary of late starts held back, and, while calendar tasks exist, a look at the wall
clock (a monotonic sleep does not end early when the wall clock is set).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .._clock import Clock
from .._entries import TaskEntry
from .._store import Store
from .state import SchedulerState

__all__ = [
    "LATE_START_SUMMARY_SECONDS",
    "LATE_START_WARNING_SECONDS",
    "WALL_CHECK_SECONDS",
    "WALL_DRIFT_SECONDS",
    "Housekeeping",
]

LATE_START_WARNING_SECONDS = 1.0
LATE_START_SUMMARY_SECONDS = 10.0
# Calendar runs are wall-clock instants held as monotonic deadlines. When the two clocks
# drift apart by more than this (the wall clock was set, the machine slept), the deadlines
# of calendar runs are recomputed from their instants.
WALL_DRIFT_SECONDS = 0.5
# While calendar tasks exist, the thread wakes at least this often to notice such drift:
# a monotonic sleep does not end early when the wall clock moves.
WALL_CHECK_SECONDS = 60.0


class Housekeeping:
    """Purges, late-start reports and wall-clock drift (see the module)."""

    def __init__(
        self,
        *,
        state: SchedulerState,
        store: Store,
        clock: Clock,
        epoch: Callable[[], float],
        logger: logging.Logger,
        post: Callable[[Callable[[], None]], None],
        retention: float,
    ) -> None:
        self._state, self._store, self._clock, self._epoch = state, store, clock, epoch
        self._logger, self._post, self._retention = logger, post, retention
        self._purge_pending = False
        # Late starts: all of them, and those not yet reported (how many, the latest).
        self.late_starts, self._late_unreported, self._late_max = 0, 0, 0.0
        # When the late starts were last reported, and when those held back since are due
        # to be summed up.
        self._late_reported_at: float | None = None
        self._late_summary_at: float | None = None
        self._wall_offset = 0.0  # wall minus monotonic clock, when last looked at

    def started(self, mono: float, wall: float) -> None:
        self._wall_offset = wall - mono

    def turn(self, now: float) -> None:
        """Purge, and sum up late starts, if their time came."""
        purge_at = self._state.purge_at
        if purge_at is not None and now >= purge_at and not self._purge_pending:
            self._purge()
        if self._late_summary_at is not None and now >= self._late_summary_at:
            self.report_late(now)

    def deadline(self, now: float | None) -> float | None:
        """The earliest of this part's own deadlines (monotonic), or None. ``now`` None
        leaves out the next look at the wall clock (a fast path, which reads no clock: the
        thread's own sleep already ends in time for it)."""
        # While a purge is in flight its answer wakes the loop; an overdue purge deadline
        # must not make it spin meanwhile.
        deadline = None if self._purge_pending else self._state.purge_at
        summary = self._late_summary_at
        if summary is not None and (deadline is None or summary < deadline):
            deadline = summary
        if now is not None and self._state.calendar_tasks:
            check = now + WALL_CHECK_SECONDS
            deadline = check if deadline is None else min(deadline, check)
        return deadline

    # -- history ------------------------------------------------------------------------

    def _purge(self) -> None:
        self._state.purge_at = None
        self._purge_pending = True
        cutoff = self._epoch() - self._retention
        self._store.purge(cutoff, lambda oldest: self._post(lambda: self._purged(oldest)))

    def _purged(self, oldest: float | None) -> None:
        self._purge_pending = False
        if oldest is None:
            return
        wall_delay = oldest + self._retention - self._epoch()
        due = self._clock.monotonic() + max(0.0, wall_delay)
        # A job that ended while the purge was in flight may already have set an earlier one.
        state = self._state
        state.purge_at = due if state.purge_at is None else min(state.purge_at, due)

    # -- late starts ----------------------------------------------------------------------

    def late_start(self, task: TaskEntry, late: float, now: float) -> None:
        # One line per backlog, then a summary at most every LATE_START_SUMMARY_SECONDS:
        # a saturated pool (or a process that was suspended) must not also flood the log
        # with a line per job.
        self.late_starts += 1
        self._late_unreported += 1
        self._late_max = max(self._late_max, late)
        if self._late_reported_at is not None and (
            now - self._late_reported_at < LATE_START_SUMMARY_SECONDS
        ):
            # Held back: summed up when the window ends, with or without another one.
            if self._late_summary_at is None:
                self._late_summary_at = self._late_reported_at + LATE_START_SUMMARY_SECONDS
            return
        if self._late_unreported == 1:
            self._logger.warning(
                "task %r (%s) starts %.3f s late: %s",
                task.name,
                task.id,
                late,
                self._why_late(),
            )
            self._late_reported_at = now
            self._late_unreported = 0
            self._late_max = 0.0
        else:
            self.report_late(now)

    def _why_late(self) -> str:
        pool_size = self._state.pool_size
        workers = "the one worker was" if pool_size == 1 else f"all {pool_size} workers were"
        return f"{workers} busy, or the process was suspended"

    def report_late(self, now: float | None) -> None:
        """Log the late starts held back since the last report, if any (``now``: the
        monotonic time of the report; None at shutdown)."""
        self._late_summary_at = None
        if self._late_unreported:
            self._logger.warning(
                "%d job start%s late (up to %.3f s): %s",
                self._late_unreported,
                " was" if self._late_unreported == 1 else "s were",
                self._late_max,
                self._why_late(),
            )
        self._late_reported_at = now
        self._late_unreported = 0
        self._late_max = 0.0

    # -- the wall clock -------------------------------------------------------------------

    def check_wall(self, now: float) -> None:
        """Recompute the deadlines of calendar runs if the wall clock moved against the
        monotonic one since the last look."""
        offset = self._epoch() - now
        if abs(offset - self._wall_offset) <= WALL_DRIFT_SECONDS:
            return
        self._logger.info(
            "the wall clock moved %+.3f s against the monotonic clock; re-timing calendar runs",
            offset - self._wall_offset,
        )
        self._wall_offset = offset
        state = self._state
        for task in state.tasks.values():
            if task.wall_timed and task.slot is not None and task.id in state.timeline:
                state.timeline.schedule(task.id, task.next_run_at - offset)
