"""The process executor's pool, on the parent's side: child processes, each running one job at
a time, and the relay between a job's worker thread and its child.

``ProcessPool`` has ``size`` slots, each with at most one child process (which runs
``_child.serve``) and the pipes to it (of calls and their ends, and of stops). A process job
still runs on a worker thread of the scheduler (it counts as a running job, of
``pool_size``), which acts as its proxy: it takes a free slot for the job's length
(``run``), sends the call, then waits for the child's messages and hands each on as it comes
(progress to the task's callback, log lines to quiv's logger), in the pipe's order, until
the call's end comes back. Meanwhile it watches the job's stop request (``cancel_job``, a
timeout, shutdown): when one comes, the child is told (the handler's stop event is set
there); when the handler has not returned ``kill_grace`` seconds later, the child is
terminated (SIGTERM), killed (SIGKILL) if it is still there ``_TERMINATE_WAIT`` seconds
after that, and its slot emptied. A child that dies on its own empties its slot too. An
empty slot gets a fresh child when a job next takes it: children start when a job first
needs one, never before, and are then kept for the next jobs.

Why a proxy thread per job rather than one thread for the pool: the scheduler already owns
that thread for the job's length (``pool_size`` bounds process jobs as it bounds thread jobs,
and the scheduler starts a process job only while a slot is free, so ``run`` never waits for
one); the job's start, end, progress and retries then take the paths of a thread job, and
nothing but the pipe orders a job's messages. The proxy looks at the stop request every
``_POLL`` seconds while the child is quiet: a stop reaches the child that much later at most.

Processes start with ``forkserver`` where the platform has it, else ``spawn``: never ``fork``,
which would copy a process whose other threads may hold locks. The fork server is asked to
preload ``quiv._child`` (and ``__main__``, as it does by default): a child is then a fork of a
process that has quiv imported already, tens of milliseconds, where a spawned child imports
quiv anew (a second or more). The fork server is multiprocessing's own, shared by the
interpreter; if it runs already when the first child starts, the preload does not apply.

Each slot has one owner at a time: the worker thread that took it, or the pool (under its
lock) while it is free; so a child's process and pipe are never used by two threads at once.
``close`` ends the free children itself (an exit message, then SIGTERM, then SIGKILL) and
makes the proxies of taken slots kill theirs at once. Children are daemonic processes too, so
that the interpreter ends any that are left at exit; and a child whose pipe breaks (the
parent died) exits on its own.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, NamedTuple

from ._child import Call, LogLine, Progress, Raised, Returned, Stop, resolve, serve
from ._results import describe
from .exceptions import ConfigurationError

__all__ = ["Ended", "ProcessPool", "default_start_method", "handler_reference"]

# How often a proxy looks at its job's stop request while the child says nothing.
_POLL = 0.05
# After SIGTERM, how long a child has to exit before SIGKILL; after SIGKILL, how long it is
# waited for.
_TERMINATE_WAIT = 1.0
# How long close() waits, at most, for the proxies of busy children to have killed them
# (SIGTERM, then SIGKILL: ``2 * _TERMINATE_WAIT`` at worst, with room for a loaded machine).
_CLOSE_WAIT = 5.0
# What the fork server imports before it forks children.
_PRELOAD = ["__main__", "quiv._child"]


def default_start_method() -> str:
    """``"forkserver"`` where the platform has it, else ``"spawn"``."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def handler_reference(func: object) -> tuple[str, str]:
    """The module and qualified name a child imports ``func`` by; ``ConfigurationError``
    saying why when it cannot (a lambda, a function defined inside another, a method bound
    to an instance, a callable object, a name that is not ``func`` once imported)."""
    need = (
        "executor='process' needs a handler that a child process can import by reference "
        f"(a function defined at the top level of a module), got {func!r}"
    )
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise ConfigurationError(
            f"{need}: it has no module and qualified name (pass the function itself, and "
            "its arguments in args= and kwargs=)"
        )
    if "<lambda>" in qualname:
        raise ConfigurationError(f"{need}: a lambda has no name to import it by")
    if "<locals>" in qualname:
        raise ConfigurationError(f"{need}: it is defined inside a function ({qualname})")
    if module == "__main__" and getattr(sys.modules.get("__main__"), "__file__", None) is None:
        raise ConfigurationError(f"{need}: the __main__ of an interactive session is no file")
    try:
        found = resolve(module, qualname)
    except Exception as exc:
        raise ConfigurationError(
            f"{need}: {module}.{qualname} cannot be imported ({describe(exc)})"
        ) from exc
    same = found is func
    if not same:
        try:
            same = bool(found == func)  # a classmethod is bound anew at each look-up
        except Exception:
            same = False
    if not same:
        raise ConfigurationError(
            f"{need}: {module}.{qualname} is another object (a method bound to an instance "
            "is not found by its name)"
        )
    return module, qualname


