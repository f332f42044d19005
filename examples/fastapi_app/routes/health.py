"""``GET /health``: the scheduler's lifecycle and load (also the readiness probe)."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter

from ..scheduler import ServicesDep

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health")
def health(services: ServicesDep) -> dict[str, Any]:
    scheduler = services.scheduler
    return {
        "status": "ok",
        "scheduler": scheduler.lifecycle.value,
        "statistics": dataclasses.asdict(scheduler.statistics()),
        "feed_subscribers": services.feed.subscribers,
    }
