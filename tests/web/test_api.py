"""The dashboard's JSON API: tasks with their next runs, jobs paged by a cursor that stays
stable while jobs are added, filters, statistics, and the actions with quiv's errors mapped
to statuses."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest

from quiv import Quiv
from quiv.testing import FakeClock, wait_until

from .conftest import ACTION

WAIT = 10.0


def _paused(scheduler: Quiv, name: str = "t", func: Any = None) -> str:
    task_id = scheduler.add_task(name, func or (lambda: None), interval=3600, delay=3600)
    scheduler.pause_task(task_id)
    return task_id


def _jobs(scheduler: Quiv, task_id: str, count: int, clock: FakeClock | None = None) -> list[str]:
    made = []
    for _ in range(count):
        made.append(scheduler.wait_for_job(scheduler.run_task(task_id), WAIT).id)
        if clock is not None:
            clock.advance(1)
    return made


def _walk(client: Any, limit: int, **params: Any) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        answer = client.get("/quiv/api/jobs", params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append(body["jobs"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


# -- tasks ------------------------------------------------------------------------------------


def test_tasks_come_with_their_next_runs(scheduler, mount) -> None:
    client = mount(scheduler)
    every = scheduler.add_task("every", lambda: None, interval=60, delay=60)
    paused = _paused(scheduler, "paused")
    tasks = {t["id"]: t for t in client.get("/quiv/api/tasks").json()["tasks"]}
    assert set(tasks) == {every, paused}
    expected = [run.utc for run in scheduler.next_run_times(every, 3)]
    shown = [datetime.fromisoformat(text) for text in tasks[every]["next_runs"]]
    # Interval runs are planned on the monotonic clock: each read maps them to UTC anew.
    assert len(shown) == 3
    assert all(abs((a - b).total_seconds()) < 0.5 for a, b in zip(shown, expected))
    assert (shown[1] - shown[0]).total_seconds() == pytest.approx(60, abs=0.01)
    assert tasks[paused]["next_runs"] == []
    assert tasks[paused]["status"] == "paused"
    five = client.get(f"/quiv/api/tasks/{every}", params={"next_runs": 5}).json()
    assert len(five["next_runs"]) == 5


def test_tasks_are_paged_by_offset(scheduler, mount) -> None:
    client = mount(scheduler)
    ids = [_paused(scheduler, f"t{i}") for i in range(5)]
    first = client.get("/quiv/api/tasks", params={"limit": 3}).json()
    assert [t["id"] for t in first["tasks"]] == ids[:3]
    rest = client.get("/quiv/api/tasks", params={"limit": 3, "offset": first["next_offset"]})
    assert [t["id"] for t in rest.json()["tasks"]] == ids[3:]
    assert rest.json()["next_offset"] is None
    assert client.get("/quiv/api/tasks", params={"limit": 0}).status_code == 422
    assert client.get("/quiv/api/tasks", params={"limit": 5000}).status_code == 422


def test_an_unknown_task_or_job_is_a_404_with_a_json_error(scheduler, mount) -> None:
    client = mount(scheduler)
    for path, error in (
        ("/quiv/api/tasks/nope", "TaskNotFoundError"),
        ("/quiv/api/jobs/nope", "JobNotFoundError"),
    ):
        answer = client.get(path)
        assert answer.status_code == 404
        assert answer.json()["error"] == error
        assert "nope" in answer.json()["detail"]


# -- jobs -------------------------------------------------------------------------------------


@pytest.fixture
def fake(quiv):
    clock = FakeClock()
    scheduler = quiv(clock=clock, pool_size=2)
    scheduler.start()
    return scheduler, clock


def test_the_cursor_walks_every_job_once_newest_first(fake, mount) -> None:
    scheduler, clock = fake
    client = mount(scheduler)
    task_id = _paused(scheduler)
    made = _jobs(scheduler, task_id, 7, clock) + _jobs(scheduler, task_id, 4)  # ties too
    pages = _walk(client, 3)
    assert [len(page) for page in pages] == [3, 3, 3, 2]
    listed = [job["id"] for page in pages for job in page]
    assert sorted(listed) == sorted(made)
    starts = [job["started_at"] for page in pages for job in page]
    assert starts == sorted(starts, reverse=True)


def test_the_cursor_is_stable_while_jobs_are_added(fake, mount) -> None:
    scheduler, clock = fake
    client = mount(scheduler)
    task_id = _paused(scheduler)
    made = _jobs(scheduler, task_id, 9, clock)
    first = client.get("/quiv/api/jobs", params={"limit": 4}).json()
    newer = _jobs(scheduler, task_id, 5, clock)  # would shift an offset by five
    listed = [job["id"] for job in first["jobs"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get("/quiv/api/jobs", params={"limit": 4, "cursor": cursor}).json()
        listed += [job["id"] for job in page["jobs"]]
        cursor = page["next_cursor"]
    assert len(listed) == len(set(listed)) == 9
    assert sorted(listed) == sorted(made)
    assert not set(newer) & set(listed)
    # A walk started now sees the newer jobs first.
    assert [job["id"] for job in _walk(client, 5)[0]] == newer[::-1]


def test_job_filters_narrow_the_list(fake, mount) -> None:
    scheduler, clock = fake
    client = mount(scheduler)
    start = clock.now()
    good = _paused(scheduler, "good")
    bad = _paused(scheduler, "bad", lambda: 1 / 0)
    goods = _jobs(scheduler, good, 3, clock)
    bads = _jobs(scheduler, bad, 2, clock)

    def ids(**params: Any) -> set[str]:
        return {job["id"] for page in _walk(client, 2, **params) for job in page}

    assert ids(task_id=good) == set(goods)
    assert ids(status="failed") == set(bads)
    assert ids(status="failed", task_id=good) == set()
    middle = (start + timedelta(seconds=2.5)).isoformat()
    assert ids(until=middle) == set(goods)
    assert ids(since=middle) == set(bads)
    failed = client.get("/quiv/api/jobs", params={"status": "failed"}).json()["jobs"]
    assert {job["error_message"] for job in failed} == {"division by zero"}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"status": "done"}, "ConfigurationError"),
        ({"cursor": "not-a-cursor"}, "ConfigurationError"),
        ({"cursor": "WzEsMiwzXQ"}, "ConfigurationError"),  # a list of three
        ({"since": "yesterday"}, None),  # FastAPI's own validation
        ({"limit": 0}, None),
    ],
)
def test_bad_job_queries_are_422s(scheduler, mount, params, error) -> None:
    answer = mount(scheduler).get("/quiv/api/jobs", params=params)
    assert answer.status_code == 422
    if error is not None:
        assert answer.json()["error"] == error


def test_statistics_count_tasks_and_jobs_per_state(scheduler, mount, gate) -> None:
    client = mount(scheduler)
    release = gate()
    busy = _paused(scheduler, "busy", lambda: release.wait(WAIT))
    scheduler.add_task("active", lambda: None, interval=3600, delay=3600)
    done = _paused(scheduler, "done")
    _jobs(scheduler, done, 2)
    running = scheduler.run_task(busy)  # busy is paused: its job runs, it stays paused
    wait_until(lambda: scheduler.get_job(running).status == "running", WAIT)
    body = client.get("/quiv/api/statistics").json()
    assert body["lifecycle"] == "running"
    assert body["tasks_by_state"] == {"active": 1, "running": 0, "paused": 1, "paused_running": 1}
    assert body["jobs_by_status"] == {"completed": 2, "running": 1}
    assert body["statistics"]["running_jobs"] == 1
    assert body["stats"]["pool_size"] == 4
    release.set()


# -- actions ----------------------------------------------------------------------------------


def test_pause_resume_run_and_remove(scheduler, mount) -> None:
    client = mount(scheduler)
    task_id = scheduler.add_task("t", lambda: None, interval=3600, delay=3600)
    base = f"/quiv/api/tasks/{task_id}"
    paused = client.post(f"{base}/pause", json={}, headers=ACTION)
    assert paused.status_code == 200
    assert paused.json()["status"] == "paused"
    assert scheduler.get_task(task_id).status == "paused"
    resumed = client.post(f"{base}/resume", json={"delay": 30}, headers=ACTION)
    assert resumed.json()["status"] == "active"
    assert len(resumed.json()["next_runs"]) == 3
    run = client.post(f"{base}/run", json={}, headers=ACTION).json()
    assert run["task_id"] == task_id
    assert scheduler.wait_for_job(run["job_id"], WAIT).status == "completed"
    removed = client.request("DELETE", base, json={}, headers=ACTION)
    assert removed.status_code == 200
    assert client.get(base).status_code == 404


def test_cancel_a_running_job(scheduler, mount) -> None:
    client = mount(scheduler)
    started = threading.Event()

    def waits(_stop_event: threading.Event) -> None:
        started.set()
        _stop_event.wait(WAIT)

    job_id = scheduler.run_task(_paused(scheduler, "waits", waits))
    assert started.wait(WAIT)
    answer = client.post(f"/quiv/api/jobs/{job_id}/cancel", json={}, headers=ACTION)
    assert answer.status_code == 200
    assert scheduler.wait_for_job(job_id, WAIT).status == "cancelled"
    again = client.post(f"/quiv/api/jobs/{job_id}/cancel", json={}, headers=ACTION)
    assert again.status_code == 409
    assert again.json()["error"] == "JobNotCancellable"
    assert "cancelled" in again.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("POST", "/api/tasks/nope/pause", {}, 404, "TaskNotFoundError"),
        ("POST", "/api/tasks/nope/resume", {}, 404, "TaskNotFoundError"),
        ("POST", "/api/tasks/nope/run", {}, 404, "HandlerNotRegisteredError"),
        ("DELETE", "/api/tasks/nope", {}, 404, "TaskNotFoundError"),
        ("POST", "/api/jobs/nope/cancel", {}, 404, "JobNotFoundError"),
        ("POST", "/api/tasks/{task}/resume", {"delay": -1}, 422, "ConfigurationError"),
        ("POST", "/api/tasks/{task}/resume", {"delay": "soon"}, 422, "ConfigurationError"),
        ("POST", "/api/tasks/{task}/pause", {"delay": 1}, 422, "ConfigurationError"),
        ("POST", "/api/tasks/{removed}/run", {}, 404, "TaskNotScheduledError"),
    ],
)
def test_quiv_errors_map_to_statuses(scheduler, mount, method, path, body, status, error) -> None:
    client = mount(scheduler)
    task_id = _paused(scheduler)
    removed = _paused(scheduler, "removed")
    _jobs(scheduler, removed, 1)
    scheduler.remove_task(removed)
    answer = client.request(
        method, "/quiv" + path.format(task=task_id, removed=removed), json=body, headers=ACTION
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    assert answer.json()["detail"]


def test_a_stopped_scheduler_answers_503(scheduler, mount) -> None:
    client = mount(scheduler)
    task_id = _paused(scheduler)
    scheduler.shutdown()
    assert client.get("/quiv/api/tasks").status_code == 503
    answer = client.post(f"/quiv/api/tasks/{task_id}/resume", json={}, headers=ACTION)
    assert answer.status_code == 503
    assert answer.json()["error"] == "SchedulerStoppedError"
    assert client.get("/quiv/").status_code == 503


def test_the_fragments_render_every_part_and_page_the_history(fake, mount) -> None:
    scheduler, clock = fake
    client = mount(scheduler)
    task_id = _paused(scheduler, "paged")
    made = _jobs(scheduler, task_id, 30, clock)
    parts = client.get("/quiv/fragments").json()
    assert set(parts) == {"summary", "tasks", "running", "history", "machines"}
    assert parts["history"].count("<tr data-job-id=") == 25
    assert made[-1] in parts["history"]
    assert made[4] not in parts["history"]
    cursor = parts["history"].split('data-page="')[1].split('"')[0]
    older = client.get("/quiv/fragments", params={"cursor": cursor}).json()["history"]
    assert older.count("<tr data-job-id=") == 5
    assert made[0] in older
    quiet = client.get("/quiv/fragments", params={"history": "false"}).json()
    assert "history" not in quiet


def test_the_state_machines_are_drawn_with_a_count_on_every_state(scheduler, mount, gate) -> None:
    client = mount(scheduler)
    release = gate()
    busy = _paused(scheduler, "busy", lambda: release.wait(WAIT))
    _jobs(scheduler, _paused(scheduler, "done"), 2)
    running = scheduler.run_task(busy)
    wait_until(lambda: scheduler.get_job(running).status == "running", WAIT)
    drawn = client.get("/quiv/fragments").json()["machines"]
    assert drawn.count("<svg") == 2
    for badge, count in {
        "task-count-active": 0,
        "task-count-paused": 1,
        "task-count-paused_running": 1,
        "job-count-completed": 2,
        "job-count-running": 1,
        "job-count-failed": 0,
    }.items():
        shown = re.search(rf'<g id="{badge}" class="count">.*?<text[^>]*>(\d+)</text>', drawn)
        assert shown is not None, badge
        assert int(shown.group(1)) == count, badge
    assert "task-count-removed" not in drawn  # deleted rows are not counted
    release.set()