class Ended(NamedTuple):
    """How a call in a child ended, as its proxy saw it: ``end`` is what the child sent
    (None: nothing); else ``killed`` says that the pool killed it (its stop was not
    honoured within ``kill_grace``), or the child died on its own, with ``exitcode``."""

    pid: int | None
    end: Returned | Raised | None = None
    killed: bool = False
    exitcode: int | None = None


class _Slot:
    """A place for one child process: the process, the pipe of its calls and the pipe of
    its stops; or None for each."""

    __slots__ = ("conn", "index", "process", "stops")

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None
        self.stops: Connection | None = None


class ProcessPool:
    """Up to ``size`` child processes, each running one job at a time (see the module)."""

    def __init__(
        self,
        size: int,
        kill_grace: float,
        start_method: str | None,
        logger: logging.Logger,
    ) -> None:
        self.size = size
        self.kill_grace = kill_grace
        self.start_method = start_method or default_start_method()
        self._logger = logger
        self._lock = threading.Lock()
        self._free = [_Slot(index) for index in reversed(range(size))]  # pop(): slot 0 first
        self._taken = 0
        self._given_back = threading.Condition(self._lock)
        self._closed = False
        self._context: BaseContext | None = None

    # -- a job's proxy ------------------------------------------------------------------

    def run(
        self,
        call: Call,
        *,
        stopping: Callable[[], bool],
        progress: Callable[[tuple[Any, ...], dict[str, Any]], None],
        log: Callable[[LogLine, int | None], None],
    ) -> Ended:
        """Run ``call`` in a free child and relay for it until it ends (see the module).

        ``stopping()`` says whether the job was asked to stop; ``progress`` and ``log`` get
        the child's reports in order, on this thread. Raises ``RuntimeError`` when no slot
        is free or the pool is closed, and what starting a process raises (``OSError``).
        """
        slot = self._take()
        try:
            return self._relay(slot, call, stopping, progress, log)
        finally:
            self._give_back(slot)

    def _take(self) -> _Slot:
        with self._lock:
            if self._closed:
                raise RuntimeError("the process pool is closed: the scheduler is shutting down")
            if not self._free:
                raise RuntimeError(f"all {self.size} processes are busy")
            self._taken += 1
            return self._free.pop()

    def _give_back(self, slot: _Slot) -> None:
        with self._lock:
            closed = self._closed
            if not closed:
                self._free.append(slot)
        if closed:  # close() has ended the free children: this one is this thread's to end
            self._exit(slot)
        with self._lock:
            self._taken -= 1
            self._given_back.notify_all()

    def _relay(
        self,
        slot: _Slot,
        call: Call,
        stopping: Callable[[], bool],
        progress: Callable[[tuple[Any, ...], dict[str, Any]], None],
        log: Callable[[LogLine, int | None], None],
    ) -> Ended:
        process, conn, stops = self._ready(slot)
        pid = process.pid
        with contextlib.suppress(OSError):  # it died meanwhile: its sentinel says so below
            conn.send(call)
        kill_at: float | None = None
        end: Ended | None = None
        while True:
            ready = wait((conn, process.sentinel), _POLL)
            if conn in ready:
                end = self._take_message(conn, progress, log, pid)
                if end is not None:
                    return end if end.end is not None else self._died(slot, process)
            elif ready:  # the sentinel alone: the child has exited; read what it sent first
                while end is None and conn.poll():
                    end = self._take_message(conn, progress, log, pid)
                if end is not None and end.end is not None:
                    self._end(slot)  # it sent its end, then died: the job did end
                    return end
                return self._died(slot, process)
            if self._closed or (kill_at is not None and time.monotonic() >= kill_at):
                self._end(slot)
                return Ended(pid, killed=True)
            if kill_at is None and stopping():
                with contextlib.suppress(OSError):
                    stops.send(Stop(call.job_id))
                kill_at = time.monotonic() + self.kill_grace

    def _died(self, slot: _Slot, process: BaseProcess) -> Ended:
        """The child died on its own: its exit status, and its slot emptied."""
        pid = process.pid
        process.join(_TERMINATE_WAIT)
        exitcode = process.exitcode
        self._end(slot)
        return Ended(pid, exitcode=exitcode)

    @staticmethod
    def _take_message(
        conn: Connection,
        progress: Callable[[tuple[Any, ...], dict[str, Any]], None],
        log: Callable[[LogLine, int | None], None],
        pid: int | None,
    ) -> Ended | None:
        """Hand on one message of the child; its end if it was the call's end (an end of
        None: the pipe broke, and the child's sentinel tells the rest)."""
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return Ended(pid)
        if isinstance(message, Progress):
            progress(message.args, message.kwargs)
        elif isinstance(message, LogLine):
            log(message, pid)
        elif isinstance(message, (Returned, Raised)):
            return Ended(pid, message)
        return None

    def _ready(self, slot: _Slot) -> tuple[BaseProcess, Connection, Connection]:
        """The slot's child and its pipes, started if it has none (or if the one it had
        died idle)."""
        process, conn, stops = slot.process, slot.conn, slot.stops
        alive = process is not None and process.exitcode is None
        if alive and process is not None and conn is not None and stops is not None:
            return process, conn, stops
        self._end(slot)
        context = self._context
        if context is None:
            context = multiprocessing.get_context(self.start_method)
            if self.start_method == "forkserver":
                context.set_forkserver_preload(_PRELOAD)
            self._context = context
        parent, child = context.Pipe()
        stop_reader, stop_writer = context.Pipe(duplex=False)
        level = self._logger.getEffectiveLevel()
        process = context.Process(  # type: ignore[attr-defined]
            target=serve,
            args=(child, stop_reader, level, self.kill_grace),
            name=f"quiv-process-{slot.index}",
            daemon=True,
        )
        try:
            process.start()
        except BaseException:
            parent.close()
            stop_writer.close()
            raise
        finally:
            child.close()  # the child's ends are the child's now
            stop_reader.close()
        slot.process, slot.conn, slot.stops = process, parent, stop_writer
        return process, parent, stop_writer

    # -- ending children ----------------------------------------------------------------

    def _end(self, slot: _Slot) -> None:
        """End the slot's child (SIGTERM, then SIGKILL) and empty the slot (its owner)."""
        process, conn, stops = slot.process, slot.conn, slot.stops
        slot.process = slot.conn = slot.stops = None
        for pipe in (conn, stops):
            if pipe is not None:
                pipe.close()
        if process is None:
            return
        if process.exitcode is None:
            process.terminate()
            process.join(_TERMINATE_WAIT)
        if process.exitcode is None:
            process.kill()
            process.join(_TERMINATE_WAIT)
        if process.exitcode is None:
            self._logger.warning(
                "process %s of quiv's pool did not end after SIGKILL; leaving it", process.pid
            )
            return
        process.close()

    @staticmethod
    def _ask_exit(slot: _Slot) -> None:
        """Tell an idle child to exit."""
        if slot.conn is not None:
            with contextlib.suppress(OSError):  # gone already
                slot.conn.send(None)

    def _exit(self, slot: _Slot, wait_for: float = _TERMINATE_WAIT, *, asked: bool = False) -> None:
        """Ask an idle child to exit (unless ``asked`` already); end it if it has not within
        ``wait_for`` seconds."""
        if not asked:
            self._ask_exit(slot)
        if slot.process is not None:
            slot.process.join(wait_for)
        self._end(slot)

    def close(self, timeout: float | None = None) -> None:
        """End every child: the idle ones are asked to exit, then ended; the proxies of
        busy ones kill theirs at once, and are waited for up to ``timeout`` seconds (None:
        as long as killing takes, a few seconds at most). Idempotent; ``run`` refuses
        from now on."""
        with self._lock:
            self._closed = True
            free, self._free = self._free, []
        started = [slot for slot in free if slot.process is not None]
        for slot in started:
            self._ask_exit(slot)
        end = time.monotonic() + _TERMINATE_WAIT
        for slot in started:
            self._exit(slot, max(0.0, end - time.monotonic()), asked=True)
        bound = _CLOSE_WAIT if timeout is None else timeout
        end = time.monotonic() + bound
        with self._lock:
            while self._taken and self._given_back.wait(max(0.0, end - time.monotonic())):
                pass
