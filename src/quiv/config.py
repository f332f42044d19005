"""Kept so that quiv 0.4.0 imports keep working: ``from quiv.config import QuivConfig``.

``QuivConfig`` and ``resolve_timezone`` are imported from ``quiv`` now (they are defined in
``quiv._config``). This module only re-exports them; nothing new is added here.
"""

from __future__ import annotations

from ._config import QuivConfig as QuivConfig  # noqa: PLC0414 - an explicit re-export
from ._config import resolve_timezone as resolve_timezone  # noqa: PLC0414 - an explicit re-export

__all__ = ["QuivConfig", "resolve_timezone"]
