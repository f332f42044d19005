"""Next-run arithmetic for interval tasks. Pure: times are plain monotonic seconds."""

from __future__ import annotations

import math

__all__ = ["next_after_run"]


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
