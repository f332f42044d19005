"""Every error quiv raises, in one leaf module (it imports nothing from quiv).

The tree::

    QuivError
    ├── ConfigurationError (also ValueError)        bad argument or configuration
    │   ├── InvalidTimezoneError                    timezone that cannot be resolved
    │   ├── InvalidCronExpressionError              cron expression, with the field at fault
    │   ├── InvalidScheduleError                    schedule value that is wrong or never runs
    │   └── UnprotectedDashboardError               a dashboard router without authentication
    ├── HandlerRegistrationError (also ValueError)  a handler or callback is not callable
    ├── DatabaseInitializationError                 the store's database could not be opened
    │   └── DatabaseSchemaError                     its schema version is one quiv cannot use
    ├── DatabaseUnavailableError (also ConnectionError) a read the database did not answer
    ├── HandlerNotRegisteredError (also LookupError) no handler is known for a task id
    ├── TaskNotScheduledError (also LookupError)    a handler is known but no task is stored
    ├── TaskNotFoundError (also LookupError)        no task with that id
    ├── JobNotFoundError (also LookupError)         no job with that id
    ├── TaskNotActiveError                          a paused task has no next run to wait for
    ├── TaskRunningError                            a change its running one-shot run forbids
    ├── JobCancelledError                           a job's stop event ended a wait inside it
    ├── JobProcessDiedError                         the process running a job died under it
    ├── InvalidTransitionError                      a status change the state machine forbids
    ├── SchedulerStateError (also RuntimeError)     a call the scheduler's lifecycle forbids
    │   └── SchedulerStoppedError                   ... because it was shut down
    ├── MainLoopUnavailableError (also RuntimeError) no main loop to run a call on
    └── WaitTimeoutError (also TimeoutError)        a job did not end within the wait

``HandlerRegistrationError`` sits directly under ``QuivError``, as in quiv 0.4.0's
documented tree (an ``except ConfigurationError`` does not catch it).

Constructors take the offending values, keep them as attributes and format the message, so
every raise site reads the same. The one exception is ``ConfigurationError``: its argument
is the whole message, because configuration problems are too varied for one template, and
quiv 0.4.0 code constructs it that way.
"""

from __future__ import annotations

import signal

__all__ = [
    "ConfigurationError",
    "DatabaseInitializationError",
    "DatabaseSchemaError",
    "DatabaseUnavailableError",
    "HandlerNotRegisteredError",
    "HandlerRegistrationError",
    "InvalidCronExpressionError",
    "InvalidScheduleError",
    "InvalidTimezoneError",
    "InvalidTransitionError",
    "JobCancelledError",
    "JobNotFoundError",
    "JobProcessDiedError",
    "MainLoopUnavailableError",
    "QuivError",
    "SchedulerStateError",
    "SchedulerStoppedError",
    "TaskNotActiveError",
    "TaskNotFoundError",
    "TaskNotScheduledError",
    "TaskRunningError",
    "UnprotectedDashboardError",
    "WaitTimeoutError",
]


class QuivError(Exception):
    """Base class of every error raised by quiv."""


class ConfigurationError(QuivError, ValueError):
    """An argument or a configuration value is invalid; the message says what is allowed."""


class InvalidTimezoneError(ConfigurationError):
    """A timezone value cannot be resolved to a ``tzinfo``."""

    def __init__(self, value: object, reason: str | None = None) -> None:
        self.value = value
        detail = reason or (
            "use an IANA name such as 'UTC' or 'America/New_York', 'Z', 'GMT', or a tzinfo"
        )
        super().__init__(f"invalid timezone {value!r}: {detail}")


class InvalidCronExpressionError(ConfigurationError):
    """A cron expression cannot be parsed; ``field`` names the field at fault (None when the
    expression as a whole is wrong, such as a wrong number of fields)."""

    def __init__(self, expression: str, field: str | None, reason: str) -> None:
        self.expression = expression
        self.field = field
        self.reason = reason
        where = "" if field is None else f"{field} field: "
        super().__init__(f"invalid cron expression {expression!r}: {where}{reason}")


class InvalidScheduleError(ConfigurationError):
    """A schedule value (``quiv.schedules``) is wrong, or selects no run at all; ``kind``
    names the kind of schedule (``'calendar'``, ``'all_of'``...)."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(f"invalid {kind} schedule: {reason}")


class UnprotectedDashboardError(ConfigurationError):
    """``quiv.web.router`` was asked for a dashboard without authentication: no
    ``dependencies=`` (the app's own auth) and no ``allow_anonymous=True``."""

    def __init__(self) -> None:
        super().__init__(
            "quiv.web.router() refuses to serve the dashboard and its actions to anyone: "
            "pass the app's authentication as dependencies= (for example "
            "dependencies=[Depends(require_admin)]), or allow_anonymous=True to serve it "
            "without any (only where the network itself keeps strangers out)"
        )


class DatabaseInitializationError(QuivError):
    """The scheduler's database could not be created or opened."""

    def __init__(
        self, location: str, cause: BaseException | None, detail: str | None = None
    ) -> None:
        self.location = location
        self.cause = cause
        reason = detail if detail is not None else cause
        super().__init__(f"could not initialise the quiv database at {location}: {reason}")


class DatabaseSchemaError(DatabaseInitializationError):
    """A durable database's schema is not one this quiv can use: written by a newer quiv,
    without a version, or with no migration path. ``found`` is its version (None if it has
    none) and ``expected`` this quiv's."""

    def __init__(self, location: str, found: int | None, expected: int, reason: str) -> None:
        self.found = found
        self.expected = expected
        self.reason = reason
        super().__init__(
            location, None, f"schema version {found}, and this quiv uses {expected}: {reason}"
        )


class DatabaseUnavailableError(QuivError, ConnectionError):
    """A read could not be answered: the database is down, unreachable, stopped answering
    (past quiv's bound on every call), or its disk failed. Writes are not lost for it: they
    wait and are written when it answers again."""

    def __init__(self, location: str, cause: BaseException) -> None:
        self.location = location
        self.cause = cause
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        super().__init__(f"the quiv database at {location} did not answer: {first}")


class HandlerRegistrationError(QuivError, ValueError):
    """A handler or callback cannot be registered (for example, it is not callable)."""

    def __init__(self, what: str, value: object) -> None:
        self.what = what
        self.value = value
        super().__init__(f"{what} must be callable, got {type(value).__name__}")


class HandlerNotRegisteredError(QuivError, LookupError):
    """No handler is registered under this task id."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(f"no handler is registered for task {task_id!r}; add it with add_task")


class TaskNotScheduledError(QuivError, LookupError):
    """A handler is registered under this id, but no task is scheduled for it."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(
            f"task {task_id!r} is not scheduled (it was removed or has finished its run)"
        )


