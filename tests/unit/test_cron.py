"""Unit tests of ``quiv._cron.CronExpression``: parsing, matching, the next wall time, the
description, and the errors for bad expressions."""

from __future__ import annotations

import dataclasses
import doctest
import random
from datetime import datetime, timedelta

import pytest

import quiv._cron
from quiv._cron import ALIASES, CronExpression
from quiv.exceptions import ConfigurationError, InvalidCronExpressionError

ALL_MINUTES = tuple(range(60))
ALL_HOURS = tuple(range(24))
ALL_DAYS = frozenset(range(1, 32))
ALL_MONTHS = tuple(range(1, 13))
ALL_WEEKDAYS = frozenset(range(7))


def _parse(text: str) -> CronExpression:
    return CronExpression.parse(text)


# -- syntax: each form, field by field -------------------------------------------------------


@pytest.mark.parametrize(
    ("minute", "expected"),
    [
        ("*", ALL_MINUTES),
        ("?", ALL_MINUTES),
        ("0", (0,)),
        ("59", (59,)),
        ("07", (7,)),  # a leading zero is still the number
        ("5-8", (5, 6, 7, 8)),
        ("5-5", (5,)),
        ("*/15", (0, 15, 30, 45)),
        ("*/7", (0, 7, 14, 21, 28, 35, 42, 49, 56)),
        ("*/59", (0, 59)),
        ("*/60", (0,)),  # a step longer than the field: only its first value
        ("10-30/10", (10, 20, 30)),
        ("10-31/10", (10, 20, 30)),
        ("0-59/30", (0, 30)),
        ("50/3", (50, 53, 56, 59)),  # a/n runs from a to the field's end
        ("0/20", (0, 20, 40)),
        ("1,5,9", (1, 5, 9)),
        ("9,1,5", (1, 5, 9)),  # sorted
        ("5,5,1-6", (1, 2, 3, 4, 5, 6)),  # duplicates collapse
        ("1-3,10,*/20", (0, 1, 2, 3, 10, 20, 40)),
        ("58/1,0-1", (0, 1, 58, 59)),
    ],
)
def test_minute_field_forms(minute: str, expected: tuple[int, ...]) -> None:
    cron = _parse(f"{minute} * * * *")
    assert cron.minutes == expected
    # The other fields are untouched by the minute field.
    assert cron.seconds == (0,)
    assert cron.hours == ALL_HOURS
    assert cron.days == ALL_DAYS
    assert cron.months == ALL_MONTHS
    assert cron.weekdays == ALL_WEEKDAYS


@pytest.mark.parametrize(
    ("hour", "expected"),
    [
        ("*", ALL_HOURS),
        ("0", (0,)),
        ("23", (23,)),
        ("*/6", (0, 6, 12, 18)),
        ("9-17", tuple(range(9, 18))),
        ("9-17/4", (9, 13, 17)),
        ("20/2", (20, 22)),
        ("0,12", (0, 12)),
    ],
)
def test_hour_field_forms(hour: str, expected: tuple[int, ...]) -> None:
    assert _parse(f"0 {hour} * * *").hours == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("*", ALL_DAYS),
        ("?", ALL_DAYS),
        ("1", {1}),
        ("31", {31}),
        ("1,15,31", {1, 15, 31}),
        ("*/10", {1, 11, 21, 31}),  # a day step starts at the field's first value, 1
        ("25/3", {25, 28, 31}),
        ("1-7", set(range(1, 8))),
        ("10-20/5", {10, 15, 20}),
    ],
)
def test_day_of_month_field_forms(day: str, expected: set[int]) -> None:
    assert _parse(f"0 0 {day} * *").days == frozenset(expected)


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        ("*", ALL_MONTHS),
        ("1", (1,)),
        ("12", (12,)),
        ("JAN", (1,)),
        ("jan", (1,)),
        ("Dec", (12,)),
        ("jUn", (6,)),
        ("JAN-MAR", (1, 2, 3)),
        ("jan-Mar", (1, 2, 3)),
        ("1-MAR", (1, 2, 3)),  # a number and a name may be mixed in a range
        ("JAN,JUL", (1, 7)),
        ("*/4", (1, 5, 9)),  # steps start at the field's first value, 1
        ("JAN/5", (1, 6, 11)),
        ("FEB-DEC/2", (2, 4, 6, 8, 10, 12)),
        ("sep,1,feb-mar", (1, 2, 3, 9)),
    ],
)
def test_month_field_forms(month: str, expected: tuple[int, ...]) -> None:
    assert _parse(f"0 0 * {month} *").months == expected


