"""The timing structure: every pending deadline of the scheduler, in one sorted list.

Entries are ``(deadline, seq, key)``. ``seq`` grows with every insertion, so entries with the
same deadline come out in the order they were scheduled (FIFO) and keys are never compared.
A dict from key to entry sits beside the sorted list, so that cancel and reschedule find an
entry without a scan. Pure: no threads, no I/O; time is whatever number the caller passes.

>>> t = Timeline[str]()
>>> t.schedule("b", 2.0); t.schedule("a", 1.0); t.schedule("c", 2.0)
>>> t.peek()
(1.0, 'a')
>>> t.pop_due(2.0)
[('a', 1.0), ('b', 2.0), ('c', 2.0)]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

from sortedcontainers import SortedList

__all__ = ["Timeline"]

K = TypeVar("K", bound=Hashable)


class Timeline(Generic[K]):
    """Deadlines keyed by ``K``; at most one deadline per key."""

    __slots__ = ("_entries", "_index", "_seq")

    def __init__(self) -> None:
        self._entries: SortedList = SortedList()
        self._index: dict[K, tuple[float, int, K]] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[tuple[K, float]]:
        """Keys with their deadlines, earliest first."""
        return ((key, deadline) for deadline, _, key in self._entries)

    def schedule(self, key: K, deadline: float) -> None:
        """Set ``key``'s deadline, replacing any earlier one. O(log n).

        A rescheduled key goes behind the keys already waiting for the same deadline.
        """
        if math.isnan(deadline):
            raise ValueError("deadline must not be NaN")
        old = self._index.get(key)
        if old is not None:
            self._entries.remove(old)
        entry = (deadline, next(self._seq), key)
        self._entries.add(entry)
        self._index[key] = entry

    def cancel(self, key: K) -> bool:
        """Drop ``key``'s deadline; return whether it had one. O(log n)."""
        entry = self._index.pop(key, None)
        if entry is None:
            return False
        self._entries.remove(entry)
        return True

    def deadline(self, key: K) -> float | None:
        """``key``'s deadline, or None. O(1)."""
        entry = self._index.get(key)
        return None if entry is None else entry[0]

    def peek(self) -> tuple[float, K] | None:
        """The earliest ``(deadline, key)``, or None when empty. O(1)."""
        if not self._entries:
            return None
        deadline, _, key = self._entries[0]
        return deadline, key

    def pop_due(self, now: float, limit: int | None = None) -> list[tuple[K, float]]:
        """Remove and return ``(key, deadline)`` of entries due at ``now``, earliest first.

        An entry is due when its deadline is <= ``now``. At most ``limit`` entries are taken
        (the earliest ones); the rest stay. O(k) for k entries taken.

        Only the sorted list's front is touched (``[0]`` and ``pop(0)``): a positional
        operation (``bisect_left``, an index slice) makes ``SortedList`` build its index
        tree, which every later insertion and removal then pays to keep up to date, at a
        cost that grows with the number of entries.
        """
        entries = self._entries
        index = self._index
        remaining = len(index) if limit is None else limit
        due: list[tuple[K, float]] = []
        while remaining > 0 and entries:
            deadline, _, key = entries[0]
            if deadline > now:
                break
            entries.pop(0)
            del index[key]
            due.append((key, deadline))
            remaining -= 1
        return due

    def _check(self) -> None:
        """Assert the invariants: the index and the sorted list hold the same entries."""
        assert len(self._entries) == len(self._index)
        for entry in self._entries:
            assert self._index[entry[2]] is entry or self._index[entry[2]] == entry
        self._entries._check()
