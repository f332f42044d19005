"""Progress callbacks, listeners and ``run_on_main`` with and without a running main loop.

Tests with a main loop run their body inside ``asyncio.run`` on the main thread and await
what the scheduler delivers there, with ``asyncio.wait_for`` as the time limit.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from quiv import Event, JobStatus, run_on_main
from quiv import _bridge as quiv_bridge
from quiv.testing import wait_until

from ._helpers import WAIT, Recorder


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _job_statuses(q) -> list[str]:
    return [job.status for job in q.get_all_jobs()]


# -- progress callbacks ------------------------------------------------------------------


def test_progress_callback_runs_on_the_main_loop(quiv) -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        received: asyncio.Queue[Any] = asyncio.Queue()

        def on_progress(*args: Any, **kwargs: Any) -> None:
            received.put_nowait((args, kwargs, _on_main_thread(), asyncio.get_running_loop()))

        def handler(_progress_hook) -> None:
            _progress_hook(10)
            _progress_hook(50, stage="halfway")

        q = quiv()
        q.start()
        q.add_task("p", handler, interval=60, run_once=True, progress_callback=on_progress)
        first = await asyncio.wait_for(received.get(), WAIT)
        second = await asyncio.wait_for(received.get(), WAIT)
        assert first == ((10,), {}, True, loop)
        assert second == ((50,), {"stage": "halfway"}, True, loop)
        q.shutdown()

    asyncio.run(body())


def test_async_progress_callback_runs_on_the_main_loop(quiv) -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        received: asyncio.Queue[Any] = asyncio.Queue()

        async def on_progress(percent: int) -> None:
            await asyncio.sleep(0)
            received.put_nowait((percent, _on_main_thread(), asyncio.get_running_loop()))

        async def handler(_progress_hook) -> None:
            for percent in (0, 100):
                _progress_hook(percent)
                await asyncio.sleep(0)

        q = quiv()
        q.start()
        q.add_task("p", handler, interval=60, run_once=True, progress_callback=on_progress)
        results = [await asyncio.wait_for(received.get(), WAIT) for _ in range(2)]
        assert sorted(results, key=lambda r: r[0]) == [(0, True, loop), (100, True, loop)]
        q.shutdown()

    asyncio.run(body())


def test_failing_progress_callback_is_logged_not_raised_into_the_handler(quiv, caplog) -> None:
    caplog.set_level(logging.ERROR)

    async def body() -> None:
        calls: list[int] = []
        outcome: list[str] = []

        def on_progress(value: int) -> None:
            calls.append(value)
            raise RuntimeError("progress display broke")

        async def async_on_progress(value: int) -> None:
            calls.append(value)
            raise RuntimeError("async progress display broke")

        def handler(_progress_hook, callback_kind: str) -> None:
            try:
                _progress_hook(1)
            except BaseException as exc:  # must not happen
                outcome.append(f"raised {exc!r}")
            else:
                outcome.append("ok")

        q = quiv()
        q.start()
        for kind, callback in (("sync", on_progress), ("async", async_on_progress)):
            q.add_task(
                kind,
                handler,
                interval=60,
                run_once=True,
                kwargs={"callback_kind": kind},
                progress_callback=callback,
            )
        while len(calls) < 2 or len(q.get_all_jobs(status="completed")) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        assert outcome == ["ok", "ok"]
        q.shutdown()

    asyncio.run(asyncio.wait_for(body(), WAIT))
    messages = "\n".join(str(r.exc_info) for r in caplog.records)
    assert "progress display broke" in messages
    assert "async progress display broke" in messages


def test_progress_callback_without_a_main_loop_runs_on_the_worker(quiv, caplog) -> None:
    caplog.set_level(logging.ERROR)
    q = quiv()
    q.start()
    recorder = Recorder()
    handler_threads: list[threading.Thread] = []

    def handler(_progress_hook) -> None:
        handler_threads.append(threading.current_thread())
        _progress_hook(1, of=2)

    q.add_task("p", handler, interval=60, run_once=True, progress_callback=recorder)
    recorder.wait_for(1)
    assert recorder.calls == [(1,)]
    assert recorder.kwargs == [{"of": 2}]
    assert recorder.threads == handler_threads

    def broken(value: int, of: int) -> None:
        raise RuntimeError("no display")

    q.add_task("broken", handler, interval=60, run_once=True, progress_callback=broken)
    wait_until(lambda: len(q.get_all_jobs(status=JobStatus.COMPLETED)) == 2, WAIT)
    assert any("no display" in str(r.exc_info) for r in caplog.records)


def test_async_progress_callback_without_a_main_loop(quiv) -> None:
    q = quiv()
    q.start()
    seen: list[Any] = []

    async def on_progress(value: int) -> None:
        await asyncio.sleep(0)
        seen.append((value, threading.current_thread().name))

    def handler(_progress_hook) -> None:
        _progress_hook(3)

    q.add_task("p", handler, interval=60, run_once=True, progress_callback=on_progress)
    wait_until(lambda: seen, WAIT)
    assert seen[0][0] == 3
    assert seen[0][1].startswith("quiv-worker")


# -- async handlers ------------------------------------------------------------------------


def test_async_handler_never_runs_on_the_main_loop(quiv) -> None:
    async def body() -> None:
        main_loop = asyncio.get_running_loop()
        seen: list[Any] = []

        async def handler() -> None:
            await asyncio.sleep(0)
            seen.append((asyncio.get_running_loop(), threading.current_thread()))

        q = quiv()
        q.start()
        q.add_task("async", handler, interval=60, run_once=True)
        while not seen:
            await asyncio.sleep(0.01)
        loop, thread = seen[0]
        assert loop is not main_loop
        assert thread is not threading.main_thread()
        q.shutdown()

    asyncio.run(asyncio.wait_for(body(), WAIT))


# -- listeners on the main loop --------------------------------------------------------------


def test_listeners_run_on_the_main_loop_in_order(quiv) -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        calls: list[tuple[str, Event, bool]] = []
        done = asyncio.Event()

        def first(event: Event, *rest: Any) -> None:
            calls.append(("first", event, asyncio.get_running_loop() is loop))

        async def second(event: Event, *rest: Any) -> None:
            calls.append(("second", event, asyncio.get_running_loop() is loop))

        def third(event: Event, *rest: Any) -> None:
            calls.append(("third", event, _on_main_thread()))
            if event is Event.JOB_COMPLETED:
                done.set()

        q = quiv()
        q.start()
        for event in (Event.TASK_ADDED, Event.JOB_STARTED, Event.JOB_COMPLETED):
            for listener in (first, second, third):
                q.add_listener(event, listener)
        q.add_task("t", lambda: None, interval=60, run_once=True)
        await asyncio.wait_for(done.wait(), WAIT)
        for _ in range(3):
            await asyncio.sleep(0)
        assert [c[1] for c in calls if c[0] == "first"] == [
            Event.TASK_ADDED,
            Event.JOB_STARTED,
            Event.JOB_COMPLETED,
        ]
        assert [c[0] for c in calls if c[0] != "second"] == ["first", "third"] * 3
        assert len([c for c in calls if c[0] == "second"]) == 3
        assert all(c[2] for c in calls)
        q.shutdown()

    asyncio.run(body())


def test_failing_listener_on_the_main_loop_is_logged(quiv, caplog) -> None:
    caplog.set_level(logging.ERROR)

    async def body() -> None:
        after = asyncio.Event()

        def broken(*args: Any) -> None:
            raise RuntimeError("listener on loop broke")

        q = quiv()
        q.start()
        q.add_listener(Event.JOB_COMPLETED, broken)
        q.add_listener(Event.JOB_COMPLETED, lambda *args: after.set())
        q.add_task("t", lambda: None, interval=60, run_once=True)
        await asyncio.wait_for(after.wait(), WAIT)
        q.shutdown()

    asyncio.run(body())
    assert any("listener on loop broke" in str(r.exc_info) for r in caplog.records)


def test_explicit_main_loop_in_another_thread(quiv) -> None:
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, name="app-loop", daemon=True)
    loop_thread.start()
    try:
        q = quiv(main_loop=loop)
        q.start()
        recorder = Recorder()
        q.add_listener(Event.JOB_COMPLETED, recorder)

        def handler(_progress_hook) -> None:
            _progress_hook("step")
            run_on_main(recorder, "from run_on_main")

        q.add_task("t", handler, interval=60, run_once=True, progress_callback=recorder)
        recorder.wait_for(3)
        assert {thread.name for thread in recorder.threads} == {"app-loop"}
        assert sorted(str(call[0]) for call in recorder.calls) == sorted(
            ["step", "from run_on_main", str(Event.JOB_COMPLETED)]
        )
        q.shutdown()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(WAIT)
        loop.close()


# -- run_on_main ---------------------------------------------------------------------------


def test_run_on_main_from_a_handler(quiv) -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        received: asyncio.Queue[Any] = asyncio.Queue()
        unblock = asyncio.Event()

        def sync_func(a: int, *, b: int) -> None:
            received.put_nowait(("sync", a, b, _on_main_thread(), asyncio.get_running_loop()))

        async def async_func(a: int) -> None:
            received.put_nowait(("async-start", a, _on_main_thread(), asyncio.get_running_loop()))
            await unblock.wait()
            received.put_nowait(("async-end", a))

        def handler() -> None:
            run_on_main(sync_func, 1, b=2)
            run_on_main(async_func, 3)

        q = quiv()
        q.start()
        task_id = q.add_task("t", handler, interval=60, run_once=True)
        assert await asyncio.wait_for(received.get(), WAIT) == ("sync", 1, 2, True, loop)
        assert await asyncio.wait_for(received.get(), WAIT) == ("async-start", 3, True, loop)
        # Fire and forget: the job completed although the coroutine has not finished.
        while not [j for j in q.get_all_jobs(status="completed") if j.task_id == task_id]:
            await asyncio.sleep(0.01)
        assert received.empty()
        unblock.set()
        assert await asyncio.wait_for(received.get(), WAIT) == ("async-end", 3)
        q.shutdown()

    asyncio.run(asyncio.wait_for(body(), WAIT))


def test_run_on_main_on_the_loop_thread_runs_inline(quiv) -> None:
    async def body() -> None:
        q = quiv()
        q.start()
        calls: list[Any] = []
        run_on_main(calls.append, "now")
        assert calls == ["now"]
        q.shutdown()

    asyncio.run(body())


def test_run_on_main_failure_is_logged_not_raised(quiv, caplog) -> None:
    caplog.set_level(logging.ERROR)

    async def body() -> None:
        done = asyncio.Event()
        outcome: list[str] = []

        def broken() -> None:
            raise RuntimeError("main-side failure")

        def handler() -> None:
            try:
                run_on_main(broken)
                run_on_main(done.set)
            except BaseException as exc:
                outcome.append(repr(exc))
            else:
                outcome.append("ok")

        q = quiv()
        q.start()
        q.add_task("t", handler, interval=60, run_once=True)
        await done.wait()
        while not outcome:  # the handler may not have reached its last line yet
            await asyncio.sleep(0.01)
        assert outcome == ["ok"]
        q.shutdown()

    asyncio.run(asyncio.wait_for(body(), WAIT))
    assert any("main-side failure" in str(r.exc_info) for r in caplog.records)


def test_run_on_main_without_a_running_loop_raises(quiv) -> None:
    q = quiv()
    q.start()
    outcome: list[Any] = []

    def handler() -> None:
        try:
            run_on_main(outcome.append, "ran")
        except RuntimeError as exc:
            outcome.append(exc)

    q.add_task("t", handler, interval=60, run_once=True)
    wait_until(lambda: outcome, WAIT)
    assert isinstance(outcome[0], RuntimeError)
    with pytest.raises(RuntimeError):
        run_on_main(outcome.append, "from the test thread")


def test_run_on_main_without_a_started_instance_raises(quiv, monkeypatch) -> None:
    # Other tests may leave started instances behind; start from a clean registry.
    monkeypatch.setattr(quiv_bridge, "_active", [])
    with pytest.raises(RuntimeError):
        run_on_main(print, "never")
    q = quiv()
    with pytest.raises(RuntimeError):
        run_on_main(print, "never")
    q.start()
    q.shutdown()
    with pytest.raises(RuntimeError):
        run_on_main(print, "never")

    async def body() -> None:
        with pytest.raises(RuntimeError):
            run_on_main(print, "never")

    asyncio.run(body())


# -- defects -------------------------------------------------------------------------------


def test_run_on_main_from_an_async_handler_without_a_main_loop_raises(quiv) -> None:
    q = quiv()
    q.start()
    outcome: list[Any] = []

    async def handler() -> None:
        try:
            run_on_main(outcome.append, "ran inline on the worker")
        except RuntimeError as exc:
            outcome.append(exc)

    q.add_task("t", handler, interval=60, run_once=True)
    wait_until(lambda: outcome, WAIT)
    assert isinstance(outcome[0], RuntimeError), outcome


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def test_listeners_stay_off_an_async_handlers_loop(quiv) -> None:
    # Without a main loop, listeners run where quiv 0.4.0 ran them: never on the temporary
    # loop an async handler runs on, even though its progress hook was called from there.
    q = quiv()
    q.start()
    seen: list[tuple[Event, threading.Thread, asyncio.AbstractEventLoop | None]] = []

    def listener(event: Event, *_args: object) -> None:
        seen.append((event, threading.current_thread(), _running_loop()))

    q.add_listener(Event.TASK_PAUSED, listener)
    q.add_listener(Event.JOB_COMPLETED, listener)
    reported = threading.Event()
    handler_side: list[tuple[threading.Thread, asyncio.AbstractEventLoop]] = []

    async def handler(_progress_hook) -> None:
        handler_side.append((threading.current_thread(), asyncio.get_running_loop()))
        _progress_hook(50)
        reported.set()
        # Keep this loop running until the listener was called, wherever that happens.
        for _ in range(int(WAIT * 100)):
            if seen:
                break
            await asyncio.sleep(0.01)

    other = q.add_task("other", lambda: None, interval=60, delay=60)
    q.add_task("async", handler, interval=60, run_once=True, progress_callback=lambda p: None)
    assert reported.wait(WAIT)
    q.pause_task(other)
    # A task event: on the caller's thread, before pause_task returned.
    assert seen == [(Event.TASK_PAUSED, threading.current_thread(), None)]
    # The async job's end: on the worker that ran it, once the handler's loop is gone.
    wait_until(lambda: len(seen) == 2, WAIT)
    ((handler_thread, handler_loop),) = handler_side
    assert seen[1] == (Event.JOB_COMPLETED, handler_thread, None)
    assert handler_thread.name.startswith("quiv-worker")
    assert handler_loop.is_closed()


def test_progress_callback_base_exception_is_not_raised_into_the_handler(quiv) -> None:
    q = quiv()
    q.start()
    outcome: list[Any] = []

    def on_progress(value: int) -> None:
        raise SystemExit("the progress display exited")

    def handler(_progress_hook) -> None:
        try:
            _progress_hook(1)
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append("ok")

    q.add_task("t", handler, interval=60, run_once=True, progress_callback=on_progress)
    wait_until(lambda: outcome, WAIT)
    assert outcome == ["ok"]


def test_async_progress_callback_from_an_async_handler_without_a_main_loop(quiv) -> None:
    q = quiv()
    q.start()
    seen: list[int] = []

    async def on_progress(value: int) -> None:
        await asyncio.sleep(0)
        seen.append(value)

    async def handler(_progress_hook) -> None:
        _progress_hook(1)

    task_id = q.add_task("t", handler, interval=60, run_once=True, progress_callback=on_progress)
    wait_until(
        lambda: [j for j in q.get_all_jobs(status="completed") if j.task_id == task_id], WAIT
    )
    # Without a main loop the callback runs on the worker, before the hook returns.
    assert seen == [1]
