"""Cron expressions: their parsing, the wall-clock times they select, and their description.

Pure and zone-free: an expression selects naive wall-clock times (year, month, day, hour,
minute, second); which instants those are in a time zone is ``_calendar``'s business.

Syntax: five fields (minute hour day-of-month month day-of-week) or six, with a seconds
field first. Each field is ``*``, a value, a range ``a-b``, a step ``*/n``, ``a-b/n`` or
``a/n`` (from ``a`` to the field's end), or a comma-separated list of those. Months and
weekdays also take English names (``JAN``, ``MON``); day-of-week 0 and 7 are both Sunday.
``?`` is another ``*`` (Quartz writes it in the day field it leaves free).

The day fields also take Quartz's items, each a list item of its own (``1,15,L``), never
in a range or with a step (``_cron_days`` parses them and picks their days). Day-of-month:
``L``, the last day of the month; ``L-n``, n days before it (n 0-30; a month too short has
none); ``LW``, the last weekday (Monday to Friday); ``nW``, the weekday nearest day n (n
1-31), never in another month: a Saturday the 1st gives Monday the 3rd, a Sunday the last
day gives the Friday before, and a month without day n has none. Day-of-week: ``dL``, the
last weekday d of the month (``5L``, ``FRIL``); ``d#n``, its nth (n 1-5: ``MON#2``; a month
without a fifth has none).

When day-of-month and day-of-week are both restricted (neither is ``*`` or ``?``), a day
matches when either does, as in every cron since Vixie's; otherwise both must. An
expression that could never run (``0 0 30 2 *``, ``0 0 31W 2 *``) is refused.

Aliases: ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily`` (``@midnight``)
and ``@hourly``.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from ._cron_days import (
    DAY_NAMES,
    DAY_WORDS,
    DayRule,
    WeekdayRule,
    day_needed,
    describe_day_items,
    describe_weekday_items,
    is_day_item,
    is_weekday_item,
    month_days,
    parse_day_item,
    parse_weekday_item,
)
from .exceptions import InvalidCronExpressionError

__all__ = ["ALIASES", "CronExpression"]

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_WORDS = tuple(calendar.month_name[1:])

# A valid expression matches within 8 years (29 February, across a century year that is
# not a leap year); searching further means a defect, not a rare schedule. With the day
# items of ``_cron_days``, within 40: a fifth Monday in February only comes when 29
# February is a Monday, 28 years apart, or 40 across a century year that is no leap year.
SEARCH_YEARS = 9
SPECIAL_SEARCH_YEARS = 41


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0  # the value of the first name


_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DAY = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTH_NAMES, 1)
_WEEKDAY = _Field("day-of-week", 0, 7, DAY_NAMES, 0)


def _value(field: _Field, text: str, expression: str) -> int:
    upper = text.upper()
    if upper in field.names:
        return field.names.index(upper) + field.name_base
    if not text.isdigit() or not text.isascii():
        allowed = f"a number {field.low}-{field.high}"
        if field.names:
            allowed += f" or a name ({', '.join(field.names)})"
        raise InvalidCronExpressionError(expression, field.name, f"{text!r} is not {allowed}")
    value = int(text)
    if not field.low <= value <= field.high:
        raise InvalidCronExpressionError(
            expression,
            field.name,
            f"{value} is out of range {field.low}-{field.high}",
        )
    return value


def _parse_field(
    field: _Field, text: str, expression: str, special: Callable[[str], bool] | None = None
) -> tuple[frozenset[int], list[str]]:
    """The values of ``text``'s plain items, and its items that ``special`` picks out, left
    unparsed for the caller."""
    values: set[int] = set()
    specials: list[str] = []
    for part in text.split(","):
        if not part:
            raise InvalidCronExpressionError(expression, field.name, f"empty item in {text!r}")
        if special is not None and special(part):
            specials.append(part)
            continue
        body, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or not step_text.isascii() or int(step_text) == 0:
                raise InvalidCronExpressionError(
                    expression, field.name, f"step {step_text!r} must be a whole number >= 1"
                )
            step = int(step_text)
        if body in ("*", "?"):
            low, high = field.low, field.high
        elif "-" in body:
            first, _, last = body.partition("-")
            low, high = _value(field, first, expression), _value(field, last, expression)
            if low > high:
                raise InvalidCronExpressionError(
                    expression, field.name, f"range {body!r} runs backwards"
                )
        else:
            low = _value(field, body, expression)
            high = field.high if slash else low
        values.update(range(low, high + 1, step))
    if field is _WEEKDAY and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values), specials


def _check_some_month_has_a_day(
    expression: str, days: frozenset[int], day_rules: list[DayRule], months: frozenset[int]
) -> None:
    """Refuse a day-of-month field that decides alone when no month it allows, in any year,
    has a day it picks."""
    longest = max(calendar.monthrange(2000, month)[1] for month in months)
    needs = sorted((day_needed(rule), rule) for rule in day_rules)
    if (days and min(days) <= longest) or (needs and needs[0][0] <= longest):
        return
    if days and (not needs or min(days) <= needs[0][0]):
        reason = f"no month it allows has a day {min(days)}: it would never run"
    else:
        need, rule = needs[0]
        item = f"L-{rule.value}" if rule.kind == "L" else f"{rule.value}W"
        reason = f"no month it allows has a day {need}, which {item} needs: it would never run"
    raise InvalidCronExpressionError(expression, _DAY.name, reason)


def _unrestricted(text: str) -> bool:
    return text in ("*", "?")


@dataclass(frozen=True)
class CronExpression:
    """A parsed cron expression: the sets of values each field allows.

    >>> cron = CronExpression.parse("30 3 * * MON-FRI")
    >>> cron.next_wall(datetime(2027, 1, 1, 12, 0))  # a Friday
    datetime.datetime(2027, 1, 4, 3, 30)
    >>> cron.describe()
    'at 03:30, Monday to Friday'
    """

    text: str
    fields: tuple[str, ...]  # the six fields, seconds first (after alias expansion)
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: tuple[int, ...]
    weekdays: frozenset[int]  # 0 is Sunday
    day_or: bool  # both day fields restricted: either may match
    # The Quartz items of the day fields (``L``, ``15W``, ``FRIL``, ``MON#2``...), beside
    # the plain values in ``days`` and ``weekdays``; sorted, without repeats.
    day_rules: tuple[DayRule, ...] = ()
    weekday_rules: tuple[WeekdayRule, ...] = ()

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        """Parse ``text``; ``InvalidCronExpressionError`` names the field that is wrong.

        Parsed expressions are immutable and cached: a schedule value, its resolution and
        its description each parse the same text, and many tasks share an expression.
        """
        if not isinstance(text, str):
            raise InvalidCronExpressionError(repr(text), None, "a cron expression is a str")
        return _parse(text)

    @classmethod
    def _parse(cls, text: str) -> CronExpression:
        stripped = " ".join(text.split())
        if stripped.startswith("@"):
            expanded = ALIASES.get(stripped.lower())
            if expanded is None:
                raise InvalidCronExpressionError(
                    text, None, f"unknown alias {stripped!r}; known: {', '.join(ALIASES)}"
                )
            parts = ["0", *expanded.split()]
        else:
            parts = stripped.split(" ") if stripped else []
            if len(parts) == 5:
                parts.insert(0, "0")
            elif len(parts) != 6:
                raise InvalidCronExpressionError(
                    text,
                    None,
                    f"it has {len(parts)} fields; give 5 (minute hour day-of-month month "
                    "day-of-week) or 6 (a seconds field first), or an alias such as @daily",
                )
        specs = (_SECOND, _MINUTE, _HOUR, _DAY, _MONTH, _WEEKDAY)
        sets: list[frozenset[int]] = []
        day_rules: list[DayRule] = []
        weekday_rules: list[WeekdayRule] = []
        for spec, part in zip(specs, parts, strict=True):  # in order: the first error wins
            if spec is _DAY:
                values, items = _parse_field(spec, part, text, is_day_item)
                day_rules = sorted({parse_day_item(item, text) for item in items})
            elif spec is _WEEKDAY:
                values, items = _parse_field(spec, part, text, is_weekday_item)
                weekday_rules = sorted({parse_weekday_item(item, text) for item in items})
            else:
                values, _ = _parse_field(spec, part, text)
            sets.append(values)
        day_or = not _unrestricted(parts[3]) and not _unrestricted(parts[5])
        days, months, weekdays = sets[3], sets[4], sets[5]
        if not day_or and not _unrestricted(parts[3]):
            _check_some_month_has_a_day(text, days, day_rules, months)
        return cls(
            text=stripped,
            fields=tuple(parts),
            seconds=tuple(sorted(sets[0])),
            minutes=tuple(sorted(sets[1])),
            hours=tuple(sorted(sets[2])),
            days=days,
            months=tuple(sorted(months)),
            weekdays=weekdays,
            day_or=day_or,
            day_rules=tuple(day_rules),
            weekday_rules=tuple(weekday_rules),
        )

    @property
    def every_hour(self) -> bool:
        """Whether it runs in every hour of the day: such a schedule keeps real elapsed
        time across DST shifts, where one with chosen hours keeps wall-clock times."""
        return len(self.hours) == 24

    def _day_matches(self, year: int, month: int, day: int) -> bool:
        """Whether the day is selected, for an expression without day rules (the fast
        check: the rules need the whole month, ``_month_days``)."""
        weekday = (calendar.weekday(year, month, day) + 1) % 7
        if self.day_or:
            return day in self.days or weekday in self.weekdays
        return day in self.days and weekday in self.weekdays

    def _month_days(self, year: int, month: int) -> tuple[int, ...]:
        """The selected days of a month, in order, for an expression with day rules."""
        return month_days(
            year,
            month,
            self.days,
            self.weekdays,
            self.day_rules,
            self.weekday_rules,
            self.day_or,
        )

    def matches(self, wall: datetime) -> bool:
        """Whether the naive wall-clock time ``wall`` (to the second) is selected."""
        if not (
            wall.microsecond == 0
            and wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
        ):
            return False
        if self.day_rules or self.weekday_rules:
            return wall.day in self._month_days(wall.year, wall.month)
        return self._day_matches(wall.year, wall.month, wall.day)

    def next_wall(self, start: datetime) -> datetime | None:
        """The first selected wall time at or after the naive ``start`` (a fraction of a
        second rounds up); None if there is none before year 9999."""
        if start.microsecond:
            if start >= datetime.max.replace(microsecond=0):
                return None
            start = start.replace(microsecond=0)
            year, month, day = start.year, start.month, start.day
            hour, minute, second = start.hour, start.minute, start.second + 1
        else:
            year, month, day = start.year, start.month, start.day
            hour, minute, second = start.hour, start.minute, start.second
        rules = bool(self.day_rules or self.weekday_rules)
        limit = min(year + (SPECIAL_SEARCH_YEARS if rules else SEARCH_YEARS), datetime.max.year)
        months, hours, minutes, seconds = self.months, self.hours, self.minutes, self.seconds
        while year <= limit:
            index = bisect_left(months, month)
            if index == len(months):
                year, month, day, hour, minute, second = year + 1, 1, 1, 0, 0, 0
                continue
            if months[index] != month:
                month, day, hour, minute, second = months[index], 1, 0, 0, 0
            if rules:
                chosen = self._month_days(year, month)
                index = bisect_left(chosen, day)
                if index == len(chosen):
                    month, day, hour, minute, second = month + 1, 1, 0, 0, 0
                    continue
                if chosen[index] != day:
                    day, hour, minute, second = chosen[index], 0, 0, 0
            else:
                last = calendar.monthrange(year, month)[1]
                while day <= last and not self._day_matches(year, month, day):
                    day, hour, minute, second = day + 1, 0, 0, 0
                if day > last:
                    month, day, hour, minute, second = month + 1, 1, 0, 0, 0
                    continue
            index = bisect_left(hours, hour)
            if index == len(hours):
                day, hour, minute, second = day + 1, 0, 0, 0
                continue
            if hours[index] != hour:
                hour, minute, second = hours[index], 0, 0
            index = bisect_left(minutes, minute)
            if index == len(minutes):
                hour, minute, second = hour + 1, 0, 0
                continue
            if minutes[index] != minute:
                minute, second = minutes[index], 0
            index = bisect_left(seconds, second)
            if index == len(seconds):
                minute, second = minute + 1, 0
                continue
            return datetime(year, month, day, hour, minute, seconds[index])
        return None

    # -- description -------------------------------------------------------------------

    def describe(self) -> str:
        """The schedule in English, for logs and UIs: ``'at 03:00, every day'``."""
        return f"{self._describe_time()}, {self._describe_days()}"

    def _describe_time(self) -> str:
        second, minute, hour = self.fields[0], self.fields[1], self.fields[2]
        if second.isdigit() and minute.isdigit() and hour.isdigit():
            clock = f"{int(hour):02d}:{int(minute):02d}"
            return f"at {clock}" if int(second) == 0 else f"at {clock}:{int(second):02d}"
        units = (
            ("second", second, len(self.seconds) == 60),
            ("minute", minute, len(self.minutes) == 60),
            ("hour", hour, self.every_hour),
        )
        parts: list[str] = []
        for name, text, every in units:
            if every:
                if not parts:
                    parts.append(f"every {name}")
                elif name == "minute" and second.isdigit():
                    parts[-1] += " of every minute"
            elif not (name == "second" and text == "0"):
                parts.append(_describe_values(name, text))
        if self.every_hour and minute.isdigit() and not second.isdigit():
            parts.append("of every hour")
        elif self.every_hour and minute.isdigit():
            parts[-1] += " of every hour"
        return ", ".join(parts)

    def _describe_days(self) -> str:
        day, month, weekday = self.fields[3], self.fields[4], self.fields[5]
        pieces = []
        if _unrestricted(day) and _unrestricted(weekday):
            pieces.append("every day")
        else:
            chosen = []
            if not _unrestricted(day):
                chosen.append(_describe_day_of_month(day, self.text))
            if not _unrestricted(weekday):
                chosen.append(_describe_weekdays(weekday, self.text))
            pieces.append((" or " if self.day_or else " and ").join(chosen))
        if not _unrestricted(month):
            pieces.append("in " + _describe_months(month))
        return " ".join(pieces)


@lru_cache(maxsize=512)
def _parse(text: str) -> CronExpression:
    return CronExpression._parse(text)


def _describe_values(name: str, text: str) -> str:
    if text.isdigit():
        return f"at {name} {int(text)}"
    if text.startswith("*/"):
        return f"every {text[2:]} {name}s"
    return f"{name}s {text}"


_WEEKDAY_PHRASES = {
    "MON-FRI": "Monday to Friday",
    "1-5": "Monday to Friday",
    "SAT,SUN": "on weekends",
    "SUN,SAT": "on weekends",
    "0,6": "on weekends",
    "6,0": "on weekends",
}


def _words(text: str, word: Callable[[str], str | None]) -> str | None:
    """``text``'s list items and ranges in words, or None if a part has no word."""
    items = []
    for item in text.split(","):
        names = [word(part) for part in item.split("-")]
        if any(name is None for name in names) or len(names) > 2:
            return None
        items.append(" to ".join(name for name in names if name is not None))
    return ", ".join(items)


