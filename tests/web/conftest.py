"""Shared set-up of the dashboard's tests (``quiv.web``).

FastAPI and httpx come from the ``example`` dependency group; without them these tests skip
themselves, as in a session that installs only the ``test`` group. ``serve`` runs an app
under a real uvicorn on 127.0.0.1 (a free port) in a thread of the test, for the stream and
the browser, and stops it at the end.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient and warns at import when it falls
    # back on httpx (as tests/e2e explains); only that warning, only for this import.
    warnings.filterwarnings(
        "ignore", message=r"Using `httpx` with `starlette\.testclient` is deprecated"
    )
    from fastapi.testclient import TestClient

from fastapi import FastAPI

import quiv.web
from quiv import Quiv

from ._server import Served, serve

__all__ = ["ACTION", "TestClient"]

# The header every action carries.
ACTION = {"X-Quiv-Action": "1"}


@pytest.fixture
def scheduler(quiv: Callable[..., Quiv]) -> Quiv:
    """A started scheduler, shut down at the end of the test."""
    instance = quiv(pool_size=4)
    instance.start()
    return instance


@pytest.fixture
def mount() -> Callable[..., TestClient]:
    """``mount(scheduler, **options)``: a client of an app with the dashboard at /quiv
    (anonymous unless the options say otherwise)."""

    def factory(scheduler: Any, **options: Any) -> TestClient:
        if "dependencies" not in options:
            options.setdefault("allow_anonymous", True)
        app = FastAPI()
        app.include_router(quiv.web.router(scheduler, **options), prefix="/quiv")
        return TestClient(app)

    return factory


@pytest.fixture
def server() -> Iterator[Callable[[FastAPI], Served]]:
    """``server(app)``: the app under a real uvicorn, stopped at the end of the test."""
    started: list[Any] = []

    def factory(app: FastAPI) -> Served:
        context = serve(app)
        served = context.__enter__()
        started.append(context)
        return served

    yield factory
    for context in reversed(started):
        context.__exit__(None, None, None)
