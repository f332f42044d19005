"""Kept so that ``import quiv.execution``, which worked in quiv 0.4.0, does not fail.

Its one public name in 0.4.0, ``ExecutionLayer``, was an internal helper that the scheduler
built for itself; it has no counterpart now. Handlers are invoked by ``quiv._invocation``
(keyword injection, sync and async handlers) and ``quiv._runner`` (one run of a job), which
are private. This module exports nothing.
"""

from __future__ import annotations

__all__: list[str] = []
