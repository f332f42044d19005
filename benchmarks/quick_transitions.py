"""Cost of the status changes of one job: ``uv run python benchmarks/quick_transitions.py``.

Compares (a) a ``transitions.Machine`` built per job, (b) one shared machine with each job
added as a model (``add_model``) and its trigger methods called, and (c) what quiv does: one
machine per kind, built once, whose events are compiled into a lookup table.
"""

from __future__ import annotations

import timeit

from transitions import Machine

from quiv._machines import JOB_MACHINE, JOB_TRANSITIONS, JobState

_DEFINITIONS = [
    {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest} for t in JOB_TRANSITIONS
]


class _Job:
    state: JobState


def machine_per_job() -> None:
    job = _Job()
    Machine(
        job,
        states=JobState,
        transitions=_DEFINITIONS,
        initial=JobState.SCHEDULED,
        auto_transitions=False,
    )
    job.start()  # type: ignore[attr-defined]
    job.complete()  # type: ignore[attr-defined]


_SHARED = Machine(
    model=None,
    states=JobState,
    transitions=_DEFINITIONS,
    initial=JobState.SCHEDULED,
    auto_transitions=False,
)


def shared_machine_add_model() -> None:
    job = _Job()
    _SHARED.add_model(job)
    job.start()  # type: ignore[attr-defined]
    job.complete()  # type: ignore[attr-defined]
    _SHARED.remove_model(job)


def compiled_table() -> None:
    state = JobState.SCHEDULED
    state = JOB_MACHINE.next_state("job", state, "start")
    state = JOB_MACHINE.next_state("job", state, "complete")


def main() -> None:
    for name, func, number in (
        ("transitions.Machine built per job", machine_per_job, 2_000),
        ("one Machine, add_model per job + triggers", shared_machine_add_model, 5_000),
        ("one Machine compiled to a table (quiv)", compiled_table, 200_000),
    ):
        best = min(timeit.repeat(func, number=number, repeat=5)) / number
        print(f"{name:<45} {best * 1e6:8.2f} us per job (2 transitions)")


if __name__ == "__main__":
    main()
