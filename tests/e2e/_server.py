"""The example app under a real uvicorn, in a subprocess, and clients to drive it.

``start_server`` runs ``python -m uvicorn examples.fastapi_app.main:app`` on 127.0.0.1 with a
free port, with ``TMPDIR`` pointing at a directory of the test's own (so that the app's
temporary files, quiv's database among them, can be checked for afterwards), its output in a
log file, and waits until ``GET /health`` answers. ``open_feed`` connects a WebSocket
client to ``/ws/progress``, as a ``Feed`` that keeps every message it has read.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from .conftest import REPO_ROOT

__all__ = ["Feed", "Server", "event", "open_feed", "start_server"]

STARTUP_TIMEOUT = 30.0
MESSAGE_TIMEOUT = 15.0

Message = dict[str, Any]


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; a tiny race remains, as always)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    tmpdir: Path
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def feed_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/progress"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def interrupt(self, timeout: float) -> int:
        """Send SIGINT (Ctrl+C) and wait up to ``timeout`` s for the exit; the exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """Make sure the process is gone (teardown): SIGINT, then SIGKILL if need be."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


def start_server(workdir: Path, env: Mapping[str, str] | None = None) -> Server:
    """Start the app and wait until it is ready; the caller must ``kill()`` it in the end."""
    tmpdir = workdir / "tmp"
    tmpdir.mkdir()
    log_path = workdir / "server.log"
    port = free_port()
    child_env = {
        **os.environ,
        "TMPDIR": str(tmpdir),
        "PYTHONUNBUFFERED": "1",
        "QUIV_EXAMPLE_CLEANUP_INTERVAL": "3600",
        **(env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "examples.fastapi_app.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=child_env, stdout=log_file, stderr=subprocess.STDOUT
        )
    server = Server(process, port, tmpdir, log_path)
    try:
        _wait_ready(server)
    except BaseException:
        server.kill()
        raise
    return server


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {server.process.returncode}:\n{server.log()}"
                )
            try:
                if client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server was not ready in time:\n{server.log()}")
            time.sleep(0.05)


@dataclass
class Feed:
    """A client of ``/ws/progress``; ``seen`` holds every message read so far, in order."""

    connection: ClientConnection
    seen: list[Message] = field(default_factory=list)

    def next(self, timeout: float = MESSAGE_TIMEOUT) -> Message:
        message: Message = json.loads(self.connection.recv(timeout=timeout))
        self.seen.append(message)
        return message

    def wait_for(
        self, predicate: Callable[[Message], bool], timeout: float = MESSAGE_TIMEOUT
    ) -> Message:
        """The first message, read before or now, that matches; TimeoutError if none comes.

        Everything read stays in ``seen``. Predicates name a task or a job, so an earlier
        message never answers a later question by mistake.
        """
        for message in self.seen:
            if predicate(message):
                return message
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching message; seen: {self.seen}")
            message = self.next(remaining)
            if predicate(message):
                return message


@contextmanager
def open_feed(url: str) -> Iterator[Feed]:
    """A subscribed ``Feed``: its first message, ``subscribed``, has been read."""
    with connect(url, open_timeout=MESSAGE_TIMEOUT, close_timeout=5) as connection:
        feed = Feed(connection)
        first = feed.next()
        assert first == {"type": "subscribed"}, first
        yield feed


def event(
    name: str, *, task_id: str | None = None, job_id: str | None = None
) -> Callable[[Message], bool]:
    """A predicate for ``Feed.wait_for``: the lifecycle event ``name`` of a task or a job."""

    def matches(message: Message) -> bool:
        if message.get("type") != "event" or message.get("event") != name:
            return False
        if task_id is not None and message["task"]["id"] != task_id:
            return False
        return job_id is None or (message["job"] is not None and message["job"]["id"] == job_id)

    return matches
