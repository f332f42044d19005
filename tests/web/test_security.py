"""The dashboard's security rules: no router without authentication unless asked for, no
action when read-only, no action without its header or as a form, every value escaped,
arguments hidden, and the headers of every response."""

from __future__ import annotations

import html
import pathlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import Depends, FastAPI, Header, HTTPException

import quiv.web
from quiv import ConfigurationError, Quiv, UnprotectedDashboardError
from quiv.testing import wait_until

from .conftest import ACTION, TestClient

GETS = [
    "/quiv/",
    "/quiv/static/dashboard.js",
    "/quiv/static/dashboard.css",
    "/quiv/static/favicon.svg",
    "/quiv/fragments",
    "/quiv/api/tasks",
    "/quiv/api/jobs",
    "/quiv/api/statistics",
]


def _actions(task_id: str, job_id: str) -> list[tuple[str, str]]:
    return [
        ("POST", f"/quiv/api/tasks/{task_id}/pause"),
        ("POST", f"/quiv/api/tasks/{task_id}/resume"),
        ("POST", f"/quiv/api/tasks/{task_id}/run"),
        ("DELETE", f"/quiv/api/tasks/{task_id}"),
        ("POST", f"/quiv/api/jobs/{job_id}/cancel"),
    ]


def _later(scheduler: Quiv, name: str = "later", **options: Any) -> str:
    return scheduler.add_task(name, lambda: None, interval=3600, delay=3600, **options)


# -- who may build it -------------------------------------------------------------------------


def test_a_router_without_authentication_is_refused(scheduler) -> None:
    with pytest.raises(UnprotectedDashboardError, match=r"dependencies=.*allow_anonymous=True"):
        quiv.web.router(scheduler)
    with pytest.raises(UnprotectedDashboardError):
        quiv.web.router(scheduler, dependencies=[])
    assert issubclass(UnprotectedDashboardError, ConfigurationError)
    quiv.web.router(scheduler, allow_anonymous=True)  # said so: built


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"read_only": "yes", "allow_anonymous": True}, "read_only must be a bool"),
        ({"allow_anonymous": 1}, "allow_anonymous must be a bool"),
        ({"show_arguments": None, "allow_anonymous": True}, "show_arguments must be a bool"),
        ({"dependencies": "admin"}, "dependencies must be a list"),
    ],
)
def test_bad_options_are_configuration_errors(scheduler, options, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        quiv.web.router(scheduler, **options)


def test_the_scheduler_must_be_a_quiv_or_a_function() -> None:
    with pytest.raises(ConfigurationError, match="scheduler must be a Quiv"):
        quiv.web.router(42, allow_anonymous=True)  # type: ignore[arg-type]


def test_the_apps_dependencies_guard_every_route(scheduler) -> None:
    def require_token(x_token: str | None = Header(default=None)) -> None:
        if x_token != "s3cret":
            raise HTTPException(status_code=401, detail="no")

    app = FastAPI()
    app.include_router(
        quiv.web.router(scheduler, dependencies=[Depends(require_token)]), prefix="/quiv"
    )
    client = TestClient(app)
    task_id = _later(scheduler)
    for path in GETS:
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"X-Token": "s3cret"}).status_code == 200, path
    assert client.get("/quiv/api/stream").status_code == 401
    for method, path in _actions(task_id, "some-job"):
        answer = client.request(method, path, json={}, headers=ACTION)
        assert answer.status_code == 401, path
    assert scheduler.get_task(task_id).status == "active"  # nothing was done


# -- read-only ----------------------------------------------------------------------------------


def test_read_only_registers_no_action(scheduler, mount) -> None:
    client = mount(scheduler, read_only=True)
    task_id = _later(scheduler)
    for method, path in _actions(task_id, "some-job"):
        answer = client.request(method, path, json={}, headers=ACTION)
        assert answer.status_code in (404, 405), (method, path)
    assert scheduler.get_task(task_id).status == "active"
    methods = {m for r in client.app.routes for m in getattr(r, "methods", ())}
    assert methods <= {"GET", "HEAD"}
    page = client.get("/quiv/").text
    assert "data-action" not in page
    assert 'data-read-only="true"' in page


# -- actions need their header and a JSON object -----------------------------------------------


def test_an_action_without_the_header_is_refused(scheduler, mount) -> None:
    client = mount(scheduler)
    task_id = _later(scheduler)
    for method, path in _actions(task_id, "some-job"):
        answer = client.request(method, path, json={})
        assert answer.status_code == 403, path
        assert answer.json()["error"] == "MissingActionHeader"
        wrong = client.request(method, path, json={}, headers={"X-Quiv-Action": "yes"})
        assert wrong.status_code == 403
    assert scheduler.get_task(task_id).status == "active"


@pytest.mark.parametrize(
    "headers",
    [{}, ACTION],
    ids=["as a cross-site form sends it", "even with the header"],
)
def test_a_form_post_is_refused(scheduler, mount, headers) -> None:
    client = mount(scheduler)
    task_id = _later(scheduler)
    form = client.post(f"/quiv/api/tasks/{task_id}/pause", data={"a": "1"}, headers=headers)
    assert form.status_code in (403, 415)
    plain = client.post(
        f"/quiv/api/tasks/{task_id}/pause",
        content=b"{}",
        headers={**headers, "Content-Type": "text/plain"},
    )
    assert plain.status_code in (403, 415)
    if headers:
        assert form.status_code == plain.status_code == 415
    assert scheduler.get_task(task_id).status == "active"


