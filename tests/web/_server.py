"""An app under a real uvicorn server, in a thread of the test, on 127.0.0.1.

``serve(app)`` picks a free port, starts the server in a daemon thread, waits until it
listens and yields its address; at the end it asks the server to exit and joins the thread.
An open stream would hold uvicorn's graceful shutdown up: the server gets a bound for it
(``timeout_graceful_shutdown``), and the tests close their streams (or shut the scheduler
down, which ends them) before they leave.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from e2e._server import free_port  # the example app's tests pick ports alike

__all__ = ["Served", "free_port", "serve"]

STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0


@dataclass
class Served:
    server: uvicorn.Server
    thread: threading.Thread
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serve(app: FastAPI) -> Iterator[Served]:
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield Served(server, thread, port)
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError("the test server did not stop")