@pytest.mark.parametrize(
    ("weekday", "expected"),
    [
        ("*", set(range(7))),
        ("?", set(range(7))),
        ("0", {0}),
        ("7", {0}),  # 7 is Sunday too
        ("0,7", {0}),
        ("SUN", {0}),
        ("sun", {0}),
        ("Mon", {1}),
        ("SAT", {6}),
        ("MON-FRI", {1, 2, 3, 4, 5}),
        ("mon-fri", {1, 2, 3, 4, 5}),
        ("1-5", {1, 2, 3, 4, 5}),
        ("5-7", {5, 6, 0}),
        ("FRI-7", {5, 6, 0}),
        ("SAT,SUN", {6, 0}),
        ("sat,Sun", {6, 0}),
        ("*/2", {0, 2, 4, 6}),
        ("1-7/3", {1, 4, 0}),  # 7 from a step is Sunday as well
        ("tue/2", {2, 4, 6}),
    ],
)
def test_day_of_week_field_forms(weekday: str, expected: set[int]) -> None:
    assert _parse(f"0 0 * * {weekday}").weekdays == frozenset(expected)


def test_names_select_the_right_calendar_days() -> None:
    # Not only the numbers: the names must land on the right days of a real calendar.
    # 2027-01-04 is a Monday; 2027-03-01 is the first of March.
    monday = _parse("0 0 * * MON")
    assert monday.matches(datetime(2027, 1, 4))
    assert not monday.matches(datetime(2027, 1, 5))
    sunday = _parse("0 0 * * 7")
    assert sunday.matches(datetime(2027, 1, 3))
    assert not sunday.matches(datetime(2027, 1, 2))
    march = _parse("0 0 * mar *")
    assert march.matches(datetime(2027, 3, 1))
    assert not march.matches(datetime(2027, 2, 28))
    assert not march.matches(datetime(2027, 4, 1))


def test_whitespace_between_fields_is_normalised() -> None:
    cron = _parse("  0\t3   *  * *  ")
    assert cron.text == "0 3 * * *"
    assert cron.fields == ("0", "0", "3", "*", "*", "*")
    assert cron.minutes == (0,)
    assert cron.hours == (3,)


# -- the six-field form ----------------------------------------------------------------------


def test_six_fields_put_seconds_first() -> None:
    cron = _parse("30 15 10 1 2 MON")
    assert cron.fields == ("30", "15", "10", "1", "2", "MON")
    assert cron.seconds == (30,)
    assert cron.minutes == (15,)
    assert cron.hours == (10,)
    assert cron.days == frozenset({1})
    assert cron.months == (2,)
    assert cron.weekdays == frozenset({1})


def test_five_fields_mean_second_zero() -> None:
    cron = _parse("15 10 1 2 MON")
    assert cron.fields == ("0", "15", "10", "1", "2", "MON")
    assert cron.seconds == (0,)
    assert cron.matches(datetime(2027, 2, 1, 10, 15, 0))
    assert not cron.matches(datetime(2027, 2, 1, 10, 15, 1))


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        ("*", tuple(range(60))),
        ("*/10", (0, 10, 20, 30, 40, 50)),
        ("5-7", (5, 6, 7)),
        ("45/5", (45, 50, 55)),
        ("0,30", (0, 30)),
    ],
)
def test_seconds_field_forms(second: str, expected: tuple[int, ...]) -> None:
    assert _parse(f"{second} * * * * *").seconds == expected


