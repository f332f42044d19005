"""The schedule kinds of ``quiv.schedules`` against a brute-force reference, over whole years.

The reference below is written from the documented semantics alone, without quiv's code:

* A wall time's instant in a zone: every instant whose clock reads it is found by trying
  each UTC offset the zone has within a day of it (read off ``zoneinfo`` every hour); the
  first of them runs (a fold), and when there is none (a gap) the instant the clocks jumped
  over it, found by walking the clock minute by minute, then second by second.
* Calendar dates: the date of ``start`` (default: when the task is added) in the schedule's
  zone, then each next date = the previous + years/months, keeping the day of the month and
  adding them again until that day exists, then + weeks * 7 + days days.
* Cron: the wall times a (small) cron matcher selects; with chosen hours each runs at its
  instant as above, two on one instant being one run; in every hour of the day, every
  instant whose clock reads a selected time runs (none in a gap, two in a fold).
* Interval: ``anchor + k * seconds`` (anchor: ``start``, or the start of the combination it
  is in, or the moment of adding).
* ``start`` and ``end`` bound every kind inclusively; ``AnyOf`` is the union of its parts'
  instants, ``AllOf`` their intersection.
* ``preview``: the runs after the moment of adding (at it, too, for an ``Interval``).

The zones: New York, Berlin, Lord Howe (a 30-minute DST shift, at 02:00 local), Tokyo (no
DST), Apia (DST, and 30 December 2011 skipped: 29 Dec 23:59:59 -10 -> 31 Dec 00:00 +14) and
Moscow (2011-03-27 02:00 -> 03:00 for good; 2014-10-26 02:00 -> 01:00 for good).
"""

from __future__ import annotations

import functools
import itertools
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import quiv
from quiv._config import resolve_timezone
from quiv._resolve import first_slot, resolve
from quiv._schedule import IntervalSchedule
from quiv.exceptions import (
    ConfigurationError,
    InvalidCronExpressionError,
    InvalidScheduleError,
    InvalidTimezoneError,
)
from quiv.schedules import AllOf, AnyOf, At, Calendar, Cron, Interval, Schedule, from_json

UTC = timezone.utc
NY = "America/New_York"
BERLIN = "Europe/Berlin"
LORD_HOWE = "Australia/Lord_Howe"
TOKYO = "Asia/Tokyo"
APIA = "Pacific/Apia"
MOSCOW = "Europe/Moscow"
DAY = 86400
HOUR = 3600
MAX_PREVIEW = 1000
_NAIVE_EPOCH = datetime(1970, 1, 1)


# -- the reference: wall times as instants -------------------------------------------------


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _offset(name: str, instant: int) -> int:
    """The zone's UTC offset at ``instant``, in seconds."""
    moment = datetime.fromtimestamp(instant, UTC).astimezone(_zone(name))
    offset = moment.utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


@functools.cache
def _hourly_offset(name: str, hour: int) -> int:
    return _offset(name, hour * HOUR)


def _clock(name: str, instant: int) -> datetime:
    """What the clock in the zone reads at ``instant`` (naive)."""
    return _NAIVE_EPOCH + timedelta(seconds=instant + _offset(name, instant))


def _as_seconds(wall: datetime) -> int:
    return int((wall - _NAIVE_EPOCH).total_seconds())


def _offsets_near(name: str, wall: datetime) -> set[int]:
    """Every offset the zone has within a day of ``wall`` (no zone keeps an offset for
    less than an hour, and none is more than 14 hours from UTC)."""
    hour = _as_seconds(wall) // HOUR
    return {_hourly_offset(name, hour + shift) for shift in range(-27, 28)}


@functools.cache
def every_instant_of(name: str, wall: datetime) -> tuple[int, ...]:
    """Every instant at which the zone's clock reads ``wall``: none in a gap, two in a fold."""
    seconds = _as_seconds(wall)
    candidates = {seconds - offset for offset in _offsets_near(name, wall)}
    return tuple(sorted(c for c in candidates if _clock(name, c) == wall))


@functools.cache
def instant_of(name: str, wall: datetime) -> int:
    """The instant a wall time runs at: its first occurrence, or in a gap the instant the
    clocks jumped over it."""
    found = every_instant_of(name, wall)
    if found:
        return found[0]
    offsets = _offsets_near(name, wall)
    instant = _as_seconds(wall) - max(offsets)  # its clock reads before ``wall``
    while _clock(name, instant) < wall:
        instant += 60
    while _clock(name, instant - 1) > wall:
        instant -= 1
    return instant


def _local_date(name: str, instant: int) -> date:
    return _clock(name, instant).date()


def _local(name: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware datetime on the zone's clock (never one in a gap or a fold, in these tests)."""
    return datetime(year, month, day, hour, minute, tzinfo=_zone(name))


def _whole(moment: datetime) -> int:
    instant = moment.timestamp()
    assert instant == int(instant)
    return int(instant)


# -- the reference: cron ------------------------------------------------------------------

_WEEKDAYS = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}


def _cron_field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        body, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            first, last = low, high
        elif "-" in body:
            a, b = body.split("-")
            first, last = _cron_value(a), _cron_value(b)
        else:
            first = _cron_value(body)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _cron_value(text: str) -> int:
    return _WEEKDAYS[text.upper()] if text.upper() in _WEEKDAYS else int(text)


