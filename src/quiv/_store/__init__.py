"""The store: tasks and job history in a database (``_database``: private by default).

Writes are write-behind. The scheduler thread and API callers hand the store whole rows
(``put_task``, ``put_job``), which only replace an entry in a dict of pending rows; a writer
thread commits them in batches, so several changes of one job between two commits cost one
row write, and no database work sits on the dispatch path. Every read first commits what is
pending (``flush``), so a read sees every change handed over before it began.

The tables belong to a private SQLAlchemy registry: the user's ``SQLModel.metadata`` never
sees them. The private database file lives in a fresh directory of mode 0700, the file
itself is 0600, and both are deleted by ``close``. A durable database (a SQLite file,
PostgreSQL) is left in place; its arguments are JSON (see ``_arguments``), never pickles.

The parts, each a module, composed by the ``Store`` façade (``store``)::

    tables      the row classes, their columns and defaults
    statements  the SQL of row writes (upserts, many rows a statement, a batch)
    pending     rows handed over and not yet committed; the writer's wake-up
    writer      the writer thread: commits, retries, backoff in an outage
    health      whether the database answers (outages), a lost SQLite file
    nodes       this process as a node: heartbeat, leases, fencing (and their timings)
    recovery    who is dead, and closing what dead nodes left
    claims      claims of shared runs, and take-over of expired leases
    shared      keys, pause/resume/removal for all, cancel requests
    reads       the queries

Tunable timings live in the module that reads them, and are read when used: set (or
monkeypatch) ``nodes.HEARTBEAT_SECONDS``, ``nodes.LEASE_SECONDS``, ``statements.SOURCE_CHUNK``
and the like there. They are not re-exported here, where setting them would change nothing.
"""

from __future__ import annotations

from .claims import Claim as Claim
from .pending import TaskSource as TaskSource
from .recovery import Recovery as Recovery
from .store import Store as Store
from .tables import GONE as GONE
from .tables import JobRow as JobRow
from .tables import NodeRow as NodeRow
from .tables import Row as Row
from .tables import TaskRow as TaskRow
from .tables import _job_table as _job_table
from .tables import _node_table as _node_table
from .tables import _registry as _registry
from .tables import _task_table as _task_table
from .writer import COALESCE_SECONDS as COALESCE_SECONDS

__all__ = [
    "COALESCE_SECONDS",
    "GONE",
    "Claim",
    "JobRow",
    "NodeRow",
    "Recovery",
    "Row",
    "Store",
    "TaskRow",
    "TaskSource",
]
