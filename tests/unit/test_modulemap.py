"""The module map: read from a package's source, rendered to the docs, and kept up to date."""

from __future__ import annotations

import pathlib
import re
import textwrap

import pytest

from quiv._cli import main
from quiv._modulemap import docs_files, over_limits, render, render_mermaid, render_table, scan

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "quiv"
GENERATED = ROOT / "docs" / "generated" / "modules.md"
REGENERATE = "uv run quiv diagram --docs docs/generated"

# A small package with what the map must get right: relative and absolute imports, a
# submodule imported by name, an import under TYPE_CHECKING (and its else branch), a deferred
# import, nested subpackages (public and private), a shim that only re-exports, a class with
# a decorator, and a __pycache__ to be skipped.
PACKAGE = {
    "__init__.py": '''
        """The package, for tests."""

        from . import errors
        from .core import Thing
        ''',
    "errors.py": '''
        """Errors: a leaf."""


        class Oops(Exception):
            pass
        ''',
    "core.py": '''
        """The core.

        Pure: no threads.
        """

        from __future__ import annotations

        from typing import TYPE_CHECKING

        from .errors import Oops

        if TYPE_CHECKING:
            from .edge.io import Port
        else:
            from ._util import helper


        class Thing:
            """A thing."""

            def port(self) -> Port:
                raise Oops
        ''',
    "_util.py": '''
        """Helpers, with a summary that
        runs over two lines.

        One piece: it is tiny anyway.
        """

        import threading
        import time as _time


        def helper() -> None:
            threading.Event().wait(_time.monotonic() * 0)
        ''',
    "legacy.py": '''
        """Kept for old imports."""

        from .core import Thing

        __all__ = ["Thing"]
        ''',
    "edge/__init__.py": '''
        """The edge."""

        from .io import Port
        ''',
    "edge/io.py": '''
        """Ports."""

        import sqlite3
        from dataclasses import dataclass

        import pkg.core
        from .. import errors
        from ..core import Thing


        def connect() -> None:
            from pkg.edge import helpers

            helpers.go(sqlite3, pkg.core, errors, Thing)


        @dataclass
        class Port:
            number: int
        ''',
    "edge/helpers.py": '''
        """Help for the edge."""


        def go(*things: object) -> None:
            pass
        ''',
    "edge/_wire/__init__.py": '''
        """Wires."""

        from .bits import Bit
        ''',
    "edge/_wire/bits.py": '''
        """Bits."""

        from ...errors import Oops


        class Bit:
            """A bit."""

            def fail(self) -> None:
                raise Oops
        ''',
    "__pycache__/ignored.py": "import nothing\n",
}


