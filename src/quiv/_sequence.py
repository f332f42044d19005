"""Sequence diagrams as data, rendered to Mermaid and to SVG by the same code that reads them.

The architecture page explains the path from a deadline to a running job with a sequence
diagram. Graphviz lays out graphs, not time lines, so this module draws it itself: a
``SequenceDiagram`` is a row of participants and a list of messages, and ``render_svg``
lays it out in a few arithmetic passes (no fonts are measured, text widths are estimated
from character counts, generously) into a standalone SVG with no scripts, styles or links,
which a page can hold inline. ``render_mermaid`` writes the same data as Mermaid, for
readers whose viewer draws Mermaid (GitHub does). Pure: data in, text out; ``quiv diagram
--docs`` writes both, and a test keeps the checked-in files equal to what this renders.

The layout, top to bottom: a box per participant, then one row per message, then the boxes
again; a message between two participants is an arrow with its label above, and one from
a participant to itself is a loop with its label on its right. Columns are spread until
every label fits between the lifelines it spans; labels wrap at ``WRAP`` characters, or at
more where their arrow is longer.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from xml.sax.saxutils import escape

__all__ = ["DISPATCH", "WRAP", "Message", "SequenceDiagram", "render_mermaid", "render_svg"]

WRAP = 36
"""Characters of a message label per line."""

_FONT = 'font-family="Helvetica,Arial,sans-serif"'
_SIZE = 12.0  # of message labels; participant names are a point larger
_CHAR = 0.6 * _SIZE  # an estimate of the width of one character, on the generous side
_LINE = 15.0
_HEAD_HEIGHT = 32.0
_MARGIN = 12.0
_LOOP = 28.0  # width of a message's loop back to its own lifeline
_ARROW = 8.0
_INK = "#222222"
_BOX_FILL, _BOX_STROKE = "#e3ecfa", "#1f4e9c"


@dataclass(frozen=True)
class Message:
    """An arrow from participant ``source`` to ``dest`` (keys), labelled ``text``; a
    ``reply`` or a hand-over that nobody waits for is dashed (Mermaid's ``-->>``)."""

    source: str
    dest: str
    text: str
    dashed: bool = False


@dataclass(frozen=True)
class SequenceDiagram:
    """``participants`` as ``(key, name)`` pairs, left to right, and ``messages`` in order."""

    title: str
    participants: tuple[tuple[str, str], ...]
    messages: tuple[Message, ...]

    def __post_init__(self) -> None:
        keys = [key for key, _ in self.participants]
        for message in self.messages:
            for key in (message.source, message.dest):
                if key not in keys:
                    raise ValueError(f"message {message.text!r} names {key!r}, not in {keys}")


def render_mermaid(diagram: SequenceDiagram) -> str:
    """``diagram`` as a Mermaid ``sequenceDiagram``."""
    lines = ["sequenceDiagram", f"    %% {diagram.title}, rendered by `quiv diagram --docs`"]
    lines += [f"    participant {key} as {name}" for key, name in diagram.participants]
    for m in diagram.messages:
        lines.append(f"    {m.source}{'-->>' if m.dashed else '->>'}{m.dest}: {m.text}")
    return "\n".join(lines) + "\n"


def _width(text: str, size: float = _SIZE) -> float:
    return len(text) * 0.6 * size


def _wrapped(message: Message, chars: int = WRAP) -> list[str]:
    return textwrap.wrap(message.text, chars) or [""]


def _columns(diagram: SequenceDiagram) -> tuple[list[float], list[float], float]:
    """The x of each lifeline, the width of each participant's box, and the total width."""
    boxes = [max(_width(name, _SIZE + 1) + 20, 80.0) for _, name in diagram.participants]
    index = {key: i for i, (key, _) in enumerate(diagram.participants)}
    gaps = [(boxes[i] + boxes[i + 1]) / 2 + 16 for i in range(len(boxes) - 1)] + [boxes[-1] / 2]
    # Wide spans first would be spread by their inner gaps' later growth: narrow ones first.
    spans = []
    for m in diagram.messages:
        a, b = sorted((index[m.source], index[m.dest]))
        width = max(_width(line) for line in _wrapped(m))
        spans.append((b - a, a, b, width + (_LOOP + 10 if a == b else 16)))
    for _, a, b, need in sorted(spans):
        covered = range(a, b) if b > a else range(a, a + 1)
        have = sum(gaps[i] for i in covered)
        if have < need:
            for i in covered:
                gaps[i] += (need - have) / len(covered)
    xs = [_MARGIN + boxes[0] / 2]
    for gap in gaps[:-1]:
        xs.append(xs[-1] + gap)
    return xs, boxes, xs[-1] + gaps[-1] + _MARGIN


def _text(x: float, y: float, text: str, anchor: str = "middle", size: float = _SIZE) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {_FONT} '
        f'font-size="{size:g}" fill="{_INK}">{escape(text)}</text>'
    )


def _heads(diagram: SequenceDiagram, xs: list[float], boxes: list[float], top: float) -> list[str]:
    out = []
    for (key, name), x, width in zip(diagram.participants, xs, boxes, strict=True):
        out += [
            f'<g class="participant" data-key="{escape(key)}">',
            f'<rect x="{x - width / 2:.1f}" y="{top:.1f}" width="{width:.1f}" '
            f'height="{_HEAD_HEIGHT:g}" rx="4" fill="{_BOX_FILL}" stroke="{_BOX_STROKE}"/>',
            _text(x, top + _HEAD_HEIGHT / 2 + 4.5, name, size=_SIZE + 1),
            "</g>",
        ]
    return out


