"""Issue #16's cases that need no outage: text a store cannot keep, file modes, URLs quiv
cannot use, unbounded messages, and a shutdown called twice at once. Each runs on SQLite and
on PostgreSQL where a database is involved."""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from quiv import (
    ConfigurationError,
    JobNotFoundError,
    JobStatus,
    Quiv,
    TaskNotFoundError,
)
from quiv._runner import ERROR_LIMIT_CHARACTERS

WAIT = 20.0
MakeQuiv = Callable[..., Quiv]


# -- 4 and 10: text no store can keep is refused at the call -----------------------------------


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("task_name", "abc\x00def", "NUL"),
        ("key", "abc\x00def", "NUL"),
        ("key", "bad\udcffkey", "valid Unicode"),
        ("task_name", "bad\udcffname", "valid Unicode"),
    ],
)
def test_text_a_store_cannot_keep_is_refused_at_the_call(
    durable_url: str, quiv: MakeQuiv, field: str, value: str, says: str
) -> None:
    q = quiv(database_url=durable_url)
    arguments: dict[str, Any] = {"task_name": "t", "key": "k"}
    arguments[field] = value
    with pytest.raises(ConfigurationError, match=says):
        q.add_task(func=lambda: None, interval=60, **arguments)
    assert q.get_all_tasks(include_run_once=True) == []


def test_a_nul_in_a_handlers_error_is_escaped_and_the_job_kept(
    durable_url: str, quiv: MakeQuiv
) -> None:
    q = quiv(database_url=durable_url)
    q.start()

    def handler() -> None:
        raise ValueError("abc\x00def")

    task_id = q.add_task("nul", handler, run_once=True)
    job = q.wait_for_task(task_id, timeout=WAIT)
    assert job.status == JobStatus.FAILED.value
    stored = q.get_job(job.id)  # read back from the database, not from memory
    assert stored.error_message == "abc\\x00def"


# -- 12: an error message is capped like a result ---------------------------------------------


def test_a_huge_error_message_is_cut(durable_url: str, quiv: MakeQuiv) -> None:
    q = quiv(database_url=durable_url)
    q.start()

    def handler() -> None:
        raise ValueError("x" * 5_000_000)

    job = q.wait_for_task(q.add_task("big", handler, run_once=True), timeout=WAIT)
    message = q.get_job(job.id).error_message
    assert message is not None
    assert message.startswith("x" * 1000)
    assert len(message) < ERROR_LIMIT_CHARACTERS + 200
    assert "the message had 5,000,000 characters" in message


# -- 8: a durable SQLite file is its owner's alone ---------------------------------------------


def test_durable_sqlite_files_are_created_0600(tmp_path: Any, quiv: MakeQuiv) -> None:
    path = tmp_path / "quiv.db"
    q = quiv(database_url=f"sqlite:///{path}")
    q.add_task("t", lambda: None, interval=60, key="k")
    q.start()
    q.get_all_tasks()  # the writer has written: the write-ahead log exists
    for name in ("quiv.db", "quiv.db-wal", "quiv.db-shm"):
        file = tmp_path / name
        assert file.exists(), name
        assert stat.S_IMODE(os.stat(file).st_mode) == 0o600, name


def test_an_existing_file_keeps_the_mode_its_owner_gave_it(tmp_path: Any, quiv: MakeQuiv) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    os.chmod(path, 0o640)
    quiv(database_url=str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


# -- 10: URLs quiv cannot use are configuration errors -----------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://u:secret@[::1:99999/x", "not a URL quiv can use"),
        ("postgresql://u:secret@localhost:99999/x", "not a URL quiv can use"),
        ("sqlite:///{tmp}/q.db?mode=ro", "options are not supported"),
    ],
)
def test_urls_quiv_cannot_use_are_configuration_errors(tmp_path: Any, url: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says) as raised:
        Quiv(database_url=url.format(tmp=tmp_path))
    assert "secret" not in str(raised.value)


# -- 11: a second shutdown waits for the first -------------------------------------------------


def test_a_second_shutdown_waits_for_the_first(quiv: MakeQuiv) -> None:
    q = quiv(pool_size=1)
    q.start()
    started = threading.Event()

    def slow_to_stop(_stop_event: threading.Event) -> None:
        started.set()
        _stop_event.wait(WAIT)
        time.sleep(0.3)  # it takes a moment to wind down after its stop event

    q.add_task("slow", slow_to_stop, run_once=True)
    assert started.wait(WAIT)
    first = threading.Thread(target=q.shutdown, kwargs={"timeout": WAIT})
    first.start()
    while q.lifecycle.value != "stopping":
        time.sleep(0.001)
    q.shutdown(timeout=WAIT)  # the second call, from this thread
    assert q.lifecycle.value == "stopped"  # it did not return while the first still worked
    first.join(WAIT)


