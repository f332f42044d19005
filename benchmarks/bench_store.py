"""Store: task inserts, job record writes and the ``get_*`` reads at 10^3 ... 10^5 rows.

Each size has one ``Store`` (not started: ``flush`` commits on the caller's thread, which is
what the writer thread does in a running scheduler) holding ``n`` tasks and ``n`` jobs, 1 %
of them failed. The baseline is the Python ``sqlite3`` driver alone on the same database
file: the same SQL, without SQLAlchemy and without the store's row dicts.

- ``store.task_insert``: a round puts 1,000 new task rows and commits them (teardown, untimed,
  deletes them again).
- ``store.job_write``: a round records 1,000 jobs the way the scheduler does (three
  ``put_job`` per job: scheduled, running, completed; coalesced into one row each by the
  batch) and commits; baselines: one upsert per job in one transaction, and an unbatched
  writer that commits each of the three changes on its own.
- ``store.<read>``: one read through the store against the same query through ``sqlite3``.

``extra_info["rows_per_round"]`` says how many rows one round writes.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from typing import Any

import pytest

from quiv._store import JobRow, Store, TaskRow

SIZES = [10**3, 10**4, 10**5]
BATCH = 1000
_TASK_COLUMNS = TaskRow.__table__.c  # type: ignore[attr-defined]
_JOB_COLUMNS = JobRow.__table__.c  # type: ignore[attr-defined]


def _complete(columns: Any, row: dict[str, Any]) -> dict[str, Any]:
    """Every column of ``row``, the omitted ones at their declared default."""
    full = {}
    for column in columns:
        default = column.default.arg if column.default is not None else None
        full[column.name] = row.get(column.name, default)
    return full


def _upsert_sql(table: str, names: list[str]) -> str:
    sets = ", ".join(f"{name} = excluded.{name}" for name in names if name != "id")
    marks = ", ".join(f":{name}" for name in names)
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks}) "
        f"ON CONFLICT (id) DO UPDATE SET {sets}"
    )


TASK_UPSERT = _upsert_sql("quiv_task", [c.name for c in _TASK_COLUMNS])
JOB_UPSERT = _upsert_sql("quiv_job", [c.name for c in _JOB_COLUMNS])


def task_row(task_id: str) -> dict[str, Any]:
    return {
        "id": task_id,
        "task_name": "report",
        "args": b"\x80\x05).",
        "kwargs": b"\x80\x05}\x94.",
        "interval_seconds": 60.0,
        "fixed_interval": True,
        "run_once": False,
        "status": "active",
        "next_run_at": 1.8e9,
    }


def job_row(job_id: str, task_id: str, status: str, at: float) -> dict[str, Any]:
    ended = status in ("completed", "failed")
    return {
        "id": job_id,
        "task_id": task_id,
        "task_name": "report",
        "status": status,
        "started_at": at,
        "ended_at": at + 0.01 if ended else None,
        "duration_seconds": 0.01 if ended else None,
        "error_message": "boom" if status == "failed" else None,
    }


class Filled:
    """A store of ``n`` tasks and ``n`` jobs, and a raw connection to its file."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.store = Store(logging.getLogger("quiv-bench"))
        self.task_ids = [str(uuid.uuid4()) for _ in range(n)]
        self.job_ids = [str(uuid.uuid4()) for _ in range(n)]
        for task_id in self.task_ids:
            self.store.put_task(task_row(task_id))
        for i, job_id in enumerate(self.job_ids):
            status = "failed" if i % 100 == 0 else "completed"
            self.store.put_job(job_row(job_id, self.task_ids[i], status, 1.7e9 + i))
        self.store.flush()
        self.raw = sqlite3.connect(self.store.path, check_same_thread=False)
        self.raw.execute("PRAGMA synchronous=OFF")
        self.raw.row_factory = sqlite3.Row

    def delete(self, table: str, ids: list[str]) -> None:
        with self.raw:
            self.raw.executemany(f"DELETE FROM {table} WHERE id = ?", [(i,) for i in ids])


_filled: dict[int, Filled] = {}


def filled(n: int) -> Filled:
    if n not in _filled:
        _filled[n] = Filled(n)
    return _filled[n]


def _sizes() -> list[Any]:
    return [pytest.param(n, id=f"10^{len(str(n)) - 1}") for n in SIZES]


def _info(benchmark: Any, group: str, impl: str, n: int, rows: int = 1) -> None:
    benchmark.group = f"store.{group}"
    benchmark.extra_info.update(concept="store", op=group, impl=impl, n=n, rows_per_round=rows)


