"""The child side of the process executor: what each process of the pool runs.

A child serves one job at a time for its parent's ``ProcessPool`` (``_processes``), over a
duplex pipe of calls and a one-way pipe of stops. Its main thread reads the calls and runs
them; a thread of its own reads the stops, so that a stop reaches a handler while it runs.
The messages:

- parent to child, on the call pipe: a ``Call`` (run this handler, found by reference, with
  these stored arguments), or None (exit: the pool is closing); on the stop pipe: a
  ``Stop`` (set that job's stop event);
- child to parent: any number of ``Progress`` (what the handler passed to its progress hook)
  and ``LogLine`` (a record logged in the child), then the call's end, ``Returned`` or
  ``Raised``.

A handler runs as on a worker thread: it gets ``_job_id``/``job_id``, ``_stop_event``/
``stop_event`` (a ``threading.Event`` of the child, set when the parent says stop) and
``_progress_hook``/``progress_hook`` under the keywords its signature asked for; a coroutine
runs to completion on a loop of the child's own; ``current_job`` names the job, so that
``run_subprocess`` watches its stop event here too. The handler is imported by its module and
qualified name (``resolve``) at its first call in this child. Its arguments are decoded by
the codec that encoded them (pickle for a private store, JSON for a durable one); its result
is encoded as JSON by the rules a worker thread applies (``encode_result``), so that only
JSON crosses back. An exception crosses back as its message, the names of its classes (for a
retry policy's ``retry_on``), its traceback as text, and itself when it pickles; the parent
reads that with ``raised_matches`` and ``rebuilt_exception``.

Records logged in the child go to the parent with the id of the job running then: the root
logger's handlers are replaced by one that sends them, and it gets the level the parent's
logger had when the child started. SIGINT is ignored (a Ctrl-C in a terminal reaches the
whole process group; the parent decides when a job stops). If the pipe breaks (the parent
died), the running job's stop event is set, and the child exits when the handler returns,
or after the grace it was given.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

from ._arguments import JSON, PICKLE
from ._bridge import mark_child_process
from ._context import job_context
from ._invocation import resolve_awaitable, run_coroutine_here
from ._results import describe, encode_result, storable

__all__ = [
    "Call",
    "ChildError",
    "ChildTraceback",
    "LogLine",
    "Progress",
    "Raised",
    "Returned",
    "Stop",
    "class_names",
    "raised_matches",
    "rebuilt_exception",
    "resolve",
    "serve",
]

_logger = logging.getLogger(__name__)


class Call(NamedTuple):
    """A job for a child: its handler by reference, its stored arguments and their codec,
    and the keywords under which the handler takes each injected value."""

    job_id: str
    module: str
    qualname: str
    codec: str  # the ArgumentCodec's name: "pickle" or "json"
    args: bytes
    kwargs: bytes
    job_id_names: tuple[str, ...] = ()
    stop_event_names: tuple[str, ...] = ()
    progress_names: tuple[str, ...] = ()


class Stop(NamedTuple):
    """Set the stop event of job ``job_id`` (if it is the one running, or about to)."""

    job_id: str


class Progress(NamedTuple):
    """What a handler passed to its progress hook."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class LogLine(NamedTuple):
    """A record logged in the child: the job running then (None: none), the logger's name,
    the level, and the message with its traceback, if any, as text."""

    job_id: str | None
    logger: str
    level: int
    message: str


class Returned(NamedTuple):
    """The handler returned: its value as JSON (or why it was dropped), and whether the
    job's stop event was set then."""

    result: str | None
    note: str | None
    stopped: bool


class Raised(NamedTuple):
    """The handler raised (or its call could not be made): the stored error message, the
    ``module.qualname`` of each class of the exception's type, its traceback as text, the
    exception pickled (None when it does not pickle), and whether the stop event was set."""

    error: str
    classes: tuple[str, ...]
    traceback: str
    pickled: bytes | None
    stopped: bool


class ChildTraceback(Exception):
    """The traceback of an exception raised in a child process, as text (set as the
    ``__cause__`` of the exception brought back, so that a log shows where it came from)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text.rstrip()}\n"""'


class ChildError(Exception):
    """An exception raised in a child process that does not pickle: its message only."""


def raised_matches(raised: Raised, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether the exception a child raised is an instance of one of ``kinds`` (compared by
    the names of its classes: it need not come back to be matched)."""
    names = set(raised.classes)
    return any(f"{kind.__module__}.{kind.__qualname__}" in names for kind in kinds)


def rebuilt_exception(raised: Raised) -> BaseException:
    """The exception a child raised, brought back (or a ``ChildError`` with its message),
    its traceback in the child as its cause."""
    exc: BaseException | None = None
    if raised.pickled is not None:
        try:
            exc = pickle.loads(raised.pickled)  # our own child's bytes, over our own pipe
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        exc = ChildError(raised.error)
    exc.__cause__ = ChildTraceback(raised.traceback)
    return exc


def resolve(module: str, qualname: str) -> Any:
    """The object that ``module`` (imported if need be) holds under ``qualname``."""
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def class_names(kind: type[BaseException]) -> tuple[str, ...]:
    """``module.qualname`` of ``kind`` and of each of its bases, most derived first."""
    return tuple(f"{cls.__module__}.{cls.__qualname__}" for cls in kind.__mro__)


def serve(conn: Connection, stops: Connection, level: int, grace: float) -> None:
    """The body of a child process: serve calls from ``conn`` until the parent says exit
    or goes away; ``stops`` brings the parent's stops. ``level``: of the root logger, whose
    records go to the parent; ``grace``: how long a job may run on once the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    mark_child_process()
    server = _Server(conn, grace)
    root = logging.getLogger()
    # Only to the parent: handlers that the application's modules set up as they were
    # imported here (its __main__ is) would print every record a second time.
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_ToParent(server))
    root.setLevel(level)
    threading.Thread(
        target=server.watch, args=(stops,), name="quiv-child-stops", daemon=True
    ).start()
    server.serve()


