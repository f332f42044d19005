"""AGENTS.md, the reference for coding assistants shipped in the wheel, names only what exists.

Every name in its inline code that points into quiv must resolve: ``quiv.x.Y`` by import,
``Event.JOB_FAILED`` or ``Job.result`` on a public name, a call such as ``add_task(...)`` on
``Quiv`` or a public function, and every keyword of such a call in that callable's signature.
A name that is not quiv's must be a builtin or one of the few others it mentions on purpose.
Its code blocks run with the docs' (conftest.py at the root).
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import quiv
import quiv.exceptions
import quiv.models
import quiv.schedules
import quiv.testing

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "src" / "quiv" / "AGENTS.md"

PUBLIC: dict[str, Any] = {
    name: getattr(module, name)
    for module in (quiv, quiv.schedules, quiv.testing, quiv.models, quiv.exceptions)
    for name in module.__all__
}
#: Names from outside quiv that the reference mentions on purpose, and stand-ins for yours.
OTHERS = {"FastAPI", "Exception"}
PLACEHOLDERS = {"callback"}
#: Receivers of the calls written without one (``shutdown(timeout=...)``).
RECEIVERS = [quiv.Quiv, quiv.testing.FakeClock, quiv, quiv.testing]


def _spans() -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    # File paths and patterns are not names.
    return [span for span in re.findall(r"`([^`\n]+)`", text) if not re.search(r"[/*]", span)]


def _attribute(owner: Any, name: str) -> Any:
    fields = getattr(owner, "model_fields", None)
    if isinstance(owner, type) and fields is not None and name in fields:
        return fields[name]  # a pydantic model's field is no class attribute
    return getattr(owner, name)


def _resolve(dotted: str) -> Any:
    """The object ``dotted`` names, or raise LookupError; None for a name that is not quiv's."""
    first, *rest = dotted.split(".")
    if first == "quiv":
        obj: Any = quiv
        for i, part in enumerate(rest):
            try:
                obj = _attribute(obj, part)
            except AttributeError:
                obj = importlib.import_module(".".join(["quiv", *rest[: i + 1]]))
        return obj
    if first in PUBLIC:
        obj = PUBLIC[first]
    elif first[0].isupper():
        if first in OTHERS or hasattr(builtins, first):
            return None
        raise LookupError(f"{first} is not a public name of quiv")
    else:
        return None
    for part in rest:
        obj = _attribute(obj, part)
    return obj


def _callable(name: str) -> Callable[..., Any] | None:
    if "." in name or name[0].isupper():
        return _resolve(name)  # type: ignore[no-any-return]
    if name in PLACEHOLDERS:
        return None
    for receiver in RECEIVERS:
        if hasattr(receiver, name):
            return getattr(receiver, name)  # type: ignore[no-any-return]
    if hasattr(builtins, name):
        return None
    raise LookupError(f"{name}() is neither a method of Quiv or FakeClock nor a function of quiv")


def test_the_reference_is_in_the_package() -> None:
    shipped = resources.files("quiv").joinpath("AGENTS.md")
    assert shipped.is_file()
    assert shipped.read_text(encoding="utf-8") == PAGE.read_text(encoding="utf-8")


@pytest.mark.parametrize("span", _spans())
def test_every_name_in_the_reference_exists(span: str) -> None:
    span = re.sub(r"\"[^\"]*\"", '""', span)  # the text of string literals is not names
    for dotted in re.findall(r"(?<![\w.\"'])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)", span):
        if "=" in span and re.search(rf"\b{re.escape(dotted)}=", span):
            continue  # a keyword: checked against its call below
        try:
            _resolve(dotted)
        except (LookupError, AttributeError, ImportError) as exc:
            pytest.fail(f"`{span}` names {dotted}, which does not exist: {exc}")
    for name, arguments in re.findall(r"([A-Za-z_][\w.]*)\(([^()]*)", span):
        try:
            target = _callable(name)
        except (LookupError, AttributeError, ImportError) as exc:
            pytest.fail(f"`{span}` calls {name}(), which does not exist: {exc}")
        if target is None:
            continue
        parameters = inspect.signature(target).parameters
        if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            continue
        for keyword in re.findall(r"(?:^|,)\s*(\w+)=", arguments):
            assert keyword in parameters, f"`{span}`: {name}() takes no {keyword}="


def test_the_checks_catch_a_name_that_does_not_exist() -> None:
    with pytest.raises(AttributeError):
        _resolve("Event.JOB_EXPLODED")
    with pytest.raises(LookupError):
        _resolve("RetryPolicies")
    with pytest.raises(LookupError):
        _callable("wait_for_jobs")
    assert "pool_sizes" not in inspect.signature(quiv.Quiv).parameters
