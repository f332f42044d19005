"""The example app's dashboard at ``/quiv/``: behind its token (bearer, or the password of
HTTP Basic, which browsers ask for), and working once given it."""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():
    # As in test_app: only Starlette's warning about httpx, only for this import.
    warnings.filterwarnings(
        "ignore", message=r"Using `httpx` with `starlette\.testclient` is deprecated"
    )
    from fastapi.testclient import TestClient

from examples.fastapi_app.main import create_app
from examples.fastapi_app.scheduler import CLEANUP_TASK
from examples.fastapi_app.settings import Settings

TOKEN = "correct-horse-battery"
SETTINGS = Settings(cleanup_interval=3600, log_level="WARNING", dashboard_token=TOKEN)
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS)) as running:
        yield running


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        _basic("admin", "wrong"),
        {"Authorization": "Basic !!!"},
        {"Authorization": TOKEN},
    ],
    ids=["none", "wrong bearer", "wrong password", "garbled", "no scheme"],
)
def test_the_dashboard_wants_the_token(client: TestClient, headers: dict[str, str]) -> None:
    for path in ("/quiv/", "/quiv/api/tasks", "/quiv/static/dashboard.js"):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"].startswith("Basic")


def test_a_browser_gets_in_with_the_token_as_its_password(client: TestClient) -> None:
    page = client.get("/quiv/", headers=_basic("anyone", TOKEN))
    assert page.status_code == 200
    assert CLEANUP_TASK in page.text
    assert "data-action" in page.text  # the actions are there


def test_scripts_get_in_with_a_bearer_token_and_can_act(client: TestClient) -> None:
    tasks = client.get("/quiv/api/tasks", headers=BEARER).json()["tasks"]
    cleanup = next(task for task in tasks if task["task_name"] == CLEANUP_TASK)
    assert "args" not in cleanup  # the app does not show its tasks' arguments
    paused = client.post(
        f"/quiv/api/tasks/{cleanup['id']}/pause",
        json={},
        headers={**BEARER, "X-Quiv-Action": "1"},
    )
    assert paused.status_code == 200
    assert paused.json()["status"] == "paused"
    assert client.get(f"/tasks/{cleanup['id']}").json()["status"] == "paused"


def test_without_a_token_setting_the_app_makes_one_up() -> None:
    first = create_app(Settings(log_level="WARNING"))
    second = create_app(Settings(log_level="WARNING"))
    assert len(first.state.dashboard_token) >= 16
    assert first.state.dashboard_token != second.state.dashboard_token


def test_before_startup_the_dashboard_answers_503() -> None:
    client = TestClient(create_app(SETTINGS))  # no ``with``: the lifespan has not run
    assert client.get("/quiv/api/tasks", headers=BEARER).status_code == 503


def test_the_token_comes_from_the_environment() -> None:
    settings = Settings.from_env({"QUIV_EXAMPLE_DASHBOARD_TOKEN": " s3cret "})
    assert settings.dashboard_token == "s3cret"
    assert Settings.from_env({}).dashboard_token == ""


def test_metrics_are_served_for_prometheus(client: TestClient) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"quiv_jobs_running", "quiv_workers_free", "quiv_tasks"} <= names
