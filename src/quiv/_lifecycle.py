"""The life of a ``Quiv``: its parts built from its arguments, start, shutdown, cleanup if dropped.

``build_parts`` checks the constructor's arguments and builds what a ``Quiv`` is made of: the
bridge to the main loop, the listeners, the store (joined as a node if it is durable, after
closing what dead nodes left behind) and the scheduler. ``Lifespan`` holds the lifecycle
state (``created`` → ``running`` → ``stopping`` → ``stopped``): every API call asks it
whether it may run, and it starts and stops the parts in order. A ``Quiv`` dropped or left
running at exit is stopped by a finalizer that refers to its parts, never to the ``Quiv``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections.abc import Callable
from datetime import tzinfo
from functools import partial
from typing import Any, NamedTuple, cast

from ._bridge import MainLoop, activate, current_bridge, deactivate
from ._clock import Clock, SystemClock, epoch_seconds
from ._config import QuivConfig, check_number, validate_config
from ._events import Listeners
from ._ids import new_id
from ._logging import NeverRaising
from ._processes import ProcessPool
from ._scheduler import Lifecycle, Scheduler
from ._store import Store
from .exceptions import ConfigurationError, SchedulerStateError, SchedulerStoppedError

__all__ = ["Lifespan", "Parts", "build_parts"]

_DEFAULTS = QuivConfig()
# The states in which no call may run (built once: usable() is on every API call's path).
_ENDING = (Lifecycle.STOPPING, Lifecycle.STOPPED)


class Parts(NamedTuple):
    """What a ``Quiv`` is made of, built and checked by ``build_parts`` (its fields' types
    all differ, so that mypy catches an unpacking in the wrong order)."""

    config: QuivConfig
    zone: tzinfo  # of log output, and the default zone of cron and at= tasks
    shutdown_timeout: float | None
    logger: logging.Logger
    clock: Clock
    epoch: Callable[[], float]
    bridge: MainLoop
    listeners: Listeners
    store: Store
    node: str | None  # this process's id on a durable store
    scheduler: Scheduler


def build_parts(
    config: QuivConfig | None,
    pool_size: int,
    history_retention_seconds: int,
    timezone: str | tzinfo,
    *,
    logger: logging.Logger | logging.LoggerAdapter[Any] | None,
    main_loop: asyncio.AbstractEventLoop | None,
    clock: Clock | None,
    shutdown_timeout: float | None,
    database_url: str | os.PathLike[str] | None,
    process_pool_size: int = _DEFAULTS.process_pool_size,
    kill_grace: float = _DEFAULTS.kill_grace,
    process_start_method: str | None = _DEFAULTS.process_start_method,
) -> Parts:
    """``Quiv``'s constructor arguments, checked, as its parts; ``ConfigurationError`` for
    a bad one. Does no I/O beyond opening the store (creating the private temporary
    database, or joining a durable one)."""
    if config is not None:
        if not isinstance(config, QuivConfig):
            raise ConfigurationError(f"config must be a QuivConfig, got {type(config).__name__}")
        given = (pool_size, history_retention_seconds, timezone)
        if given != (
            _DEFAULTS.pool_size,
            _DEFAULTS.history_retention_seconds,
            _DEFAULTS.timezone,
        ):
            raise ConfigurationError(
                "pass either config= or pool_size/history_retention_seconds/timezone, not both"
            )
        processes = (process_pool_size, kill_grace, process_start_method)
        if processes != (
            _DEFAULTS.process_pool_size,
            _DEFAULTS.kill_grace,
            _DEFAULTS.process_start_method,
        ):
            raise ConfigurationError(
                "pass either config= or process_pool_size/kill_grace/process_start_method, not both"
            )
    else:
        config = QuivConfig(
            pool_size,
            history_retention_seconds,
            timezone,
            process_pool_size,
            kill_grace,
            process_start_method,
        )
    zone = validate_config(config)
    if shutdown_timeout is not None:
        shutdown_timeout = check_number("shutdown_timeout", shutdown_timeout)
    if main_loop is not None and not isinstance(main_loop, asyncio.AbstractEventLoop):
        raise ConfigurationError(
            f"main_loop must be an asyncio event loop, got {type(main_loop).__name__}"
        )
    if logger is not None and not isinstance(logger, (logging.Logger, logging.LoggerAdapter)):
        raise ConfigurationError(f"logger must be a logging.Logger, got {logger!r}")
    if clock is not None and not all(
        callable(getattr(clock, name, None)) for name in ("monotonic", "now", "wait")
    ):
        raise ConfigurationError(
            f"clock must have monotonic(), now() and wait() (see quiv.testing), got {clock!r}"
        )
    # Every log call of quiv goes through NeverRaising (an adapter has every method
    # quiv calls; it is passed on as a Logger).
    log = cast(
        logging.Logger,
        NeverRaising(logger if logger is not None else logging.getLogger("Quiv")),
    )
    clock = clock if clock is not None else SystemClock()
    epoch = epoch_seconds(clock)
    bridge = MainLoop(main_loop, log)
    listeners = Listeners(bridge)
    store = Store(log, database_url)
    node = _join(store, log, epoch) if store.durable else None
    scheduler = Scheduler(
        pool_size=config.pool_size,
        processes=ProcessPool(
            config.process_pool_size,
            float(config.kill_grace),
            config.process_start_method,
            log,
        ),
        retention=float(config.history_retention_seconds),
        clock=clock,
        store=store,
        listeners=listeners,
        bridge=bridge,
        logger=log,
    )
    if store.durable:
        store.on_cancel_requests = lambda ids: scheduler.post(
            partial(scheduler.runs.cancel_requested, ids)
        )
        store.on_tasks_freed = lambda ids: scheduler.post(partial(scheduler.freed, ids))
    return Parts(
        config,
        zone,
        shutdown_timeout,
        log,
        clock,
        epoch,
        bridge,
        listeners,
        store,
        node,
        scheduler,
    )


def _join(store: Store, logger: logging.Logger, epoch: Callable[[], float]) -> str:
    """Join a durable store as a node, and close what dead nodes left behind; return the
    node's id."""
    node = new_id()
    now = epoch()
    try:
        store.register_node(node, now)
    except Exception:
        store.close()
        raise
    try:
        recovery = store.recover(now)
    except Exception:  # the heartbeat tries again in a few seconds
        logger.exception("recovery after dead processes failed")
        return node
    if recovery.interrupted:
        logger.warning(
            "%d job(s) left unfinished by a process that died are now 'interrupted': %s",
            len(recovery.interrupted),
            ", ".join(recovery.interrupted[:10]),
        )
    if recovery.tasks_deleted:
        logger.info(
            "deleted %d task(s) without a key left by processes that died",
            recovery.tasks_deleted,
        )
    return node


