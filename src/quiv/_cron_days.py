"""Cron's Quartz-style day items: their parsing, the days they pick, and their words. Pure.

Day-of-month takes ``L`` (the last day), ``L-n`` (n days before it, n 0-30), ``LW`` (the
last weekday, Monday to Friday) and ``nW`` (the weekday nearest day n, n 1-31, never in
another month); day-of-week takes ``dL`` (the last weekday d of the month) and ``d#n`` (the
nth, n 1-5), d a number 0-7 or a name. Each is one day of a month, so each is a list item
of its own: no range or step takes one.

``_cron`` owns the expression: it hands over the items that carry these letters, and, for
an expression that has some, asks which days of a month it selects (``month_days``).
"""

from __future__ import annotations

import calendar
from functools import lru_cache
from typing import NamedTuple

from .exceptions import InvalidCronExpressionError

__all__ = [
    "DAY_NAMES",
    "DAY_WORDS",
    "LAST",
    "DayRule",
    "WeekdayRule",
    "day_needed",
    "describe_day_items",
    "describe_weekday_items",
    "is_day_item",
    "is_weekday_item",
    "month_days",
    "parse_day_item",
    "parse_weekday_item",
]

DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
DAY_WORDS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_ORDINALS = ("first", "second", "third", "fourth", "fifth")
_DAY_OF_MONTH = "day-of-month"
_DAY_OF_WEEK = "day-of-week"
_SATURDAY, _SUNDAY = 6, 0
LAST = -1  # WeekdayRule.nth of ``dL``


class DayRule(NamedTuple):
    """A day-of-month item: ``("L", n)`` is ``L-n`` (``L`` is ``L-0``), ``("LW", 0)`` is
    ``LW``, ``("W", n)`` is ``nW``."""

    kind: str
    value: int


class WeekdayRule(NamedTuple):
    """A day-of-week item: the ``nth`` (1-5, or ``LAST``) ``weekday`` (0 is Sunday)."""

    weekday: int
    nth: int


def is_day_item(item: str) -> bool:
    """Whether a day-of-month item is one of this module's (it has an ``L`` or a ``W``)."""
    upper = item.upper()
    return "L" in upper or "W" in upper


def is_weekday_item(item: str) -> bool:
    """Whether a day-of-week item is one of this module's (it has an ``L`` or a ``#``; no
    weekday name has an ``L``)."""
    upper = item.upper()
    return "L" in upper or "#" in upper


def _number(text: str, low: int, high: int) -> int | None:
    if text.isascii() and text.isdigit() and low <= int(text) <= high:
        return int(text)
    return None


def _weekday(text: str) -> int | None:
    upper = text.upper()
    if upper in DAY_NAMES:
        return DAY_NAMES.index(upper)
    number = _number(text, 0, 7)
    return None if number is None else number % 7


def parse_day_item(item: str, expression: str) -> DayRule:
    """``L``, ``L-n``, ``LW`` or ``nW`` (any case) as a rule; anything else with an ``L``
    or a ``W`` is an error that says what is allowed."""

    def fail(reason: str) -> InvalidCronExpressionError:
        return InvalidCronExpressionError(expression, _DAY_OF_MONTH, f"{item!r}: {reason}")

    upper = item.upper()
    if "/" in upper or ("-" in upper and not upper.startswith("L-")):
        raise fail(
            "L, L-n, LW and nW are single days and take no range or step; "
            "list them as items of their own, such as 1,15,L"
        )
    if upper.startswith("L-"):
        before = _number(upper[2:], 0, 30)
        if before is None:
            raise fail("L-n needs a number n from 0 to 30 (L-3 is 3 days before the last day)")
        return DayRule("L", before)
    if upper == "L":
        return DayRule("L", 0)
    if upper == "LW":
        return DayRule("LW", 0)
    if upper.endswith("W"):
        day = _number(upper[:-1], 1, 31)
        if day is None:
            raise fail("W needs a day 1-31 before it (15W is the weekday nearest the 15th)")
        return DayRule("W", day)
    raise fail(
        "not a day-of-month item; give a number 1-31, L (the last day), L-n (n 0-30), "
        "LW (the last weekday) or nW (the weekday nearest day n, n 1-31)"
    )


def parse_weekday_item(item: str, expression: str) -> WeekdayRule:
    """``dL`` or ``d#n`` (any case) as a rule; anything else with an ``L`` or a ``#`` is an
    error that says what is allowed."""

    def fail(reason: str) -> InvalidCronExpressionError:
        return InvalidCronExpressionError(expression, _DAY_OF_WEEK, f"{item!r}: {reason}")

    upper = item.upper()
    if "/" in upper or "-" in upper:
        raise fail(
            "dL and d#n are single days and take no range or step; "
            "list them as items of their own, such as MON#1,MON#3"
        )
    if "#" in upper:
        weekday_text, _, nth_text = upper.partition("#")
        weekday = _weekday(weekday_text)
        if weekday is None:
            raise fail("# needs a weekday 0-7 or SUN-SAT before it (MON#2 is the second Monday)")
        nth = _number(nth_text, 1, 5)
        if nth is None:
            raise fail("# needs a number n from 1 to 5 after it (MON#2 is the second Monday)")
        return WeekdayRule(weekday, nth)
    if upper.endswith("L"):
        weekday = _weekday(upper[:-1])
        if weekday is None:
            raise fail("L needs a weekday 0-7 or SUN-SAT before it (5L or FRIL is the last Friday)")
        return WeekdayRule(weekday, LAST)
    raise fail(
        "not a day-of-week item; give a number 0-7, a name SUN-SAT, dL (the last weekday d "
        "of the month, such as FRIL) or d#n (the nth, n 1-5, such as MON#2)"
    )


