"""Turning ``add_task``'s and ``update_task``'s arguments into a checked task or change.

``TaskBuilder.build`` turns ``add_task``'s arguments into a ``TaskEntry`` and the first run
that ``Scheduler.add`` takes; ``task_change`` turns ``update_task``'s into a ``TaskChange``,
checked as ``add_task`` checks them. quiv 1.4.0's spellings (``run_at``, ``max_retries`` and
``retry_backoff``) are rewritten here into this project's (``delay``/``at`` and a
``RetryPolicy``). Nothing here stores, schedules or emits (a builder reads the clock, makes
an id and encodes the arguments), so a bad argument raises before anything has changed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, tzinfo
from datetime import timezone as dt_timezone
from enum import Enum
from functools import partial
from typing import Any

from ._arguments import ArgumentCodec
from ._clock import Clock
from ._config import MIN_INTERVAL_SECONDS, check_number, check_text
from ._entries import EXECUTORS, TaskEntry, TaskSettings, shared_settings
from ._ids import new_id
from ._invocation import inspect_handler
from ._processes import handler_reference
from ._resolve import build_schedule, first_slot, interval_delay
from ._schedule import (
    IntervalSchedule,
    Misfire,
    RetryPolicy,
    Schedule,
    check_misfire,
)
from ._scheduler import TaskChange
from .exceptions import ConfigurationError, HandlerRegistrationError, InvalidScheduleError
from .schedules import Interval

__all__ = ["UNSET", "TaskBuilder", "task_change"]


class _Unset(Enum):
    """The type of ``UNSET``: "not passed" where None is a value (``update_task``)."""

    UNSET = "unset"


UNSET = _Unset.UNSET


class TaskBuilder:
    """Builds the tasks of one ``Quiv`` from ``add_task``'s arguments.

    It knows what every task of that ``Quiv`` shares: the zone a cron expression and a naive
    ``at`` are read in by default, the clocks, the codec of the store's arguments, whether
    the store is durable (a keyed task of scope ``"deployment"`` is then shared by every
    process, and timed on the wall clock) and this process's node id on it.
    """

    __slots__ = ("_clock", "_codec", "_durable", "_epoch", "_node", "_zone")

    def __init__(
        self,
        zone: tzinfo,
        clock: Clock,
        epoch: Callable[[], float],
        codec: ArgumentCodec,
        *,
        durable: bool,
        node: str | None,
    ) -> None:
        self._zone = zone
        self._clock = clock
        self._epoch = epoch
        self._codec = codec
        self._durable = durable
        self._node = node

    def build(
        self,
        task_name: str,
        func: Callable[..., Any],
        interval: float | None,
        delay: float,
        run_once: bool,
        fixed_interval: bool,
        args: tuple[Any, ...] | None,
        kwargs: dict[str, Any] | None,
        progress_callback: Callable[..., Any] | None,
        timeout: float | None,
        retries: int | RetryPolicy,
        on_main_loop: bool,
        cron: str | None,
        at: datetime | None,
        timezone: str | tzinfo | None,
        misfire: Misfire | str,
        misfire_grace: float,
        jitter: float,
        key: str | None,
        scope: str,
        run_at: datetime | None,
        max_retries: int | None,
        retry_backoff: float | None,
        schedule_value: object = None,
        executor: object = "thread",
        max_instances: object = 1,
    ) -> tuple[TaskEntry, float, InvalidScheduleError | None]:
        """``add_task``'s arguments (in its order), checked, as a new task and its first run
        as ``Scheduler.add`` takes it; ``ConfigurationError`` or ``HandlerRegistrationError``
        for the first bad one. The third item is, for a keyed task whose schedule has no
        run left, the error to raise unless its key is registered already."""
        if run_at is not None or (
            run_once and interval is None and cron is None and at is None and schedule_value is None
        ):
            interval, delay, at = _run_at(run_at, interval, delay, at, cron, self._epoch())
            run_once = run_once and at is None  # an at= time runs once by itself
        if max_retries is not None or retry_backoff is not None:
            retries = _retry_shortcut(retries, max_retries, retry_backoff)
        check_text("task_name", task_name)
        if not callable(func):
            raise HandlerRegistrationError("func", func)
        if executor != "thread":
            _check_executor(func, executor, on_main_loop)
        delay = check_number("delay", delay)
        if not isinstance(run_once, bool):
            raise ConfigurationError(f"run_once must be a bool, got {run_once!r}")
        if not isinstance(fixed_interval, bool):
            raise ConfigurationError(f"fixed_interval must be a bool, got {fixed_interval!r}")
        wall = self._epoch()
        schedule = build_schedule(
            schedule=schedule_value,
            now=wall,
            interval=interval,
            cron=cron,
            at=at,
            timezone=timezone,
            default_zone=self._zone,
            delay=delay,
            run_once=run_once,
            fixed_interval=fixed_interval,
        )
        misfire_policy = check_misfire(misfire)
        grace = check_number("misfire_grace", misfire_grace)
        jitter = check_number("jitter", jitter)
        if key is not None:
            check_text("key", key, limit=200)
        if scope not in ("deployment", "process"):
            raise ConfigurationError(f"scope must be 'deployment' or 'process', got {scope!r}")
        deployment = key is not None and scope == "deployment"  # one task for every process
        shared = deployment and self._durable
        _check_instances(max_instances, schedule.run_once, shared)
        codec = self._codec
        blobs = codec.encode(args, kwargs)
        if (
            progress_callback is None
            and timeout is None
            and type(retries) is int
            and retries == 0
            and on_main_loop is False
        ):
            retry = None  # the defaults, checked in one go (and without a call)
        else:
            timeout, retry = _job_control(func, progress_callback, timeout, retries, on_main_loop)
        # The first run as Scheduler.add takes it: an epoch instant for a calendar task or a
        # shared one (every process claims the same slot), else a monotonic one.
        expired: InvalidScheduleError | None = None
        if isinstance(schedule, IntervalSchedule):
            delay = interval_delay(schedule, wall, delay)
            next_run_at = wall + delay
            first = next_run_at if shared else self._clock.monotonic() + delay
        else:
            try:
                first = next_run_at = first_slot(schedule, wall)
            except InvalidScheduleError as exc:
                if key is None:
                    raise
                # No run left: only a registration of its key that exists already can
                # take it (an ended task is then left as it is); the registrar decides.
                first = next_run_at = wall
                expired = exc
        task = TaskEntry(
            id=new_id(),
            name=task_name,
            func=func,
            args_blob=blobs[0],
            kwargs_blob=blobs[1],
            schedule=schedule,
            settings=shared_settings(
                TaskSettings(
                    inspect_handler(func).supplied_by(args or (), kwargs or {}),
                    progress_callback,
                    timeout,
                    retry,
                    on_main_loop,
                    misfire_policy,
                    grace,
                    jitter,
                    codec,
                    scope if key is not None else "process",  # scope
                    None if deployment else self._node,  # owner
                    "process" if executor == "process" else "thread",
                    max_instances,  # type: ignore[arg-type]  # checked above
                )
            ),
            next_run_at=next_run_at,
            key=key,
            created_at=wall,
            shared=shared,
            node=self._node,
        )
        if shared:
            task.slot = first  # the first regular slot, as every process will claim it
        return task, first, expired


def task_change(
    entry: TaskEntry,
    codec: ArgumentCodec,
    *,
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
) -> TaskChange:
    """``update_task``'s arguments, checked as ``add_task`` checks them, as a change."""
    new_name = None
    if name is not UNSET:
        new_name = check_text("task_name", name)
    schedule: Schedule | None = None
    current = entry.schedule
    if interval is not UNSET or fixed is not UNSET:
        if not isinstance(current, IntervalSchedule):
            raise ConfigurationError(
                "interval and fixed_interval apply to interval tasks without a start or "
                f"an end; this task runs on a {current.describe()['kind']} schedule (remove "
                "it and add it again to change that)"
            )
        seconds = current.seconds
        if interval is not UNSET:
            seconds = check_number(
                "interval", interval, positive=True, minimum=MIN_INTERVAL_SECONDS
            )
        keep = current.fixed if fixed is UNSET else fixed
        if not isinstance(keep, bool):
            raise ConfigurationError(f"fixed_interval must be a bool, got {fixed!r}")
        value = current.value
        if value is not None:  # keep its start and end
            value = Interval(seconds, fixed=keep, start=value.start, end=value.end)
        schedule = IntervalSchedule(seconds, keep, current.run_once, value)
    moved = None
    if run_at is not UNSET:
        if interval is not UNSET:
            raise ConfigurationError(
                "pass interval or run_at, not both: a new interval already moves the next run"
            )
        if not isinstance(run_at, datetime):
            raise ConfigurationError(f"run_at must be a datetime, got {run_at!r}")
        aware = run_at if run_at.tzinfo is not None else run_at.replace(tzinfo=dt_timezone.utc)
        moved = aware.timestamp()
    blobs = None
    settings = entry.settings
    if args is not UNSET or kwargs is not UNSET:
        new_args = codec.decode_args(entry.args_blob) if args is UNSET else args
        new_kwargs = codec.decode_kwargs(entry.kwargs_blob) if kwargs is UNSET else kwargs
        blobs = codec.encode(new_args, new_kwargs)
        settings = settings._replace(
            injection=inspect_handler(entry.func).supplied_by(
                codec.decode_args(blobs[0]), codec.decode_kwargs(blobs[1])
            )
        )
    if timeout is not UNSET:
        if timeout is not None:
            timeout = check_number("timeout", timeout, positive=True, minimum=MIN_INTERVAL_SECONDS)
        settings = settings._replace(timeout=timeout)
    if max_retries is not UNSET or retry_backoff is not UNSET:
        settings = settings._replace(
            retry=_changed_retry(settings.retry, max_retries, retry_backoff)
        )
    if jitter is not UNSET:
        settings = settings._replace(jitter=check_number("jitter", jitter))
    if progress_callback is not UNSET:
        if progress_callback is not None and not callable(progress_callback):
            raise HandlerRegistrationError("progress_callback", progress_callback)
        settings = settings._replace(progress_callback=progress_callback)
    changed = None if settings is entry.settings else shared_settings(settings)
    return TaskChange(new_name, blobs, changed, schedule, moved)


