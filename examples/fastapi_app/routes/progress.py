"""``WS /ws/progress``: every progress payload and lifecycle event, as JSON messages.

The first message is ``{"type": "subscribed"}``: from then on the client receives every
message published. Then:

- ``{"type": "progress", "job_id", "url", "chunk", "chunks", "percent"}`` from downloads;
- ``{"type": "event", "event": "job_started" | ..., "task": {...}, "job": {...} | null}``
  for every quiv event (``job`` is null for task events);
- ``{"type": "notice", "source": "cleanup", "job_id", "removed"}`` after each cleanup.

Messages from the client are ignored. Progress and events travel separately in quiv, so a
job's first progress messages may come before its ``job_started``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ..feed import Item, Signal
from ..scheduler import FeedDep

__all__ = ["router"]

router = APIRouter(tags=["progress"])

GOING_AWAY = 1001
TRY_AGAIN_LATER = 1013


async def _forward(inbox: asyncio.Queue[Item], websocket: WebSocket) -> None:
    """Drain the subscriber's queue onto the socket until the feed or the client ends."""
    with contextlib.suppress(WebSocketDisconnect):  # the client went away mid-send
        while True:
            item = await inbox.get()
            if item is Signal.CLOSED:
                await websocket.close(GOING_AWAY, "the server is shutting down")
                return
            if item is Signal.LAGGING:
                await websocket.close(TRY_AGAIN_LATER, "too far behind; reconnect")
                return
            await websocket.send_json(item)


async def _until_disconnected(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it disconnects."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _until_first_returns(*coroutines: Coroutine[Any, Any, None]) -> None:
    """Run the coroutines concurrently until one of them ends; then cancel the others."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        # asyncio.wait rather than gather: gather would re-raise a cancelled task's own
        # CancelledError in this task, where the server's cancellation of the request (if
        # that is what brought us here) no longer recognises it as its own.
        await asyncio.wait(tasks)
    for task in done:
        task.result()  # a real failure (not a disconnect) surfaces here


@router.websocket("/ws/progress")
async def progress_feed(websocket: WebSocket, feed: FeedDep) -> None:
    await websocket.accept()
    with feed.subscription() as inbox:
        await websocket.send_json({"type": "subscribed"})
        await _until_first_returns(_forward(inbox, websocket), _until_disconnected(websocket))
