"""The public surface of quiv: ``__all__`` lists, the error hierarchy, and docstrings."""

from __future__ import annotations

import importlib
import inspect
import types

import pytest

import quiv
import quiv.exceptions
import quiv.metrics
import quiv.models
import quiv.schedules
import quiv.tracing
from quiv.exceptions import (
    ConfigurationError,
    DatabaseInitializationError,
    DatabaseSchemaError,
    DatabaseUnavailableError,
    HandlerNotRegisteredError,
    HandlerRegistrationError,
    InvalidCronExpressionError,
    InvalidScheduleError,
    InvalidTimezoneError,
    InvalidTransitionError,
    JobCancelledError,
    JobNotFoundError,
    JobProcessDiedError,
    MainLoopUnavailableError,
    QuivError,
    SchedulerStateError,
    SchedulerStoppedError,
    TaskNotActiveError,
    TaskNotFoundError,
    TaskNotScheduledError,
    TaskRunningError,
    UnprotectedDashboardError,
    WaitTimeoutError,
)

MODULES = [quiv, quiv.exceptions, quiv.models, quiv.schedules, quiv.metrics, quiv.tracing]


def _public_names(module: types.ModuleType) -> set[str]:
    """Public names bound in ``module``: no submodules, no ``from __future__`` feature, and,
    for a leaf module, only what it defines itself (not what it imports, like ``Any``)."""
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or name == "annotations" or isinstance(value, types.ModuleType):
            continue
        is_package = hasattr(module, "__path__")
        if not is_package and getattr(value, "__module__", None) != module.__name__:
            continue
        names.add(name)
    return names


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_all_is_sorted_and_unique(module: types.ModuleType) -> None:
    assert list(module.__all__) == sorted(module.__all__)
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_all_lists_exactly_the_public_names(module: types.ModuleType) -> None:
    assert set(module.__all__) == _public_names(module)


def test_package_exports_nothing_foreign() -> None:
    # In the package every public binding is quiv's own (no stray ``Any`` or ``datetime``).
    for name in quiv.__all__:
        assert getattr(quiv, name).__module__.startswith("quiv"), name


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_listed_name_is_importable(module: types.ModuleType) -> None:
    fresh = importlib.import_module(module.__name__)
    for name in module.__all__:
        assert getattr(fresh, name) is not None
    namespace: dict[str, object] = {}
    exec(f"from {module.__name__} import *", namespace)
    assert set(module.__all__) <= set(namespace)


def test_package_re_exports_are_the_same_objects() -> None:
    for name in quiv.exceptions.__all__:
        assert getattr(quiv, name) is getattr(quiv.exceptions, name)
    for name in quiv.models.__all__:
        assert getattr(quiv, name) is getattr(quiv.models, name)


# -- the error hierarchy ---------------------------------------------------------------------


@pytest.mark.parametrize("name", quiv.exceptions.__all__)
def test_every_error_is_a_quiv_error(name: str) -> None:
    error = getattr(quiv.exceptions, name)
    assert isinstance(error, type)
    assert issubclass(error, QuivError)
    assert issubclass(error, Exception)


# Each error's direct bases: quiv 0.4.0's documented tree, with 1.4.0's additions.
TREE: dict[type[QuivError], tuple[type[Exception], ...]] = {
    ConfigurationError: (QuivError, ValueError),
    InvalidTimezoneError: (ConfigurationError,),
    InvalidCronExpressionError: (ConfigurationError,),
    InvalidScheduleError: (ConfigurationError,),
    UnprotectedDashboardError: (ConfigurationError,),
    HandlerRegistrationError: (QuivError, ValueError),
    DatabaseInitializationError: (QuivError,),
    DatabaseSchemaError: (DatabaseInitializationError,),
    DatabaseUnavailableError: (QuivError, ConnectionError),
    HandlerNotRegisteredError: (QuivError, LookupError),
    TaskNotScheduledError: (QuivError, LookupError),
    TaskNotFoundError: (QuivError, LookupError),
    JobNotFoundError: (QuivError, LookupError),
    TaskNotActiveError: (QuivError,),
    TaskRunningError: (QuivError,),
    JobCancelledError: (QuivError,),
    JobProcessDiedError: (QuivError,),
    InvalidTransitionError: (QuivError,),
    SchedulerStateError: (QuivError, RuntimeError),
    SchedulerStoppedError: (SchedulerStateError,),
    MainLoopUnavailableError: (QuivError, RuntimeError),
    WaitTimeoutError: (QuivError, TimeoutError),
}


def test_the_tree_covers_every_error() -> None:
    assert {error.__name__ for error in TREE} | {"QuivError"} == set(quiv.exceptions.__all__)


@pytest.mark.parametrize(("error", "bases"), TREE.items(), ids=[e.__name__ for e in TREE])
def test_error_tree(error: type[QuivError], bases: tuple[type[Exception], ...]) -> None:
    assert error.__bases__ == bases


