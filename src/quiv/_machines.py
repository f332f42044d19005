"""The state machines of tasks and jobs: the one place that knows which status change is legal.

States are ``str`` enums and transitions are module-level data. Each kind gets one
``transitions.Machine``, built once at import from that data; it validates the definitions
and is what the documentation's diagrams are rendered from. The hot path does not fire
``transitions`` events (that costs tens of microseconds per change, and the scheduler makes
several changes per job): it asks ``StateMachine.next_state``, a dict lookup in a table
compiled from the built machine's own events, so both can never disagree.

Task states::

    active ──start──▶ running ──finish──▶ active
    paused ──start──▶ paused_running ──finish──▶ paused      (run now while paused)
    running ──pause──▶ paused_running ──resume──▶ running     (a pause during a run is kept)
    any ──remove──▶ removed;  running/paused_running ──finish_last──▶ removed (one-shot)
    active ──miss_last──▶ removed                            (one-shot, missed under skip)
    active ──expire──▶ removed          (no run left: a skip or a resume after its end=)
    running ──start_another / finish_one──▶ running   (max_instances > 1: several jobs run;
    paused_running ──start_another / finish_one──▶ paused_running    finish is the last's end)

Interval and cron tasks cycle between active and running until removed; one-shot tasks
(``run_once=True`` or ``at=``) end on their own after their run, and a schedule with an
``end=`` (or a combination with no run left) after its last one.

A task of ``max_instances=N`` stays ``running`` from its first job's start to its last
running job's end; the scheduler keeps the count and picks ``start_another`` over ``start``,
``finish_one`` over ``finish``, by it (the machine's transitions are unconditional).

``paused_running`` is stored as status ``paused``: the user paused the task, and the job that
was already running says ``running`` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from transitions import Machine

from .exceptions import InvalidTransitionError
from .models import Event, JobStatus, TaskStatus

__all__ = [
    "JOB_MACHINE",
    "JOB_TRANSITIONS",
    "TASK_MACHINE",
    "TASK_TRANSITIONS",
    "JobState",
    "StateMachine",
    "TaskState",
    "Transition",
]


class TaskState(str, Enum):
    """Where a task is in its life; ``status`` is what the store and the API show."""

    ACTIVE = "active"
    RUNNING = "running"
    PAUSED = "paused"
    PAUSED_RUNNING = "paused_running"
    REMOVED = "removed"

    @property
    def status(self) -> TaskStatus:
        """The stored, public status of a task in this state."""
        return _TASK_STATUS[self]


_TASK_STATUS = {
    TaskState.ACTIVE: TaskStatus.ACTIVE,
    TaskState.RUNNING: TaskStatus.RUNNING,
    TaskState.PAUSED: TaskStatus.PAUSED,
    TaskState.PAUSED_RUNNING: TaskStatus.PAUSED,
    TaskState.REMOVED: TaskStatus.PAUSED,  # never stored: the row is deleted
}

# A job's states are exactly its public statuses.
JobState = JobStatus

S = TypeVar("S", bound=Enum)


@dataclass(frozen=True)
class Transition(Generic[S]):
    """One legal change: ``trigger`` takes an object from any of ``sources`` to ``dest``.

    ``by`` says who fires it, ``doc`` what it means, ``stores`` what is written, and
    ``event`` which listener event the scheduler emits for it (it looks it up here).
    """

    trigger: str
    sources: tuple[S, ...]
    dest: S
    by: str
    doc: str
    stores: str = ""
    event: Event | None = None


A, R, P, PR, X = (
    TaskState.ACTIVE,
    TaskState.RUNNING,
    TaskState.PAUSED,
    TaskState.PAUSED_RUNNING,
    TaskState.REMOVED,
)

# fmt: off
TASK_TRANSITIONS: tuple[Transition[TaskState], ...] = (
    Transition("start", (A,), R, "scheduler", "its run is due and a worker is free",
               "status running"),
    Transition("start", (P,), PR, "scheduler", "run now on a paused task: one run, still paused",
               "status stays paused"),
    Transition("start_another", (R,), R, "scheduler",
               "another run is due while fewer than max_instances of its jobs run",
               "status stays running"),
    Transition("start_another", (PR,), PR, "scheduler",
               "run now on a paused task while fewer than max_instances of its jobs run",
               "status stays paused"),
    Transition("finish", (R,), A, "scheduler", "its only running job ended; the next run is "
               "scheduled", "status active, next_run_at"),
    Transition("finish", (PR,), P, "scheduler", "its only running job ended while paused; "
               "nothing scheduled", "status paused"),
    Transition("finish_one", (R,), R, "scheduler",
               "one of its running jobs ended, others still run (max_instances > 1)",
               "status stays running, next_run_at"),
    Transition("finish_one", (PR,), PR, "scheduler",
               "one of its running jobs ended while paused, others still run",
               "status stays paused"),
    Transition("finish_last", (R, PR), X, "scheduler",
               "the last run ended: the one run of a one-shot task (run_once, at=), or the "
               "last run its schedule has before its end=", "row deleted (its jobs stay)"),
    Transition("miss_last", (A,), X, "scheduler",
               "the one run of a one-shot task was missed (misfire='skip'): it will not run",
               "row deleted (its missed job stays)"),
    Transition("expire", (A,), X, "scheduler",
               "its schedule has no run left (a run skipped, or a resume, after its end=)",
               "row deleted (its jobs stay)"),
    Transition("pause", (A, P), P, "pause_task", "no further runs until resumed",
               "status paused", Event.TASK_PAUSED),
    Transition("pause", (R, PR), PR, "pause_task", "the running job goes on; no next run",
               "status paused", Event.TASK_PAUSED),
    Transition("resume", (P, A), A, "resume_task", "the next run is due after the delay",
               "status active, next_run_at", Event.TASK_RESUMED),
    Transition("resume", (PR, R), R, "resume_task", "the next run follows the running job",
               "status running, next_run_at", Event.TASK_RESUMED),
    Transition("remove", (A, R, P, PR), X, "remove_task", "deleted; a running job is stopped",
               "row deleted (its jobs stay)", Event.TASK_REMOVED),
    Transition("recover", (R,), A, "recovery",
               "found running in a durable store after its process died; its job is "
               "interrupted and its schedule goes on", "status active"),
    Transition("abandon", (A,), X, "scheduler",
               "the pending retry of a run-once task was cancelled: it will not run again",
               "row deleted (its jobs stay)"),
)
# fmt: on

SC, RU, CO, CA, FA, TO, RE, MI, IN = (
    JobState.SCHEDULED,
    JobState.RUNNING,
    JobState.COMPLETED,
    JobState.CANCELLED,
    JobState.FAILED,
    JobState.TIMED_OUT,
    JobState.RETRIED,
    JobState.MISSED,
    JobState.INTERRUPTED,
)

# fmt: off
JOB_TRANSITIONS: tuple[Transition[JobStatus], ...] = (
    Transition("start", (SC,), RU, "scheduler",
               "handed to an idle worker thread; a main-loop job: its coroutine began",
               "status running, started_at", Event.JOB_STARTED),
    Transition("complete", (RU,), CO, "worker", "the handler returned, stop event not set",
               "status, ended_at, duration_seconds", Event.JOB_COMPLETED),
    Transition("fail", (RU,), FA, "worker", "the handler raised",
               "status, ended_at, duration_seconds, error_message", Event.JOB_FAILED),
    Transition("cancel", (RU,), CA, "worker", "the handler returned after its stop event was set",
               "status, ended_at, duration_seconds", Event.JOB_CANCELLED),
    Transition("cancel", (SC,), CA, "scheduler", "cancelled or shut down before it started",
               "status, ended_at", Event.JOB_CANCELLED),
    Transition("miss", (SC,), MI, "scheduler",
               "its slot was later than the misfire grace and the policy is skip: never run",
               "status, ended_at, error_message", Event.JOB_MISSED),
    Transition("interrupt", (SC, RU), IN, "recovery",
               "found unfinished in a durable store after the process running it died",
               "status, ended_at, error_message"),
    Transition("time_out", (RU,), TO, "worker",
               "the handler returned after its timeout had set its stop event",
               "status, ended_at, duration_seconds", Event.JOB_TIMED_OUT),
    Transition("retry", (RU,), RE, "worker",
               "the handler raised a retryable error and retries remain: a new attempt waits",
               "status, ended_at, duration_seconds, error_message", Event.JOB_RETRYING),
)
# fmt: on


class StateMachine(Generic[S]):
    """The legal changes of one kind of object, built once per kind.

    ``machine`` is the ``transitions.Machine`` built from the definitions (no model attached);
    ``next_state`` answers from a table compiled from that machine's events.
    """

    def __init__(
        self,
        kind: str,
        states: type[S],
        transitions: Iterable[Transition[S]],
        *,
        initial: S,
        terminal: Iterable[S],
    ) -> None:
        self.kind = kind
        self.states = states
        self.transitions = tuple(transitions)
        self.initial = initial
        self.terminal = frozenset(terminal)
        self.machine = Machine(
            model=None,
            states=list(states),
            transitions=[
                {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest}
                for t in self.transitions
            ],
            initial=initial,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        table: dict[tuple[S, str], S] = {}
        for trigger, event in self.machine.events.items():
            for source_name, candidates in event.transitions.items():
                if len(candidates) != 1 or candidates[0].conditions:
                    raise ValueError(
                        f"{kind}: {trigger!r} from {source_name} must be unconditional"
                    )
                dest = candidates[0].dest
                assert dest is not None  # every transition here names its destination
                table[(states[source_name], trigger)] = states[dest]
        self._table = table
        self.triggers = tuple(dict.fromkeys(t.trigger for t in self.transitions))
        events: dict[str, Event | None] = {}
        for transition in self.transitions:
            if events.setdefault(transition.trigger, transition.event) != transition.event:
                raise ValueError(f"{kind}: every {transition.trigger!r} must emit one event")
        self._events = events

    def next_state(self, obj_id: str, state: S, trigger: str) -> S:
        """The state that ``trigger`` takes an object in ``state`` to. O(1).

        Raises ``InvalidTransitionError`` when the machine has no such transition; the caller
        then changes and stores nothing.
        """
        try:
            return self._table[(state, trigger)]
        except KeyError:
            raise InvalidTransitionError(self.kind, obj_id, state.value, trigger) from None

    def event_for(self, trigger: str) -> Event | None:
        """The listener event that a change by ``trigger`` emits, if any."""
        return self._events[trigger]

    def can(self, state: S, trigger: str) -> bool:
        """Whether ``trigger`` is legal in ``state``."""
        return (state, trigger) in self._table


TASK_MACHINE: StateMachine[TaskState] = StateMachine(
    "task", TaskState, TASK_TRANSITIONS, initial=TaskState.ACTIVE, terminal=(TaskState.REMOVED,)
)
JOB_MACHINE: StateMachine[JobStatus] = StateMachine(
    "job",
    JobStatus,
    JOB_TRANSITIONS,
    initial=JobStatus.SCHEDULED,
    terminal=(
        JobStatus.COMPLETED,
        JobStatus.CANCELLED,
        JobStatus.FAILED,
        JobStatus.TIMED_OUT,
        JobStatus.RETRIED,
        JobStatus.MISSED,
        JobStatus.INTERRUPTED,
    ),
)
