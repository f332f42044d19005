"""Unit tests of the task and job state machines in ``quiv._machines``.

The expected tables are written out here by hand, independently of ``TASK_TRANSITIONS`` and
``JOB_TRANSITIONS``: a change to the machine data must show up as a failing test.
"""

from __future__ import annotations

import itertools
from enum import Enum
from typing import Any

import pytest
from transitions import Machine

import quiv._machines as machines
from quiv._machines import (
    JOB_MACHINE,
    TASK_MACHINE,
    StateMachine,
    TaskState,
    Transition,
)
from quiv.exceptions import InvalidTransitionError, QuivError
from quiv.models import JobStatus, TaskStatus

TASK_TRIGGERS = (
    "start",
    "start_another",
    "finish",
    "finish_one",
    "finish_last",
    "miss_last",
    "expire",
    "pause",
    "resume",
    "remove",
    "recover",
    "abandon",
)
JOB_TRIGGERS = ("start", "complete", "fail", "cancel", "miss", "interrupt", "time_out", "retry")

EXPECTED_TASK: dict[tuple[str, str], str] = {
    ("active", "start"): "running",
    ("paused", "start"): "paused_running",
    ("running", "finish"): "active",
    ("paused_running", "finish"): "paused",
    ("running", "start_another"): "running",
    ("paused_running", "start_another"): "paused_running",
    ("running", "finish_one"): "running",
    ("paused_running", "finish_one"): "paused_running",
    ("running", "finish_last"): "removed",
    ("paused_running", "finish_last"): "removed",
    ("active", "miss_last"): "removed",
    ("active", "expire"): "removed",
    ("active", "pause"): "paused",
    ("paused", "pause"): "paused",
    ("running", "pause"): "paused_running",
    ("paused_running", "pause"): "paused_running",
    ("active", "resume"): "active",
    ("paused", "resume"): "active",
    ("running", "resume"): "running",
    ("paused_running", "resume"): "running",
    ("active", "remove"): "removed",
    ("running", "remove"): "removed",
    ("paused", "remove"): "removed",
    ("paused_running", "remove"): "removed",
    ("active", "abandon"): "removed",
    ("running", "recover"): "active",
}

EXPECTED_JOB: dict[tuple[str, str], str] = {
    ("scheduled", "start"): "running",
    ("running", "complete"): "completed",
    ("running", "fail"): "failed",
    ("running", "cancel"): "cancelled",
    ("scheduled", "cancel"): "cancelled",
    ("scheduled", "miss"): "missed",
    ("scheduled", "interrupt"): "interrupted",
    ("running", "interrupt"): "interrupted",
    ("running", "time_out"): "timed_out",
    ("running", "retry"): "retried",
}

TASK_STATES = ("active", "running", "paused", "paused_running", "removed")
JOB_STATES = (
    "scheduled",
    "running",
    "completed",
    "cancelled",
    "failed",
    "timed_out",
    "retried",
    "missed",
    "interrupted",
)

# Every (machine, state, trigger) combination, plus a trigger neither machine knows.
CASES = [
    pytest.param(
        TASK_MACHINE, TaskState, EXPECTED_TASK, state, trigger, id=f"task-{state}-{trigger}"
    )
    for state, trigger in itertools.product(TASK_STATES, (*TASK_TRIGGERS, "explode"))
] + [
    pytest.param(JOB_MACHINE, JobStatus, EXPECTED_JOB, state, trigger, id=f"job-{state}-{trigger}")
    for state, trigger in itertools.product(JOB_STATES, (*JOB_TRIGGERS, "explode"))
]


def test_state_enums_are_the_expected_ones() -> None:
    assert [state.value for state in TaskState] == list(TASK_STATES)
    assert [state.value for state in JobStatus] == list(JOB_STATES)
    assert machines.JobState is JobStatus


@pytest.mark.parametrize(("machine", "states", "expected", "state", "trigger"), CASES)
def test_every_state_and_trigger(
    machine: StateMachine[Any],
    states: type[Enum],
    expected: dict[tuple[str, str], str],
    state: str,
    trigger: str,
) -> None:
    source = states(state)
    dest = expected.get((state, trigger))
    if dest is not None:
        assert machine.can(source, trigger) is True
        result = machine.next_state("obj-1", source, trigger)
        assert result is states(dest)
        return
    assert machine.can(source, trigger) is False
    with pytest.raises(InvalidTransitionError) as info:
        machine.next_state("obj-1", source, trigger)
    error = info.value
    assert isinstance(error, QuivError)
    assert error.kind == machine.kind
    assert error.obj_id == "obj-1"
    assert error.state == state
    assert error.trigger == trigger
    message = str(error)
    assert machine.kind in message
    assert "'obj-1'" in message
    assert repr(state) in message
    assert repr(trigger) in message


def test_kinds_initial_and_terminal_states() -> None:
    assert TASK_MACHINE.kind == "task"
    assert JOB_MACHINE.kind == "job"
    assert TASK_MACHINE.initial is TaskState.ACTIVE
    assert JOB_MACHINE.initial is JobStatus.SCHEDULED
    assert TASK_MACHINE.terminal == frozenset({TaskState.REMOVED})
    assert JOB_MACHINE.terminal == frozenset(
        {
            JobStatus.COMPLETED,
            JobStatus.CANCELLED,
            JobStatus.FAILED,
            JobStatus.TIMED_OUT,
            JobStatus.RETRIED,
            JobStatus.MISSED,
            JobStatus.INTERRUPTED,
        }
    )


