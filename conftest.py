"""Runs the code blocks of README.md, src/quiv/AGENTS.md and docs/ as tests (with Sybil).

Every fenced block of those pages is one of:

- ```` ```python ````: run, in order, in one namespace per page (a block may use what an
  earlier block of its page defined). A block that starts with ``>>>`` is a doctest and its
  output is compared (``ELLIPSIS`` and ``NORMALIZE_WHITESPACE`` on).
- ```` ```python ```` after ``<!-- skip: next "why" -->`` (or between ``<!-- skip: start "why"
  -->`` and ``<!-- skip: end -->``): not run, reported as skipped with that reason. The reason
  is required. ``<!-- skip: next postgres_unavailable() -->`` runs the block only when a
  PostgreSQL server is given (as tests/conftest.py does: ``QUIV_TEST_POSTGRES_URL``; under
  ``QUIV_REQUIRE_POSTGRES=1`` a missing server fails instead of skipping).
- ```` ```console ```` (shell commands), ```` ```text ```` (output samples, formats) and
  ```` ```mermaid ```` (diagrams): declared as not Python by their info string.

Any other block (no language, ``bash``, ``py``...) fails: it neither runs nor says why not.
``<!-- invisible-code-block: python ... -->`` holds code that runs without being shown (the
stubs a page's fragments need); HTML comments render as nothing on the site and on GitHub.

Each page gets ``tmp_dir`` (a fresh directory), FastAPI's ``TestClient`` (which runs an app's
lifespan) and the helpers below in its namespace; at
its end every ``Quiv`` still in the namespace is shut down, and the page fails if a quiv
thread is still alive then: an example that starts a scheduler must stop it.
"""

from __future__ import annotations

import doctest
import gc
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from sybil import Document, Example, Region, Sybil
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.evaluators.skip import Skipper
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

ROOT = Path(__file__).resolve().parent
DOC_PAGES = [
    ROOT / "README.md",
    ROOT / "src" / "quiv" / "AGENTS.md",  # the reference shipped in the wheel
    *sorted((ROOT / "docs").rglob("*.md")),
]

#: Languages of blocks that are not Python and so are not run, by what they hold.
NOT_PYTHON = {
    "console": "shell commands",
    "text": "output samples and formats",
    "mermaid": "diagrams",
}

POSTGRES_ENV = "QUIV_TEST_POSTGRES_URL"

_NOT_RUN: Counter[str] = Counter()  # blocks of NOT_PYTHON languages seen, for the summary


class _PythonFences(CodeBlockParser):
    """Python blocks whose info string starts with ``python`` (``python title="app.py"``)."""

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self.lexers(document):
            words = str(region.lexemes["arguments"]).split()
            if words and words[0] == self.language:
                region.parsed = region.lexemes["source"]
                region.evaluator = self._evaluator or self.evaluate
                yield region


class _PythonParser(PythonCodeBlockParser):
    codeblock_parser_class = _PythonFences


class _ReasonedSkips(SkipParser):
    """Sybil's skip directive, with a reason required for every block it skips."""

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in super().__call__(document):
            action, reason = region.parsed
            if action in ("start", "next") and not reason:
                line = document.text.count("\n", 0, region.start) + 1
                raise ValueError(
                    f"{document.path}:{line}: 'skip: {action}' needs a reason, such as "
                    f'<!-- skip: {action} "needs a running server" -->'
                )
            yield region


def _unmarked(example: Example) -> None:
    info = example.parsed or "(no info string)"
    raise AssertionError(
        f"a code block with info string {info!r} neither runs nor says why not: make it "
        f"```python (run), or mark it ```{' / ```'.join(NOT_PYTHON)} or precede it with "
        '<!-- skip: next "reason" -->'
    )


class _Census:
    """Every fenced block that is neither Python nor of a language declared not to run."""

    def __init__(self) -> None:
        self.lexer = RawFencedCodeBlockLexer(
            info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE)
        )

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self.lexer(document):
            words = str(region.lexemes["info"]).split()
            language = words[0] if words else ""
            if language in NOT_PYTHON:
                _NOT_RUN[language] += 1
            elif language != "python":
                yield Region(region.start, region.end, " ".join(words), _unmarked)


# -- what every page's namespace holds --------------------------------------------------------


_NO_POSTGRES = f"no PostgreSQL server: set {POSTGRES_ENV} (`.ci/postgres` starts one)"


def postgres_unavailable() -> str | None:
    """The reason to skip a PostgreSQL block, or None when a server is given or required.

    Under ``QUIV_REQUIRE_POSTGRES=1`` (CI) the blocks run even without a server, and so fail.
    """
    if os.environ.get(POSTGRES_ENV) or os.environ.get("QUIV_REQUIRE_POSTGRES") == "1":
        return None
    return _NO_POSTGRES


