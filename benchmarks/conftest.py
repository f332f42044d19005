"""pytest set-up of the benchmark suite (never part of the default test run: the project's
``testpaths`` is ``tests``).

- Files named ``bench_*.py`` are collected when this folder is given to pytest, so that
  ``pytest benchmarks`` runs the whole suite and ``pytest benchmarks/bench_timing.py`` one
  group, with no extra options.
- A test that takes an ``idle`` argument runs once per number of idle tasks: 0, 10^3 and
  10^4; ``--full`` (or ``QUIV_BENCH_FULL=1``) adds 10^5.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        default=False,
        help="quiv benchmarks: also measure end to end with 10^5 idle tasks",
    )


def full_run(config: pytest.Config) -> bool:
    """Whether the largest end-to-end sizes were asked for."""
    return bool(config.getoption("--full")) or os.environ.get("QUIV_BENCH_FULL", "") not in (
        "",
        "0",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if (
        file_path.suffix == ".py"
        and file_path.name.startswith("bench_")
        and not parent.session.isinitpath(file_path)  # named on the command line: pytest's own
    ):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "idle" in metafunc.fixturenames:
        loads = [0, 10**3, 10**4] + ([10**5] if full_run(metafunc.config) else [])
        metafunc.parametrize("idle", loads, ids=[f"idle{n}" for n in loads])


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    from _machine import describe

    machine_info["quiv_bench"] = describe()
