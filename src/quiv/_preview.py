"""Previews of planned runs, for UIs: a task's next runs, and any schedule value's.

Pure: ``Scheduler.upcoming`` gives a task's first planned run and the regular slot its
cadence continues from; the times after it follow from the schedule alone. Later runs are
shown without jitter, and an interval that waits for the end of each run
(``fixed_interval=False``) is shown as if runs took no time. ``preview`` lists the runs a
task of a schedule value would make if it were added at ``after``, by the same arithmetic
the scheduler uses (``_resolve`` and ``_slots``).
"""

from __future__ import annotations

import math
from datetime import datetime, tzinfo
from datetime import timezone as dt_timezone

from ._config import resolve_timezone
from ._resolve import first_slot, interval_delay, resolve
from ._schedule import RECURRING, AtSchedule, IntervalSchedule, Schedule
from .exceptions import ConfigurationError, InvalidScheduleError
from .models import RunTime
from .schedules import Cron
from .schedules import Schedule as ScheduleValue

__all__ = [
    "MAX_PREVIEW",
    "check_count",
    "preview",
    "preview_cron",
    "run_times",
    "upcoming_runs",
]

MAX_PREVIEW = 1000


def check_count(count: object) -> int:
    """``count`` as an int from 1 to ``MAX_PREVIEW``, or ``ConfigurationError``."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PREVIEW:
        raise ConfigurationError(f"count must be an int from 1 to {MAX_PREVIEW}, got {count!r}")
    return count


def run_times(instants: list[float], zone: tzinfo) -> list[RunTime]:
    """Epoch instants as ``RunTime``s, in UTC and in ``zone``."""
    return [
        RunTime(
            utc=datetime.fromtimestamp(instant, dt_timezone.utc),
            local=datetime.fromtimestamp(instant, zone),
        )
        for instant in instants
    ]


def upcoming_runs(schedule: Schedule, first: float, base: float, count: int) -> list[float]:
    """``count`` runs (fewer for a one-shot task, or one whose schedule ends): ``first``,
    then the regular slots after ``base`` (the un-jittered slot of ``first``)."""
    instants = [first]
    if isinstance(schedule, AtSchedule) or schedule.run_once:
        return instants
    if isinstance(schedule, RECURRING):
        slot: float | None = base
        while len(instants) < count:
            slot = schedule.next_slot(slot) if slot is not None else None
            if slot is None:
                break
            instants.append(slot)
        return instants
    end = math.inf if schedule.end is None else schedule.end
    for k in range(1, count):
        slot_k = base + k * schedule.seconds
        if slot_k > end:
            break
        instants.append(slot_k)
    return instants


def _after(after: datetime | None) -> float:
    if after is None:
        return datetime.now().astimezone().timestamp()
    if not isinstance(after, datetime) or after.utcoffset() is None:
        raise ConfigurationError(f"after must be a timezone-aware datetime, got {after!r}")
    return after.timestamp()


def preview(
    schedule: ScheduleValue,
    count: int = 5,
    after: datetime | None = None,
    *,
    timezone: str | tzinfo = "UTC",
) -> list[RunTime]:
    """The first ``count`` runs a task of ``schedule`` (a ``quiv.schedules`` value) would
    make if it were added at ``after`` (an aware datetime; default: now), with no jitter.
    ``timezone`` stands for the scheduler's zone: what the value leaves to it. An interval
    runs at once, and later runs of ``Interval(fixed=False)`` are shown as if runs took
    no time.

    Raises ``ConfigurationError`` (``InvalidScheduleError`` for a schedule with no run).
    """
    if not isinstance(schedule, ScheduleValue):
        raise ConfigurationError(f"schedule must be a quiv.schedules value, got {schedule!r}")
    count = check_count(count)
    zone = resolve_timezone(timezone)
    start = _after(after)
    resolved = resolve(schedule, zone, start)
    if isinstance(resolved, IntervalSchedule):
        first = start + interval_delay(resolved, start, 0.0)
        shown = zone
    else:
        first = first_slot(resolved, start)
        shown = resolved.zone
    return run_times(upcoming_runs(resolved, first, first, count), shown)


def preview_cron(
    expression: str,
    timezone: str | tzinfo = "UTC",
    count: int = 5,
    after: datetime | None = None,
) -> list[RunTime]:
    """The next ``count`` times a cron expression runs in ``timezone`` after ``after``
    (an aware datetime; default: now), by the same rules as a task's: for a UI to check an
    expression before it becomes a task. A shorthand of ``preview(Cron(expression,
    timezone=timezone), count, after)``, except that a run at ``after`` itself is not
    listed.

    Raises ``InvalidCronExpressionError`` (naming the field at fault), ``InvalidTimezoneError``
    or ``ConfigurationError``.
    """
    value = Cron(expression, timezone=resolve_timezone(timezone))
    count = check_count(count)
    start = math.floor(_after(after)) + 1.0  # strictly after: the next whole second on
    try:
        return preview(value, count, datetime.fromtimestamp(start, dt_timezone.utc))
    except InvalidScheduleError:
        return []