def _fresh_postgres_database(cleanups: list[Callable[[], None]]) -> str:
    """A new, empty database on the test server, dropped when the page ends."""
    import psycopg
    from sqlalchemy.engine import make_url

    if not os.environ.get(POSTGRES_ENV):
        raise RuntimeError(f"QUIV_REQUIRE_POSTGRES=1 and {_NO_POSTGRES}")
    server = make_url(os.environ[POSTGRES_ENV])
    name = f"quiv_doc_{uuid.uuid4().hex[:12]}"
    admin = server.set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    cleanups.append(drop)
    return server.set(database=name).render_as_string(False)


def _test_client() -> Any:
    with warnings.catch_warnings():
        # Starlette prefers httpx2 for its TestClient and warns at import when it falls back
        # on httpx (what the ``example`` group installs): only that warning, only here.
        warnings.filterwarnings(
            "ignore", message=r"Using `httpx` with `starlette\.testclient` is deprecated"
        )
        from fastapi.testclient import TestClient
    return TestClient


def _setup(namespace: dict[str, Any]) -> None:
    cleanups: list[Callable[[], None]] = []
    tmp_dir = Path(tempfile.mkdtemp(prefix="quiv-docs-"))
    cleanups.append(lambda: shutil.rmtree(tmp_dir, ignore_errors=True))
    saved_environ = dict(os.environ)

    def restore_environ() -> None:
        os.environ.clear()
        os.environ.update(saved_environ)

    cleanups.append(restore_environ)
    root = logging.getLogger()
    saved_logging = (root.level, list(root.handlers))

    def restore_logging() -> None:  # an app's logging.basicConfig() stays on its page
        root.setLevel(saved_logging[0])
        root.handlers[:] = saved_logging[1]

    cleanups.append(restore_logging)
    namespace.update(
        __name__="__doc_example__",
        _doc_cleanups=cleanups,
        tmp_dir=tmp_dir,
        postgres_unavailable=postgres_unavailable,
        fresh_postgres_database=lambda: _fresh_postgres_database(cleanups),
        TestClient=_test_client(),
    )


def _quiv_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("quiv") and t.is_alive()]


def _teardown(namespace: dict[str, Any]) -> None:
    from quiv import Lifecycle, Quiv

    left_running = []
    for name, value in list(namespace.items()):
        if isinstance(value, Quiv):
            if value.lifecycle is Lifecycle.RUNNING:
                left_running.append(name)
            value.shutdown(timeout=10.0)
    for cleanup in reversed(namespace["_doc_cleanups"]):
        cleanup()
    namespace.clear()
    gc.collect()  # a Quiv that an example dropped stops through its finalizer
    deadline = time.monotonic() + 5.0
    while _quiv_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    alive = [t.name for t in _quiv_threads()]
    if left_running or alive:
        raise AssertionError(
            f"the page's examples left schedulers running ({', '.join(left_running) or '-'}) "
            f"or quiv threads alive ({', '.join(alive) or '-'}): shut them down in the example"
        )


class _DocPages(Sybil):
    def should_parse(self, path: Path) -> bool:
        return Path(path).resolve() in DOC_PAGES


_sybil = _DocPages(
    parsers=[
        _PythonParser(doctest_optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE),
        _ReasonedSkips(),
        _Census(),
    ],
    path=".",
    setup=_setup,
    teardown=_teardown,
)

pytest_collect_file = _sybil.pytest()


# -- the count --------------------------------------------------------------------------------


def _kind(item: Any) -> str | None:
    example = getattr(item, "example", None)
    if not isinstance(example, Example):
        return None
    evaluator = example.region.evaluator
    if evaluator is _unmarked:
        return "unmarked"
    if isinstance(evaluator, Skipper):
        return "directive"
    if isinstance(evaluator, DocTestEvaluator):
        return "doctest"
    if example.document.text.startswith("<!--", example.region.start):
        return "hidden"
    return "block"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    kind = _kind(item)
    if kind is not None:
        report.user_properties.append(("doc_example", kind))
        if report.skipped and isinstance(report.longrepr, tuple):
            # Point at the skipped block in its page, not at where pytest caught the skip.
            report.longrepr = (str(item.path), item.example.line, report.longrepr[2])
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line that says how many doc examples ran, were skipped by a mark, or failed."""
    outcomes: Counter[str] = Counter()
    seconds = 0.0
    for reports in terminalreporter.stats.values():
        for report in reports:
            kind = dict(getattr(report, "user_properties", ())).get("doc_example")
            if kind is None:
                continue
            seconds += report.duration
            if report.failed:
                outcomes["failed"] += 1
            elif kind == "directive" or report.when != "call":
                continue
            elif report.skipped:
                outcomes["skipped"] += 1
            else:
                outcomes[kind] += 1
    if not outcomes:
        return
    declared = ", ".join(f"{count} {language}" for language, count in sorted(_NOT_RUN.items()))
    terminalreporter.write_line(
        f"doc examples: {outcomes['block']} Python blocks and {outcomes['doctest']} doctest "
        f"examples ran (and {outcomes['hidden']} hidden set-up blocks), {outcomes['skipped']} "
        f"skipped by their mark, {outcomes['failed']} failed, in {seconds:.1f} s; "
        f"not Python by their info string: {declared or 'none'}"
    )
