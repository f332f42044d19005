"""Several real processes sharing one durable store: each run of a shared task happens in
exactly one of them; a process killed mid-run has its run recovered by the others; a job is
cancelled from a process that does not run it.

Worker processes run a small script (below) with shorter heartbeats and leases than the
defaults, so that recovery shows within seconds. Every case runs on a SQLite file and on
PostgreSQL (skipped, with the reason, when no server is configured).
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from quiv import JobStatus
from quiv.testing import wait_until

WORKER = """
import json, os, sys, threading, time
import quiv._store.nodes as nodes
nodes.HEARTBEAT_SECONDS = 0.3
nodes.LEASE_SECONDS = nodes.NODE_TIMEOUT_SECONDS = 2.0
from quiv import Quiv

url, seconds, tasks, interval, hold, marker = sys.argv[1:7]
q = Quiv(database_url=url, pool_size=8)

def work(_job_id, _stop_event):
    with open(marker, "a") as out:
        out.write(json.dumps({"pid": os.getpid(), "job": _job_id}) + "\\n")
    _stop_event.wait(float(hold))

for i in range(int(tasks)):
    q.add_task(f"t{i}", work, interval=float(interval), key=f"t{i}")
q.start()
# Up to `seconds`, or until the test writes the stop file (it has seen what it waited for).
end = time.monotonic() + float(seconds)
while time.monotonic() < end and not os.path.exists(marker + ".stop"):
    time.sleep(0.05)
q.shutdown(timeout=10)
"""


_STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _reap() -> Any:
    """Every worker a test starts is gone when it ends, passed or failed: one left running
    would load the machine, and its Popen object warn, during later tests."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _start(
    tmp_path: Path, url: str, *, seconds: float, tasks: int, interval: float, hold: float
) -> subprocess.Popen[bytes]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, str(script), url, str(seconds), str(tasks), str(interval), str(hold),
         str(tmp_path / "marker")],
        env=env,
    )  # fmt: skip
    _STARTED.append(process)
    return process


def _jobs(url: str) -> list[Any]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT task_name, scheduled_for, status, node, error_message, "
                        "started_at, ended_at FROM quiv_job"
                    )
                )
            )
    finally:
        engine.dispose()


def _marks(tmp_path: Path) -> list[dict[str, Any]]:
    marker = tmp_path / "marker"
    if not marker.exists():
        return []
    return [json.loads(line) for line in marker.read_text().splitlines() if line.strip()]


@pytest.fixture
def shared_url(durable_url: str) -> str:
    return durable_url


def _wait(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        assert process.wait(timeout=60) == 0


# What the store logs when it takes a process for dead, or a run of it for lost.
_TAKEN_FOR_DEAD = ("took over task", "taken for dead", "a process sharing this store died")


def test_each_slot_of_a_shared_task_runs_in_exactly_one_process(
    tmp_path: Path, shared_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    interval = 0.25
    workers = [
        _start(tmp_path, shared_url, seconds=4, tasks=8, interval=interval, hold=0)
        for _ in range(3)
    ]
    _wait(workers)
    logs = capfd.readouterr().err
    sys.stderr.write(logs)  # still shown if the test fails
    taken_for_dead = [line for line in logs.splitlines() if any(s in line for s in _TAKEN_FOR_DEAD)]
    by_task: dict[str, list[Any]] = collections.defaultdict(list)
    for job in _jobs(shared_url):
        assert job.scheduled_for is not None
        by_task[job.task_name].append(job)
    assert sorted(by_task) == [f"t{i}" for i in range(8)]
    for name, runs in by_task.items():
        assert len(runs) >= 2, name
        runs.sort(key=lambda job: (job.scheduled_for, job.started_at))
        for before, after in itertools.pairwise(runs):
            # No slot twice (a duplicate run), unless a process fell silent beyond its
            # lease (a stall on a loaded machine): another then took its run for lost and
            # ran the slot again, as recovery should, and the store logged it.
            if after.scheduled_for == before.scheduled_for:
                assert taken_for_dead, (name, before, after)
                continue
            # ... and none left out (a lost run). A slot can only be passed over while
            # the run of the slot before is still on its way: one that starts late (the
            # machine is busy, a claim waits for the database) or runs long stands for
            # the slots that pass meanwhile (a fixed cadence skips them, never makes them
            # up; README). Every slot skipped fell before that run ended, and the next
            # run is the first slot at or after its end. How late the runs are is up to
            # the machine, not the test: only this rule is.
            ended = before.ended_at
            skipped = [
                before.scheduled_for + k * interval
                for k in range(1, round((after.scheduled_for - before.scheduled_for) / interval))
            ]
            assert all(slot <= ended + 1e-3 for slot in skipped), (name, before, after)
            assert after.scheduled_for >= ended - 1e-3, (name, before, after)
    # The handlers' own record agrees with the job rows, one call per completed job. (A
    # run that a process's shutdown cancelled may have ended before or after its call.)
    completed = [
        job for runs in by_task.values() for job in runs if job.status == JobStatus.COMPLETED.value
    ]
    assert len(_marks(tmp_path)) >= len(completed)
    # (Which processes run the slots is not promised: one that claims ahead may run most.)


def test_a_run_of_a_killed_process_is_interrupted_and_run_again_by_another(
    tmp_path: Path, shared_url: str
) -> None:
    # Long-lived enough to outlast a slow take-over on a loaded machine; told to stop once
    # the run has been taken over.
    workers = [
        _start(tmp_path, shared_url, seconds=25, tasks=1, interval=30, hold=2.5) for _ in range(3)
    ]
    wait_until(lambda: len(_marks(tmp_path)) >= 1, timeout=20)
    victim = _marks(tmp_path)[0]["pid"]
    (process,) = [worker for worker in workers if worker.pid == victim]
    os.kill(victim, signal.SIGKILL)
    assert process.wait(timeout=10) == -signal.SIGKILL
    others = [worker for worker in workers if worker is not process]
    # Another process picks the run up again, well before the next slot (30 s away).
    wait_until(lambda: len(_marks(tmp_path)) >= 2, timeout=20)
    (tmp_path / "marker.stop").touch()
    _wait(others)
    marks = _marks(tmp_path)
    assert marks[1]["pid"] != victim
    jobs = {job.status: job for job in _jobs(shared_url)}
    interrupted = jobs[JobStatus.INTERRUPTED.value]
    assert "crashed, or was killed" in interrupted.error_message
    rerun = [j for j in _jobs(shared_url) if j.status != JobStatus.INTERRUPTED.value]
    # The same slot, run once more after the crash (the misfire policy is coalesce).
    assert any(job.scheduled_for == interrupted.scheduled_for for job in rerun)


def test_cancel_job_reaches_the_process_that_runs_the_job(
    tmp_path: Path, shared_url: str, quiv: Any
) -> None:
    worker = _start(tmp_path, shared_url, seconds=6, tasks=1, interval=60, hold=30)
    wait_until(lambda: len(_marks(tmp_path)) >= 1, timeout=20)
    job_id = _marks(tmp_path)[0]["job"]
    other = quiv(database_url=shared_url)  # runs nothing: it only asks
    assert other.cancel_job(job_id) is True
    wait_until(lambda: other.get_job(job_id).status == JobStatus.CANCELLED.value, timeout=10)
    assert other.cancel_job(job_id) is False  # ended: nothing left to cancel
    assert worker.wait(timeout=30) == 0
