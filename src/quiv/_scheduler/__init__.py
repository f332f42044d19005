"""The scheduler: the one owner of the timing structure and of task and job state.

API callers and workers never touch that state directly. They post commands to the
scheduler thread's inbox (``inbox``), or, while it sleeps, take its state lock for a fast
path (``loop``). The parts, each a module, share the tables of ``state`` and nothing of
one another's:

- ``loop``: the thread, its lifecycle and the fast paths; ``Scheduler`` wires the parts;
- ``inbox``: commands and the wake-up; ``emitting``: where the events of a change go;
- ``state``: the tables of tasks, jobs and deadlines, and their primitive changes;
- ``planning``: pure arithmetic of next runs, misfire and jitter (``Planner`` reads clocks);
- ``dispatch``: due runs to workers; ``outcomes``: job endings, retries, timeouts;
- ``shared``: claims, catch-up and take-over of shared tasks, and the fence;
- ``housekeeping``: purges, late-start reports, wall-clock drift;
- ``commands`` and ``runs``: what the API asks of tasks, and of runs and jobs.
"""

from __future__ import annotations

from .commands import TaskChange
from .scheduler import Lifecycle, Scheduler, SchedulerStatistics

__all__ = ["Lifecycle", "Scheduler", "SchedulerStatistics", "TaskChange"]
