"""Timing structure: quiv's ``Timeline`` against ``heapq`` with lazy deletion and a linear scan.

Every structure holds ``n`` entries (10^2 ... 10^6; the scan's peek and pop_due, which scan,
only up to 10^4) whose deadlines are the grid 0, 1, 2, ... inserted in random order. A round
performs ``OPS`` operations of one kind on random keys; its setup (untimed) picks them and its
teardown (untimed) undoes them, so every round sees the same ``n`` entries on the same grid.
Divide a round's time by ``OPS`` (``extra_info["ops_per_round"]``) for the cost of one operation.

One group per operation (``timing.<op>``); each holds every structure at every size.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from _structures import LazyHeap, LinearScan

from quiv._timing import Timeline

OPS = 100
SIZES = [10**k for k in range(2, 7)]
SCAN_MAX = 10**4
IMPLS = {"Timeline": Timeline, "heapq": LazyHeap, "scan": LinearScan}

_rng = random.Random(3)


class Loaded:
    """A structure of ``n`` entries, keys ``k0..k{n-1}``, deadlines on a grid from ``head``."""

    def __init__(self, impl: str, n: int) -> None:
        self.n = n
        self.keys = [f"k{i}" for i in range(n)]
        order = list(range(n))
        random.Random(n).shuffle(order)
        self.s: Any = IMPLS[impl]()
        for i in order:
            self.s.schedule(self.keys[i], float(i))
        self.head = 0  # the grid's earliest deadline; pop_due moves it forward
        self.fresh = 0

    def window(self) -> float:
        """A random deadline among the current ones."""
        return _rng.uniform(self.head, self.head + self.n)


_loaded: dict[tuple[str, int], Loaded] = {}


def loaded(impl: str, n: int) -> Loaded:
    if (impl, n) not in _loaded:
        _loaded[(impl, n)] = Loaded(impl, n)
    return _loaded[(impl, n)]


def _cases(*, scans: bool = False) -> list[Any]:
    """Every structure at every size; the scan only up to ``SCAN_MAX`` unless ``scans`` is
    False, for the operations where it does not scan (schedule, cancel, reschedule are one
    dict operation each: the floor that any structure with a key index pays, memory
    latency at large sizes included)."""
    return [
        pytest.param(impl, n, id=f"{impl}-10^{len(str(n)) - 1}")
        for n in SIZES
        for impl in IMPLS
        if impl != "scan" or n <= SCAN_MAX or not scans
    ]


def _run(benchmark: Any, op: str, impl: str, n: int, target: Any, setup: Any, teardown: Any):
    benchmark.group = f"timing.{op}"
    benchmark.extra_info.update(concept="timing", op=op, impl=impl, n=n, ops_per_round=OPS)
    rounds = 20 if impl == "scan" and n >= 10**4 else 100
    benchmark.pedantic(
        target, setup=setup, teardown=teardown, rounds=rounds, warmup_rounds=3, iterations=1
    )


@pytest.mark.parametrize(("impl", "n"), _cases(scans=True))
def test_pop_due(benchmark: Any, impl: str, n: int) -> None:
    """pop_due(now) taking exactly one due entry, as the dispatch loop does per free worker."""
    data = loaded(impl, n)
    s = data.s

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        nows = [float(data.head + j) for j in range(OPS)]
        return (nows, []), {}

    def target(nows: list[float], out: list[Any]) -> None:
        pop = s.pop_due
        for now in nows:
            out.append(pop(now))

    def teardown(nows: list[float], out: list[Any]) -> None:
        for popped in out:
            assert len(popped) == 1
            key, deadline = popped[0]
            s.schedule(key, deadline + n)  # back at the end of the grid
        data.head += OPS

    _run(benchmark, "pop_due", impl, n, target, setup, teardown)


@pytest.mark.parametrize(("impl", "n"), _cases(scans=True))
def test_peek(benchmark: Any, impl: str, n: int) -> None:
    """peek(): the earliest deadline, which the loop sleeps until."""
    s = loaded(impl, n).s

    def target() -> None:
        peek = s.peek
        for _ in range(OPS):
            peek()

    _run(benchmark, "peek", impl, n, target, None, None)


@pytest.mark.parametrize(("impl", "n"), _cases())
def test_schedule(benchmark: Any, impl: str, n: int) -> None:
    """schedule() of a new key at a random deadline (add_task, a run's next deadline)."""
    data = loaded(impl, n)
    s = data.s

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        data.fresh += 1
        pairs = [(f"new{data.fresh}-{j}", data.window()) for j in range(OPS)]
        return (pairs,), {}

    def target(pairs: list[tuple[str, float]]) -> None:
        schedule = s.schedule
        for key, deadline in pairs:
            schedule(key, deadline)

    def teardown(pairs: list[tuple[str, float]]) -> None:
        for key, _ in pairs:
            s.cancel(key)

    _run(benchmark, "schedule", impl, n, target, setup, teardown)


@pytest.mark.parametrize(("impl", "n"), _cases())
def test_cancel(benchmark: Any, impl: str, n: int) -> None:
    """cancel() of a random existing key (pause_task, remove_task)."""
    data = loaded(impl, n)
    s = data.s

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        keys = _rng.sample(data.keys, OPS)
        return ([(key, s.deadline(key)) for key in keys],), {}

    def target(pairs: list[tuple[str, float]]) -> None:
        cancel = s.cancel
        for key, _ in pairs:
            cancel(key)

    def teardown(pairs: list[tuple[str, float]]) -> None:
        for key, deadline in pairs:
            s.schedule(key, deadline)

    _run(benchmark, "cancel", impl, n, target, setup, teardown)


@pytest.mark.parametrize(("impl", "n"), _cases())
def test_reschedule(benchmark: Any, impl: str, n: int) -> None:
    """schedule() of a random existing key to a random new deadline (resume, run now)."""
    data = loaded(impl, n)
    s = data.s

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        keys = _rng.sample(data.keys, OPS)
        return ([(key, data.window(), s.deadline(key)) for key in keys],), {}

    def target(moves: list[tuple[str, float, float]]) -> None:
        schedule = s.schedule
        for key, deadline, _ in moves:
            schedule(key, deadline)

    def teardown(moves: list[tuple[str, float, float]]) -> None:
        for key, _, old in moves:
            s.schedule(key, old)

    _run(benchmark, "reschedule", impl, n, target, setup, teardown)
