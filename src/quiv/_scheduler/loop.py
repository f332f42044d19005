"""The scheduler thread's loop, and the fast path that other threads take while it sleeps.

Each turn: run the commands in the inbox, start the jobs that are due (no more than there
are free workers: the rest stay on the timeline, there is no other queue), do the
housekeeping whose time came, then sleep until the earliest deadline or the next wake-up.
There is no polling tick.

The thread holds ``Loop.lock`` (the state lock) from waking until it sleeps. While it sleeps
with nothing queued, another thread may take the lock and do the work itself (``here``): a
run-now request hands its run to a worker, and a worker records its job's end and starts
what is due, with no round trip through the scheduler thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from .._clock import Clock, SystemClock
from .._events import Emission
from .._store import COALESCE_SECONDS, Store
from .._threads import punctual_timers
from .dispatch import Dispatcher
from .emitting import Emitter
from .housekeeping import Housekeeping
from .inbox import Inbox
from .outcomes import Outcomes
from .shared import SharedTasks
from .state import HELD, SchedulerState

__all__ = ["LOOP_CHECK_SECONDS", "Loop"]

# While jobs wait for the main loop to begin them, it is looked at this often: a loop that
# stopped meanwhile fails them instead of leaving them running forever.
LOOP_CHECK_SECONDS = 0.25


class Loop:
    """The scheduler thread's work, and the lock that makes one thread at a time its owner
    (see the module)."""

    def __init__(
        self,
        *,
        state: SchedulerState,
        inbox: Inbox,
        emitter: Emitter,
        dispatcher: Dispatcher,
        outcomes: Outcomes,
        housekeeping: Housekeeping,
        shared: SharedTasks | None,
        store: Store,
        clock: Clock,
        logger: logging.Logger,
    ) -> None:
        self._state, self._inbox, self._emitter = state, inbox, emitter
        self._dispatcher, self._outcomes, self._housekeeping = dispatcher, outcomes, housekeeping
        self._shared, self._store, self._clock, self._logger = shared, store, clock, logger
        # Held by whichever thread works on the scheduler's state: its own thread, from
        # waking until it sleeps again; or, while it sleeps with nothing queued, another
        # thread taking the fast path (``here``). ``_sleep_until``: the deadline it sleeps
        # until (None: until woken).
        self.lock = threading.Lock()
        self._sleep_until: float | None = None
        self.abandon = False  # shutdown gave up waiting for jobs: leave at once
        self.barriers: list[threading.Event] = []  # set after the next pass (settle)
        # Rows this thread hands to the store wake its writer only after a pass, at this
        # monotonic instant (``Store.defer_nudges``). Not with a test clock: it does not
        # move on its own, and rows would wait for it.
        self._defer_store = type(clock) is SystemClock
        self._store_nudge_at: float | None = None

    def run(self) -> None:
        """The thread's body."""
        punctual_timers()  # it sleeps until deadlines: they should not end late
        if self._defer_store:
            self._store.defer_nudges()
        with self.lock:
            self._loop()

    def _loop(self) -> None:
        """The thread's work; it holds ``lock`` except while it sleeps."""
        inbox, wake, state = self._inbox.queue, self._inbox.wake, self._state
        while True:
            while inbox:
                command = inbox.popleft()
                try:
                    command()
                except Exception:
                    self._logger.exception("scheduler thread: a command failed")
                # Hold no reference to the last command while asleep: it may be the last
                # thing keeping a dropped Quiv alive, whose finalizer then cannot run.
                del command
            if state.stopping:
                # A job on a main loop that stopped would hold the shutdown to its end.
                looping = self._dispatcher.check_loop()
                if self._store.take_deferred() or self._store_nudge_at is not None:
                    self._store_nudge_at = None
                    self._store.nudge()
                if not state.jobs or self.abandon:
                    return
                deadline = self._clock.monotonic() + LOOP_CHECK_SECONDS if looping else None
            else:
                try:
                    deadline = self._turn()
                except Exception:
                    # A defect must not end the thread: scheduling would stop unseen.
                    self._logger.exception("scheduler thread: a dispatch pass failed")
                    deadline = self._clock.monotonic() + 0.1
            if self.barriers:
                for barrier in self.barriers:
                    barrier.set()
                self.barriers.clear()
            wake.clear()
            if inbox:
                continue
            self._sleep_until = deadline
            self.lock.release()
            try:
                self._clock.wait(wake, deadline)
            except Exception:
                self._logger.exception("scheduler thread: waiting on the clock failed")
                wake.wait(0.1)
            finally:
                self.lock.acquire()

    def _turn(self) -> float | None:
        """Start what is due, do the housekeeping that is due; return the next deadline to
        sleep until."""
        state, dispatcher = self._state, self._dispatcher
        now = self._clock.monotonic()
        if self._store_nudge_at is not None and now >= self._store_nudge_at:
            self._store_nudge_at = None
            self._store.nudge()
        if state.calendar_tasks:
            self._housekeeping.check_wall(now)
        for job_id, _ in state.timeouts.pop_due(now):
            self._outcomes.time_out(job_id, now)
        waiting_for_loop = dispatcher.check_loop()
        fence_at = self._shared.fence(now) if self._shared is not None else None
        try:
            dispatcher.dispatch_due(now)
        finally:
            dispatcher.hand_off()
        self._housekeeping.turn(now)
        deadline = self.next_deadline(now)
        if self._store.take_deferred() and self._store_nudge_at is None:
            self._store_nudge_at = now + COALESCE_SECONDS
        for other in (
            self._store_nudge_at,
            now + LOOP_CHECK_SECONDS if waiting_for_loop else None,
            fence_at,
        ):
            if other is not None and (deadline is None or other < deadline):
                deadline = other
        return deadline

    def next_deadline(self, now: float | None) -> float | None:
        """The earliest of: the housekeeping's deadlines, a job's timeout, and, while a
        worker is free, the next run (now, if a claimed run waits for a worker)."""
        state = self._state
        deadline = self._housekeeping.deadline(now)
        timeout = state.timeouts.peek()
        if timeout is not None and (deadline is None or timeout[0] < deadline):
            deadline = timeout[0]
        if state.running < state.pool_size:
            if state.ready and state.claimed_startable():
                return self._clock.monotonic()
            head = state.timeline.peek()
            # A run held for a process (at HELD) waits for a job's end, not for a deadline.
            if head is not None and head[0] < HELD and (deadline is None or head[0] < deadline):
                deadline = head[0]
        return deadline

    def here(self, work: Callable[..., bool], *args: Any) -> bool:
        """Run ``work(*args)`` on the calling thread, if the scheduler thread sleeps with no
        command queued; False if the thread is busy, a command waits, or ``work`` says so
        (nothing done: the caller then queues a command instead).

        The scheduler thread holds ``lock`` from waking until it sleeps, so holding it
        here, the caller is the only one at the scheduler's state, as the thread would be.
        Afterwards it wakes the thread only if that has an earlier deadline to keep now (a
        timeout, a purge) or main-loop jobs to watch; else the next job's end, or its own
        deadline, wakes it, as always.
        """
        inbox = self._inbox
        if inbox.queue or not self.lock.acquire(blocking=False):
            return False
        events: list[Emission] = []
        try:
            if inbox.closed or self._state.stopping or inbox.thread is None or inbox.queue:
                return False
            try:
                if not self._emitter.collecting(partial(work, *args), events):
                    return False
            except Exception:  # as on the scheduler thread: logged, and the thread goes on
                self._logger.exception("scheduler thread: a command failed")
            deadline = self.next_deadline(None)  # no clock read per job end
            asleep_until = self._sleep_until
            wake = bool(self._state.on_loop) or (
                deadline is not None and (asleep_until is None or deadline < asleep_until)
            )
        finally:
            self.lock.release()
        if wake:
            inbox.nudge()
        if events:  # delivered by this thread, with the scheduler's state let go
            self._emitter.listeners.deliver(events)
        return True