# -- 9: one malformed row breaks no reader ------------------------------------------------------


def test_malformed_rows_are_skipped_with_one_warning_each(
    durable_url: str, quiv: MakeQuiv, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import text

    q = quiv(database_url=durable_url)
    # No run falls due meanwhile: a run would write its task's row whole again.
    good = q.add_task("good", lambda: None, interval=3600, delay=3600, key="good")
    bad_args = q.add_task(
        "bad-args", lambda: None, interval=3600, delay=3600, key="bad-args", args=(1,)
    )
    bad_schedule = q.add_task("bad-schedule", lambda: None, cron="0 3 * * *", key="bad-cron")
    q.start()
    job_id = q.wait_for_job(q.run_task(good), timeout=WAIT).id
    q.get_all_tasks()  # every row is written
    # Another writer (or a damaged disk) leaves rows no quiv wrote.
    statements = [
        ("UPDATE quiv_task SET args = :b WHERE id = :i", {"b": b"\xff", "i": bad_args}),
        ("UPDATE quiv_task SET schedule = '{broken' WHERE id = :i", {"i": bad_schedule}),
        ("UPDATE quiv_job SET result = 'not json' WHERE id = :i", {"i": job_id}),
    ]
    with q._store.database.engine.begin() as conn:
        for statement, values in statements:
            assert conn.execute(text(statement), values).rowcount == 1
    with caplog.at_level(logging.WARNING, logger="Quiv"):
        assert [task.id for task in q.get_all_tasks()] == [good]
        assert [task.id for task in q.get_all_tasks()] == [good]  # again: no second warning
        assert q.get_all_jobs(task_id=good) == []
        with pytest.raises(TaskNotFoundError):
            q.get_task(bad_args)
        with pytest.raises(JobNotFoundError):
            q.get_job(job_id)
    warned = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert sorted(line.split()[1] for line in warned) == sorted([bad_args, bad_schedule, job_id])
    assert q.get_task(good).task_name == "good"


# -- 6: a clean shutdown racing a heartbeat ------------------------------------------------------


def test_a_clean_shutdown_never_races_a_heartbeat(
    durable_url: str,
    quiv: MakeQuiv,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With a beat every few milliseconds, some beat always falls inside a shutdown: it must
    neither register the node again nor take the node's own last jobs for a dead one's."""
    from quiv._store import nodes as quiv_nodes

    monkeypatch.setattr(quiv_nodes, "HEARTBEAT_SECONDS", 0.002)
    with caplog.at_level(logging.WARNING, logger="Quiv"):
        for round_ in range(15):
            q = quiv(database_url=durable_url)
            q.start()
            task_id = q.add_task(f"t{round_}", lambda: None, interval=3600, key=f"k{round_}")
            q.wait_for_task(task_id, timeout=WAIT)
            q.shutdown(timeout=WAIT)
    said = [r.getMessage() for r in caplog.records]
    assert not [line for line in said if "taken for dead" in line or "None" in line], said
    later = quiv(database_url=durable_url)
    statuses = {job.status for job in later.get_all_jobs()}
    assert statuses == {JobStatus.COMPLETED.value}  # none 'interrupted' by its own node


# -- 7: a durable SQLite file deleted while in use ------------------------------------------------


def test_a_deleted_database_file_is_noticed_and_shared_runs_stop(
    tmp_path: Any, quiv: MakeQuiv, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from quiv._store import nodes as quiv_nodes

    monkeypatch.setattr(quiv_nodes, "HEARTBEAT_SECONDS", 0.05)
    path = tmp_path / "quiv.db"
    q = quiv(database_url=f"sqlite:///{path}")
    runs: list[float] = []
    q.add_task("shared", lambda: runs.append(time.monotonic()), interval=0.1, key="shared")
    with caplog.at_level(logging.ERROR, logger="Quiv"):
        q.start()
        deadline = time.monotonic() + WAIT
        while len(runs) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(runs) >= 3
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"quiv.db{suffix}").unlink(missing_ok=True)
        deadline = time.monotonic() + WAIT
        while "deleted or replaced" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # a run under way, or claimed already, may still end
        settled = len(runs)
        time.sleep(0.6)  # six more slots pass
        assert len(runs) == settled  # no shared run is claimed on a file nobody else sees
    lines = [r.getMessage() for r in caplog.records if "deleted or replaced" in r.getMessage()]
    assert len(lines) == 1  # once, not at every beat or claim
    assert "a round trip to the shared store failed" not in caplog.text


# -- 1: an outage longer than the lease -----------------------------------------------------------


def test_a_node_that_cannot_renew_its_lease_stops_its_shared_jobs(
    durable_url: str, quiv: MakeQuiv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fencing by the holder: before its lease can expire, and another process run the same
    slot, a node whose heartbeats fail asks its shared jobs to stop, and says why."""
    from sqlalchemy.exc import OperationalError

    from quiv._store import nodes as quiv_nodes

    monkeypatch.setattr(quiv_nodes, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(quiv_nodes, "FENCE_AFTER_SECONDS", 0.5)
    q = quiv(database_url=durable_url)
    started = threading.Event()

    def long_run(_stop_event: threading.Event) -> None:
        started.set()
        _stop_event.wait(WAIT)

    task_id = q.add_task("shared", long_run, interval=3600, key="shared")
    q.start()
    assert started.wait(WAIT)
    (running,) = q.get_all_jobs(status="running")

    def unanswered(conn: object) -> float:  # every heartbeat from now on fails
        raise OperationalError("SELECT now", {}, OSError("connection refused"))

    monkeypatch.setattr(q._store._nodes, "_db_now", unanswered)
    job = q.wait_for_job(running.id, timeout=WAIT)
    assert job.status == JobStatus.CANCELLED.value
    assert job.error_message is not None
    assert "could not renew its lease" in job.error_message
    assert q.get_task(task_id).id == task_id


def test_after_an_outage_others_silence_counts_from_this_nodes_return(
    durable_url: str, quiv: MakeQuiv
) -> None:
    """Nobody could beat during an outage: a node back from one must not take the others
    for dead (ending their live jobs 'interrupted', deleting their tasks) for their silence
    while it lasted."""
    from sqlalchemy import insert

    from quiv._store import _node_table
    from quiv._store.nodes import NODE_TIMEOUT_SECONDS

    q = quiv(database_url=durable_url)
    store = q._store
    quiet = time.time() - NODE_TIMEOUT_SECONDS - 5  # silent past the timeout
    with store.database.engine.begin() as conn:
        conn.execute(
            insert(_node_table).values(
                id="other", host="elsewhere", pid=1, started_at=quiet, heartbeat_at=quiet
            )
        )
    store._nodes._back_at = time.time()  # this node just reached the database again
    assert store.recover(time.time()).interrupted == []
    with store.database.engine.connect() as conn:
        assert conn.execute(_node_table.select().where(_node_table.c.id == "other")).first()
    store._nodes._back_at = 0.0  # no outage seen: the same silence is a death
    store.recover(time.time())
    with store.database.engine.connect() as conn:
        assert not conn.execute(_node_table.select().where(_node_table.c.id == "other")).first()


def test_a_write_under_a_lease_that_was_taken_over_is_refused(durable_url: str) -> None:
    """Fencing tokens: a process whose lease expired and was taken over, and which has not
    heard of it, cannot write its view of the task over its successor's."""
    from quiv._store import Claim, Store
    from quiv._store.nodes import LEASE_SECONDS

    logger = logging.getLogger("Quiv")
    a, b = Store(logger, durable_url), Store(logger, durable_url)
    try:
        a.register_node("node-a", time.time())
        b.register_node("node-b", time.time())
        row: dict[str, Any] = {
            "id": "t",
            "key": "k",
            "task_name": "t",
            "args": b"[]",
            "kwargs": b"{}",
            "interval_seconds": 60.0,
            "fixed_interval": True,
            "run_once": False,
            "status": "active",
            "next_run_at": 100.0,
            "shared": True,
            "slot": 100.0,
        }
        a.put_task(row)
        a.flush()
        assert a.claim([Claim("t", 100.0, 100.0, "job-a")], time.time()) == {"t": 1}
        # Its lease expires unrenewed; b takes the run over (it is to run again).
        taken = b.take_over("t", time.time() + LEASE_SECONDS + 1)
        assert (taken["status"], taken["lease_token"], taken["slot"]) == ("active", 2, 100.0)
        # a, back, writes the end of its run as it saw it: refused.
        ended = {**row, "slot": 160.0, "next_run_at": 160.0, "updated_by": "node-a"}
        a.put_task({**ended, "lease_token": 1})
        a.flush()
        assert (b.get_task("t") or {})["slot"] == 100.0
        # Once it has caught up with the store (the current token), its writes go through.
        a.put_task({**ended, "lease_token": 2})
        a.flush()
        assert (b.get_task("t") or {})["slot"] == 160.0
    finally:
        a.close()
        b.close()


def test_the_fence_follows_the_lease_and_the_beat_it_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A process that shortens its lease (as the multi-process tests do after import)
    fences in time for that lease, not the default one."""
    from quiv._store import Store, nodes

    store = Store(logging.getLogger("Quiv"), f"sqlite:///{tmp_path / 'q.db'}")
    try:
        monkeypatch.setattr(nodes, "LEASE_SECONDS", 2.0)
        monkeypatch.setattr(nodes, "HEARTBEAT_SECONDS", 0.2)
        assert store.fence_deadline() - store.renewed_at == pytest.approx(1.6)
    finally:
        store.close()