@dataclass(frozen=True)
class RefCron:
    """A five-field cron expression (numbers, ranges, steps, lists, weekday names)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> RefCron:
        minute, hour, day, month, weekday = text.split()
        weekdays = {v % 7 for v in _cron_field(weekday, 0, 6)}  # 7 is Sunday too
        return cls(
            _cron_field(minute, 0, 59),
            _cron_field(hour, 0, 23),
            _cron_field(day, 1, 31),
            _cron_field(month, 1, 12),
            frozenset(weekdays),
            day == "*",
            weekday == "*",
        )

    def selects(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.weekday() + 1) % 7 in self.weekdays
        if not self.any_day and not self.any_weekday:
            return in_days or in_weekdays  # both restricted: either one (Vixie cron)
        return in_days and in_weekdays

    def walls(self, first: date, last: date) -> Iterator[datetime]:
        day = first
        while day <= last:
            if self.selects(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        yield datetime.combine(day, time(hour, minute))
            day += timedelta(days=1)


@functools.cache
def cron_instants(expression: str, name: str, first: date, last: date) -> tuple[int, ...]:
    """The instants a cron expression runs at in a zone, for the wall dates first..last."""
    cron = RefCron.parse(expression)
    found: set[int] = set()
    for wall in cron.walls(first, last):
        if len(cron.hours) == 24:  # every hour: every instant whose clock reads it
            found.update(every_instant_of(name, wall))
        else:
            found.add(instant_of(name, wall))
    return tuple(sorted(found))


# -- the reference: calendar dates --------------------------------------------------------


def calendar_dates(anchor: date, months: int, days: int, last: date) -> Iterator[date]:
    """``anchor``, then each date after the one before by ``months`` (keeping the day of the
    month: again and again until that day exists), then by ``days``; up to ``last``."""
    current = anchor
    while current <= last:
        yield current
        following = current
        if months:
            index = current.year * 12 + current.month - 1
            while True:
                index += months
                year, month = divmod(index, 12)
                try:
                    following = date(year, month + 1, current.day)
                    break
                except ValueError:
                    continue
        current = following + timedelta(days=days)


@functools.cache
def calendar_instants(
    months: int, days: int, at: str, name: str, anchor: date, last: date
) -> tuple[int, ...]:
    wall_time = time.fromisoformat(at)
    return tuple(
        sorted(
            {
                instant_of(name, datetime.combine(day, wall_time))
                for day in calendar_dates(anchor, months, days, last)
            }
        )
    )


# -- the reference: every kind ------------------------------------------------------------


def _zone_name(own: object, default: str) -> str:
    if own is None:
        return default
    if isinstance(own, str):
        return own
    key = getattr(own, "key", None)
    assert isinstance(key, str)
    return key


def _bounded(value: Schedule, instants: Iterator[int] | tuple[int, ...]) -> list[int]:
    low = None if value.start is None else value.start.timestamp()
    high = None if value.end is None else value.end.timestamp()
    return [t for t in instants if (low is None or t >= low) and (high is None or t <= high)]


def ref_slots(value: Schedule, added: int, low: int, high: int, zone: str) -> list[int]:
    """Every instant ``value`` selects from ``low`` to ``high`` (inclusive), for a task
    added at ``added`` in a scheduler whose zone is ``zone``."""
    instants: list[int]
    if isinstance(value, Interval):
        anchor = added if value.start is None else _whole(value.start)
        seconds = int(value.seconds)
        assert seconds == value.seconds
        k = max(0, -(-(low - anchor) // seconds))
        instants = list(range(anchor + k * seconds, high + 1, seconds))
    elif isinstance(value, Cron):
        name = _zone_name(value.timezone, zone)
        first = _local_date(name, low) - timedelta(days=1)
        last = _local_date(name, high) + timedelta(days=1)
        instants = list(cron_instants(value.expression, name, first, last))
    elif isinstance(value, At):
        when = value.when
        if when.utcoffset() is None:
            instants = [instant_of(_zone_name(value.timezone, zone), when)]
        else:
            instants = [_whole(when)]
    elif isinstance(value, Calendar):
        name = _zone_name(value.timezone, zone)
        anchor = _local_date(name, added if value.start is None else _whole(value.start))
        months = 12 * value.years + value.months
        days = 7 * value.weeks + value.days
        last = _local_date(name, high) + timedelta(days=1)
        instants = list(calendar_instants(months, days, value.at, name, anchor, last))
    elif isinstance(value, AnyOf):
        # A combination's start is where its parts without one count from.
        inner = added if value.start is None else _whole(value.start)
        union: set[int] = set()
        for part in value.schedules:
            union.update(ref_slots(part, inner, low, high, zone))
        instants = sorted(union)
    else:
        assert isinstance(value, AllOf)
        inner = added if value.start is None else _whole(value.start)
        common = set(ref_slots(value.schedules[0], inner, low, high, zone))
        for part in value.schedules[1:]:
            common &= set(ref_slots(part, inner, low, high, zone))
        instants = sorted(common)
    return [t for t in _bounded(value, iter(instants)) if low <= t <= high]


def ref_runs(value: Schedule, added: int, high: int, zone: str = "UTC") -> list[int]:
    """The runs a task of ``value`` added at ``added`` makes up to ``high``, as ``preview``
    lists them: after ``added`` (an interval's from ``added`` itself)."""
    if isinstance(value, Interval):
        seconds = int(value.seconds)
        if value.start is None and value.end is None:
            return list(range(added, high + 1, seconds))
        if not value.fixed:  # from its start or at once, then as if runs took no time
            first = added if value.start is None else max(added, _whole(value.start))
            last = high if value.end is None else min(high, int(value.end.timestamp()))
            return list(range(first, last + 1, seconds))
        return ref_slots(value, added, added, high, zone)
    if isinstance(value, At):
        return ref_slots(value, added, 0, max(high, 2**40), zone)[:1]
    return ref_slots(value, added, added + 1, high, zone)


# -- the implementation's runs ------------------------------------------------------------


def preview_instants(value: Schedule, count: int, added: int, zone: str = "UTC") -> list[int]:
    after = datetime.fromtimestamp(added, UTC)
    runs = quiv.preview(value, count, after, timezone=zone)
    instants = [run.utc.timestamp() for run in runs]
    assert all(t == int(t) for t in instants)
    return [int(t) for t in instants]


def impl_runs(value: Schedule, added: int, high: int, zone: str, expected: int) -> list[int]:
    """The runs up to ``high`` by the scheduler's own arithmetic: ``preview`` of one more
    than the ``expected`` number (so that a run too many shows), or, past what a preview
    lists, its schedule's slots one by one."""
    if expected < MAX_PREVIEW:
        try:
            runs = preview_instants(value, expected + 1, added, zone)
        except InvalidScheduleError:
            return []
        return [t for t in runs if t <= high]
    schedule = resolve(value, resolve_timezone(zone), float(added))
    assert not isinstance(schedule, IntervalSchedule)
    slot: float | None = first_slot(schedule, float(added))
    found: list[int] = []
    while slot is not None and slot <= high:
        assert slot == int(slot)
        found.append(int(slot))
        slot = schedule.next_slot(slot)
    assert preview_instants(value, MAX_PREVIEW, added, zone) == found[:MAX_PREVIEW]
    return found


def _shown(instants: list[int], zone: str) -> list[str]:
    return [datetime.fromtimestamp(t, _zone(zone)).isoformat() for t in instants]


def assert_runs(
    value: Schedule, added: datetime | int, until: datetime | int, zone: str = "UTC"
) -> list[int]:
    """The implementation's runs of ``value`` from ``added`` up to ``until`` are the
    reference's; returns them."""
    start = added if isinstance(added, int) else _whole(added)
    high = until if isinstance(until, int) else _whole(until)
    expected = ref_runs(value, start, high, zone)
    actual = impl_runs(value, start, high, zone, len(expected))
    if actual != expected:  # readable: on the zone's clock
        assert _shown(actual, zone) == _shown(expected, zone)
    return expected


def test_the_reference_itself_on_known_transitions() -> None:
    def utc_of(name: str, *wall: int) -> str:
        return datetime.fromtimestamp(instant_of(name, datetime(*wall)), UTC).isoformat()

    assert utc_of(NY, 2024, 3, 10, 2, 30) == "2024-03-10T07:00:00+00:00"  # gap: 03:00 EDT
    assert utc_of(NY, 2024, 11, 3, 1, 30) == "2024-11-03T05:30:00+00:00"  # fold: EDT
    assert len(every_instant_of(NY, datetime(2024, 11, 3, 1, 30))) == 2
    assert utc_of(BERLIN, 2025, 3, 30, 2, 0) == "2025-03-30T01:00:00+00:00"
    assert utc_of(LORD_HOWE, 2024, 10, 6, 2, 15) == "2024-10-05T15:30:00+00:00"
    assert utc_of(LORD_HOWE, 2024, 4, 7, 1, 45) == "2024-04-06T14:45:00+00:00"  # +11 first
    assert utc_of(APIA, 2011, 12, 30, 12, 0) == "2011-12-30T10:00:00+00:00"
    assert utc_of(APIA, 2011, 12, 31, 0, 0) == "2011-12-30T10:00:00+00:00"
    assert utc_of(MOSCOW, 2011, 3, 27, 2, 30) == "2011-03-26T23:00:00+00:00"
    assert utc_of(MOSCOW, 2014, 10, 26, 1, 30) == "2014-10-25T21:30:00+00:00"  # +04 first
    assert utc_of(TOKYO, 2024, 6, 1, 9, 0) == "2024-06-01T00:00:00+00:00"
    assert list(calendar_dates(date(2024, 1, 31), 1, 0, date(2024, 6, 1))) == [
        date(2024, 1, 31),
        date(2024, 3, 31),
        date(2024, 5, 31),
    ]
    assert list(calendar_dates(date(2024, 1, 31), 1, 1, date(2024, 5, 3))) == [
        date(2024, 1, 31),
        date(2024, 4, 1),
        date(2024, 5, 2),
    ]
    weekdays = RefCron.parse("0 9 * * MON-FRI")
    assert [weekdays.selects(date(2024, 6, d)) for d in range(1, 4)] == [False, False, True]
    assert RefCron.parse("*/20 1-3/2 * * 0,7").hours == {1, 3}
    assert RefCron.parse("*/20 1-3/2 * * 0,7").weekdays == {0}
    assert RefCron.parse("0 0 1 * MON").selects(date(2024, 6, 3))  # either day field


# -- the windows: whole years, and a year around each historical change --------------------


@dataclass(frozen=True)
class Window:
    zone: str
    first: date
    last: date  # exclusive: the window ends at its midnight
    times: tuple[str, ...]  # wall times worth testing there (in DST gaps and folds)

    @property
    def start(self) -> datetime:
        return _local(self.zone, self.first.year, self.first.month, self.first.day)

    @property
    def end(self) -> datetime:
        return _local(self.zone, self.last.year, self.last.month, self.last.day)

    def on(self, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
        """A day in the window (of its first year, or its second from July on)."""
        year = self.first.year if month >= self.first.month else self.first.year + 1
        return _local(self.zone, year, month, day, hour, minute)

    def __str__(self) -> str:
        return f"{self.zone}-{self.first.year}"


def _year(zone: str, year: int, times: tuple[str, ...]) -> Window:
    return Window(zone, date(year, 1, 1), date(year + 1, 1, 1), times)


WINDOWS = [
    # 02:30: in the spring gap (Mar) and not in the fall fold (01:00-02:00); 01:30: the fold.
    _year(NY, 2024, ("09:00", "02:30", "01:30")),
    _year(NY, 2025, ("00:00", "02:30", "01:30")),
    # 02:30: in the spring gap (02:00-03:00, Mar) and in the autumn fold (02:00-03:00, Oct).
    _year(BERLIN, 2024, ("09:00", "02:30")),
    _year(BERLIN, 2025, ("00:00", "02:30")),
    # DST ends in April (02:00 -> 01:30: 01:45 twice), starts in October (02:00 -> 02:30).
    _year(LORD_HOWE, 2024, ("09:00", "02:15", "01:45")),
    _year(LORD_HOWE, 2025, ("00:00", "02:15", "01:45")),
    _year(TOKYO, 2024, ("09:00", "00:00")),
    _year(TOKYO, 2025, ("23:59",)),
    # 2011-09-24 03:00 -> 04:00 (03:30 skipped), 30 Dec 2011 skipped, 2012-04-01 04:00 ->
    # 03:00 (03:30 twice).
    Window(APIA, date(2011, 7, 1), date(2012, 7, 1), ("00:00", "09:00", "03:30")),
    _year(MOSCOW, 2011, ("02:30", "09:00")),
    _year(MOSCOW, 2014, ("01:30", "00:00")),
]

# (years, months, weeks, days, the start's month and day)
UNITS = [
    (0, 0, 0, 1, (1, 1)),
    (0, 0, 0, 3, (1, 2)),
    (0, 0, 2, 0, (1, 3)),
    (0, 1, 0, 0, (1, 29)),
    (0, 1, 0, 0, (1, 30)),
    (0, 1, 0, 0, (1, 31)),
    (0, 1, 0, 0, (7, 31)),
    (0, 2, 0, 0, (3, 31)),
    (0, 1, 0, 1, (1, 31)),
    (0, 1, 1, 2, (1, 30)),
    (1, 0, 0, 0, (8, 31)),
]


def _calendar_cases() -> Iterator[Any]:
    for window in WINDOWS:
        for at in window.times:
            for years, months, weeks, days, (month, day) in UNITS:
                name = f"{window}-{at}-y{years}m{months}w{weeks}d{days}-from{month}.{day}"
                yield pytest.param(window, at, (years, months, weeks, days), (month, day), id=name)


# -- Calendar over whole years ------------------------------------------------------------


@pytest.mark.parametrize(("window", "at", "units", "start_day"), list(_calendar_cases()))
def test_calendar_over_a_whole_year_matches_the_reference(
    window: Window, at: str, units: tuple[int, int, int, int], start_day: tuple[int, int]
) -> None:
    years, months, weeks, days = units
    start = window.on(*start_day)
    value = Calendar(
        years=years,
        months=months,
        weeks=weeks,
        days=days,
        at=at,
        timezone=window.zone,
        start=start,
        end=window.end,
    )
    runs = assert_runs(value, window.start - timedelta(days=1), window.end)
    assert runs, "every case runs at least once in its window"
    local = [datetime.fromtimestamp(t, _zone(window.zone)) for t in runs]
    # Every run is on the wall time, unless a gap skipped it (on that day or, in Apia, the
    # day before): then it is the instant the clocks jumped over it.
    wall = time.fromisoformat(at)
    for moment in local:
        if moment.time() != wall:
            skipped = [
                datetime.combine(moment.date() - timedelta(days=back), wall) for back in (0, 1)
            ]
            assert any(
                every_instant_of(window.zone, w) == ()
                and instant_of(window.zone, w) == moment.timestamp()
                for w in skipped
            )


def test_calendar_every_month_from_the_31st_runs_on_every_31st() -> None:
    value = Calendar(months=1, at="09:00", timezone=NY, start=_local(NY, 2024, 1, 31))
    runs = assert_runs(value, _local(NY, 2024, 1, 1), _local(NY, 2025, 12, 31, 23))
    assert [moment.date().isoformat() for moment in _moments(runs, NY)] == [
        f"{year}-{month:02}-31" for year in (2024, 2025) for month in (1, 3, 5, 7, 8, 10, 12)
    ]


@pytest.mark.parametrize(
    ("day", "spring"),
    [
        (29, ["2024-02-29", "2024-03-29", "2025-03-29"]),
        (30, ["2024-03-30", "2025-03-30"]),
        (31, ["2024-03-31", "2025-03-31"]),
    ],
)
def test_calendar_every_month_from_the_end_of_january(day: int, spring: list[str]) -> None:
    value = Calendar(months=1, at="12:00", timezone=BERLIN, start=_local(BERLIN, 2024, 1, day))
    runs = assert_runs(value, _local(BERLIN, 2024, 1, 1), _local(BERLIN, 2025, 12, 31, 23))
    dates = [moment.date() for moment in _moments(runs, BERLIN)]
    assert all(d.day == day for d in dates)
    assert len(dates) == 24 - (2 if day > 29 else 1) - (0 if day < 31 else 8)
    assert [d.isoformat() for d in dates if d.month in (2, 3)] == spring


@pytest.mark.parametrize("zone", [NY, LORD_HOWE, TOKYO])
def test_calendar_every_year_from_the_29th_of_february_runs_in_leap_years(zone: str) -> None:
    value = Calendar(years=1, at="02:15", timezone=zone, start=_local(zone, 2024, 2, 29))
    runs = assert_runs(value, _local(zone, 2024, 1, 1), _local(zone, 2109, 1, 1))
    assert [m.date().year for m in _moments(runs, zone)] == [
        year for year in range(2024, 2109, 4) if year != 2100
    ]
    assert all(m.date().month == 2 and m.date().day == 29 for m in _moments(runs, zone))


def test_calendar_months_and_days_step_from_each_date() -> None:
    value = Calendar(months=1, days=1, at="08:00", timezone=TOKYO, start=_local(TOKYO, 2025, 1, 31))
    runs = assert_runs(value, _local(TOKYO, 2025, 1, 1), _local(TOKYO, 2025, 7, 1))
    assert [m.date().isoformat() for m in _moments(runs, TOKYO)] == [
        "2025-01-31",  # + 1 month: no 31 February, so 31 March; + 1 day
        "2025-04-01",
        "2025-05-02",
        "2025-06-03",
    ]


def test_calendar_in_a_gap_runs_at_its_end_and_in_a_fold_at_its_first_occurrence() -> None:
    value = Calendar(days=1, at="02:30", timezone=NY, start=_local(NY, 2024, 3, 9))
    spring = _moments(assert_runs(value, _local(NY, 2024, 3, 1), _local(NY, 2024, 3, 12)), NY)
    assert [m.isoformat() for m in spring] == [
        "2024-03-09T02:30:00-05:00",
        "2024-03-10T03:00:00-04:00",  # 02:30 never happened: the clocks jumped at 02:00 EST
        "2024-03-11T02:30:00-04:00",
    ]
    value = Calendar(days=1, at="01:30", timezone=NY, start=_local(NY, 2024, 11, 2))
    fall = assert_runs(value, _local(NY, 2024, 11, 1), _local(NY, 2024, 11, 5))
    assert [datetime.fromtimestamp(t, UTC).isoformat() for t in fall] == [
        "2024-11-02T05:30:00+00:00",
        "2024-11-03T05:30:00+00:00",  # 01:30 EDT, the first of the two
        "2024-11-04T06:30:00+00:00",
    ]
    value = Calendar(days=1, at="02:15", timezone=LORD_HOWE, start=_local(LORD_HOWE, 2024, 10, 5))
    runs = assert_runs(value, _local(LORD_HOWE, 2024, 10, 1), _local(LORD_HOWE, 2024, 10, 8))
    assert [m.isoformat() for m in _moments(runs, LORD_HOWE)] == [
        "2024-10-05T02:15:00+10:30",
        "2024-10-06T02:30:00+11:00",  # 02:00 -> 02:30
        "2024-10-07T02:15:00+11:00",
    ]


def test_calendar_over_the_day_apia_skipped() -> None:
    # 30 December 2011 never happened in Apia: its 00:00 and its 09:00 run when the clocks
    # jumped (29 Dec 24:00 -10 = 31 Dec 00:00 +14), and 31 Dec 00:00 is that same instant.
    start = _local(APIA, 2011, 12, 28)
    midnight = Calendar(days=1, at="00:00", timezone=APIA, start=start)
    runs = assert_runs(midnight, start - timedelta(hours=1), _local(APIA, 2012, 1, 2))
    assert [datetime.fromtimestamp(t, UTC).isoformat() for t in runs] == [
        "2011-12-28T10:00:00+00:00",
        "2011-12-29T10:00:00+00:00",
        "2011-12-30T10:00:00+00:00",  # 30 Dec (in the gap) and 31 Dec: one run
        "2011-12-31T10:00:00+00:00",
        "2012-01-01T10:00:00+00:00",
    ]
    nine = Calendar(days=1, at="09:00", timezone=APIA, start=start)
    runs = assert_runs(nine, start, _local(APIA, 2012, 1, 2))
    assert [m.isoformat() for m in _moments(runs, APIA)] == [
        "2011-12-28T09:00:00-10:00",
        "2011-12-29T09:00:00-10:00",
        "2011-12-31T00:00:00+14:00",  # 30 Dec 09:00, in the gap
        "2011-12-31T09:00:00+14:00",
        "2012-01-01T09:00:00+14:00",
    ]


def test_calendar_start_and_end_are_inclusive() -> None:
    start = _local(BERLIN, 2025, 3, 1, 9)
    end = _local(BERLIN, 2025, 3, 10, 9)
    value = Calendar(days=1, at="09:00", timezone=BERLIN, start=start, end=end)
    runs = assert_runs(value, start - timedelta(seconds=1), end + timedelta(days=5))
    assert runs[0] == _whole(start)
    assert runs[-1] == _whole(end)
    assert len(runs) == 10
    # One second less of end: the last slot is a second after it, and does not run.
    shorter = Calendar(
        days=1, at="09:00", timezone=BERLIN, start=start, end=end - timedelta(seconds=1)
    )
    runs = assert_runs(shorter, start - timedelta(seconds=1), end + timedelta(days=5))
    assert runs[-1] == _whole(end) - DAY
    assert len(runs) == 9
    # A start one second after the slot: the first run is the next day's.
    later = Calendar(days=1, at="09:00", timezone=BERLIN, start=start + timedelta(seconds=1))
    assert preview_instants(later, 1, _whole(start) - 5) == [_whole(start) + DAY]


def test_calendar_without_a_start_counts_from_the_day_it_is_added() -> None:
    # Added on 10 Jan (Tokyo) after 09:00: that day's slot is past, the next is 14 days on.
    added = _whole(_local(TOKYO, 2024, 1, 10, 12))
    value = Calendar(weeks=2, at="09:00", timezone=TOKYO)
    runs = preview_instants(value, 3, added)
    assert runs == ref_runs(value, added, added + 60 * DAY)[:3]
    assert [m.date().isoformat() for m in _moments(runs, TOKYO)] == [
        "2024-01-24",
        "2024-02-07",
        "2024-02-21",
    ]
    # The date is the one in the calendar's zone (the scheduler's when it has none).
    late = _whole(datetime(2024, 1, 31, 1, tzinfo=UTC))  # 30 Jan in New York
    monthly = Calendar(months=1, at="21:00")
    runs = preview_instants(monthly, 3, late, NY)
    assert runs == ref_runs(monthly, late, late + 200 * DAY, NY)[:3]
    assert [m.date().isoformat() for m in _moments(runs, NY)] == [
        "2024-01-30",  # 21:00 on 30 Jan in New York is 02:00 on 31 Jan in UTC
        "2024-03-30",
        "2024-04-30",
    ]


def test_calendar_added_long_after_its_start_keeps_the_start_s_dates() -> None:
    value = Calendar(weeks=2, at="09:00", timezone=NY, start=_local(NY, 2024, 1, 1))  # Monday
    added = _local(NY, 2024, 6, 5)
    runs = assert_runs(value, added, _local(NY, 2024, 12, 31))
    moments = _moments(runs, NY)
    assert moments[0].date() == date(2024, 6, 17)
    assert all((m.date() - date(2024, 1, 1)).days % 14 == 0 for m in moments)


# -- Cron and Interval with start and end ---------------------------------------------------


CRONS = ["0 9 * * *", "30 2 * * *", "15 2 * * 1-5", "0 */6 * * *", "45 1 1,15 * *"]


@pytest.mark.parametrize("expression", CRONS)
@pytest.mark.parametrize("window", WINDOWS, ids=str)
def test_cron_with_start_and_end_over_a_whole_year(window: Window, expression: str) -> None:
    # The start is between two slots; the end is the end of the window.
    start = window.start + timedelta(hours=10, minutes=30)
    value = Cron(expression, timezone=window.zone, start=start, end=window.end)
    runs = assert_runs(value, window.start - timedelta(days=3), window.end + timedelta(days=3))
    assert runs[0] > _whole(start)
    assert runs[-1] <= _whole(window.end)


def test_cron_runs_on_its_start_and_end_and_not_a_second_past_the_end() -> None:
    start = _local(LORD_HOWE, 2024, 4, 5, 9)
    end = _local(LORD_HOWE, 2024, 4, 9, 9)
    value = Cron("0 9 * * *", timezone=LORD_HOWE, start=start, end=end)
    assert preview_instants(value, 10, _whole(start) - 1) == [
        _whole(start) + k * DAY + (1800 if k >= 2 else 0)
        for k in range(5)  # DST ends on 7 Apr
    ]
    inside = Cron("0 9 * * *", timezone=LORD_HOWE, start=start + timedelta(hours=1), end=end)
    assert len(assert_runs(inside, start, end + timedelta(days=2))) == 4
    early = Cron("0 9 * * *", timezone=LORD_HOWE, start=start, end=end - timedelta(seconds=1))
    assert assert_runs(early, start - timedelta(days=1), end + timedelta(days=2))[-1] < _whole(end)


def test_every_hour_cron_keeps_elapsed_time_in_combinations() -> None:
    # Every hour in Lord Howe, through the April fold (the hour 01:30-02:00 comes twice, the
    # clock reads :00 at every real hour) and the October gap.
    start = _local(LORD_HOWE, 2024, 4, 1)
    end = _local(LORD_HOWE, 2024, 10, 31)
    value = Cron("0 * * * *", timezone=LORD_HOWE) | Calendar(days=1, at="01:45", start=start)
    runs = assert_runs(value, start, end, LORD_HOWE)
    assert len(runs) > MAX_PREVIEW


@pytest.mark.parametrize("zone", [NY, LORD_HOWE, APIA])
def test_interval_with_start_and_end_runs_on_the_wall_clock(zone: str) -> None:
    start = _local(zone, 2011, 11, 1, 3, 17)
    end = start + timedelta(days=90)
    value = Interval(7 * HOUR + 13, start=start, end=end)
    runs = assert_runs(value, start - timedelta(days=1), end + timedelta(days=1))
    assert runs[0] == _whole(start)
    assert all(b - a == 7 * HOUR + 13 for a, b in itertools.pairwise(runs))
    # Added between two slots: the first run is the next slot (as the scheduler runs it).
    later = _whole(start) + 10 * DAY + 5
    assert preview_instants(value, 2, later)[0] == ref_runs(value, later, later + DAY)[0]
    # Added exactly on a slot: that slot runs.
    on_slot = _whole(start) + 3 * (7 * HOUR + 13)
    assert preview_instants(value, 1, on_slot) == [on_slot]
    # The end on a slot: it runs; the end a second before it: it does not.
    last = _whole(start) + 20 * (7 * HOUR + 13)
    ending = Interval(7 * HOUR + 13, start=start, end=datetime.fromtimestamp(last, UTC))
    assert assert_runs(ending, start, end)[-1] == last
    ending = Interval(7 * HOUR + 13, start=start, end=datetime.fromtimestamp(last - 1, UTC))
    assert assert_runs(ending, start, end)[-1] == last - (7 * HOUR + 13)


def test_interval_previews() -> None:
    added = _whole(datetime(2025, 5, 5, 12, 0, 7, tzinfo=UTC))
    assert preview_instants(Interval(90), 3, added) == [added, added + 90, added + 180]
    start = datetime(2025, 5, 6, tzinfo=UTC)
    assert preview_instants(Interval(HOUR, start=start), 2, added) == [
        _whole(start),
        _whole(start) + HOUR,
    ]
    # Only an end: from the moment of adding, up to the end.
    only_end = Interval(HOUR, end=datetime.fromtimestamp(added + 2 * HOUR, UTC))
    assert preview_instants(only_end, 5, added) == [added, added + HOUR, added + 2 * HOUR]
    # fixed=False with a start: at the start, then as if runs took no time.
    loose = Interval(HOUR, fixed=False, start=start, end=start + timedelta(hours=2))
    assert preview_instants(loose, 5, added) == ref_runs(loose, added, added + 9 * DAY)
    assert len(preview_instants(loose, 5, added)) == 3
    for value in (only_end, Interval(60, start=start), loose):
        assert preview_instants(value, 5, added) == ref_runs(value, added, added + 9 * DAY)[:5]


def test_an_interval_whose_end_has_passed_has_no_run() -> None:
    end = datetime(2025, 1, 1, tzinfo=UTC)
    for value in (Interval(60, end=end), Interval(60, fixed=False, end=end)):
        with pytest.raises(InvalidScheduleError):
            quiv.preview(value, 1, end + timedelta(seconds=1))


# -- combinations -------------------------------------------------------------------------


def _combinations(window: Window) -> list[tuple[str, Schedule]]:
    zone = window.zone
    start = window.on(1, 3, 7, 20) if window.first.month == 1 else window.on(7, 3, 7, 20)
    mid = window.start + (window.end - window.start) / 2
    return [
        (
            "mondays-at-9",
            Cron("0 9 * * *", timezone=zone) & Cron("0 * * * MON", timezone=zone),
        ),
        (
            "weekdays-from-start",
            Calendar(days=1, at="09:00", timezone=zone, start=start)
            & Cron("0 9 * * 1-5", timezone=zone),
        ),
        (
            "union-dedup",
            Cron("0 9 * * *", timezone=zone)
            | Calendar(days=1, at="09:00", timezone=zone, start=start)
            | Cron("0 9 * * 1-5", timezone=zone),
        ),
        (
            "gap-dedup",
            Cron("30 2 * * *", timezone=zone) | Cron("0 3 * * *", timezone=zone),
        ),
        (
            "one-part-ends",
            Cron("0 9 * * *", timezone=zone, end=mid)
            | Calendar(weeks=1, at="12:00", timezone=zone, start=start),
        ),
        (
            "interval-in-union",
            AnyOf(Interval(3 * DAY + 7 * HOUR, start=start), Cron("0 12 * * SAT", timezone=zone)),
        ),
        (
            "intervals-agree",
            Interval(6 * HOUR, start=start) & Interval(15 * HOUR, start=start),
        ),
        (
            "interval-and-calendar",
            AllOf(
                Interval(DAY, start=start),
                Calendar(months=1, at="07:20", timezone=zone, start=start),
                end=window.end,
            ),
        ),
        (
            "nested",
            AllOf(
                AnyOf(Cron("0 9 * * MON", timezone=zone), Cron("0 9 * * FRI", timezone=zone)),
                Calendar(weeks=1, days=1, at="09:00", timezone=zone, start=start),
            )
            | AnyOf(
                Calendar(months=1, at="02:30", timezone=zone, start=window.start),
                Cron("45 1 * * SUN", timezone=zone),
                start=mid,
                end=mid + timedelta(days=60),
            ),
        ),
        (
            "unanchored-parts",
            AnyOf(
                Interval(5 * DAY + 1),
                Calendar(days=10, at="02:15"),
                AllOf(Cron("0 2 * * *"), Calendar(days=2, at="02:00")),
                start=start,
            ),
        ),
    ]


def _combination_cases() -> Iterator[Any]:
    for window in WINDOWS:
        for name, value in _combinations(window):
            yield pytest.param(window, value, id=f"{window}-{name}")


@pytest.mark.parametrize(("window", "value"), list(_combination_cases()))
def test_combinations_over_a_whole_year_match_the_reference(
    window: Window, value: Schedule
) -> None:
    runs = assert_runs(value, window.start, window.end, window.zone)
    assert runs


@pytest.mark.parametrize("zone", [NY, BERLIN, LORD_HOWE, TOKYO])
def test_all_of_daily_and_hourly_on_mondays_is_mondays_at_nine(zone: str) -> None:
    value = Cron("0 9 * * *", timezone=zone) & Cron("0 * * * MON", timezone=zone)
    runs = assert_runs(value, _local(zone, 2024, 1, 1), _local(zone, 2026, 1, 1))
    moments = _moments(runs, zone)
    assert len(moments) == 53 + 52  # 2024 begins and ends on a Monday
    assert all(m.weekday() == 0 and m.time() == time(9) for m in moments)


def test_all_of_calendar_and_weekday_cron_is_weekdays_from_the_start() -> None:
    start = _local(BERLIN, 2025, 3, 26, 10)  # Wednesday, after 09:00: from Thursday on
    value = Calendar(days=1, at="09:00", start=start) & Cron("0 9 * * 1-5")
    runs = preview_instants(value, 5, _whole(start) - DAY, BERLIN)
    assert [m.strftime("%a %d %H:%M %z") for m in _moments(runs, BERLIN)] == [
        "Thu 27 09:00 +0100",
        "Fri 28 09:00 +0100",
        "Mon 31 09:00 +0200",
        "Tue 01 09:00 +0200",
        "Wed 02 09:00 +0200",
    ]


def test_any_of_dedups_equal_instants() -> None:
    added = _whole(_local(TOKYO, 2024, 6, 1))
    value = Cron("0 9 * * *", timezone=TOKYO) | Calendar(days=1, at="09:00", timezone=TOKYO)
    runs = preview_instants(value, 10, added)
    assert [b - a for a, b in itertools.pairwise(runs)] == [DAY] * 9
    # The end of a gap is one instant, whichever wall time ran there.
    gap = Cron("30 2 * * *", timezone=NY) | Cron("0 3 * * *", timezone=NY)
    spring = preview_instants(gap, 4, _whole(_local(NY, 2024, 3, 9, 12)))
    assert [m.strftime("%d %H:%M") for m in _moments(spring, NY)] == [
        "10 03:00",
        "11 02:30",
        "11 03:00",
        "12 02:30",
    ]


def test_any_of_where_one_part_ends() -> None:
    end = _local(NY, 2024, 3, 5, 9)
    value = Cron("0 9 * * *", timezone=NY, end=end) | Calendar(
        weeks=1, at="12:00", timezone=NY, start=_local(NY, 2024, 3, 1)
    )
    runs = assert_runs(value, _local(NY, 2024, 3, 2), _local(NY, 2024, 4, 1))
    assert [m.strftime("%d %H") for m in _moments(runs, NY)] == [
        "02 09",
        "03 09",
        "04 09",
        "05 09",  # the end, on a slot: it runs
        "08 12",
        "15 12",
        "22 12",
        "29 12",
    ]
    # Every part ends: the combination ends too.
    both = Cron("0 9 * * *", timezone=NY, end=end) | At(_local(NY, 2024, 3, 20, 18))
    runs = preview_instants(both, 10, _whole(_local(NY, 2024, 3, 2)))
    assert [m.strftime("%d %H") for m in _moments(runs, NY)] == [
        "02 09",
        "03 09",
        "04 09",
        "05 09",
        "20 18",
    ]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(Cron("0 0 * * *") & Cron("30 0 * * *"), id="cron-half-an-hour-apart"),
        pytest.param(
            Interval(HOUR, start=datetime(2025, 1, 1, tzinfo=UTC))
            & Interval(HOUR, start=datetime(2025, 1, 1, 0, 30, tzinfo=UTC)),
            id="intervals-offset-anchors",
        ),
        pytest.param(
            Cron("0 9 * * *", timezone=BERLIN) & Calendar(days=1, at="10:00", timezone=BERLIN),
            id="cron-and-calendar",
        ),
        pytest.param(
            Cron("0 9 * * *", end=datetime(2025, 1, 10, tzinfo=UTC))
            & Cron("0 9 * * SAT", start=datetime(2025, 1, 12, tzinfo=UTC)),
            id="bounds-that-never-meet",
        ),
    ],
)
def test_all_of_that_never_agrees_has_no_run(value: Schedule) -> None:
    # Parts that end before they meet select no run; parts that never meet are searched
    # for a bounded number of steps, and the error says they never agree.
    with pytest.raises(InvalidScheduleError, match=r"selects no run|never agree"):
        quiv.preview(value, 1, datetime(2025, 1, 1, tzinfo=UTC))


