"""The ``Store`` façade: the one object the scheduler and ``Quiv`` use, made of the parts.

``Store`` opens the database and composes the package's parts, each handed what it needs:
the rows handed over (``Pending``), their commits on the writer thread (``Writer``), this
process as a node (``Nodes``), claims and shared state (``Claims``, ``SharedState``), the
queries (``Reads``), and the database's health (``Outage``, ``FileWatch``). It keeps only
what spans them: the order of starting, registering and closing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .._arguments import ArgumentCodec, codec_for
from .._database import Database, open_database
from ..exceptions import DatabaseUnavailableError
from .claims import Claims
from .health import FileWatch, Outage
from .nodes import Nodes
from .pending import Pending
from .reads import Reads
from .shared import SharedState
from .statements import Statements
from .tables import _registry
from .writer import Writer


class Store:
    """Tasks and jobs of one scheduler, with write-behind batching. Thread-safe.

    A call the façade only passes on is the part's own bound method, set on the instance
    (``store.put_job_values`` is ``Pending.put_job_values``): the write-behind hand-over is
    the scheduler's hot path, and a call through the façade costs no more than one attribute
    lookup. Their docstrings are in the parts.
    """

    is_unanswered = staticmethod(Outage.is_unanswered)

    def __init__(self, logger: logging.Logger, url: object = None) -> None:
        self._logger = logger
        self.database: Database = open_database(url, _registry.metadata, logger)
        self.path = self.database.path
        self.durable = self.database.durable
        self.codec: ArgumentCodec = codec_for(durable=self.durable)
        engine, kind, location = self.database.engine, self.database.kind, self.database.location
        statements = Statements(self.database.paramstyle, kind)
        # A durable SQLite file's identity, to notice it deleted or replaced under us.
        file = FileWatch(self.database, logger)
        self._outage = outage = Outage(logger)
        self._pending = pending = Pending(
            logger, outage, statements.task_values, statements.job_values
        )
        self._writer = writer = Writer(engine, statements, pending, outage, file.intact, logger)
        self._nodes = nodes = Nodes(engine, kind, outage, writer.flush, logger)
        claims = Claims(engine, kind, location, nodes, writer.flush, file.intact, logger)
        shared = SharedState(engine, statements, nodes, writer.flush)
        reads = Reads(engine, kind, location, pending, writer)

        # Writes: hand over rows (they wait in Pending for the writer's next commit).
        self.put_task = pending.put_task
        self.put_task_values = pending.put_task_values
        self.put_new_task = pending.put_new_task
        self.put_task_state = pending.put_task_state
        self.delete_task = pending.delete_task
        self.put_job = pending.put_job
        self.put_job_values = pending.put_job_values
        self.purge = pending.purge
        self.defer_nudges = pending.defer_nudges
        self.take_deferred = pending.take_deferred
        self.nudge = pending.nudge
        self.waiting = pending.waiting
        self.flush = writer.flush
        self.file_intact = file.intact
        # Nodes, keys and recovery (durable stores).
        self.fence_deadline = nodes.fence_deadline
        self.recover = nodes.recover
        self.unregister_node = nodes.unregister
        # Shared tasks: claims, leases, cancel requests.
        self.claim = claims.claim
        self.read_tasks = claims.read_tasks
        self.take_over = claims.take_over
        self.set_shared = shared.set_shared
        self.delete_shared = shared.delete_shared
        self.request_cancel = shared.request_cancel
        self.update_registration = shared.update_registration
        self.claim_key = shared.claim_key
        # Reads.
        self.get_task = reads.get_task
        self.get_tasks = reads.get_tasks
        self.get_job = reads.get_job
        self.last_job_of = reads.last_job_of
        self.get_jobs = reads.get_jobs
        self.next_attempt_of = reads.next_attempt_of
        self.has_jobs_of = reads.has_jobs_of
        self.count_jobs = reads.count_jobs
        self.jobs_page = reads.jobs_page
        self.count_jobs_by_status = reads.count_jobs_by_status

    def start(self) -> None:
        """Start the writer thread. Until then, rows wait for a read or ``close`` to commit
        them (they are coalesced per row, so waiting costs no unbounded memory)."""
        self._writer.start(self._nodes)

    def register_node(self, node: str, now: float) -> None:
        """Record this process as a live node; from now on the writer keeps it alive."""
        self._nodes.register(node)
        self._pending.record_node(node)
        self.start()  # the writer beats from now on, whenever the scheduler starts
        self._pending.wake()

    @property
    def node(self) -> str | None:
        """This process's node, once registered (durable stores)."""
        return self._nodes.node

    @property
    def renewed_at(self) -> float:
        """When (monotonic) the last heartbeat that went through began."""
        return self._nodes.renewed_at

    @property
    def on_cancel_requests(self) -> Callable[[list[str]], None] | None:
        """Called on the writer thread with ids of this node's jobs that others asked to
        cancel."""
        return self._nodes.on_cancel_requests

    @on_cancel_requests.setter
    def on_cancel_requests(self, callback: Callable[[list[str]], None] | None) -> None:
        self._nodes.on_cancel_requests = callback

    @property
    def on_tasks_freed(self) -> Callable[[list[str]], None] | None:
        """Called on the writer thread with ids of shared tasks freed from dead nodes."""
        return self._nodes.on_tasks_freed

    @on_tasks_freed.setter
    def on_tasks_freed(self, callback: Callable[[list[str]], None] | None) -> None:
        self._nodes.on_tasks_freed = callback

    @property
    def write_failures(self) -> int:
        """How many commits (or rows written one by one) failed."""
        return self._writer.failures

    @property
    def unanswered(self) -> bool:
        """Whether the database has not answered the last write (an outage is under way)."""
        return self._outage.under_way

    def told_once(self, exc: BaseException) -> bool:
        """Whether a failure of a round trip to the store is one it logs once (an outage,
        a lost file), not at every try."""
        return isinstance(exc, DatabaseUnavailableError) or self._outage.unanswered(exc)

    def close(self, timeout: float = 5.0) -> None:
        """Commit what is pending, stop the writer, and close the database (deleting a
        private one and its directory; a durable one forgets this node and its tasks
        without a key).

        A durable database that does not answer gets up to ``timeout`` seconds to take the
        rows that wait. Rows still unwritten then are lost with the process, and said so
        in the log; this node then stays registered, so that other processes (or the next
        start) end its unfinished jobs ``interrupted`` rather than leave them ``running``.
        """
        if self._writer.closed:
            return
        deadline = time.monotonic() + timeout
        watchdog = self.database.watchdog
        if watchdog is not None:  # a server that hangs is cut off at the bound (and a bit)
            watchdog.cut_off(deadline + 2.0)
        if self.durable and not self._writer.drain(deadline):
            tasks, jobs = self.waiting()
            self._logger.error(
                "store: the database did not take %d task and %d job rows before shutdown "
                "gave up on it: they are lost; node %s stays registered, so that its "
                "unfinished jobs end 'interrupted' when another process recovers it",
                tasks,
                jobs,
                self.node,
            )
            self._nodes.abandon()
        try:
            self.unregister_node()
        except Exception:
            self._logger.exception("store: could not unregister this node")
        self.flush()
        self._writer.stop()
        self.database.close()
