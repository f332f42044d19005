"""Sessions over every supported Python: ``nox -s tests``, ``typecheck``, ``lint``, ``docs``,
``stress``, ``flake`` (the default suite again and again on a loaded machine); ``soak`` (one
Python, long); and the benchmarks: ``bench`` (the suite, per Python), ``bench_peers`` (quiv
against quiv 0.4.0, APScheduler and a bare loop), ``bench_processes`` (process jobs against
APScheduler's process pool and a bare one) and ``bench_report`` (renders
docs/performance.md).

Interpreters come from the machine (on PATH: pyenv's shims, distribution packages); nox reports a
missing one as skipped unless ``--error-on-missing-interpreters`` is given (CI=true sets it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from xml.etree import ElementTree

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "typecheck", "lint", "docs"]


def _install(session: nox.Session, *groups: str) -> None:
    args = ["uv", "sync", "--locked", "--no-default-groups"]
    for group in groups:
        args += ["--group", group]
    session.run_install(
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location, "UV_PYTHON_DOWNLOADS": "never"},
        external=True,
    )


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The default test suite (the example app's tests included)."""
    _install(session, "test", "example")
    session.run("pytest", *session.posargs)


# Full sizes of the reliability suite (tests/reliability) and of the stateful test; the
# default run has small ones.
STRESS_SIZES = {
    "QUIV_LOAD_TASKS": "10000",
    "QUIV_LOAD_SECONDS": "30",
    "QUIV_STORM_OPS": "1000",
    "QUIV_TIME_TASKS": "1000",
    "QUIV_SHUTDOWN_TASKS": "5000",
    # tests/integration/test_stateful.py: random sequences of API calls against a model.
    "QUIV_STATEFUL_EXAMPLES": "500",
    "QUIV_STATEFUL_STEPS": "60",
}


@nox.session(python=PYTHONS)
def stress(session: nox.Session) -> None:
    """The slow tests that the default run leaves out, the reliability suite at full size.

    Sizes come from STRESS_SIZES; a variable already set in the environment wins. The soak
    is not among them: it runs under ``nox -s soak``.
    """
    _install(session, "test")
    env = {name: os.environ.get(name, value) for name, value in STRESS_SIZES.items()}
    session.run(
        "pytest", "-m", "slow", "--timeout=1800", "--durations=0", *session.posargs, env=env
    )


def _option(args: list[str], name: str, default: str) -> str:
    """Remove ``name VALUE`` or ``name=VALUE`` from ``args``; return VALUE, or ``default``."""
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            value = args[index + 1]
            del args[index : index + 2]
            return value
        if arg.startswith(name + "="):
            del args[index]
            return arg.split("=", 1)[1]
    return default


@nox.session(python="3.11")
def soak(session: nox.Session) -> None:
    """1,000 tasks for 10 minutes, sampling RSS, threads, open files and the job table.

    ``-- --soak-minutes 3 --soak-tasks 500 --soak-retention 30`` change the defaults and
    ``--soak-log PATH`` writes each sample there as a JSON line; other arguments go to pytest.
    Fails if any sample grows without bound.
    """
    _install(session, "test")
    args = list(session.posargs)
    env = {
        "QUIV_SOAK_MINUTES": _option(args, "--soak-minutes", "10"),
        "QUIV_SOAK_TASKS": _option(args, "--soak-tasks", "1000"),
        "QUIV_SOAK_RETENTION": _option(args, "--soak-retention", "30"),
        "QUIV_SOAK_LOG": _option(args, "--soak-log", ""),
    }
    minutes = float(env["QUIV_SOAK_MINUTES"])
    timeout = str(int(minutes * 60 + 600))
    session.run(
        "pytest",
        "-m",
        "slow",
        "-s",
        f"--timeout={timeout}",
        "tests/reliability/test_soak.py",
        *args,
        env=env,
    )


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _node_id(case: ElementTree.Element) -> str:
    """A junit ``testcase`` (xunit1: it names its file) as pytest's node id."""
    name, path = case.get("name", ""), case.get("file")
    if not path:  # a collection error names the module only
        return name
    module = path.removesuffix(".py").replace("/", ".").replace("\\", ".")
    classes = case.get("classname", "").removeprefix(module).strip(".")
    return "::".join([path, *(classes.split(".") if classes else []), name])


