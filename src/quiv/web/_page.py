"""The dashboard's HTML: the page and the fragments its script reloads.

Pure: data in, text out. Every value from the scheduler (a task's name, an error message, an
id) goes through ``e`` (``html.escape``, quotes included) before it reaches the markup, in
text and in attributes alike; nothing here marks a value as safe but the state machines'
drawings, which quiv ships. The page holds no inline
script or style (the Content-Security-Policy forbids both): ``static/dashboard.js`` finds
its targets by ``id`` and ``data-`` attributes, and bars are ``<progress>`` elements, whose
value needs no style.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from html import escape
from typing import NamedTuple

from .._diagrams import machine_svg
from ..models import Job, JobStatus, RunTime, Task, TaskStatus
from ._source import Snapshot

__all__ = ["History", "history", "machines", "page", "running", "summary", "tasks"]

# The task states counted on the drawing ("removed" has no rows to count).
TASK_STATES = ("active", "running", "paused", "paused_running")

# Characters of an error message shown in a row (the whole of it, up to _TITLE, on hover).
_ERROR_SHOWN = 160
_TITLE = 2000


def e(value: object) -> str:
    """``value`` as text safe in HTML content and in quoted attributes."""
    return escape(str(value), quote=True)


class History(NamedTuple):
    """One page of the history, with the filters that chose it."""

    jobs: list[Job]
    next_cursor: str | None
    task_id: str | None
    status: str | None
    first: bool


def _when(value: datetime | None) -> str:
    if value is None:
        return '<span class="none">&ndash;</span>'
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    return f'<time datetime="{e(value.isoformat())}">{e(text)}</time>'


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return '<span class="none">&ndash;</span>'
    if seconds < 60:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def _button(action: str, target: str, label: str, *, danger: bool = False) -> str:
    kind = ' class="danger"' if danger else ""
    return (
        f'<button type="button"{kind} data-action="{e(action)}" data-id="{e(target)}">'
        f"{e(label)}</button>"
    )


def _status(value: str) -> str:
    return f'<span class="status status-{e(value)}">{e(value)}</span>'


def summary(snapshot: Snapshot) -> str:
    """The line of figures at the top: lifecycle, load, counts, the next run."""
    stats, load = snapshot.stats, snapshot.statistics
    figures = [
        ("scheduler", e(snapshot.lifecycle.value)),
        ("running", f"{load.running_jobs} / {stats.pool_size} workers"),
        ("free workers", str(load.free_workers)),
        ("tasks", str(load.tasks)),
        ("jobs in history", str(stats.job_history_count)),
        ("late starts", str(load.late_starts)),
        ("next run", _when(stats.next_run_at)),
    ]
    items = "".join(f"<div><dt>{e(name)}</dt><dd>{value}</dd></div>" for name, value in figures)
    return f'<dl class="figures">{items}</dl>'


def tasks(listed: list[Task], next_runs: Mapping[str, list[RunTime]], *, read_only: bool) -> str:
    """The table of tasks: status, schedule, next runs, and their actions."""
    if not listed:
        return '<p class="empty">No tasks.</p>'
    head = "<th>task</th><th>status</th><th>schedule</th><th>next runs (UTC)</th>"
    head += "" if read_only else "<th>actions</th>"
    rows = []
    for task in listed:
        schedule = task.schedule.get("description") or task.schedule.get("kind") or ""
        upcoming = "".join(f"<li>{_when(run.utc)}</li>" for run in next_runs.get(task.id, []))
        cells = [
            f'<td class="name">{e(task.task_name)}<div class="id">{e(task.id)}</div></td>',
            f'<td class="task-status">{_status(task.status)}</td>',
            f"<td>{e(schedule)}</td>",
            f'<td><ul class="runs">{upcoming}</ul></td>',
        ]
        if not read_only:
            paused = task.status == TaskStatus.PAUSED.value
            toggle = _button("resume" if paused else "pause", task.id,
                             "Resume" if paused else "Pause")  # fmt: skip
            run = _button("run", task.id, "Run now")
            remove = _button("remove", task.id, "Remove", danger=True)
            cells.append(f'<td class="actions">{toggle}{run}{remove}</td>')
        rows.append(f'<tr data-task-id="{e(task.id)}">{"".join(cells)}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def running(jobs: list[Job], *, read_only: bool) -> str:
    """The running jobs, each with a progress bar the script fills from the stream."""
    if not jobs:
        return '<p class="empty">No job is running.</p>'
    head = "<th>task</th><th>job</th><th>started</th><th>progress</th>"
    head += "" if read_only else "<th>actions</th>"
    rows = []
    for job in jobs:
        job_id = e(job.id)
        cells = [
            f'<td class="name">{e(job.task_name)}</td>',
            f'<td class="id">{job_id}</td>',
            f"<td>{_when(job.started_at)}</td>",
            f'<td class="progress"><progress max="1" data-job-id="{job_id}" '
            f'data-task-id="{e(job.task_id)}"></progress>'
            f'<span class="progress-label" data-job-id="{job_id}"></span></td>',
        ]
        if not read_only:
            cells.append(f'<td class="actions">{_button("cancel", job.id, "Cancel")}</td>')
        rows.append(f'<tr data-job-id="{job_id}">{"".join(cells)}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _options(choices: Iterable[tuple[str, str]], chosen: str | None, everything: str) -> str:
    found = [f'<option value="">{e(everything)}</option>']
    for value, label in choices:
        selected = " selected" if value == chosen else ""
        found.append(f'<option value="{e(value)}"{selected}>{e(label)}</option>')
    return "".join(found)


def history(shown: History, known_tasks: list[Task]) -> str:
    """A page of recent jobs (newest first), its filters and its pager."""
    task_choices = [(task.id, task.task_name) for task in known_tasks]
    status_choices = [(status.value, status.value) for status in JobStatus]
    form = (
        '<form class="filters" data-filter="history">'
        f'<label>task <select name="task_id">'
        f"{_options(task_choices, shown.task_id, 'all tasks')}</select></label>"
        f'<label>status <select name="status">'
        f"{_options(status_choices, shown.status, 'any status')}</select></label></form>"
    )
    if not shown.jobs:
        return form + '<p class="empty">No jobs.</p>'
    rows = []
    for job in shown.jobs:
        error = job.error_message or ""
        brief = error if len(error) <= _ERROR_SHOWN else error[:_ERROR_SHOWN] + "…"
        rows.append(
            f'<tr data-job-id="{e(job.id)}"><td class="name">{e(job.task_name)}</td>'
            f"<td>{_status(job.status)}</td><td>{_when(job.started_at)}</td>"
            f"<td>{_duration(job.duration_seconds)}</td><td>{job.attempt}</td>"
            f'<td class="error" title="{e(error[:_TITLE])}">{e(brief)}</td></tr>'
        )
    pager = []
    if not shown.first:
        pager.append('<button type="button" data-page="">Newest</button>')
    if shown.next_cursor is not None:
        pager.append(f'<button type="button" data-page="{e(shown.next_cursor)}">Older</button>')
    table = (
        "<table><thead><tr><th>task</th><th>status</th><th>started</th><th>took</th>"
        f"<th>attempt</th><th>error</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return f'{form}{table}<div class="pager">{"".join(pager)}</div>'


def machines(tasks_by_state: Mapping[str, int], jobs_by_status: Mapping[str, int]) -> str:
    """The two state machines, as the drawings the docs show (``machine_svg``: Graphviz's,
    shipped in the package), each state with a badge counting the tasks or jobs in it.
    The drawings are quiv's own and the counts ints: nothing in them comes from a user."""
    task_counts = {state: tasks_by_state.get(state, 0) for state in TASK_STATES}
    job_counts = {status.value: jobs_by_status.get(status.value, 0) for status in JobStatus}
    return "".join(
        f'<figure class="machine" data-machine="{kind}"><figcaption>{title}</figcaption>'
        f"{machine_svg(kind, counts)}</figure>"
        for kind, title, counts in (("task", "Tasks", task_counts), ("job", "Jobs", job_counts))
    )