def test_an_all_of_that_never_agrees_is_refused_inside_an_any_of_too() -> None:
    # Else every next run of the AnyOf would pay for a whole search that finds nothing.
    never = Cron("0 0 * * *") & Cron("30 0 * * *")
    with pytest.raises(InvalidScheduleError, match="never agree"):
        quiv.preview(never | Cron("0 9 * * *"), 1, datetime(2025, 1, 1, tzinfo=UTC))
    ended = (Cron("0 0 * * *") & Cron("0 0 * * *", end=datetime(2024, 1, 1, tzinfo=UTC))) | Cron(
        "0 9 * * *"
    )
    # A part that has ended is no error: the AnyOf runs on its other parts.
    assert len(quiv.preview(ended, 2, datetime(2025, 1, 1, tzinfo=UTC))) == 2


def test_all_of_intervals_agree_at_their_common_multiple() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    value = Interval(4 * HOUR, start=start) & Interval(6 * HOUR, start=start)
    runs = preview_instants(value, 4, _whole(start) - 1)
    assert runs == [_whole(start) + k * 12 * HOUR for k in range(4)]
    # Anchored on the moment of adding: the first run is one common multiple later.
    unanchored = Interval(4 * HOUR) & Interval(6 * HOUR)
    assert preview_instants(unanchored, 2, _whole(start)) == [
        _whole(start) + 12 * HOUR,
        _whole(start) + 24 * HOUR,
    ]


