"""Diagrams and tables of the state machines, rendered from their live definitions.

The edges come from the built ``transitions.Machine`` of each kind (its events), the notes
from the same ``Transition`` data, so a change to a machine changes its picture. Pure text
in, text out; ``quiv diagram`` prints it and the docs embed it (a test keeps them equal).

``transitions`` can draw diagrams itself, but it needs a model attached, styles a "current"
state, marks no final states and names enum states by their Python names; these renderings
show the stored values, the initial and the terminal states, and need no Graphviz.

The SVG of each machine is Graphviz's drawing of ``render_dot``, made by ``quiv diagram
--docs`` (``_graphviz``) and shipped in the package (``quiv/_assets/<kind>.svg``) as well as
in the docs. In it every state is a ``<g>`` with the id ``<kind>-state-<state>`` (see
``state_id``) and the classes ``node state`` (plus ``terminal``), each transition a ``<g>``
of class ``edge transition``: ``machine_svg`` reads it and badges states with counts, for a
dashboard.
"""

from __future__ import annotations

import functools
import importlib.resources
import pathlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from enum import Enum
from typing import Any

from . import _sequence
from ._machines import JOB_MACHINE, TASK_MACHINE, StateMachine, TaskState
from .exceptions import ConfigurationError

__all__ = [
    "ASSETS",
    "MACHINES",
    "docs_files",
    "machine_svg",
    "render",
    "render_dot",
    "render_mermaid",
    "render_table",
    "state_id",
    "svg_sources",
]

MACHINES: dict[str, StateMachine[Any]] = {"task": TASK_MACHINE, "job": JOB_MACHINE}


def state_id(kind: str, state: str) -> str:
    """The id of the ``<g>`` that draws ``state`` in the SVG of the ``kind`` machine."""
    return f"{kind}-state-{state}"


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
        f'    id="quiv-{kind}";',
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        f'    __initial [shape=point, width=0.15, id="{kind}-initial"];',
    ]
    # Line breaks in long labels: the task machine drawn left to right is wide already.
    for state in machine.states:
        extra = ", peripheries=2" if state in machine.terminal else ""
        classes = "state terminal" if state in machine.terminal else "state"
        label = _label(state).replace(" (", "\\n(")
        lines.append(
            f'    {state.value} [label="{label}"{extra}, '
            f'id="{state_id(kind, state.value)}", class="{classes}"];'
        )
    lines.append(f"    __initial -> {machine.initial.value};")
    for source, dest, labels in _edges(machine):
        label = ",\\n".join(", ".join(labels[i : i + 2]) for i in range(0, len(labels), 2))
        lines.append(
            f'    {source.value} -> {dest.value} [label="{label}", '
            f'id="{kind}-edge-{source.value}-{dest.value}", class="transition"];'
        )
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
    """The generated files the documentation embeds: name -> content (the SVGs of the
    machines aside: see ``svg_sources``). With them, the architecture page's sequence
    diagram (``_sequence.DISPATCH``) as Mermaid and as SVG."""
    files = {
        f"{kind}.{_SUFFIX[fmt]}" if fmt != "table" else f"{kind}-transitions.md": renderer(kind)
        for kind in MACHINES
        for fmt, renderer in _RENDERERS.items()
    }
    files["dispatch.mmd"] = _sequence.render_mermaid(_sequence.DISPATCH)
    files["dispatch.svg"] = _sequence.render_svg(_sequence.DISPATCH)
    return files


ASSETS = pathlib.Path(__file__).parent / "_assets"
"""Where the package keeps the SVGs it ships (``quiv diagram --docs`` keeps them current)."""


def svg_sources() -> dict[str, str]:
    """The SVG files the docs and the package ship: name -> the DOT that ``dot`` draws."""
    return {f"{kind}.svg": render_dot(kind) for kind in MACHINES}


# -- the shipped SVG, with counts ------------------------------------------------------------

_SVG = "http://www.w3.org/2000/svg"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_PAD = 10.0  # points added above and right of the drawing, for the badges of edge nodes
_BADGE_HEIGHT = 14.0
_DIGIT_WIDTH = 6.5  # of the badge's 10-point bold Helvetica digits, a little generous


