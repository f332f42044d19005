"""This process as a node of a durable store: registration, heartbeat, leases, and fencing.

A node records that its process is alive on the database's clock (never the scheduler's, a
test's fake one, or a host's wrong one), renews the leases of the shared runs it holds with
each heartbeat, recovers after nodes that died, and hands the scheduler the cancel requests
others made for its jobs. A node whose heartbeats fail must stop its shared jobs before its
leases can expire (``fence_deadline``). The timings below are read when used, so that a
process (a test, a worker script) that changes them after import changes them everywhere:
set them here, on this module.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, insert, select, text, update

from .health import Outage
from .recovery import _RECOVERY_LOCK, Recovery, close_dead, dead_nodes
from .tables import _UNFINISHED, _job_table, _node_table, _task_table

# A durable store's node records that its process is alive this often; a node silent for
# NODE_TIMEOUT_SECONDS is taken for dead (sooner, on its own host, once its pid is gone).
HEARTBEAT_SECONDS = 5.0
NODE_TIMEOUT_SECONDS = 30.0
# A claimed run's lease: renewed with each heartbeat, taken over by others once expired.
LEASE_SECONDS = NODE_TIMEOUT_SECONDS
# A node that could not renew its leases for this long (its heartbeats failed: the database
# did not answer it) stops its shared jobs: their handlers get the rest of the lease to
# return before another process may take the runs over. None: the lease minus two beats,
# reckoned when used, so that a process that changes the lease or the beat changes it too.
FENCE_AFTER_SECONDS: float | None = None
# How often a node looks for cancel requests other processes made for its running jobs.
CANCEL_POLL_SECONDS = 1.0

# Nodes of this process that are open now: another node with this process's pid is a
# previous life of it (a container restarted in place runs the app as the same pid again).
_LIVE_NODES: set[str] = set()


class Nodes:
    """This process's node on one store (none on a private store, or until registered),
    and the chores the writer thread runs for it (``writer.Chores``)."""

    def __init__(
        self,
        engine: Any,
        kind: str,
        outage: Outage,
        flush: Callable[[], None],
        logger: logging.Logger,
    ) -> None:
        self._engine = engine
        self._kind = kind
        self._outage = outage
        self._flush = flush
        self._logger = logger
        self.node: str | None = None  # this process, once registered (durable stores)
        # Called on the writer thread with ids of this node's jobs that others asked to cancel.
        self.on_cancel_requests: Callable[[list[str]], None] | None = None
        # Called on the writer thread with ids of shared tasks freed from dead nodes.
        self.on_tasks_freed: Callable[[list[str]], None] | None = None
        self._node_lock = threading.Lock()  # a heartbeat, or this node's unregistering
        # Liveness: when the last heartbeat that went through began (monotonic), and when
        # (database clock) this node reached the database again after failing: others'
        # silence counts from then. (Whether one failed since: ``Outage.missed_beat``.)
        self.renewed_at, self._back_at = time.monotonic(), 0.0

    def beat_every(self) -> float:
        """Seconds between two heartbeats (``HEARTBEAT_SECONDS`` now)."""
        return HEARTBEAT_SECONDS

    def poll_every(self) -> float:
        """Seconds between two polls for cancel requests (``CANCEL_POLL_SECONDS`` now)."""
        return CANCEL_POLL_SECONDS

    def lease_until(self, now: float) -> float:
        """When a lease taken or renewed at ``now`` (epoch) expires."""
        return now + LEASE_SECONDS

    def register(self, node: str) -> None:
        """Record this process as the live node ``node``."""
        began = time.monotonic()
        with self._engine.begin() as conn:
            # Liveness is between processes: on the database's clock, whatever clock the
            # scheduler runs on (a test's fake clock, a host's wrong one).
            now = self._db_now(conn)
            row = {
                "id": node,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": now,
                "heartbeat_at": now,
            }
            conn.execute(insert(_node_table).values(**row))
        self.renewed_at = began
        self.node = node
        _LIVE_NODES.add(node)

    def heartbeat(self) -> None:
        """Tell other nodes this one is alive, renew the leases of the runs it holds, and
        recover after nodes that died. Never at the same time as ``unregister``: a beat
        racing a clean shutdown would register the node again, or take its own last jobs
        for a dead node's."""
        with self._node_lock:
            node = self.node
            if node is not None:
                self._beat(node)

    def _db_now(self, conn: Any) -> float:
        """The database's clock, epoch seconds (a SQLite file's is this host's)."""
        if self._kind == "postgresql":
            return float(
                conn.execute(text("SELECT EXTRACT(EPOCH FROM clock_timestamp())")).scalar()
            )
        return time.time()

    def fence_deadline(self) -> float:
        """When (monotonic) this node must stop its shared jobs unless a heartbeat renews
        its leases before: FENCE_AFTER_SECONDS after the start of the last renewal."""
        after = FENCE_AFTER_SECONDS
        if after is None:
            after = max(HEARTBEAT_SECONDS, LEASE_SECONDS - 2 * HEARTBEAT_SECONDS)
        return self.renewed_at + after

    def _beat(self, node: str) -> None:
        now = time.time()  # leases: on the clock claims use (see Claims.claim)
        began = time.monotonic()
        try:
            with self._engine.begin() as conn:
                seen = self._db_now(conn)
                alive = conn.execute(
                    update(_node_table).where(_node_table.c.id == node).values(heartbeat_at=seen)
                ).rowcount
                if not alive:
                    # Taken for dead (silent too long: a stalled process, a clock jump):
                    # the others have closed what it had. Register again, and go on.
                    self._logger.warning(
                        "node %s was taken for dead by another process; it registers "
                        "again (its unfinished jobs may have been ended 'interrupted')",
                        node,
                    )
                    conn.execute(
                        insert(_node_table).values(
                            id=node,
                            host=socket.gethostname(),
                            pid=os.getpid(),
                            started_at=seen,
                            heartbeat_at=seen,
                        )
                    )
                if self._kind == "postgresql":  # lock in id order, as claims do
                    conn.execute(
                        select(_task_table.c.id)
                        .where(_task_table.c.lease_node == node)
                        .order_by(_task_table.c.id)
                        .with_for_update()
                    )
                conn.execute(
                    update(_task_table)
                    .where(_task_table.c.lease_node == node)
                    .values(lease_until=self.lease_until(now))
                )
        except Exception as exc:
            self._outage.missed_beat = True
            if not self._outage.unanswered(exc):  # an outage is logged once, not every beat
                self._logger.exception("store: the heartbeat of node %s failed", node)
            return
        self.renewed_at = began
        if self._outage.missed_beat:
            # Back after beats that failed: the others could likely not beat either, so
            # their silence counts from now (see recover).
            self._outage.missed_beat = False
            self._back_at = seen
        # Nodes die while this one lives: close what they leave, without waiting for a start.
        try:
            recovery = self.recover(now)
        except Exception as exc:
            if not self._outage.unanswered(exc):
                self._logger.exception("store: recovery after dead nodes failed")
            return
        if recovery.tasks_freed and self.on_tasks_freed is not None:
            self.on_tasks_freed(recovery.tasks_freed)
        if recovery.interrupted or recovery.tasks_deleted:
            self._logger.warning(
                "a process sharing this store died: %d of its jobs are now "
                "'interrupted', %d of its tasks without a key deleted",
                len(recovery.interrupted),
                recovery.tasks_deleted,
            )

    def poll_cancels(self) -> None:
        """Hand ``on_cancel_requests`` the ids of this node's unfinished jobs that others
        asked to cancel."""
        callback = self.on_cancel_requests
        if callback is None:
            return
        try:
            with self._engine.connect() as conn:
                ids = (
                    conn.execute(
                        select(_job_table.c.id).where(
                            _job_table.c.node == self.node,
                            _job_table.c.cancel_requested.is_(True),
                            _job_table.c.status.in_(_UNFINISHED),
                        )
                    )
                    .scalars()
                    .all()
                )
            if ids:
                callback(list(ids))
        except Exception as exc:
            if not self._outage.unanswered(exc):
                self._logger.exception("store: polling for cancel requests failed")

    def recover(self, now: float) -> Recovery:
        """Close what dead nodes left behind: their unfinished jobs end ``interrupted``,
        their tasks without a key are deleted, and keyed tasks they were running are
        ``active`` again (their next run follows the task's misfire policy)."""
        self._flush()
        host = socket.gethostname()
        with self._engine.connect() as conn, conn.execution_options(immediate=True).begin():
            if self._kind == "postgresql":
                # One recovery at a time (SQLite's immediate transaction does this there):
                # two processes noticing the same death must not both record it.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _RECOVERY_LOCK})
            nodes = conn.execute(select(_node_table)).mappings().all()
            # Silent for NODE_TIMEOUT_SECONDS on the database's clock, counted from this
            # node's own return if it could not reach the database meanwhile: an outage
            # that silenced everyone must not make each take the others for dead.
            silent_since = self._db_now(conn) - NODE_TIMEOUT_SECONDS
            dead = dead_nodes(
                nodes,
                me=self.node,
                back_at=self._back_at,
                silent_since=silent_since,
                host=host,
                live=_LIVE_NODES,
            )
            if not dead:
                return Recovery([], 0, [])
            return close_dead(conn, dead, now)

    def unregister(self) -> None:
        """At shutdown: delete this node's tasks without a key, and the node itself."""
        with self._node_lock:  # after a beat under way, and no beat after this
            node, self.node = self.node, None
        if node is None:
            return
        _LIVE_NODES.discard(node)
        self._flush()
        with self._engine.begin() as conn:
            conn.execute(delete(_task_table).where(_task_table.c.owner == node))
            # Runs it claimed and never started (shut down first) go back to the others.
            conn.execute(
                update(_task_table)
                .where(_task_table.c.lease_node == node, _task_table.c.status == "running")
                .values(status="active", lease_node=None, lease_job=None, lease_until=None)
            )
            conn.execute(
                update(_task_table)
                .where(_task_table.c.lease_node == node)
                .values(lease_node=None, lease_job=None, lease_until=None)
            )
            conn.execute(delete(_node_table).where(_node_table.c.id == node))

    def abandon(self) -> None:
        """Forget this node without unregistering it (its final rows could not be written):
        it stays in the database, for another process to recover as a dead one."""
        if self.node is not None:
            _LIVE_NODES.discard(self.node)
            self.node = None