def test_interval_in_a_combination_starts_one_interval_after_adding() -> None:
    added = _whole(datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC))
    value = Interval(HOUR) | Cron("0 0 1 1 *")
    assert preview_instants(value, 3, added) == [added + HOUR, added + 2 * HOUR, added + 3 * HOUR]
    assert preview_instants(value, 3, added) == ref_runs(value, added, added + DAY)[:3]


def test_combination_bounds_apply_to_every_part() -> None:
    start = _local(TOKYO, 2025, 1, 6, 12)
    end = _local(TOKYO, 2025, 1, 8, 9)
    value = AnyOf(
        Cron("0 9 * * *", timezone=TOKYO),
        Calendar(days=1, at="18:00", timezone=TOKYO),
        start=start,
        end=end,
    )
    runs = assert_runs(value, start - timedelta(days=3), end + timedelta(days=3))
    assert [m.strftime("%d %H") for m in _moments(runs, TOKYO)] == [
        "06 18",
        "07 09",
        "07 18",
        "08 09",
    ]


def test_or_and_and_flatten_unbounded_combinations_only() -> None:
    a, b, c = Cron("0 1 * * *"), Cron("0 2 * * *"), Calendar(days=2)
    assert a | b | c == AnyOf(a, b, c)
    assert a & b & c == AllOf(a, b, c)
    assert (a | b) & c == AllOf(AnyOf(a, b), c)
    end = datetime(2030, 1, 1, tzinfo=UTC)
    bounded = AnyOf(a, b, end=end)
    assert bounded | c == AnyOf(bounded, c)
    assert (a | b).__or__(5) is NotImplemented  # type: ignore[operator]