def day_needed(rule: DayRule) -> int:
    """The day a month must have for ``rule`` to pick a day in it."""
    if rule.kind == "L":
        return rule.value + 1
    if rule.kind == "W":
        return rule.value
    return 1


def _rule_day(rule: DayRule, first_weekday: int, last: int) -> int | None:
    """The day ``rule`` picks in a month of ``last`` days whose first is ``first_weekday``
    (0 is Sunday), or None."""

    def weekday_of(day: int) -> int:
        return (first_weekday + day - 1) % 7

    if rule.kind == "L":
        return last - rule.value if rule.value < last else None
    if rule.kind == "LW":
        return last - {_SATURDAY: 1, _SUNDAY: 2}.get(weekday_of(last), 0)
    day = rule.value
    if day > last:
        return None
    if weekday_of(day) == _SATURDAY:
        return day - 1 if day > 1 else day + 2  # the 1st: Monday the 3rd, not the month before
    if weekday_of(day) == _SUNDAY:
        return day + 1 if day < last else day - 2  # the last: Friday, not the month after
    return day


def _weekday_rule_day(rule: WeekdayRule, first_weekday: int, last: int) -> int | None:
    if rule.nth == LAST:
        last_weekday = (first_weekday + last - 1) % 7
        return last - (last_weekday - rule.weekday) % 7
    day = 1 + (rule.weekday - first_weekday) % 7 + 7 * (rule.nth - 1)
    return day if day <= last else None


@lru_cache(maxsize=512)
def month_days(
    year: int,
    month: int,
    days: frozenset[int],
    weekdays: frozenset[int],
    day_rules: tuple[DayRule, ...],
    weekday_rules: tuple[WeekdayRule, ...],
    day_or: bool,
) -> tuple[int, ...]:
    """The days, in order, of ``year``-``month`` that an expression selects: ``days`` and
    ``day_rules`` are its day-of-month field, ``weekdays`` (0 is Sunday) and
    ``weekday_rules`` its day-of-week field, and with ``day_or`` a day needs either field,
    else both."""
    first_weekday = (calendar.weekday(year, month, 1) + 1) % 7
    last = calendar.monthrange(year, month)[1]
    by_day = {_rule_day(rule, first_weekday, last) for rule in day_rules}
    by_weekday = {_weekday_rule_day(rule, first_weekday, last) for rule in weekday_rules}
    chosen = []
    for day in range(1, last + 1):
        in_days = day in days or day in by_day
        in_weekdays = (first_weekday + day - 1) % 7 in weekdays or day in by_weekday
        if (in_days or in_weekdays) if day_or else (in_days and in_weekdays):
            chosen.append(day)
    return tuple(chosen)


# -- description ---------------------------------------------------------------------------


def _join(phrases: list[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return f"{', '.join(phrases[:-1])} and {phrases[-1]}"


def _day_phrase(rule: DayRule) -> str:
    if rule.kind == "LW":
        return "the last weekday"
    if rule.kind == "W":
        return f"the weekday nearest day {rule.value}"
    if rule.value == 0:
        return "the last day"
    return f"{rule.value} day{'s' if rule.value > 1 else ''} before the last day"


def describe_day_items(ordinary: list[str], rules: list[DayRule]) -> str:
    """A day-of-month field with items of this module in words: ``ordinary`` are its plain
    items' texts, ``rules`` the others in the order written."""
    phrases = []
    if ordinary:
        only = ordinary[0] if len(ordinary) == 1 else ""
        phrases.append(f"day {int(only)}" if only.isdigit() else f"days {','.join(ordinary)}")
    phrases.extend(dict.fromkeys(_day_phrase(rule) for rule in rules))
    if not ordinary and len(phrases) == 1 and rules[0].kind == "L" and rules[0].value > 0:
        return f"{phrases[0]} of the month"  # '3 days before the last day of the month'
    return f"on {_join(phrases)} of the month"


def describe_weekday_items(ordinary: list[str], rules: list[WeekdayRule]) -> str:
    """A day-of-week field with items of this module in words: ``ordinary`` are its plain
    items in words (``'Monday'``, ``'Monday to Friday'``), ``rules`` the others in the order
    written. Rules of one weekday share it: ``'the first and last Monday'``."""
    ordinals: dict[int, list[str]] = {}
    for rule in rules:
        word = "last" if rule.nth == LAST else _ORDINALS[rule.nth - 1]
        chosen = ordinals.setdefault(rule.weekday, [])
        if word not in chosen:
            chosen.append(word)
    phrases = [*ordinary]
    phrases.extend(f"the {_join(words)} {DAY_WORDS[day]}" for day, words in ordinals.items())
    return f"on {_join(phrases)} of the month"
