"""The live stream (Server-Sent Events) under a real uvicorn: lifecycle events and progress
arrive, quiet streams get keep-alives, a stream ends when the scheduler shuts down or its
client leaves (and then quiv's listeners are gone), and a slow client's queue is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import quiv.web
from quiv import Quiv
from quiv.testing import wait_until
from quiv.web import _stream
from quiv.web._stream import Hub, Subscription, event_stream

WAIT = 10.0


class Reader:
    """Reads one stream on a thread, keeping every event (and comment) it got.

    A plain ``http.client`` connection: ``close`` shuts its socket down, which ends a read
    blocked on a quiet stream at once, as a browser tab that closes does."""

    def __init__(self, port: int, path: str = "/quiv/api/stream") -> None:
        self.events: list[tuple[str, Any]] = []
        self.comments: list[str] = []
        self.ended = threading.Event()
        self.opened = threading.Event()
        self._lock = threading.Lock()
        self._connection = http.client.HTTPConnection("127.0.0.1", port)
        self._connection.request("GET", path, headers={"Accept": "text/event-stream"})
        response = self._connection.getresponse()
        assert response.status == 200
        assert response.getheader("content-type", "").startswith("text/event-stream")
        self._thread = threading.Thread(target=self._run, args=(response,), daemon=True)
        self._thread.start()
        assert self.opened.wait(WAIT), "the stream did not open"

    def _run(self, response: http.client.HTTPResponse) -> None:
        name = "message"
        try:
            while line := response.readline():
                text = line.decode().rstrip("\r\n")
                if text.startswith("retry:"):
                    self.opened.set()  # sent once the client is subscribed
                elif text.startswith(":"):
                    with self._lock:
                        self.comments.append(text)
                elif text.startswith("event:"):
                    name = text.split(":", 1)[1].strip()
                elif text.startswith("data:"):
                    with self._lock:
                        self.events.append((name, json.loads(text.split(":", 1)[1])))
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # close() cut the connection mid-read (http.client says so in many ways)
        finally:
            self.opened.set()
            self.ended.set()

    def named(self, name: str) -> list[Any]:
        with self._lock:
            return [data for kind, data in self.events if kind == name]

    def close(self) -> None:
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._connection.close()
        self._thread.join(WAIT)
        assert not self._thread.is_alive()


@pytest.fixture
def served(scheduler, server) -> Iterator[tuple[Quiv, int, httpx.Client]]:
    app = FastAPI()
    app.include_router(quiv.web.router(scheduler, allow_anonymous=True), prefix="/quiv")
    running = server(app)
    with httpx.Client(base_url=running.base_url) as client:
        yield scheduler, running.port, client


@contextmanager
def reading(port: int) -> Iterator[Reader]:
    reader = Reader(port)
    try:
        yield reader
    finally:
        reader.close()


def test_lifecycle_events_and_progress_reach_the_client(served) -> None:
    scheduler, port, _client = served

    def works(_progress_hook: Any) -> str:
        _progress_hook(0.5)
        _progress_hook(done=2, total=4, note="<b>half</b>")
        return "ok"

    with reading(port) as reader:
        task_id = scheduler.add_task("works", works, interval=3600, delay=3600)
        job_id = scheduler.run_task(task_id)
        scheduler.wait_for_job(job_id, WAIT)
        wait_until(lambda: any(e["event"] == "job_completed" for e in reader.named("lifecycle")),
                   WAIT)  # fmt: skip
        events = [(e["event"], (e["job"] or {}).get("id")) for e in reader.named("lifecycle")]
        assert events == [
            ("task_added", None),
            ("job_started", job_id),
            ("job_completed", job_id),
        ]
        completed = reader.named("lifecycle")[-1]
        assert completed["task"] == {"id": task_id, "task_name": "works", "status": "active"}
        assert completed["job"]["result"] == "ok"
        progress = reader.named("progress")
        assert [p["fraction"] for p in progress] == [0.5, None]
        assert {p["job_id"] for p in progress} == {job_id}
        assert progress[1]["payload"] == {
            "args": [],
            "kwargs": {"done": 2, "total": 4, "note": "<b>half</b>"},
        }


def test_a_quiet_stream_gets_keep_alive_comments(served, monkeypatch) -> None:
    monkeypatch.setattr(_stream, "KEEPALIVE_SECONDS", 0.2)
    monkeypatch.setattr(_stream, "POLL_SECONDS", 0.05)
    _, port, _ = served
    with reading(port) as reader:
        wait_until(lambda: len(reader.comments) >= 2, WAIT)
        assert set(reader.comments) == {": keep-alive"}


def test_the_stream_ends_when_the_scheduler_shuts_down(served) -> None:
    scheduler, port, _client = served
    with reading(port) as reader:
        assert scheduler._listeners.any  # listening while a client is connected
        started = time.monotonic()
        scheduler.shutdown()
        assert reader.ended.wait(WAIT), "the stream outlived the scheduler"
        assert time.monotonic() - started < 5
        assert reader.named("shutdown") == [{}]
    wait_until(lambda: not scheduler._listeners.any, WAIT)
    assert scheduler._listeners.progress.observers == ()


def test_a_client_that_leaves_takes_the_listeners_with_it(served, monkeypatch) -> None:
    monkeypatch.setattr(_stream, "POLL_SECONDS", 0.05)
    scheduler, port, _client = served
    assert not scheduler._listeners.any
    with reading(port), reading(port):
        assert scheduler._listeners.any
        assert len(scheduler._listeners.progress.observers) == 1  # one hub for both
    wait_until(lambda: not scheduler._listeners.any, WAIT)
    assert scheduler._listeners.progress.observers == ()


def test_a_stopped_scheduler_has_no_stream(served) -> None:
    scheduler, _port, client = served
    scheduler.shutdown()
    with client.stream("GET", "/quiv/api/stream") as response:
        assert response.status_code == 200
        body = response.read().decode()
    assert "event: shutdown" in body


# -- the bound of a client's queue, without a server -------------------------------------------


def test_a_full_queue_drops_and_counts_instead_of_growing() -> None:
    async def scenario() -> tuple[list[str], int]:
        subscription = Subscription(asyncio.get_running_loop(), limit=3)
        for index in range(5):
            subscription.put(str(index))
        return await subscription.take(1.0)

    items, dropped = asyncio.run(scenario())
    assert items == ["0", "1", "2"]
    assert dropped == 2


def test_the_stream_tells_a_slow_client_how_many_it_lost(scheduler, monkeypatch) -> None:
    monkeypatch.setattr(_stream, "QUEUE_LIMIT", 2)

    async def scenario() -> list[str]:
        hub = Hub(scheduler)

        async def connected() -> bool:
            return False

        stream = event_stream(hub, scheduler, connected)
        first = await stream.__anext__()  # subscribed now
        for index in range(5):
            hub.publish(f"event: x\ndata: {index}\n\n")
        second = await stream.__anext__()
        await stream.aclose()
        assert hub.clients == 0
        return [first, second]

    first, second = asyncio.run(scenario())
    assert first.startswith("retry:")
    assert second == (
        'event: dropped\ndata: {"count":3}\n\nevent: x\ndata: 0\n\nevent: x\ndata: 1\n\n'
    )