# -- preview: each kind against the reference ----------------------------------------------


def _preview_cases() -> list[Any]:
    added = _whole(_local(BERLIN, 2025, 3, 28, 14, 7))
    start = _local(BERLIN, 2025, 3, 29, 2)
    values: list[tuple[str, Schedule]] = [
        ("interval", Interval(7 * HOUR)),
        ("interval-loose", Interval(7 * HOUR, fixed=False)),
        ("interval-start", Interval(7 * HOUR, start=start)),
        ("interval-end", Interval(7 * HOUR, end=start + timedelta(days=1))),
        ("cron", Cron("30 2 * * *")),
        ("cron-zone", Cron("30 2 * * *", timezone=NY)),
        ("cron-start", Cron("30 2 * * *", start=start)),
        ("at-aware", At(_local(NY, 2025, 4, 1, 12))),
        ("at-naive", At(datetime(2025, 3, 30, 2, 30))),
        ("at-naive-zone", At(datetime(2025, 3, 30, 2, 30), timezone=LORD_HOWE)),
        ("at-past", At(_local(BERLIN, 2025, 3, 1))),
        ("calendar", Calendar(days=1, at="02:30")),
        ("calendar-start", Calendar(weeks=1, at="02:30", start=start)),
        ("any-of", Cron("0 9 * * *") | Calendar(days=1, at="02:30")),
        ("all-of", Cron("30 2 * * *") & Calendar(days=2, at="02:30", start=start)),
    ]
    return [pytest.param(value, added, id=name) for name, value in values]


