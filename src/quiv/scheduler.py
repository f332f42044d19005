"""Kept so that quiv 0.4.0 imports keep working: ``from quiv.scheduler import Quiv``.

``Quiv`` is imported from ``quiv`` now (it is defined in ``quiv._quiv``). This module only
re-exports it; nothing new is added here.
"""

from __future__ import annotations

from ._quiv import Quiv as Quiv  # noqa: PLC0414 - an explicit re-export

__all__ = ["Quiv"]
