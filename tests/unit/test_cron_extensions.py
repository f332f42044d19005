"""Unit tests of cron's Quartz-style day items (``L``, ``L-n``, ``LW``, ``nW``, ``dL``,
``d#n``): the days they select, checked against a reference written here from the
calendar alone, their errors, and their descriptions."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import quiv._cron_days
from quiv._cron import CronExpression
from quiv._cron_days import DayRule, WeekdayRule
from quiv.exceptions import InvalidCronExpressionError

# -- the reference: each item decided from the calendar, one date at a time ------------------

_NAMES = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}
ONE_DAY = timedelta(days=1)


def _cron_weekday(day: date) -> int:
    return day.isoweekday() % 7  # 0 is Sunday, as in cron


def _is_workday(day: date) -> bool:
    return day.isoweekday() <= 5


def _days_of_month(day: date) -> list[date]:
    first = day.replace(day=1)
    days = []
    while first.month == day.month:
        days.append(first)
        first += ONE_DAY
    return days


def _weekday_number(text: str) -> int:
    return _NAMES[text.upper()] if text.upper() in _NAMES else int(text) % 7


def _day_item(item: str, day: date) -> bool:
    """Whether ``day`` is selected by one day-of-month item."""
    upper = item.upper()
    later = day + ONE_DAY
    if upper == "L":
        return later.month != day.month
    if upper.startswith("L-"):
        before = int(upper[2:])
        return (day + timedelta(days=before)).month == day.month and (
            day + timedelta(days=before + 1)
        ).month != day.month
    if upper == "LW":
        rest = [d for d in _days_of_month(day) if d > day]
        return _is_workday(day) and not any(_is_workday(d) for d in rest)
    if upper.endswith("W"):
        wanted = int(upper[:-1])
        month = _days_of_month(day)
        if wanted > len(month):
            return False
        # The nearest Monday-to-Friday of the same month (never a tie: see the brief).
        nearest = min((d for d in month if _is_workday(d)), key=lambda d: abs(d.day - wanted))
        return nearest == day
    if "-" in upper:
        low, high = upper.split("-")
        return int(low) <= day.day <= int(high)
    return day.day == int(upper)


def _weekday_item(item: str, day: date) -> bool:
    """Whether ``day`` is selected by one day-of-week item."""
    upper = item.upper()
    if "#" in upper:
        weekday, nth = upper.split("#")
        return _cron_weekday(day) == _weekday_number(weekday) and (day.day - 1) // 7 + 1 == int(nth)
    if upper.endswith("L"):
        next_week = day + timedelta(days=7)
        return _cron_weekday(day) == _weekday_number(upper[:-1]) and next_week.month != day.month
    if "-" in upper:
        low, high = (_weekday_number(part) for part in upper.split("-"))
        return low <= _cron_weekday(day) <= high  # the tests' ranges do not wrap
    return _cron_weekday(day) == _weekday_number(upper)


def _reference(day_field: str, month_field: str, weekday_field: str, day: date) -> bool:
    if month_field != "*" and day.month not in {int(m) for m in month_field.split(",")}:
        return False
    day_free = day_field in ("*", "?")
    weekday_free = weekday_field in ("*", "?")
    by_day = day_free or any(_day_item(item, day) for item in day_field.split(","))
    by_weekday = weekday_free or any(_weekday_item(item, day) for item in weekday_field.split(","))
    if not day_free and not weekday_free:
        return by_day or by_weekday
    return by_day and by_weekday


def _reference_days(fields: tuple[str, str, str], first: date, end: date) -> list[date]:
    days = []
    day = first
    while day < end:
        if _reference(*fields, day):
            days.append(day)
        day += ONE_DAY
    return days


def test_the_reference_knows_its_calendar() -> None:
    # Hand-checked against a calendar, so the reference is not only compared with itself.
    def picks(fields: tuple[str, str, str], month: date) -> list[int]:
        return [d.day for d in _days_of_month(month) if _reference(*fields, d)]

    assert picks(("L", "*", "*"), date(2024, 2, 1)) == [29]
    assert picks(("L-3", "*", "*"), date(2023, 2, 1)) == [25]
    assert picks(("LW", "*", "*"), date(2023, 12, 1)) == [29]  # the 31st is a Sunday
    assert picks(("1W", "*", "*"), date(2023, 7, 1)) == [3]  # a Saturday the 1st: Monday
    assert picks(("15W", "*", "*"), date(2023, 7, 1)) == [14]  # a Saturday: Friday
    assert picks(("15W", "*", "*"), date(2023, 10, 1)) == [16]  # a Sunday: Monday
    assert picks(("31W", "*", "*"), date(2023, 12, 1)) == [29]  # a Sunday, the last: Friday
    assert picks(("31W", "*", "*"), date(2023, 4, 1)) == []  # April has no 31st
    assert picks(("*", "*", "FRIL"), date(2027, 1, 1)) == [29]
    assert picks(("*", "*", "MON#2"), date(2027, 1, 1)) == [11]
    assert picks(("*", "*", "4#5"), date(2024, 2, 1)) == [29]
    assert picks(("*", "*", "1#5"), date(2024, 2, 1)) == []


# -- next_wall and matches against the reference, over whole years -----------------------------

FIRST_YEAR, LAST_YEAR = 2023, 2030  # two leap years (2024, 2028), every weekday for every date

DAY_FIELDS = [
    # (day-of-month, month, day-of-week)
    ("L", "*", "*"),
    ("l", "*", "?"),
    ("LW", "*", "*"),
    ("15W", "*", "*"),
    ("1W", "*", "*"),
    ("31W", "*", "*"),
    ("30W", "*", "*"),
    ("L-3", "*", "*"),
    ("L-0", "*", "*"),
    ("L-27", "*", "*"),
    ("L-28", "*", "*"),  # only in months of 29 days or more
    ("L-30", "*", "*"),  # only the 1st of months of 31 days
    ("*", "*", "5L"),
    ("?", "*", "FRIL"),
    ("*", "*", "0L"),
    ("*", "*", "7L"),
    ("*", "*", "SUNL"),
    ("*", "*", "MON#2"),
    ("*", "*", "mon#2"),
    ("*", "*", "1#5"),
    ("*", "*", "5#5"),
    ("*", "*", "7#1"),
    ("?", "*", "SAT#4"),
    ("1,15,L", "*", "*"),
    ("L,1,15", "*", "?"),
    ("1-3,LW,L-1", "*", "*"),
    ("15W,L", "*", "*"),
    ("L", "*", "MON"),  # both restricted: either
    ("L", "*", "1-5"),
    ("LW", "*", "FRIL"),
    ("13", "*", "FRIL"),
    ("15W", "*", "SAT#2"),
    ("L-2", "*", "MON#1,3"),
    ("*", "*", "MON#1,MONL,3"),
    ("*", "*", "5L,SAT"),
    ("*", "*", "MON#2,WED#2,FRI#2"),
    ("L", "2", "*"),  # leap years: the 29th
    ("29W", "2", "*"),
    ("28W", "2", "*"),
    ("L-28", "2", "*"),
    ("LW", "2", "?"),
    ("*", "2", "THU#5"),  # 29 February 2024 is a Thursday
    ("*", "2", "MON#5"),  # none in these years: the next is in 2044
    ("31W", "1,2,3", "*"),
    ("L", "4,6", "SUN#1"),
    ("15", "*", "*"),  # plain ones, through the same check
    ("*", "*", "MON"),
    ("13", "*", "5"),
]


@pytest.mark.parametrize("fields", DAY_FIELDS, ids=" ".join)
def test_next_wall_steps_through_the_reference_days(fields: tuple[str, str, str]) -> None:
    cron = CronExpression.parse(f"30 12 {' '.join(fields)}")
    found = []
    start = datetime(FIRST_YEAR, 1, 1)
    while (wall := cron.next_wall(start)) is not None and wall.year <= LAST_YEAR:
        assert wall.time() == datetime(2000, 1, 1, 12, 30).time()
        found.append(wall.date())
        start = wall + timedelta(seconds=1)
    expected = _reference_days(fields, date(FIRST_YEAR, 1, 1), date(LAST_YEAR + 1, 1, 1))
    assert found == expected


@pytest.mark.parametrize("fields", DAY_FIELDS, ids=" ".join)
def test_matches_agrees_with_the_reference(fields: tuple[str, str, str]) -> None:
    cron = CronExpression.parse(f"30 12 {' '.join(fields)}")
    day = date(FIRST_YEAR, 1, 1)
    while day.year <= LAST_YEAR:
        wall = datetime(day.year, day.month, day.day, 12, 30)
        assert cron.matches(wall) is _reference(*fields, day), day
        assert not cron.matches(wall.replace(minute=31))
        day += ONE_DAY


@pytest.mark.parametrize(
    ("expression", "start", "expected"),
    [
        # inside the day: later times of a selected day, then the next selected day
        ("0 9,17 L * *", datetime(2027, 1, 31, 9, 0, 1), datetime(2027, 1, 31, 17)),
        ("0 9,17 L * *", datetime(2027, 1, 31, 17, 0, 1), datetime(2027, 2, 28, 9)),
        ("0 0 L * *", datetime(2027, 1, 31, 0, 0, 0, 1), datetime(2027, 2, 28)),
        ("0 0 LW * *", datetime(2027, 12, 31, 0, 0, 1), datetime(2028, 1, 31)),
        # a fifth Monday in February comes when 29 February is a Monday: 40 years apart
        # across 2100, which is no leap year
        ("0 0 * 2 MON#5", datetime(2017, 1, 1), datetime(2044, 2, 29)),
        ("0 0 * 2 MON#5", datetime(2072, 2, 29, 0, 0, 1), datetime(2112, 2, 29)),
        ("0 0 * 2 MON#5", datetime(9990, 1, 1), None),
        ("0 0 29W 2 *", datetime(2096, 3, 1), datetime(2104, 2, 29)),
        ("0 0 L 12 *", datetime(9999, 12, 31), datetime(9999, 12, 31)),
        ("0 0 L 12 *", datetime(9999, 12, 31, 0, 0, 1), None),
    ],
)
def test_next_wall_across_days_years_and_centuries(
    expression: str, start: datetime, expected: datetime | None
) -> None:
    assert CronExpression.parse(expression).next_wall(start) == expected


# -- the parsed form ----------------------------------------------------------------------------


def test_items_are_parsed_into_rules_beside_the_plain_values() -> None:
    cron = CronExpression.parse("0 0 1,L,15W,l-0,L-3,LW * MON#2,5L,fril,7L,0#1,3")
    assert cron.days == frozenset({1})
    assert cron.day_rules == (
        DayRule("L", 0),  # L and L-0 are one
        DayRule("L", 3),
        DayRule("LW", 0),
        DayRule("W", 15),
    )
    assert cron.weekdays == frozenset({3})
    assert cron.weekday_rules == (
        WeekdayRule(0, -1),  # 7L is 0L, the last Sunday
        WeekdayRule(0, 1),
        WeekdayRule(1, 2),
        WeekdayRule(5, -1),  # 5L and FRIL are one
    )
    assert cron.day_or


def test_plain_expressions_have_no_rules_and_keep_the_fast_day_check() -> None:
    cron = CronExpression.parse("0 0 13 * FRI")
    assert cron.day_rules == ()
    assert cron.weekday_rules == ()
    before = quiv._cron_days.month_days.cache_info()
    assert cron.next_wall(datetime(2027, 1, 1)) == datetime(2027, 1, 1)
    assert cron.matches(datetime(2027, 8, 13))
    after = quiv._cron_days.month_days.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)


@pytest.mark.parametrize(
    "expression",
    [
        "0 0 L 2 *",
        "0 0 LW 2 *",
        "0 0 L-28 2 *",  # 29 February
        "0 0 29W 2 *",
        "0 0 31W 1-2 *",
        "0 0 31W 2 MON",  # the weekday field runs it
        "0 0 30,L 2 *",  # one item is enough
        "0 0 ? 2 MON#5",
        "0 0 31W 2 5L",
    ],
)
def test_expressions_that_can_run_are_accepted(expression: str) -> None:
    cron = CronExpression.parse(expression)
    found = cron.next_wall(datetime(2027, 1, 1))
    assert found is not None
    assert cron.matches(found)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("0 0 31W 2 *", "no month it allows has a day 31, which 31W needs: it would never run"),
        ("0 0 30W 2 ?", "no month it allows has a day 30, which 30W needs: it would never run"),
        ("0 0 31W 4,6 *", "no month it allows has a day 31, which 31W needs: it would never run"),
        ("0 0 L-29 2 *", "no month it allows has a day 30, which L-29 needs: it would never run"),
        ("0 0 30,31W 2 *", "no month it allows has a day 30: it would never run"),
        ("0 0 31,30W 2 *", "no month it allows has a day 30, which 30W needs: it would never run"),
    ],
)
def test_items_that_no_allowed_month_has_would_never_run(expression: str, reason: str) -> None:
    with pytest.raises(InvalidCronExpressionError) as caught:
        CronExpression.parse(expression)
    assert caught.value.field == "day-of-month"
    assert caught.value.reason == reason


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "weekday", "field", "says"),
    [
        ("L/2", "*", "day-of-month", "take no range or step"),
        ("*/L", "*", "day-of-month", "take no range or step"),
        ("1-LW", "*", "day-of-month", "take no range or step"),
        ("L-3/2", "*", "day-of-month", "take no range or step"),
        ("15W-20", "*", "day-of-month", "take no range or step"),
        ("32W", "*", "day-of-month", "W needs a day 1-31"),
        ("0W", "*", "day-of-month", "W needs a day 1-31"),
        ("W", "*", "day-of-month", "W needs a day 1-31"),
        ("LLW", "*", "day-of-month", "W needs a day 1-31"),
        ("L-31", "*", "day-of-month", "L-n needs a number n from 0 to 30"),
        ("L-", "*", "day-of-month", "L-n needs a number n from 0 to 30"),
        ("L-X", "*", "day-of-month", "L-n needs a number n from 0 to 30"),
        ("LX", "*", "day-of-month", "give a number 1-31, L (the last day), L-n"),
        ("WL", "*", "day-of-month", "not a day-of-month item"),
        ("1,L,", "*", "day-of-month", "empty item"),
        ("*", "MON#0", "day-of-week", "# needs a number n from 1 to 5"),
        ("*", "MON#6", "day-of-week", "# needs a number n from 1 to 5"),
        ("*", "MON#", "day-of-week", "# needs a number n from 1 to 5"),
        ("*", "1#2#3", "day-of-week", "# needs a number n from 1 to 5"),
        ("*", "#2", "day-of-week", "# needs a weekday 0-7 or SUN-SAT"),
        ("*", "8#2", "day-of-week", "# needs a weekday 0-7 or SUN-SAT"),
        ("*", "MONDAY#2", "day-of-week", "# needs a weekday 0-7 or SUN-SAT"),
        ("*", "8L", "day-of-week", "L needs a weekday 0-7 or SUN-SAT"),
        ("*", "L", "day-of-week", "L needs a weekday 0-7 or SUN-SAT"),
        ("*", "LL", "day-of-week", "L needs a weekday 0-7 or SUN-SAT"),
        ("*", "MON-FRIL", "day-of-week", "take no range or step"),
        ("*", "5L/2", "day-of-week", "take no range or step"),
        ("*", "1#2-3#2", "day-of-week", "take no range or step"),
        ("*", "LX", "day-of-week", "give a number 0-7, a name SUN-SAT, dL"),
        ("*", "MON,#", "day-of-week", "# needs a weekday"),
        ("15W", "5L/2", "day-of-week", "take no range or step"),
    ],
)
def test_bad_items_name_their_field_and_what_is_allowed(
    day: str, weekday: str, field: str, says: str
) -> None:
    expression = f"0 0 {day} * {weekday}"
    with pytest.raises(InvalidCronExpressionError) as caught:
        CronExpression.parse(expression)
    assert caught.value.field == field
    assert caught.value.expression == expression
    assert says in caught.value.reason
    assert f"{field} field: " in str(caught.value)


@pytest.mark.parametrize(
    "expression",
    ["0 0 * L *", "L 0 * * *", "0 L * * *", "L 0 0 * * *", "0 0 * MON#2 *", "0 0 5L * *"],
)
def test_the_items_belong_to_their_own_day_field_only(expression: str) -> None:
    with pytest.raises(InvalidCronExpressionError):
        CronExpression.parse(expression)


def test_the_first_field_in_error_is_the_one_named() -> None:
    with pytest.raises(InvalidCronExpressionError) as caught:
        CronExpression.parse("60 0 L/2 * *")
    assert caught.value.field == "minute"
    with pytest.raises(InvalidCronExpressionError) as caught:
        CronExpression.parse("0 0 L/2 13 MON#9")
    assert caught.value.field == "day-of-month"


# -- describe -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "description"),
    [
        ("0 0 L * *", "at 00:00, on the last day of the month"),
        ("0 0 L-0 * ?", "at 00:00, on the last day of the month"),
        ("0 0 LW * *", "at 00:00, on the last weekday of the month"),
        ("0 0 15W * *", "at 00:00, on the weekday nearest day 15 of the month"),
        ("0 0 L-3 * *", "at 00:00, 3 days before the last day of the month"),
        ("0 0 L-1 * *", "at 00:00, 1 day before the last day of the month"),
        ("0 0 * * 5L", "at 00:00, on the last Friday of the month"),
        ("0 0 ? * FRIL", "at 00:00, on the last Friday of the month"),
        ("0 0 * * 7L", "at 00:00, on the last Sunday of the month"),
        ("0 0 * * MON#2", "at 00:00, on the second Monday of the month"),
        ("0 0 * * 1#2", "at 00:00, on the second Monday of the month"),
        ("0 0 * * SAT#5", "at 00:00, on the fifth Saturday of the month"),
        # lists
        ("0 0 1,15,L * *", "at 00:00, on days 1,15 and the last day of the month"),
        ("0 0 1,L * *", "at 00:00, on day 1 and the last day of the month"),
        ("0 0 L,1 * *", "at 00:00, on day 1 and the last day of the month"),
        ("0 0 1,L-3 * *", "at 00:00, on day 1 and 3 days before the last day of the month"),
        ("0 0 L,L-0 * *", "at 00:00, on the last day of the month"),
        (
            "0 0 15W,LW * *",
            "at 00:00, on the weekday nearest day 15 and the last weekday of the month",
        ),
        (
            "0 0 1-7,15W,L * *",
            "at 00:00, on days 1-7, the weekday nearest day 15 and the last day of the month",
        ),
        ("0 0 * * MON#1,MON#3", "at 00:00, on the first and third Monday of the month"),
        ("0 0 * * MON#1,MONL", "at 00:00, on the first and last Monday of the month"),
        (
            "0 0 * * 1#2,WED#2",
            "at 00:00, on the second Monday and the second Wednesday of the month",
        ),
        ("0 0 * * MON,FRIL", "at 00:00, on Monday and the last Friday of the month"),
        (
            "0 0 * * MON-WED,FRIL",
            "at 00:00, on Monday to Wednesday and the last Friday of the month",
        ),
        ("0 0 * * */2,5L", "at 00:00, day-of-week */2,5L"),
        # with the other fields
        ("0 0 L * MON", "at 00:00, on the last day of the month or on Monday"),
        (
            "0 0 LW * FRIL",
            "at 00:00, on the last weekday of the month or on the last Friday of the month",
        ),
        ("0 0 L 2 *", "at 00:00, on the last day of the month in February"),
        ("30 8 ? JAN,JUL MON#1", "at 08:30, on the first Monday of the month in January, July"),
        ("0 */15 9 L * *", "every 15 minutes, at hour 9, on the last day of the month"),
    ],
)
def test_describe_the_items(expression: str, description: str) -> None:
    assert CronExpression.parse(expression).describe() == description


# -- a property: random fields of plain and Quartz items against the reference ---------------

_MONTH_LENGTH_YEARS = range(2000, 2028)  # every month length and first weekday, leap or not


@st.composite
def _day_field(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(["*", "?"]))
    items = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["day", "range", "L", "L-n", "LW", "W"]))
        if kind == "day":
            items.append(str(draw(st.integers(1, 31))))
        elif kind == "range":
            low = draw(st.integers(1, 31))
            items.append(f"{low}-{draw(st.integers(low, 31))}")
        elif kind == "L-n":
            items.append(f"L-{draw(st.integers(0, 30))}")
        elif kind == "W":
            items.append(f"{draw(st.integers(1, 31))}W")
        else:
            items.append(kind)
    return ",".join(items)


@st.composite
def _weekday_field(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(["*", "?"]))
    weekdays = st.one_of(st.integers(0, 7).map(str), st.sampled_from(sorted(_NAMES)))
    items = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["day", "L", "#"]))
        weekday = draw(weekdays)
        if kind == "day":
            items.append(weekday)
        elif kind == "L":
            items.append(f"{weekday}L")
        else:
            items.append(f"{weekday}#{draw(st.integers(1, 5))}")
    return ",".join(items)


_month_field = st.one_of(
    st.just("*"),
    st.lists(st.integers(1, 12), min_size=1, max_size=3).map(lambda ms: ",".join(map(str, ms))),
)


@given(
    day=_day_field(),
    month=_month_field,
    weekday=_weekday_field(),
    start=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
)
def test_random_day_fields_agree_with_the_reference(
    day: str, month: str, weekday: str, start: date
) -> None:
    fields = (day, month, weekday)
    expression = f"0 0 {day} {month} {weekday}"
    refused: InvalidCronExpressionError | None = None
    try:
        cron = CronExpression.parse(expression)
    except InvalidCronExpressionError as error:
        refused = error
    if refused is not None:
        # Refused only if no day of any kind of month (each length, each first weekday)
        # would do.
        assert "never run" in refused.reason
        assert not any(
            _reference(*fields, d)
            for year in _MONTH_LENGTH_YEARS
            for m in range(1, 13)
            for d in _days_of_month(date(year, m, 1))
        )
        return
    found = cron.next_wall(datetime(start.year, start.month, start.day))
    assert found is not None  # accepted: it runs
    expected = start
    while not _reference(*fields, expected):
        expected += ONE_DAY
    assert found == datetime(expected.year, expected.month, expected.day)
    assert cron.matches(found)
