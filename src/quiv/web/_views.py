"""What the dashboard shows, as JSON-ready data: tasks, jobs, statistics, progress, cursors.

Pure: models in, dicts out. Every shape the JSON API and the stream send is made here, so
the rules hold in one place: a task's arguments are left out unless the app opted in (they
may hold secrets), a progress report becomes bounded JSON whatever the handler passed, and a
cursor is an opaque token that is checked when it comes back.

The progress bar understands these reports (anything else shows as text, without a bar):

- ``hook(0.25)``: one number from 0 to 1, the fraction done;
- ``hook(3, 12)``: two numbers, done and total;
- ``hook(progress=3, total=12)``, or ``hook(progress=0.25)`` without a total (a fraction);
- ``hook({"progress": 3, "total": 12})``: the same, as one dict;
- ``hook(percent=25)``: a percentage, 0 to 100.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..models import Job, QuivStats, RunTime, Task

if TYPE_CHECKING:
    from .._scheduler import SchedulerStatistics

__all__ = [
    "Cursor",
    "decode_cursor",
    "encode_cursor",
    "job_view",
    "progress_fraction",
    "progress_label",
    "progress_view",
    "statistics_view",
    "task_view",
]

# A position in the history: the (started_at, id) of the last job of a page.
Cursor = tuple[float, str]

# Bounds of a progress report as sent: items per list or dict, characters per string, depth.
_ITEMS = 20
_CHARACTERS = 200
_DEPTH = 4
_LABEL_CHARACTERS = 120


def task_view(task: Task, next_runs: list[RunTime], *, show_arguments: bool) -> dict[str, Any]:
    """A task as JSON, with its next runs (UTC); ``args``/``kwargs`` only when shown."""
    view = task.model_dump(mode="json", exclude=None if show_arguments else {"args", "kwargs"})
    view["next_runs"] = [run.utc.isoformat() for run in next_runs]
    return view


def job_view(job: Job) -> dict[str, Any]:
    """A job as JSON (a job holds no arguments of its task)."""
    return job.model_dump(mode="json")


def statistics_view(
    lifecycle: str,
    statistics: SchedulerStatistics,
    stats: QuivStats,
    tasks_by_state: dict[str, int],
    jobs_by_status: dict[str, int],
) -> dict[str, Any]:
    """The scheduler's load and counts: ``statistics()``, ``stats()`` and the counts per
    state of the two state machines."""
    return {
        "lifecycle": lifecycle,
        "statistics": dataclasses.asdict(statistics),
        "stats": {
            **dataclasses.asdict(stats),
            "next_run_at": None if stats.next_run_at is None else stats.next_run_at.isoformat(),
        },
        "tasks_by_state": tasks_by_state,
        "jobs_by_status": jobs_by_status,
    }


def encode_cursor(position: Cursor | None) -> str | None:
    """The opaque token of a position (None: there is no next page)."""
    if position is None:
        return None
    raw = json.dumps([position[0], position[1]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(token: str) -> Cursor:
    """The position a token names; ``ValueError`` for a token this module did not make."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a cursor of this API: {token!r}") from exc
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not _number(value[0])
        or not isinstance(value[1], str)
        or not 0 < len(value[1]) <= 200
    ):
        raise ValueError(f"not a cursor of this API: {token!r}")
    return float(value[0]), value[1]


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def progress_fraction(args: tuple[Any, ...], kwargs: dict[str, Any]) -> float | None:
    """The fraction done (0 to 1) a report says, by the shapes of the module docstring;
    None when it says none."""
    fraction: float | None = None
    if not kwargs and len(args) == 1 and isinstance(args[0], dict):
        return progress_fraction((), args[0])
    if not kwargs and len(args) == 1 and _number(args[0]):
        fraction = float(args[0]) if 0 <= args[0] <= 1 else None
    elif not kwargs and len(args) == 2 and _number(args[0]) and _number(args[1]):
        fraction = args[0] / args[1] if args[1] > 0 else None
    elif not args and _number(kwargs.get("progress")):
        total = kwargs.get("total")
        if total is None:
            value = kwargs["progress"]
            fraction = float(value) if 0 <= value <= 1 else None
        elif _number(total) and total > 0:
            fraction = kwargs["progress"] / total
    elif not args and _number(kwargs.get("percent")):
        fraction = kwargs["percent"] / 100
    if fraction is None:
        return None
    return min(1.0, max(0.0, float(fraction)))


def _jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as bounded JSON data: plain values kept, containers cut to ``_ITEMS``,
    strings to ``_CHARACTERS``, anything else named by its type only (its ``repr`` could
    say more than the handler meant to)."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= _CHARACTERS else value[:_CHARACTERS] + "…"
    if isinstance(value, datetime):
        return value.isoformat()
    if depth < _DEPTH and isinstance(value, (list, tuple)):
        return [_jsonable(item, depth + 1) for item in list(value)[:_ITEMS]]
    if depth < _DEPTH and isinstance(value, dict):
        items = list(value.items())[:_ITEMS]
        return {str(key)[:_CHARACTERS]: _jsonable(item, depth + 1) for key, item in items}
    return f"<{type(value).__name__}>"


def progress_label(args: list[Any], kwargs: dict[str, Any]) -> str:
    """A short line of text for a report (its JSON-ready ``args`` and ``kwargs``)."""

    def show(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    parts = [show(arg) for arg in args] + [f"{key}={show(item)}" for key, item in kwargs.items()]
    text = " ".join(parts)
    return text if len(text) <= _LABEL_CHARACTERS else text[:_LABEL_CHARACTERS] + "…"


def progress_view(
    task_id: str, job_id: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """One progress report as the stream sends it: who reported, the fraction done (or
    None), a short label, and the payload as bounded JSON."""
    shown_args = _jsonable(list(args))
    shown_kwargs = _jsonable(kwargs)
    return {
        "task_id": task_id,
        "job_id": job_id,
        "fraction": progress_fraction(args, kwargs),
        "label": progress_label(shown_args, shown_kwargs),
        "payload": {"args": shown_args, "kwargs": shown_kwargs},
    }