def _outcome(report: str) -> tuple[Counter[str], list[str]]:
    """Counts of passed/failed/error/skipped tests in a junit report, and the failed ids
    (errors in setup or teardown, and collection errors, among them)."""
    counts: Counter[str] = Counter()
    failed: list[str] = []
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        kind = next((k for k in ("failure", "error", "skipped") if k in kinds), "passed")
        counts[{"failure": "failed"}.get(kind, kind)] += 1
        if kind in ("failure", "error"):
            node = _node_id(case)
            if node not in failed:  # a failure and a teardown error of one test
                failed.append(node)
    return counts, failed


@nox.session(python=PYTHONS)
def flake(session: nox.Session) -> None:
    """The default test suite (``pytest``) run again and again on a loaded machine: one
    busy-looping process per core runs beside it, so that tests that depend on timing show.

    ``-- --runs 3`` changes the number of runs (10), ``--busy 0`` the number of busy loops
    (one per core); other arguments go to pytest. Every run goes on whatever the one before
    did; the end prints each run's counts and every test that failed, with the runs it
    failed in. The session fails if any run failed.
    """
    _install(session, "test", "example")
    args = list(session.posargs)
    runs = int(_option(args, "--runs", "10"))
    busy = int(_option(args, "--busy", str(_cores())))
    tmp = session.create_tmp()
    results: list[tuple[int, Counter[str], list[str]]] = []
    loops: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(busy):
            loops.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        session.log(f"{busy} busy loops (pids {', '.join(str(p.pid) for p in loops)})")
        for run in range(1, runs + 1):
            report = os.path.join(tmp, f"flake-{run}.xml")
            if os.path.exists(report):
                os.remove(report)
            session.log(f"run {run} of {runs}")
            # 1: tests failed; 2: a collection error; 3: an internal error. A usage error
            # (4) or nothing collected (5) would be the same every run: the session ends.
            session.run(
                "pytest",
                "-p",
                "no:cacheprovider",
                "-q",
                "-rfE",
                f"--junitxml={report}",
                "-o",
                "junit_family=xunit1",
                *args,
                success_codes=[0, 1, 2, 3],
            )
            if os.path.exists(report):
                counts, failed = _outcome(report)
            else:
                counts, failed = Counter(), ["(pytest ended without a report)"]
            results.append((run, counts, failed))
            session.log(f"run {run}: {_summary(counts)}")
    except KeyboardInterrupt:
        _report(session, results)  # what the runs before found
        raise
    finally:
        for loop in loops:
            loop.kill()
        for loop in loops:
            loop.wait()
    bad = _report(session, results)
    if bad:
        session.error(f"{bad} of {len(results)} runs failed")


def _summary(counts: Counter[str]) -> str:
    return ", ".join(f"{counts[k]} {k}" for k in ("passed", "failed", "error", "skipped"))


def _report(session: nox.Session, results: list[tuple[int, Counter[str], list[str]]]) -> int:
    """Log a table of the runs and every test that failed; return how many runs failed."""
    session.log("run  passed  failed  error  skipped")
    for run, counts, failed in results:
        session.log(
            f"{run:>3}  {counts['passed']:>6}  {counts['failed']:>6}  {counts['error']:>5}  "
            f"{counts['skipped']:>7}" + ("  FAILED" if failed else "")
        )
    failures: dict[str, list[int]] = {}
    for run, _, failed in results:
        for node in failed:
            failures.setdefault(node, []).append(run)
    if not failures:
        session.log(f"all {len(results)} runs passed")
        return 0
    session.log("failed in runs  test")
    for node, in_runs in sorted(failures.items(), key=lambda item: (-len(item[1]), item[0])):
        session.log(f"{len(in_runs):>3}/{len(results)} ({','.join(map(str, in_runs))})  {node}")
    return sum(1 for _, _, failed in results if failed)


