"""Unit tests of ``quiv._config``: time zones, number checks, and whole-config validation."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from quiv._config import QuivConfig, check_number, resolve_timezone, validate_config
from quiv.exceptions import ConfigurationError, InvalidTimezoneError, QuivError

# -- resolve_timezone ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["UTC", "utc", "Utc", " Z ", "z", "GMT", "gmt", "\tUTC\n"])
def test_utc_aliases(name: str) -> None:
    assert resolve_timezone(name) is timezone.utc


def test_iana_name() -> None:
    berlin = resolve_timezone("Europe/Berlin")
    assert isinstance(berlin, ZoneInfo)
    assert berlin.key == "Europe/Berlin"
    # It is the real zone: CEST in summer, CET in winter.
    assert datetime(2024, 7, 1, 12, tzinfo=berlin).utcoffset() == timedelta(hours=2)
    assert datetime(2024, 1, 1, 12, tzinfo=berlin).utcoffset() == timedelta(hours=1)


def test_iana_name_is_stripped() -> None:
    assert resolve_timezone("  America/New_York ") == ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    "value", [timezone.utc, timezone(timedelta(hours=-3)), ZoneInfo("Asia/Tokyo")]
)
def test_tzinfo_passes_through(value: tzinfo) -> None:
    assert resolve_timezone(value) is value


def test_unknown_name() -> None:
    with pytest.raises(InvalidTimezoneError) as info:
        resolve_timezone("Mars/Olympus_Mons")
    error = info.value
    assert isinstance(error, ConfigurationError)
    assert isinstance(error, ValueError)
    assert isinstance(error, QuivError)
    assert error.value == "Mars/Olympus_Mons"
    assert "'Mars/Olympus_Mons'" in str(error)
    assert "IANA" in str(error)  # says what would be accepted
    assert isinstance(error.__cause__, ZoneInfoNotFoundError)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/localtime", "Europe/../UTC"])
def test_path_like_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidTimezoneError) as info:
        resolve_timezone(name)
    assert info.value.value == name


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_empty_name(name: str) -> None:
    with pytest.raises(InvalidTimezoneError, match="empty") as info:
        resolve_timezone(name)
    assert info.value.value == name


@pytest.mark.parametrize(
    ("value", "type_name"), [(5, "int"), (None, "NoneType"), (b"UTC", "bytes"), (2.0, "float")]
)
def test_wrong_type(value: object, type_name: str) -> None:
    with pytest.raises(InvalidTimezoneError, match=f"got {type_name}") as info:
        resolve_timezone(value)  # type: ignore[arg-type]
    assert info.value.value == value


# -- check_number ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 0.0), (3, 3.0), (2.5, 2.5), (1e-9, 1e-9), (10**6, 1e6)]
)
def test_check_number_accepts(value: float, expected: float) -> None:
    result = check_number("interval", value)
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize("value", [True, False])
def test_check_number_refuses_bool(value: bool) -> None:
    with pytest.raises(ConfigurationError, match=r"interval must be a number.*got bool"):
        check_number("interval", value)


@pytest.mark.parametrize("value", ["3", None, [1], b"1", 1j])
def test_check_number_refuses_other_types(value: object) -> None:
    with pytest.raises(ConfigurationError, match=f"got {type(value).__name__}"):
        check_number("delay", value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_check_number_refuses_non_finite(value: float) -> None:
    with pytest.raises(ConfigurationError, match="delay must be a finite number"):
        check_number("delay", value)


@pytest.mark.parametrize("value", [-1, -0.001, -1e9])
def test_check_number_refuses_negative(value: float) -> None:
    with pytest.raises(ConfigurationError, match="delay must not be negative"):
        check_number("delay", value)


@pytest.mark.parametrize("value", [0, 0.0, -0.0, -5])
def test_check_number_positive(value: float) -> None:
    with pytest.raises(ConfigurationError, match="interval must be greater than 0"):
        check_number("interval", value, positive=True)
    assert check_number("interval", 0.5, positive=True) == 0.5


def test_check_number_allow_zero() -> None:
    with pytest.raises(ConfigurationError, match="timeout must not be 0"):
        check_number("timeout", 0, allow_zero=False)
    assert check_number("timeout", 1, allow_zero=False) == 1.0
    with pytest.raises(ConfigurationError, match="must not be negative"):
        check_number("timeout", -1, allow_zero=False)


# -- validate_config -------------------------------------------------------------------------


def test_default_config() -> None:
    config = QuivConfig()
    assert config.pool_size == 10
    assert config.history_retention_seconds == 86400
    assert validate_config(config) is timezone.utc


def test_config_is_frozen() -> None:
    config = QuivConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.pool_size = 3  # type: ignore[misc]


def test_valid_config_returns_the_display_zone() -> None:
    zone = validate_config(
        QuivConfig(pool_size=1, history_retention_seconds=0, timezone="Europe/Berlin")
    )
    assert zone == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("pool_size", [0, -1, True, False, 2.5, "3", None, 1.0])
def test_bad_pool_size(pool_size: object) -> None:
    with pytest.raises(ConfigurationError, match="pool_size must be an int from 1 to 10000"):
        validate_config(QuivConfig(pool_size=pool_size))  # type: ignore[arg-type]


@pytest.mark.parametrize("retention", [-1, -0.5, math.nan, math.inf, True, "60", None])
def test_bad_retention(retention: object) -> None:
    with pytest.raises(ConfigurationError, match="history_retention_seconds"):
        validate_config(QuivConfig(history_retention_seconds=retention))  # type: ignore[arg-type]


@pytest.mark.parametrize("zone", ["Not/AZone", "", 5])
def test_bad_timezone(zone: object) -> None:
    with pytest.raises(InvalidTimezoneError):
        validate_config(QuivConfig(timezone=zone))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "hours", "minutes"),
    [("UTC+02:00", 2, 0), ("+02:00", 2, 0), ("-0530", -5, -30), ("gmt-03:00", -3, 0)],
)
def test_a_fixed_offset_resolves_to_that_offset(name: str, hours: int, minutes: int) -> None:
    zone = resolve_timezone(name)
    assert zone.utcoffset(None) == timedelta(hours=hours, minutes=minutes)
    # str() of the zone reads back as the same offset: a schedule's JSON round-trips.
    assert resolve_timezone(str(zone)).utcoffset(None) == zone.utcoffset(None)


@pytest.mark.parametrize("name", ["+24:00", "+02:60", "UTC+2", "+2:00"])
def test_an_offset_out_of_range_or_malformed_is_refused(name: str) -> None:
    with pytest.raises(InvalidTimezoneError):
        resolve_timezone(name)
