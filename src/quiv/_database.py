"""The database a store lives in: where it is, how to open it, and which schema version it has.

Three kinds, chosen by ``Quiv(database_url=...)``:

* ``None`` (the default): a **private** SQLite file in a fresh 0700 directory, deleted at
  shutdown. Nobody else can read it, so arguments may be pickles.
* a SQLite file (``"sqlite:///path/to/quiv.db"``, or a plain path): **durable** and shared
  by the processes of one host, in WAL mode.
* PostgreSQL (``"postgresql://user:password@host/db"``, driven by psycopg 3): durable and
  shared across hosts.

A durable database holds a schema version (table ``quiv_schema``). Opening one creates the
tables if there are none, migrates an older version step by step (``MIGRATIONS``), and
refuses a newer one, or quiv-looking tables without a version, with
``DatabaseSchemaError``. Opening is serialised between processes (an advisory lock on
PostgreSQL, an immediate transaction on SQLite), so several workers starting at once create
the schema once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError

from ._watchdog import Watchdog
from .exceptions import ConfigurationError, DatabaseInitializationError, DatabaseSchemaError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Database", "open_database"]

Kind = Literal["private", "sqlite", "postgresql"]

# Bounds on calls to a PostgreSQL server (see _watchdog): a connection's use, a statement
# (the server's statement_timeout, the same), a lock wait, and connecting.
CALL_LIMIT_SECONDS = 30.0
LOCK_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5

# The version this quiv writes. Bump it with a migration from the version before.
SCHEMA_VERSION = 4
# The page cache of each connection to a private database, in KiB (SQLite's default: 2,000).
# Its rows are mostly written and seldom read back, and the operating system caches the
# file anyway. Measured against the default: 150 B less RSS per idle task at 10,000 tasks;
# writes 4-6% slower at 10^4-10^5 rows, count_jobs at 10^5 rows 0.09 -> 0.43 ms, other reads
# unchanged, throughput unchanged.
PRIVATE_CACHE_KIB = 512
# MIGRATIONS[n] takes a database at version n to version n + 1, inside the opening
# transaction.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}


def _add_lease_tokens(conn: Connection) -> None:
    """1 -> 2: a fencing token on every task's lease (see ``TaskRow.lease_token``)."""
    conn.execute(text("ALTER TABLE quiv_task ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0"))


MIGRATIONS[1] = _add_lease_tokens


def _add_executors(conn: Connection) -> None:
    """2 -> 3: where each task's handler runs (``TaskRow.executor``): a thread, as every task
    stored before did."""
    conn.execute(text("ALTER TABLE quiv_task ADD COLUMN executor TEXT NOT NULL DEFAULT 'thread'"))


MIGRATIONS[2] = _add_executors


def _add_instances(conn: Connection) -> None:
    """3 -> 4: how many jobs of a task may run at once (``TaskRow.max_instances``: one, as
    for every task stored before), and where each job ran (``JobRow.executor``: older rows
    say 'thread', which was all there was unless their task said 'process')."""
    conn.execute(text("ALTER TABLE quiv_task ADD COLUMN max_instances INTEGER NOT NULL DEFAULT 1"))
    conn.execute(text("ALTER TABLE quiv_job ADD COLUMN executor TEXT NOT NULL DEFAULT 'thread'"))


MIGRATIONS[3] = _add_instances

_VERSION_TABLE = "quiv_schema"
# Any number that other applications are unlikely to pick for their own advisory locks.
_ADVISORY_LOCK = 0x71756976  # "quiv"


@dataclass
class Database:
    """An open database: its engine, its kind, and what to delete when it is closed."""

    engine: Engine
    kind: Kind
    location: str  # for messages: a path, or a URL without its password
    path: str | None = None  # the SQLite file, if any
    directory: str | None = None  # the private directory, deleted by close()
    watchdog: Watchdog | None = None  # bounds calls to a server (PostgreSQL)

    @property
    def durable(self) -> bool:
        """Whether rows outlive the process (and others may read them)."""
        return self.kind != "private"

    @property
    def paramstyle(self) -> str:
        """The driver's placeholder for positional parameters."""
        return "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    def close(self) -> None:
        """Release connections; delete a private database and its directory."""
        if self.watchdog is not None:
            self.watchdog.stop()
        self.engine.dispose()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