def _check_instances(max_instances: object, run_once: bool, shared: bool) -> None:
    """Check ``max_instances``."""
    if max_instances == 1 and type(max_instances) is int:
        return
    if type(max_instances) is not int or max_instances < 1:
        raise ConfigurationError(
            f"max_instances must be a whole number of at least 1, got {max_instances!r}"
        )
    if max_instances > 1 and run_once:
        raise ConfigurationError(
            "max_instances applies to a recurring task: a one-shot task (run_once=True, "
            f"at=, a run_at without interval) runs once, got max_instances={max_instances}"
        )
    if max_instances > 1 and shared:
        raise ConfigurationError(
            "max_instances > 1 is not available for a task shared by every process (a key "
            "with scope='deployment' on a durable store): each of its runs is claimed "
            "one at a time; use scope='process', or max_instances=1"
        )


def _check_executor(func: object, executor: object, on_main_loop: object) -> None:
    """Check ``executor`` (not ``"thread"``): ``"process"`` needs a handler that a child
    process can import by reference, and not the main loop."""
    if executor not in EXECUTORS:
        raise ConfigurationError(f"executor must be 'thread' or 'process', got {executor!r}")
    if on_main_loop is True:
        raise ConfigurationError(
            "on_main_loop=True runs a handler on this process's main loop, and "
            "executor='process' in another process: choose one"
        )
    handler_reference(func)


