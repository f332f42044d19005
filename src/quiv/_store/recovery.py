"""Recovery after dead nodes: who is dead, and closing what they left behind.

A node is dead when it has been silent for ``NODE_TIMEOUT_SECONDS`` on the database's clock
(counted from this node's own return after an outage), or, on this host, once its process is
gone or is this process's previous life. What it left is closed in the recovering node's
transaction: its unfinished jobs end ``interrupted``, its tasks without a key are deleted,
and the keyed tasks it was running are ``active`` again under a new fencing token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple

from sqlalchemy import delete, insert, select, update

from .._machines import JOB_MACHINE, TASK_MACHINE, TaskState
from ..models import JobStatus
from .tables import (
    _JOB_DEFAULTS,
    _TASK_COLUMNS,
    _UNFINISHED,
    Row,
    _job_table,
    _node_table,
    _task_table,
)

_DIED = "interrupted: the process running it stopped without ending it (it crashed, or was killed)"
_EXPIRED = "interrupted: the lease of the process running it expired (it stopped its heartbeat)"

# PostgreSQL advisory lock that serialises recoveries (any number unlikely to be taken).
_RECOVERY_LOCK = 0x71756977


class Recovery(NamedTuple):
    """What ``Store.recover`` cleaned up after dead nodes."""

    interrupted: list[str]  # ids of the jobs they left unfinished
    tasks_deleted: int  # their tasks without a key
    tasks_freed: list[str]  # keyed tasks they were running, active again


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but is not ours to signal
        return True
    return True


def dead_nodes(
    nodes: Sequence[Mapping[str, Any]],
    *,
    me: str | None,
    back_at: float,
    silent_since: float,
    host: str,
    live: AbstractSet[str],
) -> list[str]:
    """The ids of the dead among ``nodes`` (rows of ``quiv_node``), as seen by node ``me``
    on ``host``: silent since before ``silent_since`` (and before ``back_at``, this node's
    return after an outage), or, on this host, without a process, or this process's pid in
    a node that is not one of its ``live`` ones. O(len(nodes)) (a signal 0 per local one)."""
    return [
        node["id"]
        for node in nodes
        if node["id"] != me
        and (
            max(node["heartbeat_at"], back_at) < silent_since
            or (
                node["host"] == host
                and (
                    not _alive(node["pid"])
                    or (node["pid"] == os.getpid() and node["id"] not in live)
                )
            )
        )
    ]


def close_dead(conn: Any, dead: list[str], now: float) -> Recovery:
    """Close what the ``dead`` nodes left, on ``conn`` (in the caller's transaction)."""
    lost = conn.execute(
        select(_job_table.c.id, _job_table.c.status).where(
            _job_table.c.node.in_(dead), _job_table.c.status.in_(_UNFINISHED)
        )
    ).all()
    for job in lost:  # the machine has the last word on every status change
        JOB_MACHINE.next_state(job.id, JobStatus(job.status), "interrupt")
    TASK_MACHINE.next_state("*", TaskState.RUNNING, "recover")
    if lost:
        conn.execute(
            update(_job_table)
            .where(_job_table.c.id.in_([job.id for job in lost]))
            .values(
                status=JobStatus.INTERRUPTED.value,
                ended_at=now,
                error_message=_DIED,
            )
        )
    gone = conn.execute(delete(_task_table).where(_task_table.c.owner.in_(dead))).rowcount
    # Keyed tasks they were running: active again, on the slot that was running.
    running = (_task_table.c.key.is_not(None), _task_table.c.status == "running")
    freed_rows = (
        conn.execute(select(*_TASK_COLUMNS).where(*running, _task_table.c.lease_node.in_(dead)))
        .mappings()
        .all()
    )
    freed = [row["id"] for row in freed_rows]
    for row in freed_rows:
        record_lost_run(conn, dict(row), now, _DIED)
    conn.execute(
        update(_task_table)
        .where(_task_table.c.key.is_not(None), _task_table.c.status == "running")
        .where(_task_table.c.lease_node.in_(dead) | _task_table.c.lease_node.is_(None))
        .where(
            ~_task_table.c.id.in_(
                select(_job_table.c.task_id).where(_job_table.c.status == JobStatus.RUNNING.value)
            )
        )
        .values(
            status="active",
            lease_node=None,
            lease_job=None,
            lease_until=None,
            lease_token=_task_table.c.lease_token + 1,
        )
    )
    conn.execute(
        update(_task_table)
        .where(_task_table.c.lease_node.in_(dead))
        .values(
            lease_node=None,
            lease_job=None,
            lease_until=None,
            lease_token=_task_table.c.lease_token + 1,
        )
    )
    conn.execute(delete(_node_table).where(_node_table.c.id.in_(dead)))
    return Recovery([job.id for job in lost], int(gone or 0), list(freed))


def record_lost_run(conn: Any, task: Row, now: float, reason: str) -> None:
    """A claimed run whose job row was never written (its process died within the
    write-behind pause after the claim): record it, ``interrupted``, all the same."""
    job_id = task["lease_job"]
    if job_id is None:
        return
    exists = conn.execute(select(_job_table.c.id).where(_job_table.c.id == job_id)).first()
    if exists is not None:
        return
    JOB_MACHINE.next_state(job_id, JobStatus.SCHEDULED, "interrupt")
    conn.execute(
        insert(_job_table).values(
            {
                **_JOB_DEFAULTS,
                "id": job_id,
                "task_id": task["id"],
                "task_name": task["task_name"],
                "status": JobStatus.INTERRUPTED.value,
                "started_at": now,
                "ended_at": now,
                "error_message": reason,
                "node": task["lease_node"],
                "scheduled_for": task["slot"],
            }
        )
    )
