"""A dashboard and a JSON API of a ``Quiv``, to mount in a FastAPI app (extra ``quiv[web]``).

    from fastapi import Depends, FastAPI
    import quiv.web

    app = FastAPI()
    app.include_router(
        quiv.web.router(scheduler, dependencies=[Depends(require_admin)]), prefix="/quiv"
    )

How the parts fit. ``_router`` builds the ``APIRouter``: the page, its assets, the JSON
API, the stream and (unless read-only) the actions. ``_security`` holds the rules every
route follows (authentication required to build it, the response headers, what an action
must carry, quiv's errors as statuses); ``_source`` is what the routes read of the
scheduler, and the one place that uses quiv's internals (a keyset page of the history, the
counts per status, the progress tap); ``_views`` turns models into the JSON the API and the
stream send; ``_page`` renders the HTML, every value escaped; ``_stream`` fans lifecycle
events and progress out to Server-Sent Events clients. ``static/`` holds the script, the
style sheet and the icon, served by the router itself: the page makes no other request.
"""

from __future__ import annotations

try:
    import fastapi as _fastapi  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "quiv.web needs FastAPI: install quiv-scheduler[web] (or add fastapi to the app)"
    ) from exc

from ._router import router as router

__all__ = ["router"]