@pytest.mark.parametrize("impl", ["quiv", "sqlite3"])
@pytest.mark.parametrize("n", _sizes())
def test_task_insert(benchmark: Any, n: int, impl: str) -> None:
    """1,000 new task rows handed over and committed."""
    _info(benchmark, "task_insert", impl, n, BATCH)
    data = filled(n)

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return ([task_row(str(uuid.uuid4())) for _ in range(BATCH)],), {}

    def quiv(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            data.store.put_task(row)
        data.store.flush()

    def raw(rows: list[dict[str, Any]]) -> None:
        with data.raw:
            data.raw.executemany(TASK_UPSERT, [_complete(_TASK_COLUMNS, r) for r in rows])

    def teardown(rows: list[dict[str, Any]]) -> None:
        data.delete("quiv_task", [row["id"] for row in rows])

    target = quiv if impl == "quiv" else raw
    benchmark.pedantic(target, setup=setup, teardown=teardown, rounds=10, warmup_rounds=1)


@pytest.mark.parametrize("impl", ["quiv", "sqlite3-batched", "sqlite3-commit-each"])
@pytest.mark.parametrize("n", _sizes())
def test_job_write(benchmark: Any, n: int, impl: str) -> None:
    """1,000 jobs recorded: scheduled, running, completed."""
    _info(benchmark, "job_write", impl, n, BATCH)
    data = filled(n)
    task_id = data.task_ids[0]

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        ids = [str(uuid.uuid4()) for _ in range(BATCH)]
        changes = [
            [job_row(job_id, task_id, status, 1.8e9) for job_id in ids]
            for status in ("scheduled", "running", "completed")
        ]
        if impl != "quiv":
            changes = [[_complete(_JOB_COLUMNS, row) for row in rows] for rows in changes]
        return (ids, changes), {}

    def quiv(ids: list[str], changes: list[list[dict[str, Any]]]) -> None:
        for rows in changes:
            for row in rows:
                data.store.put_job(row)
        data.store.flush()

    def batched(ids: list[str], changes: list[list[dict[str, Any]]]) -> None:
        with data.raw:
            data.raw.executemany(JOB_UPSERT, changes[-1])

    def commit_each(ids: list[str], changes: list[list[dict[str, Any]]]) -> None:
        for rows in changes:
            for row in rows:
                with data.raw:
                    data.raw.execute(JOB_UPSERT, row)

    def teardown(ids: list[str], changes: list[list[dict[str, Any]]]) -> None:
        data.delete("quiv_job", ids)

    target = {"quiv": quiv, "sqlite3-batched": batched, "sqlite3-commit-each": commit_each}[impl]
    benchmark.pedantic(target, setup=setup, teardown=teardown, rounds=10, warmup_rounds=1)


def _reads(data: Filled) -> dict[str, tuple[Any, Any]]:
    """read -> (through the store, through sqlite3); both return the rows as dicts."""
    store, raw = data.store, data.raw
    task_id = data.task_ids[len(data.task_ids) // 2]
    job_id = data.job_ids[len(data.job_ids) // 2]

    def fetch(sql: str, *params: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in raw.execute(sql, params)]

    return {
        "get_task": (
            lambda: store.get_task(task_id),
            lambda: fetch("SELECT * FROM quiv_task WHERE id = ?", task_id),
        ),
        "get_job": (
            lambda: store.get_job(job_id),
            lambda: fetch("SELECT * FROM quiv_job WHERE id = ?", job_id),
        ),
        "has_jobs_of": (
            lambda: store.has_jobs_of(task_id),
            lambda: fetch("SELECT id FROM quiv_job WHERE task_id = ? LIMIT 1", task_id),
        ),
        "count_jobs": (
            store.count_jobs,
            lambda: raw.execute("SELECT count(*) FROM quiv_job").fetchone()[0],
        ),
        "get_jobs_failed": (
            lambda: store.get_jobs(status="failed"),
            lambda: fetch(
                "SELECT * FROM quiv_job WHERE status = ? ORDER BY started_at, rowid", "failed"
            ),
        ),
        "get_tasks_all": (
            lambda: store.get_tasks(include_run_once=False),
            lambda: fetch("SELECT * FROM quiv_task WHERE run_once = 0 ORDER BY rowid"),
        ),
        "get_jobs_all": (
            lambda: store.get_jobs(status=None),
            lambda: fetch("SELECT * FROM quiv_job ORDER BY started_at, rowid"),
        ),
    }


READS = [
    "get_task",
    "get_job",
    "has_jobs_of",
    "count_jobs",
    "get_jobs_failed",
    "get_tasks_all",
    "get_jobs_all",
]


@pytest.mark.benchmark(max_time=0.3, min_rounds=3)
@pytest.mark.parametrize("impl", ["quiv", "sqlite3"])
@pytest.mark.parametrize("n", _sizes())
@pytest.mark.parametrize("read", READS)
def test_read(benchmark: Any, read: str, n: int, impl: str) -> None:
    """One read of the history (the reads that return every row return n rows)."""
    _info(benchmark, read, impl, n)
    data = filled(n)
    through_store, through_sqlite = _reads(data)[read]
    if read.endswith("_all") and n >= 10**5:
        result = benchmark.pedantic(
            through_store if impl == "quiv" else through_sqlite, rounds=3, warmup_rounds=0
        )
    else:
        result = benchmark(through_store if impl == "quiv" else through_sqlite)
    if read.endswith("_all"):
        assert len(result) in (n, n // 100)
