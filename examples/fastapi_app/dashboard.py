"""quiv's dashboard at ``/quiv/``, behind a token.

``quiv.web.router`` refuses to serve the dashboard without authentication, so the app gives
it one: ``require_token`` accepts the token as a bearer token (``Authorization: Bearer
<token>``, for scripts and curl) or as the password of HTTP Basic authentication, which
browsers ask for themselves when the answer is a 401 with ``WWW-Authenticate: Basic`` (any
user name will do). The token comes from ``QUIV_EXAMPLE_DASHBOARD_TOKEN``; without it the
app makes one up at startup and logs it.

The app builds its ``Quiv`` in the lifespan, so the router is given a function that returns
the running one; before startup (or after shutdown) the dashboard answers 503.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status

import quiv.web
from quiv import Quiv

from .scheduler import Services

__all__ = ["PREFIX", "dashboard_router", "require_token"]

PREFIX = "/quiv"


def _given_token(authorization: str) -> str | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


def require_token(request: Request) -> None:
    """Let the request through only with the app's dashboard token."""
    expected: str = request.app.state.dashboard_token
    given = _given_token(request.headers.get("authorization", ""))
    if given is None or not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="the dashboard needs the token (QUIV_EXAMPLE_DASHBOARD_TOKEN)",
            headers={"WWW-Authenticate": 'Basic realm="quiv dashboard"'},
        )


def dashboard_router(app: FastAPI) -> APIRouter:
    """The dashboard of the scheduler this app runs, guarded by ``require_token``."""

    def running_scheduler() -> Quiv:
        services = app.state.services
        if not isinstance(services, Services):
            raise RuntimeError("the app is not running")
        return services.scheduler

    return quiv.web.router(running_scheduler, dependencies=[Depends(require_token)])
