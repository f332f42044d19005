"""What the dashboard's guide states about the router, checked against the router."""

from __future__ import annotations

import pathlib
import re

import quiv.web
from quiv.web import _stream
from quiv.web._views import progress_fraction

GUIDE = pathlib.Path(__file__).parents[2] / "docs" / "guides" / "dashboard-and-metrics.md"
INTERNAL = {"/static/{name}", "/fragments"}  # the page's own, not the API's


def _guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def test_the_api_table_lists_every_route(scheduler) -> None:
    rows = set(re.findall(r"^\| `(GET|POST|DELETE)` \| `([^`]+)` \|", _guide(), re.MULTILINE))
    routes = {
        (method, route.path)
        for route in quiv.web.router(scheduler, allow_anonymous=True).routes
        for method in getattr(route, "methods", ())
        if method != "HEAD" and route.path not in INTERNAL
    }
    assert rows == routes


def test_the_progress_shapes_of_the_guide_are_understood() -> None:
    calls = re.findall(r"^\| `progress_hook\((.*)\)` \|", _guide(), re.MULTILINE)
    assert len(calls) == 5
    for call in calls:
        args, kwargs = eval(f"(lambda *a, **k: (a, k))({call})")
        assert progress_fraction(args, kwargs) == 0.25, call


def test_the_guide_states_the_streams_bounds() -> None:
    text = " ".join(_guide().split())
    assert f"at most {_stream.QUEUE_LIMIT} messages" in text
    assert f"every {_stream.KEEPALIVE_SECONDS:g} s" in text
