"""Configuration of the example app, read from ``QUIV_EXAMPLE_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Settings"]

PREFIX = "QUIV_EXAMPLE_"


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(PREFIX + name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{PREFIX}{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{PREFIX}{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """What the app can be told from outside.

    ``pool_size``: quiv's workers. ``cleanup_interval``: seconds between two sweeps of the
    scratch directory. ``file_max_age``: seconds a finished download is kept there.
    ``shutdown_timeout``: how long shutdown waits for running jobs. ``log_level``: of the
    app's loggers (quiv's included). ``dashboard_token``: what the dashboard at ``/quiv/``
    asks for (empty: the app makes one up at startup and logs it).
    """

    pool_size: int = 4
    cleanup_interval: float = 60.0
    file_max_age: float = 300.0
    shutdown_timeout: float = 5.0
    log_level: str = "INFO"
    dashboard_token: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            pool_size=int(_number(env, "POOL_SIZE", defaults.pool_size)),
            cleanup_interval=_number(env, "CLEANUP_INTERVAL", defaults.cleanup_interval),
            file_max_age=_number(env, "FILE_MAX_AGE", defaults.file_max_age),
            shutdown_timeout=_number(env, "SHUTDOWN_TIMEOUT", defaults.shutdown_timeout),
            log_level=env.get(PREFIX + "LOG_LEVEL", defaults.log_level).upper(),
            dashboard_token=env.get(PREFIX + "DASHBOARD_TOKEN", "").strip(),
        )