@functools.cache
def _shipped_svg(kind: str) -> str:
    return (importlib.resources.files("quiv") / "_assets" / f"{kind}.svg").read_text("utf-8")


def _checked_counts(kind: str, counts: Mapping[str, int]) -> dict[str, int]:
    states = [state.value for state in MACHINES[kind].states]
    checked = {}
    for key, count in counts.items():
        state = str(getattr(key, "value", key))
        if state not in states:
            raise ConfigurationError(
                f"{key!r} is not a state of the {kind} machine: expected one of {states}"
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ConfigurationError(f"the count of {state!r} must be an int >= 0, got {count!r}")
        checked[state] = count
    return checked


def _box(node: ET.Element) -> tuple[float, float, float, float]:
    """``(left, top, right, bottom)`` of the shapes that draw a node, in its own coordinates."""
    numbers = []
    for shape in node:
        points = shape.get("d") or shape.get("points")
        if points:
            numbers += [float(n) for n in _NUMBER.findall(points)]
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _badge(node: ET.Element, kind: str, state: str, count: int) -> None:
    _, top, right, _ = _box(node)
    text = str(count)
    width = 8.0 + _DIGIT_WIDTH * len(text)
    x, y = right + 6.0 - width, top - _BADGE_HEIGHT / 2
    badge = ET.SubElement(node, "g", {"id": f"{kind}-count-{state}", "class": "count"})
    ET.SubElement(badge, "title").text = f"{state}: {count}"
    ET.SubElement(
        badge,
        "rect",
        {
            "x": f"{x:.2f}",
            "y": f"{y:.2f}",
            "width": f"{width:.2f}",
            "height": f"{_BADGE_HEIGHT:.2f}",
            "rx": f"{_BADGE_HEIGHT / 2:.2f}",
            "fill": "#1f4e9c",
            "stroke": "white",
        },
    )
    ET.SubElement(
        badge,
        "text",
        {
            "x": f"{x + width / 2:.2f}",
            "y": f"{y + _BADGE_HEIGHT / 2 + 3.5:.2f}",
            "text-anchor": "middle",
            "font-family": "Helvetica,sans-Serif",
            "font-size": "10.00",
            "font-weight": "bold",
            "fill": "white",
        },
    ).text = text


def _pad(root: ET.Element) -> None:
    """Grow the drawing by ``_PAD`` points above and to the right."""
    left, top, width, height = (float(n) for n in root.get("viewBox", "").split())
    root.set("viewBox", f"{left:.2f} {top - _PAD:.2f} {width + _PAD:.2f} {height + _PAD:.2f}")
    for name in ("width", "height"):
        value = root.get(name, "")
        if value.endswith("pt"):
            root.set(name, f"{float(value[:-2]) + _PAD:g}pt")


def machine_svg(kind: str, counts: Mapping[str, int] | None = None) -> str:
    """The SVG of the ``kind`` ("task" or "job") machine that quiv ships, as text.

    With ``counts`` (state -> a count >= 0, states as their stored values or as
    ``TaskState``/``JobState`` members), each state named in it gets a badge at the top right
    of its box showing its count: a ``<g class="count" id="<kind>-count-<state>">``; states
    left out get none. The drawing grows by a few points to hold the badges. The result is
    well-formed XML that a page can hold inline. Raises ``ConfigurationError`` for an unknown
    kind or state, or a count that is not an int >= 0."""
    if kind not in MACHINES:
        raise ConfigurationError(f"no machine {kind!r}: expected one of {list(MACHINES)}")
    svg = _shipped_svg(kind)
    if counts is None:
        return svg
    checked = _checked_counts(kind, counts)
    root = ET.fromstring(svg, ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))
    # Plain tags and one xmlns attribute serialize as SVG without ElementTree's "ns0:"
    # prefixes, and without registering a namespace prefix for the whole process.
    for element in root.iter():
        if isinstance(element.tag, str):
            element.tag = element.tag.rpartition("}")[2]
    root.set("xmlns", _SVG)
    for node in list(root.iter("g")):
        state = next((s for s in checked if node.get("id") == state_id(kind, s)), None)
        if state is not None:
            _badge(node, kind, state, checked[state])
    _pad(root)
    return ET.tostring(root, encoding="unicode") + "\n"
