"""Restarts with real processes: a child Python process runs a durable ``Quiv`` on a SQLite
file (the first test also on PostgreSQL), and is killed with SIGKILL in the middle of a job,
or exits cleanly; then this process opens a ``Quiv`` on the same database and finds what the
child left.

The child is a script written to ``tmp_path`` and run with ``sys.executable``; it imports
the project through ``PYTHONPATH``. Only the child's own pid is ever signalled.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import quiv as quiv_package
from quiv import Quiv
from quiv._store.nodes import NODE_TIMEOUT_SECONDS
from quiv.testing import wait_until

from ._helpers import WAIT, stored_rows

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="needs POSIX signals to kill the child"
)

MakeQuiv = Callable[..., Quiv]
SRC = str(Path(quiv_package.__file__).resolve().parent.parent)
INTERRUPTED = "interrupted: the process running it stopped without ending it"

CHILD = textwrap.dedent(
    """
    import os
    import sys
    import time
    from pathlib import Path

    from quiv import Quiv

    url, marker, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]

    def victim(_stop_event):
        marker.write_text(str(os.getpid()))
        if mode == "kill":
            time.sleep(300)  # until it is killed
        else:
            _stop_event.wait(300)  # until shutdown sets it

    q = Quiv(database_url=url)
    q.add_task("victim", victim, interval=3600, key="victim")
    q.add_task("scratch", lambda: None, interval=3600)  # no key: dies with this process
    q.start()
    if mode == "kill":
        time.sleep(300)
    while not marker.exists():
        time.sleep(0.01)
    if mode == "clean":
        q.shutdown(timeout=10)
        print("shut down", flush=True)
    else:  # "exit": without shutdown(); quiv's finalizer closes it as the process exits
        print("exiting", flush=True)
    """
)


class Child:
    """A child process running ``CHILD`` on ``url``."""

    def __init__(self, tmp_path: Path, url: str, mode: str) -> None:
        script = tmp_path / "child.py"
        script.write_text(CHILD)
        self.marker = tmp_path / f"{mode}.started"
        self.stderr_path = tmp_path / f"{mode}.stderr"
        self.stdout_path = tmp_path / f"{mode}.stdout"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(script), url, str(self.marker), mode],
                stdout=out,
                stderr=err,
                env=env,
            )

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_started(self, url: str) -> str:
        """Wait until the victim's handler runs and its job is stored ``running``; return
        the job's id."""

        def started() -> bool:
            assert self.proc.poll() is None, f"the child exited early:\n{self.stderr}"
            return self.marker.exists() and victim_job(url) is not None

        wait_until(started, WAIT, 0.02)
        job = victim_job(url)
        assert job is not None
        return job

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(WAIT) == -signal.SIGKILL

    def close(self) -> None:
        """At teardown: a child still running is killed (its pid only)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(WAIT)


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Callable[[str, str], Child]]:
    made: list[Child] = []

    def factory(url: str, mode: str) -> Child:
        child = Child(tmp_path, url, mode)
        made.append(child)
        return child

    yield factory
    for child in made:
        child.close()


def victim_job(url: str) -> str | None:
    """The id of the victim task's job that is stored ``running``, if any."""
    try:
        found = stored_rows(
            url,
            "SELECT j.id FROM quiv_job j JOIN quiv_task t ON t.id = j.task_id "
            "WHERE t.key = 'victim' AND j.status = 'running'",
        )
    except Exception:  # the child has not created the schema yet
        return None
    return found[0][0] if found else None


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'quiv.db'}"


# -- a child killed in the middle of a job ------------------------------------------------------


