"""The example app in-process, with FastAPI's ``TestClient`` (which runs the lifespan).

Fast checks of the routes, the error mapping and the feed; ``test_server`` drives the same
app under a real server.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient and warns, once, at import, when it
    # falls back on httpx, which is what the ``example`` group installs (and what the
    # end-to-end tests use as their real client). Only that warning is ignored, and only
    # for this import.
    warnings.filterwarnings(
        "ignore", message=r"Using `httpx` with `starlette\.testclient` is deprecated"
    )
    from fastapi.testclient import TestClient

from examples.fastapi_app.main import create_app
from examples.fastapi_app.settings import Settings

# Quiet: a job's INFO line can land between two tests, outside pytest's capture. The log
# lines themselves are checked on the real server (test_server).
SETTINGS = Settings(cleanup_interval=3600, shutdown_timeout=10, log_level="WARNING")

Message = dict[str, Any]


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS)) as running:
        yield running


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.01)


def schedule_later(client: TestClient) -> str:
    """A download that will not start during the test (due in an hour)."""
    body = {"url": "https://example.com/later.iso", "delay": 3600}
    response = client.post("/downloads", json=body)
    assert response.status_code == 202
    task_id: str = response.json()["task_id"]
    return task_id


def test_health_reports_a_running_scheduler(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["scheduler"] == "running"
    assert body["statistics"]["tasks"] >= 1


def test_the_cleanup_task_is_registered_at_startup(client: TestClient) -> None:
    tasks = client.get("/tasks").json()
    assert [task["task_name"] for task in tasks] == ["cleanup"]
    assert tasks[0]["interval_seconds"] == SETTINGS.cleanup_interval
    assert tasks[0]["run_once"] is False


def test_a_download_is_a_run_once_task_with_the_request_as_arguments(client: TestClient) -> None:
    task_id = schedule_later(client)
    task = client.get(f"/tasks/{task_id}").json()
    assert task["task_name"] == "download"
    assert task["run_once"] is True
    assert task["args"][:3] == ["https://example.com/later.iso", 20, 0.25]
    assert task_id in [t["id"] for t in client.get("/tasks").json()]
    assert task_id not in [t["id"] for t in client.get("/tasks?include_run_once=false").json()]
    assert client.get(f"/tasks/{task_id}/jobs").json() == []  # not run yet


def test_pause_resume_and_remove_a_task(client: TestClient) -> None:
    task_id = schedule_later(client)
    assert client.post(f"/tasks/{task_id}/pause").json()["status"] == "paused"
    resumed = client.post(f"/tasks/{task_id}/resume", params={"delay": 3600})
    assert resumed.json()["status"] == "active"
    assert client.delete(f"/tasks/{task_id}").status_code == 204
    assert client.get(f"/tasks/{task_id}").status_code == 404


def test_run_now_starts_a_job(client: TestClient) -> None:
    task_id = schedule_later(client)
    assert client.post(f"/tasks/{task_id}/run").status_code == 202
    wait_until(lambda: bool(client.get(f"/tasks/{task_id}/jobs").json()))
    (job,) = client.get(f"/tasks/{task_id}/jobs").json()
    assert client.get(f"/jobs/{job['id']}").json()["task_id"] == task_id
    assert client.post(f"/jobs/{job['id']}/cancel").status_code in (202, 409)


def test_jobs_can_be_filtered_by_status(client: TestClient) -> None:
    wait_until(lambda: bool(client.get("/jobs", params={"status": "completed"}).json()))
    completed = client.get("/jobs", params={"status": "completed"}).json()
    assert {job["task_name"] for job in completed} == {"cleanup"}
    assert client.get("/jobs", params={"status": "failed"}).json() == []
    assert client.get("/jobs", params={"status": "no-such-status"}).status_code == 422


def test_cancelling_an_ended_job_is_a_conflict(client: TestClient) -> None:
    wait_until(lambda: bool(client.get("/jobs", params={"status": "completed"}).json()))
    job_id = client.get("/jobs", params={"status": "completed"}).json()[0]["id"]
    response = client.post(f"/jobs/{job_id}/cancel")
    assert response.status_code == 409
    assert "completed" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "error"),
    [
        ("GET", "/tasks/nope", "TaskNotFoundError"),
        ("GET", "/tasks/nope/jobs", "TaskNotFoundError"),
        ("POST", "/tasks/nope/pause", "TaskNotFoundError"),
        ("POST", "/tasks/nope/resume", "TaskNotFoundError"),
        ("DELETE", "/tasks/nope", "TaskNotFoundError"),
        ("POST", "/tasks/nope/run", "HandlerNotRegisteredError"),
        ("GET", "/jobs/nope", "JobNotFoundError"),
        ("POST", "/jobs/nope/cancel", "JobNotFoundError"),
    ],
)
def test_unknown_ids_are_404(client: TestClient, method: str, path: str, error: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 404
    assert response.json()["error"] == error
    assert "'nope'" in response.json()["detail"]


def test_running_a_finished_run_once_task_is_404(client: TestClient) -> None:
    response = client.post("/reports", json={"title": "ok"})
    task_id = response.json()["task_id"]
    wait_until(
        lambda: (
            [job["status"] for job in client.get(f"/tasks/{task_id}/jobs").json()] == ["completed"]
        )
    )
    response = client.post(f"/tasks/{task_id}/run")
    assert response.status_code == 404
    assert response.json()["error"] == "TaskNotScheduledError"


def test_invalid_requests_are_422(client: TestClient) -> None:
    assert client.post("/downloads", json={}).status_code == 422
    assert client.post("/downloads", json={"url": "u", "chunks": 0}).status_code == 422
    assert client.post("/tasks/x/resume", params={"delay": -1}).status_code == 422


def receive_until(ws: Any, predicate: Callable[[Message], bool]) -> list[Message]:
    """Messages up to and including the first that matches (blocks; the test timeout bounds it)."""
    seen: list[Message] = []
    while True:
        message: Message = ws.receive_json()
        seen.append(message)
        if predicate(message):
            return seen


def test_the_feed_carries_progress_and_events_of_a_download(client: TestClient) -> None:
    with client.websocket_connect("/ws/progress") as ws:
        assert ws.receive_json() == {"type": "subscribed"}
        body = {"url": "https://example.com/tiny", "chunks": 3, "chunk_delay": 0}
        task_id = client.post("/downloads", json=body).json()["task_id"]
        seen = receive_until(
            ws, lambda m: m.get("event") == "job_completed" and m["task"]["id"] == task_id
        )
    events = [m["event"] for m in seen if m["type"] == "event" and m["task"]["id"] == task_id]
    assert events == ["task_added", "job_started", "job_completed"]
    progress = [m for m in seen if m["type"] == "progress"]
    job_id = seen[-1]["job"]["id"]
    assert progress == [
        {
            "type": "progress",
            "job_id": job_id,
            "url": "https://example.com/tiny",
            "chunk": chunk,
            "chunks": 3,
            "percent": percent,
        }
        for chunk, percent in ((1, 33.3), (2, 66.7), (3, 100.0))
    ]


def test_the_feed_carries_failures_and_cleanup_notices(client: TestClient) -> None:
    with client.websocket_connect("/ws/progress") as ws:
        assert ws.receive_json() == {"type": "subscribed"}
        task_id = client.post("/reports", json={"title": "x", "fail": True}).json()["task_id"]
        failed = receive_until(
            ws, lambda m: m.get("event") == "job_failed" and m["task"]["id"] == task_id
        )[-1]
        assert failed["job"]["error_message"] == "source of report 'x' is unavailable"

        (cleanup,) = client.get("/tasks", params={"include_run_once": False}).json()
        client.post(f"/tasks/{cleanup['id']}/run")
        notice = receive_until(ws, lambda m: m["type"] == "notice")[-1]
        assert notice["source"] == "cleanup"
        assert notice["removed"] == 0


def test_shutdown_removes_the_scheduler_database_and_scratch_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with TestClient(create_app(SETTINGS)) as client:
        body = {"url": "https://example.com/kept", "chunks": 2, "chunk_delay": 0}
        task_id = client.post("/downloads", json=body).json()["task_id"]
        wait_until(
            lambda: (
                [job["status"] for job in client.get(f"/tasks/{task_id}/jobs").json()]
                == ["completed"]
            )
        )
        names = sorted(path.name.split("-")[0] for path in tmp_path.iterdir())
        assert names == ["fastapi", "quiv"]
        (scratch,) = tmp_path.glob("fastapi-app-scratch-*")
        assert [path.suffix for path in scratch.iterdir()] == [".bin"]  # the finished download
    assert list(tmp_path.iterdir()) == []
