"""Lifecycle of a ``Quiv``: construction, start, shutdown, and what is left afterwards."""

from __future__ import annotations

import dataclasses
import gc
import inspect
import os
import threading
import weakref

import pytest

from quiv import (
    ConfigurationError,
    Event,
    JobStatus,
    Lifecycle,
    Quiv,
    QuivConfig,
    SchedulerStateError,
)
from quiv import _bridge as quiv_bridge
from quiv.testing import settle, wait_until

from ._helpers import WAIT, Recorder, Runs, quiesce, tick


def _noop() -> None:
    pass


def test_constructor_signature_is_that_of_0_4_0() -> None:
    parameters = list(inspect.signature(Quiv).parameters.values())
    # quiv 0.4.0's parameters first, unchanged; anything added after them is keyword-only.
    assert [(p.name, p.kind, p.default) for p in parameters[:6]] == [
        ("config", inspect.Parameter.POSITIONAL_OR_KEYWORD, None),
        ("pool_size", inspect.Parameter.POSITIONAL_OR_KEYWORD, 10),
        ("history_retention_seconds", inspect.Parameter.POSITIONAL_OR_KEYWORD, 86400),
        ("timezone", inspect.Parameter.POSITIONAL_OR_KEYWORD, "UTC"),
        ("logger", inspect.Parameter.KEYWORD_ONLY, None),
        ("main_loop", inspect.Parameter.KEYWORD_ONLY, None),
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters[6:])


def test_method_signatures_are_those_of_0_4_0() -> None:
    add = inspect.signature(Quiv.add_task).parameters
    assert [(name, p.default) for name, p in list(add.items())[:10]] == [
        ("self", inspect.Parameter.empty),
        ("task_name", inspect.Parameter.empty),
        ("func", inspect.Parameter.empty),
        # Required in 0.4.0; optional now that cron= and at= are schedules too. Every call
        # that 0.4.0 accepted still binds the same way.
        ("interval", None),
        ("delay", 0),
        ("run_once", False),
        ("fixed_interval", True),
        ("args", None),
        ("kwargs", None),
        ("progress_callback", None),
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(add.values())[10:])
    assert inspect.signature(Quiv.resume_task).parameters["delay"].default == 0
    assert inspect.signature(Quiv.get_all_tasks).parameters["include_run_once"].default is False
    assert inspect.signature(Quiv.get_all_jobs).parameters["status"].default is None
    for name in ("start", "startup", "shutdown", "stop"):
        assert callable(getattr(Quiv, name))


def test_start_and_shutdown_are_idempotent_and_have_aliases(quiv) -> None:
    q = quiv()
    assert q.lifecycle is Lifecycle.CREATED
    q.startup()
    q.start()
    q.startup()
    assert q.lifecycle is Lifecycle.RUNNING
    q.stop()
    assert q.lifecycle is Lifecycle.STOPPED
    q.shutdown()
    q.stop()
    assert q.lifecycle is Lifecycle.STOPPED


def test_start_after_shutdown_raises(quiv) -> None:
    q = quiv()
    q.start()
    q.shutdown()
    with pytest.raises(SchedulerStateError):
        q.start()
    with pytest.raises(SchedulerStateError):
        q.startup()


def test_shutdown_without_start_then_start_raises(quiv) -> None:
    q = quiv()
    q.shutdown()
    assert q.lifecycle is Lifecycle.STOPPED
    with pytest.raises(SchedulerStateError):
        q.start()


AFTER_SHUTDOWN = [
    ("add_task", lambda q: q.add_task("t", _noop, interval=1)),
    ("remove_task", lambda q: q.remove_task("x")),
    ("pause_task", lambda q: q.pause_task("x")),
    ("resume_task", lambda q: q.resume_task("x")),
    ("run_task_immediately", lambda q: q.run_task_immediately("x")),
    ("cancel_job", lambda q: q.cancel_job("x")),
    ("get_task", lambda q: q.get_task("x")),
    ("get_all_tasks", lambda q: q.get_all_tasks()),
    ("get_job", lambda q: q.get_job("x")),
    ("get_all_jobs", lambda q: q.get_all_jobs()),
    ("statistics", lambda q: q.statistics()),
    ("stats", lambda q: q.stats()),
    ("next_run_times", lambda q: q.next_run_times("x")),
    ("run_task", lambda q: q.run_task("x")),
    ("update_task", lambda q: q.update_task("x", task_name="y")),
]


