"""The module paths of quiv 0.4.0 (``quiv.config``, ``quiv.scheduler``, ...) still import.

They are re-exports of objects that ``quiv`` exports, never second implementations, and they
stay out of the API reference.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

import quiv

# Each 0.4.0 module, and for each name it offered that still has a counterpart: the name
# under which ``quiv`` exports that counterpart.
LEGACY: dict[str, dict[str, str]] = {
    "quiv.base": {"QuivBase": "Quiv"},
    "quiv.config": {"QuivConfig": "QuivConfig", "resolve_timezone": "resolve_timezone"},
    "quiv.context": {"run_on_main": "run_on_main"},
    "quiv.execution": {},
    "quiv.persistence": {},
    "quiv.scheduler": {"Quiv": "Quiv"},
}

# 0.4.0 names left out on purpose: internal helpers the 0.4.0 scheduler built for itself.
LEFT_OUT = [("quiv.execution", "ExecutionLayer"), ("quiv.persistence", "PersistenceLayer")]

PAIRS = [(module, name) for module, names in LEGACY.items() for name in names]


def _public_names(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and name != "annotations"
        and not isinstance(value, types.ModuleType)
    }


@pytest.mark.parametrize(("module_name", "name"), PAIRS)
def test_name_is_the_object_quiv_exports(module_name: str, name: str) -> None:
    module = importlib.import_module(module_name)
    assert getattr(module, name) is getattr(quiv, LEGACY[module_name][name])
    namespace: dict[str, object] = {}
    exec(f"from {module_name} import {name}", namespace)
    assert namespace[name] is getattr(quiv, LEGACY[module_name][name])


@pytest.mark.parametrize("module_name", list(LEGACY))
def test_all_is_sorted_and_lists_exactly_the_public_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert list(module.__all__) == sorted(module.__all__)
    assert set(module.__all__) == _public_names(module) == set(LEGACY[module_name])


@pytest.mark.parametrize("module_name", list(LEGACY))
def test_star_import_gives_the_listed_names(module_name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {module_name} import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(LEGACY[module_name])


@pytest.mark.parametrize("module_name", list(LEGACY))
def test_module_says_why_it_exists(module_name: str) -> None:
    doc = importlib.import_module(module_name).__doc__
    assert doc is not None
    assert "0.4.0" in doc


@pytest.mark.parametrize(("module_name", "name"), LEFT_OUT)
def test_internal_helpers_are_not_offered(module_name: str, name: str) -> None:
    with pytest.raises(ImportError, match=name):
        exec(f"from {module_name} import {name}", {})


def test_quiv_base_stands_for_quiv() -> None:
    from quiv.base import QuivBase

    assert issubclass(quiv.Quiv, QuivBase)


def test_legacy_modules_stay_out_of_the_api_reference() -> None:
    reference = Path(__file__).parents[1] / "docs" / "reference" / "api.md"
    text = reference.read_text(encoding="utf-8")
    for module_name in LEGACY:
        assert f"::: {module_name}" not in text


@pytest.mark.parametrize(
    "code",
    [
        "import quiv; from quiv.config import QuivConfig",
        "from quiv.base import QuivBase; from quiv.scheduler import Quiv; "
        "from quiv.context import run_on_main; import quiv.execution, quiv.persistence; "
        "assert QuivBase is Quiv",
    ],
)
def test_imports_work_in_a_fresh_interpreter(code: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
