"""What quiv writes to its logger: levels, wording, and what it never says."""

from __future__ import annotations

import gc
import logging
import threading

import pytest

from quiv import JobStatus, Quiv, RetryPolicy

from ._helpers import WAIT


@pytest.fixture
def q(quiv) -> Quiv:
    instance: Quiv = quiv(pool_size=2)
    instance.start()
    return instance


def test_lines_carry_no_quiv_prefix_of_their_own(quiv, caplog) -> None:
    """The logger's name says who speaks: ``%(name)s: %(message)s`` must not print
    "Quiv: quiv: ..."."""
    with caplog.at_level(logging.DEBUG, logger="Quiv"):
        q: Quiv = quiv()
        q.start()

        def failing() -> None:
            raise ValueError("bad")

        task_id = q.add_task("f", failing, run_once=True)
        q.wait_for_task(task_id, timeout=WAIT)
        q.shutdown()
    messages = [record.getMessage() for record in caplog.records if record.name == "Quiv"]
    assert len(messages) >= 4  # started, added, failed, stopped
    assert [m for m in messages if m.lower().startswith("quiv:")] == []


def test_a_retried_attempt_is_a_warning_and_the_last_failure_an_error(q: Quiv, caplog) -> None:
    def failing() -> None:
        raise ValueError("still broken")

    policy = RetryPolicy(max_retries=2, backoff=0.0, jitter=0.0)
    with caplog.at_level(logging.WARNING, logger="Quiv"):
        task_id = q.add_task("r", failing, run_once=True, retries=policy)
        job = q.wait_for_task(task_id, timeout=WAIT)
    assert (job.status, job.attempt) == (JobStatus.FAILED.value, 3)
    raised = [r for r in caplog.records if "still broken" in r.getMessage() or r.exc_info]
    assert [(r.levelno, r.exc_info is not None) for r in raised] == [
        (logging.WARNING, False),
        (logging.WARNING, False),
        (logging.ERROR, True),
    ]
    assert "attempt 1 of 3" in raised[0].getMessage()
    assert "attempt 2 of 3" in raised[1].getMessage()


def test_a_quiv_dropped_without_shutdown_says_so(caplog) -> None:
    """Nothing was waited for: the line must not speak of a shutdown timeout."""
    release = threading.Event()
    started = threading.Event()

    def stubborn() -> None:
        started.set()
        release.wait(WAIT)

    q = Quiv(pool_size=1)
    q.add_task("stubborn", stubborn, run_once=True)
    q.start()
    try:
        assert started.wait(WAIT)
        with caplog.at_level(logging.WARNING, logger="Quiv"):
            del q
            gc.collect()
        said = [record.getMessage() for record in caplog.records]
        assert any("without shutdown()" in line for line in said)
        assert not any("shutdown timeout" in line for line in said)
    finally:
        release.set()


def test_one_worker_is_spoken_of_as_one(quiv, caplog) -> None:
    from quiv.testing import FakeClock

    from ._helpers import advance, quiesce

    clock = FakeClock()
    q: Quiv = quiv(pool_size=1, clock=clock)
    q.start()
    release = threading.Event()
    q.add_task("slow", lambda: release.wait(WAIT), run_once=True)
    q.add_task("next", lambda: None, run_once=True)
    with caplog.at_level(logging.WARNING, logger="Quiv"):
        advance(q, clock, 5)
        release.set()
        quiesce(q)
    (line,) = [r.getMessage() for r in caplog.records if "late" in r.getMessage()]
    assert "the one worker was busy" in line
    assert "all 1 workers" not in line
