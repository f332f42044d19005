"""an in-process, threadpool-backed job scheduler for Python applications.

How the parts fit. ``Quiv`` (``_quiv``) is the façade: each of its methods hands the request
to the module that owns it. ``_lifecycle`` builds the parts and starts and stops them;
``_task_options`` checks ``add_task``'s and ``update_task``'s arguments into a task or a change,
which ``_registration`` hands to the ``Scheduler`` (``_scheduler``), whose single thread is the
only owner of mutable scheduling state; ``_queries`` reads the history into public models, and
``_waiting`` waits for jobs to end. That thread keeps every pending deadline in a
``Timeline`` (``_timing``, a sorted list on ``sortedcontainers``), sleeps on the injected
``Clock`` (``_clock``) until the earliest deadline or a wake-up, and starts due jobs on the
``WorkerPool`` (``_workers``). Every status change of a task or a job is checked by the state
machines (``_machines``, declared with ``transitions``); next-run times come from pure
arithmetic (``_schedule``: intervals on the monotonic clock; cron and at= times as wall-clock
instants, from ``_cron``, which parses expressions, and ``_calendar``, which applies the DST
rules in a zone; calendar intervals, bounds and combinations from ``_slots``; ``_resolve``
turns the public schedule values of ``quiv.schedules`` into these; ``_preview`` lists
upcoming runs for UIs). Workers call handlers through
``_invocation`` (injected keywords, sync or async) and report back with commands; a job of
a task added with ``executor="process"`` runs in a child process instead, for which its
worker relays (``_processes``: the pool of children; ``_child``: what each child runs), and
results and errors become storable text by the same rules wherever they ran (``_results``).
Rows go to
the write-behind ``Store`` (``_store``, SQLModel on a private temporary SQLite database) off
the dispatch path. Progress callbacks, listeners (``_events``) and ``run_on_main`` reach the
application's main asyncio loop through ``_bridge`` (``call_on_main`` waits for its answer),
and every job's progress reports reach internal observers too (``_progress``);
``_context`` tells helpers such as ``run_subprocess`` (``_subprocess``) which job they run
in. Instrumentation (``_instruments``; ``quiv.metrics`` and ``quiv.tracing`` attach one) is
told of each job's start where its handler runs and of its end where that is recorded, as
plain values, for one attribute read per job while none is attached. Errors live in
``quiv.exceptions``, public data in ``quiv.models``, test helpers in ``quiv.testing``;
``quiv.config``, ``quiv.scheduler`` and the other modules of quiv 0.4.0's layout only
re-export names, so that its imports keep working.
"""

from __future__ import annotations

from ._bridge import call_on_main as call_on_main
from ._bridge import run_on_main as run_on_main
from ._config import QuivConfig as QuivConfig
from ._config import resolve_timezone as resolve_timezone
from ._instruments import Instrumentation as Instrumentation
from ._instruments import JobEnd as JobEnd
from ._instruments import JobRun as JobRun
from ._preview import preview as preview
from ._preview import preview_cron as preview_cron
from ._quiv import Quiv as Quiv
from ._schedule import Misfire as Misfire
from ._schedule import RetryPolicy as RetryPolicy
from ._scheduler import Lifecycle as Lifecycle
from ._scheduler import SchedulerStatistics as SchedulerStatistics
from ._subprocess import run_subprocess as run_subprocess
from .exceptions import ConfigurationError as ConfigurationError
from .exceptions import DatabaseInitializationError as DatabaseInitializationError
from .exceptions import DatabaseSchemaError as DatabaseSchemaError
from .exceptions import DatabaseUnavailableError as DatabaseUnavailableError
from .exceptions import HandlerNotRegisteredError as HandlerNotRegisteredError
from .exceptions import HandlerRegistrationError as HandlerRegistrationError
from .exceptions import InvalidCronExpressionError as InvalidCronExpressionError
from .exceptions import InvalidScheduleError as InvalidScheduleError
from .exceptions import InvalidTimezoneError as InvalidTimezoneError
from .exceptions import InvalidTransitionError as InvalidTransitionError
from .exceptions import JobCancelledError as JobCancelledError
from .exceptions import JobNotFoundError as JobNotFoundError
from .exceptions import JobProcessDiedError as JobProcessDiedError
from .exceptions import MainLoopUnavailableError as MainLoopUnavailableError
from .exceptions import QuivError as QuivError
from .exceptions import SchedulerStateError as SchedulerStateError
from .exceptions import SchedulerStoppedError as SchedulerStoppedError
from .exceptions import TaskNotActiveError as TaskNotActiveError
from .exceptions import TaskNotFoundError as TaskNotFoundError
from .exceptions import TaskNotScheduledError as TaskNotScheduledError
from .exceptions import TaskRunningError as TaskRunningError
from .exceptions import UnprotectedDashboardError as UnprotectedDashboardError
from .exceptions import WaitTimeoutError as WaitTimeoutError
from .models import Event as Event
from .models import Job as Job
from .models import JobStatus as JobStatus
from .models import QuivStats as QuivStats
from .models import RunTime as RunTime
from .models import Task as Task
from .models import TaskStatus as TaskStatus

__version__ = "1.0.0.dev0"

__all__ = [
    "ConfigurationError",
    "DatabaseInitializationError",
    "DatabaseSchemaError",
    "DatabaseUnavailableError",
    "Event",
    "HandlerNotRegisteredError",
    "HandlerRegistrationError",
    "Instrumentation",
    "InvalidCronExpressionError",
    "InvalidScheduleError",
    "InvalidTimezoneError",
    "InvalidTransitionError",
    "Job",
    "JobCancelledError",
    "JobEnd",
    "JobNotFoundError",
    "JobProcessDiedError",
    "JobRun",
    "JobStatus",
    "Lifecycle",
    "MainLoopUnavailableError",
    "Misfire",
    "Quiv",
    "QuivConfig",
    "QuivError",
    "QuivStats",
    "RetryPolicy",
    "RunTime",
    "SchedulerStateError",
    "SchedulerStatistics",
    "SchedulerStoppedError",
    "Task",
    "TaskNotActiveError",
    "TaskNotFoundError",
    "TaskNotScheduledError",
    "TaskRunningError",
    "TaskStatus",
    "UnprotectedDashboardError",
    "WaitTimeoutError",
    "call_on_main",
    "preview",
    "preview_cron",
    "resolve_timezone",
    "run_on_main",
    "run_subprocess",
]
