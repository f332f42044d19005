"""The dashboard's security rules: who may build it, what every response says, what an
action must carry, and how quiv's errors become HTTP answers.

- A router without ``dependencies=`` (the app's own authentication) is refused unless the
  app says ``allow_anonymous=True``: a scheduler's controls are never public by accident.
- Every response carries a Content-Security-Policy that allows only the router's own
  scripts, styles and images (no inline script, no other origin, no framing), and headers
  against sniffing, referrers and caching (``SecureRoute``).
- An action (pause, resume, run, remove, cancel) is a ``POST`` or ``DELETE`` whose body is
  a JSON object and which carries the header ``X-Quiv-Action: 1``. An HTML form cannot set
  that header, nor send ``application/json``; a script of another site can do neither
  without a CORS preflight that the app does not grant. A request without the header is
  refused (403), as is one of another content type, forms included (415).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from .._quiv import Quiv
from ..exceptions import (
    ConfigurationError,
    DatabaseUnavailableError,
    HandlerNotRegisteredError,
    InvalidTransitionError,
    JobNotFoundError,
    QuivError,
    SchedulerStateError,
    TaskNotActiveError,
    TaskNotFoundError,
    TaskNotScheduledError,
    TaskRunningError,
    UnprotectedDashboardError,
)

__all__ = [
    "ACTION_HEADER",
    "HEADERS",
    "SecureRoute",
    "action_body",
    "check_options",
    "error_response",
]

ACTION_HEADER = "X-Quiv-Action"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# The largest action body read: actions take a delay at most.
_BODY_LIMIT = 4096

# quiv's errors as statuses, the first match wins: unknown ids are 404s, changes the state
# forbids 409s, bad values 422s, a scheduler that is not running (or a database that does
# not answer) 503s.
_STATUS: tuple[tuple[type[QuivError], int], ...] = (
    (TaskNotFoundError, 404),
    (JobNotFoundError, 404),
    (HandlerNotRegisteredError, 404),
    (TaskNotScheduledError, 404),
    (InvalidTransitionError, 409),
    (TaskRunningError, 409),
    (TaskNotActiveError, 409),
    (ConfigurationError, 422),
    (SchedulerStateError, 503),
    (DatabaseUnavailableError, 503),
)


def check_options(
    scheduler: object,
    dependencies: Sequence[object] | None,
    *,
    read_only: object,
    allow_anonymous: object,
    show_arguments: object,
) -> None:
    """Refuse a router built without authentication (unless anonymous access is asked
    for), and any option of the wrong type."""
    for name, value in (
        ("read_only", read_only),
        ("allow_anonymous", allow_anonymous),
        ("show_arguments", show_arguments),
    ):
        if not isinstance(value, bool):
            raise ConfigurationError(f"{name} must be a bool, got {value!r}")
    if not isinstance(scheduler, Quiv) and not callable(scheduler):
        raise ConfigurationError(
            f"scheduler must be a Quiv or a function returning one, got {scheduler!r}"
        )
    if dependencies is not None and (
        isinstance(dependencies, (str, bytes)) or not isinstance(dependencies, Sequence)
    ):
        raise ConfigurationError(
            "dependencies must be a list of FastAPI dependencies, such as "
            f"[Depends(require_admin)], got {dependencies!r}"
        )
    if not dependencies and not allow_anonymous:
        raise UnprotectedDashboardError()


def error_response(exc: QuivError) -> JSONResponse:
    """``exc`` as a JSON error: ``{"error": its class, "detail": its message}``."""
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
    return error(status, type(exc).__name__, str(exc))


def error(status: int, name: str, detail: str) -> JSONResponse:
    """A JSON error answer of the API."""
    return JSONResponse({"error": name, "detail": detail}, status_code=status)


async def action_body(request: Request) -> dict[str, Any] | JSONResponse:
    """The JSON object an action carries, or the refusal to answer with (see the module)."""
    if request.headers.get(ACTION_HEADER) != "1":
        return error(
            403,
            "MissingActionHeader",
            f"an action needs the header '{ACTION_HEADER}: 1' (a cross-site form cannot send it)",
        )
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        return error(
            415,
            "UnsupportedMediaType",
            f"an action's body must be application/json, got {kind or 'none'!r}",
        )
    raw = await request.body()
    if len(raw) > _BODY_LIMIT:
        return error(413, "BodyTooLarge", f"an action's body is at most {_BODY_LIMIT} bytes")
    try:
        body = json.loads(raw) if raw.strip() else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return error(422, "InvalidBody", "an action's body must be a JSON object, such as {}")
    return body


class SecureRoute(APIRoute):
    """A route whose every response carries the headers of ``HEADERS`` (a header the route
    set itself is kept)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def secured(request: Request) -> Response:
            response = await handler(request)
            for name, value in HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return secured
