"""Next-run arithmetic for interval tasks. Pure: times are plain monotonic seconds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .exceptions import ConfigurationError

__all__ = ["RetryPolicy", "next_after_run", "retry_delay"]


def next_after_run(*, anchor: float, ended: float, interval: float, fixed_interval: bool) -> float:
    """The deadline of the run after one that was due at ``anchor`` and ended at ``ended``.

    ``fixed_interval=True`` keeps the cadence ``anchor + k * interval``: the next slot is the
    first one at or after ``ended`` (at least one interval after ``anchor``), so slots missed
    while the run overran are skipped, never made up in a burst. ``fixed_interval=False``
    waits ``interval`` after the run ended.

    >>> next_after_run(anchor=10.0, ended=10.5, interval=2.0, fixed_interval=True)
    12.0
    >>> next_after_run(anchor=10.0, ended=15.0, interval=2.0, fixed_interval=True)
    16.0
    >>> next_after_run(anchor=10.0, ended=10.5, interval=2.0, fixed_interval=False)
    12.5
    """
    if not fixed_interval:
        return ended + interval
    periods = max(1, math.ceil((ended - anchor) / interval))
    # The division can round up past a slot that ``ended`` sits exactly on; take it back.
    if periods > 1 and anchor + (periods - 1) * interval >= ended:
        periods -= 1
    return anchor + periods * interval


@dataclass(frozen=True)
class RetryPolicy:
    """How a task retries a failed run: ``add_task(..., retries=RetryPolicy(...))``.

    ``max_retries`` more attempts follow a failure whose exception is an instance of one of
    ``retry_on``. The wait before retry ``n`` (1, 2, ...) is ``backoff * 2 ** (n - 1)``
    seconds, capped at ``backoff_max``, then shortened by a random part of up to ``jitter``
    (a fraction, 0 to 1) of itself, so that retries of many tasks spread out.
    """

    max_retries: int = 3
    backoff: float = 1.0
    backoff_max: float = 60.0
    jitter: float = 0.5
    retry_on: tuple[type[BaseException], ...] = field(default=(Exception,))

    def __post_init__(self) -> None:
        problems = []
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            problems.append(f"max_retries must be an int, got {self.max_retries!r}")
        elif not 0 <= self.max_retries <= 1000:
            problems.append(f"max_retries must be 0 to 1000, got {self.max_retries}")
        for name in ("backoff", "backoff_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"{name} must be a number of seconds, got {value!r}")
            elif not 0 <= value <= 86400:
                problems.append(f"{name} must be 0 to 86400 seconds, got {value!r}")
        jitter = self.jitter
        if isinstance(jitter, bool) or not isinstance(jitter, (int, float)):
            problems.append(f"jitter must be a number from 0 to 1, got {jitter!r}")
        elif not 0 <= jitter <= 1:
            problems.append(f"jitter must be from 0 to 1, got {jitter!r}")
        retry_on = self.retry_on
        if (
            not isinstance(retry_on, tuple)
            or not retry_on
            or not all(isinstance(t, type) and issubclass(t, BaseException) for t in retry_on)
        ):
            problems.append(
                f"retry_on must be a non-empty tuple of exception classes, got {retry_on!r}"
            )
        if problems:
            raise ConfigurationError("invalid RetryPolicy: " + "; ".join(problems))

    def retries(self, exc: BaseException) -> bool:
        """Whether ``exc`` is one that this policy retries."""
        return isinstance(exc, self.retry_on)


def retry_delay(policy: RetryPolicy, retry: int, randomness: float) -> float:
    """Seconds to wait before retry number ``retry`` (1 is the first retry).

    ``randomness`` is a number in [0, 1) (``random.random()``), passed in to keep this pure.

    >>> policy = RetryPolicy(backoff=1.0, backoff_max=5.0, jitter=0.5)
    >>> [retry_delay(policy, n, 0.0) for n in (1, 2, 3, 4)]
    [1.0, 2.0, 4.0, 5.0]
    >>> retry_delay(policy, 2, 0.999) > 1.0
    True
    """
    # The exponent is capped too: 2 ** 1100 would overflow a float.
    base = min(policy.backoff_max, policy.backoff * 2.0 ** min(retry - 1, 64))
    return base * (1.0 - policy.jitter * randomness)