class _Job:
    """The running job, as ``current_job`` shows it to helpers (``run_subprocess``)."""

    __slots__ = ("_stop", "id")

    def __init__(self, job_id: str, stop: threading.Event) -> None:
        self.id = job_id
        self._stop = stop

    def handler_stop_event(self) -> threading.Event:
        return self._stop


class _Server:
    """One child's calls, run on its main thread one at a time, as they come; and the
    stops, taken by a thread of their own from a pipe of their own, so that the main
    thread reads its calls itself (no hop between threads per job)."""

    def __init__(self, conn: Connection, grace: float) -> None:
        self._conn = conn
        self._grace = grace
        self._send_lock = threading.Lock()  # handler threads log and report progress too
        # The job running now and its stop event; the stops for jobs not begun yet (the
        # two pipes keep no order between them: a stop may come before its call).
        self._lock = threading.Lock()
        self._current: tuple[str, threading.Event] | None = None
        self._early: set[str] = set()
        self._idle = threading.Event()
        self._idle.set()
        self._handlers: dict[tuple[str, str], Any] = {}
        self.job_id: str | None = None  # the job running now, for log lines

    def send(self, message: object) -> None:
        """Send ``message`` to the parent (any thread of the child)."""
        with self._send_lock:
            self._conn.send(message)

    def watch(self, stops: Connection) -> None:
        """The stops' thread: set the stop event of the job each names."""
        while True:
            try:
                message = stops.recv()
            except (EOFError, OSError):
                self._orphaned()
                return
            if isinstance(message, Stop):
                with self._lock:
                    current = self._current
                    if current is not None and current[0] == message.job_id:
                        current[1].set()
                    else:
                        self._early.add(message.job_id)

    def _orphaned(self) -> None:
        """The parent is gone (or closing): stop the job, and exit when it returns or after
        the grace, whichever comes first."""
        with self._lock:
            current = self._current
        if current is not None:
            current[1].set()
        if not self._idle.wait(self._grace):
            os._exit(1)

    def serve(self) -> None:
        """The main thread: run calls until told to exit (None), or the parent is gone."""
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                return
            if not isinstance(message, Call):
                return
            stop = threading.Event()
            with self._lock:
                self._current = (message.job_id, stop)
                if message.job_id in self._early:
                    stop.set()
                self._early.clear()  # stops of jobs ended before they came
                self._idle.clear()
            try:
                end = self._run(message, stop)
            finally:
                with self._lock:
                    self._current = None
            try:
                self.send(end)
            except OSError:
                return  # the parent is gone
            finally:
                self._idle.set()

    def _run(self, call: Call, stop: threading.Event) -> Returned | Raised:
        token = job_context().set(_Job(call.job_id, stop))
        self.job_id = call.job_id
        try:
            try:
                func = self._handler(call.module, call.qualname)
                codec = JSON if call.codec == JSON.name else PICKLE
                args = codec.decode_args(call.args)
                kwargs = codec.decode_kwargs(call.kwargs)
                for name in call.job_id_names:
                    kwargs[name] = call.job_id
                for name in call.stop_event_names:
                    kwargs[name] = stop
                if call.progress_names:
                    hook = self._progress_hook(call.job_id)
                    for name in call.progress_names:
                        kwargs[name] = hook
                value = func(*args, **kwargs)
                coroutine = resolve_awaitable(value)
                if coroutine is not None:
                    value = run_coroutine_here(coroutine)
            except BaseException as exc:
                # BaseExceptions too: SystemExit raised by a handler ends that job, as on a
                # worker thread, not this child.
                return _raised(exc, stop.is_set())
            result, note = encode_result(value)
            return Returned(result, note, stop.is_set())
        finally:
            self.job_id = None
            job_context().reset(token)

    def _handler(self, module: str, qualname: str) -> Callable[..., Any]:
        key = (module, qualname)
        func = self._handlers.get(key)
        if func is None:
            func = self._handlers[key] = resolve(module, qualname)
        return func  # type: ignore[no-any-return]

    def _progress_hook(self, job_id: str) -> Callable[..., None]:
        def progress_hook(*args: Any, **kwargs: Any) -> None:
            try:
                self.send(Progress(args, kwargs))
            except Exception as exc:  # a payload that does not pickle; a parent gone
                _logger.error(
                    "job %s: a progress report could not be sent to the parent process "
                    "(its values must pickle): %s",
                    job_id,
                    describe(exc),
                )

        return progress_hook


def _raised(exc: BaseException, stopped: bool) -> Raised:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    pickled: bytes | None
    try:
        pickled = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(pickled)  # some pickle but do not load (an __init__ of other arguments)
    except Exception:
        pickled = None
    return Raised(describe(exc), class_names(type(exc)), storable(text), pickled, stopped)


class _ToParent(logging.Handler):
    """Sends the child's log records to the parent, with the id of the job running then."""

    def __init__(self, server: _Server) -> None:
        super().__init__()
        self._server = server
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{self._formatter.formatException(record.exc_info)}"
            if record.stack_info:
                message = f"{message}\n{self._formatter.formatStack(record.stack_info)}"
            self._server.send(
                LogLine(self._server.job_id, record.name, record.levelno, storable(message))
            )
        except Exception:
            self.handleError(record)
