"""Bad input, table-driven: every public entry point given wrong types, NaN/inf/negative/bool/
huge numbers, empty or whitespace names, unknown ids, or called after shutdown raises its
documented error, and leaves the scheduler as it was.

What the docs promise: ``ConfigurationError`` for a bad argument (scheduling.md, the
docstrings; ``HandlerRegistrationError``, a subclass, for what is not callable);
``TaskNotFoundError`` from get/pause/resume/remove of an unknown task;
``HandlerNotRegisteredError`` from run_task(_immediately) of an unknown id;
``JobNotFoundError`` from get_job and wait_for_job; ``cancel_job`` returns False for a job
that is neither scheduled nor running; after shutdown, ``SchedulerStateError``.
"""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
from typing import Any

import pytest

from integration._helpers import quiesce
from quiv import (
    ConfigurationError,
    Event,
    HandlerNotRegisteredError,
    HandlerRegistrationError,
    InvalidTimezoneError,
    JobNotFoundError,
    Quiv,
    QuivConfig,
    SchedulerStateError,
    TaskNotFoundError,
)
from quiv.testing import FakeClock, settle

HUGE_INT = 10**400  # beyond float: float(HUGE_INT) raises OverflowError
LONG = "n" * 100_000
UNKNOWN = "00000000-0000-0000-0000-000000000000"


def noop() -> None:
    pass


async def anoop() -> None:
    pass


def _add(**overrides: Any):
    arguments: dict[str, Any] = {"task_name": "new", "func": noop, "interval": 60.0}
    arguments.update(overrides)
    return lambda q, ctx: q.add_task(**arguments)


CE = ConfigurationError
BAD_NUMBERS = [math.nan, math.inf, -math.inf, -1, -1e-9, True, False, "1", None, 1e300, b"1"]

