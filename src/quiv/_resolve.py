"""Schedule values (``quiv.schedules``) as the schedules the scheduler plans with. Pure.

``build_schedule`` takes ``add_task``'s schedule arguments: a value (``schedule=``) or the
keyword forms (``interval=``, ``cron=``, ``at=``), which build the same values. ``resolve``
fixes what the value leaves open when a task is added: zones (the scheduler's), a naive
``at`` (read in that zone) and the anchor a ``Calendar`` or an ``Interval`` counts from
where no ``start`` is given (the moment of adding). ``first_slot`` is the first run of a
wall-clock schedule, or ``InvalidScheduleError`` when it has none.
"""

from __future__ import annotations

import math
from datetime import datetime, tzinfo
from functools import lru_cache

from ._calendar import instant_of_wall, wall_of
from ._config import MIN_INTERVAL_SECONDS, check_number, resolve_timezone
from ._cron import CronExpression
from ._schedule import AtSchedule, CronSchedule, IntervalSchedule, RuleSchedule, Schedule
from ._slots import (
    ALL_OF_SEARCH_STEPS,
    AllRule,
    AnyRule,
    Bounded,
    CalendarRule,
    IntervalRule,
    Rule,
    gives_up,
)
from .exceptions import ConfigurationError, InvalidScheduleError
from .schedules import AllOf, AnyOf, At, Calendar, Cron, Interval
from .schedules import Schedule as ScheduleValue

__all__ = ["build_schedule", "first_slot", "interval_delay", "resolve", "with_anchor"]

# Schedules are frozen: tasks with the same interval share one object, which an idle task
# would otherwise pay for in memory (about 100 bytes each).
_interval_schedule = lru_cache(maxsize=1024)(IntervalSchedule)

_CHOICES = (
    "schedule= (a quiv.schedules value), interval= (seconds), cron= (a cron expression) "
    "or at= (a datetime)"
)


def build_schedule(
    *,
    interval: float | None,
    cron: str | None,
    at: datetime | None,
    timezone: str | tzinfo | None,
    default_zone: tzinfo,
    delay: float,
    run_once: bool,
    fixed_interval: bool,
    now: float,
    schedule: object = None,
) -> Schedule:
    """The one schedule ``add_task``'s arguments describe, resolved at the epoch instant
    ``now``; ``ConfigurationError`` (or a subclass) for arguments that describe none."""
    if (
        interval is not None
        and schedule is None
        and cron is None
        and at is None
        and timezone is None
    ):
        # The common case, checked in one go: an interval alone.
        seconds = check_number("interval", interval, positive=True, minimum=MIN_INTERVAL_SECONDS)
        return _interval_schedule(seconds, fixed_interval, run_once)
    given = [
        name
        for name, value in (
            ("schedule", schedule),
            ("interval", interval),
            ("cron", cron),
            ("at", at),
        )
        if value is not None
    ]
    if not given:
        raise ConfigurationError(f"add_task needs a schedule: {_CHOICES}")
    if len(given) > 1:
        raise ConfigurationError(
            f"give exactly one schedule, not {' and '.join(given)}: {_CHOICES}"
        )
    if schedule is not None:
        if not isinstance(schedule, ScheduleValue):
            raise ConfigurationError(
                f"schedule must be a quiv.schedules value (Interval, Cron, At, Calendar, "
                f"AnyOf, AllOf), got {schedule!r}"
            )
        if timezone is not None:
            raise ConfigurationError(
                "timezone goes into the schedule value (Cron(..., timezone=...)), not next to it"
            )
        if not fixed_interval:
            raise ConfigurationError(
                "fixed_interval goes into the schedule value (Interval(..., fixed=False))"
            )
        value = schedule
    elif interval is not None:
        if timezone is not None:
            raise ConfigurationError(
                "timezone applies to cron= and at= schedules; an interval is elapsed time"
            )
        value = Interval(interval, fixed=fixed_interval)
    elif cron is not None:
        value = Cron(cron, timezone=timezone)
        if not fixed_interval:
            raise ConfigurationError("fixed_interval applies to interval schedules")
    else:
        if not isinstance(at, datetime):
            raise ConfigurationError(
                f"at must be a datetime (aware, or naive in timezone), got {type(at).__name__}"
            )
        if not fixed_interval:
            raise ConfigurationError("fixed_interval applies to interval schedules")
        value = At(at, timezone=timezone)
    if not isinstance(value, Interval):
        named = {"at": "an at=", "cron": "a cron=", "any_of": "an AnyOf", "all_of": "an AllOf"}
        if delay:
            what = named.get(value.kind, "a Calendar")
            raise ConfigurationError(
                f"delay applies to interval schedules; {what} task runs at its own times"
            )
        if run_once:
            raise ConfigurationError(
                "run_once applies to interval schedules: an at= task runs once, and other "
                "schedules end at their end="
            )
    elif value.start is not None and delay:
        raise ConfigurationError("pass delay or the interval's start, not both")
    return resolve(value, default_zone, now + delay, run_once=run_once)


def resolve(
    value: ScheduleValue, default_zone: tzinfo, now: float, *, run_once: bool = False
) -> Schedule:
    """``value`` as the scheduler's schedule, for a task added at the epoch instant ``now``
    (its unanchored runs count from then)."""
    value = _zoned(value, default_zone)
    if isinstance(value, Interval):
        bounded = value.start is not None or value.end is not None
        if not bounded:
            return _interval_schedule(value.seconds, value.fixed, run_once)
        if run_once or not value.fixed:
            return IntervalSchedule(value.seconds, value.fixed, run_once, value)
    elif isinstance(value, Cron) and value.start is None and value.end is None:
        assert value.timezone is not None
        return CronSchedule(CronExpression.parse(value.expression), _zone(value.timezone))
    elif isinstance(value, At):
        return _at(value)
    return with_anchor(value, now, default_zone)


