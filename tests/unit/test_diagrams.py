"""The diagrams and tables rendered from the live state machines, and the docs that embed them."""

from __future__ import annotations

import pathlib
import re
import xml.etree.ElementTree as ET

import pytest

from quiv import _diagrams, _graphviz
from quiv._cli import main
from quiv._diagrams import (
    ASSETS,
    MACHINES,
    docs_files,
    machine_svg,
    render,
    render_dot,
    render_mermaid,
    render_table,
    state_id,
    svg_sources,
)
from quiv._machines import JOB_MACHINE, TASK_MACHINE, JobState, TaskState
from quiv.exceptions import ConfigurationError

ROOT = pathlib.Path(__file__).resolve().parents[2]
GENERATED = ROOT / "docs" / "generated"


@pytest.mark.parametrize("name", sorted(docs_files()))
def test_generated_docs_match_the_machines(name: str) -> None:
    """Fails when a machine changed and the docs were not regenerated: run
    ``uv run quiv diagram --docs docs/generated`` and commit the result."""
    path = GENERATED / name
    assert path.exists(), f"{path} is missing: run `uv run quiv diagram --docs docs/generated`"
    assert path.read_text(encoding="utf-8") == docs_files()[name], (
        f"{path} is stale: run `uv run quiv diagram --docs docs/generated`"
    )


def test_the_state_machine_page_embeds_every_generated_diagram_and_table() -> None:
    page = (ROOT / "docs" / "design" / "state-machines.md").read_text(encoding="utf-8")
    embedded = set(re.findall(r'--8<-- "([^"]+)"', page))
    assert {"task.mmd", "job.mmd", "task-transitions.md", "job-transitions.md"} <= embedded
    # Drawn inline as SVG; the Mermaid text only as code (no page loads Mermaid's script).
    assert {"task.svg", "job.svg"} <= embedded
    assert re.search(r'<div class="quiv-diagram[^"]*">\n--8<-- "task.svg"\n</div>', page)