CASES: list[tuple[str, Any, type[BaseException]]] = [
    # add_task: names
    ("name-empty", _add(task_name=""), CE),
    ("name-whitespace", _add(task_name=" \t\n"), CE),
    ("name-int", _add(task_name=5), CE),
    ("name-none", _add(task_name=None), CE),
    ("name-bytes", _add(task_name=b"x"), CE),
    # add_task: the handler and callbacks
    ("func-none", _add(func=None), HandlerRegistrationError),
    ("func-str", _add(func="noop"), HandlerRegistrationError),
    ("progress-int", _add(progress_callback=5), HandlerRegistrationError),
    ("on-main-loop-sync", _add(on_main_loop=True), CE),
    ("on-main-loop-int", _add(func=anoop, on_main_loop=1), CE),
    # add_task: numbers
    *[(f"interval-{v!r}", _add(interval=v), CE) for v in [*BAD_NUMBERS, 0, 1e-7]],
    *[(f"delay-{v!r}", _add(delay=v), CE) for v in BAD_NUMBERS if v is not None],
    *[(f"timeout-{v!r}", _add(timeout=v), CE) for v in [*BAD_NUMBERS, 0] if v is not None],
    *[(f"retries-{v!r}", _add(retries=v), CE) for v in [-1, True, 1.5, "2", None, 10**6]],
    # add_task: flags and arguments
    ("run-once-int", _add(run_once=1), CE),
    ("run-once-str", _add(run_once="yes"), CE),
    ("fixed-interval-none", _add(fixed_interval=None), CE),
    ("args-list", _add(args=[1]), CE),
    ("args-str", _add(args="ab"), CE),
    ("args-unpicklable", _add(args=(lambda: 1,)), CE),
    ("kwargs-list", _add(kwargs=[("a", 1)]), CE),
    ("kwargs-int-key", _add(kwargs={1: 2}), CE),
    ("kwargs-unpicklable", _add(kwargs={"a": lambda: 1}), CE),
    # task ids: unknown, empty, wrong type
    *[
        (f"{op}-{label}", call, error)
        for label, task_id, task_error in [
            ("unknown", UNKNOWN, TaskNotFoundError),
            ("empty", "", TaskNotFoundError),
            ("whitespace", "  ", TaskNotFoundError),
            ("long", LONG, TaskNotFoundError),
            ("int", 5, CE),
            ("none", None, CE),
        ]
        for op, call, error in [
            ("get_task", lambda q, ctx, t=task_id: q.get_task(t), task_error),
            ("pause", lambda q, ctx, t=task_id: q.pause_task(t), task_error),
            ("resume", lambda q, ctx, t=task_id: q.resume_task(t), task_error),
            ("remove", lambda q, ctx, t=task_id: q.remove_task(t), task_error),
            (
                "run_task",
                lambda q, ctx, t=task_id: q.run_task(t),
                CE if task_error is CE else HandlerNotRegisteredError,
            ),
            (
                "run_now",
                lambda q, ctx, t=task_id: q.run_task_immediately(t),
                CE if task_error is CE else HandlerNotRegisteredError,
            ),
        ]
    ],
    # resume_task of a known task with a bad delay
    *[
        (f"resume-delay-{v!r}", lambda q, ctx, v=v: q.resume_task(ctx["task"], delay=v), CE)
        for v in BAD_NUMBERS
        if v is not None
    ],
    # job ids
    ("get_job-unknown", lambda q, ctx: q.get_job(UNKNOWN), JobNotFoundError),
    ("get_job-empty", lambda q, ctx: q.get_job(""), JobNotFoundError),
    ("get_job-none", lambda q, ctx: q.get_job(None), CE),
    ("wait-unknown", lambda q, ctx: q.wait_for_job(UNKNOWN, timeout=1), JobNotFoundError),
    ("wait-int", lambda q, ctx: q.wait_for_job(5), CE),
    *[
        (f"wait-timeout-{v!r}", lambda q, ctx, v=v: q.wait_for_job(ctx["job"], timeout=v), CE)
        for v in BAD_NUMBERS
        if v is not None
    ],
    ("cancel-int", lambda q, ctx: q.cancel_job(5), CE),
    ("all-jobs-status-bogus", lambda q, ctx: q.get_all_jobs(status="bogus"), CE),
    ("all-jobs-status-case", lambda q, ctx: q.get_all_jobs(status="COMPLETED"), CE),
    ("all-jobs-status-int", lambda q, ctx: q.get_all_jobs(status=1), CE),
    # listeners
    ("listener-str-event", lambda q, ctx: q.add_listener("job_completed", noop), CE),
    ("listener-none-event", lambda q, ctx: q.add_listener(None, noop), CE),
    (
        "listener-callback-int",
        lambda q, ctx: q.add_listener(Event.JOB_COMPLETED, 5),
        HandlerRegistrationError,
    ),
    ("remove-listener-str-event", lambda q, ctx: q.remove_listener("x", noop), CE),
    # run_async
    ("run-async-int", lambda q, ctx: q.run_async(5), HandlerRegistrationError),
    ("run-async-sync", lambda q, ctx: q.run_async(noop), CE),
    # shutdown with a bad timeout leaves the scheduler running
    *[
        (f"shutdown-timeout-{v!r}", lambda q, ctx, v=v: q.shutdown(timeout=v), CE)
        for v in BAD_NUMBERS
        if v is not None
    ],
]


def _state(q: Quiv) -> tuple[Any, ...]:
    settle(q)
    tasks = [t.model_dump() for t in q.get_all_tasks(include_run_once=True)]
    jobs = [(j.id, j.status) for j in q.get_all_jobs()]
    stats = q.statistics()
    return (q.lifecycle, tasks, jobs, stats.tasks, stats.pending_deadlines, stats.jobs_started)


@pytest.fixture
def prepared(quiv) -> tuple[Quiv, dict[str, str]]:
    clock = FakeClock()
    q = quiv(clock=clock, pool_size=1)
    task = q.add_task("known", noop, interval=3600)
    q.start()
    settle(q)
    (job,) = q.get_all_jobs()  # ran at once; nothing else runs while the clock stands
    q.wait_for_job(job.id, timeout=20)
    return q, {"task": task, "job": job.id}


