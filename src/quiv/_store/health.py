"""Whether the database answers: outages, told once and backed off, and a lost SQLite file.

``Outage`` is the state the store's parts share about the database's answers: the writer,
the heartbeat, the poll for cancel requests and the round trips for shared tasks
(``Store.told_once``) each note a failure that means nobody answered (down, unreachable, a
lost connection, a full disk, a lock not granted) as opposed to a row the database refused,
and the first write that goes through ends the outage. An outage is logged once when it
begins, and once when it ends, with how long it lasted. ``FileWatch`` notices a durable
SQLite file deleted or replaced under the process.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .._database import Database

RETRY_SECONDS = 0.2  # before writing again the rows of a batch that failed
# A database that does not answer (down, unreachable, disk full, locked) costs no row: rows
# wait and are retried, every RETRY_SECONDS doubling up to OUTAGE_RETRY_MAX_SECONDS.
OUTAGE_RETRY_MAX_SECONDS = 5.0


class Outage:
    """Whether the database answers, shared by the parts of one store. Not locked: each field
    is a plain read or write (by the writer thread, a reader flushing, or the heartbeat), and
    a race costs at most a retry's timing or the count in a log line."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        # Since when (monotonic) the database has not answered, and the wait before the
        # next try; None while it answers. Job rows dropped for the bound in this outage.
        self.since: float | None = None
        self.wait = RETRY_SECONDS
        self.dropped = 0
        # Whether a heartbeat failed (or could have: any failure to answer) since the last
        # one that went through.
        self.missed_beat = False

    @property
    def under_way(self) -> bool:
        """Whether the database has not answered the last write."""
        return self.since is not None

    @staticmethod
    def is_unanswered(exc: BaseException) -> bool:
        """Whether ``exc`` says the database did not answer (down, unreachable, a lost
        connection, a full disk, a lock not granted), rather than refused a row."""
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        return isinstance(
            exc,
            (OperationalError, InterfaceError, PoolTimeoutError, OSError, sqlite3.OperationalError),
        )

    def unanswered(self, exc: BaseException, rows: int = 0) -> bool:
        """``is_unanswered``, noting the outage it means: logged when it begins, not at
        every try."""
        if not self.is_unanswered(exc):
            return False
        self.missed_beat = True  # others may have been cut off as well
        if self.since is None:
            self.since = time.monotonic()
            self.wait = RETRY_SECONDS
            self._logger.warning(
                "store: the database does not answer (%s: %s); %d rows wait, and are written "
                "when it answers again (tried every few seconds, logged once)",
                type(exc).__name__,
                str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                rows,
            )
        return True

    def answered(self) -> None:
        """A write went through: an outage, if any, is over."""
        since = self.since
        if since is None:
            return
        self.since = None
        dropped, self.dropped = self.dropped, 0
        self._logger.warning(
            "store: the database answers again after %.1f s; the rows that waited are written%s",
            time.monotonic() - since,
            f" (but {dropped} job rows were dropped)" if dropped else "",
        )


class FileWatch:
    """The identity of a durable SQLite file (its device and inode), to notice it deleted or
    replaced under us."""

    def __init__(self, database: Database, logger: logging.Logger) -> None:
        self._database = database
        self._logger = logger
        self._file_id: tuple[int, int] | None = None
        self._file_lost = False
        if database.kind == "sqlite" and database.path is not None:
            opened = os.stat(database.path)
            self._file_id = (opened.st_dev, opened.st_ino)

    def intact(self) -> bool:
        """Whether a durable SQLite file is still the one opened (not deleted, not replaced
        by another file on its path); logged once when it is not. Always True for other
        kinds of database. O(1): one stat."""
        if self._file_id is None:
            return True
        path = self._database.path
        assert path is not None
        try:
            found = os.stat(path)
            intact = (found.st_dev, found.st_ino) == self._file_id
        except OSError:
            intact = False
        if not intact and not self._file_lost:
            self._file_lost = True
            self._logger.error(
                "store: the database file %s was deleted or replaced while in use: what this "
                "process writes now goes to a file nobody else reads, and shared tasks claim "
                "no more runs here (another process on that path would run them too). "
                "Restore the file and restart this process",
                path,
            )
        return intact
