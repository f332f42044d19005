"""Sequence diagrams from data: the same messages in Mermaid and in a laid-out SVG."""

from __future__ import annotations

import pathlib
import re
import xml.etree.ElementTree as ET

import pytest

from quiv._sequence import DISPATCH, WRAP, Message, SequenceDiagram, render_mermaid, render_svg

ROOT = pathlib.Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"

SMALL = SequenceDiagram(
    title="A <small> & plain one",
    participants=(("A", "alice"), ("B", "bob"), ("C", "carol")),
    messages=(
        Message("A", "B", "hello"),
        Message("B", "A", "hi back", dashed=True),
        Message("B", "B", "think about it"),
        Message("A", "C", "a message whose label is a good deal longer than the wrap width"),
        Message("C", "C", 'the last one talks to itself, with "quotes" & <angles>'),
    ),
)


def _layout(svg: str) -> tuple[ET.Element, list[float], list[ET.Element]]:
    root = ET.fromstring(svg)
    lifelines = [
        float(line.get("x1", "nan"))
        for line in root.iter(f"{SVG}line")
        if line.get("class") == "lifeline"
    ]
    messages = [g for g in root.iter(f"{SVG}g") if "message" in g.get("class", "").split()]
    return root, lifelines, messages


def test_mermaid_has_every_participant_and_message_in_order() -> None:
    text = render_mermaid(SMALL)
    assert text.startswith("sequenceDiagram\n")
    lines = text.splitlines()
    assert lines[2:5] == [
        "    participant A as alice",
        "    participant B as bob",
        "    participant C as carol",
    ]
    assert lines[5:8] == ["    A->>B: hello", "    B-->>A: hi back", "    B->>B: think about it"]
    assert len(lines) == 2 + 3 + 5


def test_svg_is_one_well_formed_document_with_the_text_escaped() -> None:
    svg = render_svg(SMALL)
    root = ET.fromstring(svg)  # raises if "&" or "<" came through unescaped
    assert root.tag == f"{SVG}svg"
    assert root.findtext(f"{SVG}title") == "A <small> & plain one"
    texts = "".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert '"quotes" & <angles>' in texts.replace("  ", " ")
    # Nothing a page would have to fetch or run.
    assert not re.search(r"<script|href=|url\(|@import", svg)


def test_svg_draws_each_participant_twice_and_each_message_once_in_order() -> None:
    root, lifelines, messages = _layout(render_svg(SMALL))
    heads = [g for g in root.iter(f"{SVG}g") if g.get("class") == "participant"]
    assert [g.get("data-key") for g in heads] == ["A", "B", "C"] * 2
    assert len(lifelines) == 3
    assert lifelines == sorted(lifelines)
    assert [m.findtext(f"{SVG}title") for m in messages] == [m.text for m in SMALL.messages]
    # Rows go down the page in message order.
    tops = [min(float(t.get("y", "nan")) for t in m.iter(f"{SVG}text")) for m in messages]
    assert tops == sorted(tops)
    assert [("dashed" in m.get("class", "")) for m in messages] == [
        m.dashed for m in SMALL.messages
    ]


def test_an_arrow_runs_from_its_source_lifeline_to_its_destination() -> None:
    _, lifelines, messages = _layout(render_svg(SMALL))
    x = dict(zip("ABC", lifelines, strict=True))
    line = messages[1].find(f"{SVG}line")  # B -> A
    head = messages[1].find(f"{SVG}polygon")
    assert line is not None
    assert head is not None
    assert float(line.get("x1", "nan")) == pytest.approx(x["B"], abs=0.1)
    tip = float(head.get("points", "").split()[0].split(",")[0])
    assert tip == pytest.approx(x["A"], abs=0.1)
    # A message to oneself is a loop that comes back to the same lifeline.
    loop = messages[2].find(f"{SVG}polyline")
    assert loop is not None
    xs = [float(point.split(",")[0]) for point in loop.get("points", "").split()]
    assert xs[0] == pytest.approx(x["B"], abs=0.1)
    assert max(xs) > x["B"]


def test_columns_are_spread_until_each_label_fits_its_arrow() -> None:
    root, lifelines, messages = _layout(render_svg(SMALL))
    x = dict(zip("ABC", lifelines, strict=True))
    long = messages[3]  # A -> C, wrapped, each line within its arrow
    lines = [t.text or "" for t in long.iter(f"{SVG}text")]
    assert " ".join(lines) == SMALL.messages[3].text
    for line in lines:
        assert len(line) * 0.6 * 12 + 16 <= x["C"] - x["A"]
    # The last participant's self-message fits inside the drawing.
    width = float(root.get("width", "nan"))
    label = max(messages[4].iter(f"{SVG}text"), key=lambda t: len(t.text or ""))
    assert float(label.get("x", "nan")) + len(label.text or "") * 0.6 * 12 <= width


def test_a_self_message_wraps_its_label() -> None:
    _, _, messages = _layout(render_svg(SMALL))
    lines = [t.text or "" for t in messages[4].iter(f"{SVG}text")]
    assert len(lines) > 1
    assert all(len(line) <= WRAP for line in lines)
    assert " ".join(lines) == SMALL.messages[4].text


def test_a_message_between_unknown_participants_is_refused() -> None:
    with pytest.raises(ValueError, match="names 'Z'"):
        SequenceDiagram("t", (("A", "alice"),), (Message("A", "Z", "lost"),))


def test_the_dispatch_sequence_is_the_one_the_architecture_page_explains() -> None:
    """The data of the picture names what the steps under it name."""
    page = (ROOT / "docs" / "design" / "architecture.md").read_text(encoding="utf-8")
    assert '--8<-- "dispatch.svg"' in page
    assert '--8<-- "dispatch.mmd"' in page
    text = render_mermaid(DISPATCH)
    for name in ("pop_due", "job_started", "finished", "next deadline", "write-behind"):
        assert name in text
        assert name in page
    assert len(DISPATCH.messages) == 16
