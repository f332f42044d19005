"""How a task's ``args`` and ``kwargs`` are stored: pickles in a private database, JSON in a
durable one.

A private database lives in a 0700 directory that only this process uses, so a pickle read
back from it is one this process wrote. A durable database is another matter: other
processes, hosts and people can write to it, and unpickling what they wrote runs their code.
So a durable store only ever holds JSON, and only ever decodes JSON: which codec decodes is
decided by the kind of store, never by the bytes.
"""

from __future__ import annotations

import json
import pickle
from typing import Any, Protocol

from .exceptions import ConfigurationError

__all__ = ["JSON", "PICKLE", "ArgumentCodec", "codec_for"]


class ArgumentCodec(Protocol):
    """Encodes a task's arguments for the store, and decodes them for each run."""

    name: str

    def encode(self, args: object, kwargs: object) -> tuple[bytes, bytes]:
        """Check ``args`` (a tuple or None) and ``kwargs`` (a dict of str keys or None) and
        encode them; ``ConfigurationError`` says what is wrong."""
        ...

    def decode_args(self, blob: bytes) -> tuple[Any, ...]:
        """A fresh copy of the positional arguments."""
        ...

    def decode_kwargs(self, blob: bytes) -> dict[str, Any]:
        """A fresh copy of the keyword arguments."""
        ...


def _checked(args: object, kwargs: object) -> tuple[tuple[Any, ...], dict[str, Any]]:
    args = () if args is None else args
    kwargs = {} if kwargs is None else kwargs
    if not isinstance(args, tuple):
        raise ConfigurationError(f"args must be a tuple, got {type(args).__name__}")
    if not isinstance(kwargs, dict):
        raise ConfigurationError(f"kwargs must be a dict, got {type(kwargs).__name__}")
    if kwargs and not all(isinstance(key, str) for key in kwargs):
        raise ConfigurationError("kwargs keys must all be str")
    return args, kwargs


class _Pickle:
    name = "pickle"

    _NO_ARGS = pickle.dumps((), protocol=pickle.HIGHEST_PROTOCOL)
    _NO_KWARGS = pickle.dumps({}, protocol=pickle.HIGHEST_PROTOCOL)

    def encode(self, args: object, kwargs: object) -> tuple[bytes, bytes]:
        args, kwargs = _checked(args, kwargs)
        if not args and not kwargs:
            return self._NO_ARGS, self._NO_KWARGS
        blobs = []
        for name, value in (("args", args), ("kwargs", kwargs)):
            try:
                blobs.append(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            except Exception as exc:
                # The message begins as quiv 0.4.0's did: applications match on it.
                raise ConfigurationError(
                    f"Failed to serialize task {name}: {exc} ({name} are pickled and stored "
                    "with the task: pass module-level functions and picklable values)"
                ) from exc
        return blobs[0], blobs[1]

    def decode_args(self, blob: bytes) -> tuple[Any, ...]:
        if blob is self._NO_ARGS:  # the blob encode() gave a task without arguments
            return ()
        value = pickle.loads(blob)
        assert isinstance(value, tuple)
        return value

    def decode_kwargs(self, blob: bytes) -> dict[str, Any]:
        if blob is self._NO_KWARGS:
            return {}  # a fresh dict: the injected keywords go into it
        value = pickle.loads(blob)
        assert isinstance(value, dict)
        return value


class _Json:
    name = "json"

    def encode(self, args: object, kwargs: object) -> tuple[bytes, bytes]:
        args, kwargs = _checked(args, kwargs)
        blobs = []
        for name, value in (("args", list(args)), ("kwargs", kwargs)):
            try:
                text = json.dumps(value, allow_nan=False, ensure_ascii=False)
                blobs.append(text.encode("utf-8"))
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(
                    f"Failed to serialize task {name}: {exc}. They must be JSON-serializable "
                    "in a durable store (database_url=...): "
                    "other processes read this database, so quiv never stores pickles "
                    "there: pass ids, and load objects in the handler"
                ) from exc
        return blobs[0], blobs[1]

    def decode_args(self, blob: bytes) -> tuple[Any, ...]:
        value = json.loads(blob)
        if not isinstance(value, list):
            raise ValueError("stored args are not a JSON array")
        return tuple(value)

    def decode_kwargs(self, blob: bytes) -> dict[str, Any]:
        value = json.loads(blob)
        if not isinstance(value, dict):
            raise ValueError("stored kwargs are not a JSON object")
        return value


PICKLE: ArgumentCodec = _Pickle()
JSON: ArgumentCodec = _Json()


def codec_for(*, durable: bool) -> ArgumentCodec:
    """The codec of a store: JSON for a durable one, pickle for a private one."""
    return JSON if durable else PICKLE
