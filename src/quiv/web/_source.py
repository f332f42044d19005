"""What the dashboard reads of a ``Quiv``, and the one place that reaches past its public API.

The public API covers tasks, next runs, single jobs, statistics and the actions. Three reads
are internal, and only this module makes them: a keyset page of the history (stable while
jobs are added, unlike ``get_all_jobs``'s offset), the count of jobs per status, and the
progress tap (every job's progress reports, see ``quiv._progress``).

The router is given a ``Quiv`` or a function that returns one (an app that builds its
scheduler in its lifespan passes ``lambda: app.state.scheduler``); ``Source.get`` resolves
it for each request, and says so when there is none to read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .._progress import ProgressTap
from .._quiv import Quiv
from .._scheduler import Lifecycle, SchedulerStatistics
from ..exceptions import SchedulerStateError, TaskNotFoundError
from ..models import Job, JobStatus, QuivStats, RunTime, Task, TaskStatus
from ._views import Cursor

__all__ = ["Snapshot", "Source"]

# Running jobs shown at once; more is a scheduler far bigger than one page can show.
RUNNING_SHOWN = 200

_MISSING = "the function given to quiv.web.router returned no Quiv: is the app started?"


class Source:
    """The scheduler a router reads, given as a ``Quiv`` or as a function returning one."""

    __slots__ = ("_given",)

    def __init__(self, given: Quiv | Callable[[], Quiv]) -> None:
        self._given = given

    def get(self) -> Quiv:
        """The scheduler now; ``SchedulerStateError`` when the function gives none."""
        given = self._given
        if isinstance(given, Quiv):
            return given
        try:
            found = given()
        except Exception as exc:
            raise SchedulerStateError("show the dashboard", "missing", _MISSING) from exc
        if not isinstance(found, Quiv):
            raise SchedulerStateError("show the dashboard", "missing", _MISSING)
        return found


def jobs_page(
    quiv: Quiv,
    *,
    status: JobStatus | str | None,
    task_id: str | None,
    since: datetime | None,
    until: datetime | None,
    before: Cursor | None,
    limit: int,
) -> tuple[list[Job], Cursor | None]:
    """A keyset page of jobs, newest first, and the position of the next page (or None)."""
    return quiv._queries.jobs_page(status, task_id, since, until, before, limit)


def jobs_by_status(quiv: Quiv) -> dict[str, int]:
    """How many jobs of the history have each status."""
    return quiv._queries.jobs_by_status()


def progress_tap(quiv: Quiv) -> ProgressTap:
    """Where every job's progress reports can be observed."""
    return quiv._listeners.progress


def next_runs(quiv: Quiv, task_id: str, count: int) -> list[RunTime]:
    """The next runs of a task; none for one that is gone meanwhile."""
    try:
        return quiv.next_run_times(task_id, count)
    except TaskNotFoundError:
        return []


class Snapshot:
    """Everything one view of the dashboard shows, read at one moment."""

    __slots__ = (
        "jobs_by_status",
        "lifecycle",
        "running",
        "statistics",
        "stats",
        "tasks",
        "tasks_by_state",
    )

    def __init__(self, quiv: Quiv, *, task_limit: int) -> None:
        self.lifecycle: Lifecycle = quiv.lifecycle
        self.statistics: SchedulerStatistics = quiv.statistics()
        self.stats: QuivStats = quiv.stats()
        self.tasks: list[Task] = quiv.get_all_tasks(include_run_once=True, limit=task_limit)
        self.running: list[Job] = jobs_page(
            quiv,
            status=JobStatus.RUNNING,
            task_id=None,
            since=None,
            until=None,
            before=None,
            limit=RUNNING_SHOWN,
        )[0]
        self.jobs_by_status: dict[str, int] = jobs_by_status(quiv)
        self.tasks_by_state = task_states(quiv, self.stats, self.tasks, self.running)


def task_states(
    quiv: Quiv, stats: QuivStats, tasks: list[Task], running: list[Job]
) -> dict[str, int]:
    """Tasks per state of the task machine. The stored status says ``paused`` for a task
    paused while its job runs; the machine calls that state ``paused_running``."""
    counts = {"active": 0, "running": 0, "paused": 0, "paused_running": 0}
    for stored, count in stats.tasks_by_status.items():
        if stored in counts:
            counts[stored] += count
    listed = {task.id: task.status for task in tasks}
    for task_id in {job.task_id for job in running}:
        status: str | None = listed.get(task_id)
        if status is None:
            try:
                status = quiv.get_task(task_id).status
            except TaskNotFoundError:
                continue
        if status == TaskStatus.PAUSED.value and counts["paused"] > 0:
            counts["paused"] -= 1
            counts["paused_running"] += 1
    return counts
