"""Diagrams and tables of the state machines, rendered from their live definitions.

The edges come from the built ``transitions.Machine`` of each kind (its events), the notes
from the same ``Transition`` data, so a change to a machine changes its picture. Pure text
in, text out; ``quiv diagram`` prints it and the docs embed it (a test keeps them equal).

``transitions`` can draw diagrams itself, but it needs a model attached, styles a "current"
state, marks no final states and names enum states by their Python names; these renderings
show the stored values, the initial and the terminal states, and need no Graphviz.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from typing import Any

from ._machines import JOB_MACHINE, TASK_MACHINE, StateMachine, TaskState

__all__ = [
    "MACHINES",
    "docs_files",
    "render",
    "render_dot",
    "render_mermaid",
    "render_table",
]

MACHINES: dict[str, StateMachine[Any]] = {"task": TASK_MACHINE, "job": JOB_MACHINE}


def _label(state: Enum) -> str:
    if state is TaskState.REMOVED:
        return "removed (row deleted)"
    if isinstance(state, TaskState) and state.status.value != state.value:
        return f"{state.value} (stored as {state.status.value})"
    return str(state.value)


def _edges(machine: StateMachine[Any]) -> Iterator[tuple[Enum, Enum, list[str]]]:
    """``(source, dest, labels)`` per connected pair, in state order then trigger order."""
    pairs: dict[tuple[Enum, Enum], list[str]] = {}
    for trigger in machine.triggers:
        event = machine.machine.events[trigger]
        for source_name, candidates in event.transitions.items():
            for candidate in candidates:
                conditions = [c.func for c in candidate.conditions]
                label = trigger + (f" [{' and '.join(map(str, conditions))}]" if conditions else "")
                pair = (machine.states[source_name], machine.states[candidate.dest])
                pairs.setdefault(pair, []).append(label)
    states: list[Enum] = list(machine.states.__members__.values())
    order = {state: index for index, state in enumerate(states)}
    for (source, dest), labels in sorted(
        pairs.items(), key=lambda item: (order[item[0][0]], order[item[0][1]])
    ):
        yield source, dest, labels


def render_mermaid(kind: str) -> str:
    """A Mermaid ``stateDiagram-v2`` of the ``kind`` ("task" or "job") machine."""
    machine = MACHINES[kind]
    lines = [
        "stateDiagram-v2",
        f"    %% the {kind} state machine of quiv, rendered by `quiv diagram {kind}`",
        "    direction LR",
    ]
    for state in machine.states:
        lines.append(f'    state "{_label(state)}" as {state.value}')
    lines.append(f"    [*] --> {machine.initial.value}")
    for source, dest, labels in _edges(machine):
        lines.append(f"    {source.value} --> {dest.value}: {', '.join(labels)}")
    for state in machine.states:
        if state in machine.terminal:
            lines.append(f"    {state.value} --> [*]")
    return "\n".join(lines) + "\n"


def render_dot(kind: str) -> str:
    """A Graphviz DOT digraph of the ``kind`` machine (terminal states doubly circled)."""
    machine = MACHINES[kind]
    lines = [
        f"digraph quiv_{kind} {{",
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        "    __initial [shape=point, width=0.15];",
    ]
    for state in machine.states:
        extra = ", peripheries=2" if state in machine.terminal else ""
        lines.append(f'    {state.value} [label="{_label(state)}"{extra}];')
    lines.append(f"    __initial -> {machine.initial.value};")
    for source, dest, labels in _edges(machine):
        lines.append(f'    {source.value} -> {dest.value} [label="{", ".join(labels)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_table(kind: str) -> str:
    """A Markdown table of every transition of the ``kind`` machine."""
    machine = MACHINES[kind]
    rows = [
        "| trigger | from | to | fired by | when | stored | event |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in machine.transitions:
        sources = ", ".join(f"`{s.value}`" for s in t.sources)
        event = f"`{t.event.value}`" if t.event is not None else "none"
        rows.append(
            f"| `{t.trigger}` | {sources} | `{t.dest.value}` | {t.by} | {t.doc} | "
            f"{t.stores} | {event} |"
        )
    return "\n".join(rows) + "\n"


_RENDERERS = {"mermaid": render_mermaid, "dot": render_dot, "table": render_table}
_SUFFIX = {"mermaid": "mmd", "dot": "dot", "table": "md"}


def render(which: str, fmt: str) -> str:
    """``which`` ("task", "job" or "all") in format ``fmt`` ("mermaid", "dot" or "table")."""
    renderer = _RENDERERS[fmt]
    kinds = list(MACHINES) if which == "all" else [which]
    return "\n".join(renderer(kind) for kind in kinds)


def docs_files() -> dict[str, str]:
    """The generated files the documentation embeds: name -> content."""
    return {
        f"{kind}.{_SUFFIX[fmt]}" if fmt != "table" else f"{kind}-transitions.md": renderer(kind)
        for kind in MACHINES
        for fmt, renderer in _RENDERERS.items()
    }
