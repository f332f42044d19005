"""Cron expressions: their parsing, the wall-clock times they select, and their description.

Pure and zone-free: an expression selects naive wall-clock times (year, month, day, hour,
minute, second); which instants those are in a time zone is ``_calendar``'s business.

Syntax: five fields (minute hour day-of-month month day-of-week) or six, with a seconds
field first. Each field is ``*``, a value, a range ``a-b``, a step ``*/n``, ``a-b/n`` or
``a/n`` (from ``a`` to the field's end), or a comma-separated list of those. Months and
weekdays also take English names (``JAN``, ``MON``); day-of-week 0 and 7 are both Sunday.
When day-of-month and day-of-week are both restricted (neither is ``*``), a day matches
when either does, as in every cron since Vixie's; otherwise both must.

Aliases: ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily`` (``@midnight``)
and ``@hourly``.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

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
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_DAY_WORDS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTH_WORDS = tuple(calendar.month_name[1:])

# A valid expression matches within 8 years (29 February, across a century year that is
# not a leap year); searching further means a defect, not a rare schedule.
SEARCH_YEARS = 9


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
_WEEKDAY = _Field("day-of-week", 0, 7, _DAY_NAMES, 0)


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


def _parse_field(field: _Field, text: str, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise InvalidCronExpressionError(expression, field.name, f"empty item in {text!r}")
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
    return frozenset(values)


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

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        """Parse ``text``; ``InvalidCronExpressionError`` names the field that is wrong."""
        if not isinstance(text, str):
            raise InvalidCronExpressionError(repr(text), None, "a cron expression is a str")
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
        sets = [_parse_field(spec, part, text) for spec, part in zip(specs, parts, strict=True)]
        day_or = not _unrestricted(parts[3]) and not _unrestricted(parts[5])
        days, months = sets[3], sets[4]
        if not day_or and not _unrestricted(parts[3]):
            longest = max(calendar.monthrange(2000, month)[1] for month in months)
            if min(days) > longest:
                raise InvalidCronExpressionError(
                    text,
                    "day-of-month",
                    f"no month it allows has a day {min(days)}: it would never run",
                )
        return cls(
            text=stripped,
            fields=tuple(parts),
            seconds=tuple(sorted(sets[0])),
            minutes=tuple(sorted(sets[1])),
            hours=tuple(sorted(sets[2])),
            days=days,
            months=tuple(sorted(months)),
            weekdays=sets[5],
            day_or=day_or,
        )

    @property
    def every_hour(self) -> bool:
        """Whether it runs in every hour of the day: such a schedule keeps real elapsed
        time across DST shifts, where one with chosen hours keeps wall-clock times."""
        return len(self.hours) == 24

    def _day_matches(self, year: int, month: int, day: int) -> bool:
        weekday = (calendar.weekday(year, month, day) + 1) % 7
        if self.day_or:
            return day in self.days or weekday in self.weekdays
        return day in self.days and weekday in self.weekdays

    def matches(self, wall: datetime) -> bool:
        """Whether the naive wall-clock time ``wall`` (to the second) is selected."""
        return (
            wall.microsecond == 0
            and wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and self._day_matches(wall.year, wall.month, wall.day)
        )

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
        limit = min(year + SEARCH_YEARS, datetime.max.year)
        months, hours, minutes, seconds = self.months, self.hours, self.minutes, self.seconds
        while year <= limit:
            index = bisect_left(months, month)
            if index == len(months):
                year, month, day, hour, minute, second = year + 1, 1, 1, 0, 0, 0
                continue
            if months[index] != month:
                month, day, hour, minute, second = months[index], 1, 0, 0, 0
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
                chosen.append(_describe_day_of_month(day))
            if not _unrestricted(weekday):
                chosen.append(_describe_weekdays(weekday))
            pieces.append((" or " if self.day_or else " and ").join(chosen))
        if not _unrestricted(month):
            pieces.append("in " + _describe_months(month))
        return " ".join(pieces)


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
    if upper in _DAY_NAMES:
        return _DAY_WORDS[_DAY_NAMES.index(upper)]
    if upper.isdigit() and 0 <= int(upper) <= 7:
        return _DAY_WORDS[int(upper) % 7]
    return None


def _month_word(text: str) -> str | None:
    upper = text.upper()
    if upper in _MONTH_NAMES:
        return _MONTH_WORDS[_MONTH_NAMES.index(upper)]
    if upper.isdigit() and 1 <= int(upper) <= 12:
        return _MONTH_WORDS[int(upper) - 1]
    return None


def _describe_weekdays(text: str) -> str:
    phrase = _WEEKDAY_PHRASES.get(text.upper())
    if phrase is not None:
        return phrase
    words = _words(text, _weekday_word)
    return f"day-of-week {text}" if words is None else f"on {words}"


def _describe_months(text: str) -> str:
    words = _words(text, _month_word)
    return f"month {text}" if words is None else words


def _describe_day_of_month(text: str) -> str:
    if text.isdigit():
        return f"on day {int(text)} of the month"
    if text.startswith("*/"):
        return f"every {text[2:]} days of the month"
    return f"on days {text} of the month"