def open_database(url: object, metadata: Any, logger: logging.Logger | None = None) -> Database:
    """Open (and for a durable one, create or migrate) the database ``url`` names.

    ``metadata`` holds the store's tables. Raises ``ConfigurationError`` for a ``url`` of a
    kind quiv does not support, ``DatabaseSchemaError`` for a schema it cannot use, and
    ``DatabaseInitializationError`` when the database cannot be opened.
    """
    if url is None:
        return _open_private(metadata)
    kind, target = _parse(url)
    location = target if kind == "sqlite" else make_url(target).render_as_string(True)
    if kind == "sqlite" and sqlite3.sqlite_version_info < (3, 35, 0):
        raise DatabaseInitializationError(
            location,
            None,
            f"SQLite {sqlite3.sqlite_version} is too old for a durable store: quiv needs 3.35 "
            "(UPDATE ... RETURNING); use a newer Python build, or PostgreSQL",
        )
    watchdog = None
    try:
        if kind == "sqlite":
            _create_private_file(target)
            engine = _sqlite_engine(target, private=False)
        else:
            watchdog = Watchdog(CALL_LIMIT_SECONDS, logger)
            engine = _pg_engine(target, watchdog)
    except Exception as exc:
        raise DatabaseInitializationError(location, exc) from exc
    database = Database(
        engine, kind, location, path=target if kind == "sqlite" else None, watchdog=watchdog
    )
    try:
        _prepare(database, metadata)
    except DatabaseSchemaError:
        database.close()
        raise
    except Exception as exc:
        database.close()
        raise DatabaseInitializationError(location, exc) from exc
    return database


