"""End to end: the example app under uvicorn, driven over HTTP (httpx) and WebSocket.

Starting the server costs a couple of seconds (imports, mostly), so the tests share one:
the shutdown test stops it with SIGINT, and a test that needed it after that would get a
fresh one (``Servers.current``), whatever the order the tests run in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
pytest.importorskip("websockets")

import httpx

from ._server import Feed, Server, event, open_feed, start_server

# Generous: the assertions are about what happens, never about how fast.
HTTP_TIMEOUT = 10.0
EXIT_TIMEOUT = 30.0

# A download far longer than any test: it only ends because it is cancelled or stopped.
LONG_DOWNLOAD = {"url": "https://example.com/big.iso", "chunks": 100_000, "chunk_delay": 0.02}


class Servers:
    """The module's server, started on first use and again if a test has stopped it."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._server: Server | None = None

    def current(self) -> Server:
        if self._server is None or self._server.process.poll() is not None:
            self._server = start_server(self._factory.mktemp("server"))
        return self._server

    def kill(self) -> None:
        if self._server is not None:
            self._server.kill()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    holder = Servers(tmp_path_factory)
    try:
        yield holder
    finally:
        holder.kill()


@pytest.fixture
def server(servers: Servers) -> Server:
    return servers.current()


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=HTTP_TIMEOUT) as client:
        yield client


@pytest.fixture
def feed(server: Server) -> Iterator[Feed]:
    with open_feed(server.feed_url) as opened:
        yield opened


def progress_of(feed: Feed, job_id: str) -> list[dict[str, Any]]:
    return [m for m in feed.seen if m["type"] == "progress" and m["job_id"] == job_id]


def test_download_reports_progress_in_order_and_cancels_mid_run(
    server: Server, http: httpx.Client, feed: Feed
) -> None:
    response = http.post("/downloads", json=LONG_DOWNLOAD)
    assert response.status_code == 202
    task_id = response.json()["task_id"]

    started = feed.wait_for(event("job_started", task_id=task_id))
    job_id = started["job"]["id"]
    assert started["job"]["status"] == "running"
    feed.wait_for(lambda m: m["type"] == "progress" and m["job_id"] == job_id and m["chunk"] >= 3)

    assert http.post(f"/jobs/{job_id}/cancel").status_code == 202
    ended = feed.wait_for(
        lambda m: (
            m["type"] == "event"
            and (m["job"] or {}).get("id") == job_id
            and m["event"] != "job_started"
        )
    )
    assert ended["event"] == "job_cancelled"
    assert ended["job"]["status"] == "cancelled"

    chunks = [m["chunk"] for m in progress_of(feed, job_id)]
    assert chunks == list(range(1, len(chunks) + 1))  # every chunk, once, in order
    assert chunks[-1] < LONG_DOWNLOAD["chunks"]  # stopped mid-run
    assert {m["url"] for m in progress_of(feed, job_id)} == {LONG_DOWNLOAD["url"]}

    job = http.get(f"/jobs/{job_id}").json()
    assert job["status"] == "cancelled"
    assert job["task_id"] == task_id
    assert [j["id"] for j in http.get(f"/tasks/{task_id}/jobs").json()] == [job_id]
    assert http.post(f"/jobs/{job_id}/cancel").status_code == 409  # it has ended
    # A run-once task is gone after its run: running it again is a 404.
    assert http.post(f"/tasks/{task_id}/run").status_code == 404


def test_job_log_lines_carry_the_job_id(server: Server, http: httpx.Client, feed: Feed) -> None:
    request = {"url": "https://example.com/small.bin", "chunks": 2, "chunk_delay": 0}
    task_id = http.post("/downloads", json=request).json()["task_id"]
    done = feed.wait_for(event("job_completed", task_id=task_id))
    job_id = done["job"]["id"]

    lines = [line for line in server.log().splitlines() if "small.bin" in line]
    assert any("started" in line for line in lines)
    assert any("done" in line for line in lines)
    for line in lines:
        assert f"[{job_id}]" in line


def test_failing_job_reports_its_error(http: httpx.Client, feed: Feed) -> None:
    response = http.post("/reports", json={"title": "q3", "fail": True})
    assert response.status_code == 202
    task_id = response.json()["task_id"]

    failed = feed.wait_for(event("job_failed", task_id=task_id))
    assert failed["job"]["status"] == "failed"
    assert failed["job"]["error_message"] == "source of report 'q3' is unavailable"
    failed_ids = [job["id"] for job in http.get("/jobs", params={"status": "failed"}).json()]
    assert failed["job"]["id"] in failed_ids


def test_pause_run_and_resume_the_recurring_cleanup(http: httpx.Client, feed: Feed) -> None:
    tasks = http.get("/tasks").json()
    (cleanup,) = [task for task in tasks if task["task_name"] == "cleanup"]
    task_id = cleanup["id"]

    paused = http.post(f"/tasks/{task_id}/pause")
    assert paused.status_code == 200
    assert paused.json()["status"] == "paused"
    feed.wait_for(event("task_paused", task_id=task_id))

    # Run now: a paused task runs once and stays paused.
    assert http.post(f"/tasks/{task_id}/run").status_code == 202
    done = feed.wait_for(event("job_completed", task_id=task_id))
    job_id = done["job"]["id"]
    notice = feed.wait_for(lambda m: m["type"] == "notice" and m["job_id"] == job_id)
    assert notice == {"type": "notice", "source": "cleanup", "job_id": job_id, "removed": 0}
    assert http.get(f"/tasks/{task_id}").json()["status"] == "paused"

    resumed = http.post(f"/tasks/{task_id}/resume", params={"delay": 3600})
    assert resumed.status_code == 200
    assert resumed.json()["status"] == "active"
    feed.wait_for(event("task_resumed", task_id=task_id))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tasks/no-such-task"),
        ("GET", "/tasks/no-such-task/jobs"),
        ("POST", "/tasks/no-such-task/pause"),
        ("POST", "/tasks/no-such-task/resume"),
        ("POST", "/tasks/no-such-task/run"),
        ("DELETE", "/tasks/no-such-task"),
        ("GET", "/jobs/no-such-job"),
        ("POST", "/jobs/no-such-job/cancel"),
    ],
)
def test_unknown_ids_are_404(http: httpx.Client, method: str, path: str) -> None:
    response = http.request(method, path)
    assert response.status_code == 404
    assert "no-such" in response.json()["detail"]


def test_sigint_stops_the_server_and_leaves_no_temporary_files(server: Server) -> None:
    # While it runs, the app's temporary directories are there: quiv's private database
    # and the app's scratch directory.
    names = sorted(path.name for path in server.tmpdir.iterdir())
    assert [name.split("-")[0] for name in names] == ["fastapi", "quiv"], names

    with open_feed(server.feed_url) as feed, httpx.Client(base_url=server.base_url) as http:
        task_id = http.post("/downloads", json=LONG_DOWNLOAD).json()["task_id"]
        started = feed.wait_for(event("job_started", task_id=task_id))
        feed.wait_for(lambda m: m["type"] == "progress" and m["job_id"] == started["job"]["id"])

        # Ctrl+C with a download running and a client connected.
        assert server.interrupt(timeout=EXIT_TIMEOUT) == 0

    log = server.log()
    assert "Application shutdown complete" in log
    assert re.search(r"download of https://example.com/big.iso stopped after \d+ chunks", log)
    assert "quiv stopped" in log
    assert list(server.tmpdir.iterdir()) == []