def test_configuration_errors() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(InvalidTimezoneError, ConfigurationError)
    assert issubclass(InvalidCronExpressionError, ConfigurationError)
    # Directly under QuivError since 0.4.0: ``except ConfigurationError`` does not catch it.
    assert issubclass(HandlerRegistrationError, QuivError)
    assert issubclass(HandlerRegistrationError, ValueError)
    assert not issubclass(HandlerRegistrationError, ConfigurationError)


@pytest.mark.parametrize(
    "error", [HandlerNotRegisteredError, TaskNotScheduledError, TaskNotFoundError, JobNotFoundError]
)
def test_lookup_errors(error: type[QuivError]) -> None:
    assert issubclass(error, LookupError)
    assert not issubclass(error, ConfigurationError)


def test_scheduler_state_error_is_a_runtime_error() -> None:
    assert issubclass(SchedulerStateError, RuntimeError)
    assert issubclass(SchedulerStoppedError, SchedulerStateError)
    assert issubclass(MainLoopUnavailableError, RuntimeError)
    assert not issubclass(MainLoopUnavailableError, SchedulerStateError)


@pytest.mark.parametrize(
    ("error", "attribute", "text"),
    [
        (HandlerNotRegisteredError("t1"), "task_id", "'t1'"),
        (TaskNotScheduledError("t2"), "task_id", "'t2'"),
        (TaskNotFoundError("t3"), "task_id", "'t3'"),
        (JobNotFoundError("j1"), "job_id", "'j1'"),
    ],
)
def test_lookup_errors_keep_the_id(error: QuivError, attribute: str, text: str) -> None:
    assert getattr(error, attribute) == text.strip("'")
    assert text in str(error)


def test_error_messages_keep_their_values() -> None:
    timezone_error = InvalidTimezoneError("Nowhere/Land")
    assert timezone_error.value == "Nowhere/Land"
    assert "'Nowhere/Land'" in str(timezone_error)
    registration = HandlerRegistrationError("func", 42)
    assert (registration.what, registration.value) == ("func", 42)
    assert str(registration) == "func must be callable, got int"
    state = SchedulerStateError("add a task", "stopped", "build a new Quiv")
    assert (state.operation, state.state) == ("add a task", "stopped")
    assert str(state) == "cannot add a task: the scheduler is stopped (build a new Quiv)"
    assert str(ConfigurationError("whole message")) == "whole message"
    stopped = SchedulerStoppedError("add a task")
    assert (stopped.operation, stopped.state) == ("add a task", "stopped")
    assert str(stopped) == "cannot add a task: the scheduler is stopped (build a new Quiv)"


@pytest.mark.parametrize(
    ("error", "attributes", "text"),
    [
        (TaskNotActiveError("t1", "paused"), {"task_id": "t1", "status": "paused"}, "'t1'"),
        (
            TaskRunningError("t2", "move the run"),
            {"task_id": "t2", "change": "move the run"},
            "'t2'",
        ),
        (JobCancelledError("j1", "the call"), {"job_id": "j1", "what": "the call"}, "'j1'"),
        (JobCancelledError(None, "the call"), {"job_id": None}, "the job was asked"),
        (
            JobProcessDiedError("j2", 41, 3),
            {"job_id": "j2", "pid": 41, "exitcode": 3},
            "exited with status 3",
        ),
        (
            JobProcessDiedError("j3", None, -9),
            {"pid": None, "exitcode": -9},
            "killed by signal 9 (SIGKILL)",
        ),
        (
            MainLoopUnavailableError("call_on_main", "no loop"),
            {"what": "call_on_main", "reason": "no loop"},
            "call_on_main: no loop",
        ),
    ],
    ids=[
        "task-not-active",
        "task-running",
        "job-cancelled",
        "cancelled-no-job",
        "process-died",
        "process-killed",
        "no-main-loop",
    ],
)
def test_new_errors_keep_their_values(
    error: QuivError, attributes: dict[str, object], text: str
) -> None:
    for attribute, value in attributes.items():
        assert getattr(error, attribute) == value
    assert text in str(error)


# -- docstrings ------------------------------------------------------------------------------


def _own_docstring(value: object) -> str | None:
    if isinstance(value, type):
        # A class's own docstring, not one inherited or generated (dataclasses make one
        # from the signature when there is none).
        doc = value.__dict__.get("__doc__")
        if doc and doc.startswith(f"{value.__name__}("):
            return None
        return doc
    return inspect.getdoc(value)


@pytest.mark.parametrize(
    ("module", "name"),
    [(module, name) for module in MODULES for name in module.__all__],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_every_public_name_has_a_docstring(module: types.ModuleType, name: str) -> None:
    doc = _own_docstring(getattr(module, name))
    assert doc is not None
    assert doc.strip()


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_public_module_has_a_docstring(module: types.ModuleType) -> None:
    assert module.__doc__ is not None
    assert module.__doc__.strip()