def _parse(url: object) -> tuple[Kind, str]:
    allowed = (
        "None (a private temporary database), a SQLite file path or 'sqlite:///path', "
        "or 'postgresql://user:password@host/dbname'"
    )
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"database_url must be {allowed}; got {url!r}")
    if "://" not in url:
        return "sqlite", os.path.abspath(url)
    try:
        parsed = make_url(url)
        port = parsed.port  # parsed lazily: a malformed one raises only when read
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port {port} is not between 1 and 65535")
    except (ArgumentError, ValueError) as exc:
        raise ConfigurationError(
            f"database_url {_hidden(url)!r} is not a URL quiv can use: {exc}"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigurationError(
                "database_url: an in-memory SQLite database can neither outlive the process "
                "nor be shared; leave database_url unset for a private one"
            )
        if parsed.query:
            raise ConfigurationError(
                f"database_url: SQLite URL options are not supported (got "
                f"{'&'.join(sorted(parsed.query))}): quiv opens its file read-write with its "
                "own settings; give 'sqlite:///path' alone"
            )
        return "sqlite", os.path.abspath(parsed.database)
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise ConfigurationError(
                f"database_url: quiv drives PostgreSQL with psycopg 3 ('postgresql://' or "
                f"'postgresql+psycopg://'), not {driver!r}"
            )
        return "postgresql", parsed.set(drivername="postgresql+psycopg").render_as_string(False)
    raise ConfigurationError(f"database_url must be {allowed}; got the {backend!r} kind")


def _hidden(url: str) -> str:
    """``url`` without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def _create_private_file(path: str) -> None:
    """Create a durable SQLite file readable by its owner only (0600): it holds task
    arguments, results and errors. SQLite gives its -wal and -shm files the same mode. A
    file that exists keeps the mode its owner gave it."""
    # There already, or another worker created it a moment ago: nothing to do.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _open_private(metadata: Any) -> Database:
    try:
        directory = tempfile.mkdtemp(prefix="quiv-")  # mode 0700
    except OSError as exc:
        raise DatabaseInitializationError(tempfile.gettempdir(), exc) from exc
    path = os.path.join(directory, "quiv.sqlite3")
    try:
        if sqlite3.sqlite_version_info < (3, 24, 0):
            raise RuntimeError(
                f"SQLite {sqlite3.sqlite_version} is too old: quiv needs 3.24 (upserts)"
            )
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        engine = _sqlite_engine(path, private=True)
        metadata.create_all(engine)
    except Exception as exc:
        shutil.rmtree(directory, ignore_errors=True)
        raise DatabaseInitializationError(path, exc) from exc
    return Database(engine, "private", path, path=path, directory=directory)


def _sqlite_engine(path: str, *, private: bool) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 30.0}
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        if private:
            # One process, whose reads flush and so take turns with the writer anyway:
            # the rollback journal, kept in memory (the file dies with the process), and
            # no write-ahead log beside the file, which holds a second copy of every page
            # written until a checkpoint (measured: 3 MB for 10,000 tasks).
            cursor.execute("PRAGMA journal_mode=MEMORY")
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute(f"PRAGMA cache_size=-{PRIVATE_CACHE_KIB}")
            cursor.close()
            return
        # Readers must not block the writer (nor other processes' writers).
        # Switching a new file to WAL needs it to itself, and SQLite does not wait for that
        # (no busy handler): workers that open a new file at once take turns here.
        for attempt in range(200):
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 199:
                    raise
                time.sleep(0.01 + random.random() * 0.04)
        # A durable database must survive a crash of the process (NORMAL, in WAL mode,
        # loses nothing to that). A private one dies with the process: no sync at all.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    if not private:
        # SQLAlchemy, not pysqlite, begins transactions, so that one that reads before it
        # writes (the version check, a claim) can take the write lock at once with
        # ``execution_options(immediate=True)``: two processes that both read "no schema"
        # must not both create it, and an upgrade from a read lock fails at once in WAL.
        @event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            immediate = connection.get_execution_options().get("immediate", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _pg_engine(url: str, watchdog: Watchdog) -> Engine:
    try:
        import psycopg  # noqa: F401 - only PostgreSQL users need it
    except ImportError as exc:
        raise ConfigurationError(
            "database_url is a PostgreSQL URL, but psycopg is not installed: "
            "install quiv[postgresql]"
        ) from exc
    # Every call is bounded: connecting by libpq's connect_timeout, a statement or a lock
    # wait by the server, and any use of a connection (a server that stopped answering
    # included) by the watchdog, which also takes the place of SQLAlchemy's pre-ping: that
    # ping runs before the pool's checkout event, out of the watchdog's sight.
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "options": (
                f"-c statement_timeout={int(CALL_LIMIT_SECONDS * 1000)} "
                f"-c lock_timeout={int(LOCK_TIMEOUT_SECONDS * 1000)}"
            ),
        },
    )

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info["quiv_fresh"] = True  # just connected: no need to ping it

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        watchdog.hold(id(record), dbapi_connection.fileno())
        if record.info.pop("quiv_fresh", False):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            watchdog.release(id(record))
            # SQLAlchemy then discards it and takes another (its pre-ping, watched).
            raise DisconnectionError(f"a pooled connection is dead: {exc}") from exc

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        watchdog.release(id(record))

    return engine


def _prepare(database: Database, metadata: Any) -> None:
    with database.engine.connect() as conn, conn.execution_options(immediate=True).begin():
        if database.kind == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        tables = set(inspect(conn).get_table_names())
        if _VERSION_TABLE not in tables:
            ours = {table.name for table in metadata.sorted_tables}
            if tables & ours:
                raise DatabaseSchemaError(
                    database.location,
                    None,
                    SCHEMA_VERSION,
                    f"it has quiv tables ({', '.join(sorted(tables & ours))}) but no "
                    f"{_VERSION_TABLE} table: it was not created by this quiv",
                )
            metadata.create_all(conn)
            conn.execute(text(f"CREATE TABLE {_VERSION_TABLE} (version INTEGER NOT NULL)"))
            conn.execute(
                text(f"INSERT INTO {_VERSION_TABLE} (version) VALUES (:v)"), {"v": SCHEMA_VERSION}
            )
            return
        found = conn.execute(text(f"SELECT version FROM {_VERSION_TABLE}")).scalar()
        if not isinstance(found, int):
            raise DatabaseSchemaError(
                database.location, None, SCHEMA_VERSION, f"{_VERSION_TABLE} holds no version"
            )
        if found > SCHEMA_VERSION:
            raise DatabaseSchemaError(
                database.location,
                found,
                SCHEMA_VERSION,
                "it was written by a newer quiv; upgrade quiv to use it",
            )
        for version in range(found, SCHEMA_VERSION):
            step = MIGRATIONS.get(version)
            if step is None:
                raise DatabaseSchemaError(
                    database.location, found, SCHEMA_VERSION, f"no migration from version {version}"
                )
            step(conn)
            conn.execute(text(f"UPDATE {_VERSION_TABLE} SET version = :v"), {"v": version + 1})
