"""The slots of calendar intervals, wall-clock intervals, bounds and combinations. Pure.

A *rule* answers one question: ``next_slot(after)``, the first instant (UTC epoch seconds)
it selects strictly after ``after``, or None when it selects none (past its end, or past
the year 9999). ``CronSchedule`` and ``AtSchedule`` (``_schedule``) are rules too; the
rules here build the kinds of ``quiv.schedules`` on them:

- ``CalendarRule``: every N years/months/weeks/days at a wall time in a zone, counted from
  an anchor date (a month without the anchor's day is skipped; DST as ``_calendar`` says).
- ``IntervalRule``: ``anchor + k * seconds`` for k >= 0, on the wall clock.
- ``Bounded``: a rule with no slot before ``start`` nor after ``end``.
- ``AnyRule``: the earliest next slot of any part. ``AllRule``: the next instant every part
  selects, searched in at most ``ALL_OF_SEARCH_STEPS`` steps (None beyond: they never agree,
  or not soon enough to find).

Every rule is a frozen dataclass: equal rules are equal values, and a rule never changes.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from itertools import islice
from typing import Protocol

from ._calendar import instant_of_wall, wall_of

__all__ = [
    "AGREE_SECONDS",
    "ALL_OF_SEARCH_STEPS",
    "AllRule",
    "AnyRule",
    "Bounded",
    "CalendarRule",
    "IntervalRule",
    "Rule",
    "gives_up",
]

# Each step of an AllOf search moves past the earliest disagreeing part's slot; a
# combination that has not agreed after this many steps is taken never to.
ALL_OF_SEARCH_STEPS = 10_000
# Slots within this much of each other are the same instant (interval arithmetic in floats
# does not land exactly on a cron second).
AGREE_SECONDS = 1e-6
_LAST_YEAR = 9999


class Rule(Protocol):
    """Anything that lists instants: the first one strictly after ``after``."""

    def next_slot(self, after: float) -> float | None: ...


@dataclass(frozen=True)
class IntervalRule:
    """``anchor + k * seconds`` (k = 0, 1, ...): fixed instants on the wall clock.

    >>> IntervalRule(10.0, 100.0).next_slot(95.0), IntervalRule(10.0, 100.0).next_slot(100.0)
    (100.0, 110.0)
    """

    seconds: float
    anchor: float

    def next_slot(self, after: float) -> float | None:
        if not math.isfinite(after):
            return None
        anchor, seconds = self.anchor, self.seconds
        if after < anchor:
            return anchor
        k = math.floor((after - anchor) / seconds) + 1
        # The division rounds either way: land on the first slot strictly after ``after``.
        while k > 1 and anchor + (k - 1) * seconds > after:
            k -= 1
        while anchor + k * seconds <= after:
            k += 1
        return anchor + k * seconds


@dataclass(frozen=True)
class CalendarRule:
    """Every ``months`` (years count as 12) and ``days`` (weeks count as 7) at the wall
    time ``at`` in ``zone``, from the date ``anchor`` on.

    A step adds the months first, keeping the day of the month and skipping months that lack
    it, then the days. With months alone or days alone the k-th date is found directly; with
    both, each date follows from the one before, as a step does.

    >>> from datetime import timezone
    >>> rule = CalendarRule(1, 0, time(9), timezone.utc, date(2027, 1, 31))
    >>> [datetime.fromtimestamp(s, timezone.utc).date().isoformat()
    ...  for s in _first(rule, 3, datetime(2027, 1, 1, tzinfo=timezone.utc).timestamp())]
    ['2027-01-31', '2027-03-31', '2027-05-31']
    """

    months: int
    days: int
    at: time
    zone: tzinfo
    anchor: date
    # With months and days both, every ``_CHECKPOINT``-th date, found once: a date far from
    # the anchor is then reached in a few steps, not in one step per date since the anchor
    # (an AllOf search asks for thousands of them). Entries are only ever added, each one
    # the same whoever computes it, so threads that race here write the same values.
    _checkpoints: dict[int, date] = field(default_factory=dict, compare=False, repr=False)

    def _instant(self, day: date) -> int:
        return instant_of_wall(datetime.combine(day, self.at), self.zone)

    def next_slot(self, after: float) -> float | None:
        if not math.isfinite(after):
            return None
        try:
            wall = wall_of(math.floor(after), self.zone).date()
        except (OverflowError, ValueError, OSError):
            return None
        for day in self._dates_from(wall):
            try:
                instant = self._instant(day)
            except (OverflowError, ValueError):
                return None
            if instant > after:
                return float(instant)
        return None

    def _dates_from(self, around: date) -> Iterator[date]:
        """The rule's dates, from a little before ``around`` (the date of the instant
        sought after: every date before it runs before it, but the one before may not)."""
        anchor, months, days = self.anchor, self.months, self.days
        if months and days:
            return _stepped(self._checkpoint_before(around), months, days)
        if days:
            k = max(0, (around - anchor).days // days - 1)
            return _every_days(anchor, days, k)
        first = anchor.year * 12 + anchor.month - 1
        here = around.year * 12 + around.month - 1
        return _every_months(anchor, months, max(0, (here - first) // months - 1))

    def _checkpoint_before(self, around: date) -> date:
        """The latest checkpoint date more than a day before ``around`` (the anchor when
        none is), found by stepping from the last one known."""
        points = self._checkpoints
        if not points:
            points[0] = self.anchor
        limit = around - timedelta(days=2)
        # Checkpoints 0, 1, ... n-1 exist (each is added after the one before it).
        low, high = 0, len(points) - 1
        while low < high:  # the last checkpoint at or before ``limit`` (or the first)
            middle = (low + high + 1) // 2
            if points[middle] <= limit:
                low = middle
            else:
                high = middle - 1
        index = low
        while index == len(points) - 1 and points[index] <= limit:
            dates = _stepped(points[index], self.months, self.days)
            following = next(islice(dates, _CHECKPOINT, None), None)
            if following is None or following > limit:
                break
            points[index + 1] = following
            index += 1
        return points[index]


def _every_days(anchor: date, days: int, k: int) -> Iterator[date]:
    limit = date(_LAST_YEAR, 12, 31)
    while True:
        offset = k * days
        if offset > (limit - anchor).days:
            return
        yield anchor + timedelta(days=offset)
        k += 1


def _with_day(index: int, day: int) -> date | None:
    """The date ``day`` of the month ``index`` (year * 12 + month - 1), or None when that
    month has no such day."""
    year, month = divmod(index, 12)
    if year > _LAST_YEAR:
        raise OverflowError(year)
    return date(year, month + 1, day) if day <= calendar.monthrange(year, month + 1)[1] else None


def _every_months(anchor: date, months: int, k: int) -> Iterator[date]:
    first = anchor.year * 12 + anchor.month - 1
    while True:
        try:
            day = _with_day(first + k * months, anchor.day)
        except OverflowError:
            return
        if day is not None:
            yield day
        k += 1


_CHECKPOINT = 8


def _stepped(anchor: date, months: int, days: int) -> Iterator[date]:
    current: date | None = anchor
    while current is not None:
        yield current
        index = current.year * 12 + current.month - 1
        following = None
        try:
            while following is None:
                index += months
                following = _with_day(index, current.day)
            current = following + timedelta(days=days)
        except OverflowError:
            return


@dataclass(frozen=True)
class Bounded:
    """``rule``'s slots from ``start`` (inclusive) to ``end`` (inclusive), epoch seconds."""

    rule: Rule
    start: float | None
    end: float | None

    def next_slot(self, after: float) -> float | None:
        start = self.start
        if start is not None and after < start:
            after = math.nextafter(start, -math.inf)  # a slot at ``start`` itself counts
        slot = self.rule.next_slot(after)
        if slot is None or (self.end is not None and slot > self.end):
            return None
        return slot


