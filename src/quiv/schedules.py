"""Schedule values: when a task runs, as immutable data.

``add_task(..., schedule=...)`` takes one of these; the keyword forms ``interval=``,
``cron=`` and ``at=`` build the same values. Each value is frozen, hashable, picklable,
and turns into JSON (``to_json``) and back (``from_json``): ``Task.schedule`` is that JSON.
``quiv.preview`` lists the runs of any value, by the scheduler's own arithmetic.

- ``Interval(seconds, fixed=True)``: every ``seconds`` (``fixed=False``: that long after
  each run ends).
- ``Cron(expression, timezone=None)``: the times a cron expression selects in a zone.
- ``At(when)``: once.
- ``Calendar(years=, months=, weeks=, days=, at="00:00", timezone=None)``: every N calendar
  units at a wall time, counted from the date of ``start``.
- ``AnyOf(a, b, ...)`` (``a | b``): the runs of every one of them; ``AllOf(a, b, ...)``
  (``a & b``): only the instants all of them select.

Every kind takes ``start=`` and ``end=`` (aware datetimes): no run before ``start``, none
after ``end``; a task whose schedule has no run left ends on its own. A ``timezone`` of
None means the scheduler's zone (``Quiv(timezone=...)``), fixed when the task is added.

>>> from datetime import datetime, timezone
>>> every = Cron("0 9 * * MON-FRI", timezone="Europe/Berlin") | Calendar(months=1, at="12:00")
>>> every.describe()
'any of: at 09:00, Monday to Friday (Europe/Berlin); every month at 12:00'
>>> from_json(every.to_json()) == every
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from typing import Any

from ._config import MIN_INTERVAL_SECONDS, check_number, resolve_timezone
from ._cron import CronExpression
from .exceptions import ConfigurationError, InvalidScheduleError

__all__ = [
    "AllOf",
    "AnyOf",
    "At",
    "Calendar",
    "Cron",
    "Interval",
    "Schedule",
    "from_json",
]

# The longest a calendar unit count may be: 10,000 years covers every datetime.
_MAX_UNITS = 120_000


def _zone_name(zone: str | tzinfo | None) -> str | None:
    if zone is None or isinstance(zone, str):
        return zone
    key = getattr(zone, "key", None)
    if isinstance(key, str):
        return key
    return str(zone)


def _check_zone(zone: object) -> str | tzinfo | None:
    if zone is None:
        return None
    resolve_timezone(zone)  # type: ignore[arg-type]  # raises InvalidTimezoneError
    return zone  # type: ignore[return-value]


def _check_moment(kind: str, name: str, value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidScheduleError(
            kind, f"{name} must be a timezone-aware datetime or None, got {value!r}"
        )
    return value


def _moment_from_json(
    kind: str, name: str, value: object, *, naive: bool = False
) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidScheduleError(kind, f"{name} must be an ISO 8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidScheduleError(kind, f"{name} {value!r} is not ISO 8601") from None
    return moment if naive else _check_moment(kind, name, moment)


def _bounds_text(start: datetime | None, end: datetime | None) -> str:
    text = ""
    if start is not None:
        text += f", from {start:%Y-%m-%d %H:%M:%S} {start.tzname()}"
    if end is not None:
        text += f", until {end:%Y-%m-%d %H:%M:%S} {end.tzname()}"
    return text


class Schedule:
    """The base of every schedule value: ``a | b`` is ``AnyOf(a, b)``, ``a & b`` is
    ``AllOf(a, b)``."""

    __slots__ = ()
    kind = ""
    start: datetime | None
    end: datetime | None

    def __or__(self, other: Schedule) -> AnyOf:
        if not isinstance(other, Schedule):
            return NotImplemented
        return AnyOf(*_flatten(AnyOf, (self, other)))

    def __and__(self, other: Schedule) -> AllOf:
        if not isinstance(other, Schedule):
            return NotImplemented
        return AllOf(*_flatten(AllOf, (self, other)))

    def _check_bounds(self) -> None:
        start = _check_moment(self.kind, "start", self.start)
        end = _check_moment(self.kind, "end", self.end)
        if start is not None and end is not None and end < start:
            raise InvalidScheduleError(
                self.kind, f"end ({end.isoformat()}) is before start ({start.isoformat()})"
            )

    def _fields(self) -> dict[str, Any]:
        raise NotImplementedError

    def _text(self) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        """The schedule in English, for logs and UIs."""
        return self._text() + _bounds_text(self.start, self.end)

    def to_json(self) -> dict[str, Any]:
        """The schedule as JSON-friendly data (``from_json`` reads it back), with its
        ``description`` in English; ``start`` and ``end`` are there when set."""
        data = {"kind": self.kind, **self._fields()}
        if self.start is not None:
            data["start"] = self.start.isoformat()
        if self.end is not None:
            data["end"] = self.end.isoformat()
        data["description"] = self.describe()
        return data


def _flatten(kind: type[AnyOf] | type[AllOf], parts: Iterable[Schedule]) -> list[Schedule]:
    """``parts``, with unbounded combinations of the same kind opened up: ``a | b | c`` is
    one ``AnyOf`` of three."""
    flat: list[Schedule] = []
    for part in parts:
        if isinstance(part, kind) and part.start is None and part.end is None:
            flat.extend(part.schedules)
        else:
            flat.append(part)
    return flat


@dataclass(frozen=True, init=False)
class Interval(Schedule):
    """Every ``seconds``; ``fixed=False``: ``seconds`` after each run ends.

    Its first run is when the task is added (plus ``add_task``'s ``delay``), or at
    ``start``: the runs are ``start + k * seconds``, the first of them not in the past.
    In a combination (``AnyOf``, ``AllOf``), its runs are ``start + k * seconds`` too,
    those after the moment the task is added; without a ``start`` of its own it counts
    from the combination's, or else from that moment (its first run is then one interval
    later). ``fixed`` must be True there.
    """

    seconds: float
    fixed: bool = True
    start: datetime | None = None
    end: datetime | None = None
    kind = "interval"

    def __init__(
        self,
        seconds: float,
        *,
        fixed: bool = True,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> None:
        try:
            number = check_number("seconds", seconds, positive=True, minimum=MIN_INTERVAL_SECONDS)
        except ConfigurationError as exc:
            raise InvalidScheduleError("interval", str(exc)) from None
        if not isinstance(fixed, bool):
            raise InvalidScheduleError("interval", f"fixed must be a bool, got {fixed!r}")
        object.__setattr__(self, "seconds", number)
        object.__setattr__(self, "fixed", fixed)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        self._check_bounds()

    def _fields(self) -> dict[str, Any]:
        return {"every_seconds": self.seconds, "fixed_interval": self.fixed}

    def _text(self) -> str:
        text = f"every {self.seconds:g} s"
        return text if self.fixed else text + " after the previous run ends"


@dataclass(frozen=True, init=False)
class Cron(Schedule):
    """The instants a cron expression selects in ``timezone`` (see the scheduling guide
    for the syntax and the DST rules)."""

    expression: str
    timezone: str | tzinfo | None = None
    start: datetime | None = None
    end: datetime | None = None
    kind = "cron"

    def __init__(
        self,
        expression: str,
        *,
        timezone: str | tzinfo | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> None:
        parsed = CronExpression.parse(expression)  # raises InvalidCronExpressionError
        object.__setattr__(self, "expression", parsed.text)
        object.__setattr__(self, "timezone", _check_zone(timezone))
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        self._check_bounds()

    def _fields(self) -> dict[str, Any]:
        return {"expression": self.expression, "timezone": _zone_name(self.timezone)}

    def _text(self) -> str:
        text = CronExpression.parse(self.expression).describe()
        name = _zone_name(self.timezone)
        return text if name is None else f"{text} ({name})"


@dataclass(frozen=True, init=False)
class At(Schedule):
    """Once, at ``when``: an aware datetime, or a naive one read in ``timezone`` (default:
    the scheduler's zone)."""

    when: datetime
    timezone: str | tzinfo | None = None
    start: datetime | None = None
    end: datetime | None = None
    kind = "at"

    def __init__(
        self,
        when: datetime,
        *,
        timezone: str | tzinfo | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> None:
        if not isinstance(when, datetime):
            raise InvalidScheduleError(
                "at",
                f"when must be a datetime (aware, or naive in timezone), got {type(when).__name__}",
            )
        object.__setattr__(self, "when", when)
        object.__setattr__(self, "timezone", _check_zone(timezone))
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        self._check_bounds()
        if when.utcoffset() is not None:
            outside = (start is not None and when < start) or (end is not None and when > end)
            if outside:
                raise InvalidScheduleError(
                    "at", f"{when.isoformat()} is outside its start and end: it would never run"
                )

    def _fields(self) -> dict[str, Any]:
        return {"at": self.when.isoformat(), "timezone": _zone_name(self.timezone)}

    def _text(self) -> str:
        name = _zone_name(self.timezone)
        zone = f" {self.when.tzname()}" if self.when.utcoffset() is not None else ""
        text = f"once, at {self.when:%Y-%m-%d %H:%M:%S}{zone}"
        return text if name is None or zone else f"{text} ({name})"


def _wall_time(value: object) -> time:
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise InvalidScheduleError("calendar", "at is a wall time: give it without tzinfo")
        return value.replace(microsecond=0)
    if isinstance(value, str):
        parts = value.strip().split(":")
        if 2 <= len(parts) <= 3 and all(p.isdigit() and p.isascii() for p in parts):
            numbers = [int(p) for p in parts]
            try:
                return time(numbers[0], numbers[1], numbers[2] if len(numbers) > 2 else 0)
            except ValueError:
                pass
    raise InvalidScheduleError(
        "calendar", f"at must be 'HH:MM', 'HH:MM:SS' or a datetime.time, got {value!r}"
    )


@dataclass(frozen=True, init=False)
class Calendar(Schedule):
    """Every ``years``/``months``/``weeks``/``days`` at the wall time ``at`` in
    ``timezone``, counted from the date of ``start`` (default: the start of the
    combination it is in, or the day the task is added).

    The runs are those of ``start``'s date, then of each date after it by the interval:
    years and months keep the day of the month, and a month without that day is skipped
    (``months=1`` from a 31st runs on every 31st); weeks and days are added after them.
    A wall time in a DST gap or fold runs as a cron time does (the end of the gap; the
    first occurrence). No run is before ``start``.
    """

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    at: str = "00:00"
    timezone: str | tzinfo | None = None
    start: datetime | None = None
    end: datetime | None = None
    kind = "calendar"

    def __init__(
        self,
        *,
        years: int = 0,
        months: int = 0,
        weeks: int = 0,
        days: int = 0,
        at: str | time = "00:00",
        timezone: str | tzinfo | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> None:
        units = {"years": years, "months": months, "weeks": weeks, "days": days}
        for name, value in units.items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidScheduleError("calendar", f"{name} must be an int, got {value!r}")
            if not 0 <= value <= _MAX_UNITS:
                raise InvalidScheduleError(
                    "calendar", f"{name} must be 0 to {_MAX_UNITS}, got {value}"
                )
        if not any(units.values()):
            raise InvalidScheduleError(
                "calendar", "give at least one of years, months, weeks and days above 0"
            )
        wall = _wall_time(at)
        text = f"{wall:%H:%M:%S}" if wall.second else f"{wall:%H:%M}"
        for name, value in units.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "at", text)
        object.__setattr__(self, "timezone", _check_zone(timezone))
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        self._check_bounds()

    @property
    def wall_time(self) -> time:
        """``at`` as a ``datetime.time``."""
        return _wall_time(self.at)

    def _fields(self) -> dict[str, Any]:
        return {
            "years": self.years,
            "months": self.months,
            "weeks": self.weeks,
            "days": self.days,
            "at": self.at,
            "timezone": _zone_name(self.timezone),
        }

    def _text(self) -> str:
        counts = [
            (self.years, "year"),
            (self.months, "month"),
            (self.weeks, "week"),
            (self.days, "day"),
        ]
        every = " and ".join(
            name if count == 1 else f"{count} {name}s" for count, name in counts if count
        )
        text = f"every {every} at {self.at}"
        name = _zone_name(self.timezone)
        return text if name is None else f"{text} ({name})"


def _check_parts(kind: str, parts: tuple[object, ...]) -> tuple[Schedule, ...]:
    if len(parts) < 2:
        raise InvalidScheduleError(kind, f"combine at least two schedules, got {len(parts)}")
    for part in parts:
        if not isinstance(part, Schedule):
            raise InvalidScheduleError(
                kind, f"every part must be a quiv.schedules value, got {part!r}"
            )
        if isinstance(part, Interval) and not part.fixed:
            raise InvalidScheduleError(
                kind, "an Interval in a combination must be fixed (its runs are instants)"
            )
    return parts  # type: ignore[return-value]


@dataclass(frozen=True, init=False)
class _Combination(Schedule):
    schedules: tuple[Schedule, ...]
    start: datetime | None = None
    end: datetime | None = None

    def __init__(
        self, *schedules: Schedule, start: datetime | None = None, end: datetime | None = None
    ) -> None:
        object.__setattr__(self, "schedules", _check_parts(self.kind, schedules))
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        self._check_bounds()

    def _fields(self) -> dict[str, Any]:
        return {"schedules": [part.to_json() for part in self.schedules]}

    def _text(self) -> str:
        words = "any of: " if self.kind == "any_of" else "all of: "
        return words + "; ".join(_nested(part) for part in self.schedules)


@dataclass(frozen=True, init=False)
class AnyOf(_Combination):
    """The runs of every one of ``schedules``: the next is the earliest next of any (two
    that fall on one instant are one run). It ends when all of them have."""

    kind = "any_of"


@dataclass(frozen=True, init=False)
class AllOf(_Combination):
    """Only the instants every one of ``schedules`` selects. The search for the next one
    is bounded: a combination that never agrees is refused when the task is added."""

    kind = "all_of"


def _nested(part: Schedule) -> str:
    text = part.describe()
    return f"({text})" if isinstance(part, (AnyOf, AllOf)) else text


def from_json(data: Mapping[str, Any]) -> Schedule:
    """The schedule value ``data`` describes (``to_json``'s output, or ``Task.schedule``,
    also as earlier releases stored it); ``InvalidScheduleError`` when it describes none.

    >>> from_json({"kind": "cron", "expression": "@daily", "timezone": "UTC"})
    Cron(expression='@daily', timezone='UTC', start=None, end=None)
    """
    if not isinstance(data, Mapping):
        raise InvalidScheduleError("unknown", f"expected a JSON object, got {data!r}")
    kind = data.get("kind")
    bounds = {
        "start": _moment_from_json(str(kind), "start", data.get("start")),
        "end": _moment_from_json(str(kind), "end", data.get("end")),
    }
    try:
        if kind == "interval":
            return Interval(data["every_seconds"], fixed=data.get("fixed_interval", True), **bounds)
        if kind == "cron":
            return Cron(data["expression"], timezone=data.get("timezone"), **bounds)
        if kind == "at":
            # An At's time may be naive (read in its zone), as ``At(naive).to_json()`` writes.
            when = _moment_from_json("at", "at", data["at"], naive=True)
            if when is None:  # {"at": null} describes no schedule (an assert failed here)
                raise InvalidScheduleError("at", "at must be an ISO 8601 string, got None")
            return At(when, timezone=data.get("timezone"), **bounds)
        if kind == "calendar":
            return Calendar(
                years=data.get("years", 0),
                months=data.get("months", 0),
                weeks=data.get("weeks", 0),
                days=data.get("days", 0),
                at=data.get("at", "00:00"),
                timezone=data.get("timezone"),
                **bounds,
            )
        if kind in ("any_of", "all_of"):
            parts = data["schedules"]
            if not isinstance(parts, list):
                raise InvalidScheduleError(kind, f"schedules must be a list, got {parts!r}")
            made = [from_json(part) for part in parts]
            return AnyOf(*made, **bounds) if kind == "any_of" else AllOf(*made, **bounds)
    except KeyError as exc:
        raise InvalidScheduleError(str(kind), f"{exc.args[0]!r} is missing") from None
    raise InvalidScheduleError(
        str(kind), "kind must be one of interval, cron, at, calendar, any_of, all_of"
    )