def _write(root: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    package = root / "pkg"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return package


@pytest.fixture
def package(tmp_path: pathlib.Path) -> pathlib.Path:
    return _write(tmp_path, PACKAGE)


# -- the checked-in map ---------------------------------------------------------------------


def test_the_generated_module_map_matches_the_source() -> None:
    """Fails when a module of quiv changed (an import, a docstring, its length) and the map
    was not regenerated: run ``uv run quiv diagram --docs docs/generated`` and commit it."""
    assert GENERATED.exists(), f"{GENERATED} is missing: run `{REGENERATE}`"
    assert GENERATED.read_text(encoding="utf-8") == docs_files(SOURCE)["modules.md"], (
        f"{GENERATED.relative_to(ROOT)} is stale: run `{REGENERATE}` and commit the result"
    )


def test_the_architecture_page_embeds_the_module_map() -> None:
    page = (ROOT / "docs" / "design" / "architecture.md").read_text(encoding="utf-8")
    assert '--8<-- "modules.md"' in page
    assert "## The modules and what each owns" in page


def test_the_map_of_quiv_names_no_path_of_this_machine() -> None:
    text = render(SOURCE)
    assert str(ROOT) not in text
    assert str(pathlib.Path.home()) not in text


def test_the_map_of_quiv_draws_its_parts() -> None:
    modules = {module.name: module for module in scan(SOURCE)}
    assert modules["quiv"].kind == "public"
    assert modules["quiv.models"].kind == "public"
    assert modules["quiv.scheduler"].kind == "shim"
    assert modules["quiv._timing"].kind == "private"
    # The pure core reaches for no thread, clock or database (as the architecture page says).
    core = ("_timing", "_schedule", "_cron", "_cron_days", "_calendar", "_preview", "_machines")
    core += ("_config", "_slots", "_resolve", "schedules")
    core += ("_scheduler.planning",)
    for name in (f"quiv.{module}" for module in (*core, "_arguments")):
        assert modules[name].io == (), name
    assert "quiv._modulemap" in modules["quiv._cli"].deferred
    _check_mermaid(render_mermaid(list(modules.values())))


def test_the_cli_writes_the_module_map_with_the_diagrams(tmp_path: pathlib.Path) -> None:
    assert main(["diagram", "--docs", str(tmp_path)]) == 0
    assert (tmp_path / "modules.md").read_text(encoding="utf-8") == render(SOURCE)


# -- size -----------------------------------------------------------------------------------


def test_no_module_over_500_lines_and_no_class_over_300_without_a_reason() -> None:
    """A module may pass the limits if its docstring has a line that starts with ``One
    piece:`` and says why it is one piece (a class: its own docstring, or its module's)."""
    over = over_limits(scan(SOURCE), module_lines=500, class_lines=300)
    if over:
        pytest.fail(
            "over 500 lines a module or 300 a class, with no 'One piece:' line saying why:\n"
            + "\n".join(over)
        )


def test_over_limits_names_what_is_long_and_accepts_a_reason(package: pathlib.Path) -> None:
    modules = scan(package)
    over = over_limits(modules, module_lines=10, class_lines=4)
    assert "pkg/core.py: 22 lines (limit 10)" in over
    assert "pkg/core.py: class Thing, 5 lines (limit 4)" in over
    assert "pkg/edge/_wire/bits.py: class Bit, 5 lines (limit 4)" in over
    # _util.py is 12 lines, but its docstring says why it is one piece.
    assert not any(line.startswith("pkg/_util.py") for line in over)
    assert over_limits(modules, module_lines=100, class_lines=100) == []


def test_a_class_may_give_its_own_reason(tmp_path: pathlib.Path) -> None:
    package = _write(
        tmp_path,
        {
            "__init__.py": '''
                """Pkg."""


                class Big:
                    """Big.

                    One piece: its parts share one lock.
                    """

                    a = 1
                    b = 2
                ''',
        },
    )
    (module,) = scan(package)
    assert module.classes[0].one_piece == "its parts share one lock."
    assert over_limits([module], module_lines=100, class_lines=2) == []


# -- scanning -------------------------------------------------------------------------------


def test_scan_finds_every_module_sorted_and_skips_pycache(package: pathlib.Path) -> None:
    names = [module.name for module in scan(package)]
    assert names == [
        "pkg",
        "pkg._util",
        "pkg.core",
        "pkg.edge",
        "pkg.edge._wire",
        "pkg.edge._wire.bits",
        "pkg.edge.helpers",
        "pkg.edge.io",
        "pkg.errors",
        "pkg.legacy",
    ]


def test_imports_resolve_relative_absolute_and_submodule_names(package: pathlib.Path) -> None:
    modules = {module.name: module for module in scan(package)}
    # `from . import errors` is the submodule; `from .core import Thing` is the module core.
    assert modules["pkg"].imports == ("pkg.core", "pkg.errors")
    # `import pkg.core`, `from .. import errors`, `from ..core import Thing`.
    assert modules["pkg.edge.io"].imports == ("pkg.core", "pkg.errors")
    # `from ...errors import Oops`, three levels up from a module of a nested package.
    assert modules["pkg.edge._wire.bits"].imports == ("pkg.errors",)
    assert modules["pkg.edge._wire"].imports == ("pkg.edge._wire.bits",)
    assert modules["pkg.errors"].imports == ()


def test_type_checking_imports_are_left_out_but_not_their_else(package: pathlib.Path) -> None:
    core = {module.name: module for module in scan(package)}["pkg.core"]
    assert core.imports == ("pkg._util", "pkg.errors")
    assert "pkg.edge.io" not in core.imports + core.deferred


def test_imports_inside_functions_are_deferred(package: pathlib.Path) -> None:
    io = {module.name: module for module in scan(package)}["pkg.edge.io"]
    assert io.deferred == ("pkg.edge.helpers",)
    assert "pkg.edge.helpers" not in io.imports


def test_summary_lines_classes_paths_and_kinds(package: pathlib.Path) -> None:
    modules = {module.name: module for module in scan(package)}
    util = modules["pkg._util"]
    assert util.summary == "Helpers, with a summary that runs over two lines."
    assert util.one_piece == "it is tiny anyway."
    assert util.lines == len((package / "_util.py").read_text(encoding="utf-8").splitlines())
    assert util.lines == 12
    assert util.io == ("threading", "time")
    assert modules["pkg.edge.io"].io == ("sqlite3",)
    assert modules["pkg.core"].summary == "The core."
    assert [(c.name, c.lines) for c in modules["pkg.core"].classes] == [("Thing", 5)]
    # A decorator is part of its class.
    assert [(c.name, c.lines) for c in modules["pkg.edge.io"].classes] == [("Port", 3)]
    assert modules["pkg.edge.io"].path == "pkg/edge/io.py"
    assert modules["pkg.edge._wire"].path == "pkg/edge/_wire/__init__.py"
    assert modules["pkg.edge._wire"].is_package
    kinds = {name: module.kind for name, module in modules.items()}
    assert kinds["pkg"] == kinds["pkg.edge"] == kinds["pkg.core"] == "public"
    assert kinds["pkg.legacy"] == "shim"
    assert kinds["pkg._util"] == kinds["pkg.edge._wire"] == kinds["pkg.edge._wire.bits"]
    assert kinds["pkg._util"] == "private"


# -- rendering ------------------------------------------------------------------------------


def _check_mermaid(text: str) -> None:
    """Every subgraph is closed and every arrow joins two declared nodes."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert sum(line.strip().startswith("subgraph ") for line in lines) == sum(
        line.strip() == "end" for line in lines
    )
    nodes = {m.group(1) for line in lines if (m := re.fullmatch(r"\s*(m_\w+)\[\"[^\"]+\"\]", line))}
    for line in lines:
        arrow = re.fullmatch(r"\s*(\S+) (?:-->|-\.->) (\S+)", line)
        if arrow:
            assert set(arrow.groups()) <= nodes, line


def _edges(text: str) -> set[tuple[str, str, str]]:
    return {
        (m.group(1), m.group(2), m.group(3))
        for line in text.splitlines()
        if (m := re.fullmatch(r"\s*m_(\S+) (-->|-\.->) m_(\S+)", line))
    }


def test_mermaid_draws_imports_solid_and_deferred_dotted(package: pathlib.Path) -> None:
    text = render_mermaid(scan(package))
    _check_mermaid(text)
    edges = _edges(text)
    assert ("pkg", "-->", "pkg__core") in edges
    assert ("pkg__edge__io", "-->", "pkg__core") in edges
    assert ("pkg__edge__io", "-.->", "pkg__edge__helpers") in edges
    assert ("pkg__core", "-->", "pkg___util") in edges
    # Under TYPE_CHECKING: no arrow.
    assert not any(
        source == "pkg__core" and dest.startswith("pkg__edge") for source, _, dest in edges
    )


def test_mermaid_leaves_out_arrows_into_the_leaves_and_says_so(package: pathlib.Path) -> None:
    modules = scan(package)
    drawn = render_mermaid(modules, leaves=("errors",))
    assert not any(dest == "pkg__errors" for _, _, dest in _edges(drawn))
    every = _edges(render_mermaid(modules, leaves=()))
    assert ("pkg__core", "-->", "pkg__errors") in every
    assert ("pkg__edge___wire__bits", "-->", "pkg__errors") in every
    # The leaf itself is still drawn, and the note counts its importers.
    assert 'm_pkg__errors["pkg.errors"]' in drawn
    assert "`pkg.errors` (imported by 4)" in render(package, leaves=("errors",))
    assert "leaf modules that many modules import: none." in render(package)


def test_mermaid_draws_subpackages_as_nested_subgraphs(package: pathlib.Path) -> None:
    text = render_mermaid(scan(package))
    assert (
        '    subgraph p_pkg__edge["pkg.edge"]\n'
        '        m_pkg__edge["pkg.edge"]\n'
        '        m_pkg__edge__helpers["pkg.edge.helpers"]\n'
        '        m_pkg__edge__io["pkg.edge.io"]\n'
        '        subgraph p_pkg__edge___wire["pkg.edge._wire"]\n'
        '            m_pkg__edge___wire["__init__"]\n'
        '            m_pkg__edge___wire__bits["bits"]\n'
        "        end\n"
        "    end\n"
    ) in text
    # Top-level modules sit outside every subgraph.
    assert '\n    m_pkg___util["_util"]\n' in text


def test_mermaid_marks_public_modules_and_shims(package: pathlib.Path) -> None:
    text = render_mermaid(scan(package))
    classes = dict(
        (m.group(2), set(m.group(1).split(",")))
        for line in text.splitlines()
        if (m := re.fullmatch(r"    class (\S+) (\w+)", line))
    )
    assert classes["shim"] == {"m_pkg__legacy"}
    assert classes["public"] == {
        "m_pkg",
        "m_pkg__core",
        "m_pkg__edge",
        "m_pkg__edge__helpers",
        "m_pkg__edge__io",
        "m_pkg__errors",
    }


def test_table_has_a_row_per_module_with_its_classes(package: pathlib.Path) -> None:
    table = render_table(scan(package))
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == 10
    assert "| `pkg.core` | 22 | The core. | `Thing` (5) |  |" in rows
    assert "| `pkg._util` | 12 | Helpers, with a summary that runs over two lines. |  | " in table
    assert "`threading`, `time` |" in table
    assert table.rstrip().endswith(f"10 modules, {sum(m.lines for m in scan(package))} lines.")


def test_a_pipe_in_a_summary_does_not_break_the_table(tmp_path: pathlib.Path) -> None:
    package = _write(tmp_path, {"__init__.py": '"""Either a | b."""\n'})
    assert "| Either a \\| b. |" in render_table(scan(package))


def test_an_added_import_makes_the_checked_in_map_stale(package: pathlib.Path) -> None:
    checked_in = render(package)
    legacy = package / "legacy.py"
    legacy.write_text(legacy.read_text(encoding="utf-8") + "from . import _util\n", "utf-8")
    regenerated = render(package)
    assert regenerated != checked_in
    assert "    m_pkg__legacy --> m_pkg___util\n" in regenerated
    assert "    m_pkg__legacy --> m_pkg___util\n" not in checked_in


def test_render_is_the_same_wherever_the_tree_lies(tmp_path: pathlib.Path) -> None:
    one = _write(tmp_path / "one", PACKAGE)
    two = _write(tmp_path / "elsewhere" / "two", PACKAGE)
    assert render(one) == render(two)
    assert str(tmp_path) not in render(one)