def _arrowhead(x: float, y: float, leftwards: bool) -> str:
    back = x + _ARROW if leftwards else x - _ARROW
    return (
        f'<polygon points="{x:.1f},{y:.1f} {back:.1f},{y - 4:.1f} {back:.1f},{y + 4:.1f}" '
        f'fill="{_INK}"/>'
    )


def _message(m: Message, x1: float, x2: float, y: float) -> tuple[list[str], float]:
    """The elements of one message whose row starts at ``y``, and the row's height."""
    # A label wraps at WRAP characters, or at what its arrow's length holds if that is more.
    lines = _wrapped(m, max(WRAP, int((abs(x2 - x1) - 16) / _CHAR)))
    dash = ' stroke-dasharray="5 4"' if m.dashed else ""
    out = [
        f'<g class="message{" dashed" if m.dashed else ""}">',
        f"<title>{escape(m.text)}</title>",
    ]
    if x1 == x2:
        height = max(len(lines) * _LINE, 18.0) + 8
        top, bottom, right = y + 4, y + height - 4, x1 + _LOOP
        out.append(
            f'<polyline points="{x1:.1f},{top:.1f} {right:.1f},{top:.1f} {right:.1f},'
            f'{bottom:.1f} {x1 + _ARROW:.1f},{bottom:.1f}" fill="none" stroke="{_INK}"{dash}/>'
        )
        out.append(_arrowhead(x1, bottom, leftwards=True))
        first = (top + bottom) / 2 - (len(lines) - 1) * _LINE / 2 + 4
        out += [_text(right + 6, first + i * _LINE, line, "start") for i, line in enumerate(lines)]
    else:
        height = len(lines) * _LINE + 10
        arrow_y = y + height - 4
        end = x2 - _ARROW if x2 > x1 else x2 + _ARROW
        out.append(
            f'<line x1="{x1:.1f}" y1="{arrow_y:.1f}" x2="{end:.1f}" y2="{arrow_y:.1f}" '
            f'stroke="{_INK}"{dash}/>'
        )
        out.append(_arrowhead(x2, arrow_y, leftwards=x2 < x1))
        middle = (x1 + x2) / 2
        out += [_text(middle, y + (i + 1) * _LINE - 3, line) for i, line in enumerate(lines)]
    out.append("</g>")
    return out, height


def render_svg(diagram: SequenceDiagram) -> str:
    """``diagram`` as a standalone SVG document (UTF-8 text, no XML declaration)."""
    xs, boxes, width = _columns(diagram)
    index = {key: i for i, (key, _) in enumerate(diagram.participants)}
    y = _MARGIN + _HEAD_HEIGHT + 10
    body = []
    for m in diagram.messages:
        elements, height = _message(m, xs[index[m.source]], xs[index[m.dest]], y)
        body += elements
        y += height + 6
    foot = y + 6
    height = foot + _HEAD_HEIGHT + _MARGIN
    lifelines = [
        f'<line class="lifeline" x1="{x:.1f}" y1="{_MARGIN + _HEAD_HEIGHT:.1f}" x2="{x:.1f}" '
        f'y2="{foot:.1f}" stroke="#8a8a8a" stroke-dasharray="3 3"/>'
        for x in xs
    ]
    return (
        "\n".join(
            [
                f'<svg xmlns="http://www.w3.org/2000/svg" class="sequence" role="img" '
                f'width="{width:.0f}" height="{height:.0f}" '
                f'viewBox="0 0 {width:.0f} {height:.0f}">',
                f"<title>{escape(diagram.title)}</title>",
                "<!-- rendered from data by quiv._sequence; do not edit -->",
                f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
                *lifelines,
                *_heads(diagram, xs, boxes, _MARGIN),
                *body,
                *_heads(diagram, xs, boxes, foot),
                "</svg>",
            ]
        )
        + "\n"
    )


DISPATCH = SequenceDiagram(
    title="From a deadline to a running job",
    participants=(
        ("S", "scheduler thread"),
        ("T", "timeline"),
        ("W", "worker thread"),
        ("H", "handler"),
        ("D", "store writer"),
        ("L", "listeners"),
    ),
    messages=(
        Message("S", "T", "pop_due(now, free workers)"),
        Message("T", "S", "(task id, due time), earliest first", dashed=True),
        Message("S", "S", "task: start (active → running)"),
        Message("S", "S", "job record, and job: start (scheduled → running)"),
        Message("S", "S", "reserve an idle worker thread"),
        Message("S", "W", "hand over the job (end of the pass)"),
        Message(
            "S",
            "D",
            "task state, job row (write-behind; the writer is woken after the pass)",
            dashed=True,
        ),
        Message("S", "L", "job_started", dashed=True),
        Message("W", "H", "handler(*args, **kwargs, injected keywords)"),
        Message("H", "W", "returns or raises", dashed=True),
        Message("W", "S", 'post "finished" (complete / fail / cancel)'),
        Message("S", "S", "job: complete | fail | cancel"),
        Message("S", "S", "task: finish (running → active)"),
        Message("S", "T", "schedule the next deadline"),
        Message("S", "D", "job row, task row", dashed=True),
        Message("S", "L", "job_completed / job_failed / job_cancelled", dashed=True),
    ),
)
"""The path of one run, from its deadline to the end of its job (the architecture page)."""