@pytest.mark.parametrize(("name", "call"), AFTER_SHUTDOWN, ids=[n for n, _ in AFTER_SHUTDOWN])
@pytest.mark.parametrize("started", [True, False], ids=["started", "never-started"])
def test_calls_after_shutdown_raise_scheduler_state_error(quiv, name, call, started) -> None:
    q = quiv()
    q.add_task("existing", _noop, interval=60, delay=60)
    if started:
        q.start()
    q.shutdown()
    with pytest.raises(SchedulerStateError):
        call(q)


def test_next_run_times_after_shutdown_names_what_was_refused(quiv) -> None:
    q = quiv()
    task_id = q.add_task("t", _noop, interval=60, delay=60)
    q.start()
    q.shutdown()
    with pytest.raises(SchedulerStateError, match="read the next run times"):
        q.next_run_times(task_id)


@pytest.mark.parametrize("started", [True, False], ids=["started", "never-started"])
def test_shutdown_deletes_the_temporary_database(quiv, started) -> None:
    q = quiv()
    q.add_task("t", _noop, interval=60, delay=60)
    path = q._store.path
    directory = os.path.dirname(path)
    assert os.path.exists(path)
    if started:
        q.start()
        q.get_all_tasks()
    q.shutdown()
    assert not os.path.exists(path)
    assert not os.path.exists(directory)


def test_tasks_added_before_start_run_only_after_start(quiv, clock) -> None:
    q = quiv(clock=clock)
    runs = Runs(clock)
    q.add_task("early", runs, interval=10)
    clock.advance(5)
    assert len(runs) == 0
    assert q.get_all_jobs() == []
    q.start()
    quiesce(q)
    assert runs.times == [5.0]
    tick(q, clock, 4)  # t = 9: the cadence counts from the due time (0), next slot is 10
    assert runs.times == [5.0]
    tick(q, clock, 1)
    assert runs.times == [5.0, 10.0]


def test_shutdown_sets_the_stop_event_of_running_jobs(quiv) -> None:
    q = quiv()
    entered: list[bool] = []
    seen: list[bool] = []

    def handler(_stop_event: threading.Event) -> None:
        entered.append(True)
        seen.append(_stop_event.wait(WAIT))

    cancelled = Recorder()
    q.add_listener(Event.JOB_CANCELLED, cancelled)
    q.start()
    q.add_task("long", handler, interval=60)
    q.add_task("other", handler, interval=60)
    wait_until(lambda: len(entered) == 2, WAIT)  # both handlers are running
    q.shutdown()
    assert seen == [True, True]
    # Listeners were delivered before shutdown returned.
    assert len(cancelled) == 2
    assert {call[2].status for call in cancelled.calls} == {JobStatus.CANCELLED.value}


def test_shutdown_gives_up_on_a_handler_that_ignores_its_stop_event(quiv, gate) -> None:
    q = quiv()
    release = gate()
    started = threading.Event()
    finished = threading.Event()

    def stubborn() -> None:
        started.set()
        release.wait(WAIT)
        finished.set()

    cancelled = Recorder()
    q.add_listener(Event.JOB_CANCELLED, cancelled)
    q.start()
    q.add_task("stubborn", stubborn, interval=60)
    assert started.wait(WAIT)
    q.shutdown(timeout=0.1)
    assert q.lifecycle is Lifecycle.STOPPED
    assert not finished.is_set()
    assert len(cancelled) == 1
    job = cancelled.calls[0][2]
    assert job.status == JobStatus.CANCELLED.value
    assert not os.path.exists(q._store.path)
    release.set()
    assert finished.wait(WAIT)


