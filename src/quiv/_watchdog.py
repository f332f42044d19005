"""A bound on every call to a database server, whatever the server does.

A server that stops answering without closing its connections (stopped by SIGSTOP, a
network partition that drops packets) leaves a client blocked in ``recv`` for ever: the
server's own timeouts cannot fire, TCP keep-alives are answered by its kernel, and libpq
offers no timeout for a query under way. So quiv bounds each use of a connection itself:
the pool tells the watchdog when a connection is taken and given back, and a connection
held longer than its limit, or past a cut-off that shutdown sets, has its socket shut down
from this thread. The blocked call then fails at once with a lost connection, which the
store handles as a database that does not answer (its rows wait; see ``_store``).

Shutting a socket down (not closing its descriptor) is safe from another thread: the
descriptor stays the driver's to close, so it can never be reused under it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time

from ._threads import start_thread

__all__ = ["Watchdog"]

# How often the watchdog looks at the connections in use, at most.
_TICK_SECONDS = 0.1


class Watchdog:
    """Watches the connections in use of one engine; ``limit`` seconds each."""

    def __init__(self, limit: float, logger: logging.Logger | None = None) -> None:
        self.limit = limit
        self._logger = logger or logging.getLogger("Quiv")
        self._lock = threading.Lock()
        self._held: dict[int, tuple[float, int]] = {}  # key -> (deadline, socket fd)
        self._cutoff: float | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.cut = 0  # how many connections it shut down

    def hold(self, key: int, fd: int) -> None:
        """A connection (its socket ``fd``) is in use from now on."""
        with self._lock:
            self._held[key] = (time.monotonic() + self.limit, fd)
            if self._thread is None and not self._stopped.is_set():
                self._thread = start_thread(self._run, "quiv-db-watchdog")

    def release(self, key: int) -> None:
        """The connection is no longer in use."""
        with self._lock:
            self._held.pop(key, None)

    def cut_off(self, deadline: float) -> None:
        """No connection may stay in use past ``deadline`` (monotonic): shutdown's bound."""
        with self._lock:
            self._cutoff = deadline if self._cutoff is None else min(self._cutoff, deadline)

    def stop(self) -> None:
        """End the watchdog's thread."""
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(_TICK_SECONDS):
            now = time.monotonic()
            with self._lock:
                cutoff = self._cutoff
                due = [
                    (key, fd)
                    for key, (deadline, fd) in self._held.items()
                    if now >= deadline or (cutoff is not None and now >= cutoff)
                ]
                for key, _ in due:
                    del self._held[key]
            for _, fd in due:
                self._shut(fd, cutoff is not None and now >= cutoff)

    def _shut(self, fd: int, cut_off: bool) -> None:
        try:
            duplicate = os.dup(fd)
        except OSError:
            return  # closed meanwhile: the call is over
        try:
            with socket.socket(fileno=duplicate) as sock, contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            os.close(duplicate)
            return
        self.cut += 1
        with contextlib.suppress(Exception):
            self._logger.warning(
                "store: a database call %s; its connection is closed so that the caller "
                "does not wait for ever (the server may be stopped or unreachable)",
                "went past shutdown's bound" if cut_off else f"took over {self.limit:g} s",
            )