def test_a_job_killed_with_its_process_is_interrupted_and_its_task_runs_again(
    durable_url: str, children: Callable[[str, str], Child], quiv: MakeQuiv
) -> None:
    # On a SQLite file, and on PostgreSQL when a server is at hand.
    child = children(durable_url, "kill")
    job_id = child.wait_started(durable_url)
    (task_id,) = stored_rows(durable_url, "SELECT id FROM quiv_task WHERE key = 'victim'")[0]
    child.kill()
    # Killed: nothing was cleaned up.
    assert stored_rows(durable_url, "SELECT status FROM quiv_task WHERE id = :id", id=task_id) == [
        ("running",)
    ]
    assert stored_rows(durable_url, "SELECT count(*) FROM quiv_node") == [(1,)]

    q = quiv(database_url=durable_url)
    killed = q.get_job(job_id)
    assert killed.status == "interrupted"
    assert killed.error_message is not None
    assert killed.error_message.startswith(INTERRUPTED)
    assert killed.ended_at is not None
    # The keyless task died with the child; the keyed one is waiting to be registered.
    assert [(t.id, t.key, t.status) for t in q.get_all_tasks()] == [(task_id, "victim", "active")]
    assert stored_rows(durable_url, "SELECT id FROM quiv_node") == [(q._node,)]

    calls: list[str] = []
    done = threading.Event()

    def victim(_job_id: str) -> str:
        calls.append(_job_id)
        done.set()
        return "done"

    assert q.add_task("victim", victim, interval=3600, key="victim") == task_id
    q.start()
    # Its stored run was the killed one, now in the past: it runs again at once (coalesce).
    assert done.wait(WAIT)
    again = q.wait_for_job(calls[0], timeout=WAIT)
    assert (again.task_id, again.status, again.result) == (task_id, "completed", "done")
    assert again.id != job_id
    assert [(j.id, j.status) for j in q.get_all_jobs() if j.task_id == task_id] == [
        (job_id, "interrupted"),
        (again.id, "completed"),
    ]
    assert stored_rows(durable_url, "SELECT node FROM quiv_job WHERE id = :id", id=again.id) == [
        (q._node,)
    ]
    assert calls == [again.id]


def test_a_killed_process_on_this_host_is_dead_at_once_a_live_one_is_not(
    sqlite_url: str, children: Callable[[str, str], Child], quiv: MakeQuiv
) -> None:
    child = children(sqlite_url, "kill")
    job_id = child.wait_started(sqlite_url)
    ((node, host, pid, heartbeat),) = stored_rows(
        sqlite_url, "SELECT id, host, pid, heartbeat_at FROM quiv_node"
    )
    assert (host, pid) == (socket.gethostname(), child.proc.pid)

    # While the child lives, a new Quiv on the same file leaves it and its job alone.
    alongside = quiv(database_url=sqlite_url)
    assert alongside.get_job(job_id).status == "running"
    assert {row[0] for row in stored_rows(sqlite_url, "SELECT id FROM quiv_node")} == {
        node,
        alongside._node,
    }
    alongside.shutdown(timeout=WAIT)

    child.kill()
    # Its heartbeat is recent: only the missing pid can tell that it is dead.
    assert time.time() - heartbeat < NODE_TIMEOUT_SECONDS / 2
    before = time.monotonic()
    q = quiv(database_url=sqlite_url)
    assert time.monotonic() - before < NODE_TIMEOUT_SECONDS / 2
    assert q.get_job(job_id).status == "interrupted"
    assert stored_rows(sqlite_url, "SELECT id FROM quiv_node") == [(q._node,)]


# -- a child that shuts down cleanly ------------------------------------------------------------


@pytest.mark.parametrize(("mode", "says"), [("clean", "shut down"), ("exit", "exiting")])
def test_a_clean_exit_leaves_no_running_job_and_no_node(
    sqlite_url: str, children: Callable[[str, str], Child], quiv: MakeQuiv, mode: str, says: str
) -> None:
    # "clean": the child calls shutdown(); "exit": it just ends, and quiv's finalizer shuts
    # the Quiv down as the interpreter exits.
    child = children(sqlite_url, mode)
    try:
        assert child.proc.wait(WAIT * 2) == 0, child.stderr
    finally:
        child.close()
    assert child.stdout_path.read_text() == f"{says}\n"
    assert child.marker.exists()
    # The job running at shutdown got its stop event and ended: nothing left unfinished.
    assert (
        stored_rows(
            sqlite_url, "SELECT status FROM quiv_job WHERE status IN ('running', 'scheduled')"
        )
        == []
    )
    statuses = stored_rows(sqlite_url, "SELECT task_name, status FROM quiv_job ORDER BY task_name")
    assert statuses == [("scratch", "completed"), ("victim", "cancelled")]
    assert stored_rows(sqlite_url, "SELECT count(*) FROM quiv_node") == [(0,)]
    # The keyless task went with it; the keyed one stays, ready to be registered again.
    assert stored_rows(sqlite_url, "SELECT key, status FROM quiv_task") == [("victim", "active")]

    q = quiv(database_url=sqlite_url)
    assert [j.status for j in q.get_all_jobs(status="interrupted")] == []
