"""Unit tests of ``quiv._calendar``: the instants a cron expression runs at in a time zone,
with quiv's DST rules (see the module docstring).

Every transition below was checked against zoneinfo (tzdata) before it was written down:

* America/New_York 2027: spring forward 2027-03-14 07:00Z (02:00 EST -> 03:00 EDT), fall
  back 2027-11-07 06:00Z (02:00 EDT -> 01:00 EST).
* Europe/Berlin 2027: 2027-03-28 01:00Z (02:00 CET -> 03:00 CEST), 2027-10-31 01:00Z
  (03:00 CEST -> 02:00 CET).
* Australia/Lord_Howe 2027: DST ends 2027-04-03 15:00Z (02:00 +11 -> 01:30 +10:30), starts
  2027-10-02 15:30Z (02:00 +10:30 -> 02:30 +11).
* Pacific/Apia: 2011-12-30 10:00Z, 2011-12-29 24:00 -10 -> 2011-12-31 00:00 +14 (the 30th
  never happened); DST 2011-09-24 14:00Z (03:00 -> 04:00), 2012-03-31 14:00Z (04:00 -> 03:00).
* Europe/Moscow: 2014-10-25 22:00Z, 02:00 +04 -> 01:00 +03 (permanently).
* Asia/Pyongyang: 2015-08-14 15:00Z, 2015-08-15 00:00 +09 -> 2015-08-14 23:30 +08:30.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from quiv._calendar import instant_of_wall, next_cron_instant, wall_of
from quiv._cron import CronExpression

UTC = timezone.utc


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def _instant(moment: datetime) -> int:
    return int(moment.timestamp())


def _moment(instant: int) -> datetime:
    return datetime.fromtimestamp(instant, UTC)


def _runs(expression: str, zone: tzinfo, after: datetime, until: datetime) -> list[datetime]:
    """The runs of ``expression`` in ``zone`` after ``after`` up to ``until`` (inclusive),
    by iterating ``next_cron_instant``."""
    cron = CronExpression.parse(expression)
    runs: list[datetime] = []
    instant: float = after.timestamp()
    while True:
        found = next_cron_instant(cron, zone, instant)
        assert found is not None
        assert found > instant
        if found > until.timestamp():
            return runs
        runs.append(_moment(found))
        instant = found


# -- explicit DST cases ----------------------------------------------------------------------

DST_CASES = [
    # America/New_York, spring forward 2027-03-14 at 07:00Z: 02:00-03:00 EST never happens.
    pytest.param(
        "America/New_York",
        "30 2 * * *",  # 02:30 is in the gap: it runs once, at 03:00 EDT (07:00Z)
        _utc(2027, 3, 13),
        _utc(2027, 3, 16),
        [_utc(2027, 3, 13, 7, 30), _utc(2027, 3, 14, 7, 0), _utc(2027, 3, 15, 6, 30)],
        id="new-york-spring-daily-in-gap",
    ),
    pytest.param(
        "America/New_York",
        "0,30 2 * * *",  # both wall times are in the gap: one run that day
        _utc(2027, 3, 13),
        _utc(2027, 3, 16),
        [
            _utc(2027, 3, 13, 7, 0),
            _utc(2027, 3, 13, 7, 30),
            _utc(2027, 3, 14, 7, 0),
            _utc(2027, 3, 15, 6, 0),
            _utc(2027, 3, 15, 6, 30),
        ],
        id="new-york-spring-two-gap-times-run-once",
    ),
    pytest.param(
        "America/New_York",
        "0 * * * *",  # every hour: 01:00 EST, then 03:00 EDT, one real hour later
        _utc(2027, 3, 14, 4, 30),
        _utc(2027, 3, 14, 9),
        [_utc(2027, 3, 14, hour) for hour in (5, 6, 7, 8, 9)],
        id="new-york-spring-hourly",
    ),
    pytest.param(
        "America/New_York",
        "30 * * * *",  # 02:30 never happens: 01:30 EST, then 03:30 EDT
        _utc(2027, 3, 14, 5),
        _utc(2027, 3, 14, 9),
        [_utc(2027, 3, 14, hour, 30) for hour in (5, 6, 7, 8)],
        id="new-york-spring-half-past-every-hour",
    ),
    # America/New_York, fall back 2027-11-07 at 06:00Z: 01:00-02:00 happens twice.
    pytest.param(
        "America/New_York",
        "30 1 * * *",  # in the fold: once, at the first 01:30 (EDT, 05:30Z)
        _utc(2027, 11, 6),
        _utc(2027, 11, 9),
        [_utc(2027, 11, 6, 5, 30), _utc(2027, 11, 7, 5, 30), _utc(2027, 11, 8, 6, 30)],
        id="new-york-fall-daily-in-fold",
    ),
    pytest.param(
        "America/New_York",
        "0,30 1 * * *",
        _utc(2027, 11, 7),
        _utc(2027, 11, 8),
        [_utc(2027, 11, 7, 5, 0), _utc(2027, 11, 7, 5, 30)],
        id="new-york-fall-two-fold-times-run-once-each",
    ),
    pytest.param(
        "America/New_York",
        "0 * * * *",  # 01:00 EDT and 01:00 EST both run: hourly spacing is kept
        _utc(2027, 11, 7, 3, 30),
        _utc(2027, 11, 7, 8),
        [_utc(2027, 11, 7, hour) for hour in (4, 5, 6, 7, 8)],
        id="new-york-fall-hourly",
    ),
    pytest.param(
        "America/New_York",
        "*/30 * * * *",
        _utc(2027, 11, 7, 4, 10),
        _utc(2027, 11, 7, 7, 40),
        [_utc(2027, 11, 7, 4, 30) + timedelta(minutes=30 * step) for step in range(7)],
        id="new-york-fall-every-30-minutes",
    ),
    # Europe/Berlin, spring forward 2027-03-28 at 01:00Z: 02:00-03:00 CET never happens.
    pytest.param(
        "Europe/Berlin",
        "30 2 * * *",
        _utc(2027, 3, 27),
        _utc(2027, 3, 30),
        [_utc(2027, 3, 27, 1, 30), _utc(2027, 3, 28, 1, 0), _utc(2027, 3, 29, 0, 30)],
        id="berlin-spring-daily-in-gap",
    ),
    pytest.param(
        "Europe/Berlin",
        "0 * * * *",  # 01:00 CET (00:00Z), then 03:00 CEST (01:00Z)
        _utc(2027, 3, 27, 23, 30),
        _utc(2027, 3, 28, 3),
        [_utc(2027, 3, 28, hour) for hour in (0, 1, 2, 3)],
        id="berlin-spring-hourly",
    ),
    pytest.param(
        "Europe/Berlin",
        "30 * * * *",
        _utc(2027, 3, 27, 23, 45),
        _utc(2027, 3, 28, 2, 45),
        [_utc(2027, 3, 28, hour, 30) for hour in (0, 1, 2)],
        id="berlin-spring-half-past-every-hour",
    ),
    # Europe/Berlin, fall back 2027-10-31 at 01:00Z: 02:00-03:00 happens twice.
    pytest.param(
        "Europe/Berlin",
        "30 2 * * *",
        _utc(2027, 10, 30),
        _utc(2027, 11, 2),
        [_utc(2027, 10, 30, 0, 30), _utc(2027, 10, 31, 0, 30), _utc(2027, 11, 1, 1, 30)],
        id="berlin-fall-daily-in-fold",
    ),
    pytest.param(
        "Europe/Berlin",
        "0,30 2 * * *",
        _utc(2027, 10, 30, 22),
        _utc(2027, 10, 31, 3),
        [_utc(2027, 10, 31, 0, 0), _utc(2027, 10, 31, 0, 30)],
        id="berlin-fall-two-fold-times-run-once-each",
    ),
    pytest.param(
        "Europe/Berlin",
        "0 * * * *",  # 02:00 CEST (00:00Z) and 02:00 CET (01:00Z)
        _utc(2027, 10, 30, 23, 30),
        _utc(2027, 10, 31, 3),
        [_utc(2027, 10, 31, hour) for hour in (0, 1, 2, 3)],
        id="berlin-fall-hourly",
    ),
    pytest.param(
        "Europe/Berlin",
        "*/30 * * * *",
        _utc(2027, 10, 30, 23, 50),
        _utc(2027, 10, 31, 2, 10),
        [_utc(2027, 10, 31) + timedelta(minutes=30 * step) for step in range(5)],
        id="berlin-fall-every-30-minutes",
    ),
    # Australia/Lord_Howe, DST starts 2027-10-02 at 15:30Z: 02:00-02:30 +10:30 never happens.
    pytest.param(
        "Australia/Lord_Howe",
        "15 2 * * *",  # in the 30-minute gap: runs at its end, 02:30 +11 (15:30Z)
        _utc(2027, 10, 1),
        _utc(2027, 10, 4),
        [_utc(2027, 10, 1, 15, 45), _utc(2027, 10, 2, 15, 30), _utc(2027, 10, 3, 15, 15)],
        id="lord-howe-spring-daily-in-gap",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        "*/30 * * * *",  # 01:30 +10:30, then 02:30 +11: still 30 real minutes apart
        _utc(2027, 10, 2, 14, 10),
        _utc(2027, 10, 2, 16, 40),
        [_utc(2027, 10, 2, 14, 30) + timedelta(minutes=30 * step) for step in range(5)],
        id="lord-howe-spring-every-30-minutes",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        # Hourly keeps real time, but a 30-minute shift is not a whole number of hours: no
        # 02:00 happens, so 01:00 +10:30 (14:30Z) is followed by 03:00 +11 (16:00Z), 90
        # real minutes later; then hourly again.
        "0 * * * *",
        _utc(2027, 10, 2, 13),
        _utc(2027, 10, 2, 18),
        [
            _utc(2027, 10, 2, 13, 30),
            _utc(2027, 10, 2, 14, 30),
            _utc(2027, 10, 2, 16, 0),
            _utc(2027, 10, 2, 17, 0),
            _utc(2027, 10, 2, 18, 0),
        ],
        id="lord-howe-spring-hourly-90-minutes-across-the-shift",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        # Half past: 01:30 +10:30 (15:00Z) is followed by 02:30 +11 (15:30Z), 30 minutes.
        "30 * * * *",
        _utc(2027, 10, 2, 13, 45),
        _utc(2027, 10, 2, 17),
        [
            _utc(2027, 10, 2, 14, 0),
            _utc(2027, 10, 2, 15, 0),
            _utc(2027, 10, 2, 15, 30),
            _utc(2027, 10, 2, 16, 30),
        ],
        id="lord-howe-spring-half-past-30-minutes-across-the-shift",
    ),
    # Australia/Lord_Howe, DST ends 2027-04-03 at 15:00Z: 01:30-02:00 happens twice.
    pytest.param(
        "Australia/Lord_Howe",
        "45 1 * * *",  # in the fold: once, at the first 01:45 (+11, 14:45Z)
        _utc(2027, 4, 1),
        _utc(2027, 4, 5),
        [
            _utc(2027, 4, 1, 14, 45),
            _utc(2027, 4, 2, 14, 45),
            _utc(2027, 4, 3, 14, 45),
            _utc(2027, 4, 4, 15, 15),
        ],
        id="lord-howe-fall-daily-in-fold",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        "*/30 * * * *",  # 01:30 +11 and 01:30 +10:30 both run, 30 minutes apart
        _utc(2027, 4, 3, 13, 10),
        _utc(2027, 4, 3, 16, 10),
        [_utc(2027, 4, 3, 13, 30) + timedelta(minutes=30 * step) for step in range(6)],
        id="lord-howe-fall-every-30-minutes",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        # 01:00 +11 (14:00Z), then 02:00 +10:30 (15:30Z): 90 minutes, as wall 01:30-02:00
        # is lived twice and no :00 falls in the fold.
        "0 * * * *",
        _utc(2027, 4, 3, 12, 30),
        _utc(2027, 4, 3, 17),
        [
            _utc(2027, 4, 3, 13, 0),
            _utc(2027, 4, 3, 14, 0),
            _utc(2027, 4, 3, 15, 30),
            _utc(2027, 4, 3, 16, 30),
        ],
        id="lord-howe-fall-hourly-90-minutes-across-the-shift",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        # 01:30 +11 (14:30Z) and 01:30 +10:30 (15:00Z): 30 minutes apart.
        "30 * * * *",
        _utc(2027, 4, 3, 12, 45),
        _utc(2027, 4, 3, 16, 59),
        [
            _utc(2027, 4, 3, 13, 30),
            _utc(2027, 4, 3, 14, 30),
            _utc(2027, 4, 3, 15, 0),
            _utc(2027, 4, 3, 16, 0),
        ],
        id="lord-howe-fall-half-past-30-minutes-across-the-shift",
    ),
    # Pacific/Apia skipped 2011-12-30: 2011-12-29 24:00 -10 became 2011-12-31 00:00 +14.
    pytest.param(
        "Pacific/Apia",
        "0 3 * * *",  # 30 December 03:00 never happened: it runs at the gap's end
        _utc(2011, 12, 28),
        _utc(2012, 1, 1),
        [
            _utc(2011, 12, 28, 13),  # 28 Dec 03:00 -10
            _utc(2011, 12, 29, 13),  # 29 Dec 03:00 -10
            _utc(2011, 12, 30, 10),  # 31 Dec 00:00 +14, for the skipped 30 Dec 03:00
            _utc(2011, 12, 30, 13),  # 31 Dec 03:00 +14
            _utc(2011, 12, 31, 13),  # 1 Jan 03:00 +14
        ],
        id="apia-skipped-day",
    ),
    pytest.param(
        "Pacific/Apia",
        "0 */6 * * *",  # every wall time of 30 December maps to the same instant: one run
        _utc(2011, 12, 29, 12),
        _utc(2011, 12, 30, 20),
        [
            _utc(2011, 12, 29, 16),  # 29 Dec 06:00 -10
            _utc(2011, 12, 29, 22),  # 29 Dec 12:00 -10
            _utc(2011, 12, 30, 4),  # 29 Dec 18:00 -10
            _utc(2011, 12, 30, 10),  # 31 Dec 00:00 +14 (and all of 30 Dec)
            _utc(2011, 12, 30, 16),  # 31 Dec 06:00 +14
        ],
        id="apia-skipped-day-every-6-hours",
    ),
    pytest.param(
        "Pacific/Apia",
        "0 * * * *",  # every hour keeps real time right through the skipped day
        _utc(2011, 12, 30, 7, 30),
        _utc(2011, 12, 30, 12),
        [_utc(2011, 12, 30, hour) for hour in (8, 9, 10, 11, 12)],
        id="apia-skipped-day-hourly",
    ),
    # Europe/Moscow 2014-10-25 22:00Z: 02:00 +04 -> 01:00 +03, for good.
    pytest.param(
        "Europe/Moscow",
        "30 1 * * *",
        _utc(2014, 10, 24),
        _utc(2014, 10, 27),
        [_utc(2014, 10, 24, 21, 30), _utc(2014, 10, 25, 21, 30), _utc(2014, 10, 26, 22, 30)],
        id="moscow-2014-daily-in-fold",
    ),
    pytest.param(
        "Europe/Moscow",
        "0 * * * *",
        _utc(2014, 10, 25, 20, 30),
        _utc(2014, 10, 25, 23),
        [_utc(2014, 10, 25, hour) for hour in (21, 22, 23)],
        id="moscow-2014-hourly",
    ),
    # Asia/Pyongyang 2015-08-14 15:00Z: 00:00 +09 -> 23:30 +08:30 (23:30-24:00 twice).
    pytest.param(
        "Asia/Pyongyang",
        "45 23 * * *",
        _utc(2015, 8, 12),
        _utc(2015, 8, 16),
        [
            _utc(2015, 8, 12, 14, 45),
            _utc(2015, 8, 13, 14, 45),
            _utc(2015, 8, 14, 14, 45),  # the first 23:45; not the second (15:15Z)
            _utc(2015, 8, 15, 15, 15),
        ],
        id="pyongyang-2015-daily-in-fold",
    ),
    pytest.param(
        "Asia/Pyongyang",
        "0 0 * * *",  # midnight of the 15th comes once, 24.5 hours after the one before
        _utc(2015, 8, 12),
        _utc(2015, 8, 16),
        [
            _utc(2015, 8, 12, 15),
            _utc(2015, 8, 13, 15),
            _utc(2015, 8, 14, 15, 30),
            _utc(2015, 8, 15, 15, 30),
        ],
        id="pyongyang-2015-midnight",
    ),
    pytest.param(
        "Asia/Pyongyang",
        "*/30 * * * *",  # 23:30 +09 and 23:30 +08:30 both run
        _utc(2015, 8, 14, 14, 10),
        _utc(2015, 8, 14, 15, 40),
        [_utc(2015, 8, 14, 14, 30), _utc(2015, 8, 14, 15, 0), _utc(2015, 8, 14, 15, 30)],
        id="pyongyang-2015-every-30-minutes",
    ),
    pytest.param(
        "Asia/Pyongyang",
        "0 * * * *",  # 23:00 +09, then 00:00 +08:30: 90 minutes
        _utc(2015, 8, 14, 13, 30),
        _utc(2015, 8, 14, 16, 30),
        [_utc(2015, 8, 14, 14, 0), _utc(2015, 8, 14, 15, 30), _utc(2015, 8, 14, 16, 30)],
        id="pyongyang-2015-hourly",
    ),
]


@pytest.mark.parametrize(("zone_name", "expression", "after", "until", "expected"), DST_CASES)
def test_dst_transition(
    zone_name: str, expression: str, after: datetime, until: datetime, expected: list[datetime]
) -> None:
    zone = ZoneInfo(zone_name)
    assert _runs(expression, zone, after, until) == expected
    # Each run is found from just before it too, whatever came before.
    cron = CronExpression.parse(expression)
    for run in expected:
        instant = _instant(run)
        assert next_cron_instant(cron, zone, instant - 1) == instant, run
        assert next_cron_instant(cron, zone, instant - 0.5) == instant, run


def test_gap_end_run_is_found_from_the_second_before_it() -> None:
    # The run for the skipped 02:30 is at 03:00 EDT exactly, the first instant after the
    # gap. A search starting there reads the wall time 03:00, already past 02:30; it must
    # still find the run instead of skipping to the next day.
    zone = ZoneInfo("America/New_York")
    cron = CronExpression.parse("30 2 * * *")
    gap_end = _instant(_utc(2027, 3, 14, 7))
    assert next_cron_instant(cron, zone, gap_end - 1) == gap_end
    assert next_cron_instant(cron, zone, gap_end - 0.25) == gap_end
    assert next_cron_instant(cron, zone, gap_end) == _instant(_utc(2027, 3, 15, 6, 30))
    apia = ZoneInfo("Pacific/Apia")
    skipped = _instant(_utc(2011, 12, 30, 10))
    assert next_cron_instant(CronExpression.parse("0 3 * * *"), apia, skipped - 1) == skipped


@pytest.mark.parametrize("expression", ["0 9 * * *", "30 2 * * *", "0 0 * * *"])
def test_zone_without_dst_keeps_days_86400_seconds_apart(expression: str) -> None:
    zone = ZoneInfo("Asia/Tokyo")
    cron = CronExpression.parse(expression)
    runs = _runs(expression, zone, _utc(2026, 12, 31, 15), _utc(2027, 12, 31, 15))
    assert len(runs) == 365
    assert all(cron.matches(wall_of(_instant(run), zone)) for run in runs)
    gaps = {(later - earlier).total_seconds() for earlier, later in itertools.pairwise(runs)}
    assert gaps == {86400.0}


def test_tokyo_daily_is_utc_minus_nine_hours() -> None:
    runs = _runs("0 9 * * *", ZoneInfo("Asia/Tokyo"), _utc(2026, 12, 31, 12), _utc(2027, 1, 3))
    assert runs == [_utc(2027, 1, 1), _utc(2027, 1, 2), _utc(2027, 1, 3)]


# -- instant_of_wall and wall_of -------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone_name", "wall", "expected"),
    [
        # unique wall times
        ("America/New_York", datetime(2027, 6, 1, 12), _utc(2027, 6, 1, 16)),
        ("America/New_York", datetime(2027, 1, 1, 0), _utc(2027, 1, 1, 5)),
        (
            "America/New_York",
            datetime(2027, 3, 14, 1, 59, 59),
            _utc(2027, 3, 14, 6, 59, 59),
        ),
        ("America/New_York", datetime(2027, 3, 14, 3), _utc(2027, 3, 14, 7)),
        ("America/New_York", datetime(2027, 11, 7, 2), _utc(2027, 11, 7, 7)),
        ("Asia/Tokyo", datetime(2027, 7, 1, 9), _utc(2027, 7, 1)),
        ("UTC", datetime(2027, 7, 1, 9, 30), _utc(2027, 7, 1, 9, 30)),
        # folds: the first occurrence
        ("America/New_York", datetime(2027, 11, 7, 1), _utc(2027, 11, 7, 5)),
        ("America/New_York", datetime(2027, 11, 7, 1, 30), _utc(2027, 11, 7, 5, 30)),
        (
            "America/New_York",
            datetime(2027, 11, 7, 1, 59, 59),
            _utc(2027, 11, 7, 5, 59, 59),
        ),
        ("Europe/Berlin", datetime(2027, 10, 31, 2, 30), _utc(2027, 10, 31, 0, 30)),
        ("Australia/Lord_Howe", datetime(2027, 4, 4, 1, 45), _utc(2027, 4, 3, 14, 45)),
        ("Europe/Moscow", datetime(2014, 10, 26, 1, 30), _utc(2014, 10, 25, 21, 30)),
        ("Asia/Pyongyang", datetime(2015, 8, 14, 23, 45), _utc(2015, 8, 14, 14, 45)),
        # gaps: the end of the gap
        ("America/New_York", datetime(2027, 3, 14, 2), _utc(2027, 3, 14, 7)),
        ("America/New_York", datetime(2027, 3, 14, 2, 30), _utc(2027, 3, 14, 7)),
        ("America/New_York", datetime(2027, 3, 14, 2, 59, 59), _utc(2027, 3, 14, 7)),
        ("Europe/Berlin", datetime(2027, 3, 28, 2, 30), _utc(2027, 3, 28, 1)),
        ("Australia/Lord_Howe", datetime(2027, 10, 3, 2, 15), _utc(2027, 10, 2, 15, 30)),
        ("Pacific/Apia", datetime(2011, 12, 30, 0), _utc(2011, 12, 30, 10)),
        ("Pacific/Apia", datetime(2011, 12, 30, 12), _utc(2011, 12, 30, 10)),
        ("Pacific/Apia", datetime(2011, 12, 30, 23, 59, 59), _utc(2011, 12, 30, 10)),
        ("Pacific/Apia", datetime(2011, 12, 31, 0), _utc(2011, 12, 30, 10)),
        # a fraction of a second is dropped
        ("America/New_York", datetime(2027, 6, 1, 12, 0, 0, 999_999), _utc(2027, 6, 1, 16)),
    ],
)
def test_instant_of_wall(zone_name: str, wall: datetime, expected: datetime) -> None:
    assert instant_of_wall(wall, ZoneInfo(zone_name)) == _instant(expected)


@pytest.mark.parametrize(
    ("zone_name", "transition"),
    [
        ("America/New_York", _utc(2027, 3, 14, 7)),
        ("America/New_York", _utc(2027, 11, 7, 6)),
        ("Europe/Berlin", _utc(2027, 3, 28, 1)),
        ("Europe/Berlin", _utc(2027, 10, 31, 1)),
        ("Australia/Lord_Howe", _utc(2027, 4, 3, 15)),
        ("Australia/Lord_Howe", _utc(2027, 10, 2, 15, 30)),
        ("Pacific/Apia", _utc(2011, 12, 30, 10)),
        ("Europe/Moscow", _utc(2014, 10, 25, 22)),
        ("Asia/Pyongyang", _utc(2015, 8, 14, 15)),
    ],
)
def test_instant_of_wall_across_a_transition(zone_name: str, transition: datetime) -> None:
    """Walk naive wall times minute by minute across the transition: the instants never
    decrease; a wall time that exists maps to an instant that reads it (the first such);
    one in a gap maps to the gap's end."""
    zone = ZoneInfo(zone_name)
    change = _instant(transition)
    before, after = wall_of(change - 1, zone), wall_of(change, zone)
    wall = min(before, after).replace(second=0) - timedelta(hours=3)
    end = max(before, after) + timedelta(hours=3)
    previous = -math.inf
    in_gap = in_fold = 0
    while wall <= end:
        instant = instant_of_wall(wall, zone)
        assert instant >= previous, wall
        previous = instant
        if wall_of(instant, zone) == wall:
            if after <= wall <= before:
                in_fold += 1
                assert instant < change, wall  # in a fold: the first pass
        else:
            in_gap += 1
            assert instant == change, wall
            assert wall_of(change - 1, zone) < wall < wall_of(change, zone)
        wall += timedelta(minutes=1)
    # a gap: the minutes strictly between the last wall time before the jump and the first
    # after; a fold: the minutes from the first wall time after the jump to the last before
    one_second = timedelta(seconds=1)
    assert in_gap == max(0, (after - before - one_second) // timedelta(minutes=1))
    assert in_fold == max(0, (before - after + one_second) // timedelta(minutes=1))
    assert in_gap + in_fold > 0


def test_wall_of() -> None:
    zone = ZoneInfo("America/New_York")
    assert wall_of(_instant(_utc(2027, 11, 7, 5, 30)), zone) == datetime(2027, 11, 7, 1, 30)
    assert wall_of(_instant(_utc(2027, 11, 7, 6, 30)), zone) == datetime(2027, 11, 7, 1, 30)
    assert wall_of(_instant(_utc(2027, 3, 14, 7)), zone) == datetime(2027, 3, 14, 3)
    assert wall_of(0, UTC) == datetime(1970, 1, 1)
    assert wall_of(0, ZoneInfo("Asia/Tokyo")).tzinfo is None


# -- next_cron_instant edge cases ------------------------------------------------------------


@pytest.mark.parametrize("zone", [UTC, ZoneInfo("UTC"), ZoneInfo("America/New_York")])
def test_fractional_after(zone: tzinfo) -> None:
    every_second = CronExpression.parse("* * * * * *")
    assert next_cron_instant(every_second, zone, 10.5) == 11
    assert next_cron_instant(every_second, zone, 10.0) == 11
    assert next_cron_instant(every_second, zone, 10.999) == 11
    assert next_cron_instant(every_second, zone, -0.5) == 0
    hourly = CronExpression.parse("0 * * * *")
    assert next_cron_instant(hourly, zone, 3599.5) == 3600
    assert next_cron_instant(hourly, zone, 3600.0) == 7200


@pytest.mark.parametrize(
    ("zone_name", "expression"),
    [
        ("UTC", "0 3 * * *"),
        ("America/New_York", "30 2 * * *"),
        ("America/New_York", "*/20 * * * *"),
        ("Europe/Berlin", "0 9 * * MON-FRI"),
    ],
)
def test_after_a_run_gives_the_next_one(zone_name: str, expression: str) -> None:
    zone = ZoneInfo(zone_name)
    cron = CronExpression.parse(expression)
    first = next_cron_instant(cron, zone, _instant(_utc(2027, 3, 1)))
    assert first is not None
    second = next_cron_instant(cron, zone, first)
    assert second is not None
    assert second > first
    assert next_cron_instant(cron, zone, first - 1) == first
    assert next_cron_instant(cron, zone, first + 0.5) == second
    assert next_cron_instant(cron, zone, second - 1) == second


@pytest.mark.parametrize("after", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("zone", [UTC, ZoneInfo("America/New_York")])
def test_non_finite_after_gives_none(after: float, zone: tzinfo) -> None:
    assert next_cron_instant(CronExpression.parse("* * * * * *"), zone, after) is None
    assert next_cron_instant(CronExpression.parse("0 3 * * *"), zone, after) is None


END_ZONES = [
    UTC,
    ZoneInfo("UTC"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Pacific/Kiritimati"),  # +14
    ZoneInfo("Pacific/Pago_Pago"),  # -11
    timezone(timedelta(hours=-12)),
]
LAST_INSTANT = _instant(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
END_ZONE_IDS = ["utc", "zoneinfo-utc", "new-york", "kiritimati", "pago-pago", "fixed-minus-12"]


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * * *",
        "0 * * * *",
        "* * 31 12 *",
        "0 3 * * *",
        "30 23 31 12 *",
        "0 0 1 1 *",
        "0 0 29 2 *",
    ],
)
@pytest.mark.parametrize("zone", END_ZONES, ids=END_ZONE_IDS)
def test_near_the_year_9999_gives_none(expression: str, zone: tzinfo) -> None:
    cron = CronExpression.parse(expression)
    for after in (
        _instant(_utc(9999, 12, 30)),
        _instant(_utc(9999, 12, 31, 12)),
        _instant(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        253402300800,  # 10000-01-01T00:00Z
        1e18,
    ):
        assert next_cron_instant(cron, zone, after) is None
    # Before that, a run whose instant is still in the year 9999 is found; one that would
    # fall after it (late on 31 December in a zone west of UTC) gives None, not an error.
    found = next_cron_instant(cron, zone, _instant(_utc(9999, 12, 29)))
    if found is not None:
        assert _instant(_utc(9999, 12, 29)) < found <= LAST_INSTANT
        assert cron.matches(wall_of(found, zone))


def test_near_the_year_9999_in_a_zone_west_of_utc() -> None:
    cron = CronExpression.parse("30 23 31 12 *")
    new_york = ZoneInfo("America/New_York")
    # 9999-12-31 23:30 in UTC is the last run there is.
    assert next_cron_instant(cron, UTC, _instant(_utc(9999, 12, 29))) == _instant(
        _utc(9999, 12, 31, 23, 30)
    )
    # In New York it would be 10000-01-01 04:30Z: there is no such instant.
    assert next_cron_instant(cron, new_york, _instant(_utc(9999, 12, 29))) is None
    # A year earlier it is found.
    assert next_cron_instant(cron, new_york, _instant(_utc(9998, 12, 29))) == _instant(
        _utc(9999, 1, 1, 4, 30)
    )


@pytest.mark.parametrize("expression", ["0 3 * * *", "*/15 * * * *", "0 0 1 * *", "0 9 * * MON"])
def test_utc_zones_agree(expression: str) -> None:
    cron = CronExpression.parse(expression)
    after = _instant(_utc(2027, 3, 14))
    for _ in range(50):
        found = next_cron_instant(cron, UTC, after)
        assert found is not None
        assert next_cron_instant(cron, ZoneInfo("UTC"), after) == found
        assert next_cron_instant(cron, ZoneInfo("Etc/UTC"), after) == found
        wall = _moment(found).replace(tzinfo=None)
        assert cron.matches(wall)
        assert cron.next_wall(_moment(after + 1).replace(tzinfo=None)) == wall
        after = found


def test_utc_daily() -> None:
    runs = _runs("0 3 * * *", UTC, _utc(2027, 3, 13), _utc(2027, 3, 16))
    assert runs == [_utc(2027, 3, 13, 3), _utc(2027, 3, 14, 3), _utc(2027, 3, 15, 3)]


def test_fixed_offset_zone() -> None:
    zone = timezone(timedelta(hours=5, minutes=30))
    runs = _runs("0 3 * * *", zone, _utc(2027, 3, 13), _utc(2027, 3, 15))
    assert runs == [_utc(2027, 3, 13, 21, 30), _utc(2027, 3, 14, 21, 30)]


# -- against a brute-force reference ---------------------------------------------------------
#
# The reference is computed minute by minute with nothing from _calendar: zoneinfo reads
# the wall time of every UTC minute of a window.
# * Every-hour expressions keep real time: every UTC minute whose wall time matches.
# * Expressions with chosen hours keep wall times: each matching naive wall minute maps to
#   its first instant if it occurs, or to the first instant whose wall time is later than it
#   if it never does (a gap); duplicates collapse.


@dataclass(frozen=True)
class _Minutes:
    """The wall time in a zone of each UTC minute of a window."""

    zone: ZoneInfo
    start: int
    end: int
    instants: range  # the UTC minutes of the window
    walls: list[datetime]  # the wall time of each
    first: dict[datetime, int]  # wall time -> the first UTC minute that reads it
    running_max: list[datetime]  # the latest wall time read up to each UTC minute
    wall_minutes: list[datetime]  # every naive wall minute from the earliest to the latest


@functools.lru_cache(maxsize=1)
def _minutes(zone_name: str, start: datetime, end: datetime) -> _Minutes:
    zone = ZoneInfo(zone_name)
    instants = range(_instant(start), _instant(end), 60)
    walls = [datetime.fromtimestamp(u, zone).replace(tzinfo=None) for u in instants]
    first: dict[datetime, int] = {}
    running_max: list[datetime] = []
    latest = walls[0]
    for instant, wall in zip(instants, walls):
        first.setdefault(wall, instant)
        latest = max(latest, wall)
        running_max.append(latest)
    earliest = min(walls)
    count = (latest - earliest) // timedelta(minutes=1) + 1
    wall_minutes = [earliest + timedelta(minutes=index) for index in range(count)]
    return _Minutes(
        zone, instants.start, instants.stop, instants, walls, first, running_max, wall_minutes
    )


def _reference(cron: CronExpression, minutes: _Minutes) -> list[int]:
    if cron.every_hour:
        return [u for u, wall in zip(minutes.instants, minutes.walls) if cron.matches(wall)]
    runs: set[int] = set()
    for wall in minutes.wall_minutes:
        if cron.matches(wall):
            instant = minutes.first.get(wall)
            if instant is None:  # never on the clock: the first instant past it
                instant = minutes.instants[bisect.bisect_right(minutes.running_max, wall)]
            runs.add(instant)
    return sorted(u for u in runs if minutes.start <= u < minutes.end)


def _check_against_reference(expression: str, minutes: _Minutes) -> None:
    cron = CronExpression.parse(expression)
    expected = _reference(cron, minutes)
    assert expected, "the reference selects nothing: the check would be empty"
    zone = minutes.zone
    found: list[int] = []
    after: float = minutes.start - 1
    while True:
        instant = next_cron_instant(cron, zone, after)
        assert instant is not None
        if instant >= minutes.end:
            break
        found.append(instant)
        after = instant
    if found != expected:
        missing = sorted(set(expected) - set(found))[:5]
        extra = sorted(set(found) - set(expected))[:5]
        pytest.fail(
            f"{expression} in {zone.key}: missing {[_moment(u) for u in missing]}, "
            f"extra {[_moment(u) for u in extra]}"
        )
    # From the second before each run, that run comes next.
    for instant in expected:
        assert next_cron_instant(cron, zone, instant - 1) == instant, _moment(instant)
    # From arbitrary points, the next run of the reference comes next.
    rng = random.Random(expression + zone.key)
    for _ in range(200):
        after = rng.uniform(minutes.start, expected[-1] - 1)
        assert (
            next_cron_instant(cron, zone, after) == expected[bisect.bisect_right(expected, after)]
        ), (expression, after)


CHOSEN_HOURS = ["30 2 * * *", "0,30 1-3 * * *", "0 */3 * * *", "0 9 * * MON-FRI", "45 23 * * *"]
EVERY_HOUR = ["0 * * * *", "*/20 * * * *", "15 * * * *"]

# One year per zone, each containing its transitions.
WINDOWS = [
    ("America/New_York", _utc(2027, 1, 1), _utc(2028, 1, 1)),
    ("Europe/Berlin", _utc(2027, 1, 1), _utc(2028, 1, 1)),
    ("Australia/Lord_Howe", _utc(2027, 1, 1), _utc(2028, 1, 1)),
    ("Asia/Tokyo", _utc(2027, 1, 1), _utc(2028, 1, 1)),
    ("Pacific/Apia", _utc(2011, 6, 1), _utc(2012, 6, 1)),
    ("Europe/Moscow", _utc(2014, 6, 1), _utc(2015, 6, 1)),
]


def test_expression_kinds() -> None:
    assert not any(CronExpression.parse(text).every_hour for text in CHOSEN_HOURS)
    assert all(CronExpression.parse(text).every_hour for text in EVERY_HOUR)


# Zone-major order, so that each zone's minutes are computed once (the cache holds one).
@pytest.mark.parametrize(
    ("zone_name", "start", "end", "expression"),
    [
        pytest.param(zone, start, end, expression, id=f"{zone}-{expression}")
        for zone, start, end in WINDOWS
        for expression in CHOSEN_HOURS + EVERY_HOUR
    ],
)
def test_against_reference(zone_name: str, start: datetime, end: datetime, expression: str) -> None:
    _check_against_reference(expression, _minutes(zone_name, start, end))


SLOW_SPANS = [
    ("America/New_York", 2025, 2031),
    ("Europe/Berlin", 2025, 2031),
    ("Australia/Lord_Howe", 2025, 2031),
    ("Asia/Tokyo", 2025, 2031),
    ("Pacific/Apia", 2010, 2017),
    ("Europe/Moscow", 2010, 2017),
    ("Asia/Pyongyang", 2014, 2020),
]


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize(("zone_name", "first_year", "end_year"), SLOW_SPANS)
def test_against_reference_over_years(zone_name: str, first_year: int, end_year: int) -> None:
    for year in range(first_year, end_year):
        minutes = _minutes(zone_name, _utc(year, 1, 1), _utc(year + 1, 1, 1))
        for expression in CHOSEN_HOURS + EVERY_HOUR:
            _check_against_reference(expression, minutes)
