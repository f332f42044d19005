"""Previews of planned runs, for UIs: a task's next runs, and a cron expression's.

Pure: ``Scheduler.upcoming`` gives a task's first planned run and the regular slot its
cadence continues from; the times after it follow from the schedule alone. Later runs are
shown without jitter, and an interval that waits for the end of each run
(``fixed_interval=False``) is shown as if runs took no time.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

from ._calendar import next_cron_instant
from ._config import resolve_timezone
from ._cron import CronExpression
from ._schedule import AtSchedule, CronSchedule, Schedule
from .exceptions import ConfigurationError
from .models import RunTime

__all__ = ["MAX_PREVIEW", "check_count", "preview_cron", "run_times", "upcoming_runs"]

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
            utc=datetime.fromtimestamp(instant, timezone.utc),
            local=datetime.fromtimestamp(instant, zone),
        )
        for instant in instants
    ]


def upcoming_runs(schedule: Schedule, first: float, base: float, count: int) -> list[float]:
    """``count`` runs (fewer for a one-shot task): ``first``, then the regular slots after
    ``base`` (the un-jittered slot of ``first``)."""
    instants = [first]
    if isinstance(schedule, AtSchedule) or schedule.run_once:
        return instants
    if isinstance(schedule, CronSchedule):
        slot: float | None = base
        while len(instants) < count:
            slot = schedule.next_slot(slot) if slot is not None else None
            if slot is None:
                break
            instants.append(slot)
        return instants
    instants.extend(base + k * schedule.seconds for k in range(1, count))
    return instants


def preview_cron(
    expression: str,
    timezone: str | tzinfo = "UTC",
    count: int = 5,
    after: datetime | None = None,
) -> list[RunTime]:
    """The next ``count`` times a cron expression runs in ``timezone`` after ``after``
    (an aware datetime; default: now), by the same rules as a task's: for a UI to check an
    expression before it becomes a task.

    Raises ``InvalidCronExpressionError`` (naming the field at fault), ``InvalidTimezoneError``
    or ``ConfigurationError``.
    """
    cron = CronExpression.parse(expression)
    zone = resolve_timezone(timezone)
    count = check_count(count)
    if after is None:
        start = datetime.now().astimezone().timestamp()
    elif not isinstance(after, datetime) or after.utcoffset() is None:
        raise ConfigurationError(f"after must be a timezone-aware datetime, got {after!r}")
    else:
        start = after.timestamp()
    instants: list[float] = []
    while len(instants) < count:
        instant = next_cron_instant(cron, zone, start)
        if instant is None:
            break
        instants.append(float(instant))
        start = instant
    return run_times(instants, zone)
