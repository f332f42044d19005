"""What a job leaves in its record: its handler's result as JSON, and its error as text.

Both are made storable here, by the same rules wherever the handler ran (a worker thread, the
main loop, a child process): a result is kept when it is JSON and small, else dropped with a
note saying why; an error message is escaped and capped. Pure: values in, text out.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ERROR_LIMIT_CHARACTERS", "RESULT_LIMIT_BYTES", "describe", "encode_result"]

RESULT_LIMIT_BYTES = 64 * 1024
ERROR_LIMIT_CHARACTERS = 64 * 1024


def describe(exc: BaseException) -> str:
    """The error message stored for a failed job: ``str(exc)``, else the exception's type.

    Made storable text: lone surrogates (file names decoded with surrogateescape) and NUL
    characters (which PostgreSQL refuses) are escaped, and a message over 64 Ki characters
    is cut there, with a note of how long it was (results are capped alike).
    """
    try:
        text = str(exc) or type(exc).__name__
    except Exception:  # a __str__ that raises
        return type(exc).__name__
    return storable(text)


def storable(text: str) -> str:
    """``text`` as every store keeps it: lone surrogates and NUL characters escaped, cut at
    ``ERROR_LIMIT_CHARACTERS`` with a note of its length."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    if len(text) > ERROR_LIMIT_CHARACTERS:
        text = (
            f"{text[:ERROR_LIMIT_CHARACTERS]}... [cut: the message had {len(text):,} characters, "
            f"over the {ERROR_LIMIT_CHARACTERS:,} kept]"
        )
    return text


def encode_result(value: Any) -> tuple[str | None, str | None]:
    """``(json, None)`` for a small JSON-serializable ``value``, else ``(None, why)``."""
    if value is None:
        return None, None
    try:
        encoded = json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        return None, f"dropped: not JSON-serializable ({type(value).__name__}: {describe(exc)})"
    size = len(encoded.encode("utf-8"))
    if size > RESULT_LIMIT_BYTES:
        return None, f"dropped: {size} bytes of JSON, over the {RESULT_LIMIT_BYTES}-byte limit"
    return encoded, None
