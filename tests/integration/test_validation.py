"""Bad input is refused with a ``ConfigurationError`` that says what was wrong (a
``HandlerRegistrationError`` for something not callable), and a refused call leaves nothing
behind: no task, no event, no temporary directory."""

from __future__ import annotations

import asyncio
import glob
import math
import os
import tempfile
import threading
from zoneinfo import ZoneInfo

import pytest

from quiv import (
    ConfigurationError,
    Event,
    HandlerNotRegisteredError,
    HandlerRegistrationError,
    InvalidTimezoneError,
    JobNotFoundError,
    JobStatus,
    TaskNotFoundError,
)

from ._helpers import Recorder


def _noop() -> None:
    pass


@pytest.fixture
def q(quiv):
    instance = quiv()
    instance.start()
    return instance


BAD_TASK_NAMES = ["", "   ", "\t\n", None, 123, b"name", ["x"]]


@pytest.mark.parametrize("name", BAD_TASK_NAMES, ids=repr)
def test_bad_task_name(q, name) -> None:
    with pytest.raises(ConfigurationError, match="task_name"):
        q.add_task(name, _noop, interval=1)


BAD_INTERVALS = [0, 0.0, -1, -0.5, math.nan, math.inf, -math.inf, True, False, "5", None]


@pytest.mark.parametrize("interval", BAD_INTERVALS, ids=repr)
def test_bad_interval(q, interval) -> None:
    with pytest.raises(ConfigurationError, match="interval"):
        q.add_task("t", _noop, interval=interval)


BAD_DELAYS = [-1, -0.001, math.nan, math.inf, -math.inf, True, "1", None]


@pytest.mark.parametrize("delay", BAD_DELAYS, ids=repr)
def test_bad_delay(q, delay) -> None:
    with pytest.raises(ConfigurationError, match="delay"):
        q.add_task("t", _noop, interval=1, delay=delay)


@pytest.mark.parametrize("func", [None, 42, "handler", object()], ids=repr)
def test_func_not_callable(q, func) -> None:
    with pytest.raises(HandlerRegistrationError, match="func") as info:
        q.add_task("t", func, interval=1)
    # quiv 0.4.0's tree: a ValueError directly under QuivError, not a ConfigurationError.
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, ConfigurationError)


def test_progress_callback_not_callable(q) -> None:
    with pytest.raises(HandlerRegistrationError, match="progress_callback") as info:
        q.add_task("t", _noop, interval=1, progress_callback="nope")
    assert not isinstance(info.value, ConfigurationError)


@pytest.mark.parametrize("args", [[1, 2], "ab", {"a": 1}, 5], ids=repr)
def test_args_not_a_tuple(q, args) -> None:
    with pytest.raises(ConfigurationError, match="args"):
        q.add_task("t", _noop, interval=1, args=args)


@pytest.mark.parametrize("kwargs", [[("a", 1)], "a=1", (("a", 1),), 5], ids=repr)
def test_kwargs_not_a_dict(q, kwargs) -> None:
    with pytest.raises(ConfigurationError, match="kwargs"):
        q.add_task("t", _noop, interval=1, kwargs=kwargs)


@pytest.mark.parametrize(
    "arguments",
    [
        {"args": (lambda: 1,)},
        {"args": (threading.Lock(),)},
        {"kwargs": {"lock": threading.Lock()}},
        {"kwargs": {"f": lambda: 2}},
    ],
    ids=["lambda-in-args", "lock-in-args", "lock-in-kwargs", "lambda-in-kwargs"],
)
def test_unpicklable_arguments(q, arguments) -> None:
    # quiv 0.4.0's message begins so, and applications match on it.
    which = next(iter(arguments))
    with pytest.raises(ConfigurationError, match=f"^Failed to serialize task {which}: "):
        q.add_task("t", _noop, interval=1, **arguments)


def test_rejected_calls_leave_nothing_behind(q) -> None:
    added = Recorder()
    q.add_listener(Event.TASK_ADDED, added)
    bad_calls = [
        (ConfigurationError, lambda: q.add_task("", _noop, interval=1)),
        (ConfigurationError, lambda: q.add_task("t", _noop, interval=0)),
        (ConfigurationError, lambda: q.add_task("t", _noop, interval=1, delay=-1)),
        (HandlerRegistrationError, lambda: q.add_task("t", None, interval=1)),
        (ConfigurationError, lambda: q.add_task("t", _noop, interval=1, args=[1])),
        (ConfigurationError, lambda: q.add_task("t", _noop, interval=1, kwargs=[1])),
        (ConfigurationError, lambda: q.add_task("t", _noop, interval=1, args=(threading.Lock(),))),
        (
            ConfigurationError,
            lambda: q.add_task("t", _noop, interval=1, kwargs={"lock": threading.Lock()}),
        ),
        (
            ConfigurationError,
            lambda: q.add_task("t", _noop, interval=1, run_once=True, args=(lambda: 0,)),
        ),
        (HandlerRegistrationError, lambda: q.add_task("t", _noop, interval=1, progress_callback=3)),
    ]
    for error, call in bad_calls:
        with pytest.raises(error):
            call()
    assert q.get_all_tasks(include_run_once=True) == []
    assert q.statistics().tasks == 0
    assert q.get_all_jobs() == []
    # The next good call is the first and only one announced.
    good = q.add_task("good", _noop, interval=60, delay=60)
    added.wait_for(1)
    assert [call[1].id for call in added.calls] == [good]
    assert [task.id for task in q.get_all_tasks()] == [good]


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Temporary files of this test go to a directory of its own, to check none is left."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _quiv_dirs(directory) -> list[str]:
    return glob.glob(os.path.join(directory, "quiv-*"))


