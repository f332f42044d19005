"""Ids of tasks and jobs: random (version 4) UUID strings, as quiv 0.4.0 made them.

``uuid.uuid4()`` reads 16 bytes from ``os.urandom`` for every id; that system call releases
the GIL, and with busy threads around, taking it back costs more than everything else in
``add_task``. The same operating-system randomness is read here 4 KiB at a time instead, so
ids stay unpredictable (they appear in URLs) at a fraction of the cost. The string is cut out
of the hex text of the batch directly: a ``uuid.UUID`` object per id cost as much again as
the rest of id making. As in ``uuid4()``, 122 bits are random: the version nibble is ``4``
and the variant's two bits are ``10``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

__all__ = ["new_id"]

_BATCH = 256  # ids per read of the OS's randomness

# The variant nibble: its two high bits set to 10, its two low bits kept random.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}

_lock = threading.Lock()


def _ids() -> Iterator[str]:
    variant = _VARIANT
    while True:
        text = os.urandom(16 * _BATCH).hex()
        for i in range(0, len(text), 32):
            h = text[i : i + 32]
            yield f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant[h[16]]}{h[17:20]}-{h[20:]}"


_next = _ids().__next__


def new_id() -> str:
    """A new random UUID string. Thread-safe."""
    with _lock:
        return _next()
