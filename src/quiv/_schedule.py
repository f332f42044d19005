"""The kinds of schedule the scheduler plans with, their next-run arithmetic, and retry
policies. Pure.

Interval arithmetic works on plain monotonic seconds (``next_after_run``). Calendar
schedules (``CronSchedule``, ``AtSchedule``, and ``RuleSchedule`` for every other
``quiv.schedules`` value) work on UTC epoch seconds: their slots are wall-clock instants,
found by ``_calendar`` with quiv's DST rules and by the rules of ``_slots``. ``_resolve``
makes these from schedule values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from enum import Enum
from typing import Any

from ._calendar import next_cron_instant
from ._cron import CronExpression
from ._slots import Rule
from .exceptions import ConfigurationError
from .schedules import At, Cron, Interval
from .schedules import Schedule as ScheduleValue

__all__ = [
    "RECURRING",
    "AtSchedule",
    "CronSchedule",
    "IntervalSchedule",
    "Misfire",
    "RetryPolicy",
    "RuleSchedule",
    "Schedule",
    "check_misfire",
    "next_after_run",
    "retry_delay",
    "slot_after_run",
]


class Misfire(str, Enum):
    """What a task does with a run that is late by more than its misfire grace period.

    ``coalesce`` (the default): run once, now, then resume the cadence. ``skip``: do not
    run it (a job is recorded as ``missed``) and wait for the next slot; a one-shot task
    that misses its one run ends. Either way there is never a burst of catch-up runs.
    """

    COALESCE = "coalesce"
    SKIP = "skip"


@dataclass(frozen=True)
class IntervalSchedule:
    """Every ``seconds``, on a monotonic clock (``run_once``: once, after the delay)."""

    seconds: float
    fixed: bool = True
    run_once: bool = False
    # An ``Interval`` with a start or an end (epoch) and ``fixed=False``: the first run is
    # at ``start`` at the earliest, and none is after ``end``. (A fixed one with bounds is
    # a ``RuleSchedule``: its runs are wall-clock instants.)
    value: Interval | None = None

    calendar = False

    @property
    def end(self) -> float | None:
        """No run after this instant (epoch); None: no end."""
        value = self.value
        return None if value is None or value.end is None else value.end.timestamp()

    def describe(self) -> dict[str, Any]:
        """The schedule as JSON-friendly data, with a ``description`` in English."""
        value = self.value or Interval(self.seconds, fixed=self.fixed)
        data = value.to_json()
        if self.run_once:
            data["description"] = "once, after its delay"
        data["run_once"] = self.run_once
        return data


@dataclass(frozen=True)
class CronSchedule:
    """The instants a cron expression selects in a time zone; it never ends."""

    expression: CronExpression
    zone: tzinfo

    calendar = True
    run_once = False

    def next_slot(self, after: float) -> float | None:
        """The first slot after the epoch instant ``after``; None past the year 9999."""
        instant = next_cron_instant(self.expression, self.zone, after)
        return None if instant is None else float(instant)

    def describe(self) -> dict[str, Any]:
        """The schedule as JSON-friendly data, with a ``description`` in English."""
        # The zone itself, not its name: the value checks a name it is given, and the name
        # of a fixed offset (datetime.timezone: 'UTC+02:00') is no zone name, so describing
        # a task in one raised InvalidTimezoneError (and add_task with it). Same JSON.
        return Cron(self.expression.text, timezone=self.zone).to_json()


@dataclass(frozen=True)
class AtSchedule:
    """Once, at an instant (epoch seconds); ``zone`` is where it was given and is shown."""

    instant: float
    zone: tzinfo

    calendar = True
    run_once = True

    def next_slot(self, after: float) -> float | None:
        """The instant, if it is after ``after``."""
        return self.instant if self.instant > after else None

    def describe(self) -> dict[str, Any]:
        """The schedule as JSON-friendly data, with a ``description`` in English."""
        local = datetime.fromtimestamp(self.instant, self.zone)
        # The zone itself, not its name (see CronSchedule.describe): an aware ``at=`` with
        # a fixed offset, as datetime.fromisoformat gives, raised InvalidTimezoneError.
        return At(local, timezone=self.zone).to_json()


@dataclass(frozen=True)
class RuleSchedule:
    """Any other schedule value (``Calendar``, ``AnyOf``, ``AllOf``, and the kinds above
    with a start or an end): the slots of ``rule`` (``_slots``), wall-clock instants.

    ``value`` is the schedule as given, its zones filled in; ``anchor`` (epoch) is when its
    runs are counted from where the value gives no ``start`` (when the task was added).
    """

    rule: Rule
    value: ScheduleValue
    anchor: float
    zone: tzinfo  # where its times are shown: its (first) zone, or the scheduler's

    calendar = True
    run_once = False

    def next_slot(self, after: float) -> float | None:
        """The first slot after the epoch instant ``after``; None: there is none left."""
        return self.rule.next_slot(after)

    def describe(self) -> dict[str, Any]:
        """The schedule as JSON-friendly data, with a ``description`` in English, and the
        ``anchor`` its runs are counted from."""
        data = self.value.to_json()
        data["anchor"] = datetime.fromtimestamp(self.anchor, timezone.utc).isoformat()
        return data


Schedule = IntervalSchedule | CronSchedule | AtSchedule | RuleSchedule
# The schedules whose runs are a list of wall-clock slots (``next_slot``), as opposed to an
# interval (a cadence on a clock) and an ``at=`` time (one run).
RECURRING = (CronSchedule, RuleSchedule)


def check_misfire(value: object) -> Misfire:
    """``value`` as a ``Misfire``; ``ConfigurationError`` naming the choices otherwise."""
    if value is Misfire.COALESCE or value is Misfire.SKIP:
        return value
    if isinstance(value, str):
        try:
            return Misfire(value)
        except ValueError:
            pass
    raise ConfigurationError(f"misfire must be 'coalesce' or 'skip', got {value!r}")


def next_after_run(*, anchor: float, ended: float, interval: float, fixed_interval: bool) -> float:
    """The deadline of the run after one that was due at ``anchor`` and ended at ``ended``.

    ``fixed_interval=True`` keeps the cadence ``anchor + k * interval``: the next slot is the
    first one at or after ``ended`` (at least one interval after ``anchor``), so slots missed
    while the run overran are skipped, never made up in a burst. ``fixed_interval=False``
    waits ``interval`` after the run ended.

    >>> next_after_run(anchor=10.0, ended=10.5, interval=2.0, fixed_interval=True)
    12.0
    >>> next_after_run(anchor=10.0, ended=15.0, interval=2.0, fixed_interval=True)
    16.0
    >>> next_after_run(anchor=10.0, ended=10.5, interval=2.0, fixed_interval=False)
    12.5
    """
    if not fixed_interval:
        return ended + interval
    periods = max(1, math.ceil((ended - anchor) / interval))
    # The division can round either way: up past a slot that ``ended`` sits exactly on
    # (take it back), or down onto a slot just before ``ended`` (go on to the next).
    if periods > 1 and anchor + (periods - 1) * interval >= ended:
        periods -= 1
    elif anchor + periods * interval < ended:
        periods += 1
    return anchor + periods * interval


def slot_after_run(
    *, anchor: float, started: float | None, ended: float, interval: float, fixed_interval: bool
) -> float:
    """``next_after_run`` for a run that started at ``started`` (None: it did not start).

    With a fixed cadence, a run that started on a slot (a late run, coalesced, starting on
    a later slot) stood for that slot too: when it ends at the very instant it started, that
    slot must not run a second time.

    >>> slot_after_run(anchor=0.0, started=20.0, ended=20.0, interval=10.0, fixed_interval=True)
    30.0
    """
    slot = next_after_run(
        anchor=anchor, ended=ended, interval=interval, fixed_interval=fixed_interval
    )
    if fixed_interval and started is not None and slot <= started:
        slot += interval
    return slot


@dataclass(frozen=True)
class RetryPolicy:
    """How a task retries a failed run: ``add_task(..., retries=RetryPolicy(...))``.

    ``max_retries`` more attempts follow a failure whose exception is an instance of one of
    ``retry_on``. The wait before retry ``n`` (1, 2, ...) is ``backoff * 2 ** (n - 1)``
    seconds, capped at ``backoff_max``, then shortened by a random part of up to ``jitter``
    (a fraction, 0 to 1) of itself, so that retries of many tasks spread out.
    """

    max_retries: int = 3
    backoff: float = 1.0
    backoff_max: float = 60.0
    jitter: float = 0.5
    retry_on: tuple[type[BaseException], ...] = field(default=(Exception,))

    def __post_init__(self) -> None:
        problems = []
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            problems.append(f"max_retries must be an int, got {self.max_retries!r}")
        elif not 0 <= self.max_retries <= 1000:
            problems.append(f"max_retries must be 0 to 1000, got {self.max_retries}")
        for name in ("backoff", "backoff_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"{name} must be a number of seconds, got {value!r}")
            elif not 0 <= value <= 86400:
                problems.append(f"{name} must be 0 to 86400 seconds, got {value!r}")
        jitter = self.jitter
        if isinstance(jitter, bool) or not isinstance(jitter, (int, float)):
            problems.append(f"jitter must be a number from 0 to 1, got {jitter!r}")
        elif not 0 <= jitter <= 1:
            problems.append(f"jitter must be from 0 to 1, got {jitter!r}")
        retry_on = self.retry_on
        if (
            not isinstance(retry_on, tuple)
            or not retry_on
            or not all(isinstance(t, type) and issubclass(t, BaseException) for t in retry_on)
        ):
            problems.append(
                f"retry_on must be a non-empty tuple of exception classes, got {retry_on!r}"
            )
        if problems:
            raise ConfigurationError("invalid RetryPolicy: " + "; ".join(problems))

    def retries(self, exc: BaseException) -> bool:
        """Whether ``exc`` is one that this policy retries."""
        return isinstance(exc, self.retry_on)


def retry_delay(policy: RetryPolicy, retry: int, randomness: float) -> float:
    """Seconds to wait before retry number ``retry`` (1 is the first retry).

    ``randomness`` is a number in [0, 1) (``random.random()``), passed in to keep this pure.

    >>> policy = RetryPolicy(backoff=1.0, backoff_max=5.0, jitter=0.5)
    >>> [retry_delay(policy, n, 0.0) for n in (1, 2, 3, 4)]
    [1.0, 2.0, 4.0, 5.0]
    >>> retry_delay(policy, 2, 0.999) > 1.0
    True
    """
    # ldexp doubles exactly; where backoff * 2 ** (retry - 1) would overflow a float, the
    # cap is reached anyway. (A fixed cap on the exponent would stop a tiny backoff
    # doubling before it reached backoff_max.)
    try:
        base = min(policy.backoff_max, math.ldexp(policy.backoff, retry - 1))
    except OverflowError:
        base = policy.backoff_max
    return base * (1.0 - policy.jitter * randomness)
