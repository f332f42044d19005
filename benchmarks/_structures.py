"""The baselines of the timing-structure benchmarks, with ``Timeline``'s interface.

- ``LazyHeap``: ``heapq`` with lazy deletion, the usual alternative. Cancel and reschedule
  leave the old entry in the heap and only forget it in a side dict; stale entries are
  skipped when they surface, and the heap is rebuilt when they outnumber the live ones.
- ``LinearScan``: a dict from key to deadline; finding the earliest or the due ones scans
  it all. What a naive scheduler (or a polling one, over its rows) does.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable
from typing import Any

__all__ = ["LazyHeap", "LinearScan"]


class LazyHeap:
    """Deadlines keyed by hashable keys, at most one per key, on a binary heap."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Any]] = []
        self._live: dict[Any, tuple[float, int]] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._live)

    def schedule(self, key: Hashable, deadline: float) -> None:
        seq = next(self._seq)
        self._live[key] = (deadline, seq)
        heapq.heappush(self._heap, (deadline, seq, key))
        if len(self._heap) > 2 * len(self._live) + 64:
            self._compact()

    def cancel(self, key: Hashable) -> bool:
        return self._live.pop(key, None) is not None

    def deadline(self, key: Hashable) -> float | None:
        entry = self._live.get(key)
        return None if entry is None else entry[0]

    def _compact(self) -> None:
        live = self._live
        self._heap = [e for e in self._heap if live.get(e[2], (0.0, -1))[1] == e[1]]
        heapq.heapify(self._heap)

    def _prune(self) -> None:
        heap, live = self._heap, self._live
        while heap:
            _, seq, key = heap[0]
            entry = live.get(key)
            if entry is not None and entry[1] == seq:
                return
            heapq.heappop(heap)

    def peek(self) -> tuple[float, Any] | None:
        self._prune()
        if not self._heap:
            return None
        return self._heap[0][0], self._heap[0][2]

    def pop_due(self, now: float, limit: int | None = None) -> list[tuple[Any, float]]:
        due: list[tuple[Any, float]] = []
        heap, live = self._heap, self._live
        while limit is None or len(due) < limit:
            self._prune()
            if not heap or heap[0][0] > now:
                break
            deadline, _, key = heapq.heappop(heap)
            del live[key]
            due.append((key, deadline))
        return due


class LinearScan:
    """Deadlines keyed by hashable keys in a dict; every query scans all of them."""

    def __init__(self) -> None:
        self._deadlines: dict[Any, float] = {}

    def __len__(self) -> int:
        return len(self._deadlines)

    def schedule(self, key: Hashable, deadline: float) -> None:
        self._deadlines[key] = deadline

    def cancel(self, key: Hashable) -> bool:
        return self._deadlines.pop(key, None) is not None

    def deadline(self, key: Hashable) -> float | None:
        return self._deadlines.get(key)

    def peek(self) -> tuple[float, Any] | None:
        if not self._deadlines:
            return None
        key = min(self._deadlines, key=self._deadlines.__getitem__)
        return self._deadlines[key], key

    def pop_due(self, now: float, limit: int | None = None) -> list[tuple[Any, float]]:
        due = sorted((d, k) for k, d in self._deadlines.items() if d <= now)
        if limit is not None:
            due = due[:limit]
        for _, key in due:
            del self._deadlines[key]
        return [(key, deadline) for deadline, key in due]
