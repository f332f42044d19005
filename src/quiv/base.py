"""Kept so that quiv 0.4.0 imports keep working: ``from quiv.base import QuivBase``.

In 0.4.0 ``QuivBase`` was the abstract base class of ``Quiv``. ``Quiv`` has no base class
now, so ``QuivBase`` is ``Quiv`` itself (imported from ``quiv``, defined in ``quiv._quiv``):
annotations and ``isinstance`` checks written against ``QuivBase`` keep working.
"""

from __future__ import annotations

from ._quiv import Quiv as QuivBase

__all__ = ["QuivBase"]
