"""The recurring cleanup: delete finished downloads that have outlived their welcome.

A plain ``def`` handler (quiv runs it on a worker thread). When it is done, it tells the
WebSocket clients what it did with ``quiv.run_on_main``, which runs ``notify`` on the app's
main loop; the app binds ``notify`` with ``functools.partial`` when it adds the task.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quiv import run_on_main

from ..logs import LOGGER_NAME, job_context

__all__ = ["sweep_scratch"]

log = logging.getLogger(f"{LOGGER_NAME}.maintenance")


def sweep_scratch(
    scratch_dir: str,
    max_age_seconds: float,
    *,
    notify: Callable[[dict[str, Any]], None],
    _job_id: str,
    _stop_event: threading.Event,
) -> None:
    """Delete files in ``scratch_dir`` not modified for ``max_age_seconds``."""
    with job_context(_job_id):
        cutoff = time.time() - max_age_seconds
        removed = 0
        for path in Path(scratch_dir).iterdir():
            if _stop_event.is_set():
                log.info("sweep stopped early")
                break
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # a download finished or went away meanwhile
                continue
        log.info("sweep of %s removed %d file(s)", scratch_dir, removed)
        run_on_main(
            notify, {"type": "notice", "source": "cleanup", "job_id": _job_id, "removed": removed}
        )
