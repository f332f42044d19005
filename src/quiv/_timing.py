"""The timing structure: every pending deadline of the scheduler, in one sorted list.

Entries are ``(deadline, seq, key)``. ``seq`` grows with every insertion, so entries with the
same deadline come out in the order they were scheduled (FIFO) and keys are never compared.
A dict from key to its live entry sits beside the sorted list, so that cancel and
reschedule find an entry without a scan. Pure: no threads, no I/O; time is whatever number
the caller passes.

Cancelling is lazy: the key leaves the dict, and its entry stays in the sorted list, stale,
until it reaches the front (where ``peek`` and ``pop_due`` drop it) or until stale entries
outnumber live ones (then the list is rebuilt without them). Removing an entry from the
middle of a large sorted list touches cold memory at every step of its search; forgetting a
key is one dict operation.

>>> t = Timeline[str]()
>>> t.schedule("b", 2.0); t.schedule("a", 1.0); t.schedule("c", 2.0)
>>> t.peek()
(1.0, 'a')
>>> t.count_due(2.0)
3
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

    __slots__ = ("_entries", "_index", "_seq", "_stale")

    # Stale entries are swept out of the sorted list once there are more of them than
    # live ones and this many: memory stays within twice the live entries', and the
    # rebuild, linear, is paid for by the cancels that made it necessary.
    _SWEEP_SLACK = 64

    def __init__(self) -> None:
        self._entries: SortedList = SortedList()
        self._index: dict[K, tuple[float, int, K]] = {}
        self._seq = itertools.count()
        self._stale = 0  # entries in the sorted list whose key no longer points at them

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[tuple[K, float]]:
        """Keys with their deadlines, earliest first."""
        index = self._index
        for deadline, seq, key in self._entries:
            live = index.get(key)
            if live is not None and live[1] == seq:  # seq is unique: this very entry
                yield key, deadline

    def schedule(self, key: K, deadline: float) -> None:
        """Set ``key``'s deadline, replacing any earlier one. O(log n).

        A rescheduled key goes behind the keys already waiting for the same deadline.
        """
        if math.isnan(deadline):
            raise ValueError("deadline must not be NaN")
        entry = (deadline, next(self._seq), key)
        old = self._index.get(key)
        self._index[key] = entry  # before a sweep, which keeps what the index points at
        self._entries.add(entry)
        if old is not None:
            self._forgot()

    def cancel(self, key: K) -> bool:
        """Drop ``key``'s deadline; return whether it had one. O(1) amortised."""
        if self._index.pop(key, None) is None:
            return False
        self._forgot()
        return True

    def _forgot(self) -> None:
        """Count an entry just made stale; sweep the stale ones out once they dominate."""
        self._stale += 1
        if self._stale > len(self._index) + self._SWEEP_SLACK:
            index = self._index
            # Already in order: SortedList sorts the live entries again in linear time.
            self._entries = SortedList(
                entry for entry in self._entries if index.get(entry[2]) is entry
            )
            self._stale = 0

    def deadline(self, key: K) -> float | None:
        """``key``'s deadline, or None. O(1)."""
        entry = self._index.get(key)
        return None if entry is None else entry[0]

    def _front(self) -> tuple[float, int, K] | None:
        """The earliest live entry, once the stale ones before it are dropped."""
        entries = self._entries
        index = self._index
        while entries:
            entry = entries[0]
            if index.get(entry[2]) is entry:
                return entry
            entries.pop(0)
            self._stale -= 1
        return None

    def peek(self) -> tuple[float, K] | None:
        """The earliest ``(deadline, key)``, or None when empty. O(1) amortised."""
        entry = self._front()
        return None if entry is None else (entry[0], entry[2])

    def pop_due(self, now: float, limit: int | None = None) -> list[tuple[K, float]]:
        """Remove and return ``(key, deadline)`` of entries due at ``now``, earliest first.

        An entry is due when its deadline is <= ``now``. At most ``limit`` entries are taken
        (the earliest ones); the rest stay. O(k) for k entries taken (and stale ones passed).

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
            entry = entries[0]
            deadline, _, key = entry
            if deadline > now:
                break
            entries.pop(0)
            if index.get(key) is not entry:
                self._stale -= 1
                continue
            del index[key]
            due.append((key, deadline))
            remaining -= 1
        return due

    def count_due(self, now: float) -> int:
        """How many keys are due at ``now`` (deadline <= ``now``); nothing changes.
        O(k) for k entries due, stale ones among them.

        Iterates from the front (no positional access, see ``pop_due``).
        """
        index = self._index
        due = 0
        for entry in self._entries:
            if entry[0] > now:
                break
            if index.get(entry[2]) is entry:
                due += 1
        return due

    def _check(self) -> None:
        """Assert the invariants: every live entry is in the sorted list, and the stale
        ones are counted."""
        index = self._index
        live = [entry for entry in self._entries if index.get(entry[2]) is entry]
        assert len(live) == len(index)
        assert len(self._entries) - len(live) == self._stale
        self._entries._check()
