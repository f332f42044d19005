"""Sessions over every supported Python: ``nox -s tests``, ``typecheck``, ``lint``, ``docs``,
``stress``.

Interpreters come from the machine (pyenv, or shared/tools/install-python3.14); nox reports a
missing one as skipped unless ``--error-on-missing-interpreters`` is given (CI=true sets it).
"""

from __future__ import annotations

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
    """The default test suite."""
    _install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHONS)
def stress(session: nox.Session) -> None:
    """The slow tests (stress, soak) that the default run leaves out."""
    _install(session, "test")
    session.run("pytest", "-m", "slow", "--timeout=1800", *session.posargs)


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