@nox.session(python=PYTHONS)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/, against each Python's typeshed."""
    _install(session, "dev")
    session.run("mypy", f"--python-version={session.python}")


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    _install(session, "dev")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Build the documentation site strictly: any warning or broken link fails."""
    _install(session, "docs")
    session.run("quiv", "diagram", "--docs", "docs/generated")
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})


# -- benchmarks (see benchmarks/README.md) ------------------------------------------------

RESULTS = "benchmarks/results"
# The suite's files are bench_*.py, collected by benchmarks/conftest.py. The project's pytest
# settings are for the test suite: its options are dropped (the bench group has no
# pytest-timeout, so its `timeout` setting is unknown there), and warnings stay warnings.
BENCH_PYTEST = (
    "-p",
    "no:cacheprovider",
    "-o",
    "addopts=-ra",
    "-W",
    "default",
    "-W",
    "ignore:Unknown config option:pytest.PytestConfigWarning",
)
PEERS = {"quiv-0.4.0": "quiv==0.4.0", "apscheduler": "apscheduler>=3.10,<4"}
PEERS_PYTHON = "3.11"


def _uv_env() -> dict[str, str]:
    return {"UV_PYTHON_DOWNLOADS": "never"}


@nox.session(python=PYTHONS)
def bench(session: nox.Session) -> None:
    """The benchmark suite; its results go to benchmarks/results/<python>.json.

    Extra arguments go to pytest: ``nox -s bench-3.12 -- benchmarks/bench_timing.py``, or
    ``-- --full`` for the 10^5-idle-task end-to-end load. A partial run writes no results.
    """
    _install(session, "bench")
    raw = os.path.join(session.create_tmp(), "benchmark.json")
    # Options alone (``--full``) still run the whole suite.
    paths = [arg for arg in session.posargs if not arg.startswith("-")]
    targets = [*session.posargs, *([] if paths else ["benchmarks"])]
    session.run("pytest", *BENCH_PYTEST, "--benchmark-json", raw, *targets)
    if not paths:
        out = f"{RESULTS}/{session.python}.json"
        session.run("python", "benchmarks/report.py", "compact", raw, out)


def _peer_python(session: nox.Session, name: str, *requirements: str) -> str:
    """A fresh environment with ``requirements`` installed from the registry; its python."""
    location = os.path.join(session.create_tmp(), f"peer-{name}")
    session.run(
        "uv", "venv", "--quiet", "--python", str(session.python), location,
        env=_uv_env(), external=True,
    )  # fmt: skip
    python = os.path.join(location, "Scripts" if sys.platform == "win32" else "bin", "python")
    session.run(
        "uv", "pip", "install", "--quiet", "--python", python, *requirements,
        env=_uv_env(), external=True,
    )  # fmt: skip
    return python


@nox.session(python=PEERS_PYTHON)
def bench_peers(session: nox.Session) -> None:
    """End to end: this quiv, quiv 0.4.0, APScheduler 3.x and the bare loop, in one run.

    Each peer is installed from the registry into an environment of its own (quiv 0.4.0 is
    also imported as ``quiv``). Prints one table, with ratios to the bare loop, and writes
    benchmarks/results/peers.json. ``-- --full`` adds the 10^5-idle-task load.
    """
    _install(session, "bench")
    interpreters = []  # this quiv and the bare loop run on the session's own interpreter
    for name, requirement in PEERS.items():
        python = _peer_python(session, name, requirement, "psutil>=6")
        interpreters.append(f"{name}={python}")
    args = [arg for pair in interpreters for arg in ("--env", pair)]
    session.run(
        "python", "benchmarks/peers.py", *args, "--out", f"{RESULTS}/peers.json", *session.posargs
    )


@nox.session(python=PEERS_PYTHON)
def bench_processes(session: nox.Session) -> None:
    """Process jobs end to end (benchmarks/process_peers.py): dispatch latency and
    throughput of this quiv's ``executor="process"``, APScheduler 3.x's
    ProcessPoolExecutor and the bare concurrent.futures pool, in one run; writes
    benchmarks/results/processes.json. ``-- --quick`` is a smoke test."""
    _install(session, "bench")
    python = _peer_python(session, "apscheduler", PEERS["apscheduler"], "psutil>=6")
    session.run(
        "python", "benchmarks/process_peers.py", "--env", f"apscheduler={python}",
        "--out", f"{RESULTS}/processes.json", *session.posargs,
    )  # fmt: skip


@nox.session(python=PEERS_PYTHON)
def bench_report(session: nox.Session) -> None:
    """Render docs/performance.md and its plots from benchmarks/results/*.json."""
    _install(session, "bench")
    session.run("python", "benchmarks/report.py", "render", *session.posargs)


@nox.session(python=PEERS_PYTHON)
def bench_shared(session: nox.Session) -> None:
    """Several processes on one durable store (benchmarks/shared_store.py): claims per
    second, dispatch latency, duplicates and losses, on a SQLite file and, when
    QUIV_TEST_POSTGRES_URL names a server (``.ci/postgres`` starts one), on PostgreSQL.
    Extra arguments go to the script: ``nox -s bench_shared -- --tasks 200``."""
    _install(session, "test")
    session.run("python", "benchmarks/shared_store.py", *session.posargs)
