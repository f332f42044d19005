"""The module map of a package, read from its source: who imports whom, and what each module owns.

``scan`` walks a package directory (subpackages included) and parses every module with
``ast``; nothing is imported, so the map of a tree is the map of its text, whatever that
text would do when run. ``render`` turns the scan into the Markdown the architecture page
embeds: a Mermaid flowchart of the imports inside the package (collapsed, as code: the site
draws no Mermaid), and a table of the modules.
Pure: a directory in, text out. ``quiv diagram --docs docs/generated`` writes it, and a test
keeps the checked-in file equal to what the source renders now.

What counts as an import of one module by another:

- every ``import`` and ``from ... import`` of a module of the package, relative or absolute;
  ``from . import name`` is an import of the submodule ``name`` when there is one, else of
  the package that defines ``name``;
- an import inside a function is *deferred*: it runs at the first call, not at import time
  (the flowchart draws it dotted);
- imports under ``if TYPE_CHECKING:`` are left out: they never run, and they are the way to
  name a type without depending on its module.

A module's *summary* is the first paragraph of its docstring. A docstring (of a module or of
a class) may hold a line that starts with ``One piece:``: the reason it stays one piece
although it is long, which ``over_limits`` accepts.
"""

from __future__ import annotations

import ast
import os
import pathlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "IO_MODULES",
    "LEAVES",
    "ONE_PIECE",
    "ClassInfo",
    "ModuleInfo",
    "docs_files",
    "over_limits",
    "render",
    "render_mermaid",
    "render_table",
    "scan",
]

ONE_PIECE = "One piece:"
"""The start of a docstring line that says why a long module or class is one piece."""

IO_MODULES = (
    "asyncio",
    "concurrent",
    "ctypes",
    "multiprocessing",
    "psycopg",
    "queue",
    "select",
    "selectors",
    "signal",
    "socket",
    "sqlalchemy",
    "sqlite3",
    "sqlmodel",
    "subprocess",
    "threading",
    "time",
)
"""Imports that say a module reaches beyond plain computation: threads, clocks, processes,
sockets, databases. The pure cores import none of them (a lock or an event taken from
``threading`` counts too); importing none does not prove a module pure."""

LEAVES = ("exceptions", "models")
"""Modules (relative to the package) that many modules import and that import nothing of it:
the flowchart leaves out the arrows into them and counts their importers in its note."""


@dataclass(frozen=True)
class ClassInfo:
    """A class defined at the top of a module."""

    name: str
    lines: int
    """From its first decorator, or its ``class`` line, to its last line."""
    one_piece: str | None
    """Its docstring's ``One piece:`` line, without the marker, if it has one."""


@dataclass(frozen=True)
class ModuleInfo:
    """One module of a scanned package, as its source says."""

    name: str
    """Dotted, starting with the package: ``quiv._scheduler.loop``."""
    path: str
    """POSIX path relative to the package's parent: ``quiv/_scheduler/loop.py``."""
    is_package: bool
    lines: int
    summary: str
    one_piece: str | None
    classes: tuple[ClassInfo, ...]
    imports: tuple[str, ...]
    """Modules of the package it imports when it is imported, sorted."""
    deferred: tuple[str, ...]
    """Modules of the package only its functions import, sorted."""
    io: tuple[str, ...]
    """The ``IO_MODULES`` it imports (at import time or deferred), sorted."""
    defines: bool
    """Whether it defines a function or a class (a module that does not only re-exports)."""

    @property
    def kind(self) -> Literal["public", "shim", "private"]:
        """``private`` (a part of its name starts with ``_``), ``shim`` (a public module, not
        a package, that defines nothing: it only re-exports), or ``public``."""
        if any(part.startswith("_") for part in self.name.split(".")[1:]):
            return "private"
        if not self.is_package and not self.defines:
            return "shim"
        return "public"


# -- scanning ---------------------------------------------------------------------------


def _module_names(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """Dotted name -> file, for every ``.py`` file under ``root`` (``__pycache__`` aside)."""
    package = root.name
    names: dict[str, pathlib.Path] = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if any(part == "__pycache__" or part.startswith(".") for part in relative.parts):
            continue
        parts = [package, *relative.parts[:-1]]
        if path.stem != "__init__":
            parts.append(path.stem)
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement that can run, with whether it is deferred (inside a function)."""

    def visit(node: ast.AST, deferred: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, deferred
            return
        children: Iterable[ast.AST]
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            children = node.orelse
        else:
            children = ast.iter_child_nodes(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                deferred = True
        for child in children:
            yield from visit(child, deferred)

    yield from visit(tree, False)


def _nearest(name: str, known: set[str]) -> str | None:
    """``name`` itself, or its closest ancestor among ``known``."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]
) -> Iterator[str]:
    """The modules of the package that ``node``, in ``module``, imports."""
    package = module.split(".", maxsplit=1)[0]
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == package or alias.name.startswith(package + "."):
                target = _nearest(alias.name, known)
                if target is not None:
                    yield target
        return
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        if node.module:
            base += node.module.split(".")
        origin = ".".join(base)
    else:
        origin = node.module or ""
        if origin != package and not origin.startswith(package + "."):
            return
    for alias in node.names:
        submodule = f"{origin}.{alias.name}"
        target = submodule if submodule in known else _nearest(origin, known)
        if target is not None:
            yield target