@pytest.mark.parametrize(("value", "added"), _preview_cases())
def test_preview_of_each_kind_matches_the_reference(value: Schedule, added: int) -> None:
    expected = ref_runs(value, added, added + 100 * DAY, BERLIN)[:10]
    assert preview_instants(value, 10, added, BERLIN) == expected


def test_preview_shows_local_times_in_the_schedule_s_zone() -> None:
    after = datetime(2024, 12, 31, 12, tzinfo=UTC)  # 21:00 in Tokyo, 07:00 in New York
    runs = quiv.preview(Calendar(days=1, at="09:00", timezone=TOKYO), 2, after, timezone=NY)
    assert [run.local.isoformat() for run in runs] == [
        "2025-01-01T09:00:00+09:00",
        "2025-01-02T09:00:00+09:00",
    ]
    runs = quiv.preview(Cron("0 9 * * *"), 1, after, timezone=LORD_HOWE)
    assert runs[0].local.isoformat() == "2025-01-01T09:00:00+11:00"
    assert runs[0].utc == datetime(2024, 12, 31, 22, tzinfo=UTC)


def test_an_at_outside_its_bounds_is_refused() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidScheduleError, match="outside its start and end"):
        At(start - timedelta(seconds=1), start=start)
    with pytest.raises(InvalidScheduleError, match="outside its start and end"):
        At(start + timedelta(seconds=1), end=start)
    assert At(start, start=start, end=start).when == start
    # A naive one is read in its zone when the task is added: refused then.
    naive = At(datetime(2025, 1, 1, 0, 30), start=start + timedelta(hours=1))
    with pytest.raises(InvalidScheduleError, match="outside its start and end"):
        quiv.preview(naive, 1, start - timedelta(days=1))


# -- JSON, pickle, describe ----------------------------------------------------------------

