"""State machines: the cost of each status change as the scheduler makes it.

quiv asks ``StateMachine.next_state`` (a lookup in a table compiled from a ``transitions``
machine built once per kind). The baselines fire the same change through ``transitions``
itself: a model on one shared machine per kind, set to the source state (untimed) and its
trigger called. The transitions measured are read from quiv's live definitions, so the
suite follows any change to them.

- ``transitions.each.<kind>``: every legal (source, trigger) of tasks and jobs.
- ``transitions.job_life``: the four changes one run makes (task start, job start, job
  complete, task finish), with a ``transitions.Machine`` built per job, and with one shared
  machine and ``add_model``/``remove_model`` per job, as baselines.
"""

from __future__ import annotations

from typing import Any

import pytest
from transitions import Machine

from quiv._machines import JOB_MACHINE, TASK_MACHINE, StateMachine

KINDS = {"task": TASK_MACHINE, "job": JOB_MACHINE}


def _definitions(sm: StateMachine[Any]) -> dict[str, Any]:
    return {
        "states": list(sm.states),
        "transitions": [
            {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest}
            for t in sm.transitions
        ],
        "initial": sm.initial,
        "auto_transitions": False,
    }


class _Model:
    state: Any


_SHARED = {kind: Machine(model=None, **_definitions(sm)) for kind, sm in KINDS.items()}


def _cases() -> list[Any]:
    cases = []
    for kind, sm in KINDS.items():
        for transition in sm.transitions:
            for source in transition.sources:
                for impl in ("quiv", "transitions"):
                    cases.append(
                        pytest.param(
                            kind,
                            source,
                            transition.trigger,
                            impl,
                            id=f"{kind}-{source.value}-{transition.trigger}-{impl}",
                        )
                    )
    return cases


@pytest.mark.benchmark(max_time=0.1, min_rounds=20)
@pytest.mark.parametrize(("kind", "source", "trigger", "impl"), _cases())
def test_each(benchmark: Any, kind: str, source: Any, trigger: str, impl: str) -> None:
    """One status change: quiv's next_state, or a transitions trigger on a shared machine."""
    benchmark.group = f"transitions.each.{kind}"
    benchmark.extra_info.update(
        concept="transitions", kind=kind, source=source.value, trigger=trigger, impl=impl
    )
    sm = KINDS[kind]
    dest = sm.next_state("x", source, trigger)
    if impl == "quiv":
        result = benchmark(sm.next_state, "x", source, trigger)
        assert result is dest
        return
    machine = _SHARED[kind]
    model = _Model()
    machine.add_model(model)

    def setup() -> None:
        machine.set_state(source, model=model)

    benchmark.pedantic(model.trigger, args=(trigger,), setup=setup, rounds=300, warmup_rounds=10)
    assert model.state is dest
    machine.remove_model(model)


# -- one run's four changes -----------------------------------------------------------------

_TASK_DEFS = _definitions(TASK_MACHINE)
_JOB_DEFS = _definitions(JOB_MACHINE)


def _quiv_life() -> None:
    task = TASK_MACHINE.initial
    job = JOB_MACHINE.initial
    task = TASK_MACHINE.next_state("t", task, "start")
    job = JOB_MACHINE.next_state("j", job, "start")
    job = JOB_MACHINE.next_state("j", job, "complete")
    task = TASK_MACHINE.next_state("t", task, "finish")


_task_model = _Model()
_SHARED["task"].add_model(_task_model)


def _machine_per_job() -> None:
    job = _Model()
    Machine(model=job, **_JOB_DEFS)
    _task_model.trigger("start")
    job.trigger("start")
    job.trigger("complete")
    _task_model.trigger("finish")


def _add_model_per_job() -> None:
    job = _Model()
    machine = _SHARED["job"]
    machine.add_model(job)
    _task_model.trigger("start")
    job.trigger("start")
    job.trigger("complete")
    _task_model.trigger("finish")
    machine.remove_model(job)


@pytest.mark.benchmark(max_time=0.3, min_rounds=20)
@pytest.mark.parametrize(
    "impl",
    [
        pytest.param(_quiv_life, id="quiv-next_state"),
        pytest.param(_add_model_per_job, id="transitions-add_model"),
        pytest.param(_machine_per_job, id="transitions-machine_per_job"),
    ],
)
def test_job_life(benchmark: Any, impl: Any) -> None:
    """The four changes of one run: task start, job start, job complete, task finish."""
    benchmark.group = "transitions.job_life"
    benchmark.extra_info.update(concept="transitions", impl=impl.__name__, changes=4)
    benchmark(impl)