def _external(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The top-level names of the modules outside any package that ``node`` imports."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name.split(".")[0]
    elif not node.level and node.module:
        yield node.module.split(".")[0]


def _summary(docstring: str | None) -> str:
    if not docstring:
        return ""
    return " ".join(docstring.strip().split("\n\n")[0].split())


def _one_piece(docstring: str | None) -> str | None:
    for line in (docstring or "").splitlines():
        if line.strip().startswith(ONE_PIECE):
            return line.strip()[len(ONE_PIECE) :].strip()
    return None


def _classes(body: Iterable[ast.stmt]) -> Iterator[ast.ClassDef]:
    """Classes at the top of a module, also those under a top-level ``if`` or ``try``."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            yield node
        elif isinstance(node, ast.If):
            yield from _classes([*node.body, *node.orelse])
        elif isinstance(node, ast.Try):
            handlers = [statement for handler in node.handlers for statement in handler.body]
            yield from _classes([*node.body, *handlers, *node.orelse, *node.finalbody])


def _class_info(node: ast.ClassDef) -> ClassInfo:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    last = node.end_lineno if node.end_lineno is not None else node.lineno
    return ClassInfo(node.name, last - first + 1, _one_piece(ast.get_docstring(node)))


def scan(source: str | os.PathLike[str]) -> list[ModuleInfo]:
    """Every module of the package in directory ``source``, sorted by dotted name.

    The directory's name is the package's name; paths in the result are relative to its
    parent, so they never depend on where the tree lies."""
    root = pathlib.Path(source)
    names = _module_names(root)
    known = set(names)
    modules = []
    for name, path in names.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(path))
        is_package = path.name == "__init__.py"
        now: set[str] = set()
        later: set[str] = set()
        io: set[str] = set()
        for node, deferred in _imports(tree):
            targets = set(_targets(node, name, is_package, known)) - {name}
            (later if deferred else now).update(targets)
            io.update(set(_external(node)) & set(IO_MODULES))
        docstring = ast.get_docstring(tree)
        modules.append(
            ModuleInfo(
                name=name,
                path=path.relative_to(root.parent).as_posix(),
                is_package=is_package,
                lines=len(text.splitlines()),
                summary=_summary(docstring),
                one_piece=_one_piece(docstring),
                classes=tuple(_class_info(node) for node in _classes(tree.body)),
                imports=tuple(sorted(now)),
                deferred=tuple(sorted(later - now)),
                io=tuple(sorted(io)),
                defines=any(
                    isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                    for node in ast.walk(tree)
                ),
            )
        )
    return sorted(modules, key=lambda module: module.name.split("."))


# -- rendering --------------------------------------------------------------------------


def _node_id(name: str) -> str:
    return "m_" + name.replace(".", "__")


def _package_id(name: str) -> str:
    return "p_" + name.replace(".", "__")


def _label(module: ModuleInfo) -> str:
    """Public modules by the name one imports them by; private ones by their own name."""
    if module.kind != "private":
        return module.name
    return "__init__" if module.is_package else module.name.rsplit(".", 1)[-1]


def _node(module: ModuleInfo) -> str:
    return f'{_node_id(module.name)}["{_label(module)}"]'


def _root(modules: Sequence[ModuleInfo]) -> str:
    """The name of the package that ``modules`` (one scan) belong to."""
    return modules[0].name.split(".", maxsplit=1)[0] if modules else ""


def _packages(modules: Sequence[ModuleInfo]) -> list[str]:
    """Every subpackage (the package itself aside), including those with no ``__init__``."""
    root = _root(modules)
    found: set[str] = set()
    for module in modules:
        parts = module.name.split(".")
        container = parts if module.is_package else parts[:-1]
        for end in range(2, len(container) + 1):
            found.add(".".join(container[:end]))
    return sorted(found - {root}, key=lambda name: name.split("."))


def _parent(name: str, is_package: bool) -> str:
    """The subpackage a node is drawn in: a package's ``__init__`` is drawn inside it."""
    return name if is_package else name.rsplit(".", 1)[0]


def render_mermaid(modules: Sequence[ModuleInfo], leaves: Sequence[str] = LEAVES) -> str:
    """A Mermaid flowchart of the imports between ``modules`` (as ``scan`` returns them).

    Subpackages are subgraphs; public modules are labelled with their full name and shaded,
    re-export shims dashed. Imports at import time are solid arrows, deferred ones dotted;
    arrows into ``leaves`` (names relative to the package) are left out."""
    root = _root(modules)
    hidden = {f"{root}.{leaf}" for leaf in leaves}
    packages = _packages(modules)
    ids = [_node_id(module.name) for module in modules] + [_package_id(p) for p in packages]
    if len(set(ids)) != len(ids):
        raise ValueError("two modules would share a node id in the flowchart")
    lines = [
        "flowchart LR",
        f"    %% the modules of {root} and their imports, rendered by "
        "`quiv diagram --docs docs/generated`",
    ]
    placed: dict[str, list[ModuleInfo]] = {}
    for module in modules:
        placed.setdefault(_parent(module.name, module.is_package), []).append(module)

    def draw(package: str, depth: int) -> None:
        indent = "    " * depth
        for module in placed.get(package, []):
            lines.append(indent + _node(module))
        for sub in packages:
            if sub.rsplit(".", 1)[0] == package:
                lines.append(f'{indent}subgraph {_package_id(sub)}["{sub}"]')
                draw(sub, depth + 1)
                lines.append(f"{indent}end")

    draw(root, 1)
    for module in modules:
        for target in module.imports:
            if target not in hidden:
                lines.append(f"    {_node_id(module.name)} --> {_node_id(target)}")
        for target in module.deferred:
            if target not in hidden:
                lines.append(f"    {_node_id(module.name)} -.-> {_node_id(target)}")
    lines += [
        "    classDef public fill:#e3ecfa,stroke:#1f4e9c,stroke-width:2px",
        "    classDef shim fill:#f5f5f5,stroke:#8a8a8a,stroke-dasharray:4 3,color:#555555",
    ]
    for kind in ("public", "shim"):
        members = [_node_id(m.name) for m in modules if m.kind == kind]
        if members:
            lines.append(f"    class {','.join(members)} {kind}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_table(modules: Sequence[ModuleInfo]) -> str:
    """A Markdown table of ``modules``: lines, summary, classes, and their ``IO_MODULES``."""
    rows = [
        "| module | lines | owns | classes (lines) | imports of threads, time, I/O |",
        "|---|--:|---|---|---|",
    ]
    for module in modules:
        classes = ", ".join(f"`{c.name}` ({c.lines})" for c in module.classes)
        io = ", ".join(f"`{name}`" for name in module.io)
        rows.append(
            f"| `{module.name}` | {module.lines} | {_cell(module.summary)} | {classes} | {io} |"
        )
    total = sum(module.lines for module in modules)
    rows.append("")
    rows.append(f"{len(modules)} modules, {total:,} lines.")
    return "\n".join(rows) + "\n"


def _note(modules: Sequence[ModuleInfo], leaves: Sequence[str]) -> str:
    root = _root(modules)
    counts = []
    for leaf in leaves:
        name = f"{root}.{leaf}"
        importers = [m for m in modules if name in m.imports or name in m.deferred]
        if any(m.name == name for m in modules):
            counts.append(f"`{name}` (imported by {len(importers)})")
    left_out = " and ".join(counts) if counts else "none"
    return (
        "Arrows point from a module to the modules of the package it imports: solid when the "
        "import runs as the module is imported, dotted when only a function imports it, at its "
        "first call. Imports under `if TYPE_CHECKING:` are left out (they never run), and so "
        f"are the arrows into the leaf modules that many modules import: {left_out}. "
        "Shaded boxes are public modules, named as they are imported; dashed ones only "
        "re-export names, for code written against an older layout. A subpackage is a box "
        "around its modules. In the table, the last column lists what a module imports of "
        f"{', '.join(f'`{name}`' for name in IO_MODULES)}: the threads, clocks, processes and "
        "databases it reaches, if any.\n"
    )


def render(source: str | os.PathLike[str], leaves: Sequence[str] = LEAVES) -> str:
    """The Markdown of the package in ``source``: the flowchart, its key, and the table."""
    modules = scan(source)
    return (
        "<!-- generated from the source by `quiv diagram --docs docs/generated`: "
        "do not edit -->\n\n"
        # Collapsed, as code: the site loads no script to draw Mermaid (GitHub draws it).
        '<details class="quiv-source" markdown="1">\n'
        "<summary>The imports between the modules, as a Mermaid flowchart</summary>\n\n"
        "```mermaid\n"
        + render_mermaid(modules, leaves)
        + "```\n\n</details>\n\n"
        + _note(modules, leaves)
        + "\n"
        + render_table(modules)
    )


def docs_files(source: str | os.PathLike[str]) -> dict[str, str]:
    """The generated files the documentation embeds: name -> content."""
    return {"modules.md": render(source)}


def over_limits(
    modules: Iterable[ModuleInfo], module_lines: int = 500, class_lines: int = 300
) -> list[str]:
    """The modules longer than ``module_lines`` and the classes longer than ``class_lines``,
    one line each, except those whose docstring (or whose module's) says ``One piece:``."""
    over = []
    for module in modules:
        if module.one_piece is not None:
            continue
        if module.lines > module_lines:
            over.append(f"{module.path}: {module.lines} lines (limit {module_lines})")
        for cls in module.classes:
            if cls.lines > class_lines and cls.one_piece is None:
                over.append(
                    f"{module.path}: class {cls.name}, {cls.lines} lines (limit {class_lines})"
                )
    return over
