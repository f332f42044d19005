"""``router()``: the dashboard, its JSON API and its stream, as one FastAPI ``APIRouter``.

The routes, relative to where the app mounts the router (``prefix="/quiv"``)::

    GET    /                          the dashboard (HTML)
    GET    /static/{name}             its script, style sheet and icon
    GET    /fragments                 the dashboard's parts, re-rendered (for its script)
    GET    /api/tasks                 tasks with their next runs (limit, offset, next_runs)
    GET    /api/tasks/{task_id}       one task
    GET    /api/jobs                  a page of jobs, newest first (task_id, status, since,
                                      until, limit, cursor)
    GET    /api/jobs/{job_id}         one job
    GET    /api/statistics            load, counts, and counts per state of both machines
    GET    /api/stream                lifecycle events and progress (Server-Sent Events)
    POST   /api/tasks/{task_id}/pause     the actions: absent when read_only=True
    POST   /api/tasks/{task_id}/resume    body {"delay": seconds}, optional
    POST   /api/tasks/{task_id}/run       runs it now; answers its job's id
    DELETE /api/tasks/{task_id}
    POST   /api/jobs/{job_id}/cancel

Reads run on FastAPI's thread pool, as plain functions: quiv's calls block briefly (a read
of the store, a round trip to the scheduler thread) and must not hold the app's loop.
Actions read their body on the loop, then call quiv on the thread pool as well.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.params import Depends
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from .._quiv import Quiv
from ..exceptions import ConfigurationError, QuivError
from . import _page
from ._security import SecureRoute, action_body, check_options, error, error_response
from ._source import Snapshot, Source, jobs_page, next_runs
from ._stream import Hub, event_stream
from ._views import (
    decode_cursor,
    encode_cursor,
    job_view,
    statistics_view,
    task_view,
)

__all__ = ["router"]

TASKS_SHOWN = 200  # tasks on the page (the API pages through any number)
NEXT_RUNS_SHOWN = 3
HISTORY_PAGE = 25

_STATIC = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


def router(
    scheduler: Quiv | Callable[[], Quiv],
    *,
    dependencies: Sequence[Depends] | None = None,
    read_only: bool = False,
    allow_anonymous: bool = False,
    show_arguments: bool = False,
) -> APIRouter:
    """The dashboard of ``scheduler`` and its JSON API, to mount with
    ``app.include_router(router, prefix="/quiv")``.

    ``scheduler`` is a ``Quiv``, or a function that returns the app's ``Quiv`` when a
    request comes (for a scheduler built in the app's lifespan). ``dependencies`` guard
    every route, the page and its assets included: pass the app's own authentication, such
    as ``[Depends(require_admin)]``. Without them the router is refused
    (``UnprotectedDashboardError``) unless ``allow_anonymous=True``. ``read_only=True``
    registers no action at all (pause, resume, run, remove, cancel). A task's ``args`` and
    ``kwargs`` are never shown unless ``show_arguments=True``: they may hold secrets.

    An action is a ``POST`` or ``DELETE`` with a JSON object as its body and the header
    ``X-Quiv-Action: 1``; quiv's errors come back as ``{"error", "detail"}`` with 404 (an
    unknown id), 409 (a change the state forbids), 422 (a bad value) or 503 (a scheduler
    that is not running).
    """
    check_options(
        scheduler,
        dependencies,
        read_only=read_only,
        allow_anonymous=allow_anonymous,
        show_arguments=show_arguments,
    )
    dashboard = _Dashboard(Source(scheduler), read_only=read_only, show_arguments=show_arguments)
    api = APIRouter(dependencies=list(dependencies or ()), route_class=SecureRoute)
    hidden: dict[str, Any] = {"include_in_schema": False}
    for path, endpoint, options in (
        ("/", dashboard.page, hidden),
        ("/static/{name}", dashboard.static, hidden),
        ("/fragments", dashboard.fragments, hidden),
        ("/api/tasks", dashboard.tasks, {}),
        ("/api/tasks/{task_id}", dashboard.task, {}),
        ("/api/jobs", dashboard.jobs, {}),
        ("/api/jobs/{job_id}", dashboard.job, {}),
        ("/api/statistics", dashboard.statistics, {}),
        ("/api/stream", dashboard.stream, {}),
    ):
        name = "quiv_" + (endpoint.__name__ if path != "/" else "dashboard")
        api.add_api_route(path, endpoint, methods=["GET"], name=name, **options)
    if not read_only:
        actions: tuple[tuple[str, str, Callable[..., Any]], ...] = (
            ("POST", "/api/tasks/{task_id}/pause", dashboard.pause),
            ("POST", "/api/tasks/{task_id}/resume", dashboard.resume),
            ("POST", "/api/tasks/{task_id}/run", dashboard.run),
            ("DELETE", "/api/tasks/{task_id}", dashboard.remove),
            ("POST", "/api/jobs/{job_id}/cancel", dashboard.cancel),
        )
        for method, path, endpoint in actions:
            api.add_api_route(path, endpoint, methods=[method], name="quiv_" + endpoint.__name__)
    return api


@cache
def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static").joinpath(name).read_bytes()


def _answer(build: Callable[[], object], status: int = 200) -> Response:
    """``build()`` as JSON (a response it returns as it is), or the error quiv raised as
    a JSON error."""
    try:
        content = build()
    except QuivError as exc:
        return error_response(exc)
    if isinstance(content, Response):
        return content
    return JSONResponse(content, status_code=status)


def _cursor(token: str | None) -> tuple[float, str] | None:
    if token is None or token == "":
        return None
    try:
        return decode_cursor(token)
    except ValueError as exc:
        raise ConfigurationError(f"cursor: {exc}; pass the next_cursor of a page") from None


def _fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ConfigurationError(
            f"unknown field(s) {unknown} in the body; allowed: {list(allowed) or 'none'}"
        )


class _Dashboard:
    """The route handlers of one router, sharing its source and options."""

    def __init__(self, source: Source, *, read_only: bool, show_arguments: bool) -> None:
        self._source = source
        self._read_only = read_only
        self._show_arguments = show_arguments
        self._hub: Hub | None = None
        self._hub_lock = threading.Lock()

    # -- the page -----------------------------------------------------------------------

    def page(self) -> Response:
        try:
            quiv = self._source.get()
            snapshot = Snapshot(quiv, task_limit=TASKS_SHOWN)
            runs = {t.id: next_runs(quiv, t.id, NEXT_RUNS_SHOWN) for t in snapshot.tasks}
            shown = self._history(quiv, None, None, None)
        except QuivError as exc:
            status = error_response(exc).status_code
            text = f"<!doctype html><title>quiv</title><p>{_page.e(exc)}</p>\n"
            return HTMLResponse(text, status_code=status)
        return HTMLResponse(_page.page(snapshot, runs, shown, read_only=self._read_only))

    def static(self, name: str) -> Response:
        kind = _STATIC.get(name)
        if kind is None:
            return error(404, "NotFound", f"no asset {name!r}")
        return Response(_asset(name), media_type=kind, headers={"Cache-Control": "no-cache"})

    def fragments(
        self,
        history: bool = True,
        task_id: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
    ) -> Response:
        def build() -> dict[str, str]:
            quiv = self._source.get()
            snapshot = Snapshot(quiv, task_limit=TASKS_SHOWN)
            runs = {t.id: next_runs(quiv, t.id, NEXT_RUNS_SHOWN) for t in snapshot.tasks}
            parts = {
                "summary": _page.summary(snapshot),
                "tasks": _page.tasks(snapshot.tasks, runs, read_only=self._read_only),
                "running": _page.running(snapshot.running, read_only=self._read_only),
                "machines": _page.machines(snapshot.tasks_by_state, snapshot.jobs_by_status),
            }
            if history:
                shown = self._history(quiv, task_id or None, status or None, cursor)
                parts["history"] = _page.history(shown, snapshot.tasks)
            return parts

        return _answer(build)

    def _history(
        self, quiv: Quiv, task_id: str | None, status: str | None, cursor: str | None
    ) -> _page.History:
        jobs, following = jobs_page(
            quiv,
            status=status,
            task_id=task_id,
            since=None,
            until=None,
            before=_cursor(cursor),
            limit=HISTORY_PAGE,
        )
        return _page.History(jobs, encode_cursor(following), task_id, status, not cursor)

    # -- reads --------------------------------------------------------------------------

    def tasks(
        self,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
        next_runs_count: Annotated[int, Query(alias="next_runs", ge=0, le=50)] = 3,
    ) -> Response:
        def build() -> dict[str, Any]:
            quiv = self._source.get()
            found = quiv.get_all_tasks(include_run_once=True, limit=limit, offset=offset)
            return {
                "tasks": [self._task(quiv, task.id, next_runs_count, task) for task in found],
                "next_offset": offset + limit if len(found) == limit else None,
            }

        return _answer(build)

    def task(
        self,
        task_id: str,
        next_runs_count: Annotated[int, Query(alias="next_runs", ge=0, le=50)] = 3,
    ) -> Response:
        return _answer(lambda: self._task(self._source.get(), task_id, next_runs_count))

    def _task(self, quiv: Quiv, task_id: str, count: int, task: Any = None) -> dict[str, Any]:
        found = task if task is not None else quiv.get_task(task_id)
        runs = next_runs(quiv, task_id, count) if count else []
        return task_view(found, runs, show_arguments=self._show_arguments)

    def jobs(
        self,
        task_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: str | None = None,
    ) -> Response:
        def build() -> dict[str, Any]:
            found, following = jobs_page(
                self._source.get(),
                status=status,
                task_id=task_id,
                since=since,
                until=until,
                before=_cursor(cursor),
                limit=limit,
            )
            return {
                "jobs": [job_view(job) for job in found],
                "next_cursor": encode_cursor(following),
            }

        return _answer(build)

    def job(self, job_id: str) -> Response:
        return _answer(lambda: job_view(self._source.get().get_job(job_id)))

    def statistics(self) -> Response:
        def build() -> dict[str, Any]:
            snapshot = Snapshot(self._source.get(), task_limit=TASKS_SHOWN)
            return statistics_view(
                snapshot.lifecycle.value,
                snapshot.statistics,
                snapshot.stats,
                snapshot.tasks_by_state,
                snapshot.jobs_by_status,
            )

        return _answer(build)

    async def stream(self, request: Request) -> Response:
        try:
            quiv = self._source.get()
        except QuivError as exc:
            return error_response(exc)
        with self._hub_lock:
            if self._hub is None or self._hub.quiv is not quiv:
                self._hub = Hub(quiv)  # a new scheduler (the app restarted): a new hub
            hub = self._hub
        return StreamingResponse(
            event_stream(hub, quiv, request.is_disconnected),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # -- actions ------------------------------------------------------------------------

    async def _act(
        self, request: Request, act: Callable[[Quiv, dict[str, Any]], object]
    ) -> Response:
        body = await action_body(request)
        if isinstance(body, Response):
            return body
        return await run_in_threadpool(_answer, lambda: act(self._source.get(), body))

    async def pause(self, task_id: str, request: Request) -> Response:
        def act(quiv: Quiv, body: dict[str, Any]) -> dict[str, Any]:
            _fields(body, ())
            quiv.pause_task(task_id)
            return self._task(quiv, task_id, NEXT_RUNS_SHOWN)

        return await self._act(request, act)

    async def resume(self, task_id: str, request: Request) -> Response:
        def act(quiv: Quiv, body: dict[str, Any]) -> dict[str, Any]:
            _fields(body, ("delay",))
            quiv.resume_task(task_id, body.get("delay", 0))
            return self._task(quiv, task_id, NEXT_RUNS_SHOWN)

        return await self._act(request, act)

    async def run(self, task_id: str, request: Request) -> Response:
        def act(quiv: Quiv, body: dict[str, Any]) -> dict[str, Any]:
            _fields(body, ())
            return {"task_id": task_id, "job_id": quiv.run_task(task_id)}

        return await self._act(request, act)

    async def remove(self, task_id: str, request: Request) -> Response:
        def act(quiv: Quiv, body: dict[str, Any]) -> dict[str, Any]:
            _fields(body, ())
            quiv.remove_task(task_id)
            return {"task_id": task_id, "removed": True}

        return await self._act(request, act)

    async def cancel(self, job_id: str, request: Request) -> Response:
        def act(quiv: Quiv, body: dict[str, Any]) -> object:
            _fields(body, ())
            job = quiv.get_job(job_id)  # JobNotFoundError: 404
            if not quiv.cancel_job(job_id):
                return error(
                    409,
                    "JobNotCancellable",
                    f"job {job_id!r} is {job.status}: only a scheduled or running job can "
                    "be cancelled",
                )
            return {"job_id": job_id, "cancelled": True}

        return await self._act(request, act)