def test_six_field_next_wall_steps_by_seconds() -> None:
    cron = _parse("*/20 * * * * *")
    assert cron.next_wall(datetime(2027, 1, 1, 0, 0, 1)) == datetime(2027, 1, 1, 0, 0, 20)
    assert cron.next_wall(datetime(2027, 1, 1, 0, 0, 41)) == datetime(2027, 1, 1, 0, 1, 0)
    assert cron.next_wall(datetime(2027, 12, 31, 23, 59, 41)) == datetime(2028, 1, 1)


# -- aliases ---------------------------------------------------------------------------------


def test_alias_table() -> None:
    assert ALIASES == {
        "@yearly": "0 0 1 1 *",
        "@annually": "0 0 1 1 *",
        "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *",
        "@midnight": "0 0 * * *",
        "@hourly": "0 * * * *",
    }


@pytest.mark.parametrize(
    ("alias", "start", "expected"),
    [
        ("@yearly", datetime(2027, 1, 1, 0, 0, 1), datetime(2028, 1, 1)),
        ("@annually", datetime(2027, 6, 15, 12), datetime(2028, 1, 1)),
        ("@monthly", datetime(2027, 1, 31, 12), datetime(2027, 2, 1)),
        ("@weekly", datetime(2027, 1, 4), datetime(2027, 1, 10)),  # Monday -> Sunday
        ("@daily", datetime(2027, 1, 4, 0, 0, 1), datetime(2027, 1, 5)),
        ("@midnight", datetime(2027, 1, 4, 23, 59), datetime(2027, 1, 5)),
        ("@hourly", datetime(2027, 1, 4, 10, 0, 1), datetime(2027, 1, 4, 11)),
    ],
)
def test_each_alias(alias: str, start: datetime, expected: datetime) -> None:
    cron = _parse(alias)
    expanded = _parse(ALIASES[alias])
    assert cron.text == alias
    assert cron.fields == ("0", *ALIASES[alias].split())
    assert dataclasses.replace(cron, text=expanded.text) == expanded
    assert cron.next_wall(start) == expected
    # Aliases are case-insensitive and may be padded.
    assert _parse(f"  {alias.upper()} ").fields == cron.fields


# -- day-of-month and day-of-week: OR when both restricted, AND otherwise ---------------------

# 2027-01-13 is a Wednesday, 2027-01-15 a Friday, 2027-01-14 a Thursday, 2027-08-13 a Friday.
THIRTEENTH_WEDNESDAY = datetime(2027, 1, 13)
FRIDAY_FIFTEENTH = datetime(2027, 1, 15)
THURSDAY_FOURTEENTH = datetime(2027, 1, 14)
FRIDAY_THIRTEENTH = datetime(2027, 8, 13)


@pytest.mark.parametrize(
    ("expression", "day_or", "thirteenth", "friday", "neither", "both"),
    [
        ("0 0 13 * FRI", True, True, True, False, True),
        ("0 0 13 * 5", True, True, True, False, True),
        ("0 0 13 * *", False, True, False, False, True),
        ("0 0 13 * ?", False, True, False, False, True),
        ("0 0 * * FRI", False, False, True, False, True),
        ("0 0 ? * FRI", False, False, True, False, True),
        ("0 0 * * *", False, True, True, True, True),
    ],
)
def test_day_fields_or_when_both_restricted_and_otherwise(
    expression: str, day_or: bool, thirteenth: bool, friday: bool, neither: bool, both: bool
) -> None:
    cron = _parse(expression)
    assert cron.day_or is day_or
    assert cron.matches(THIRTEENTH_WEDNESDAY) is thirteenth
    assert cron.matches(FRIDAY_FIFTEENTH) is friday
    assert cron.matches(THURSDAY_FOURTEENTH) is neither
    assert cron.matches(FRIDAY_THIRTEENTH) is both


