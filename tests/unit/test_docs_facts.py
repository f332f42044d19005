"""Facts the README and the docs state about the code, checked against the code.

Each test here guards a statement that was once wrong: an event missing from the events
guide, a short list of statuses, a SQLite URL that pointed to a relative path, a file the
docs named that the repository does not hold.
"""

from __future__ import annotations

import pathlib
import re

import pytest

from quiv import ConfigurationError, Event, JobStatus, TaskStatus
from quiv._queries import _status

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def _read(path: pathlib.Path) -> str:
    return path.read_text(encoding="utf-8")


def test_every_event_has_a_row_in_the_events_guide() -> None:
    page = _read(DOCS / "guides" / "events.md")
    rows = set(re.findall(r"^\| `Event\.(\w+)` \|", page, re.MULTILINE))
    assert rows == {event.name for event in Event}


def test_getting_started_names_every_job_and_task_status() -> None:
    page = _read(DOCS / "getting-started.md")
    rows = set(re.findall(r"^\| `(\w+)` \|", page, re.MULTILINE))
    assert {status.value for status in JobStatus} <= rows
    for status in TaskStatus:
        assert f"`{status.value}`" in page, status


def test_the_status_sample_in_the_errors_reference_is_the_real_message() -> None:
    with pytest.raises(ConfigurationError) as caught:
        _status("status", "done", JobStatus)
    assert str(caught.value) in _read(DOCS / "reference" / "errors.md")


@pytest.mark.parametrize("path", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_sqlite_url_makes_a_system_directory_relative(path: pathlib.Path) -> None:
    """``sqlite:///var/...`` is ``var/...`` under the working directory; four slashes are
    meant."""
    found = re.findall(r"sqlite:///(?:var|etc|opt|srv|tmp|home|usr)/\S*", _read(path))
    assert not found, f"{path.name}: write sqlite://// for an absolute path: {found}"


# Top-level folders of the repository, and the one a helper script was once named under.
_REPO_PATH = re.compile(r"`((?:benchmarks|docs|examples|src|tests|shared|scripts|tools)/[\w./-]*)`")


@pytest.mark.parametrize("path", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_repository_path_a_page_names_exists(path: pathlib.Path) -> None:
    missing = [name for name in _REPO_PATH.findall(_read(path)) if not (ROOT / name).exists()]
    assert not missing, f"{path.name} names files the repository does not hold: {missing}"


def test_the_performance_page_reproduces_on_any_machine() -> None:
    page = _read(DOCS / "performance.md")
    reproduce = page.split("## Reproduce", 1)[1].split("\n## ", 1)[0]
    block = reproduce.split("```console", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0] for line in block.splitlines()]
    # No one machine's interpreter builds in the commands to copy.
    for command in commands:
        assert not re.search(r"\d+\.\d+\.\d+", command), command
    commits = re.search(r"Measured on the working tree of commits? (.*)", page)
    assert commits is not None
    hashes = re.findall(r"\b[0-9a-f]{7,40}\b", commits.group(1))
    assert len(hashes) == len(set(hashes)), commits.group(0)


def test_the_docs_theme_keeps_identifiers_in_tables_whole() -> None:
    """The transition tables are wider than the content column: their identifiers must not
    break mid-word (Material breaks inline code anywhere), the table scrolls instead."""
    config = _read(ROOT / "mkdocs.yml")
    assert re.search(r"^extra_css:\n  - stylesheets/extra\.css$", config, re.MULTILINE)
    css = _read(DOCS / "stylesheets" / "extra.css")
    rule = re.search(r"\.md-typeset table:not\(\[class\]\) code \{([^}]*)\}", css)
    assert rule is not None
    assert "white-space: nowrap;" in rule.group(1)
    assert "word-break: normal;" in rule.group(1)