@pytest.mark.parametrize(
    ("machine", "triggers"), [(TASK_MACHINE, TASK_TRIGGERS), (JOB_MACHINE, JOB_TRIGGERS)]
)
def test_terminal_states_have_no_outgoing_transitions(
    machine: StateMachine[Any], triggers: tuple[str, ...]
) -> None:
    for state in machine.terminal:
        for trigger in triggers:
            assert not machine.can(state, trigger), (state, trigger)
    # ...and every other state has at least one way out.
    for state in machine.states:
        if state not in machine.terminal:
            assert any(machine.can(state, trigger) for trigger in triggers), state


@pytest.mark.parametrize(
    ("machine", "triggers"), [(TASK_MACHINE, TASK_TRIGGERS), (JOB_MACHINE, JOB_TRIGGERS)]
)
def test_triggers_in_declaration_order(
    machine: StateMachine[Any], triggers: tuple[str, ...]
) -> None:
    assert machine.triggers == triggers


def test_every_transition_is_documented() -> None:
    transitions: list[Transition[Any]] = [*TASK_MACHINE.transitions, *JOB_MACHINE.transitions]
    for transition in transitions:
        assert transition.by.strip(), transition
        assert transition.doc.strip(), transition
        assert transition.sources, transition


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (TaskState.ACTIVE, TaskStatus.ACTIVE),
        (TaskState.RUNNING, TaskStatus.RUNNING),
        (TaskState.PAUSED, TaskStatus.PAUSED),
        (TaskState.PAUSED_RUNNING, TaskStatus.PAUSED),
    ],
)
def test_task_state_status(state: TaskState, status: TaskStatus) -> None:
    assert state.status is status


def test_every_task_state_has_a_status() -> None:
    for state in TaskState:
        assert isinstance(state.status, TaskStatus)


# -- the underlying transitions.Machine ----------------------------------------------------


def _machine_table(machine: Machine) -> dict[tuple[str, str], str]:
    table: dict[tuple[str, str], str] = {}
    for trigger, event in machine.events.items():
        for source, candidates in event.transitions.items():
            for candidate in candidates:
                assert candidate.dest is not None
                table[(source, trigger)] = candidate.dest
    return table


@pytest.mark.parametrize(
    ("machine", "states", "expected"),
    [(TASK_MACHINE, TaskState, EXPECTED_TASK), (JOB_MACHINE, JobStatus, EXPECTED_JOB)],
)
def test_underlying_machine_matches_the_table(
    machine: StateMachine[Any], states: type[Enum], expected: dict[tuple[str, str], str]
) -> None:
    built = machine.machine
    assert isinstance(built, Machine)
    assert built.models == []  # no model attached
    assert set(built.events) == {trigger for _, trigger in expected}  # no auto transitions
    assert set(built.states) == {state.name for state in states}
    assert built.initial == machine.initial.name
    by_name = {
        (states(source).name, trigger): states(dest).name
        for (source, trigger), dest in expected.items()
    }
    assert _machine_table(built) == by_name


# -- building a StateMachine ---------------------------------------------------------------


class _Light(str, Enum):
    OFF = "off"
    ON = "on"
    BROKEN = "broken"


def test_a_custom_machine() -> None:
    machine = StateMachine(
        "light",
        _Light,
        [
            Transition("flip", (_Light.OFF,), _Light.ON, "user", "on"),
            Transition("flip", (_Light.ON,), _Light.OFF, "user", "off"),
            Transition("smash", (_Light.OFF, _Light.ON), _Light.BROKEN, "user", "gone"),
        ],
        initial=_Light.OFF,
        terminal=[_Light.BROKEN],
    )
    assert machine.next_state("l", _Light.OFF, "flip") is _Light.ON
    assert machine.next_state("l", _Light.ON, "flip") is _Light.OFF
    assert machine.next_state("l", _Light.ON, "smash") is _Light.BROKEN
    assert machine.triggers == ("flip", "smash")
    with pytest.raises(InvalidTransitionError, match=r"light 'l' in state 'broken' cannot 'flip'"):
        machine.next_state("l", _Light.BROKEN, "flip")


def test_duplicate_source_and_trigger_is_refused() -> None:
    with pytest.raises(ValueError, match=r"light: 'flip' from OFF"):
        StateMachine(
            "light",
            _Light,
            [
                Transition("flip", (_Light.OFF,), _Light.ON, "user", "on"),
                Transition("flip", (_Light.OFF, _Light.ON), _Light.BROKEN, "user", "ambiguous"),
            ],
            initial=_Light.OFF,
            terminal=[_Light.BROKEN],
        )


def test_identical_duplicate_transition_is_refused() -> None:
    flip = Transition("flip", (_Light.OFF,), _Light.ON, "user", "on")
    with pytest.raises(ValueError, match="must be unconditional"):
        StateMachine("light", _Light, [flip, flip], initial=_Light.OFF, terminal=[])


def test_conditional_transition_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # ``Transition`` cannot express a condition, so give the machine one at the
    # ``transitions`` level: every transition the StateMachine declares gets a condition.
    class ConditionalMachine(Machine):
        def add_transition(self, *args: Any, **kwargs: Any) -> None:
            kwargs["conditions"] = ["is_ready"]
            super().add_transition(*args, **kwargs)

    monkeypatch.setattr(machines, "Machine", ConditionalMachine)
    with pytest.raises(ValueError, match=r"light: 'flip' from OFF must be unconditional"):
        StateMachine(
            "light",
            _Light,
            [Transition("flip", (_Light.OFF,), _Light.ON, "user", "on")],
            initial=_Light.OFF,
            terminal=[],
        )
