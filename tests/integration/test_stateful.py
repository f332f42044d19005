"""The scheduler against a plain model: Hypothesis drives random sequences of API calls.

``SchedulerMachine`` adds interval, one-shot (``run_once``), ``at=`` and cron tasks (with
timeouts, misfire ``coalesce`` or ``skip``, and for interval and cron tasks
``max_instances`` of 1 to 3), pauses, resumes, runs them now
(``run_task``, ``run_task_immediately``), removes them, cancels jobs, ends jobs and
advances a ``FakeClock``. A handler either ends at once on its own ("quick"), or waits for
the test's word (succeed or fail) and, as its task says, honours its stop event or ignores
it. ``Model`` says, in plain Python, which tasks and jobs must exist after each step, in
which status, and when each task runs next.

After every step the test waits for the scheduler to come to rest (on conditions, under a
timeout: never a fixed sleep; see ``_rest``), plays the step in the model, and then checks
``Scheduler.check()`` on the scheduler thread and compares the model with
``get_all_tasks``, ``get_task``, ``get_all_jobs``, ``statistics()``, the return values and
errors of the calls, and what the handlers saw (no task ran more jobs at once than its
``max_instances``, no job twice).

The model follows the documented rules; where they leave a choice open, it follows the
choice the scheduler made, and says so. Its arithmetic is its own: the next run of an
interval task is found by stepping through its slots, that of a cron task (``*/S``
seconds) by rounding up to a multiple of S.

The default run is small (``test_scheduler_matches_model``); ``nox -s stress`` runs the
slow variant at the sizes ``QUIV_STATEFUL_EXAMPLES`` and ``QUIV_STATEFUL_STEPS`` give.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from quiv import JobStatus, Quiv
from quiv.exceptions import (
    HandlerNotRegisteredError,
    TaskNotFoundError,
    TaskNotScheduledError,
)
from quiv.testing import FakeClock, settle, wait_until

from ._helpers import quiv_threads

# Real seconds to wait for the scheduler to come to rest; only a stuck one takes that long.
WAIT = 10.0
# FakeClock's default start: a whole minute, so cron slots of */S seconds (S divides 60)
# are the multiples of S seconds of monotonic time.
EPOCH = datetime(2030, 1, 1, tzinfo=timezone.utc)
# Workers: a task is added only while every live task could run max_instances jobs, and
# every job of a removed task still run, without waiting for one.
POOL = 12
MAX_TASKS = 5
MOST_INSTANCES = 3
GRACE = 1.0  # the default misfire grace
UNRESPONSIVE_AFTER = 5.0  # after a timeout, a handler still running is flagged then

# Times are multiples of 0.5 s, so that every sum and slot is exact in binary floats. An
# advance is often a whole number of intervals: a late run then ends right on a slot.
HALVES = st.integers(0, 120).map(lambda n: n / 2)
ADVANCES = st.one_of(st.sampled_from([1.0, 2.5, 5.0, 10.0, 30.0]), HALVES)
# Half the handlers are quick: they end at once, on their own, so that tasks go round
# their schedules; the others wait for the test's word.
QUICK = st.sampled_from(["succeed", None, "fail", None])
# Two recurring tasks in three may overlap themselves.
INSTANCES = st.sampled_from([1, 2, MOST_INSTANCES])


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if not value else int(value)


class HandlerFailure(Exception):
    """What a handler raises when the test tells it to fail."""


class Handlers:
    """The handlers of the tasks under test, and what they did.

    Every job's handler records its entry, then waits for the test's word for its job id
    (``release``: succeed or fail); a handler that honours its stop event also returns
    when that is set. One condition serves all of them; ``poke`` wakes them to look at
    their stop events (and they look every 50 ms anyway).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._decisions: dict[str, str] = {}
        self._closing = False
        # Handlers inside now, by job id: whether each honours its stop event, and that event.
        self._inside: dict[str, tuple[bool, threading.Event]] = {}
        self.entries: dict[str, list[str]] = {}  # label -> job ids, in the order entered
        self.entered: set[str] = set()
        self.running: Counter[str] = Counter()
        self.overlaps: list[str] = []  # labels whose handler ran more than its limit at once
        self.twice: list[str] = []  # job ids whose handler was called twice

    def handler(self, label: str, *, honours_stop: bool, quick: str | None, limit: int) -> Any:
        """``quick``: the handler does not wait, it returns ("succeed") or raises ("fail")
        at once; else it waits for ``release``. ``limit``: its task's ``max_instances``."""

        def handler(_job_id: str, _stop_event: threading.Event) -> None:
            with self._cond:
                if _job_id in self.entered:
                    self.twice.append(_job_id)
                self.entered.add(_job_id)
                self.entries.setdefault(label, []).append(_job_id)
                self.running[label] += 1
                if self.running[label] > limit:
                    self.overlaps.append(label)
                self._inside[_job_id] = (honours_stop, _stop_event)
                try:
                    while True:
                        decision = quick or self._decisions.get(_job_id)
                        if decision is None and self._closing:
                            decision = "succeed"
                        if decision == "succeed":
                            return
                        if decision == "fail":
                            raise HandlerFailure(f"{label} told to fail")
                        if honours_stop and _stop_event.is_set():
                            return
                        self._cond.wait(0.05)
                finally:
                    self.running[label] -= 1
                    del self._inside[_job_id]

        handler.__name__ = f"handler_{label}"
        return handler

    def release(self, job_id: str, decision: str) -> None:
        with self._cond:
            self._decisions[job_id] = decision
            self._cond.notify_all()

    def close(self) -> None:
        """Let every handler, now and later, return."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()

    def at_rest(self) -> tuple[bool, int, int]:
        """Whether every handler inside will stay there until the test says otherwise (it
        has no word to act on, and no stop event set that it honours); how many handlers
        were entered, and how many are inside. Wakes them first, to look again."""
        with self._cond:
            self._cond.notify_all()
            calm = not self._closing and all(
                job_id not in self._decisions and not (honours and stop.is_set())
                for job_id, (honours, stop) in self._inside.items()
            )
            return calm, len(self.entered), len(self._inside)


@dataclass(eq=False)
class ModelJob:
    name: str  # "t3#2": the task's label and its job's number, for messages
    label: str
    id: str | None  # None until the scheduler has made it and the test has seen it
    status: str = JobStatus.SCHEDULED.value
    anchor: float | None = None  # the deadline it was started for
    started: float | None = None
    ended: float | None = None
    timeout_at: float | None = None
    timed_out_at: float | None = None
    stopped: bool = False  # its stop event was set (cancel_job, remove_task)
    decision: str | None = None  # what the test told its handler
    unresponsive: bool = False
    # Made ahead with room for it to start (max_instances > 1): the run it displaced,
    # (due, regular), which it gives back as it starts.
    displaced: tuple[float, bool] | None = None


@dataclass(eq=False)
class ModelTask:
    label: str
    id: str
    kind: str  # interval, once (interval with run_once), at, cron
    every: float  # an interval's seconds; a cron schedule's step; 0 for at
    fixed: bool
    skip: bool  # misfire='skip' (else coalesce)
    timeout: float | None
    honours_stop: bool
    quick: str | None  # its handler ends at once, on its own: "succeed" or "fail"
    limit: int = 1  # max_instances: how many of its jobs may run at once
    instant: float | None = None  # an at= task's time, in monotonic seconds
    state: str = "A"  # A(ctive), R(unning), P(aused), PR (paused while running)
    due: float | None = None  # the deadline of its next run, when one is planned
    regular: bool = True  # that run is a slot of its schedule (not a run asked for)
    # That run was asked for while ``limit`` jobs ran, and follows the end of one.
    following: bool = False
    running: list[ModelJob] = field(default_factory=list)  # in the order they started
    pending: ModelJob | None = None  # made ahead by run_task while ``limit`` jobs run
    follow_up: float | None = None  # a run asked for while ``limit`` jobs run
    jobs: list[ModelJob] = field(default_factory=list)

    @property
    def run_once(self) -> bool:
        return self.kind in ("once", "at")

    @property
    def full(self) -> bool:
        """As many of its jobs run as it allows: no other starts, and none is planned."""
        return len(self.running) >= self.limit

    def plan(self, due: float | None, regular: bool = True, *, following: bool = False) -> None:
        """Its next run is due at ``due`` (None: none is planned)."""
        self.due, self.regular, self.following = due, regular, following

    @property
    def status(self) -> str:
        return {"A": "active", "R": "running", "P": "paused", "PR": "paused"}[self.state]


def _next_interval_slot(anchor: float, every: float, started: float, ended: float) -> float:
    """The first slot ``anchor + k * every`` (k >= 1) at or after ``ended`` and after
    ``started``: slots missed while the run overran are skipped, and the slot the run
    started on does not run again."""
    k = 1
    while anchor + k * every < ended or anchor + k * every <= started:
        k += 1
    return anchor + k * every


def _next_multiple(value: float, step: float) -> float:
    """The first multiple of ``step`` after ``value``."""
    return (math.floor(value / step) + 1) * step


class Model:
    """What must exist: tasks by label (live and gone) and their jobs, on the clock ``now``."""

    def __init__(self) -> None:
        self.now = 0.0
        self.live: dict[str, ModelTask] = {}
        self.gone: dict[str, ModelTask] = {}
        self.orphans: list[ModelJob] = []  # running jobs of removed tasks
        self.started = 0

    def task_of(self, job: ModelJob) -> ModelTask:
        return self.live.get(job.label) or self.gone[job.label]

    def all_jobs(self) -> list[ModelJob]:
        tasks = [*self.live.values(), *self.gone.values()]
        return [job for task in tasks for job in task.jobs]

    def running(self) -> list[ModelJob]:
        return [job for job in self.all_jobs() if job.status == JobStatus.RUNNING.value]

    def new_job(self, task: ModelTask, job_id: str | None = None) -> ModelJob:
        job = ModelJob(f"{task.label}#{len(task.jobs) + 1}", task.label, job_id)
        task.jobs.append(job)
        return job

    # -- the scheduler's rules, as documented ----------------------------------------

    def end_task(self, task: ModelTask) -> None:
        """The task is gone: removed, or a one-shot task whose run is over."""
        del self.live[task.label]
        self.gone[task.label] = task
        task.plan(None)
        self.orphans.extend(task.running)
        task.running = []

    def cancel_pending(self, job: ModelJob) -> None:
        job.status = JobStatus.CANCELLED.value
        job.ended = self.now

    def dispatch(self) -> None:
        """Start (or, under misfire='skip', miss) every run that is due now."""
        changed = True
        while changed:
            changed = False
            for task in list(self.live.values()):
                if task.full or task.due is None or task.due > self.now:
                    continue
                changed = True
                late = self.now - task.due
                if task.skip and task.regular and task.pending is None and late > GRACE:
                    self.miss(task)
                else:
                    self.start(task)

    def miss(self, task: ModelTask) -> None:
        job = self.new_job(task)
        job.status = JobStatus.MISSED.value
        job.ended = self.now
        assert task.due is not None
        if task.run_once:
            self.end_task(task)
        elif task.kind == "interval":
            # The first slot of the same cadence at or after now.
            task.plan(_next_interval_slot(task.due, task.every, task.due, self.now))
        else:
            task.plan(_next_multiple(self.now - 0.5, task.every))  # a slot now is on time

    def start(self, task: ModelTask) -> None:
        made_ahead = task.pending is not None
        job = task.pending if task.pending is not None else self.new_job(task)
        following = task.following
        task.pending = None
        job.status = JobStatus.RUNNING.value
        # A fixed cadence counts from the time the run was due for; a run asked for
        # (run_task, resume) so starts a new one (the scheduler's choice).
        job.anchor = task.due
        job.started = self.now
        if task.timeout is not None:
            job.timeout_at = self.now + task.timeout
        task.state = "R" if task.state in ("A", "R") else "PR"
        task.running.append(job)
        task.plan(None)
        self.started += 1
        if task.limit > 1 and not task.full and task.state == "R":
            self.plan_as_started(task, job, made_ahead=made_ahead, following=following)
        if task.quick is not None:
            job.decision = task.quick
            self.finish(job)

    def plan_as_started(
        self, task: ModelTask, job: ModelJob, *, made_ahead: bool, following: bool
    ) -> None:
        """``job`` of a task that may run several at once started, with room for another:
        a run asked for gives back the regular run it displaced; a fixed cadence (a fixed
        interval, cron) plans the slot after the job's; ``fixed_interval=False`` plans at
        ends only. A run that was asked for while all ran, and followed the end of one,
        plans the run after itself on any cadence (as the next end would have)."""
        if made_ahead and (job.displaced is not None or not following):
            if job.displaced is not None:
                task.plan(*job.displaced)
            return
        if task.kind == "interval" and not task.fixed and not following:
            return
        task.plan(self.after(task, job))

    def after(self, task: ModelTask, job: ModelJob) -> float:
        """The regular run after ``job``, had it ended now."""
        assert job.anchor is not None
        assert job.started is not None
        if task.kind == "cron":
            return _next_multiple(self.now, task.every)
        if task.fixed:
            return _next_interval_slot(job.anchor, task.every, job.started, self.now)
        return self.now + task.every

    def finish(self, job: ModelJob) -> None:
        """The job's handler returned (or raised): record its end, plan its task's next run."""
        if job.timed_out_at is not None:
            job.status = JobStatus.TIMED_OUT.value
        elif job.stopped:
            job.status = JobStatus.CANCELLED.value  # the stop event wins
        elif job.decision == "fail":
            job.status = JobStatus.FAILED.value
        else:
            job.status = JobStatus.COMPLETED.value
        job.ended = self.now
        if job in self.orphans:
            self.orphans.remove(job)
            return
        task = self.live[job.label]
        # With several running, the cadence goes on from the latest started; a run planned
        # already (one started with room for more) stays.
        latest = task.running[-1]
        task.running.remove(job)
        if task.run_once:
            self.end_task(task)
            return
        regular = None
        if task.state == "R" and task.due is None:
            regular = self.after(task, latest)
        if not task.running:
            task.state = "A" if task.state == "R" else "P"
        if task.follow_up is not None:
            task.plan(task.follow_up, False, following=task.limit > 1)
        elif regular is not None:
            task.plan(regular)
        task.follow_up = None

    def advance(self, seconds: float) -> list[ModelJob]:
        """Move the clock; return the jobs that end because a timeout stopped them."""
        self.now += seconds
        ending = []
        for job in self.running():
            if job.timed_out_at is not None and job.timed_out_at + UNRESPONSIVE_AFTER <= self.now:
                job.unresponsive = True
            if job.timeout_at is not None and job.timed_out_at is None:
                if job.timeout_at <= self.now:
                    job.timed_out_at = self.now
                    if self.task_of(job).honours_stop:
                        ending.append(job)
        return ending


def _scheduler_check(q: Quiv) -> None:
    """``Scheduler.check()``, on the scheduler thread (the one owner of its state)."""
    scheduler = q._scheduler
    scheduler.call(scheduler.check)


class SchedulerMachine(RuleBasedStateMachine):
    tasks = Bundle("tasks")

    def __init__(self) -> None:
        super().__init__()
        self.threads_before = quiv_threads()
        self.clock = FakeClock()
        self.handlers = Handlers()
        logger = logging.getLogger("quiv.test_stateful")
        logger.setLevel(logging.CRITICAL)  # failures and late starts are the point here
        self.q = Quiv(clock=self.clock, pool_size=POOL, logger=logger)
        self.q.start()
        self.model = Model()
        self.labels = 0

    def teardown(self) -> None:
        self.handlers.close()
        self.q.shutdown(timeout=WAIT)
        try:
            wait_until(lambda: not (quiv_threads() - self.threads_before), WAIT)
        except TimeoutError:
            left = sorted(t.name for t in quiv_threads() - self.threads_before)
            raise AssertionError(f"threads left after shutdown: {left}") from None

    # -- after each step: the scheduler at rest, then the model -------------------------------

    def _after(self, ending: list[ModelJob]) -> None:
        """The step made ``ending`` end: wait for the scheduler to come to rest, then play
        the step's consequences in the model and learn the ids of the jobs it made."""
        self._rest()
        model = self.model
        # What fell due starts first: a timeout only sets its job's stop event, in the
        # scheduler's pass that then starts the runs due, and the handler returns after.
        # (It matters when the job's task may run several at once: the job still holds
        # its place as the next run starts.) Before any other step, nothing could start.
        model.dispatch()
        for job in ending:
            model.finish(job)
        model.dispatch()
        self._learn_ids()

    def _rest(self) -> None:
        """Wait until nothing more happens without the test: every job the scheduler
        handed to a worker has entered its handler, every handler that returned has had
        its end recorded, no handler inside is about to return, and a further dispatch
        pass starts nothing. This does not ask the model: when the scheduler does not do
        what the model says, the comparison then fails at once instead of timing out."""
        q = self.q
        end = time.monotonic() + WAIT
        seen = None
        while True:
            settle(q, WAIT)
            stats = q.statistics()
            calm, entered, inside = self.handlers.at_rest()
            counts = (stats.jobs_started, stats.running_jobs, entered, inside)
            if calm and stats.jobs_started == entered and stats.running_jobs == inside:
                if counts == seen:  # and again after one more dispatch pass
                    return
                seen = counts
                continue
            seen = None
            if time.monotonic() > end:
                raise AssertionError(f"the scheduler did not come to rest: {stats}, {counts}")
            time.sleep(0.001)

    def _learn_ids(self) -> None:
        """Learn the ids of the jobs the scheduler made without saying (runs it started,
        runs it missed), from the handlers' entries and from the history."""
        model = self.model
        entries = self.handlers.entries
        for task in [*model.live.values(), *model.gone.values()]:
            started = [job for job in task.jobs if job.started is not None]
            ran = entries.get(task.label, [])
            assert len(ran) == len(started), (
                f"{task.label}: the model started {[job.name for job in started]}, "
                f"the handler ran {len(ran)} jobs"
            )
            for job, job_id in zip(started, ran, strict=True):
                if job.id is None:
                    job.id = job_id
                assert job.id == job_id, f"{job.name} is {job.id}, but its handler ran {job_id}"
        unknown = [job for job in model.all_jobs() if job.id is None]
        if unknown:
            known = {job.id for job in model.all_jobs()}
            stored = [job for job in self.q.get_all_jobs() if job.id not in known]
            for job in unknown:
                task = model.task_of(job)
                matches = [s for s in stored if s.task_id == task.id and s.status == job.status]
                assert len(matches) == 1, f"{job.name} ({job.status}): stored {matches}"
                job.id = matches[0].id
                stored.remove(matches[0])

    # -- adding tasks ---------------------------------------------------------------------

    def _can_add(self) -> bool:
        model = self.model
        running_at_most = sum(task.limit for task in model.live.values()) + len(model.orphans)
        return len(model.live) < MAX_TASKS and running_at_most + MOST_INSTANCES <= POOL

    def _label(self) -> str:
        self.labels += 1
        return f"t{self.labels}"

    def _add(self, task: ModelTask) -> str:
        self.model.live[task.label] = task
        self._after([])
        return task.label

    @precondition(_can_add)
    @rule(
        target=tasks,
        every=st.sampled_from([1.0, 2.5, 5.0, 10.0, 30.0]),
        delay=st.sampled_from([0.0, 0.5, 1.0, 5.0, 20.0]),
        fixed=st.booleans(),
        run_once=st.booleans(),
        timeout=st.sampled_from([None, 1.0, 2.5, 10.0]),
        honours_stop=st.booleans(),
        skip=st.booleans(),
        quick=QUICK,
        instances=INSTANCES,
    )
    def add_interval(
        self,
        every: float,
        delay: float,
        fixed: bool,
        run_once: bool,
        timeout: float | None,
        honours_stop: bool,
        skip: bool,
        quick: str | None,
        instances: int,
    ) -> str:
        label = self._label()
        limit = 1 if run_once else instances  # a one-shot task refuses more
        task_id = self.q.add_task(
            label,
            self.handlers.handler(label, honours_stop=honours_stop, quick=quick, limit=limit),
            interval=every,
            delay=delay,
            run_once=run_once,
            fixed_interval=fixed,
            timeout=timeout,
            misfire="skip" if skip else "coalesce",
            max_instances=limit,
        )
        kind = "once" if run_once else "interval"
        task = ModelTask(
            label, task_id, kind, every, fixed, skip, timeout, honours_stop, quick, limit
        )
        task.due = self.model.now + delay
        return self._add(task)

    @precondition(_can_add)
    @rule(
        target=tasks,
        offset=st.integers(-10, 60).map(lambda n: n / 2),
        timeout=st.sampled_from([None, 1.0, 10.0]),
        honours_stop=st.booleans(),
        skip=st.booleans(),
        quick=QUICK,
    )
    def add_at(
        self,
        offset: float,
        timeout: float | None,
        honours_stop: bool,
        skip: bool,
        quick: str | None,
    ) -> str:
        label = self._label()
        when = EPOCH + timedelta(seconds=self.model.now + offset)
        task_id = self.q.add_task(
            label,
            self.handlers.handler(label, honours_stop=honours_stop, quick=quick, limit=1),
            at=when,
            timeout=timeout,
            misfire="skip" if skip else "coalesce",
        )
        task = ModelTask(label, task_id, "at", 0.0, True, skip, timeout, honours_stop, quick)
        task.instant = task.due = self.model.now + offset
        return self._add(task)

    @precondition(_can_add)
    @rule(
        target=tasks,
        step=st.sampled_from([10, 15, 20, 30]),
        timeout=st.sampled_from([None, 2.5, 10.0]),
        honours_stop=st.booleans(),
        skip=st.booleans(),
        quick=QUICK,
        instances=INSTANCES,
    )
    def add_cron(
        self,
        step: int,
        timeout: float | None,
        honours_stop: bool,
        skip: bool,
        quick: str | None,
        instances: int,
    ) -> str:
        label = self._label()
        task_id = self.q.add_task(
            label,
            self.handlers.handler(label, honours_stop=honours_stop, quick=quick, limit=instances),
            cron=f"*/{step} * * * * *",
            timeout=timeout,
            misfire="skip" if skip else "coalesce",
            max_instances=instances,
        )
        task = ModelTask(
            label, task_id, "cron", float(step), True, skip, timeout, honours_stop, quick, instances
        )
        task.due = _next_multiple(self.model.now, step)
        return self._add(task)

    # -- task commands -------------------------------------------------------------------

    def _gone(self, label: str) -> ModelTask | None:
        return self.model.gone.get(label)

    @rule(label=tasks)
    def pause(self, label: str) -> None:
        gone = self._gone(label)
        if gone is not None:
            with pytest.raises(TaskNotFoundError):
                self.q.pause_task(gone.id)
            return
        task = self.model.live[label]
        self.q.pause_task(task.id)
        task.state = "PR" if task.running else "P"
        task.plan(None)
        task.follow_up = None
        if task.pending is not None:
            self.model.cancel_pending(task.pending)
            task.pending = None
        self._after([])

    @rule(label=tasks, delay=st.sampled_from([0.0, 0.5, 3.0, 12.5]))
    def resume(self, label: str, delay: float) -> None:
        gone = self._gone(label)
        if gone is not None:
            with pytest.raises(TaskNotFoundError):
                self.q.resume_task(gone.id, delay)
            return
        model = self.model
        task = model.live[label]
        self.q.resume_task(task.id, delay)
        task.state = "R" if task.running else "A"
        if not task.full:  # idle, or room for another of its jobs
            if task.kind == "cron":
                task.plan(_next_multiple(model.now + delay, task.every))
            elif task.kind == "at":
                assert task.instant is not None
                task.plan(max(task.instant, model.now + delay) if delay else task.instant)
            else:
                task.plan(model.now + delay, False)
        elif task.kind == "interval":
            task.follow_up = model.now + delay
        self._after([])

    def _run_now(self, label: str, *, immediately: bool) -> None:
        model = self.model
        gone = self._gone(label)
        if gone is not None:
            # The history tells a task that is gone from one never known.
            error = TaskNotScheduledError if gone.jobs else HandlerNotRegisteredError
            call = self.q.run_task_immediately if immediately else self.q.run_task
            with pytest.raises(error):
                call(gone.id)
            return
        task = model.live[label]
        if immediately:
            assert self.q.run_task_immediately(task.id) == 1
            returned = None
        else:
            returned = self.q.run_task(task.id)
        expected: ModelJob
        if task.pending is not None:
            expected = task.pending
        elif task.run_once and task.running:
            expected = task.running[0]  # its one run is under way
        else:
            # A run made now; run_task_immediately on an idle task of one instance makes
            # its job when it starts (which it does at once), so either way it is a new job.
            expected = model.new_job(task)
            if not task.full and task.due is not None:
                expected.displaced = (task.due, task.regular)
            task.pending = expected
        if returned is not None:
            if expected.id is None:
                expected.id = returned
            assert returned == expected.id, f"run_task returned {returned}, not {expected.name}"
        if expected is task.pending:
            if not task.full:  # idle, or room for another: it starts now
                task.plan(model.now, False)
            else:  # after the end of one
                task.follow_up = model.now
        self._after([])

    @rule(label=tasks)
    def run_task(self, label: str) -> None:
        self._run_now(label, immediately=False)

    @rule(label=tasks)
    def run_task_immediately(self, label: str) -> None:
        self._run_now(label, immediately=True)

    @rule(label=tasks)
    def remove(self, label: str) -> None:
        model = self.model
        gone = self._gone(label)
        if gone is not None:
            with pytest.raises(TaskNotFoundError):
                self.q.remove_task(gone.id)
            return
        task = model.live[label]
        self.q.remove_task(task.id)
        ending = []
        for running in task.running:
            running.stopped = True
            if task.honours_stop:
                ending.append(running)
        if task.pending is not None:
            model.cancel_pending(task.pending)
            task.pending = None
        model.end_task(task)
        self._after(ending)

    # -- job commands --------------------------------------------------------------------

    @precondition(lambda self: any(job.id is not None for job in self.model.all_jobs()))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        model = self.model
        jobs = sorted((job for job in model.all_jobs() if job.id is not None), key=lambda j: j.name)
        job = data.draw(st.sampled_from(jobs), label="job")
        assert job.id is not None
        ending = []
        if job.status == JobStatus.RUNNING.value:
            expected = True
            job.stopped = True
            if model.task_of(job).honours_stop:
                ending.append(job)
        elif job.status == JobStatus.SCHEDULED.value:
            expected = True
            task = model.live[job.label]
            # Made ahead while as many of its jobs ran as it allows (else it would have
            # started), so it displaced no run.
            assert task.full, (task, job)
            assert job.displaced is None, (task, job)
            model.cancel_pending(job)
            task.pending = None
            task.follow_up = None  # the run it stood for goes too (the scheduler's choice)
        else:
            expected = False
        assert self.q.cancel_job(job.id) is expected, job
        self._after(ending)

    @precondition(lambda self: bool(self.model.running()))
    @rule(data=st.data(), decision=st.sampled_from(["succeed", "fail"]))
    def end_job(self, data: st.DataObject, decision: str) -> None:
        running = sorted(self.model.running(), key=lambda j: j.name)
        job = data.draw(st.sampled_from(running), label="job")
        assert job.id is not None
        job.decision = decision
        self.handlers.release(job.id, decision)
        self._after([job])

    @precondition(lambda self: bool(self.model.running()))
    @rule(decision=st.sampled_from(["succeed", "fail"]))
    def end_all_jobs(self, decision: str) -> None:
        running = self.model.running()
        for job in running:
            assert job.id is not None
            job.decision = decision
            self.handlers.release(job.id, decision)
        self._after(running)

    # -- time ----------------------------------------------------------------------------

    @rule(seconds=ADVANCES)
    def advance(self, seconds: float) -> None:
        settle(self.q, WAIT)  # an add_task's first run counts from when it was taken in
        self.clock.advance(seconds)
        ending = self.model.advance(seconds)
        self._after(ending)

    @precondition(lambda self: any(task.due is not None for task in self.model.live.values()))
    @rule()
    def advance_to_next_run(self) -> None:
        """To the next planned run (a slot, often), so that runs start, and the jobs of a
        task that may run several at once overlap, more often than by chance."""
        due = min(task.due for task in self.model.live.values() if task.due is not None)
        self.advance(max(due - self.model.now, 0.5))

    # -- what must hold after every step -------------------------------------------------

    @invariant()
    def scheduler_invariants_hold(self) -> None:
        _scheduler_check(self.q)

    @invariant()
    def tasks_match_model(self) -> None:
        model, q = self.model, self.q
        stored = {task.id: task for task in q.get_all_tasks(include_run_once=True)}
        expected = {task.id: task for task in model.live.values()}
        assert set(stored) == set(expected), (
            f"tasks only stored: {[stored[i].task_name for i in set(stored) - set(expected)]}; "
            f"only in the model: {[expected[i].label for i in set(expected) - set(stored)]}"
        )
        for task_id, task in expected.items():
            seen = stored[task_id]
            assert seen.task_name == task.label
            assert seen.status == task.status, (task.label, seen.status, task)
            assert seen.max_instances == task.limit
            if task.state in ("A", "R") and task.due is not None:
                assert seen.next_run_at == EPOCH + timedelta(seconds=task.due), (task, seen)
        regular = {task.id for task in q.get_all_tasks()}
        assert regular == {task.id for task in model.live.values() if not task.run_once}
        for task in model.gone.values():
            with pytest.raises(TaskNotFoundError):
                q.get_task(task.id)

    @invariant()
    def jobs_match_model(self) -> None:
        model, q = self.model, self.q
        stored = {job.id: job for job in q.get_all_jobs()}
        expected = {job.id: job for job in model.all_jobs() if job.id is not None}
        assert len(expected) == len(model.all_jobs()), "a job the test never saw"
        assert set(stored) == set(expected), (
            f"jobs only stored: {[stored[i] for i in set(stored) - set(expected)]}; "
            f"only in the model: {[expected[i] for i in set(expected) - set(stored)]}"
        )
        for job_id, job in expected.items():
            seen = stored[job_id]
            task = model.task_of(job)
            assert seen.task_id == task.id
            assert seen.status == job.status, (job, seen)
            started = None if job.started is None else EPOCH + timedelta(seconds=job.started)
            assert seen.started_at == started, (job, seen)
            if job.ended is not None and job.started is not None:
                assert seen.duration_seconds == job.ended - job.started, (job, seen)
            assert seen.unresponsive is job.unresponsive, (job, seen)

    @invariant()
    def no_task_runs_more_jobs_than_its_max_instances(self) -> None:
        """What the scheduler says and what the handlers saw: never more jobs of one task
        at once than its ``max_instances`` (the model may be wrong, this may not)."""
        handlers, model = self.handlers, self.model
        assert handlers.overlaps == [], f"too many jobs of a task at once: {handlers.overlaps}"
        running = Counter(job.task_id for job in self.q.get_all_jobs(status=JobStatus.RUNNING))
        for task in model.live.values():
            assert running[task.id] <= task.limit, (task.label, running[task.id], task.limit)
            assert len(task.running) <= task.limit

    @invariant()
    def handlers_ran_as_the_model_says(self) -> None:
        handlers = self.handlers
        assert handlers.twice == [], f"a job's handler ran twice: {handlers.twice}"
        ran = {job.id for job in self.model.all_jobs() if job.started is not None}
        assert handlers.entered == ran

    @invariant()
    def statistics_match_model(self) -> None:
        model = self.model
        stats = self.q.statistics()
        assert stats.tasks == len(model.live)
        assert stats.running_jobs == len(model.running())
        assert stats.jobs_started == model.started
        planned = [task for task in model.live.values() if task.due is not None]
        assert stats.pending_deadlines == len(planned)


def _run(examples: int, steps: int) -> None:
    run_state_machine_as_test(
        SchedulerMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


# A failing run shrinks its example for minutes (a passing one takes seconds): pytest's
# timeout must not cut the shrinking short, or it reports the timeout instead.
@pytest.mark.timeout(900)
def test_scheduler_matches_model() -> None:
    _run(examples=50, steps=30)


@pytest.mark.slow
def test_scheduler_matches_model_at_length() -> None:
    _run(
        examples=_env_int("QUIV_STATEFUL_EXAMPLES", 200),
        steps=_env_int("QUIV_STATEFUL_STEPS", 60),
    )