def _retry_policy(retries: object) -> RetryPolicy | None:
    if isinstance(retries, RetryPolicy):
        return retries if retries.max_retries > 0 else None
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigurationError(f"retries must be an int >= 0 or a RetryPolicy, got {retries!r}")
    return RetryPolicy(max_retries=retries) if retries else None


def _run_at(
    run_at: object,
    interval: float | None,
    delay: float,
    at: datetime | None,
    cron: str | None,
    now: float,
) -> tuple[float | None, float, datetime | None]:
    """quiv 1.4.0's ``run_at`` (and its ``run_once`` task without an interval) as this
    project's ``interval``, ``delay`` and ``at``."""
    if run_at is not None:
        if not isinstance(run_at, datetime):
            raise ConfigurationError(f"run_at must be a datetime, got {run_at!r}")
        if at is not None or cron is not None:
            raise ConfigurationError("run_at cannot be combined with at= or cron=")
        if delay != 0:
            raise ConfigurationError("pass run_at or delay, not both")
        when = run_at if run_at.tzinfo is not None else run_at.replace(tzinfo=dt_timezone.utc)
    else:
        when = datetime.fromtimestamp(now + check_number("delay", delay), dt_timezone.utc)
    if interval is None:  # a one-off: its one run at that instant
        return None, 0.0, when
    return interval, max(0.0, when.timestamp() - now), None