def test_day_or_rule_in_next_wall() -> None:
    cron = _parse("0 0 13 * FRI")
    # From Thursday 2027-01-14: Friday the 15th comes before the next 13th.
    assert cron.next_wall(datetime(2027, 1, 14)) == datetime(2027, 1, 15)
    # From Saturday 2027-02-06: Friday the 12th comes before Saturday the 13th, and then
    # the 13th, a Saturday, runs too.
    assert cron.next_wall(datetime(2027, 2, 6)) == datetime(2027, 2, 12)
    assert cron.next_wall(datetime(2027, 2, 12, 0, 0, 1)) == datetime(2027, 2, 13)
    # AND: the next Friday the 13th.
    both = _parse("0 0 13 * ?")
    assert both.next_wall(datetime(2027, 1, 14)) == datetime(2027, 2, 13)


def test_or_rule_lets_an_impossible_day_run_on_its_weekdays() -> None:
    # 30 February never comes, but with a restricted day-of-week the OR rule makes the
    # expression run on February's Mondays: it is valid.
    cron = _parse("0 0 30 2 MON")
    assert cron.day_or
    assert cron.next_wall(datetime(2027, 1, 1)) == datetime(2027, 2, 1)


# -- next_wall -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "start", "expected"),
    [
        # at or after: a start that matches is returned itself
        ("0 3 * * *", datetime(2027, 5, 1, 3, 0), datetime(2027, 5, 1, 3, 0)),
        ("0 3 * * *", datetime(2027, 5, 1, 3, 0, 1), datetime(2027, 5, 2, 3, 0)),
        ("30 3 * * MON-FRI", datetime(2027, 1, 1, 12, 0), datetime(2027, 1, 4, 3, 30)),
        ("*/15 * * * *", datetime(2027, 5, 1, 10, 7), datetime(2027, 5, 1, 10, 15)),
        ("*/15 * * * *", datetime(2027, 5, 1, 10, 46), datetime(2027, 5, 1, 11, 0)),
        ("0 9-17 * * *", datetime(2027, 5, 1, 17, 1), datetime(2027, 5, 2, 9, 0)),
        # across month ends
        ("0 0 31 * *", datetime(2027, 4, 1), datetime(2027, 5, 31)),  # April has 30 days
        ("0 0 31 * *", datetime(2027, 1, 31, 0, 0, 1), datetime(2027, 3, 31)),
        ("0 12 30 * *", datetime(2027, 2, 1), datetime(2027, 3, 30, 12)),
        ("0 0 1 * *", datetime(2027, 1, 31, 12), datetime(2027, 2, 1)),
        ("59 23 * * *", datetime(2027, 4, 30, 23, 59, 1), datetime(2027, 5, 1, 23, 59)),
        ("0 0 29-31 * *", datetime(2027, 2, 1), datetime(2027, 3, 29)),
        ("0 0 29-31 * *", datetime(2028, 2, 1), datetime(2028, 2, 29)),
        ("0 0 * 2 *", datetime(2027, 2, 28, 0, 0, 1), datetime(2028, 2, 1)),
        # leap years
        ("0 0 29 2 *", datetime(2027, 3, 1), datetime(2028, 2, 29)),
        ("0 0 29 2 *", datetime(2028, 2, 29), datetime(2028, 2, 29)),
        ("0 0 29 2 *", datetime(2028, 2, 29, 0, 1), datetime(2032, 2, 29)),
        ("0 0 29 2 *", datetime(1999, 3, 1), datetime(2000, 2, 29)),  # 2000: divisible by 400
        ("0 0 29 2 *", datetime(2096, 3, 1), datetime(2104, 2, 29)),  # 2100 is no leap year
        ("0 0 29 2 *", datetime(2196, 3, 1), datetime(2204, 2, 29)),  # nor is 2200
        ("0 0 28 2 *", datetime(2100, 2, 28, 1), datetime(2101, 2, 28)),
        # year rollover
        ("0 0 1 1 *", datetime(2027, 12, 31, 23, 59), datetime(2028, 1, 1)),
        ("59 23 31 12 *", datetime(2027, 12, 31, 23, 59), datetime(2027, 12, 31, 23, 59)),
        ("59 23 31 12 *", datetime(2027, 12, 31, 23, 59, 1), datetime(2028, 12, 31, 23, 59)),
        ("*/15 * * * *", datetime(2027, 12, 31, 23, 50), datetime(2028, 1, 1, 0, 0)),
        ("0 0 * JAN MON", datetime(2027, 2, 1), datetime(2028, 1, 3)),  # first Monday in Jan
        ("0 0 * * SUN", datetime(2027, 12, 27), datetime(2028, 1, 2)),
        # chosen months skip the others
        ("0 0 1 JAN,JUL *", datetime(2027, 1, 1, 0, 1), datetime(2027, 7, 1)),
        ("0 0 15 */3 *", datetime(2027, 10, 16), datetime(2028, 1, 15)),
    ],
)
def test_next_wall(expression: str, start: datetime, expected: datetime) -> None:
    cron = _parse(expression)
    assert cron.next_wall(start) == expected
    assert cron.matches(expected)


