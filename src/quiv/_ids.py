"""Ids of tasks and jobs: random (version 4) UUID strings, as quiv 0.4.0 made them.

``uuid.uuid4()`` reads 16 bytes from ``os.urandom`` for every id; that system call releases
the GIL, and with busy threads around, taking it back costs more than everything else in
``add_task``. The same operating-system randomness is read here 4 KiB at a time instead, so
ids stay unpredictable (they appear in URLs) at a fraction of the cost.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

__all__ = ["new_id"]

_BATCH = 256  # ids per read of the OS's randomness

_lock = threading.Lock()


def _ids() -> Iterator[str]:
    while True:
        pool = os.urandom(16 * _BATCH)
        for start in range(0, len(pool), 16):
            yield str(uuid.UUID(bytes=pool[start : start + 16], version=4))


_next = _ids().__next__


def new_id() -> str:
    """A new random UUID string. Thread-safe."""
    with _lock:
        return _next()
