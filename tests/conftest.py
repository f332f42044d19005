"""Shared fixtures: schedulers that are always shut down, a fake clock, and gates.

``quiv`` is a factory: ``quiv(pool_size=2, clock=clock)`` builds a ``Quiv`` that the fixture
shuts down when the test ends, whether it passed or failed. ``gate()`` gives a
``threading.Event`` for a handler to block on; every gate is set before the schedulers are
shut down, so a failing test never leaves a handler blocking shutdown.

Hypothesis profiles: ``dev`` (the default) explores new examples at every run and keeps the
failing ones in ``.hypothesis/`` to replay first; ``ci`` (chosen when ``CI`` is set, as
``.ci/run`` runs) is derandomized and keeps no database, so a run there is the same run every
time. ``HYPOTHESIS_PROFILE`` picks one by name.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import settings

from quiv import Quiv
from quiv.testing import FakeClock

SHUTDOWN_TIMEOUT = 10.0

# Threaded examples take real time on a loaded machine: no per-example deadline.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture
def _gates() -> list[threading.Event]:
    return []


@pytest.fixture
def gate(_gates: list[threading.Event]) -> Callable[[], threading.Event]:
    """A factory of events that handlers wait on; all are set at teardown."""

    def factory() -> threading.Event:
        event = threading.Event()
        _gates.append(event)
        return event

    return factory


@pytest.fixture
def quiv(_gates: list[threading.Event]) -> Iterator[Callable[..., Quiv]]:
    """A factory of ``Quiv`` instances, each shut down at teardown (even on failure)."""
    created: list[Quiv] = []

    def factory(*args: Any, **kwargs: Any) -> Quiv:
        instance = Quiv(*args, **kwargs)
        created.append(instance)
        return instance

    yield factory

    for event in _gates:
        event.set()
    errors: list[BaseException] = []
    for instance in reversed(created):
        try:
            instance.shutdown(timeout=SHUTDOWN_TIMEOUT)
        except Exception as exc:  # shut the others down all the same
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def clock() -> FakeClock:
    """A clock that stands still until the test advances it (starts 2030-01-01 UTC)."""
    return FakeClock()


# -- databases ------------------------------------------------------------------------------

POSTGRES_ENV = "QUIV_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def _postgres_server() -> str:
    """The URL of the PostgreSQL server the tests may use (``.ci/postgres`` starts one).

    Without one, PostgreSQL tests are skipped with a visible reason; under ``.ci/run``
    (``QUIV_REQUIRE_POSTGRES=1``) they fail instead, so CI can never skip them silently.
    """
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        reason = f"no PostgreSQL server: set {POSTGRES_ENV} (`.ci/postgres` starts one)"
        if os.environ.get("QUIV_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def postgres_url(_postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(_postgres_server)
    name = f"quiv_test_{uuid.uuid4().hex[:12]}"
    admin = server.set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def durable_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A durable database URL of each kind: a SQLite file, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'quiv.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


# -- Graphviz -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def graphviz_dot() -> str:
    """The path of Graphviz's ``dot``, which draws the SVGs of the state machines.

    Without it, tests that draw are skipped; under ``.ci/run`` (``QUIV_REQUIRE_GRAPHVIZ=1``)
    they fail instead. Checking the shipped SVGs needs no Graphviz."""
    from quiv._graphviz import find_dot

    dot = find_dot()
    if dot is None:
        reason = "no Graphviz `dot` on PATH (Debian: apt-get install graphviz)"
        if os.environ.get("QUIV_REQUIRE_GRAPHVIZ") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return dot
