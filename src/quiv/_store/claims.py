"""Claims of shared runs: one process per slot, under a lease, and take-over of an expired one.

A shared task (a key, on a durable store) runs once per deployment: a process runs a slot
only after claiming it, atomically, which puts the task ``running`` under this node's lease
and raises its fencing token. A claim that loses returns the row as it is now, so that the
caller catches up with other processes. A lease its holder stopped renewing (it crashed or
froze) is taken over: its run ends ``interrupted`` and the task is ``active`` again.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import case, select, tuple_, update

from .._machines import JOB_MACHINE, TASK_MACHINE, TaskState
from ..exceptions import DatabaseUnavailableError
from ..models import JobStatus
from .nodes import Nodes
from .recovery import _EXPIRED, record_lost_run
from .tables import _TASK_COLUMNS, _UNFINISHED, GONE, Row, _job_table, _task_table


class Claim(NamedTuple):
    """A run this node wants: of ``task_id``, at the stored ``slot``, as job ``job_id``. A
    run that is not a regular one (run now, a retry) has no slot and is known by the
    ``next_run_at`` it was stored with (``at``)."""

    task_id: str
    slot: float | None
    at: float
    job_id: str


_CLAIMABLE = ("active", "paused")


def _rows(conn: Any, task_ids: Sequence[str]) -> dict[str, Row]:
    if not task_ids:
        return {}
    result = conn.execute(select(*_TASK_COLUMNS).where(_task_table.c.id.in_(task_ids)))
    return {row["id"]: dict(row) for row in result.mappings().all()}


class Claims:
    """Claims, reads and take-overs of shared tasks, for this process's node."""

    def __init__(
        self,
        engine: Any,
        kind: str,
        location: str,
        nodes: Nodes,
        flush: Callable[[], None],
        file_intact: Callable[[], bool],
        logger: logging.Logger,
    ) -> None:
        self._engine = engine
        self._kind = kind
        self._location = location
        self._nodes = nodes  # the claiming node (``nodes.node``), and its lease
        self._flush = flush
        self._file_intact = file_intact
        self._logger = logger

    def claim(self, claims: Sequence[Claim], now: float) -> dict[str, Row | int]:
        """Try to claim each run in ``claims`` for this node, in one transaction.

        A claim wins when the task is ``active`` and its stored ``slot`` (or, for a run that
        is not a regular one, its ``next_run_at``) is the one claimed: then the row is
        ``running`` under this node's lease, and the answer for it is the lease's fencing
        token (an int, which the holder's writes of the row carry). A claim that
        loses gets the row as it is now (``GONE`` if the task was removed), so that the
        caller can catch up with other processes.
        """
        if not self._file_intact():
            # Another worker starting on this path makes a new database: both would run
            # every shared slot. Claim nothing here rather than run anything twice.
            raise DatabaseUnavailableError(
                self._location, FileNotFoundError("the database file was replaced")
            )
        by_slot = [claim for claim in claims if claim.slot is not None]
        by_time = [claim for claim in claims if claim.slot is None]
        if by_time:
            self._flush()  # a run asked for here is known by the next_run_at written here
        won: dict[str, int] = {}
        with self._engine.connect() as conn, conn.execution_options(immediate=True).begin():
            if self._kind == "postgresql":
                # Lock the rows in id order first, as row writes do (see Statements.write):
                # the update below locks them in whatever order its plan visits them, and
                # two processes locking the same rows in different orders deadlock.
                conn.execute(
                    select(_task_table.c.id)
                    .where(_task_table.c.id.in_(sorted(claim.task_id for claim in claims)))
                    .order_by(_task_table.c.id)
                    .with_for_update()
                )
            # One statement per kind of claim, whatever the batch size: a round trip to the
            # database costs more than the update of a row.
            # A regular run needs an active task; a run asked for (run now) also runs on a
            # paused one, which stays paused, as it does in one process.
            for batch, column, key, statuses in (
                (by_slot, _task_table.c.slot, operator.attrgetter("slot"), ("active",)),
                (by_time, _task_table.c.next_run_at, operator.attrgetter("at"), _CLAIMABLE),
            ):
                if not batch:
                    continue
                jobs = {claim.task_id: claim.job_id for claim in batch}
                result = conn.execute(
                    update(_task_table)
                    .where(
                        tuple_(_task_table.c.id, column).in_(
                            [(claim.task_id, key(claim)) for claim in sorted(batch)]
                        ),
                        _task_table.c.status.in_(statuses),
                        _task_table.c.lease_node.is_(None),
                    )
                    .values(
                        status="running",
                        lease_node=self._nodes.node,
                        lease_job=case(jobs, value=_task_table.c.id),
                        lease_until=self._nodes.lease_until(now),
                        lease_token=_task_table.c.lease_token + 1,
                        updated_by=self._nodes.node,
                    )
                    .returning(_task_table.c.id, _task_table.c.lease_token)
                )
                won.update({row.id: row.lease_token for row in result})
            lost = [claim.task_id for claim in claims if claim.task_id not in won]
            rows = _rows(conn, lost)
        answers: dict[str, Row | int] = dict(won)
        for task_id in lost:
            answers[task_id] = rows.get(task_id, GONE)
        return answers

    def read_tasks(self, task_ids: Sequence[str]) -> dict[str, Row]:
        """The stored rows of these tasks (``GONE`` for one that was removed)."""
        with self._engine.connect() as conn:
            rows = _rows(conn, task_ids)
        return {task_id: rows.get(task_id, GONE) for task_id in task_ids}

    def take_over(self, task_id: str, now: float) -> Row:
        """If another node's lease on ``task_id`` has expired (it crashed or froze), end its
        run ``interrupted`` and make the task ``active`` again on the slot it was running,
        so that the task's misfire policy decides about that run. Returns the row after."""
        self._flush()
        with self._engine.connect() as conn, conn.execution_options(immediate=True).begin():
            row = _rows(conn, [task_id]).get(task_id)
            if row is None:
                return GONE
            if row["status"] != "running" or (row["lease_until"] or 0.0) >= now:
                return row
            TASK_MACHINE.next_state(task_id, TaskState.RUNNING, "recover")
            taken = conn.execute(
                update(_task_table)
                .where(
                    _task_table.c.id == task_id,
                    _task_table.c.status == "running",
                    _task_table.c.lease_until < now,  # not renewed meanwhile
                )
                .values(
                    status="active",
                    lease_node=None,
                    lease_job=None,
                    lease_until=None,
                    lease_token=_task_table.c.lease_token + 1,  # its holder's writes: refused
                    updated_by=self._nodes.node,
                )
            ).rowcount
            if not taken:
                return _rows(conn, [task_id]).get(task_id, GONE)
            record_lost_run(conn, row, now, _EXPIRED)
            job_id = row["lease_job"]
            status = None
            if job_id is not None:
                status = conn.execute(
                    select(_job_table.c.status).where(_job_table.c.id == job_id)
                ).scalar()
            if job_id is not None and status in _UNFINISHED:
                JOB_MACHINE.next_state(job_id, JobStatus(status), "interrupt")
                conn.execute(
                    update(_job_table)
                    .where(_job_table.c.id == job_id)
                    .values(
                        status=JobStatus.INTERRUPTED.value,
                        ended_at=now,
                        error_message=_EXPIRED,
                    )
                )
            self._logger.warning(
                "took over task %s from node %s, whose lease expired",
                task_id,
                row["lease_node"],
            )
            return _rows(conn, [task_id]).get(task_id, GONE)