def _retry_shortcut(retries: object, max_retries: object, backoff: object) -> RetryPolicy:
    """quiv 1.4.0's ``max_retries``/``retry_backoff`` as a ``RetryPolicy``: the wait
    doubles at each retry, from ``retry_backoff`` seconds (default 30)."""
    if not (type(retries) is int and retries == 0):
        raise ConfigurationError("pass retries= or max_retries/retry_backoff, not both")
    if max_retries is None:
        raise ConfigurationError("retry_backoff needs max_retries (how many retries)")
    seconds = 30.0 if backoff is None else _check_backoff(backoff)
    return RetryPolicy(
        max_retries=_check_max_retries(max_retries),
        backoff=seconds,
        backoff_max=86400.0,
        jitter=0.0,
    )


def _changed_retry(
    retry: RetryPolicy | None, max_retries: object, retry_backoff: object
) -> RetryPolicy | None:
    """``update_task``'s ``max_retries``/``retry_backoff`` applied to a task's policy (None:
    it has none): only what was passed changes; its retry_on, cap and jitter stay."""
    if retry is None:
        count = 0 if max_retries is UNSET else max_retries
        policy = _retry_shortcut(0, count, None if retry_backoff is UNSET else retry_backoff)
    else:
        policy = retry
        if max_retries is not UNSET:
            policy = replace(policy, max_retries=_check_max_retries(max_retries))
        if retry_backoff is not UNSET:
            policy = replace(policy, backoff=_check_backoff(retry_backoff))
    return policy if policy.max_retries else None


def _check_max_retries(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"max_retries must be an int >= 0, got {value!r}")
    return value


def _check_backoff(value: object) -> float:
    return check_number("retry_backoff", value, positive=True, maximum=86400.0)


def _job_control(
    func: object,
    progress_callback: object,
    timeout: float | None,
    retries: object,
    on_main_loop: object,
) -> tuple[float | None, RetryPolicy | None]:
    """Check add_task's per-job options; return the timeout and the retry policy."""
    if progress_callback is not None and not callable(progress_callback):
        raise HandlerRegistrationError("progress_callback", progress_callback)
    if timeout is not None:
        timeout = check_number("timeout", timeout, positive=True, minimum=MIN_INTERVAL_SECONDS)
    retry = _retry_policy(retries)
    if not isinstance(on_main_loop, bool):
        raise ConfigurationError(f"on_main_loop must be a bool, got {on_main_loop!r}")
    if on_main_loop and not _is_async_callable(func):
        raise ConfigurationError(
            "on_main_loop=True needs an async handler (an async def function or a callable "
            f"whose __call__ is async), got {func!r}"
        )
    return timeout, retry


def _is_async_callable(func: object) -> bool:
    while isinstance(func, partial):
        func = func.func
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 - the __call__ of a callable object
    )
