"""Unit tests of ``quiv._store.Store``: the write-behind SQLite store of tasks and jobs."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import pytest
import sqlmodel

from quiv._entries import TASK_COLUMNS
from quiv._store import Store
from quiv._store import statements as store_statements
from quiv._store import writer as store_writer
from quiv.testing import wait_until

LOGGER_NAME = "quiv.tests.store"


@pytest.fixture
def store() -> Iterator[Store]:
    """A store without its writer thread: rows are committed by reads, flush and close."""
    s = Store(logging.getLogger(LOGGER_NAME))
    yield s
    s.close()


@pytest.fixture
def started_store() -> Iterator[Store]:
    """A store whose writer thread commits rows in the background."""
    s = Store(logging.getLogger(LOGGER_NAME))
    s.start()
    yield s
    s.close()


def _committed_task_ids(store: Store) -> list[str]:
    """What is in the database now, read past the store (so nothing is flushed)."""
    connection = sqlite3.connect(store.path)
    try:
        return [row[0] for row in connection.execute("SELECT id FROM quiv_task ORDER BY rowid")]
    finally:
        connection.close()


def task_row(task_id: str, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": task_id,
        "key": None,
        "scope": "deployment",
        "owner": None,
        "created_at": 1_899_999_000.25,
        "task_name": f"name-{task_id}",
        "args": b"\x80\x05)",
        "kwargs": b"\x80\x05}\x94.",
        "interval_seconds": 60.0,
        "fixed_interval": True,
        "run_once": False,
        "status": "active",
        "next_run_at": 1_900_000_000.5,
        "timeout_seconds": None,
        "max_retries": 0,
        "on_main_loop": False,
        "schedule": '{"kind": "interval", "every_seconds": 60.0}',
        "misfire": "skip",
        "misfire_grace_seconds": 2.5,
        "jitter_seconds": 0.75,
        "shared": False,
        "slot": None,
        "lease_node": None,
        "lease_job": None,
        "lease_until": None,
        "lease_token": 0,
        "updated_by": None,
        "changed_at": 0.0,
        "executor": "thread",
        "max_instances": 1,
    }
    row.update(changes)
    return row


def job_row(job_id: str, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": job_id,
        "task_id": "t1",
        "task_name": "name-t1",
        "status": "completed",
        "started_at": 100.0,
        "ended_at": 101.5,
        "duration_seconds": 1.5,
        "error_message": None,
        "attempt": 1,
        "retry_of": None,
        "result": None,
        "result_note": None,
        "unresponsive": False,
        "node": None,
        "scheduled_for": None,
        "cancel_requested": False,
        "executor": "thread",
    }
    row.update(changes)
    return row


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class _Purges:
    """Collects what purge callbacks receive."""

    def __init__(self) -> None:
        self.calls: list[float | None] = []
        self.threads: list[str] = []

    def __call__(self, oldest: float | None) -> None:
        self.calls.append(oldest)
        self.threads.append(threading.current_thread().name)


# -- the database file -----------------------------------------------------------------------


def test_private_directory_and_file(store: Store) -> None:
    directory = os.path.dirname(store.path)
    assert os.path.basename(directory).startswith("quiv-")
    assert _mode(directory) == 0o700
    assert _mode(store.path) == 0o600
    store.put_task(task_row("a"))
    store.flush()
    # Everything SQLite created beside the database (WAL and shared memory) is private too.
    files = os.listdir(directory)
    assert "quiv.sqlite3" in files
    for name in files:
        assert _mode(os.path.join(directory, name)) == 0o600, name


def test_two_stores_are_independent() -> None:
    first = Store(logging.getLogger(LOGGER_NAME))
    second = Store(logging.getLogger(LOGGER_NAME))
    try:
        assert first.path != second.path
        first.put_task(task_row("only-in-first"))
        assert first.get_task("only-in-first") is not None
        assert second.get_task("only-in-first") is None
    finally:
        first.close()
        second.close()


def test_user_sqlmodel_metadata_has_no_quiv_tables(store: Store) -> None:
    store.put_task(task_row("a"))
    store.put_job(job_row("j"))
    store.flush()
    tables = set(sqlmodel.SQLModel.metadata.tables)
    assert not {name for name in tables if name.startswith("quiv")}


# -- tasks -----------------------------------------------------------------------------------


def test_task_round_trip(store: Store) -> None:
    row = task_row("a", run_once=True, fixed_interval=False, status="paused")
    store.put_task(row)
    got = store.get_task("a")
    assert got is not None
    assert got == row
    assert type(got["fixed_interval"]) is bool
    assert type(got["args"]) is bytes
    assert store.get_task("missing") is None


def test_put_task_twice_latest_wins(store: Store) -> None:
    store.put_task(task_row("a", status="active"))
    store.put_task(task_row("a", status="paused"))  # most likely in the same batch
    assert store.get_task("a") == task_row("a", status="paused")
    store.put_task(task_row("a", status="running", next_run_at=5.0))  # a later batch
    assert store.get_task("a") == task_row("a", status="running", next_run_at=5.0)
    assert len(store.get_tasks(include_run_once=True)) == 1


def test_task_order_is_insertion_order_after_updates(store: Store) -> None:
    for task_id in ("c", "a", "b"):
        store.put_task(task_row(task_id))
    store.flush()
    store.put_task(task_row("c", status="paused"))  # an update keeps the place
    store.put_task(task_row("d"))
    store.put_task(task_row("a", status="running"))
    tasks = store.get_tasks(include_run_once=True)
    assert [t["id"] for t in tasks] == ["c", "a", "b", "d"]
    assert [t["status"] for t in tasks] == ["paused", "running", "active", "active"]


def test_delete_task(store: Store) -> None:
    store.put_task(task_row("a"))
    store.put_task(task_row("b"))
    store.flush()
    store.delete_task("a")
    assert store.get_task("a") is None
    assert [t["id"] for t in store.get_tasks(include_run_once=True)] == ["b"]
    store.delete_task("never-existed")  # no error
    assert [t["id"] for t in store.get_tasks(include_run_once=True)] == ["b"]


def test_put_then_delete_before_a_write(store: Store) -> None:
    with store._writer._write_lock:  # hold the writer off so both land in one batch
        store.put_task(task_row("a"))
        store.delete_task("a")
    assert store.get_task("a") is None


def test_delete_keeps_the_jobs(store: Store) -> None:
    store.put_task(task_row("t1"))
    store.put_job(job_row("j1", task_id="t1"))
    store.delete_task("t1")
    assert store.get_task("t1") is None
    assert store.get_job("j1") is not None
    assert store.has_jobs_of("t1")


def test_include_run_once(store: Store) -> None:
    store.put_task(task_row("every-minute"))
    store.put_task(task_row("once", run_once=True))
    store.put_task(task_row("hourly", interval_seconds=3600.0))
    assert [t["id"] for t in store.get_tasks(include_run_once=False)] == [
        "every-minute",
        "hourly",
    ]
    assert [t["id"] for t in store.get_tasks(include_run_once=True)] == [
        "every-minute",
        "once",
        "hourly",
    ]


# -- jobs ------------------------------------------------------------------------------------


def test_job_round_trip(store: Store) -> None:
    row = job_row("j1", status="failed", error_message="ValueError: boom")
    store.put_job(row)
    assert store.get_job("j1") == row
    running = job_row("j2", status="running", ended_at=None, duration_seconds=None)
    store.put_job(running)
    assert store.get_job("j2") == running
    assert store.get_job("missing") is None


def test_put_job_twice_latest_wins(store: Store) -> None:
    store.put_job(job_row("j", status="scheduled", ended_at=None, duration_seconds=None))
    store.put_job(job_row("j", status="running", ended_at=None, duration_seconds=None))
    store.flush()
    store.put_job(job_row("j", status="completed"))
    assert store.get_job("j") == job_row("j", status="completed")
    assert store.count_jobs() == 1


def test_get_jobs_order_and_status_filter(store: Store) -> None:
    store.put_job(job_row("late", started_at=300.0))
    store.put_job(job_row("early", started_at=100.0, status="failed"))
    store.put_job(job_row("tie-1", started_at=200.0))
    store.put_job(job_row("tie-2", started_at=200.0, status="running", ended_at=None))
    store.put_job(job_row("tie-3", started_at=200.0))
    all_jobs = store.get_jobs(status=None)
    assert [j["id"] for j in all_jobs] == ["early", "tie-1", "tie-2", "tie-3", "late"]
    completed = store.get_jobs(status="completed")
    assert [j["id"] for j in completed] == ["tie-1", "tie-3", "late"]
    assert [j["id"] for j in store.get_jobs(status="running")] == ["tie-2"]
    assert store.get_jobs(status="cancelled") == []
    assert store.count_jobs() == 5


def test_has_jobs_of(store: Store) -> None:
    assert not store.has_jobs_of("t1")
    store.put_job(job_row("j1", task_id="t1"))
    assert store.has_jobs_of("t1")
    assert not store.has_jobs_of("t2")


# -- purge -----------------------------------------------------------------------------------


def _history(store: Store) -> None:
    store.put_job(job_row("done-10", status="completed", ended_at=10.0))
    store.put_job(job_row("failed-20", status="failed", ended_at=20.0))
    store.put_job(job_row("cancelled-30", status="cancelled", ended_at=30.0))
    store.put_job(job_row("running", status="running", started_at=1.0, ended_at=None))
    store.put_job(job_row("scheduled", status="scheduled", started_at=2.0, ended_at=None))


def test_purge_deletes_finished_jobs_ended_at_or_before_the_cutoff(store: Store) -> None:
    _history(store)
    done = _Purges()
    store.purge(20.0, done)
    store.flush()
    assert done.calls == [30.0]  # the oldest finished job left
    remaining = {j["id"] for j in store.get_jobs(status=None)}
    assert remaining == {"cancelled-30", "running", "scheduled"}


def test_purge_everything_finished_reports_none(store: Store) -> None:
    _history(store)
    done = _Purges()
    store.purge(1e12, done)
    store.flush()
    assert done.calls == [None]
    # Jobs without an end are never purged.
    assert {j["id"] for j in store.get_jobs(status=None)} == {"running", "scheduled"}


def test_purge_with_nothing_to_delete(store: Store) -> None:
    _history(store)
    done = _Purges()
    store.purge(5.0, done)
    store.flush()
    assert done.calls == [10.0]
    assert store.count_jobs() == 5


def test_purge_on_an_empty_store(store: Store) -> None:
    done = _Purges()
    store.purge(100.0, done)
    store.flush()
    assert done.calls == [None]


def test_purge_runs_after_the_rows_of_its_batch(store: Store) -> None:
    done = _Purges()
    with store._writer._write_lock:  # hold the writer off: the job and the purge make one batch
        store.put_job(job_row("j", ended_at=50.0))
        store.purge(50.0, done)
    store.flush()
    assert done.calls == [None]
    assert store.get_job("j") is None


def test_purge_callback_runs_on_the_writer_thread(started_store: Store) -> None:
    done = _Purges()
    finished = threading.Event()

    def callback(oldest: float | None) -> None:
        done(oldest)
        finished.set()

    started_store.purge(1.0, callback)  # no flush: the writer thread must pick it up itself
    assert finished.wait(timeout=10)
    assert done.calls == [None]
    assert done.threads == ["quiv-store"]


def test_failing_purge_callback_is_logged(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger=LOGGER_NAME)

    def broken(oldest: float | None) -> None:
        raise RuntimeError("callback broke")

    store.purge(1.0, broken)
    store.flush()
    records = [r for r in caplog.records if r.name == LOGGER_NAME]
    assert [r.getMessage() for r in records] == ["store: purge callback failed"]
    assert records[0].exc_info is not None
    assert store.write_failures == 0  # the write itself succeeded
    store.put_task(task_row("after"))
    assert store.get_task("after") is not None


# -- flush and close -------------------------------------------------------------------------


def test_without_the_writer_rows_wait_for_flush(store: Store) -> None:
    store.put_task(task_row("a"))
    store.put_task(task_row("b"))
    assert _committed_task_ids(store) == []
    store.flush()
    assert _committed_task_ids(store) == ["a", "b"]


def test_flush_makes_writes_visible_to_another_connection(store: Store) -> None:
    store.put_task(task_row("a"))
    store.put_job(job_row("j"))
    store.flush()
    connection = sqlite3.connect(store.path)
    try:
        tasks = connection.execute("SELECT id, status FROM quiv_task").fetchall()
        jobs = connection.execute("SELECT id, status FROM quiv_job").fetchall()
    finally:
        connection.close()
    assert tasks == [("a", "active")]
    assert jobs == [("j", "completed")]


def test_the_writer_thread_commits_without_a_read(started_store: Store) -> None:
    started_store.put_task(task_row("a"))
    wait_until(lambda: _committed_task_ids(started_store) == ["a"], timeout=10)
    started_store.delete_task("a")
    wait_until(lambda: _committed_task_ids(started_store) == [], timeout=10)


def test_a_deferring_thread_wakes_the_writer_only_when_it_nudges(started_store: Store) -> None:
    # The scheduler thread defers: its rows wait for its nudge, so that the writer does not
    # wake (and take the GIL) at the instant a job starts. Other threads' rows do not wait.
    started_store.defer_nudges()
    started_store.put_task(task_row("a"))
    assert not started_store._pending._wake.is_set()
    assert started_store.take_deferred()
    assert not started_store.take_deferred()  # taken once
    time.sleep(0.1)  # the writer would have committed by now, had it been woken
    assert _committed_task_ids(started_store) == []
    started_store.nudge()
    wait_until(lambda: _committed_task_ids(started_store) == ["a"], timeout=10)

    other = threading.Thread(target=lambda: started_store.put_task(task_row("b")))
    other.start()
    other.join()
    assert not started_store.take_deferred()
    wait_until(lambda: _committed_task_ids(started_store) == ["a", "b"], timeout=10)


def test_start_is_idempotent(started_store: Store) -> None:
    writer = started_store._writer._thread
    started_store.start()
    assert started_store._writer._thread is writer
    assert sum(t.name == "quiv-store" and t is writer for t in threading.enumerate()) == 1


def test_flush_with_nothing_pending(store: Store) -> None:
    store.flush()
    store.flush()
    assert store.get_tasks(include_run_once=True) == []
    assert store.write_failures == 0


def test_concurrent_writers(started_store: Store) -> None:
    store = started_store

    def writer(prefix: str) -> None:
        for i in range(50):
            store.put_job(job_row(f"{prefix}-{i}", started_at=float(i)))
            if i % 10 == 0:
                store.flush()

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
        assert not thread.is_alive()
    assert store.count_jobs() == 200
    assert store.write_failures == 0


@pytest.mark.parametrize("start", [False, True], ids=["no-writer", "writer"])
def test_close_writes_pending_rows_then_deletes_everything(start: bool) -> None:
    store = Store(logging.getLogger(LOGGER_NAME))
    if start:
        store.start()
    directory = os.path.dirname(store.path)
    done = _Purges()
    with store._writer._write_lock:  # keep the batch pending until close
        store.put_job(job_row("j", ended_at=5.0))
        store.purge(10.0, done)
    store.close()
    assert done.calls == [None]  # the pending batch was written before closing
    assert not os.path.exists(directory)
    assert store._writer._thread is None or not store._writer._thread.is_alive()
    store.close()  # idempotent
    assert not os.path.exists(directory)


def test_start_after_close_does_nothing() -> None:
    store = Store(logging.getLogger(LOGGER_NAME))
    store.close()
    store.start()
    assert store._writer._thread is None


# -- write failures --------------------------------------------------------------------------


class _BrokenEngine:
    """Delegates to the real engine, except that every write transaction fails."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def begin(self) -> Any:
        raise OSError("disk full")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _store_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER_NAME and r.levelno >= logging.ERROR]