class Lifespan:
    """The lifecycle of one ``Quiv``: its state, and the moves between states.

    ``state`` changes under a lock, and is read without one (``usable``, at the start of
    every API call).
    """

    __slots__ = (
        "_bridge",
        "_finalizer",
        "_listeners",
        "_lock",
        "_logger",
        "_pool_size",
        "_scheduler",
        "_stopped",
        "_store",
        "state",
    )

    def __init__(
        self,
        owner: object,
        scheduler: Scheduler,
        listeners: Listeners,
        store: Store,
        bridge: MainLoop,
        logger: logging.Logger,
        pool_size: int,
    ) -> None:
        """``owner`` is the ``Quiv``: the finalizer stops the parts when it is dropped."""
        self._scheduler = scheduler
        self._listeners = listeners
        self._store = store
        self._bridge = bridge
        self._logger = logger
        self._pool_size = pool_size
        self.state = Lifecycle.CREATED
        self._lock = threading.Lock()
        self._stopped = threading.Event()  # set once shutdown() has done its work
        self._finalizer = weakref.finalize(
            owner, _close, self._scheduler, self._listeners, self._store, self._bridge
        )

    def usable(self, operation: str) -> None:
        """Raise ``SchedulerStoppedError`` for ``operation`` once shutdown has begun; else
        capture the main loop if the caller runs it."""
        if self.state in _ENDING:
            raise SchedulerStoppedError(operation, self.state.value)
        self._bridge.capture()

    def start(self) -> None:
        """See ``Quiv.start``."""
        with self._lock:
            if self.state is Lifecycle.RUNNING:
                return
            if self.state is not Lifecycle.CREATED:
                raise SchedulerStoppedError("start", self.state.value)
            self._bridge.capture()
            self._scheduler.start()
            self.state = Lifecycle.RUNNING
        activate(self._bridge)
        self._logger.info("quiv started with %d workers", self._pool_size)

    def shutdown(self, timeout: float | None) -> None:
        """See ``Quiv.shutdown``; ``timeout`` is checked (None: without limit)."""
        if current_bridge().get() is self._bridge:
            raise SchedulerStateError(
                "shut down from one of its own jobs",
                self.state.value,
                "shutdown waits for running jobs, this one included; call it from outside",
            )
        with self._lock:
            if self.state in _ENDING:
                # Another thread is stopping it (an atexit hook and a lifespan, say): this
                # call returns when that one has, or after its own bound.
                bound = None if timeout is None else timeout + max(timeout, 1.0) + 1.0
                self._stopped.wait(bound)
                return
            self.state = Lifecycle.STOPPING
        deactivate(self._bridge)
        # Each step runs even if the one before failed: the database must go in any case.
        try:
            self._scheduler.stop(timeout)
        finally:
            try:
                self._listeners.close(5.0 if timeout is None else max(timeout, 1.0))
            finally:
                try:
                    # A database that does not answer gets a bound too (see Store.close).
                    self._store.close(5.0 if timeout is None else max(timeout, 1.0))
                finally:
                    self._finalizer.detach()
                    self.state = Lifecycle.STOPPED
                    self._stopped.set()
        self._logger.info("quiv stopped")


def _close(scheduler: Scheduler, listeners: Listeners, store: Store, bridge: MainLoop) -> None:
    # Also the finalizer of a Quiv dropped or left running at exit: it must not refer to it.
    scheduler.stop(0.0, at_exit=True)
    listeners.close(1.0)
    store.close()
    deactivate(bridge)