def _weekday_word(text: str) -> str | None:
    upper = text.upper()
    if upper in DAY_NAMES:
        return DAY_WORDS[DAY_NAMES.index(upper)]
    if upper.isdigit() and 0 <= int(upper) <= 7:
        return DAY_WORDS[int(upper) % 7]
    return None


def _month_word(text: str) -> str | None:
    upper = text.upper()
    if upper in _MONTH_NAMES:
        return _MONTH_WORDS[_MONTH_NAMES.index(upper)]
    if upper.isdigit() and 1 <= int(upper) <= 12:
        return _MONTH_WORDS[int(upper) - 1]
    return None


def _describe_weekdays(text: str, expression: str) -> str:
    phrase = _WEEKDAY_PHRASES.get(text.upper())
    if phrase is not None:
        return phrase
    items = text.split(",")
    if any(is_weekday_item(item) for item in items):
        ordinary = [_words(item, _weekday_word) for item in items if not is_weekday_item(item)]
        rules = [parse_weekday_item(item, expression) for item in items if is_weekday_item(item)]
        if any(words is None for words in ordinary):
            return f"day-of-week {text}"
        return describe_weekday_items([words for words in ordinary if words is not None], rules)
    words = _words(text, _weekday_word)
    return f"day-of-week {text}" if words is None else f"on {words}"


def _describe_months(text: str) -> str:
    words = _words(text, _month_word)
    return f"month {text}" if words is None else words


def _describe_day_of_month(text: str, expression: str) -> str:
    items = text.split(",")
    if any(is_day_item(item) for item in items):
        ordinary = [item for item in items if not is_day_item(item)]
        rules = [parse_day_item(item, expression) for item in items if is_day_item(item)]
        return describe_day_items(ordinary, rules)
    if text.isdigit():
        return f"on day {int(text)} of the month"
    if text.startswith("*/"):
        return f"every {text[2:]} days of the month"
    return f"on days {text} of the month"
