"""Kept so that quiv 0.4.0 imports keep working: ``from quiv.context import run_on_main``.

``run_on_main`` is imported from ``quiv`` now (it is defined in ``quiv._bridge``, the bridge to
the main loop). This module only re-exports it; nothing new is added here.
"""

from __future__ import annotations

from ._bridge import run_on_main as run_on_main  # noqa: PLC0414 - an explicit re-export

__all__ = ["run_on_main"]
