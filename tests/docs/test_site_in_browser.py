"""The built documentation, opened in headless Chromium with no network: the diagrams are drawn.

The site is built once for this module, strictly, into a temporary directory and served from
127.0.0.1. Chromium resolves no host name (``--host-resolver-rules``), so anything the pages
tried to fetch from elsewhere (Mermaid's script, a web font) would fail, and both its
request and the console error it causes are checked for. Needs ``chromium`` and
``chromedriver`` (Debian's ``chromium`` and ``chromium-driver``) and the docs group; without
them these tests skip, except under ``.ci/run`` (``QUIV_REQUIRE_BROWSER=1``), where they fail.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from quiv._diagrams import MACHINES, state_id
from quiv._sequence import DISPATCH

ROOT = pathlib.Path(__file__).resolve().parents[2]
REQUIRE = "QUIV_REQUIRE_BROWSER"


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason} ({REQUIRE}=1: the browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """``mkdocs build --strict`` of this repository, in a temporary directory."""
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        _unavailable("mkdocs is not installed: `uv sync --all-groups` installs the docs group")
    site = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return site


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site_url(built_site: pathlib.Path) -> Iterator[str]:
    """The built site, served over HTTP from 127.0.0.1 (a page opened from a file cannot
    load its search index, which is an error of the test, not of the site)."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="docs-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Debian's chromedriver, with host names unresolvable."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        _unavailable("no chromium or chromedriver on PATH (Debian: chromium, chromium-driver)")
    try:
        from selenium import webdriver
    except ImportError:
        _unavailable("selenium is not installed: `uv sync` installs the test group")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1440,1000",
        # The network is off: no host resolves, but for the site's own 127.0.0.1.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # With the driver's path given, Selenium never looks for (or downloads) a driver itself.
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class Visit:
    """What one page load did: the URLs it requested and what it wrote to the console."""

    requests: list[str]
    console: list[dict[str, Any]]


def _visit(driver: Any, url: str) -> Visit:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("performance")  # drain what earlier pages left
    driver.get_log("browser")
    driver.get(url)
    wait = WebDriverWait(driver, 20, poll_frequency=0.2)
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    # The theme's scripts go on fetching after the load event (the search index): wait
    # until the page has asked for nothing new for two polls in a row.
    seen = [-1]

    def settled(d: Any) -> bool:
        count = d.execute_script("return performance.getEntriesByType('resource').length")
        done = count == seen[0]
        seen[0] = count
        return bool(done)

    wait.until(settled)
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    return Visit(requests, driver.get_log("browser"))


def _check_offline(visit: Visit, site_url: str) -> None:
    elsewhere = [
        url for url in visit.requests if not url.startswith((site_url + "/", "data:", "blob:"))
    ]
    assert elsewhere == [], f"requests outside the site: {elsewhere}"
    assert visit.requests, "the performance log recorded no request at all"
    errors = [entry for entry in visit.console if entry["level"] == "SEVERE"]
    assert errors == [], f"console errors: {errors}"


def _drawn(driver: Any, element: Any) -> tuple[float, float]:
    box = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", element
    )
    return float(box[0]), float(box[1])


def _mermaid_is_there_but_hidden(driver: Any, sources: int) -> None:
    """The page holds ``sources`` Mermaid texts (for readers who want them), none shown
    until its ``<details>`` is opened, and nothing a Mermaid script would draw."""
    from selenium.webdriver.common.by import By

    found = driver.find_elements(
        By.XPATH,
        "//code[contains(text(), 'stateDiagram-v2') or contains(text(), 'sequenceDiagram')"
        " or contains(text(), 'flowchart LR')]",
    )
    assert len(found) == sources
    for element in found:
        assert not element.is_displayed(), "Mermaid source shows where a diagram should"
    assert driver.find_elements(By.CSS_SELECTOR, ".mermaid") == []


def test_the_state_machine_page_draws_both_machines_offline(browser: Any, site_url: str) -> None:
    from selenium.webdriver.common.by import By

    visit = _visit(browser, f"{site_url}/design/state-machines/")
    _check_offline(visit, site_url)
    drawings = browser.find_elements(By.CSS_SELECTOR, ".quiv-diagram > svg")
    assert len(drawings) == 2
    for kind, machine in MACHINES.items():
        nodes = browser.find_elements(By.CSS_SELECTOR, f"g.node.state[id^='{kind}-state-']")
        assert sorted(node.get_attribute("id") for node in nodes) == sorted(
            state_id(kind, state.value) for state in machine.states
        )
        for state in machine.states:
            node = browser.find_element(By.ID, state_id(kind, state.value))
            width, height = _drawn(browser, node)
            assert width > 20, (kind, state, width)
            assert height > 10, (kind, state, height)
            assert node.text.startswith(state.value), (kind, state, node.text)
        edges = browser.find_elements(By.CSS_SELECTOR, f"g.edge.transition[id^='{kind}-edge-']")
        assert edges, kind
    _mermaid_is_there_but_hidden(browser, sources=2)


def test_the_architecture_page_draws_the_dispatch_sequence_offline(
    browser: Any, site_url: str
) -> None:
    from selenium.webdriver.common.by import By

    visit = _visit(browser, f"{site_url}/design/architecture/")
    _check_offline(visit, site_url)
    (drawing,) = browser.find_elements(By.CSS_SELECTOR, ".quiv-diagram > svg.sequence")
    width, height = _drawn(browser, drawing)
    assert width > 400, width
    assert height > 300, height
    heads = drawing.find_elements(By.CSS_SELECTOR, "g.participant")
    # Each participant is drawn at the top and again at the bottom.
    assert [h.text for h in heads] == [name for _, name in DISPATCH.participants] * 2
    messages = drawing.find_elements(By.CSS_SELECTOR, "g.message")
    assert len(messages) == len(DISPATCH.messages)
    assert "pop_due(now, free workers)" in messages[0].text
    # The sequence's, and the module map's (which the site shows as text and a table).
    _mermaid_is_there_but_hidden(browser, sources=2)


def test_no_built_page_loads_a_script_a_style_or_a_font_from_elsewhere(
    built_site: pathlib.Path,
) -> None:
    """Every page, not only the two opened in the browser: nothing fetched from a host."""
    loaded_from_elsewhere = re.compile(
        r"<(?:script|img|iframe)\b[^>]*\bsrc=\"(?:https?:)?//"
        r"|<link\b[^>]*\bhref=\"(?:https?:)?//[^\"]*\"[^>]*>"
    )
    pages = sorted(built_site.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        html = page.read_text(encoding="utf-8")
        found = [
            m.group(0)
            for m in loaded_from_elsewhere.finditer(html)
            if 'rel="canonical"' not in m.group(0)
        ]
        assert found == [], (page.relative_to(built_site), found)
        assert 'class="mermaid"' not in html, page.relative_to(built_site)
