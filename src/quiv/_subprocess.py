"""``run_subprocess``: ``subprocess.run`` for handlers, stopped by the job's cancellation.

A handler that runs a long command cannot look at its stop event while it waits for the
child, so ``cancel_job``, ``remove_task``, a task's ``timeout`` and ``shutdown`` could not
reach it. ``run_subprocess`` watches the event on the handler's behalf and stops the child
when it is set.

The design, and why:

- **A helper thread talks to the child.** It runs ``Popen.communicate(input)`` to the end:
  it writes the input, reads stdout and stderr as they come, and reaps the child. The pipes
  are always drained, so a child that writes megabytes never blocks on a full pipe while
  the calling thread waits. The calling thread itself only waits for the helper to finish,
  in slices of ``_POLL`` seconds, and looks at the stop event and the deadline between
  slices: completion is seen at once, a stop within ``_POLL``. Calling
  ``communicate(timeout=...)`` in a loop from one thread would avoid the helper, but
  ``communicate`` does not resume writing the input after a timeout (it registers stdin
  only when given the input again, and refuses input once communication has started), so
  an input larger than the pipe's buffer would stall the child.
- **Stopping is terminate, grace, kill.** The child gets SIGTERM (``Popen.terminate``),
  ``kill_grace`` seconds to exit, then SIGKILL. On Windows both are ``TerminateProcess``.
- **Only the direct child is signalled**, unless it was started with
  ``start_new_session=True``: then it leads a process group of its own, and on POSIX every
  signal goes to the whole group (``os.killpg``), and after a stop whatever is left of the
  group is killed once the child has exited. Grandchildren of a child started without it
  are not touched.
- **No child outlives the call.** Whatever ends the wait (completion, stop, timeout, an
  exception such as ``KeyboardInterrupt`` in the calling thread), the child is killed if it
  still runs and is always reaped before ``run_subprocess`` returns or raises.
- **A grandchild may hold the pipes open** after the child has exited (a daemon started
  without ``start_new_session``). Like ``subprocess.run``, the call then waits for it to
  close them; but a stop or a timeout ends that wait: the call gives the helper
  ``_DRAIN_AFTER_EXIT`` seconds more, then raises without the output it has not read, and
  the helper (a daemon thread) ends when the grandchild closes the pipes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from ._config import check_number
from ._context import current_job
from .exceptions import ConfigurationError, JobCancelledError

__all__ = ["run_subprocess"]

# How often the waiting thread looks at the stop event: the most a stop waits to be seen.
# Completion is not polled (the helper thread sets an event), so this costs latency only
# to a cancellation, and a few wake-ups a second to a waiting thread.
_POLL = 0.05
# After the child has exited, how long to wait for the helper to read what is left in the
# pipes. Only a grandchild holding them open makes it wait this long.
_DRAIN_AFTER_EXIT = 1.0


class _Pump:
    """A helper thread that runs ``proc.communicate(input)``: it feeds the input, drains
    the output pipes and reaps the child; ``done`` is set when it has finished."""

    def __init__(self, proc: subprocess.Popen[Any], input: bytes | str | None) -> None:
        self.done = threading.Event()
        self.output: tuple[Any, Any] = (None, None)
        self.error: BaseException | None = None
        thread = threading.Thread(
            target=self._run, args=(proc, input), name=f"quiv-subprocess-{proc.pid}"
        )
        # Daemon: a grandchild that holds the pipes open must not keep the process alive.
        thread.daemon = True
        thread.start()

    def _run(self, proc: subprocess.Popen[Any], input: bytes | str | None) -> None:
        try:
            self.output = proc.communicate(input)
        except BaseException as exc:  # handed to the calling thread, which raises it
            self.error = exc
        finally:
            self.done.set()


def run_subprocess(
    args: Sequence[str] | str,
    *,
    input: bytes | str | None = None,
    stop_event: threading.Event | None = None,
    timeout: float | None = None,
    kill_grace: float = 5.0,
    check: bool = False,
    capture_output: bool = False,
    **popen_kwargs: Any,
) -> subprocess.CompletedProcess[Any]:
    """Run ``args`` as ``subprocess.run`` does, and stop the child when ``stop_event`` is set.

    The child is started with ``subprocess.Popen(args, **popen_kwargs)``. ``input`` is
    written to its stdin (a pipe); ``capture_output=True`` makes stdout and stderr pipes
    whose contents the result holds; ``check=True`` raises ``CalledProcessError`` (with the
    output) for a nonzero exit status. Returns a ``CompletedProcess``.

    ``stop_event`` defaults to the stop event of the job the call runs inside (the one a
    handler's ``_stop_event`` is); outside a job, and without one, nothing is watched. When
    the event is set, the child is sent SIGTERM, given ``kill_grace`` seconds to exit, then
    killed, and ``JobCancelledError`` is raised: let it propagate, and the job ends
    ``cancelled``. An event already set when the call starts raises it at once, and no
    child is started.
    When ``timeout`` seconds pass first, the child is stopped the same way and
    ``subprocess.TimeoutExpired`` is raised, with the output read until then.

    Only the direct child is signalled. Pass ``start_new_session=True`` for a child that
    starts children of its own: on POSIX the signals then go to its whole process group,
    and after a stop nothing of the group is left running. Whatever happens, the child is
    reaped before the call returns or raises.

    Raises ``ConfigurationError`` for a ``timeout`` that is not a number above 0, a
    ``kill_grace`` that is not a number of 0 or more, a ``stop_event`` that is not an
    event, ``capture_output`` with ``stdout``/``stderr``, or ``input`` with ``stdin``.
    """
    timeout, kill_grace = _check_options(
        timeout, kill_grace, stop_event, input, capture_output, popen_kwargs
    )
    stop_event, job_id = _watched_event(stop_event)
    what = f"run_subprocess({args!r})"
    if stop_event is not None and stop_event.is_set():
        raise JobCancelledError(job_id, what)
    group = bool(popen_kwargs.get("start_new_session"))

    proc: subprocess.Popen[Any] = subprocess.Popen(args, **popen_kwargs)
    pump: _Pump | None = None
    try:
        pump = _Pump(proc, input)
        ended = _watch(pump, stop_event, timeout)
        if pump.error is not None:
            raise pump.error
        if ended is not None:
            _stop(proc, pump, kill_grace, group)
    except BaseException:
        _signal(proc, kill=True, group=group)
        raise
    finally:
        proc.wait()
        if pump is not None:
            pump.done.wait(_DRAIN_AFTER_EXIT)

    assert pump is not None  # made, or the try raised
    stdout, stderr = pump.output if pump.done.is_set() else (None, None)
    if ended == "stop":
        raise JobCancelledError(job_id, what)
    if ended == "timeout":
        assert timeout is not None
        raise subprocess.TimeoutExpired(proc.args, timeout, output=stdout, stderr=stderr)
    if check and proc.returncode:
        raise subprocess.CalledProcessError(
            proc.returncode, proc.args, output=stdout, stderr=stderr
        )
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _check_options(
    timeout: float | None,
    kill_grace: float,
    stop_event: threading.Event | None,
    input: bytes | str | None,
    capture_output: bool,
    popen_kwargs: dict[str, Any],
) -> tuple[float | None, float]:
    """Validate the options; return ``timeout`` and ``kill_grace`` as floats and set the
    pipes ``input`` and ``capture_output`` ask for in ``popen_kwargs``."""
    if timeout is not None:
        timeout = check_number("timeout", timeout, positive=True)
    kill_grace = check_number("kill_grace", kill_grace)
    if stop_event is not None and not (
        callable(getattr(stop_event, "is_set", None))
        and callable(getattr(stop_event, "wait", None))
    ):
        raise ConfigurationError(
            "stop_event must be a threading.Event (or have is_set() and wait()) or None, "
            f"got {type(stop_event).__name__} {stop_event!r}"
        )
    if input is not None:
        if popen_kwargs.get("stdin") is not None:
            raise ConfigurationError(
                "input and stdin cannot both be given: input is written to a pipe on stdin"
            )
        popen_kwargs["stdin"] = subprocess.PIPE
    if capture_output:
        if popen_kwargs.get("stdout") is not None or popen_kwargs.get("stderr") is not None:
            raise ConfigurationError(
                "capture_output cannot be given with stdout or stderr: it makes both pipes"
            )
        popen_kwargs["stdout"] = popen_kwargs["stderr"] = subprocess.PIPE
    return timeout, kill_grace


def _watched_event(
    stop_event: threading.Event | None,
) -> tuple[threading.Event | None, str | None]:
    """The event to watch (``stop_event``, else the current job's, else None) and the id
    of the job it stops (None unless it is the current job's own event)."""
    job = current_job()
    if job is None:
        return stop_event, None
    job_event = job.handler_stop_event()
    if stop_event is None or stop_event is job_event:
        return job_event, job.id
    return stop_event, None  # another event's stop is not the job's


def _watch(pump: _Pump, stop_event: threading.Event | None, timeout: float | None) -> str | None:
    """Wait until the helper has finished (None), the stop event is set (``"stop"``) or
    ``timeout`` has passed (``"timeout"``); a finished helper wins over both."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not pump.done.is_set():
        if stop_event is not None and stop_event.is_set():
            return "stop"
        wait = None if stop_event is None else _POLL
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            wait = remaining if wait is None else min(wait, remaining)
        pump.done.wait(wait)
    return None


def _stop(proc: subprocess.Popen[Any], pump: _Pump, kill_grace: float, group: bool) -> None:
    """Terminate the child, kill it if it outlives ``kill_grace``, and reap it."""
    _signal(proc, kill=False, group=group)
    deadline = time.monotonic() + kill_grace
    while True:
        # ``poll`` sees an exit the helper has not reaped yet: it may be stuck reading
        # pipes that a grandchild holds open.
        if pump.done.is_set() or proc.poll() is not None:
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _signal(proc, kill=True, group=group)
            break
        pump.done.wait(min(_POLL, remaining))
    proc.wait()
    if group:  # the child has had its grace: nothing of its group outlives the stop
        _signal(proc, kill=True, group=True)


def _signal(proc: subprocess.Popen[Any], *, kill: bool, group: bool) -> None:
    """Send SIGTERM (or SIGKILL) to the child, or to its process group on POSIX.

    Without a group, a child already reaped is not signalled (``Popen`` checks); a group
    with nothing left in it is not an error.
    """
    if group and sys.platform != "win32":
        # The group keeps the child's pid as its id while any member lives, so the pid
        # cannot be handed to an unrelated group until the whole group is gone.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        return
    if kill:
        proc.kill()
    else:
        proc.terminate()
