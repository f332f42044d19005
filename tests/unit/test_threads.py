"""Unit tests of ``quiv._threads``: punctual timers for the scheduler thread."""

from __future__ import annotations

import ctypes
import sys
import threading

import pytest

from quiv._threads import punctual_timers

_PR_GET_TIMERSLACK = 30


def _slack() -> int:
    return int(ctypes.CDLL(None).prctl(_PR_GET_TIMERSLACK, 0, 0, 0, 0))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timer slack is Linux's")
def test_punctual_timers_set_the_calling_threads_timer_slack_alone() -> None:
    seen: dict[str, int] = {}

    def thread() -> None:
        seen["before"] = _slack()
        seen["agreed"] = punctual_timers()
        seen["after"] = _slack()

    worker = threading.Thread(target=thread)
    worker.start()
    worker.join()
    assert seen["agreed"]
    assert seen["before"] > 1  # the default (50 us, in ns)
    assert seen["after"] == 1
    assert _slack() > 1  # other threads keep theirs


def test_elsewhere_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert punctual_timers() is False