def test_failed_write_is_logged_and_the_store_keeps_working(
    store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    store.put_task(task_row("before"))
    store.flush()
    real = store._writer._engine
    monkeypatch.setattr(store._writer, "_engine", _BrokenEngine(real))
    store.put_task(task_row("retried"))
    store.flush()
    store.flush()  # tried again: an outage is logged once, not at every try
    assert store.write_failures == 2
    assert store.unanswered
    assert store.waiting() == (1, 0)  # kept, however many tries fail
    said = [r.getMessage() for r in caplog.records if r.name == LOGGER_NAME]
    assert said == [
        "store: the database does not answer (OSError: disk full); 1 rows wait, and are "
        "written when it answers again (tried every few seconds, logged once)"
    ]
    assert _store_errors(caplog) == []

    monkeypatch.setattr(store._writer, "_engine", real)
    store.put_task(task_row("after"))
    store.put_job(job_row("j-after"))
    assert store.get_task("after") is not None
    assert store.get_job("j-after") is not None
    assert store.get_task("before") is not None
    assert store.get_task("retried") is not None  # the failed batch was written after all
    assert store.write_failures == 2
    assert not store.unanswered
    assert "store: the database answers again after" in caplog.records[-1].getMessage()
    assert _store_errors(caplog) == []


def test_bad_row_is_logged_and_later_writes_succeed(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=LOGGER_NAME)
    store.put_job(job_row("bad", started_at=object()))  # SQLite cannot bind an object
    store.flush()
    assert store.write_failures == 1
    records = _store_errors(caplog)
    assert len(records) == 1
    assert "0 task and 1 job rows failed" in records[0].getMessage()
    # Retried row by row, so that it costs only itself, then given up on. (A row that
    # waits is read from memory meanwhile.)
    assert store.get_job("bad") is not None
    store.put_job(job_row("good"))
    store.flush()
    assert store.get_job("good") == job_row("good")
    store.flush()
    assert store.get_job("bad") is None
    assert store.write_failures == 3
    assert "giving up on job bad after 3 failed writes" in caplog.text
    store.put_job(job_row("later"))
    assert store.get_job("later") == job_row("later")
    assert store.write_failures == 3


def test_purge_callback_is_called_even_when_the_write_fails(
    store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.CRITICAL, logger=LOGGER_NAME)
    monkeypatch.setattr(store._writer, "_engine", _BrokenEngine(store._writer._engine))
    done = _Purges()
    store.purge(100.0, done)
    store.flush()
    assert store.write_failures == 1
    # The caller must hear back somehow, or it can never schedule another purge.
    assert len(done.calls) == 1


class _RecordingEvent(threading.Event):
    """The store's wake-up event, noting when it is set after the store began closing."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.set_while_closing = threading.Event()

    def set(self) -> None:
        super().set()
        if self.store._writer.closed:
            self.set_while_closing.set()


def test_close_during_the_writer_pause_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    pausing = threading.Event()
    resume = threading.Event()

    def pause(seconds: float) -> None:
        pausing.set()
        resume.wait(10)

    # Hold the writer inside its pause before a batch (if it has one) until close has run.
    monkeypatch.setattr(
        store_writer,
        "time",
        types.SimpleNamespace(sleep=pause, monotonic=time.monotonic, time=time.time),
    )
    store = Store(logging.getLogger(LOGGER_NAME))
    wake = _RecordingEvent(store)
    store._pending._wake = wake
    store.start()
    store.put_task(task_row("a"))
    pausing.wait(1)
    closer = threading.Thread(target=store.close, name="closer", daemon=True)
    closer.start()
    try:
        assert wake.set_while_closing.wait(10)
        resume.set()
        closer.join(timeout=2)
        assert not closer.is_alive(), "Store.close() is stuck joining the writer thread"
    finally:
        resume.set()
        wake.set()  # release a writer stuck on the lost wake-up, so close can finish
        closer.join(timeout=10)
    assert not os.path.exists(os.path.dirname(store.path))


def test_a_new_task_deleted_before_its_commit_writes_nothing(store, monkeypatch) -> None:
    store.put_task(task_row("kept"))
    store.flush()
    batches: list[tuple[int, int]] = []
    real_write = store._writer._write

    def counting_write(tasks, jobs, purge) -> None:
        batches.append((len(tasks), len(jobs)))
        real_write(tasks, jobs, purge)

    monkeypatch.setattr(store._writer, "_write", counting_write)
    store.put_task(task_row("brief"), new=True)  # a run-once task that ran and ended...
    store.put_task(task_row("brief", status="running"))  # ...before the writer got to it
    store.delete_task("brief")
    store.flush()
    assert batches == []  # nothing to write at all
    store.delete_task("kept")  # a task that was committed is deleted for real
    store.flush()
    assert batches == [(1, 0)]
    assert store.get_tasks(include_run_once=True) == []


# -- task states: status and next run alone -----------------------------------------------


def _committed_task(store: Store, task_id: str) -> tuple[str, float, str] | None:
    """(status, next_run_at, task_name) as committed, read past the store."""
    connection = sqlite3.connect(store.path)
    try:
        row = connection.execute(
            "SELECT status, next_run_at, task_name FROM quiv_task WHERE id = ?", (task_id,)
        ).fetchone()
    finally:
        connection.close()
    return None if row is None else (row[0], row[1], row[2])


def test_a_state_merges_into_its_pending_row(store: Store) -> None:
    store.put_task(task_row("a", status="active", next_run_at=1.0))
    store.put_task_state("a", "running", 2.0)
    assert len(store._pending._tasks) == 1  # one whole row to write, not a row and a state
    assert store.get_task("a") == task_row("a", status="running", next_run_at=2.0)


def test_a_state_of_a_stored_row_changes_only_status_and_next_run(store: Store) -> None:
    store.put_task(task_row("a", status="active", next_run_at=1.0))
    store.flush()
    store.put_task_state("a", "running", 2.0)
    store.put_task_state("a", "active", 3.0)  # the later state wins
    assert store._pending._tasks["a"] == ("active", 3.0)  # a state alone: the row is stored
    store.flush()
    assert _committed_task(store, "a") == ("active", 3.0, "name-a")
    assert store.get_task("a") == task_row("a", status="active", next_run_at=3.0)


def test_a_pending_deletion_wins_over_a_later_state(store: Store) -> None:
    store.put_task(task_row("a"))
    store.flush()
    store.delete_task("a")
    store.put_task_state("a", "running", 2.0)
    assert store.get_task("a") is None


def test_a_whole_row_replaces_a_pending_state(store: Store) -> None:
    store.put_task(task_row("a"))
    store.flush()
    store.put_task_state("a", "running", 2.0)
    store.put_task(task_row("a", task_name="renamed", status="paused", next_run_at=9.0))
    store.flush()
    assert _committed_task(store, "a") == ("paused", 9.0, "renamed")


class _StateDuringFailedWrite(_BrokenEngine):
    """Fails every write transaction, after a state of task 'a' was handed over."""

    def __init__(self, real: Any, store: Store) -> None:
        super().__init__(real)
        self.store = store

    def begin(self) -> Any:
        self.store.put_task_state("a", "running", 7.0)
        return super().begin()


def test_a_failed_row_written_again_takes_the_state_handed_over_meanwhile(
    store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The row was never stored: written as the state alone, it would be lost.
    caplog.set_level(logging.CRITICAL, logger=LOGGER_NAME)
    real = store._writer._engine
    store.put_task(task_row("a", status="active", next_run_at=1.0))
    monkeypatch.setattr(store._writer, "_engine", _StateDuringFailedWrite(real, store))
    store.flush()
    assert store.write_failures == 1
    monkeypatch.setattr(store._writer, "_engine", real)
    store.flush()
    assert _committed_task(store, "a") == ("running", 7.0, "name-a")


# -- new tasks: rows built from their source at the commit ---------------------------------


class _Source:
    """A task whose row is made from its current fields, as ``TaskEntry.values()`` does."""

    def __init__(self, task_id: str, **changes: Any) -> None:
        self.row = task_row(task_id, **changes)
        self.built = 0

    def values(self) -> tuple[Any, ...]:
        self.built += 1
        return tuple(self.row[column] for column in TASK_COLUMNS)


def test_a_new_task_row_is_built_at_its_commit_from_its_state_then(store: Store) -> None:
    source = _Source("a", status="active", next_run_at=1.0)
    store.put_new_task("a", source)
    source.row.update(status="running", next_run_at=2.0)  # the scheduler ran it meanwhile
    store.put_task_state("a", "running", 2.0)
    assert store._pending._tasks["a"] is source  # still the task itself: no copy of its row waits
    assert source.built == 0
    store.flush()
    assert source.built == 1
    assert _committed_task(store, "a") == ("running", 2.0, "name-a")


def test_a_new_task_is_replaced_by_a_whole_row_or_deleted(store: Store) -> None:
    store.put_new_task("a", _Source("a"))
    store.put_task(task_row("a", task_name="registered again"))
    store.put_new_task("b", _Source("b"))
    store.delete_task("b")  # never written: nothing to delete
    store.flush()
    assert _committed_task(store, "a") == ("active", 1_900_000_000.5, "registered again")
    assert _committed_task_ids(store) == ["a"]


def test_a_burst_of_new_tasks_is_written_in_chunks_in_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_statements, "SOURCE_CHUNK", 4)
    sources = [_Source(f"t{i:02d}") for i in range(10)]
    built_before_each: list[int] = []
    real = store._writer._engine

    class Counting(_BrokenEngine):
        def begin(self) -> Any:
            return _CountingBegin(real.begin(), sources, built_before_each)

    for source in sources:
        store.put_new_task(source.row["id"], source)
    monkeypatch.setattr(store._writer, "_engine", Counting(real))
    store.flush()
    monkeypatch.setattr(store._writer, "_engine", real)
    # Three statements of 4, 4 and 2 rows, each built just before it ran.
    assert built_before_each == [4, 8, 10]
    assert _committed_task_ids(store) == [source.row["id"] for source in sources]


class _CountingBegin:
    """A transaction whose connection counts the rows built before each statement."""

    def __init__(self, real: Any, sources: list[_Source], counts: list[int]) -> None:
        self.real, self.sources, self.counts = real, sources, counts

    def __enter__(self) -> Any:
        conn = self.real.__enter__()
        counts, sources = self.counts, self.sources
        run = conn.exec_driver_sql

        def exec_driver_sql(statement: str, parameters: Any = None) -> Any:
            counts.append(sum(source.built for source in sources))
            return run(statement, parameters)

        return types.SimpleNamespace(exec_driver_sql=exec_driver_sql)

    def __exit__(self, *exc: Any) -> Any:
        return self.real.__exit__(*exc)


def test_a_new_task_whose_write_failed_is_written_again_from_its_state(
    store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.CRITICAL, logger=LOGGER_NAME)
    real = store._writer._engine
    source = _Source("a", status="active", next_run_at=1.0)
    store.put_new_task("a", source)
    monkeypatch.setattr(store._writer, "_engine", _BrokenEngine(real))
    store.flush()
    assert store.write_failures == 1
    source.row.update(status="running", next_run_at=7.0)
    store.put_task_state("a", "running", 7.0)
    assert store._pending._tasks["a"] is source
    monkeypatch.setattr(store._writer, "_engine", real)
    store.flush()
    assert _committed_task(store, "a") == ("running", 7.0, "name-a")


# -- many rows per statement (SQLite) -------------------------------------------------------


class _Recorder:
    """A connection that records the statements run on it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def exec_driver_sql(self, statement: str, parameters: tuple[Any, ...]) -> None:
        self.calls.append((statement, parameters))


def test_multi_row_statements_take_rows_in_powers_of_two_in_order() -> None:
    statement = "INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT"
    multi = store_statements._MultiRow(statement, "(?, ?)", 2)
    conn = _Recorder()
    rows = [(i, -i) for i in range(300)]
    multi.run(conn, rows)
    sizes = [statement.count("(?, ?)") for statement, _ in conn.calls]
    most = store_statements.MULTI_ROW_MAX
    assert sizes == [most] * (256 // most) + [32, 8, 4]  # 300 rows, at most `most` a statement
    assert [len(parameters) for _, parameters in conn.calls] == [2 * size for size in sizes]
    flat = [value for _, parameters in conn.calls for value in parameters]
    assert flat == [value for row in rows for value in row]
    assert conn.calls[0][0].startswith("INSERT INTO t (a, b) VALUES (?, ?), (?, ?)")
    assert conn.calls[0][0].endswith("(?, ?) ON CONFLICT")


def test_multi_row_statements_stay_within_the_parameter_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store_statements, "_SQLITE_MAX_PARAMETERS", 999)  # SQLite before 3.32
    multi = store_statements._MultiRow("INSERT INTO t VALUES (?, ?, ?)", "(?, ?, ?)", 27)
    conn = _Recorder()
    multi.run(conn, [(0,) * 27] * 100)
    assert max(len(parameters) for _, parameters in conn.calls) <= 999
    assert sum(len(parameters) for _, parameters in conn.calls) == 100 * 27


def test_a_large_batch_of_tasks_jobs_and_deletions_is_written_in_order(store: Store) -> None:
    for i in range(300):
        store.put_task(task_row(f"t{i:03d}"))
    store.flush()
    for i in range(0, 300, 3):
        store.delete_task(f"t{i:03d}")
    for i in range(300, 600):
        store.put_new_task(f"t{i:03d}", _Source(f"t{i:03d}"))
    for i in range(700):
        store.put_job(job_row(f"j{i:03d}", task_id="t001"))
    store.flush()
    expected = [f"t{i:03d}" for i in range(600) if i >= 300 or i % 3]
    assert _committed_task_ids(store) == expected
    jobs = store.get_jobs(status=None)
    assert [job["id"] for job in jobs] == [f"j{i:03d}" for i in range(700)]


def test_a_failed_purge_alone_is_not_reported_as_rows(
    store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy.exc

    class Refusing:
        def begin(self) -> Any:
            raise sqlalchemy.exc.ProgrammingError("DELETE", {}, ValueError("refused"))

    caplog.set_level(logging.ERROR, logger=LOGGER_NAME)
    answers: list[float | None] = []
    monkeypatch.setattr(store._writer, "_engine", Refusing())
    store.purge(0.0, answers.append)
    store.flush()
    assert answers == [None]  # the scheduler hears back all the same
    assert [r.getMessage() for r in _store_errors(caplog)] == [
        "store: purging the job history failed"
    ]


# -- recovery: who is dead -------------------------------------------------------------------


def test_dead_nodes_are_the_silent_and_the_local_ones_without_a_live_process() -> None:
    from quiv._store.recovery import dead_nodes

    gone_pid = 2**31 - 1  # no process has it
    me, here = "me", "this-host"

    def node(node_id: str, heartbeat_at: float, host: str = "elsewhere", pid: int = 1) -> Any:
        return {"id": node_id, "heartbeat_at": heartbeat_at, "host": host, "pid": pid}

    nodes = [
        node("me", 0.0, here, os.getpid()),  # never itself, however silent
        node("silent", 10.0),
        node("beating", 200.0),
        node("local-and-gone", 200.0, here, gone_pid),
        node("previous-life", 200.0, here, os.getpid()),  # this pid, not a live node of it
        node("live-sibling", 200.0, here, os.getpid()),
        node("gone-elsewhere", 200.0, "elsewhere", gone_pid),  # not ours to check
    ]
    seen = {"me": me, "silent_since": 100.0, "host": here, "live": {"me", "live-sibling"}}
    assert dead_nodes(nodes, back_at=0.0, **seen) == ["silent", "local-and-gone", "previous-life"]
    # Back from an outage at 150: the silence before it counts for nobody.
    assert dead_nodes(nodes, back_at=150.0, **seen) == ["local-and-gone", "previous-life"]
