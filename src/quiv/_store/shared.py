"""Changes other processes must see at once: keys, pause/resume/removal for all, cancel requests.

These go to the database directly, past the write-behind rows (each flushes them first), in
a transaction of their own: registering a key (one process creates its task, the others
re-bind to it), a user's pause, resume or removal of a shared task (the latest change wins,
by ``changed_at``), and a request to cancel a job that another process may be running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import case, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..models import JobStatus
from .nodes import Nodes
from .statements import Statements
from .tables import (
    _JOB_DEFAULTS,
    _TASK_COLUMNS,
    _TASK_DEFAULTS,
    _UNFINISHED,
    Row,
    _job_table,
    _task_table,
)

# The columns a registration sets, as opposed to the state of the task.
_REGISTRATION = (
    "task_name", "args", "kwargs", "interval_seconds", "fixed_interval", "run_once",
    "timeout_seconds", "max_retries", "on_main_loop", "schedule", "misfire",
    "misfire_grace_seconds", "jitter_seconds", "executor", "max_instances",
)  # fmt: skip


class SharedState:
    """Direct writes of a deployment's shared state, stamped with this process's node."""

    def __init__(
        self, engine: Any, statements: Statements, nodes: Nodes, flush: Callable[[], None]
    ) -> None:
        self._engine = engine
        self._statements = statements
        self._nodes = nodes  # the writing node (``nodes.node``), read at each write
        self._flush = flush

    def set_shared(
        self, task_id: str, status: str, next_run_at: float, slot: float | None, changed_at: float
    ) -> None:
        """Pause, resume or remove a shared task for every process; the others learn it when
        they next try to claim it or look at it. A run under way (a lease) goes on: a resume
        keeps the task ``running`` until it ends, and changes only what follows."""
        if status == "active":
            status_value: Any = case(
                (_task_table.c.lease_node.is_not(None), "running"), else_="active"
            )
        else:
            status_value = status
        with self._engine.begin() as conn:
            conn.execute(
                update(_task_table)
                .where(_task_table.c.id == task_id, _task_table.c.changed_at <= changed_at)
                .values(
                    status=status_value,
                    next_run_at=next_run_at,
                    slot=slot,
                    changed_at=changed_at,
                    updated_by=self._nodes.node,
                )
            )

    def delete_shared(self, task_id: str, changed_at: float) -> None:
        """Remove a shared task for every process; a run of it elsewhere is asked to cancel.
        The row stays, ``removed`` (reads treat it as gone), so that a process that has not
        heard yet cannot bring it back with a write of its own; registering its key again
        makes it a task again."""
        with self._engine.begin() as conn:
            conn.execute(
                update(_task_table)
                .where(_task_table.c.id == task_id)
                .values(status="removed", changed_at=changed_at, updated_by=self._nodes.node)
            )
            conn.execute(
                update(_job_table)
                .where(_job_table.c.task_id == task_id, _job_table.c.status.in_(_UNFINISHED))
                .values(cancel_requested=True)
            )

    def request_cancel(self, job_id: str) -> bool:
        """Ask the process running job ``job_id`` to cancel it; False if it is not unfinished."""
        try:
            return self._request_cancel(job_id)
        except IntegrityError:  # its owner wrote the job's row meanwhile: update that
            return self._request_cancel(job_id)

    def _request_cancel(self, job_id: str) -> bool:
        self._flush()
        with self._engine.connect() as conn, conn.execution_options(immediate=True).begin():
            result = conn.execute(
                update(_job_table)
                .where(_job_table.c.id == job_id, _job_table.c.status.in_(_UNFINISHED))
                .values(cancel_requested=True)
            )
            if result.rowcount:
                return True
            # Its process may have claimed the run and started it without having written
            # the job's row yet (rows are written behind): the lease names the job. Write
            # the request into a row of its own, which the owner's row write keeps.
            task = conn.execute(
                select(_task_table.c.id, _task_table.c.task_name, _task_table.c.lease_node).where(
                    _task_table.c.lease_job == job_id, _task_table.c.status == "running"
                )
            ).first()
            if task is None:
                return False
            conn.execute(
                insert(_job_table).values(
                    {
                        **_JOB_DEFAULTS,
                        "id": job_id,
                        "task_id": task.id,
                        "task_name": task.task_name,
                        "status": JobStatus.SCHEDULED.value,
                        "started_at": time.time(),
                        "node": task.lease_node,
                        "cancel_requested": True,
                    }
                )
            )
        return True

    def update_registration(self, row: Row) -> None:
        """Store what a registration of a key says (name, arguments, schedule, policies)
        and nothing of the task's state, which the store keeps for every process."""
        values = {name: row[name] for name in _REGISTRATION if name in row}
        self._flush()
        with self._engine.begin() as conn:
            conn.execute(update(_task_table).where(_task_table.c.id == row["id"]).values(values))

    def claim_key(self, row: Row) -> Row:
        """Store the new task ``row`` unless a task with its key exists; return the stored
        row of that key (``row`` itself when it was new). Safe against other processes
        registering the same key at the same time: one of them creates it."""
        self._flush()
        row = {**_TASK_DEFAULTS, **row}
        insert_new = (
            self._statements.task_upsert.split(" ON CONFLICT", 1)[0]
            + " ON CONFLICT (key) WHERE scope = 'deployment' DO NOTHING"
        )
        with self._engine.connect() as conn, conn.execution_options(immediate=True).begin():
            conn.exec_driver_sql(insert_new, self._statements.task_values(row))
            stored = (
                conn.execute(
                    select(*_TASK_COLUMNS).where(
                        _task_table.c.key == row["key"], _task_table.c.scope == "deployment"
                    )
                )
                .mappings()
                .one()
            )
        return dict(stored)
