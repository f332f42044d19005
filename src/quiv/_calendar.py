"""Wall-clock times in a time zone as instants, with quiv's DST rules. Pure.

Instants are whole seconds since the epoch (UTC); wall times are naive datetimes read off a
clock in the zone. A wall time exists once, twice (on a fall-back day: a *fold*), or not at
all (on a spring-forward day: a *gap*). The rules:

* A schedule with chosen hours (``0 3 * * *``, a one-shot datetime) keeps wall-clock
  times. A wall time in a gap runs once, at the first instant after the gap (the instant
  the clocks jumped: 02:30 on a New York spring-forward day runs at 03:00 EDT). A wall
  time in a fold runs once, at its first occurrence.
* A schedule that runs in every hour of the day (``*/15 * * * *``, ``@hourly``) keeps real
  elapsed time: it runs at every instant whose wall time matches. Wall times in a gap never
  happen, and those in a fold happen twice, so an hourly task runs every 60 real minutes
  right through a one-hour shift. In a zone whose shift is not a whole number of the
  schedule's periods (Lord Howe Island shifts by 30 minutes), the interval that spans the
  shift is that much longer or shorter.

``zoneinfo`` tells offsets at instants but not where they change, so ``_first_change``
finds changes by probing every hour and bisecting to the second; no zone in the tz database
changes its offset twice within an hour.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone, tzinfo

from ._cron import CronExpression

__all__ = ["instant_of_wall", "next_cron_instant", "wall_of"]

PROBE_SECONDS = 3600
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MAX_INSTANT = int((datetime(9999, 12, 30) - _NAIVE_EPOCH).total_seconds())


def _offset(zone: tzinfo, instant: int) -> int:
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def _seconds(wall: datetime) -> int:
    """A naive wall time as seconds since the naive epoch."""
    return (wall - _NAIVE_EPOCH) // timedelta(seconds=1)


def wall_of(instant: int, zone: tzinfo) -> datetime:
    """The naive wall time in ``zone`` at ``instant`` (to the second)."""
    return datetime.fromtimestamp(instant, zone).replace(tzinfo=None)


def _first_change(low: int, high: int, offset: int, zone: tzinfo) -> int | None:
    """The first instant in ``(low, high]`` at which ``zone``'s offset is not ``offset``."""
    probe = low
    while probe < high:
        previous, probe = probe, min(probe + PROBE_SECONDS, high)
        if _offset(zone, probe) != offset:
            # The offset is ``offset`` at ``previous`` and not at ``probe``: bisect.
            while probe - previous > 1:
                middle = (previous + probe) // 2
                if _offset(zone, middle) == offset:
                    previous = middle
                else:
                    probe = middle
            return probe
    return None


def instant_of_wall(wall: datetime, zone: tzinfo) -> int:
    """The instant a naive ``wall`` time (to the second) in ``zone`` runs at: itself when it
    exists once, its first occurrence in a fold, the end of the gap when it is in one."""
    wall = wall.replace(microsecond=0)
    early = int(wall.replace(tzinfo=zone, fold=0).timestamp())
    target = _seconds(wall)
    offset = _offset(zone, early)
    if early + offset == target:
        return early
    late = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    if late + _offset(zone, late) == target:
        return late
    # In a gap: ``early`` and ``late`` read the wall time with the offsets before and after
    # the jump, so the jump lies between them.
    low, high = min(early, late), max(early, late)
    change = _first_change(low, high, _offset(zone, low), zone)
    return high if change is None else change


def next_cron_instant(cron: CronExpression, zone: tzinfo, after: float) -> int | None:
    """The first instant after ``after`` (epoch seconds) that ``cron`` runs at in ``zone``,
    by the rules above; None when there is none before the year 9999."""
    if not math.isfinite(after):
        return None
    start = math.floor(after) + 1
    if start > _MAX_INSTANT:
        return None
    if zone is timezone.utc or cron.every_hour:
        return _next_elapsed(cron, zone, start)
    return _next_wall(cron, zone, start)


def _next_wall(cron: CronExpression, zone: tzinfo, start: int) -> int | None:
    # instant_of_wall never decreases as the wall time grows, so every wall time up to the
    # one read a second before ``start`` runs before ``start``, and the first selected wall
    # time after it whose instant is not before ``start`` is the one. (Not from the wall
    # time read at ``start``: when ``start`` is the end of a gap, the skipped wall times
    # are before that one but run at ``start``.)
    wall = cron.next_wall(wall_of(start - 1, zone) + timedelta(seconds=1))
    while wall is not None:
        try:
            instant = instant_of_wall(wall, zone)
        except (OverflowError, ValueError):  # the wall time is after the year 9999 in UTC
            return None
        if instant >= start:
            return instant
        wall = cron.next_wall(wall + timedelta(seconds=1))
    return None


def _next_elapsed(cron: CronExpression, zone: tzinfo, start: int) -> int | None:
    # Within a stretch of constant offset, the wall clock runs with real time: the next match
    # is the next selected wall time. If the offset changes before it, start over from the
    # change, where the wall clock jumped (back: wall times come again; ahead: some never do).
    while True:
        offset = _offset(zone, start)
        try:
            wall = cron.next_wall(_NAIVE_EPOCH + timedelta(seconds=start + offset))
        except OverflowError:
            return None
        if wall is None:
            return None
        candidate = _seconds(wall) - offset
        change = _first_change(start, candidate, offset, zone)
        if change is None:
            return candidate
        start = change