def page(
    snapshot: Snapshot,
    next_runs: Mapping[str, list[RunTime]],
    shown: History,
    *,
    read_only: bool,
) -> str:
    """The whole dashboard, rendered now; the script keeps it live from then on."""
    sections = (
        ("tasks", "Tasks", tasks(snapshot.tasks, next_runs, read_only=read_only)),
        ("running", "Running jobs", running(snapshot.running, read_only=read_only)),
        ("history", "Recent jobs", history(shown, snapshot.tasks)),
        (
            "machines",
            "State machines",
            machines(snapshot.tasks_by_state, snapshot.jobs_by_status),
        ),
    )
    body = "".join(
        f'<section><h2>{e(title)}</h2><div id="{name}" data-fragment="{name}">{html}</div>'
        "</section>"
        for name, title, html in sections
    )
    mode = "true" if read_only else "false"
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>quiv dashboard</title>"
        '<link rel="icon" href="static/favicon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="static/dashboard.css">'
        '<script src="static/dashboard.js" defer></script></head>'
        f'<body data-read-only="{mode}">'
        '<header><h1>quiv</h1><span id="live" class="live">connecting…</span>'
        f'<div id="summary" data-fragment="summary">{summary(snapshot)}</div>'
        '<p id="notice" class="notice" role="status"></p></header>'
        f"<main>{body}</main></body></html>\n"
    )
