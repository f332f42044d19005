"""Scheduler configuration, time zone resolution, and argument validation shared by the API."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .exceptions import ConfigurationError, InvalidTimezoneError

__all__ = ["QuivConfig", "resolve_timezone"]

_UTC_ALIASES = frozenset({"UTC", "Z", "GMT"})
# A fixed offset as ``str(datetime.timezone(...))`` writes it ("UTC+02:00"), so that a
# schedule in such a zone reads back from its JSON; also "+02:00" and "-0530".
_OFFSET = re.compile(r"(?:UTC|GMT)?([+-])(\d{2}):?(\d{2})")


@dataclass(frozen=True)
class QuivConfig:
    """Immutable scheduler settings, validated when a ``Quiv`` is built from them.

    ``pool_size`` is the most jobs that run at once; ``history_retention_seconds`` how long
    a finished job stays queryable; ``timezone`` only formats log output (everything stored
    is UTC). The process executor (``add_task(..., executor="process")``): at most
    ``process_pool_size`` of those jobs run in processes at once (each also holds one of
    the ``pool_size`` workers while it runs); a process job asked to stop that has not
    returned ``kill_grace`` seconds later is killed; ``process_start_method`` is
    ``"forkserver"`` or ``"spawn"`` (None: forkserver where the platform has it, else
    spawn; never fork, which is unsafe next to threads).
    """

    pool_size: int = 10
    history_retention_seconds: int = 86400
    timezone: str | tzinfo = "UTC"
    process_pool_size: int = 2
    kill_grace: float = 5.0
    process_start_method: str | None = None


def resolve_timezone(value: str | tzinfo) -> tzinfo:
    """Turn an IANA name, ``"UTC"``/``"Z"``/``"GMT"`` (any case), a fixed offset
    (``"UTC+02:00"``, ``"+02:00"``, ``"-0530"``) or a ``tzinfo`` into a ``tzinfo``.

    Raises ``InvalidTimezoneError`` for an unknown name or a value of another type.
    """
    if isinstance(value, tzinfo):
        return value
    if not isinstance(value, str):
        raise InvalidTimezoneError(value, f"expected str or tzinfo, got {type(value).__name__}")
    name = value.strip()
    if name.upper() in _UTC_ALIASES:
        return timezone.utc
    if not name:
        raise InvalidTimezoneError(value, "the name is empty")
    offset = _OFFSET.fullmatch(name.upper())
    if offset is not None:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta >= timedelta(hours=24) or int(minutes) >= 60:
            raise InvalidTimezoneError(value, "an offset is less than 24 hours")
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: "America", a folder
        raise InvalidTimezoneError(value) from exc


# A century: far beyond any real schedule, and safely inside what datetime (year 9999) and
# the platform's timeouts can represent.
MAX_SECONDS = 100 * 365.25 * 86400
# Each worker is a thread: beyond this, a pool is a mistake, not a configuration.
MAX_POOL_SIZE = 10_000
# Each is a process with an interpreter of its own.
MAX_PROCESS_POOL_SIZE = 1_000
# How processes are started: never "fork", which copies a process that runs threads.
START_METHODS = ("forkserver", "spawn")
# A microsecond: shorter intervals are not schedulable, and their arithmetic overflows.
MIN_INTERVAL_SECONDS = 1e-6


def check_number(
    name: str,
    value: object,
    *,
    positive: bool = False,
    allow_zero: bool = True,
    minimum: float | None = None,
    maximum: float | None = MAX_SECONDS,
) -> float:
    """Return ``value`` as a finite float, or raise ``ConfigurationError`` naming ``name``.

    Booleans are refused although they are ints: ``interval=True`` is always a mistake.
    ``maximum`` defaults to a century (``None``: no bound); ``minimum`` applies to values
    above zero.
    """
    kind = type(value)
    # The common case, checked in one go (a bool's type is not int; an int beyond a float's
    # range takes the long way).
    if kind is float or (kind is int and -(2**53) <= value <= 2**53):  # type: ignore[operator]
        number = float(value)  # type: ignore[arg-type]
        if (
            0.0 < number <= (MAX_SECONDS if maximum is None else maximum)
            and (minimum is None or number >= minimum)
        ) or (number == 0.0 and allow_zero and not positive):
            return number
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(
            f"{name} must be a number of seconds, got {type(value).__name__} {value!r}"
        )
    try:
        number = float(value)
    except OverflowError:  # an int beyond the range of a float
        number = math.inf
    if math.isnan(number) or math.isinf(number):
        raise ConfigurationError(f"{name} must be a finite number of seconds, got {value!r}")
    if positive and number <= 0:
        raise ConfigurationError(f"{name} must be greater than 0, got {value!r}")
    if not allow_zero and number == 0:
        raise ConfigurationError(f"{name} must not be 0")
    if number < 0:
        raise ConfigurationError(f"{name} must not be negative, got {value!r}")
    if minimum is not None and 0 < number < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum:g} seconds, got {value!r}")
    if maximum is not None and number > maximum:
        raise ConfigurationError(
            f"{name} must be at most {maximum:.0f} seconds (a century), got {value!r}"
        )
    return number


def check_text(name: str, value: object, *, limit: int | None = None) -> str:
    """Return ``value`` if it is text every store can keep, else raise ``ConfigurationError``
    naming ``name``: a non-empty ``str`` (not only spaces), of at most ``limit`` characters,
    with no NUL character (PostgreSQL refuses it) and no lone surrogate (no UTF-8 for it)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} must be a non-empty str, got {value!r}")
    if limit is not None and len(value) > limit:
        raise ConfigurationError(
            f"{name} must be at most {limit} characters, got {len(value)}: {value[:40]!r}..."
        )
    if "\x00" in value:
        raise ConfigurationError(f"{name} must not contain NUL characters, got {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: no database can store it
        raise ConfigurationError(f"{name} must be valid Unicode text: {exc}") from exc
    return value


def check_id(name: str, value: object) -> None:
    """Raise ``ConfigurationError`` naming ``name`` unless ``value`` (a task or job id) is a
    ``str``; whether such an id exists is for the caller to find out."""
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a str, got {type(value).__name__}")


def validate_config(config: QuivConfig) -> tzinfo:
    """Check every field of ``config``; return the resolved display time zone."""
    pool_size = config.pool_size
    if isinstance(pool_size, bool) or not isinstance(pool_size, int):
        raise ConfigurationError(
            f"pool_size must be an int from 1 to {MAX_POOL_SIZE}, "
            f"got {type(pool_size).__name__} {pool_size!r}"
        )
    if not 1 <= pool_size <= MAX_POOL_SIZE:
        raise ConfigurationError(
            f"pool_size must be an int from 1 to {MAX_POOL_SIZE}, got {pool_size!r}"
        )
    check_number("history_retention_seconds", config.history_retention_seconds, maximum=None)
    processes = config.process_pool_size
    if (
        isinstance(processes, bool)
        or not isinstance(processes, int)
        or not 1 <= processes <= MAX_PROCESS_POOL_SIZE
    ):
        raise ConfigurationError(
            f"process_pool_size must be an int from 1 to {MAX_PROCESS_POOL_SIZE}, "
            f"got {type(processes).__name__} {processes!r}"
        )
    check_number("kill_grace", config.kill_grace)
    method = config.process_start_method
    if method is not None and method not in START_METHODS:
        raise ConfigurationError(
            f"process_start_method must be 'forkserver', 'spawn' or None, got {method!r}"
        )
    return resolve_timezone(config.timezone)
