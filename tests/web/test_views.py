"""The pure parts of the dashboard: the progress shapes the bar understands, bounded progress
payloads, and cursors."""

from __future__ import annotations

import json
import math
import threading

import pytest

from quiv.web._views import (
    decode_cursor,
    encode_cursor,
    progress_fraction,
    progress_view,
)


@pytest.mark.parametrize(
    ("args", "kwargs", "fraction"),
    [
        ((0.25,), {}, 0.25),
        ((0,), {}, 0.0),
        ((1,), {}, 1.0),
        ((3, 12), {}, 0.25),
        ((12, 12), {}, 1.0),
        ((), {"progress": 3, "total": 12}, 0.25),
        ((), {"progress": 0.5}, 0.5),
        (({"progress": 3, "total": 4},), {}, 0.75),
        ((), {"percent": 40}, 0.4),
        ((), {"percent": 140}, 1.0),  # clamped
        ((5, 4), {}, 1.0),
        # Anything else: no bar.
        ((42,), {}, None),
        ((-0.5,), {}, None),
        ((3, 0), {}, None),
        (("half",), {}, None),
        ((True,), {}, None),
        ((), {"progress": 3}, None),
        ((), {"progress": 3, "total": 0}, None),
        ((), {"progress": math.nan}, None),
        ((), {"url": "x", "chunk": 3}, None),
        ((1, 2, 3), {}, None),
        ((), {}, None),
    ],
)
def test_the_shapes_the_bar_understands(args, kwargs, fraction) -> None:
    assert progress_fraction(args, kwargs) == fraction


def test_a_progress_payload_is_bounded_json_whatever_was_passed() -> None:
    secretive = threading.Lock()
    view = progress_view(
        "t",
        "j",
        ("x" * 1000, list(range(100)), secretive),
        {"nested": [[[[[[1]]]]]], "n": math.inf},
    )
    text = json.dumps(view)  # JSON, all of it
    assert len(text) < 3000
    args = view["payload"]["args"]
    assert len(args[0]) == 201
    assert args[0].endswith("…")
    assert len(args[1]) == 20
    assert args[2] == "<lock>"  # a type name, never a repr
    assert view["payload"]["kwargs"]["n"] == "inf"
    assert view["fraction"] is None
    assert len(view["label"]) <= 121


def test_the_label_reads_like_the_call() -> None:
    view = progress_view("t", None, ("copying",), {"done": 3, "total": 10})
    assert view["label"] == "copying done=3 total=10"
    assert view["job_id"] is None


def test_a_cursor_round_trips_and_a_forged_one_is_refused() -> None:
    position = (1796692278.5113618, "e47bb885-6093-478b-b7a0-296e4187a483")
    token = encode_cursor(position)
    assert token is not None
    assert "=" not in token
    assert decode_cursor(token) == position
    assert encode_cursor(None) is None
    for bad in ["", "!!", "bm90IGpzb24", "WzEsMiwzXQ", "WyJhIiwiYiJd", "W251bGwsImEiXQ"]:
        with pytest.raises(ValueError, match="not a cursor"):
            decode_cursor(bad)