@dataclass(frozen=True)
class AnyRule:
    """The slots of every part; one run where several fall on one instant."""

    rules: tuple[Rule, ...]

    def next_slot(self, after: float) -> float | None:
        best: float | None = None
        for rule in self.rules:
            slot = rule.next_slot(after)
            if slot is not None and (best is None or slot < best):
                best = slot
        return best


@dataclass(frozen=True)
class AllRule:
    """The instants every part selects (within ``AGREE_SECONDS`` of each other)."""

    rules: tuple[Rule, ...]

    def next_slot(self, after: float) -> float | None:
        return self.search(after)[0]

    def search(self, after: float) -> tuple[float | None, bool]:
        """The next slot, and whether the search gave up (True: the parts did not agree in
        ``ALL_OF_SEARCH_STEPS`` steps; False with no slot: a part has none left)."""
        for _ in range(ALL_OF_SEARCH_STEPS):
            slots = []
            for rule in self.rules:
                slot = rule.next_slot(after)
                if slot is None:
                    return None, False
                slots.append(slot)
            low, high = min(slots), max(slots)
            if high - low <= AGREE_SECONDS:
                return high, False
            # No part selects an instant before ``high`` that all the others do: go on from
            # just before it, so that a part on ``high`` itself keeps it.
            after = high - AGREE_SECONDS
        return None, True


def gives_up(rule: Rule, after: float) -> bool:
    """Whether an ``AllRule`` anywhere in ``rule`` finds no agreement after ``after`` (one
    inside an ``AnyRule`` would cost every next slot a whole search, and find nothing)."""
    if isinstance(rule, AllRule):
        return rule.search(after)[1] or any(gives_up(part, after) for part in rule.rules)
    if isinstance(rule, AnyRule):
        return any(gives_up(part, after) for part in rule.rules)
    if isinstance(rule, Bounded):
        return gives_up(rule.rule, after)
    return False


def _first(rule: Rule, count: int, after: float) -> list[float]:
    """The first ``count`` slots of ``rule`` after ``after`` (for doctests and previews)."""
    slots: list[float] = []
    slot: float | None = after
    while len(slots) < count and slot is not None:
        slot = rule.next_slot(slot)
        if slot is not None:
            slots.append(slot)
    return slots