# A fixed offset, as JSON keeps it (a datetime in a ZoneInfo zone reads back in its offset:
# see test_json_keeps_the_instant_of_a_datetime_in_a_named_zone).
_CET = timezone(timedelta(hours=1))
_T0 = datetime(2025, 3, 30, 1, 30, tzinfo=_CET)
_T1 = datetime(2025, 10, 26, 3, 30, tzinfo=_CET)

VALUES: list[Schedule] = [
    Interval(60),
    Interval(0.5, fixed=False),
    Interval(3600, start=_T0, end=_T1),
    Cron("0 9 * * MON-FRI"),
    Cron("*/15 * * * *", timezone=LORD_HOWE, start=_T0),
    Cron("0 0 L * *", timezone="UTC", end=_T1),
    At(datetime(2025, 1, 1, 9, tzinfo=UTC)),
    At(_T1),
    At(datetime(2025, 1, 1, 9)),
    At(datetime(2025, 1, 1, 9), timezone=APIA, start=_T0.replace(year=2024)),
    Calendar(days=1),
    Calendar(years=2, months=3, weeks=4, days=5, at="23:59:59", timezone=NY),
    Calendar(months=1, at=time(7, 5), start=_T0, end=_T1),
    Cron("0 9 * * *") | Calendar(weeks=1, at="12:00"),
    AnyOf(Cron("0 9 * * *"), Interval(7200, start=_T0), start=_T0, end=_T1),
    AllOf(Cron("0 9 * * *"), Cron("0 * * * MON"), Calendar(days=3, at="09:00", start=_T0)),
    AllOf(AnyOf(Cron("0 9 * * *"), At(_T1), end=_T1), Calendar(days=1, at="09:00"), start=_T0),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_json_and_pickle_round_trips(value: Schedule) -> None:
    data = value.to_json()
    assert data["description"] == value.describe()
    again = from_json(data)
    assert again == value
    assert hash(again) == hash(value)
    assert again.to_json() == data
    unpickled = pickle.loads(pickle.dumps(value))
    assert unpickled == value
    assert hash(unpickled) == hash(value)
    # Its runs are the same too.
    after = datetime(2025, 3, 1, tzinfo=UTC)
    assert quiv.preview(again, 5, after, timezone=TOKYO) == quiv.preview(
        value, 5, after, timezone=TOKYO
    )


def test_json_keeps_the_instant_of_a_datetime_in_a_named_zone() -> None:
    start = datetime(2025, 3, 30, 1, 30, tzinfo=_zone(BERLIN))
    when = datetime(2025, 10, 26, 2, 30, fold=1, tzinfo=_zone(BERLIN))  # the second 02:30
    end = datetime(2025, 10, 27, tzinfo=_zone(BERLIN))
    value = At(when, start=start) | Calendar(days=1, start=start, end=end)
    data = value.to_json()
    again = from_json(data)
    assert data["schedules"][0]["at"] == "2025-10-26T02:30:00+01:00"
    assert isinstance(again, AnyOf)
    assert isinstance(again.schedules[0], At)
    assert again.schedules[0].when.timestamp() == when.timestamp()
    # (Python never holds a datetime in a fold equal to one in another zone: compare the
    # rest of the value.)
    assert again.schedules[1] == value.schedules[1]
    assert again.start == value.start
    # The zone's name for its offsets (CET) is not in the JSON: read back, it is the offset.
    assert "CET" in value.describe()
    assert "UTC+01:00" in again.describe()
    assert from_json(again.to_json()).to_json() == again.to_json()
    after = datetime(2025, 3, 1, tzinfo=UTC)
    assert quiv.preview(again, 5, after) == quiv.preview(value, 5, after)


def test_json_of_a_zoneinfo_zone_names_it() -> None:
    value = Cron("0 9 * * *", timezone=_zone(BERLIN))
    data = value.to_json()
    assert data["timezone"] == BERLIN
    assert from_json(data) == Cron("0 9 * * *", timezone=BERLIN)
    assert from_json(data).to_json() == data


def test_from_json_reads_what_earlier_releases_stored() -> None:
    assert from_json({"kind": "interval", "every_seconds": 5}) == Interval(5)
    assert from_json({"kind": "cron", "expression": "@daily", "timezone": None}) == Cron("@daily")
    assert from_json({"kind": "calendar", "days": 2}) == Calendar(days=2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1], "expected a JSON object"),
        ({"kind": "weekly"}, "kind must be one of"),
        ({"kind": "cron"}, "'expression' is missing"),
        ({"kind": "any_of", "schedules": "x"}, "schedules must be a list"),
        ({"kind": "interval", "every_seconds": 5, "start": 7}, "ISO 8601 string"),
        ({"kind": "interval", "every_seconds": 5, "start": "soon"}, "is not ISO 8601"),
        ({"kind": "interval", "every_seconds": 5, "end": "2025-01-01T00:00"}, "timezone-aware"),
        ({"kind": "at", "at": 5}, "ISO 8601"),
        ({"kind": "at", "at": None}, "ISO 8601 string, got None"),
    ],
)
def test_from_json_refuses_what_describes_no_schedule(data: Any, message: str) -> None:
    with pytest.raises(InvalidScheduleError, match=message):
        from_json(data)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Interval(90), "every 90 s"),
        (Interval(0.25, fixed=False), "every 0.25 s after the previous run ends"),
        (
            Interval(60, start=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
            "every 60 s, from 2025-01-02 03:04:05 UTC",
        ),
        (Cron("0 9 * * MON-FRI"), "at 09:00, Monday to Friday"),
        (Cron("0 9 * * *", timezone=NY), "at 09:00, every day (America/New_York)"),
        (
            Cron("0 9 * * *", end=_local(BERLIN, 2025, 7, 1)),
            "at 09:00, every day, until 2025-07-01 00:00:00 CEST",
        ),
        (At(datetime(2025, 1, 1, 9, tzinfo=UTC)), "once, at 2025-01-01 09:00:00 UTC"),
        (At(datetime(2025, 1, 1, 9)), "once, at 2025-01-01 09:00:00"),
        (At(datetime(2025, 1, 1, 9), timezone=TOKYO), "once, at 2025-01-01 09:00:00 (Asia/Tokyo)"),
        (Calendar(days=1), "every day at 00:00"),
        (Calendar(weeks=2, at="9:5"), "every 2 weeks at 09:05"),
        (
            Calendar(months=1, at="02:30:15", timezone=NY),
            "every month at 02:30:15 (America/New_York)",
        ),
        (
            Calendar(years=1, months=6, days=3, at="12:00"),
            "every year and 6 months and 3 days at 12:00",
        ),
        (
            Calendar(
                days=1, start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2025, 2, 1, tzinfo=UTC)
            ),
            "every day at 00:00, from 2025-01-01 00:00:00 UTC, until 2025-02-01 00:00:00 UTC",
        ),
        (
            Cron("0 9 * * *") | Calendar(months=1),
            "any of: at 09:00, every day; every month at 00:00",
        ),
        (
            (Cron("0 9 * * *") | Cron("0 18 * * *")) & Calendar(days=2),
            "all of: (any of: at 09:00, every day; at 18:00, every day); every 2 days at 00:00",
        ),
    ],
)
def test_describe(value: Schedule, text: str) -> None:
    assert value.describe() == text


# -- validation ----------------------------------------------------------------------------

