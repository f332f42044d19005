"""Task and job ids: random version-4 UUID strings, unique across threads."""

from __future__ import annotations

import threading
import uuid

from quiv._ids import new_id


def test_ids_are_version_4_uuid_strings() -> None:
    value = new_id()
    parsed = uuid.UUID(value)
    assert str(parsed) == value
    assert parsed.version == 4
    assert parsed.variant == uuid.RFC_4122


def test_ids_are_unique_across_threads_and_batches() -> None:
    seen: list[list[str]] = []

    def make() -> None:
        seen.append([new_id() for _ in range(2_000)])  # several batches of 256 each

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [value for chunk in seen for value in chunk]
    assert len(every) == 8_000
    assert len(set(every)) == 8_000