class TaskNotFoundError(QuivError, LookupError):
    """No task with this id exists."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(f"task {task_id!r} was not found")


class JobNotFoundError(QuivError, LookupError):
    """No job with this id exists (it never did, or its history was purged)."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id!r} was not found")


class TaskNotActiveError(QuivError):
    """The task is paused, so the call has nothing to wait for (``wait_for_task`` on a
    paused task with no run under way or asked for)."""

    def __init__(self, task_id: str, status: str) -> None:
        self.task_id = task_id
        self.status = status
        super().__init__(
            f"task {task_id!r} is {status}: no run of it is under way or due "
            "(resume_task or run_task_immediately first)"
        )


class TaskRunningError(QuivError):
    """The change cannot apply because the task's one run is under way (``update_task``
    moving the run of a one-shot task that is running)."""

    def __init__(self, task_id: str, change: str) -> None:
        self.task_id = task_id
        self.change = change
        super().__init__(
            f"cannot {change} of task {task_id!r}: its one run is under way "
            "(wait for it with wait_for_task, then add a new task)"
        )


class JobCancelledError(QuivError):
    """Raised inside a handler by ``call_on_main`` and ``run_subprocess`` when the job's
    stop event is set while they wait. Let it propagate: the job ends ``cancelled``."""

    def __init__(self, job_id: str | None, what: str) -> None:
        self.job_id = job_id
        self.what = what
        job = "the job" if job_id is None else f"job {job_id!r}"
        super().__init__(f"{what} was stopped: {job} was asked to stop")


class JobProcessDiedError(QuivError):
    """The process running a job (``executor="process"``) ended before its handler returned,
    and quiv did not end it: a crash, ``os._exit``, a kill by the operating system (out of
    memory). ``exitcode`` is the process's exit status, or minus the number of the signal
    that ended it. The job ends ``failed`` with this error, and is retried as for any
    failure (a ``RetryPolicy`` whose ``retry_on`` names other errors only does not retry it).
    """

    def __init__(self, job_id: str, pid: int | None, exitcode: int | None) -> None:
        self.job_id = job_id
        self.pid = pid
        self.exitcode = exitcode
        process = "the process" if pid is None else f"the process {pid}"
        if exitcode is None:
            how = "ended for a reason the system did not give"
        elif exitcode < 0:
            how = f"was killed by signal {-exitcode}{_signal_name(-exitcode)}"
        else:
            how = f"exited with status {exitcode}"
        super().__init__(f"{process} running job {job_id!r} {how} before its handler returned")


def _signal_name(number: int) -> str:
    try:
        return f" ({signal.Signals(number).name})"
    except ValueError:
        return ""


class InvalidTransitionError(QuivError):
    """A status change that the state machine of this kind of object does not allow.

    Nothing is stored when this is raised: the object keeps ``state``.
    """

    def __init__(self, kind: str, obj_id: str, state: str, trigger: str) -> None:
        self.kind = kind
        self.obj_id = obj_id
        self.state = state
        self.trigger = trigger
        super().__init__(f"{kind} {obj_id!r} in state {state!r} cannot {trigger!r}")


class SchedulerStateError(QuivError, RuntimeError):
    """The call is not allowed in the scheduler's current lifecycle state."""

    def __init__(self, operation: str, state: str, allowed: str) -> None:
        self.operation = operation
        self.state = state
        super().__init__(f"cannot {operation}: the scheduler is {state} ({allowed})")


class SchedulerStoppedError(SchedulerStateError):
    """The call came after ``shutdown()``: a stopped scheduler cannot be used again."""

    def __init__(self, operation: str, state: str = "stopped") -> None:
        super().__init__(operation, state, "build a new Quiv")


class MainLoopUnavailableError(QuivError, RuntimeError):
    """No main asyncio loop to run the call on: no started ``Quiv``, no running loop, or a
    wait for a coroutine asked for on the main loop's own thread."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"{what}: {reason}")


class WaitTimeoutError(QuivError, TimeoutError):
    """``wait_for_job`` gave up before the job ended; the job itself goes on."""

    def __init__(self, job_id: str, timeout: float | None) -> None:
        self.job_id = job_id
        self.timeout = timeout
        super().__init__(f"job {job_id!r} did not end within {timeout} s")
