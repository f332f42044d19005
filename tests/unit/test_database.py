"""The database a store lives in: URL forms, durable schema creation, versions, migrations."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from quiv import ConfigurationError, DatabaseInitializationError, DatabaseSchemaError, _database
from quiv._arguments import JSON, PICKLE
from quiv._database import SCHEMA_VERSION, open_database
from quiv._store import Store, _registry

METADATA = _registry.metadata


def _version(url: str) -> int:
    database = open_database(url, METADATA)
    try:
        with database.engine.connect() as conn:
            value = conn.execute(text("SELECT version FROM quiv_schema")).scalar_one()
            count = conn.execute(text("SELECT count(*) FROM quiv_schema")).scalar_one()
        assert count == 1
        return int(value)
    finally:
        database.close()


def _execute(url: str, statement: str) -> None:
    database = open_database(url, METADATA)
    try:
        with database.engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        database.close()


# -- kinds and URL forms -------------------------------------------------------------------


def test_the_default_is_private_and_deleted_when_closed() -> None:
    database = open_database(None, METADATA)
    assert database.kind == "private"
    assert not database.durable
    assert database.path is not None
    assert os.path.exists(database.path)
    directory = database.directory
    database.close()
    assert directory is not None
    assert not os.path.exists(directory)


@pytest.mark.parametrize("form", ["plain", "url", "pathlike"])
def test_a_sqlite_file_is_durable_in_every_spelling(tmp_path: Path, form: str) -> None:
    path = tmp_path / "q.db"
    url: Any = {"plain": str(path), "url": f"sqlite:///{path}", "pathlike": path}[form]
    database = open_database(url, METADATA)
    assert database.kind == "sqlite"
    assert database.durable
    assert database.path == str(path)
    database.close()
    assert path.exists()  # durable: close leaves it
    assert _version(str(path)) == SCHEMA_VERSION


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "database_url must be"),
        ("   ", "database_url must be"),
        (42, "database_url must be"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("mysql://user@host/db", "'mysql' kind"),
        ("postgresql+psycopg2://u@h/db", "psycopg 3"),
        ("postgresql+asyncpg://u@h/db", "psycopg 3"),
    ],
)
def test_unsupported_urls_are_refused_with_what_is_allowed(url: object, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        open_database(url, METADATA)


def test_an_unreachable_postgresql_is_an_initialization_error_without_the_password() -> None:
    with pytest.raises(DatabaseInitializationError) as caught:
        open_database("postgresql://quiv:secret-word@127.0.0.1:1/nothing", METADATA)
    assert "secret-word" not in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)


def test_a_sqlite_file_in_a_missing_directory_is_an_initialization_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseInitializationError):
        open_database(str(tmp_path / "no" / "such" / "dir" / "q.db"), METADATA)


# -- schema versions -------------------------------------------------------------------------


def test_opening_again_keeps_the_schema_and_its_rows(durable_url: str) -> None:
    store = Store(logging.getLogger("test"), durable_url)
    store.put_job(
        {
            "id": "j1",
            "task_id": "t",
            "task_name": "n",
            "status": "completed",
            "started_at": 1.0,
            "ended_at": 2.0,
        }
    )
    store.close()
    again = Store(logging.getLogger("test"), durable_url)
    try:
        row = again.get_job("j1")
        assert row is not None
        assert row["status"] == "completed"
    finally:
        again.close()
    assert _version(durable_url) == SCHEMA_VERSION


def test_a_newer_schema_is_refused(durable_url: str) -> None:
    _execute(durable_url, "UPDATE quiv_schema SET version = 99")
    with pytest.raises(DatabaseSchemaError) as caught:
        open_database(durable_url, METADATA)
    assert caught.value.found == 99
    assert caught.value.expected == SCHEMA_VERSION
    assert "newer quiv" in str(caught.value)


def test_quiv_tables_without_a_version_are_refused(durable_url: str) -> None:
    _execute(durable_url, "DROP TABLE quiv_schema")
    with pytest.raises(DatabaseSchemaError) as caught:
        open_database(durable_url, METADATA)
    assert caught.value.found is None
    assert "not created by this quiv" in str(caught.value)


def test_an_older_schema_is_migrated_step_by_step(
    durable_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_database(durable_url, METADATA).close()
    steps: list[int] = []

    def to_next(conn: Connection) -> None:
        conn.execute(text("CREATE TABLE quiv_migrated (x INTEGER)"))
        steps.append(SCHEMA_VERSION)

    monkeypatch.setattr(_database, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(_database, "MIGRATIONS", {SCHEMA_VERSION: to_next})
    open_database(durable_url, METADATA).close()
    open_database(durable_url, METADATA).close()  # already migrated: nothing runs again
    assert steps == [SCHEMA_VERSION]
    assert _version(durable_url) == SCHEMA_VERSION + 1


def test_an_older_schema_without_a_migration_is_refused(
    durable_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_database(durable_url, METADATA).close()
    monkeypatch.setattr(_database, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(_database, "MIGRATIONS", {})
    with pytest.raises(DatabaseSchemaError, match="no migration from version"):
        open_database(durable_url, METADATA)


def test_workers_starting_at_once_create_the_schema_once(durable_url: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def opener() -> None:
        try:
            start.wait()
            open_database(durable_url, METADATA).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _version(durable_url) == SCHEMA_VERSION


# -- arguments -------------------------------------------------------------------------------


def test_a_durable_store_holds_arguments_as_json(durable_url: str) -> None:
    store = Store(logging.getLogger("test"), durable_url)
    try:
        assert store.codec is JSON
        args, kwargs = store.codec.encode((1, "a", [2]), {"k": {"x": None}})
        assert args == b'[1, "a", [2]]'
        assert store.codec.decode_args(args) == (1, "a", [2])
        assert store.codec.decode_kwargs(kwargs) == {"k": {"x": None}}
    finally:
        store.close()


def test_a_private_store_holds_pickles() -> None:
    store = Store(logging.getLogger("test"))
    try:
        assert store.codec is PICKLE
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "kwargs", "says"),
    [
        ((object(),), None, "^Failed to serialize task args: "),
        ((), {"when": {1, 2}}, "^Failed to serialize task kwargs: "),
        ((float("nan"),), None, "^Failed to serialize task args: "),
        ([1], None, "args must be a tuple"),
        ((), {1: "x"}, "keys must all be str"),
    ],
)
def test_json_refuses_what_it_cannot_store(args: Any, kwargs: Any, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        JSON.encode(args, kwargs)


def test_json_never_decodes_a_pickle() -> None:
    blob, _ = PICKLE.encode((1,), None)
    with pytest.raises(UnicodeDecodeError, match="invalid start byte"):
        JSON.decode_args(blob)


def _old_schema(durable_url: str, version: int) -> None:
    """A database made by this quiv, taken back to schema ``version`` (1, 2 or 3), holding
    one task (and, for 3, one job)."""
    open_database(durable_url, METADATA).close()
    _execute(durable_url, "ALTER TABLE quiv_task DROP COLUMN max_instances")  # as in schema 3
    _execute(durable_url, "ALTER TABLE quiv_job DROP COLUMN executor")
    if version == 3:
        _execute(
            durable_url,
            "INSERT INTO quiv_job (id, task_id, task_name, status, started_at, attempt, "
            "unresponsive, cancel_requested) VALUES ('done', 'kept', 'n', 'completed', 0, 1, "
            "false, false)",
        )
    else:
        _execute(durable_url, "ALTER TABLE quiv_task DROP COLUMN executor")  # as in schema 2
    if version == 1:
        _execute(durable_url, "ALTER TABLE quiv_task DROP COLUMN lease_token")
    token = ("", "") if version == 1 else (", lease_token", ", 0")
    if version == 3:
        token = (", lease_token, executor", ", 0, 'process'")
    _execute(
        durable_url,
        "INSERT INTO quiv_task (id, scope, created_at, task_name, args, kwargs, "
        "fixed_interval, run_once, status, next_run_at, max_retries, on_main_loop, schedule, "
        f"misfire, misfire_grace_seconds, jitter_seconds, shared, changed_at{token[0]}) VALUES "
        "('kept', 'deployment', 0, 'n', '', '', true, false, 'active', 0, 0, false, '', "
        f"'coalesce', 1, 0, false, 0{token[1]})",
    )
    _execute(durable_url, f"UPDATE quiv_schema SET version = {version}")


def test_a_version_1_database_gets_its_lease_tokens(durable_url: str) -> None:
    """Schema 2 adds quiv_task.lease_token; a database of quiv's first schema keeps its
    rows and gets the column, every lease at token 0 (and schema 3's column too)."""
    _old_schema(durable_url, 1)
    assert _version(durable_url) == SCHEMA_VERSION
    database = open_database(durable_url, METADATA)
    try:
        with database.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, lease_token, executor FROM quiv_task")).all()
    finally:
        database.close()
    assert [tuple(row) for row in rows] == [("kept", 0, "thread")]


def test_a_version_2_database_gets_its_executors(durable_url: str) -> None:
    """Schema 3 adds quiv_task.executor; every task stored before runs on a thread."""
    _old_schema(durable_url, 2)
    database = open_database(durable_url, METADATA)
    try:
        with database.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, lease_token, executor FROM quiv_task")).all()
    finally:
        database.close()
    assert [tuple(row) for row in rows] == [("kept", 0, "thread")]
    assert _version(durable_url) == SCHEMA_VERSION


def test_a_version_3_database_gets_max_instances_and_job_executors(durable_url: str) -> None:
    """Schema 4 adds quiv_task.max_instances (1 for every task stored before) and
    quiv_job.executor ('thread' for every job stored before); rows are kept."""
    _old_schema(durable_url, 3)
    database = open_database(durable_url, METADATA)
    try:
        with database.engine.connect() as conn:
            tasks = conn.execute(text("SELECT id, executor, max_instances FROM quiv_task")).all()
            jobs = conn.execute(text("SELECT id, status, executor FROM quiv_job")).all()
    finally:
        database.close()
    assert [tuple(row) for row in tasks] == [("kept", "process", 1)]
    assert [tuple(row) for row in jobs] == [("done", "completed", "thread")]
    assert _version(durable_url) == SCHEMA_VERSION == 4
