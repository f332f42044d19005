"""The app's ``Quiv`` instance: how it is built, and how routes get hold of it.

quiv's README builds its ``Quiv`` at import time, which is fine for an app that starts once.
Here the lifespan builds one per run of the app instead (``build_scheduler``), because a
stopped ``Quiv`` cannot be restarted: this way every ``TestClient`` or server start gets a
fresh scheduler, with its own private database. Routes receive it through the
``SchedulerDep`` dependency.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from quiv import Event, Quiv

from .feed import ProgressFeed
from .logs import LOGGER_NAME
from .settings import Settings
from .tasks import sweep_scratch

__all__ = [
    "CLEANUP_TASK",
    "FeedDep",
    "SchedulerDep",
    "Services",
    "ServicesDep",
    "build_scheduler",
]

CLEANUP_TASK = "cleanup"


@dataclass(frozen=True)
class Services:
    """What the lifespan builds and the routes use, kept on ``app.state.services``."""

    settings: Settings
    scheduler: Quiv
    feed: ProgressFeed
    scratch_dir: Path


def build_scheduler(settings: Settings, feed: ProgressFeed, scratch_dir: Path) -> Quiv:
    """A ``Quiv`` whose every event goes to ``feed``, with the recurring cleanup added.

    Nothing runs until ``start()``; the lifespan calls it.
    """
    scheduler = Quiv(pool_size=settings.pool_size, logger=logging.getLogger(f"{LOGGER_NAME}.quiv"))
    for event in Event:
        scheduler.add_listener(event, feed.on_event)
    scheduler.add_task(
        CLEANUP_TASK,
        partial(sweep_scratch, notify=feed.publish),
        interval=settings.cleanup_interval,
        args=(str(scratch_dir), settings.file_max_age),
    )
    return scheduler


def get_services(connection: HTTPConnection) -> Services:
    """The running app's services (HTTP requests and WebSockets alike)."""
    services = getattr(connection.app.state, "services", None)
    if not isinstance(services, Services):
        raise RuntimeError("the app is not running: its lifespan has not started")
    return services


def get_scheduler(services: Annotated[Services, Depends(get_services)]) -> Quiv:
    return services.scheduler


def get_feed(services: Annotated[Services, Depends(get_services)]) -> ProgressFeed:
    return services.feed


ServicesDep = Annotated[Services, Depends(get_services)]
SchedulerDep = Annotated[Quiv, Depends(get_scheduler)]
FeedDep = Annotated[ProgressFeed, Depends(get_feed)]
