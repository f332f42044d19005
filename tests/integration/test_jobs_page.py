"""The keyset page of jobs (``Queries.jobs_page``, for ``quiv.web``): newest first, every job
once per walk, stable while jobs are added, filtered; and the counts of jobs by status."""

from __future__ import annotations

from datetime import timedelta

import pytest

from quiv import Job, Quiv
from quiv.testing import FakeClock

from ._helpers import WAIT


def _make_jobs(q: Quiv, clock: FakeClock, task_id: str, count: int, step: float) -> list[str]:
    ids = []
    for _ in range(count):
        ids.append(q.wait_for_job(q.run_task(task_id), WAIT).id)
        clock.advance(step)
    return ids


def _walk(q: Quiv, size: int, **filters: object) -> list[list[Job]]:
    pages, before = [], None
    while True:
        jobs, before = q._queries.jobs_page(
            filters.get("status"), filters.get("task_id"), filters.get("since"),
            filters.get("until"), before, size,
        )  # fmt: skip
        pages.append(jobs)
        if before is None:
            return pages


@pytest.fixture
def q(quiv, clock):
    instance = quiv(clock=clock)
    instance.start()
    return instance


def test_a_walk_lists_every_job_once_newest_first(q, clock) -> None:
    task_id = q.add_task("t", lambda: None, interval=3600, delay=3600)
    q.pause_task(task_id)
    made = _make_jobs(q, clock, task_id, 9, step=1) + _make_jobs(q, clock, task_id, 8, step=0)
    pages = _walk(q, 5)
    assert [len(page) for page in pages] == [5, 5, 5, 2]
    listed = [job for page in pages for job in page]
    assert sorted(job.id for job in listed) == sorted(made)
    # Newest first; among jobs that started at the same instant, the greatest id first.
    keys = [(job.started_at, job.id) for job in listed]
    assert keys == sorted(keys, reverse=True)


def test_a_page_of_exactly_the_rest_says_it_is_the_last(q, clock) -> None:
    task_id = q.add_task("t", lambda: None, interval=3600, delay=3600)
    q.pause_task(task_id)
    _make_jobs(q, clock, task_id, 4, step=1)
    assert [len(page) for page in _walk(q, 4)] == [4]
    assert [len(page) for page in _walk(q, 2)] == [2, 2]


def test_jobs_added_during_a_walk_do_not_shift_its_later_pages(q, clock) -> None:
    task_id = q.add_task("t", lambda: None, interval=3600, delay=3600)
    q.pause_task(task_id)
    made = _make_jobs(q, clock, task_id, 10, step=1)
    first, before = q._queries.jobs_page(None, None, None, None, None, 4)
    _make_jobs(q, clock, task_id, 6, step=1)  # newer than everything on the first page
    rest = []
    while before is not None:
        page, before = q._queries.jobs_page(None, None, None, None, before, 4)
        rest.extend(page)
    listed = [job.id for job in first + rest]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(made)


def test_filters_narrow_the_walk(q, clock) -> None:
    one = q.add_task("one", lambda: None, interval=3600, delay=3600)
    two = q.add_task("two", lambda: 1 / 0, interval=3600, delay=3600)
    q.pause_task(one)
    q.pause_task(two)
    start = clock.now()
    ones = _make_jobs(q, clock, one, 3, step=10)
    twos = _make_jobs(q, clock, two, 3, step=10)

    def ids(**filters: object) -> list[str]:
        return sorted(job.id for page in _walk(q, 2, **filters) for job in page)

    assert ids(task_id=one) == sorted(ones)
    assert ids(status="failed") == sorted(twos)
    assert ids(status="completed", task_id=two) == []
    assert ids(since=start + timedelta(seconds=25)) == sorted(twos)
    assert ids(until=start + timedelta(seconds=25)) == sorted(ones)
    assert q._queries.jobs_by_status() == {"completed": 3, "failed": 3}


def test_the_walk_works_the_same_on_a_durable_store(quiv, durable_url) -> None:
    clock = FakeClock()
    q = quiv(clock=clock, database_url=durable_url)
    q.start()
    task_id = q.add_task("t", lambda: None, interval=3600, delay=3600)
    q.pause_task(task_id)
    made = _make_jobs(q, clock, task_id, 4, step=1) + _make_jobs(q, clock, task_id, 3, step=0)
    listed = [job for page in _walk(q, 3) for job in page]
    assert sorted(job.id for job in listed) == sorted(made)
    keys = [(job.started_at, job.id) for job in listed]
    assert keys == sorted(keys, reverse=True)