def test_config_object_is_used(quiv) -> None:
    config = QuivConfig(pool_size=3, history_retention_seconds=60, timezone="Europe/Paris")
    q = quiv(config)
    assert q.config == config
    assert q.statistics().free_workers == 3
    q2 = quiv(config=QuivConfig())
    assert q2.statistics().free_workers == 10


@pytest.mark.parametrize(
    "settings",
    [
        {"pool_size": 3},
        {"history_retention_seconds": 5},
        {"timezone": "Europe/Paris"},
    ],
)
def test_config_together_with_a_non_default_setting_is_refused(quiv, settings) -> None:
    with pytest.raises(ConfigurationError):
        quiv(QuivConfig(), **settings)
    with pytest.raises(ConfigurationError):
        quiv(config=QuivConfig(pool_size=2), **settings)


def test_config_must_be_a_quiv_config(quiv) -> None:
    with pytest.raises(ConfigurationError):
        quiv(config={"pool_size": 3})


def test_quiv_config_is_a_frozen_dataclass() -> None:
    config = QuivConfig()
    assert dataclasses.is_dataclass(config)
    assert (config.pool_size, config.history_retention_seconds, config.timezone) == (
        10,
        86400,
        "UTC",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.pool_size = 5  # type: ignore[misc]


def test_statistics_count_tasks_deadlines_and_jobs(quiv, clock) -> None:
    q = quiv(pool_size=4, clock=clock)
    q.start()
    a = q.add_task("a", Runs(clock), interval=10, delay=5)
    q.add_task("b", Runs(clock), interval=10, delay=5)
    q.add_task("c", Runs(clock), interval=10, delay=5, run_once=True)
    q.pause_task(a)
    stats = quiesce(q)
    assert stats.tasks == 3
    assert stats.pending_deadlines == 2
    assert stats.running_jobs == 0
    assert stats.free_workers == 4
    assert stats.jobs_started == 0
    tick(q, clock, 5)
    stats = q.statistics()
    assert stats.tasks == 2  # the run-once task is gone after its run
    assert stats.pending_deadlines == 1
    assert stats.jobs_started == 2
    assert stats.late_starts == 0


def test_a_shut_down_quiv_can_be_garbage_collected() -> None:
    q = Quiv()  # not from the fixture: nothing else may keep it alive
    q.start()
    directory = os.path.dirname(q._store.path)
    q.add_task("t", _noop, interval=3600, delay=3600)
    settle(q)
    ref = weakref.ref(q)
    q.shutdown()
    del q
    gc.collect()
    assert ref() is None
    assert not os.path.exists(directory)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_running_quiv_dropped_without_shutdown_is_cleaned_up(gate) -> None:
    release = gate()
    entered = threading.Event()

    def handler() -> None:
        entered.set()
        release.wait(WAIT)

    q = Quiv()  # not from the fixture: nothing else may keep it alive
    q.start()
    directory = os.path.dirname(q._store.path)
    # Parts to clean up by hand if the finalizer fails (they do not refer to the Quiv).
    scheduler, store, listeners, bridge = q._scheduler, q._store, q._listeners, q._bridge
    scheduler_thread = scheduler.thread
    try:
        task_id = q.add_task("t", handler, interval=3600)
        assert entered.wait(WAIT)
        settle(q)
        q.pause_task(task_id)  # the last command the scheduler thread ran refers to q
        ref = weakref.ref(q)
        del q
        gc.collect()
        release.set()  # the job ends: its end is the next command on the scheduler thread
        wait_until(lambda: ref() is None, WAIT)
        assert scheduler_thread is not None
        scheduler_thread.join(WAIT)
        wait_until(lambda: not os.path.exists(directory), 3)
    finally:
        release.set()
        listeners.close(WAIT)
        store.close()
        scheduler.workers.shutdown(WAIT)
        quiv_bridge.deactivate(bridge)