def test_mermaid_is_code_on_the_site_not_a_diagram_drawn_by_a_script() -> None:
    """Material draws a ``mermaid`` fence with Mermaid's script, fetched from a CDN when the
    page opens; without a custom fence for it, a ``mermaid`` block is just code."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "custom_fences" not in config
    assert "mermaid" not in re.sub(r"#.*", "", config)


def _mermaid_edges(text: str) -> set[tuple[str, str, str]]:
    edges = set()
    for line in text.splitlines():
        match = re.fullmatch(r"\s+(\S+) --> (\S+?)(?:: (.*))?", line)
        if match:
            source, dest, labels = match.groups()
            for label in (labels or "").split(", ") if labels else [""]:
                edges.add((source, dest, label))
    return edges


@pytest.mark.parametrize("kind", ["task", "job"])
def test_mermaid_has_every_transition_and_the_initial_and_terminal_states(kind: str) -> None:
    machine = MACHINES[kind]
    text = render_mermaid(kind)
    assert text.startswith("stateDiagram-v2\n")
    edges = _mermaid_edges(text)
    expected = {
        (source.value, t.dest.value, t.trigger) for t in machine.transitions for source in t.sources
    }
    assert {e for e in edges if e[2]} == expected
    assert ("[*]", machine.initial.value, "") in edges
    assert {e[0] for e in edges if e[1] == "[*]"} == {s.value for s in machine.terminal}
    for state in machine.states:
        assert f" as {state.value}\n" in text


def test_mermaid_labels_say_what_is_stored() -> None:
    text = render_mermaid("task")
    assert 'state "paused_running (stored as paused)" as paused_running' in text
    assert 'state "removed (row deleted)" as removed' in text
    # Two triggers between one pair share an edge.
    assert "running --> removed: finish_last, remove" in text


@pytest.mark.parametrize("kind", ["task", "job"])
def test_dot_has_every_transition_and_marks_terminal_states(kind: str) -> None:
    machine = MACHINES[kind]
    text = render_dot(kind)
    assert text.startswith(f"digraph quiv_{kind} {{\n")
    assert text.endswith("}\n")
    assert f"__initial -> {machine.initial.value};" in text
    labels = {
        (source, dest): re.split(r",(?: |\\n)", label)
        for source, dest, label in re.findall(r'    (\w+) -> (\w+) \[label="([^"]*)"', text)
    }
    for t in machine.transitions:
        for source in t.sources:
            # Long labels break after every second trigger (a DOT "\n").
            assert t.trigger in labels[source.value, t.dest.value], (source, t.trigger)
    assert r'label="miss_last, expire,\nremove, abandon"' in render_dot("task")
    for state in machine.states:
        line = next(x for x in text.splitlines() if x.startswith(f"    {state.value} [label="))
        assert ("peripheries=2" in line) == (state in machine.terminal)


def test_table_lists_every_transition_with_its_event() -> None:
    table = render_table("job")
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == len(JOB_MACHINE.transitions)
    assert "| `fail` | `running` | `failed` | worker |" in table
    assert "`job_failed` |" in table
    task_rows = [line for line in render_table("task").splitlines() if line.startswith("| `")]
    assert len(task_rows) == len(TASK_MACHINE.transitions)


def test_render_all_joins_both_machines() -> None:
    text = render("all", "mermaid")
    assert text.count("stateDiagram-v2") == 2
    assert render("task", "dot") == render_dot("task")


def test_cli_prints_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram"]) == 0
    out = capsys.readouterr().out
    assert out == render("all", "mermaid")
    assert TaskState.PAUSED_RUNNING.value in out
    assert JobState.CANCELLED.value in out


def test_cli_writes_a_file_and_the_docs(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "job.dot"
    assert main(["diagram", "job", "--format", "dot", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_dot("job")
    docs = tmp_path / "generated"
    assert main(["diagram", "--docs", str(docs)]) == 0
    # With the module map of quiv's source (tests/unit/test_modulemap.py), and the SVGs,
    # copied from the package's current ones.
    assert {p.name for p in docs.iterdir()} == set(docs_files()) | {"modules.md"} | set(
        svg_sources()
    )
    for name in svg_sources():
        assert (docs / name).read_text(encoding="utf-8") == (ASSETS / name).read_text("utf-8")


def test_cli_refuses_an_unknown_machine(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["diagram", "worker"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_the_api_reference_renders_every_public_name() -> None:
    import quiv
    import quiv.exceptions

    page = (ROOT / "docs" / "reference" / "api.md").read_text(encoding="utf-8")
    rendered = set(re.findall(r"^::: quiv\.([A-Za-z_.]+)$", page, flags=re.M))
    errors = set(quiv.exceptions.__all__) if "exceptions" in rendered else set()
    missing = [name for name in quiv.__all__ if name not in rendered and name not in errors]
    assert missing == []


# -- the SVGs drawn by Graphviz -------------------------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"
REGENERATE = "run `uv run quiv diagram --docs docs/generated` (it needs Graphviz's dot)"


def _state_nodes(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {
        g.get("id", ""): g for g in root.iter(f"{SVG}g") if "state" in g.get("class", "").split()
    }


@pytest.mark.parametrize("name", sorted(svg_sources()))
def test_the_shipped_svgs_are_drawn_from_the_dot_of_the_machines_now(name: str) -> None:
    """Fails when a machine changed and its SVG was not drawn again. Needs no Graphviz: the
    SVG carries the sha256 of the DOT it was drawn from."""
    dot = svg_sources()[name]
    shipped = ASSETS / name
    assert shipped.exists(), f"{shipped} is missing: {REGENERATE}"
    svg = shipped.read_text(encoding="utf-8")
    assert _graphviz.stamped_sha256(svg) == _graphviz.dot_sha256(dot), (
        f"{shipped} is stale: {REGENERATE}"
    )
    # The docs embed the same file.
    assert (GENERATED / name).read_text(encoding="utf-8") == svg, f"{REGENERATE}"


@pytest.mark.parametrize("kind", sorted(MACHINES))
def test_the_shipped_svg_draws_each_state_once_with_its_id_and_classes(kind: str) -> None:
    machine = MACHINES[kind]
    nodes = _state_nodes(machine_svg(kind))
    assert sorted(nodes) == sorted(state_id(kind, s.value) for s in machine.states)
    for state in machine.states:
        node = nodes[state_id(kind, state.value)]
        assert node.findtext(f"{SVG}title") == state.value
        classes = node.get("class", "").split()
        assert ("terminal" in classes) == (state in machine.terminal)
    edges = [
        g
        for g in ET.fromstring(machine_svg(kind)).iter(f"{SVG}g")
        if "transition" in (g.get("class") or "").split()
    ]
    assert len(edges) == len(list(_diagrams._edges(machine)))


@pytest.mark.parametrize("kind", sorted(MACHINES))
def test_dot_draws_the_machines_with_one_node_per_state(kind: str, graphviz_dot: str) -> None:
    """The DOT as Graphviz reads it here (the shipped SVG may come from another version)."""
    svg = _graphviz.draw(render_dot(kind), graphviz_dot)
    nodes = _state_nodes(svg)
    assert sorted(nodes) == sorted(state_id(kind, s.value) for s in MACHINES[kind].states)
    assert _graphviz.stamped_sha256(svg) == _graphviz.dot_sha256(render_dot(kind))


def _badges(svg: str) -> dict[str, str]:
    """state -> the count its badge shows."""
    found = {}
    for node_id, node in _state_nodes(svg).items():
        badge = node.find(f"{SVG}g[@class='count']")
        if badge is not None:
            assert badge.get("id") == node_id.replace("-state-", "-count-")
            found[node_id.split("-state-")[1]] = badge.findtext(f"{SVG}text") or ""
    return found


def test_machine_svg_without_counts_is_the_shipped_file() -> None:
    assert machine_svg("job") == (ASSETS / "job.svg").read_text(encoding="utf-8")
    assert _badges(machine_svg("job")) == {}


def test_machine_svg_badges_each_state_named_with_its_count() -> None:
    svg = machine_svg("task", {"running": 3, TaskState.PAUSED: 0, "removed": 294400})
    assert _badges(svg) == {"running": "3", "paused": "0", "removed": "294400"}
    # Still one SVG document with every state, its stamp and no ElementTree prefixes.
    assert svg.startswith('<svg width="')
    assert "ns0:" not in svg
    assert sorted(_state_nodes(svg)) == sorted(state_id("task", s.value) for s in TaskState)
    assert _graphviz.stamped_sha256(svg) == _graphviz.stamped_sha256(machine_svg("task"))


def test_a_badge_sits_on_the_top_right_corner_of_its_state_inside_the_drawing() -> None:
    svg = machine_svg("job", {JobState.RUNNING: 12})
    root = ET.fromstring(svg)
    node = _state_nodes(svg)[state_id("job", "running")]
    left, top, right, _ = _diagrams._box(node)
    rect = node.find(f"{SVG}g/{SVG}rect")
    assert rect is not None
    x, y, width = (float(rect.get(a, "nan")) for a in ("x", "y", "width"))
    assert left < x < right < x + width <= right + 6.5
    assert y < top < y + 14
    # The drawing grew upwards and to the right by as much as a badge can stick out.
    plain = ET.fromstring(machine_svg("job"))
    before, after = plain.get("viewBox", "").split(), root.get("viewBox", "").split()
    assert float(after[1]) == float(before[1]) - 10
    assert float(after[2]) == float(before[2]) + 10
    assert float(after[3]) == float(before[3]) + 10
    assert root.get("height") == f"{float(plain.get('height', '')[:-2]) + 10:g}pt"


@pytest.mark.parametrize(
    ("kind", "counts", "message"),
    [
        ("worker", None, "no machine 'worker': expected one of ['task', 'job']"),
        ("job", {"paused": 1}, "'paused' is not a state of the job machine"),
        ("task", {"running": -1}, "the count of 'running' must be an int >= 0, got -1"),
        ("task", {"running": True}, "must be an int >= 0, got True"),
        ("task", {"running": 1.5}, "must be an int >= 0, got 1.5"),
    ],
)
def test_machine_svg_says_what_is_wrong_with_its_arguments(
    kind: str, counts: dict[str, object] | None, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        machine_svg(kind, counts)  # type: ignore[arg-type]


def test_the_cli_copies_current_svgs_without_graphviz(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_graphviz, "find_dot", lambda: None)
    assert main(["diagram", "--docs", str(tmp_path)]) == 0
    for name in svg_sources():
        assert (tmp_path / name).read_text(encoding="utf-8") == (ASSETS / name).read_text("utf-8")


def test_the_cli_says_graphviz_is_needed_when_a_machine_changed(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assets = tmp_path / "assets"
    monkeypatch.setattr(_diagrams, "ASSETS", assets)
    monkeypatch.setattr(_graphviz, "find_dot", lambda: None)
    changed = {name: dot.replace("rankdir=LR", "rankdir=TB") for name, dot in svg_sources().items()}
    monkeypatch.setattr(_diagrams, "svg_sources", lambda: changed)
    assert main(["diagram", "--docs", str(tmp_path / "docs")]) == 1
    err = capsys.readouterr().err
    assert "`dot` is not on PATH" in err
    assert "apt-get install graphviz" in err
    assert "task.svg" in err or "job.svg" in err
    assert not assets.exists()
    # The text files were written all the same.
    assert (tmp_path / "docs" / "task.mmd").exists()


def test_the_cli_draws_a_changed_machine_into_the_docs_and_the_package(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, graphviz_dot: str
) -> None:
    assets = tmp_path / "assets"
    monkeypatch.setattr(_diagrams, "ASSETS", assets)
    assert main(["diagram", "--docs", str(tmp_path / "docs")]) == 0
    for name, dot in svg_sources().items():
        svg = (assets / name).read_text(encoding="utf-8")
        assert _graphviz.stamped_sha256(svg) == _graphviz.dot_sha256(dot)
        assert (tmp_path / "docs" / name).read_text(encoding="utf-8") == svg