def test_private_tmp_sees_the_database_directory(quiv, private_tmp) -> None:
    q = quiv()
    assert _quiv_dirs(private_tmp) == [os.path.dirname(q._store.path)]
    q.shutdown()
    assert _quiv_dirs(private_tmp) == []


@pytest.mark.parametrize("pool_size", [0, -1, True, False, 1.5, "2", None], ids=repr)
def test_bad_pool_size(quiv, private_tmp, pool_size) -> None:
    with pytest.raises(ConfigurationError, match="pool_size"):
        quiv(pool_size=pool_size)
    assert _quiv_dirs(private_tmp) == []


@pytest.mark.parametrize("retention", [-1, -0.5, math.nan, math.inf, True, "1", None], ids=repr)
def test_bad_history_retention(quiv, private_tmp, retention) -> None:
    with pytest.raises(ConfigurationError, match="history_retention_seconds"):
        quiv(history_retention_seconds=retention)
    assert _quiv_dirs(private_tmp) == []


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", "   ", "Not a zone", 42, None], ids=repr)
def test_bad_timezone(quiv, private_tmp, tz) -> None:
    with pytest.raises(InvalidTimezoneError):
        quiv(timezone=tz)
    assert _quiv_dirs(private_tmp) == []


@pytest.mark.parametrize("tz", ["UTC", "utc", "Z", "GMT", "Europe/Paris", ZoneInfo("Asia/Tokyo")])
def test_good_timezones(quiv, tz) -> None:
    quiv(timezone=tz)


def test_main_loop_must_be_an_event_loop(quiv, private_tmp) -> None:
    with pytest.raises(ConfigurationError):
        quiv(main_loop="loop")
    assert _quiv_dirs(private_tmp) == []


def test_pool_size_one_and_retention_zero_are_accepted(quiv) -> None:
    q = quiv(pool_size=1, history_retention_seconds=0)
    assert q.statistics().free_workers == 1


@pytest.mark.parametrize("delay", [-1, math.nan, math.inf, True, "0"], ids=repr)
def test_bad_resume_delay(q, delay) -> None:
    task_id = q.add_task("t", _noop, interval=60, delay=60)
    q.pause_task(task_id)
    with pytest.raises(ConfigurationError, match="delay"):
        q.resume_task(task_id, delay=delay)
    assert q.get_task(task_id).status == "paused"


def test_unknown_ids(q) -> None:
    with pytest.raises(TaskNotFoundError):
        q.pause_task("nope")
    with pytest.raises(TaskNotFoundError):
        q.resume_task("nope")
    with pytest.raises(TaskNotFoundError):
        q.remove_task("nope")
    with pytest.raises(TaskNotFoundError):
        q.get_task("nope")
    with pytest.raises(HandlerNotRegisteredError):
        q.run_task_immediately("nope")
    with pytest.raises(JobNotFoundError):
        q.get_job("nope")
    assert q.cancel_job("nope") is False


@pytest.mark.parametrize("status", ["done", "COMPLETED", 5, "", JobStatus], ids=repr)
def test_bad_job_status_filter(q, status) -> None:
    with pytest.raises(ConfigurationError):
        q.get_all_jobs(status=status)


@pytest.mark.parametrize("status", [*JobStatus, *(s.value for s in JobStatus)], ids=repr)
def test_good_job_status_filter(q, status) -> None:
    assert q.get_all_jobs(status=status) == []


@pytest.mark.parametrize("event", ["job_started", None, 1, JobStatus.RUNNING], ids=repr)
def test_add_listener_needs_an_event(q, event) -> None:
    with pytest.raises(ConfigurationError):
        q.add_listener(event, lambda *a: None)


@pytest.mark.parametrize("callback", [None, 1, "cb"], ids=repr)
def test_add_listener_needs_a_callable(q, callback) -> None:
    with pytest.raises(HandlerRegistrationError, match="listener callback"):
        q.add_listener(Event.JOB_STARTED, callback)


def test_remove_unknown_listener_is_a_no_op(q) -> None:
    def listener(*args: object) -> None:
        pass

    q.remove_listener(Event.JOB_STARTED, listener)
    q.add_listener(Event.TASK_ADDED, listener)
    q.remove_listener(Event.JOB_STARTED, listener)
    q.remove_listener(Event.TASK_ADDED, listener)
    q.remove_listener(Event.TASK_ADDED, listener)


def test_async_handler_and_callable_objects_are_accepted(q) -> None:
    async def handler() -> None:
        await asyncio.sleep(0)

    class Handler:
        def __call__(self) -> None:
            pass

    q.add_task("async", handler, interval=60, delay=60)
    q.add_task("object", Handler(), interval=60, delay=60)
    q.add_task("builtin", print, interval=60, delay=60)
    assert len(q.get_all_tasks()) == 3