@pytest.mark.parametrize(
    ("expression", "start", "expected"),
    [
        ("* * * * * *", datetime(2027, 1, 1, 12, 0, 0, 1), datetime(2027, 1, 1, 12, 0, 1)),
        ("* * * * * *", datetime(2027, 1, 1, 12, 0, 0, 999_999), datetime(2027, 1, 1, 12, 0, 1)),
        ("* * * * *", datetime(2027, 1, 1, 12, 0, 0, 1), datetime(2027, 1, 1, 12, 1)),
        ("0 * * * *", datetime(2027, 1, 1, 12, 0, 0, 500_000), datetime(2027, 1, 1, 13, 0)),
        ("0 0 * * *", datetime(2027, 1, 1, 0, 0, 0, 1), datetime(2027, 1, 2)),
        ("0 0 1 1 *", datetime(2027, 1, 1, 0, 0, 0, 1), datetime(2028, 1, 1)),
        # the rounding up carries through every field at once
        ("* * * * * *", datetime(2027, 12, 31, 23, 59, 59, 1), datetime(2028, 1, 1)),
        ("*/30 * * * * *", datetime(2027, 12, 31, 23, 59, 30, 1), datetime(2028, 1, 1)),
        ("* * * * * *", datetime(2028, 2, 28, 23, 59, 59, 1), datetime(2028, 2, 29)),
    ],
)
def test_next_wall_rounds_a_fraction_of_a_second_up(
    expression: str, start: datetime, expected: datetime
) -> None:
    assert _parse(expression).next_wall(start) == expected


def test_next_wall_gives_none_at_the_end_of_time() -> None:
    assert _parse("0 0 1 1 *").next_wall(datetime(9999, 1, 1, 0, 0, 1)) is None
    assert _parse("0 0 * * *").next_wall(datetime(9999, 12, 31, 0, 0, 1)) is None
    assert _parse("* * * * * *").next_wall(datetime.max) is None
    assert _parse("0 0 29 2 *").next_wall(datetime(9997, 1, 1)) is None  # 9999 is not leap
    last = datetime(9999, 12, 31, 23, 59, 59)
    assert _parse("* * * * * *").next_wall(last) == last
    assert _parse("59 23 31 12 *").next_wall(datetime(9999, 1, 1)) == datetime(9999, 12, 31, 23, 59)


def test_matches_wants_a_whole_second() -> None:
    cron = _parse("* * * * * *")
    assert cron.matches(datetime(2027, 1, 1, 0, 0, 0))
    assert not cron.matches(datetime(2027, 1, 1, 0, 0, 0, 1))