_NAIVE = datetime(2025, 1, 1)
_AWARE = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (Calendar, InvalidScheduleError, "at least one of years, months, weeks"),
        (lambda: Calendar(days=0, months=0), InvalidScheduleError, "at least one"),
        (lambda: Calendar(days=-1), InvalidScheduleError, "days must be 0 to"),
        (lambda: Calendar(weeks=-2, days=1), InvalidScheduleError, "weeks must be 0 to"),
        (lambda: Calendar(months=10**9), InvalidScheduleError, "months must be 0 to"),
        (lambda: Calendar(days=1.5), InvalidScheduleError, "days must be an int"),
        (lambda: Calendar(days=True), InvalidScheduleError, "days must be an int"),
        (lambda: Calendar(days=1, at="25:00"), InvalidScheduleError, "at must be 'HH:MM'"),
        (lambda: Calendar(days=1, at="9"), InvalidScheduleError, "at must be 'HH:MM'"),
        (lambda: Calendar(days=1, at=9), InvalidScheduleError, "at must be 'HH:MM'"),
        (lambda: Calendar(days=1, at="09:60"), InvalidScheduleError, "at must be 'HH:MM'"),
        (lambda: Calendar(days=1, at="-1:00"), InvalidScheduleError, "at must be 'HH:MM'"),
        (lambda: Calendar(days=1, at="09:00:00:00"), InvalidScheduleError, "at must be"),
        (
            lambda: Calendar(days=1, at=time(9, tzinfo=UTC)),
            InvalidScheduleError,
            "without tzinfo",
        ),
        (lambda: Calendar(days=1, timezone="Mars/Olympus"), InvalidTimezoneError, "Mars"),
        (lambda: Calendar(days=1, start=_NAIVE), InvalidScheduleError, "start must be .*aware"),
        (lambda: Calendar(days=1, end=_NAIVE), InvalidScheduleError, "end must be .*aware"),
        (lambda: Calendar(days=1, start="2025-01-01"), InvalidScheduleError, "start must be"),
        (
            lambda: Calendar(days=1, start=_AWARE, end=_AWARE - timedelta(seconds=1)),
            InvalidScheduleError,
            "end .* is before start",
        ),
        (lambda: Interval(0), InvalidScheduleError, "seconds"),
        (lambda: Interval(-5), InvalidScheduleError, "seconds"),
        (lambda: Interval("5"), InvalidScheduleError, "seconds"),
        (lambda: Interval(True), InvalidScheduleError, "got bool True"),
        (lambda: Interval(float("nan")), InvalidScheduleError, "finite"),
        (lambda: Interval(1e-7), InvalidScheduleError, "at least 1e-06"),
        (lambda: Interval(5, fixed=1), InvalidScheduleError, "fixed must be a bool"),
        (lambda: Interval(5, start=_NAIVE), InvalidScheduleError, "start must be .*aware"),
        (
            lambda: Interval(5, start=_AWARE, end=_AWARE - timedelta(days=1)),
            InvalidScheduleError,
            "is before start",
        ),
        (lambda: Cron("61 * * * *"), InvalidCronExpressionError, "minute"),
        (lambda: Cron("0 9 * * *", timezone="Nowhere"), InvalidTimezoneError, "Nowhere"),
        (lambda: Cron("0 9 * * *", end=_NAIVE), InvalidScheduleError, "end must be"),
        (lambda: At("2025-01-01"), InvalidScheduleError, "when must be a datetime"),
        (lambda: At(_AWARE, start=_AWARE + timedelta(1)), InvalidScheduleError, "outside"),
        (lambda: AnyOf(Cron("0 9 * * *")), InvalidScheduleError, "at least two schedules, got 1"),
        (AllOf, InvalidScheduleError, "at least two schedules, got 0"),
        (lambda: AnyOf(Cron("0 9 * * *"), "0 10 * * *"), InvalidScheduleError, "every part"),
        (lambda: AllOf(Calendar(days=1), 5), InvalidScheduleError, "every part"),
        (
            lambda: AnyOf(Interval(60, fixed=False), Cron("0 9 * * *")),
            InvalidScheduleError,
            "must be fixed",
        ),
        (
            lambda: Cron("0 9 * * *") & Interval(60, fixed=False),
            InvalidScheduleError,
            "must be fixed",
        ),
        (
            lambda: AnyOf(Calendar(days=1), Calendar(days=2), start=_AWARE, end=_NAIVE),
            InvalidScheduleError,
            "end must be",
        ),
    ],
)
def test_validation(make: Callable[[], object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as raised:
        make()
    assert isinstance(raised.value, ConfigurationError)


def test_invalid_schedule_error_names_its_kind() -> None:
    with pytest.raises(InvalidScheduleError) as raised:
        AllOf(Cron("0 9 * * *"))
    assert raised.value.kind == "all_of"
    assert str(raised.value).startswith("invalid all_of schedule: ")
    with pytest.raises(InvalidScheduleError) as raised:
        Calendar()
    assert raised.value.kind == "calendar"


def test_values_are_immutable() -> None:
    value = Calendar(days=1)
    with pytest.raises(AttributeError):
        value.days = 2  # type: ignore[misc]
    assert Calendar(days=1, at=time(9)) == Calendar(days=1, at="09:00")
    assert Calendar(days=1, at=" 9:00 ") == Calendar(days=1, at="09:00")


# -- property: random calendars against the reference over a year --------------------------


@settings(max_examples=80)
@given(
    years=st.integers(0, 2),
    months=st.integers(0, 14),
    weeks=st.integers(0, 3),
    days=st.integers(0, 40),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 1, 15, 30, 45, 59]),
    zone=st.sampled_from([NY, BERLIN, LORD_HOWE, TOKYO, APIA, MOSCOW]),
    start=st.datetimes(datetime(2011, 1, 1), datetime(2025, 12, 31)),
    added_days=st.integers(-40, 40),
    bounded=st.booleans(),
)
def test_random_calendars_match_the_reference(
    years: int,
    months: int,
    weeks: int,
    days: int,
    hour: int,
    minute: int,
    zone: str,
    start: datetime,
    added_days: int,
    bounded: bool,
) -> None:
    if not (years or months or weeks or days):
        days = 1
    begin = datetime.fromtimestamp(int(start.replace(tzinfo=UTC).timestamp()), UTC)
    value = Calendar(
        years=years,
        months=months,
        weeks=weeks,
        days=days,
        at=f"{hour:02}:{minute:02}",
        timezone=zone,
        start=begin if bounded else None,
        end=begin + timedelta(days=200) if bounded else None,
    )
    added = begin + timedelta(days=added_days, seconds=minute * 7)
    assert_runs(value, added, added + timedelta(days=366))


@settings(max_examples=30)
@given(
    kinds=st.lists(st.sampled_from(["cron", "calendar", "interval", "at"]), min_size=2, max_size=3),
    hours=st.lists(st.sampled_from([0, 2, 6, 9, 12, 18]), min_size=3, max_size=3),
    zone=st.sampled_from([NY, BERLIN, LORD_HOWE, TOKYO, APIA]),
    all_of=st.booleans(),
    start=st.datetimes(datetime(2011, 1, 1), datetime(2025, 6, 30)),
    bounded=st.booleans(),
)
def test_random_combinations_match_the_reference(
    kinds: list[str], hours: list[int], zone: str, all_of: bool, start: datetime, bounded: bool
) -> None:
    begin = datetime.fromtimestamp(int(start.replace(tzinfo=UTC).timestamp()) // HOUR * HOUR, UTC)
    parts: list[Schedule] = []
    for i, kind in enumerate(kinds):
        hour = hours[i]
        if kind == "cron":
            parts.append(Cron(f"0 {hour},{(hour + 12) % 24} * * *", timezone=zone))
        elif kind == "calendar":
            parts.append(Calendar(days=1 + i, at=f"{hour:02}:00", timezone=zone, start=begin))
        elif kind == "interval":
            parts.append(Interval((hour + 1) * HOUR, start=begin))
        else:
            parts.append(At(begin + timedelta(days=i + 1, hours=hour)))
    end = begin + timedelta(days=40) if bounded else None
    value: Schedule = AllOf(*parts, end=end) if all_of else AnyOf(*parts, end=end)
    added, until = _whole(begin - timedelta(days=1)), _whole(begin + timedelta(days=60))
    # An AllOf whose parts never agree is searched for 10,000 steps before it is refused
    # (a second or so each): keep to those that agree within the window.
    assume(ref_runs(value, added, until, zone))
    assert_runs(value, added, until, zone)


# -- helpers ------------------------------------------------------------------------------


def _moments(instants: list[int], zone: str) -> list[datetime]:
    return [datetime.fromtimestamp(t, _zone(zone)) for t in instants]
