"""Kept so that ``import quiv.persistence``, which worked in quiv 0.4.0, does not fail.

Its one public name in 0.4.0, ``PersistenceLayer``, was an internal helper that the scheduler
built for itself; it has no counterpart now. Tasks and jobs are stored by the private
``quiv._store``, and they are read through ``Quiv`` (``get_task``, ``get_all_jobs``, ...).
This module exports nothing.
"""

from __future__ import annotations

__all__: list[str] = []
