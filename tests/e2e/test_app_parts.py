"""The example app's parts on their own: settings, the job-id log filter, the feed.

These parts need neither FastAPI nor a server, so they run wherever quiv does.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from examples.fastapi_app.feed import ProgressFeed, Signal
from examples.fastapi_app.logs import JobIdFilter, current_job_id, job_context
from examples.fastapi_app.settings import Settings


def test_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "QUIV_EXAMPLE_POOL_SIZE": "2",
            "QUIV_EXAMPLE_CLEANUP_INTERVAL": "0.5",
            "QUIV_EXAMPLE_LOG_LEVEL": "debug",
        }
    )
    assert settings == Settings(pool_size=2, cleanup_interval=0.5, log_level="DEBUG")
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize("value", ["soon", "0", "-1"])
def test_bad_settings_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="QUIV_EXAMPLE_SHUTDOWN_TIMEOUT"):
        Settings.from_env({"QUIV_EXAMPLE_SHUTDOWN_TIMEOUT": value})


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_log_records_carry_the_job_id_of_their_context() -> None:
    collect = _Collect()
    collect.addFilter(JobIdFilter())
    logger = logging.getLogger("fastapi_app.tests.job_id")
    logger.addHandler(collect)
    logger.propagate = False
    try:
        logger.warning("outside")
        with job_context("job-1"):
            logger.warning("inside")
            with job_context("job-2"):
                logger.warning("nested")
            logger.warning("inside again")
        logger.warning("after")
        logger.warning("explicit", extra={"job_id": "given"})
    finally:
        logger.removeHandler(collect)
    ids = [getattr(record, "job_id", None) for record in collect.records]
    assert ids == ["-", "job-1", "job-2", "job-1", "-", "given"]
    assert current_job_id() == "-"


def test_the_job_id_does_not_leak_between_threads() -> None:
    seen: list[str] = []
    with job_context("main"):
        worker = threading.Thread(target=lambda: seen.append(current_job_id()))
        worker.start()
        worker.join()
    assert seen == ["-"]


def test_the_feed_fans_out_in_order_and_drops_a_lagging_subscriber() -> None:
    async def scenario() -> None:
        feed = ProgressFeed(max_backlog=3)
        with feed.subscription() as slow, feed.subscription() as fast:
            for n in range(3):
                feed.publish({"n": n})
            assert [fast.get_nowait() for _ in range(3)] == [{"n": 0}, {"n": 1}, {"n": 2}]
            feed.publish({"n": 3})  # ``slow`` is full: it is told to go, ``fast`` goes on
            assert slow.get_nowait() is Signal.LAGGING
            assert slow.empty()
            assert fast.get_nowait() == {"n": 3}
            assert feed.subscribers == 1
            feed.close()
            assert fast.get_nowait() is Signal.CLOSED
        assert feed.subscribers == 0

    asyncio.run(scenario())


def test_the_feed_hands_messages_from_other_threads_to_its_loop() -> None:
    async def scenario() -> None:
        feed = ProgressFeed()
        with feed.subscription() as inbox:
            publisher = threading.Thread(target=feed.publish, args=({"from": "thread"},))
            publisher.start()
            publisher.join()
            assert await asyncio.wait_for(inbox.get(), timeout=10) == {"from": "thread"}

    asyncio.run(scenario())
