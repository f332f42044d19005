"""The app factory and its lifespan. ``app`` is what uvicorn serves:

uv run uvicorn examples.fastapi_app.main:app
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from quiv.metrics import instrument

from .dashboard import PREFIX, dashboard_router
from .errors import register_error_handlers
from .feed import ProgressFeed
from .logs import LOGGER_NAME, configure_logging
from .routes import ROUTERS
from .scheduler import Services, build_scheduler
from .settings import Settings

__all__ = ["app", "create_app"]

log = logging.getLogger(LOGGER_NAME)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start quiv on the app's loop; at the end stop it, then delete the scratch files."""
    settings: Settings = app.state.settings
    configure_logging(settings.log_level)
    scratch_dir = Path(tempfile.mkdtemp(prefix="fastapi-app-scratch-"))
    try:
        feed = ProgressFeed()  # here, on the main loop, where the WebSockets live
        scheduler = build_scheduler(settings, feed, scratch_dir)
        # Its Prometheus series on a registry of the app's own, served at /metrics.
        app.state.metrics_registry = CollectorRegistry()
        metrics = instrument(scheduler, registry=app.state.metrics_registry)
        try:
            # Called from the lifespan, start() adopts this running loop as quiv's main
            # loop: progress callbacks, listeners and run_on_main calls run on it.
            scheduler.start()
            app.state.services = Services(settings, scheduler, feed, scratch_dir)
            log.info("scratch files in %s", scratch_dir)
            if not settings.dashboard_token:
                log.info(
                    "dashboard at %s/: any user name, password %s (set "
                    "QUIV_EXAMPLE_DASHBOARD_TOKEN to choose it)",
                    PREFIX,
                    app.state.dashboard_token,
                )
            yield
        finally:
            # shutdown() asks running jobs to stop and waits for them; in a thread, so that
            # the loop stays free to deliver the last events and progress meanwhile.
            await asyncio.to_thread(scheduler.shutdown, timeout=settings.shutdown_timeout)
            feed.close()
            metrics.detach()
            app.state.services = None
    finally:
        shutil.rmtree(scratch_dir, ignore_errors=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; nothing runs until its lifespan starts (uvicorn, or ``TestClient``)."""
    app = FastAPI(
        title="quiv FastAPI example",
        summary="Background jobs with progress over WebSockets, run by quiv",
        lifespan=lifespan,
    )
    app.state.settings = settings if settings is not None else Settings.from_env()
    app.state.services = None
    app.state.dashboard_token = app.state.settings.dashboard_token or secrets.token_urlsafe(16)
    register_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    # quiv's dashboard and its JSON API, behind the app's token (see dashboard.py).
    app.include_router(dashboard_router(app), prefix=PREFIX)
    app.add_api_route("/metrics", _metrics, methods=["GET"], include_in_schema=False)
    return app


def _metrics(request: Request) -> Response:
    """The scheduler's Prometheus series (quiv.metrics), for the app's scraper."""
    registry = getattr(request.app.state, "metrics_registry", None)
    if registry is None or request.app.state.services is None:
        return Response("the scheduler is not running", status_code=503)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


app = create_app()
