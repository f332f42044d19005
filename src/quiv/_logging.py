"""quiv's own log calls, which must never raise into quiv.

A logging handler of the application may raise from ``emit`` (a sink that is down, a
formatter that fails); ``logging`` catches that only in handlers that call ``handleError``.
quiv logs from the scheduler thread, from workers recording a job's end and from shutdown:
an exception there would strand a job as ``running``, end the scheduler thread, or break
``shutdown()``. Every log call of quiv goes through ``NeverRaising``, which drops a record
whose handling raised.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any

__all__ = ["NeverRaising"]


class NeverRaising(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The application's logger (or adapter), with log calls that never raise."""

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
        super().__init__(logger, None)

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return msg, kwargs  # no extra of its own

    def log(
        self,
        level: int,
        msg: object,
        *args: object,
        exc_info: Any = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, object] | None = None,
        **kwargs: object,
    ) -> None:
        if not self.logger.isEnabledFor(level):
            return
        try:
            options: MutableMapping[str, Any] = {"exc_info": exc_info, "stack_info": stack_info}
            if extra is not None:
                options["extra"] = extra
            options.update(kwargs)
            target: Any = self.logger
            # The application's adapters shape the call, then the logger takes it here, so
            # that every Python version names quiv's call site (one frame up), not this one.
            while isinstance(target, logging.LoggerAdapter):
                msg, options = target.process(msg, options)
                target = target.logger
            target.log(level, msg, *args, stacklevel=stacklevel + 1, **options)
        except Exception:
            pass  # the application's handler failed: losing one record beats failing quiv