@pytest.mark.parametrize("body", [b"", b"[]", b"nope", b'"x"', b'{"unknown": 1}'])
def test_an_action_body_must_be_a_json_object_of_known_fields(scheduler, mount, body) -> None:
    client = mount(scheduler)
    task_id = _later(scheduler)
    answer = client.post(
        f"/quiv/api/tasks/{task_id}/pause",
        content=body,
        headers={**ACTION, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert set(answer.json()) == {"error", "detail"}
    assert scheduler.get_task(task_id).status == "active"


# -- escaping and what is shown -------------------------------------------------------------

EVIL = '<script>alert("x")</script><img src=x onerror="alert(1)"> & \'q\''


def test_html_in_a_task_name_and_an_error_is_shown_as_text(scheduler, mount) -> None:
    def fails() -> None:
        raise RuntimeError(EVIL)

    client = mount(scheduler)
    _later(scheduler, name=EVIL)
    job_id = scheduler.run_task(scheduler.add_task(EVIL, fails, interval=3600, delay=3600))
    scheduler.wait_for_job(job_id, timeout=10)
    page = client.get("/quiv/").text
    fragments = "".join(client.get("/quiv/fragments").json().values())
    for text in (page, fragments):
        assert "<script>alert" not in text
        assert "<img src=x" not in text
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#x27;q&#x27;" in text
    # The error is in the history, escaped too: in its cell and in the cell's title.
    escaped = html.escape(EVIL, quote=True)
    assert f'<td class="error" title="{escaped}">{escaped}</td>' in page
    assert f'<td class="name">{escaped}<div class="id">' in page


def test_the_page_has_no_inline_script_or_style_and_loads_only_its_own_assets(
    scheduler, mount
) -> None:
    client = mount(scheduler)
    _later(scheduler)
    page = client.get("/quiv/").text
    assert re.findall(r"<script\b[^>]*>", page) == ['<script src="static/dashboard.js" defer>']
    assert "<style" not in page
    assert " style=" not in page
    assert re.findall(r"<[^>]*\son\w+\s*=", page) == []  # no event handler attribute
    urls = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert urls
    assert all(url.startswith("static/") for url in urls)
    script = client.get("/quiv/static/dashboard.js").text
    assert "http://" not in script
    assert "https://" not in script


def test_arguments_are_hidden_unless_the_app_shows_them(scheduler, mount) -> None:
    task_id = _later(scheduler, args=("hunter2",), kwargs={"token": "t0ps3cret"})
    hidden = mount(scheduler)
    for path in ("/quiv/", "/quiv/fragments", "/quiv/api/tasks", f"/quiv/api/tasks/{task_id}"):
        text = hidden.get(path).text
        assert "hunter2" not in text, path
        assert "t0ps3cret" not in text, path
    assert "args" not in hidden.get(f"/quiv/api/tasks/{task_id}").json()
    shown = mount(scheduler, show_arguments=True).get(f"/quiv/api/tasks/{task_id}").json()
    assert shown["args"] == ["hunter2"]
    assert shown["kwargs"] == {"token": "t0ps3cret"}


# -- headers ----------------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(scheduler, mount) -> None:
    client = mount(scheduler)
    task_id = _later(scheduler)
    answers = [client.get(path) for path in GETS]
    answers.append(client.get("/quiv/api/tasks/unknown"))  # a quiv error
    answers.append(client.post(f"/quiv/api/tasks/{task_id}/pause", json={}))  # refused
    answers.append(client.post(f"/quiv/api/tasks/{task_id}/pause", json={}, headers=ACTION))
    for answer in answers:
        headers = answer.headers
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert "cache-control" in headers
    assert client.get("/quiv/static/nothing.js").status_code == 404
    assert client.get("/quiv/static/..%2F_router.py").status_code == 404


def test_the_refusal_message_names_both_ways_out() -> None:
    message = str(UnprotectedDashboardError())
    assert "dependencies=[Depends(require_admin)]" in message
    assert "allow_anonymous=True" in message


def test_a_scheduler_function_that_gives_none_answers_503(mount, scheduler) -> None:
    holder: dict[str, Quiv | None] = {"quiv": None}
    provider: Callable[[], Any] = lambda: holder["quiv"]  # noqa: E731
    client = mount(provider)
    assert client.get("/quiv/api/tasks").status_code == 503
    assert client.get("/quiv/").status_code == 503
    holder["quiv"] = scheduler
    _later(scheduler)
    wait_until(lambda: client.get("/quiv/api/tasks").status_code == 200, 5)
    assert len(client.get("/quiv/api/tasks").json()["tasks"]) == 1


def test_the_errors_reference_shows_the_real_refusal() -> None:
    reference = pathlib.Path(__file__).parents[2] / "docs" / "reference" / "errors.md"
    assert str(UnprotectedDashboardError()) in reference.read_text(encoding="utf-8")