@pytest.mark.parametrize(("call", "error"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(prepared, call, error) -> None:
    q, ctx = prepared
    before = _state(q)
    with pytest.raises(error):
        call(q, ctx)
    assert _state(q) == before


def test_unknown_job_ids_to_cancel_are_false(prepared) -> None:
    q, ctx = prepared
    before = _state(q)
    assert q.cancel_job(UNKNOWN) is False
    assert q.cancel_job("") is False
    assert q.cancel_job(ctx["job"]) is False  # it has ended
    q.remove_listener(Event.JOB_COMPLETED, noop)  # an unknown listener is ignored
    assert _state(q) == before


@pytest.mark.parametrize(
    "name", [LONG, "x", " padded ", "ünï©ødé ✓"], ids=["long", "1", "pad", "uni"]
)
def test_unusual_but_valid_names_round_trip(prepared, name) -> None:
    q, _ = prepared
    task_id = q.add_task(name, noop, interval=60, delay=600)
    assert q.get_task(task_id).task_name == name
    q.remove_task(task_id)


@pytest.mark.parametrize(
    "call",
    [
        _add(interval=HUGE_INT),
        _add(delay=HUGE_INT),
        _add(timeout=HUGE_INT),
        lambda q, ctx: q.resume_task(ctx["task"], delay=HUGE_INT),
        lambda q, ctx: q.wait_for_job(ctx["job"], timeout=HUGE_INT),
        lambda q, ctx: q.shutdown(timeout=HUGE_INT),
        lambda q, ctx: Quiv(history_retention_seconds=HUGE_INT),
    ],
    ids=["interval", "delay", "timeout", "resume", "wait", "shutdown", "retention"],
)
def test_ints_beyond_float_range_are_configuration_errors(prepared, call) -> None:
    q, ctx = prepared
    before = _state(q)
    with pytest.raises(ConfigurationError):
        call(q, ctx)
    assert _state(q) == before


def test_a_name_the_database_cannot_store_loses_no_other_task(quiv) -> None:
    q = quiv(clock=FakeClock())
    good = q.add_task("good", noop, interval=60)
    try:
        q.add_task("bad\ud800", noop, interval=60)
    except ConfigurationError:
        pass
    assert good in {t.id for t in q.get_all_tasks()}


def test_an_unencodable_error_message_still_leaves_a_job_record(quiv) -> None:
    q = quiv(clock=FakeClock())

    def handler() -> None:
        raise OSError("cannot open b'\udcff.txt'")

    q.add_task("fails", handler, interval=60, run_once=True)
    q.start()
    settle(q)
    quiesce(q)
    jobs = q.get_all_jobs()
    assert [j.status for j in jobs] == ["failed"]


CONSTRUCTOR_CASES: list[tuple[str, dict[str, Any], type[BaseException]]] = [
    *[(f"pool-{v!r}", {"pool_size": v}, CE) for v in [0, -1, True, 2.0, "4", None]],
    *[
        (f"retention-{v!r}", {"history_retention_seconds": v}, CE)
        for v in [math.nan, math.inf, -1, True, "1", None]
    ],
    *[(f"tz-{v!r}", {"timezone": v}, InvalidTimezoneError) for v in ["", "  ", "Mars/Base", 5]],
    *[(f"shutdown-{v!r}", {"shutdown_timeout": v}, CE) for v in [math.nan, -1, True, "1"]],
    ("main-loop-str", {"main_loop": "loop"}, CE),
    ("config-dict", {"config": {"pool_size": 2}}, CE),
    ("config-and-pool", {"config": QuivConfig(), "pool_size": 3}, CE),
    ("config-bad-pool", {"config": QuivConfig(pool_size=0)}, CE),
]


@pytest.mark.parametrize(
    ("kwargs", "error"), [c[1:] for c in CONSTRUCTOR_CASES], ids=[c[0] for c in CONSTRUCTOR_CASES]
)
def test_bad_constructor_arguments_are_refused(kwargs, error, tmp_path, monkeypatch) -> None:
    # A temporary directory of this test's own: other processes of the machine (another
    # test run) make quiv- directories in the shared one meanwhile.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(error):
        Quiv(**kwargs)
    assert not [name for name in os.listdir(tmp_path) if name.startswith("quiv-")]


def test_after_shutdown_listeners_and_run_async_are_not_refused(quiv) -> None:
    # Documented (README, "calls on it raise SchedulerStateError"; scheduling.md: "every
    # scheduling call and every read"): listeners and run_async are neither, and are
    # accepted after shutdown. Pinned here so that a change is a decision.
    q = quiv()
    q.shutdown()
    q.add_listener(Event.JOB_COMPLETED, noop)
    q.remove_listener(Event.JOB_COMPLETED, noop)
    q.run_async(asyncio.sleep, (0,))
    with pytest.raises(SchedulerStateError):
        asyncio.run(q.wait_for_job_async(UNKNOWN))
