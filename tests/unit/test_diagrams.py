"""The diagrams and tables rendered from the live state machines, and the docs that embed them."""

from __future__ import annotations

import pathlib
import re

import pytest

from quiv._cli import main
from quiv._diagrams import MACHINES, docs_files, render, render_dot, render_mermaid, render_table
from quiv._machines import JOB_MACHINE, TASK_MACHINE, JobState, TaskState

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
    for t in machine.transitions:
        for source in t.sources:
            assert re.search(
                rf'    {source.value} -> {t.dest.value} \[label="[^"]*\b{t.trigger}\b', text
            ), (source, t.trigger)
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
    # With the module map of quiv's source (tests/unit/test_modulemap.py).
    assert {p.name for p in docs.iterdir()} == set(docs_files()) | {"modules.md"}


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