def with_anchor(value: ScheduleValue, anchor: float, default_zone: tzinfo) -> RuleSchedule:
    """A wall-clock schedule of ``value`` (zones filled in), counted from ``anchor``."""
    value = _zoned(value, default_zone)
    return RuleSchedule(_rule(value, anchor), value, anchor, _shown_zone(value, default_zone))


def _shown_zone(value: ScheduleValue, default: tzinfo) -> tzinfo:
    """The zone a schedule's times are shown in: its own, or its first part's."""
    if isinstance(value, (AnyOf, AllOf)):
        for part in value.schedules:
            zone = _shown_zone(part, default)
            if zone is not default:
                return zone
        return default
    own = getattr(value, "timezone", None)
    return default if own is None else _zone(own)


def first_slot(schedule: Schedule, wall: float) -> float:
    """The first run of a wall-clock schedule added at the epoch instant ``wall``: its
    first slot after ``wall`` (at ``wall`` itself for an ``Interval``, which runs at once
    as every interval task does); ``InvalidScheduleError`` when it has none."""
    if isinstance(schedule, AtSchedule):
        return schedule.instant
    assert not isinstance(schedule, IntervalSchedule)
    if isinstance(schedule, RuleSchedule):
        if gives_up(schedule.rule, wall):
            raise InvalidScheduleError(
                "all_of",
                f"the parts of an AllOf in {schedule.value.describe()!r} select no common "
                f"instant in {ALL_OF_SEARCH_STEPS} steps of the search: they never agree",
            )
        if isinstance(schedule.value, Interval):
            wall = math.nextafter(wall, -math.inf)
    slot = schedule.next_slot(wall)
    if slot is None:
        data = schedule.describe()
        raise InvalidScheduleError(
            data["kind"],
            f"{data['description']!r} selects no run after "
            f"{datetime.fromtimestamp(wall).astimezone().isoformat()} (its end has passed, "
            "its parts never agree, or it runs only after the year 9999)",
        )
    return slot


def interval_delay(schedule: IntervalSchedule, wall: float, delay: float) -> float:
    """The delay of the first run of an interval task added at ``wall``: to its start, if it
    has one ahead; ``InvalidScheduleError`` if its end comes before it."""
    value = schedule.value
    if value is None:
        return delay
    if value.start is not None:
        delay = max(delay, value.start.timestamp() - wall)
    end = schedule.end
    if end is not None and wall + delay > end:
        raise InvalidScheduleError(
            "interval", f"its end ({value.end}) is before its first run: it would never run"
        )
    return delay


def _zone(value: str | tzinfo) -> tzinfo:
    return resolve_timezone(value)


def _zoned(value: ScheduleValue, zone: tzinfo) -> ScheduleValue:
    """``value`` with every zone it leaves to the scheduler set to ``zone``, and a naive
    ``At`` read in its zone."""
    if isinstance(value, (AnyOf, AllOf)):
        parts = tuple(_zoned(part, zone) for part in value.schedules)
        return type(value)(*parts, start=value.start, end=value.end)
    if isinstance(value, At):
        own = zone if value.timezone is None else _zone(value.timezone)
        when = value.when
        if when.utcoffset() is None:
            naive = when.replace(tzinfo=None)
            instant = instant_of_wall(naive, own) + naive.microsecond / 1e6
            when = datetime.fromtimestamp(instant, own)
        elif value.timezone is None:
            own = when.tzinfo  # type: ignore[assignment]  # aware: it has one
            when = datetime.fromtimestamp(when.timestamp(), own)
        return At(when, timezone=own, start=value.start, end=value.end)
    if isinstance(value, (Cron, Calendar)) and value.timezone is None:
        if isinstance(value, Cron):
            return Cron(value.expression, timezone=zone, start=value.start, end=value.end)
        return Calendar(
            years=value.years,
            months=value.months,
            weeks=value.weeks,
            days=value.days,
            at=value.at,
            timezone=zone,
            start=value.start,
            end=value.end,
        )
    return value


def _at(value: At) -> AtSchedule:
    assert value.timezone is not None
    return AtSchedule(value.when.timestamp(), _zone(value.timezone))


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _rule(value: ScheduleValue, anchor: float) -> Rule:
    """The slots of ``value`` (zones filled in), with ``anchor`` where it gives no start."""
    start, end = _epoch(value.start), _epoch(value.end)
    rule: Rule
    if isinstance(value, Interval):
        rule = IntervalRule(value.seconds, anchor if start is None else start)
    elif isinstance(value, Cron):
        assert value.timezone is not None
        rule = CronSchedule(CronExpression.parse(value.expression), _zone(value.timezone))
    elif isinstance(value, At):
        rule = _at(value)
    elif isinstance(value, Calendar):
        assert value.timezone is not None
        zone = _zone(value.timezone)
        origin = wall_of(math.floor(anchor if start is None else start), zone).date()
        rule = CalendarRule(
            12 * value.years + value.months,
            7 * value.weeks + value.days,
            value.wall_time,
            zone,
            origin,
        )
    else:
        assert isinstance(value, (AnyOf, AllOf))
        # A combination's start is where its parts without one count from.
        inner = anchor if start is None else start
        parts = tuple(_rule(part, inner) for part in value.schedules)
        rule = AnyRule(parts) if isinstance(value, AnyOf) else AllRule(parts)
    if start is None and end is None:
        return rule
    return Bounded(rule, start, end)