@pytest.mark.parametrize(
    ("expression", "every_hour"),
    [
        ("0 * * * *", True),
        ("*/20 * * * *", True),
        ("15 * * * *", True),
        ("* * * * * *", True),
        ("0 0-23 * * *", True),
        ("0 */1 * * *", True),
        ("0 * 1 * *", True),  # the hours decide, not the days
        ("@hourly", True),
        ("0 */2 * * *", False),
        ("0 0-22 * * *", False),
        ("30 2 * * *", False),
        ("@daily", False),
    ],
)
def test_every_hour(expression: str, every_hour: bool) -> None:
    assert _parse(expression).every_hour is every_hour


# -- matches and next_wall agree: a randomized check -----------------------------------------


def _random_field(rng: random.Random, low: int, high: int, star_weight: float) -> str:
    if rng.random() < star_weight:
        return "*"

    def item() -> str:
        kind = rng.randrange(5)
        first = rng.randint(low, high)
        last = rng.randint(first, high)
        step = rng.randint(1, max(1, (high - low) // 2))
        if kind == 0:
            return str(first)
        if kind == 1:
            return f"{first}-{last}"
        if kind == 2:
            return f"*/{step}"
        if kind == 3:
            return f"{first}-{last}/{step}"
        return f"{first}/{step}"

    return ",".join(item() for _ in range(rng.randint(1, 3)))


def _random_expression(rng: random.Random) -> CronExpression:
    while True:
        text = " ".join(
            [
                _random_field(rng, 0, 59, 0.2),
                _random_field(rng, 0, 23, 0.3),
                _random_field(rng, 1, 31, 0.6),
                _random_field(rng, 1, 12, 0.7),
                _random_field(rng, 0, 7, 0.6),
            ]
        )
        try:
            return _parse(text)
        except InvalidCronExpressionError as error:
            # Only a day that no allowed month has may be refused.
            if error.field != "day-of-month" or "never run" not in error.reason:
                raise


def test_next_wall_agrees_with_matches_minute_by_minute() -> None:
    rng = random.Random(20270314)
    window = timedelta(days=2)
    found_in_window = 0
    cases = 150
    for _ in range(cases):
        cron = _random_expression(rng)
        start = datetime(2000, 1, 1) + timedelta(
            minutes=rng.randrange(100 * 365 * 24 * 60),
            seconds=rng.choice([0, 0, 0, 1, 59]),
            microseconds=rng.choice([0, 0, 0, 1, 999_999]),
        )
        found = cron.next_wall(start)
        assert found is not None, cron.text
        assert found >= start, cron.text
        assert found.second == 0
        assert found.microsecond == 0
        assert cron.matches(found), (cron.text, start, found)
        assert cron.next_wall(found) == found
        # No minute between start and found matches (within a bounded window).
        minute = start.replace(second=0, microsecond=0)
        if minute < start:
            minute += timedelta(minutes=1)
        end = min(found, start + window)
        while minute < end:
            assert not cron.matches(minute), (cron.text, start, minute, found)
            minute += timedelta(minutes=1)
        if found < start + window:
            found_in_window += 1
    # The grammar must give mostly frequent schedules, or the stepping checks little.
    assert found_in_window > cases // 2


def test_next_wall_agrees_with_matches_second_by_second() -> None:
    rng = random.Random(6)
    for _ in range(40):
        seconds = _random_field(rng, 0, 59, 0.1)
        minutes = _random_field(rng, 0, 59, 0.5)
        cron = _parse(f"{seconds} {minutes} * * * *")
        start = datetime(2027, 1, 1) + timedelta(seconds=rng.randrange(365 * 86400))
        found = cron.next_wall(start)
        assert found is not None
        assert cron.matches(found)
        second = start
        while second < min(found, start + timedelta(hours=2)):
            assert not cron.matches(second), (cron.text, start, second, found)
            second += timedelta(seconds=1)


# -- describe --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "description"),
    [
        ("0 3 * * *", "at 03:00, every day"),
        ("30 3 * * MON-FRI", "at 03:30, Monday to Friday"),
        ("0 9 * * 1-5", "at 09:00, Monday to Friday"),
        ("0 9 * * SAT,SUN", "at 09:00, on weekends"),
        ("0 9 * * 1,3,5", "at 09:00, on Monday, Wednesday, Friday"),
        ("0 0 * * 7", "at 00:00, on Sunday"),
        ("0 12 15 * *", "at 12:00, on day 15 of the month"),
        ("0 0 1 * MON", "at 00:00, on day 1 of the month or on Monday"),
        ("0 0 */2 * *", "at 00:00, every 2 days of the month"),
        ("0 0 * 6-8 *", "at 00:00, every day in June to August"),
        ("0 0 1 JAN,JUL *", "at 00:00, on day 1 of the month in January, July"),
        ("30 0 3 * * *", "at 03:00:30, every day"),
        ("*/15 * * * *", "every 15 minutes, every day"),
        ("* * * * *", "every minute, every day"),
        ("0 * * * *", "at minute 0 of every hour, every day"),
        ("15,45 * * * *", "minutes 15,45, every day"),
        ("0 9-17 * * *", "at minute 0, hours 9-17, every day"),
        ("*/10 * * * * *", "every 10 seconds, every day"),
        ("* 3 * * *", "every minute, at hour 3, every day"),
        ("@hourly", "at minute 0 of every hour, every day"),
        ("@daily", "at 00:00, every day"),
        ("@midnight", "at 00:00, every day"),
        ("@weekly", "at 00:00, on Sunday"),
        ("@monthly", "at 00:00, on day 1 of the month"),
        ("@yearly", "at 00:00, on day 1 of the month in January"),
    ],
)
def test_describe(expression: str, description: str) -> None:
    assert _parse(expression).describe() == description


@pytest.mark.parametrize(
    ("expression", "description"),
    [
        # A chosen second in every minute must not read as once a day.
        ("30 * * * * *", "at second 30 of every minute, every day"),
        ("30 * 3 * * *", "at second 30 of every minute, at hour 3, every day"),
    ],
)
def test_describe_a_chosen_second_says_every_minute(expression: str, description: str) -> None:
    assert _parse(expression).describe() == description


# -- bad expressions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "field"),
    [
        # the expression as a whole
        ("", None),
        ("   ", None),
        ("* * * *", None),
        ("* * * * * * *", None),
        ("0 3 * * * * 2027", None),
        ("@reboot", None),
        ("@", None),
        ("@ daily", None),
        ("@daily *", None),
        # out of range, field by field
        ("60 * * * * *", "second"),
        ("60 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("* * 0 * *", "day-of-month"),
        ("* * 32 * *", "day-of-month"),
        ("* * * 0 *", "month"),
        ("* * * 13 *", "month"),
        ("* * * * 8", "day-of-week"),
        ("0-60 * * * *", "minute"),
        ("*/5 0-24 * * *", "hour"),
        ("1,2,99 * * * *", "minute"),
        # backwards ranges
        ("5-1 * * * *", "minute"),
        ("* 23-1 * * *", "hour"),
        ("* * 31-1 * *", "day-of-month"),
        ("* * * DEC-JAN *", "month"),
        ("* * * * FRI-MON", "day-of-week"),
        ("* * * * 7-1", "day-of-week"),
        # steps
        ("*/0 * * * *", "minute"),
        ("1-5/0 * * * *", "minute"),
        ("* * * * 1-7/0", "day-of-week"),
        ("0/0 * * * * *", "second"),
        ("*/-1 * * * *", "minute"),
        ("1/ * * * *", "minute"),
        ("*/x * * * *", "minute"),
        ("*/1/2 * * * *", "minute"),
        ("/5 * * * *", "minute"),
        # empty list items
        ("1,,2 * * * *", "minute"),
        (",1 * * * *", "minute"),
        ("1, * * * *", "minute"),
        ("* , * * *", "hour"),
        ("* * * JAN, *", "month"),
        # unknown names, and names in fields that have none
        ("* * * FOO *", "month"),
        ("* * * JANUARY *", "month"),
        ("* * * * FUNDAY", "day-of-week"),
        ("* * * * MONDAY", "day-of-week"),
        ("* * * * JAN", "day-of-week"),
        ("* * * MON *", "month"),
        ("MON * * * *", "minute"),
        # Quartz's day items where they are not allowed, or malformed (more in
        # test_cron_extensions.py)
        ("* * * L *", "month"),
        ("L * * * *", "minute"),
        ("* * L/2 * *", "day-of-month"),
        ("* * * * 5L-6", "day-of-week"),
        ("* * * * 1#6", "day-of-week"),
        # not a number
        ("a * * * *", "minute"),
        ("-1 * * * *", "minute"),
        ("+1 * * * *", "minute"),
        ("1.5 * * * *", "minute"),
        ("1-2-3 * * * *", "minute"),
        ("** * * * *", "minute"),
        ("*-5 * * * *", "minute"),
        ("0x10 * * * *", "minute"),
        # digits that are not ASCII
        ("\u0663 * * * *", "minute"),  # ARABIC-INDIC DIGIT THREE
        ("* */\u0663 * * *", "hour"),
        ("* * 1-\u0663 * *", "day-of-month"),
        ("\u00b2 * * * *", "minute"),  # SUPERSCRIPT TWO
        ("* * * \uff11 *", "month"),  # FULLWIDTH DIGIT ONE
        # a day that no allowed month has: it would never run
        ("0 0 30 2 *", "day-of-month"),
        ("0 0 30 2 ?", "day-of-month"),
        ("0 0 31 FEB *", "day-of-month"),
        ("0 0 31 4,6 *", "day-of-month"),
        ("0 0 31 2,4,6,9,11 *", "day-of-month"),
        ("0 0 30-31 2 *", "day-of-month"),
    ],
)
def test_bad_expression_names_its_field(expression: str, field: str | None) -> None:
    with pytest.raises(InvalidCronExpressionError) as caught:
        _parse(expression)
    error = caught.value
    assert error.field == field
    assert error.expression == expression
    assert error.reason
    assert isinstance(error, ConfigurationError)
    assert isinstance(error, ValueError)
    message = str(error)
    assert repr(expression) in message
    if field is None:
        assert "field:" not in message
    else:
        assert f"{field} field: " in message


@pytest.mark.parametrize("value", [5, None, 1.5, b"* * * * *", ["*"] * 5])
def test_non_str_expression_is_refused(value: object) -> None:
    with pytest.raises(InvalidCronExpressionError) as caught:
        _parse(value)  # type: ignore[arg-type]
    assert caught.value.field is None
    assert caught.value.expression == repr(value)
    assert isinstance(caught.value, ConfigurationError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "expression",
    ["0 0 29 2 *", "0 0 31 1-3 *", "0 0 30 1,2 *", "0 0 31 * *", "0 0 31 2 MON", "0 0 1-31 2 *"],
)
def test_days_some_allowed_month_has_are_accepted(expression: str) -> None:
    cron = _parse(expression)
    found = cron.next_wall(datetime(2027, 1, 1))
    assert found is not None
    assert cron.matches(found)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("60 * * * *", "60 is out of range 0-59"),
        ("5-1 * * * *", "range '5-1' runs backwards"),
        ("*/0 * * * *", "step '0' must be a whole number >= 1"),
        ("1,,2 * * * *", "empty item in '1,,2'"),
        ("0 0 30 2 *", "no month it allows has a day 30: it would never run"),
    ],
)
def test_bad_expression_reason(expression: str, reason: str) -> None:
    with pytest.raises(InvalidCronExpressionError) as caught:
        _parse(expression)
    assert caught.value.reason == reason


def test_unknown_name_reason_lists_the_names() -> None:
    with pytest.raises(InvalidCronExpressionError) as caught:
        _parse("* * * * FUNDAY")
    assert "SUN, MON, TUE, WED, THU, FRI, SAT" in caught.value.reason


# -- doctests --------------------------------------------------------------------------------


def test_module_doctests() -> None:
    failed, attempted = doctest.testmod(quiv._cron, verbose=False)
    assert attempted > 0
    assert failed == 0
