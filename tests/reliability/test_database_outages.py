"""Issue #16: a database that stops answering for a while costs no record and no run.

Real faults, not mocks: a PostgreSQL server of the test's own (started by ``.ci/postgres``)
is stopped and started again; a SQLite file cannot grow (``RLIMIT_FSIZE`` in a child process,
which is what a full disk looks like to SQLite: "database or disk is full").
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from quiv import DatabaseUnavailableError, JobStatus, Quiv
from quiv import _database as quiv_database
from quiv.testing import wait_until

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0
MakeQuiv = Callable[..., Quiv]


@dataclass
class Server:
    """A PostgreSQL server of these tests' own, which they may stop and start."""

    directory: str
    url: str

    def _ctl(self, command: str) -> None:
        subprocess.run(
            [str(ROOT / ".ci" / "postgres"), command, self.directory],
            check=True,
            timeout=60,
            capture_output=True,
        )

    def stop(self) -> None:
        self._ctl("stop-server")

    def start(self) -> None:
        self._ctl("start-server")

    def fresh_database(self) -> str:
        import psycopg
        from sqlalchemy.engine import make_url

        server = make_url(self.url)
        name = f"quiv_outage_{uuid.uuid4().hex[:10]}"
        admin = server.set(drivername="postgresql").render_as_string(False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return server.set(database=name).render_as_string(False)

    def rows(self, url: str, statement: str) -> list[tuple[Any, ...]]:
        import psycopg
        from sqlalchemy.engine import make_url

        plain = make_url(url).set(drivername="postgresql").render_as_string(False)
        with psycopg.connect(plain) as conn:
            return list(conn.execute(statement).fetchall())


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[Server]:
    installed = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not installed and os.getuid() != 0:
        reason = "no PostgreSQL server binaries to start one of the tests' own"
        if os.environ.get("QUIV_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    started = subprocess.run(
        [str(ROOT / ".ci" / "postgres")], capture_output=True, text=True, timeout=300, check=True
    )
    directory, url = started.stdout.split()
    server = Server(directory, url)
    try:
        yield server
    finally:
        subprocess.run([str(ROOT / ".ci" / "postgres"), "stop", directory], timeout=60, check=False)


def _slow(seconds: float) -> Callable[[], str]:
    def handler() -> str:
        time.sleep(seconds)
        return "done"

    return handler


def test_jobs_ending_while_postgresql_restarts_keep_their_final_rows(
    own_postgres: Server, quiv: MakeQuiv, caplog: pytest.LogCaptureFixture
) -> None:
    url = own_postgres.fresh_database()
    q = quiv(database_url=url, pool_size=4)
    q.start()
    tasks = [q.add_task(f"t{i}", _slow(1.0), interval=3600, delay=3600) for i in range(4)]
    jobs = [q.run_task(task_id) for task_id in tasks]
    wait_until(lambda: len(q.get_all_jobs(status="running")) == 4, WAIT)
    caplog.set_level(logging.DEBUG, logger="Quiv")
    caplog.clear()
    own_postgres.stop()
    try:
        # The jobs end while nobody answers: their ends are known all the same.
        for job_id in jobs:
            job = q.wait_for_job(job_id, timeout=WAIT)
            assert (job.status, job.result) == (JobStatus.COMPLETED.value, "done")
        time.sleep(2.0)  # longer than the old writer's three tries
        assert q._store.unanswered
    finally:
        own_postgres.start()
    wait_until(lambda: q._store.waiting() == (0, 0), WAIT)
    stored = own_postgres.rows(url, "SELECT id, status FROM quiv_job")
    assert sorted(stored) == sorted((job_id, "completed") for job_id in jobs)
    # The outage is told once, and its end: not a line per try, beat or claim.
    told = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(told) <= 3, told
    assert any("does not answer" in line for line in told)
    assert any("answers again" in line for line in told)


def test_a_shutdown_while_postgresql_is_down_is_bounded_and_leaves_no_job_running(
    own_postgres: Server, quiv: MakeQuiv
) -> None:
    """The final rows cannot be written: shutdown gives up within its bound, and leaves
    its node registered, so that recovery ends the jobs 'interrupted', not 'running'."""
    url = own_postgres.fresh_database()
    q = quiv(database_url=url, pool_size=2)
    q.start()
    task_id = q.add_task("t", _slow(0.5), interval=3600, delay=3600)
    job_id = q.run_task(task_id)
    wait_until(lambda: len(q.get_all_jobs(status="running")) == 1, WAIT)
    own_postgres.stop()
    try:
        q.wait_for_job(job_id, timeout=WAIT)
        started = time.monotonic()
        q.shutdown(timeout=1.0)
        assert time.monotonic() - started < 1.0 + 1.0 + 5.0
    finally:
        own_postgres.start()
    (status,) = own_postgres.rows(url, f"SELECT status FROM quiv_job WHERE id = '{job_id}'")
    assert status == ("running",)  # its end was lost with the process...
    nodes = own_postgres.rows(url, "SELECT id FROM quiv_node")
    assert len(nodes) == 1  # ...but its node stayed, for recovery to find
    later = quiv(database_url=url)  # recovery takes the node for dead once it is silent
    later._store.recover(time.time() + 3600)
    (status,) = own_postgres.rows(url, f"SELECT status FROM quiv_job WHERE id = '{job_id}'")
    assert status == ("interrupted",)


_CHILD = textwrap.dedent(
    """
    import json, os, resource, signal, sys, time
    from quiv import Quiv

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, no kill
    url = sys.argv[1] or None
    q = Quiv(pool_size=4, database_url=url)
    q.start()
    q.add_task("warm", lambda: None, interval=3600, delay=3600)
    q.get_all_tasks()
    path = q._store.database.path
    sizes = [os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p)]
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (max(sizes), hard))  # the disk is full
    payload = "x" * 4000
    tasks = [q.add_task(f"t{i}", lambda: payload, run_once=True) for i in range(100)]
    ended = [q.wait_for_task(t, timeout=30) for t in tasks]
    full = q._store.unanswered
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space again
    deadline = time.monotonic() + 30
    while q._store.waiting() != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    stored = {job.id: job.status for job in q.get_all_jobs()}
    q.shutdown()
    print(json.dumps({
        "full": full,
        "ended": [job.status for job in ended],
        "stored": [stored.get(job.id) for job in ended],
    }))
    """
)


@pytest.mark.parametrize("store", ["private", "sqlite"])
def test_a_full_disk_delays_job_records_and_loses_none(tmp_path: Path, store: str) -> None:
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    url = "" if store == "private" else f"sqlite:///{tmp_path / 'quiv.db'}"
    child = subprocess.run(
        [sys.executable, str(script), url],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["full"], "the limit never made a write fail: the test tests nothing"
    assert result["ended"] == ["completed"] * 100  # answered from memory meanwhile
    assert result["stored"] == ["completed"] * 100  # and all written once there was space


def _children(parent: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == parent:
                children.append(int(entry))
    return children


def _freeze(server: Server, frozen: list[int]) -> None:
    """Stop ``server``'s postmaster, then its children (the backends), by SIGSTOP; each
    stopped pid goes into ``frozen`` at once, for the caller to resume whatever happens.

    The postmaster first: stopped, it forks no backend that the list would miss. A backend
    that exits before its turn (its connection closed) needs no stopping.
    """
    with open(f"{server.directory}/data/postmaster.pid") as file:
        postmaster = int(file.readline())
    os.kill(postmaster, signal.SIGSTOP)
    frozen.append(postmaster)
    for pid in _children(postmaster):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
            frozen.append(pid)


def test_a_frozen_server_bounds_reads_and_shutdown(
    own_postgres: Server, quiv: MakeQuiv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server stopped by SIGSTOP answers nothing and closes nothing: reads fail after
    quiv's bound instead of hanging, and shutdown keeps its own."""
    monkeypatch.setattr(quiv_database, "CALL_LIMIT_SECONDS", 2.0)
    monkeypatch.setattr(quiv_database, "CONNECT_TIMEOUT_SECONDS", 2)
    url = own_postgres.fresh_database()
    q = quiv(database_url=url, pool_size=2)
    q.start()
    q.add_task("t", lambda: None, interval=3600, delay=3600)
    assert len(q.get_all_tasks()) == 1
    pids: list[int] = []
    try:
        _freeze(own_postgres, pids)
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailableError):
            q.get_all_tasks()
        assert time.monotonic() - started < 2.0 + 2.0 + 2.0 + 10.0  # watchdog, connects
        started = time.monotonic()
        q.shutdown(timeout=2.0)
        assert time.monotonic() - started < 2.0 + 2.0 + 2.0 + 10.0
        assert q.lifecycle.value == "stopped"
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def test_an_outage_longer_than_the_lease_runs_no_slot_twice_at_once(
    own_postgres: Server, quiv: MakeQuiv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two live processes share a task whose runs outlast an outage longer than the lease.
    Before, each took the other for dead when the server came back, and one ran the slot
    again while the holder's run went on. Now the holder stops its run before its lease can
    expire, nobody is taken for dead, and no task of a live process is deleted."""
    from quiv._store import nodes as quiv_nodes

    for name, value in (
        ("HEARTBEAT_SECONDS", 0.2),
        ("NODE_TIMEOUT_SECONDS", 2.0),
        ("LEASE_SECONDS", 2.0),
        ("FENCE_AFTER_SECONDS", 1.2),
    ):
        monkeypatch.setattr(quiv_nodes, name, value)
    monkeypatch.setattr(quiv_database, "CALL_LIMIT_SECONDS", 2.0)
    monkeypatch.setattr(quiv_database, "CONNECT_TIMEOUT_SECONDS", 1)
    url = own_postgres.fresh_database()
    runs: list[tuple[float, float, str]] = []

    def long_run(_stop_event: Any, _job_id: str) -> None:
        began = time.monotonic()
        _stop_event.wait(6.0)
        runs.append((began, time.monotonic(), _job_id))

    nodes = [quiv(database_url=url, pool_size=2) for _ in range(2)]
    own = nodes[0].add_task("keyless", lambda: None, interval=3600, delay=3600)
    for q in nodes:
        q.add_task("shared", long_run, interval=0.5, key="shared")
        q.start()
    wait_until(lambda: len(nodes[0].get_all_jobs(status="running")) == 1, WAIT)
    own_postgres.stop()
    try:
        time.sleep(3.0)  # longer than the lease, and than the node timeout
    finally:
        own_postgres.start()
    time.sleep(4.0)  # the server answers again: catch up, claim, run
    nodes[0].pause_task(_shared_id(nodes[0]))  # for every process
    wait_until(lambda: not nodes[0].get_all_jobs(status="running"), WAIT)
    time.sleep(0.5)
    ordered = sorted(runs)
    assert len(ordered) >= 2
    for (_, first_end, first), (second_start, _, second) in itertools.pairwise(ordered):
        assert first_end <= second_start + 0.05, (first, second)  # never two at once
    assert nodes[1].get_task(own).id == own  # the live process's task was not deleted
    interrupted = nodes[0].get_all_jobs(status="interrupted")
    assert interrupted == [], [job.error_message for job in interrupted]


def _shared_id(q: Quiv) -> str:
    (task,) = [task for task in q.get_all_tasks() if task.key == "shared"]
    return task.id
