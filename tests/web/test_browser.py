"""The dashboard in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium) against a real uvicorn on 127.0.0.1: the page lists the tasks (a name
holding HTML shows as text), a running job's bar advances with its progress reports,
"Pause" changes the row's status without a reload, the state machines show the counts, and
the browser's console holds no error.

Without a browser these tests skip, saying why; under ``.ci/run`` (``QUIV_REQUIRE_BROWSER=1``)
they fail instead. ``QUIV_DASHBOARD_SCREENSHOT=1`` makes the live test save its screenshot as
``docs/images/dashboard.png`` (the one the docs show).
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

import quiv.web
from quiv import Quiv

from ._server import Served, serve

WAIT = 10.0
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "images" / "dashboard.png"
EVIL_NAME = "sync <b>inventory</b> & <i>prices</i>"


def _unavailable(reason: str) -> None:
    if os.environ.get("QUIV_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (QUIV_REQUIRE_BROWSER=1), but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module, with its console log kept."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (uv sync --all-groups installs it)")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        _unavailable("no chromium or chromedriver (apt-get install chromium chromium-driver)")
    assert binary is not None
    assert driver_path is not None
    profile = tempfile.mkdtemp(prefix="quiv-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1360,1500",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Steps:
    """A handler that reports the fractions the test hands it, one at a time."""

    def __init__(self) -> None:
        self.queue: queue.Queue[float | None] = queue.Queue()
        self.started = threading.Event()

    def __call__(self, _progress_hook: Any, _stop_event: threading.Event) -> str:
        self.started.set()
        while not _stop_event.is_set():
            try:
                step = self.queue.get(timeout=0.05)
            except queue.Empty:
                continue
            if step is None:
                return "imported"
            _progress_hook(progress=round(step * 1200), total=1200)
        return "stopped"


def _app(scheduler: Quiv, **options: Any) -> FastAPI:
    """An app that starts ``scheduler`` in its lifespan (adopting the server's loop as its
    main loop, as a real app does) and shuts it down at the end."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler.start()
        yield
        await asyncio.to_thread(scheduler.shutdown, timeout=5)

    app = FastAPI(lifespan=lifespan)
    options.setdefault("allow_anonymous", True)
    app.include_router(quiv.web.router(scheduler, **options), prefix="/quiv")
    return app


@pytest.fixture
def open_dashboard(browser: Any) -> Iterator[Callable[[Quiv], Served]]:
    """``open_dashboard(scheduler, **options)``: serve it and open its dashboard."""
    contexts: list[Any] = []

    def factory(scheduler: Quiv, **options: Any) -> Served:
        context = serve(_app(scheduler, **options))
        served = context.__enter__()
        contexts.append(context)
        browser.get_log("browser")  # what earlier pages logged is theirs
        browser.get(served.base_url + "/quiv/")
        return served

    yield factory
    browser.get("about:blank")  # closes the page's stream before the server stops
    for context in reversed(contexts):
        context.__exit__(None, None, None)


def _wait(browser: Any, condition: Callable[[], Any], what: str) -> Any:
    """Wait for ``condition``; on a timeout, say what the page showed and logged."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(browser, WAIT, poll_frequency=0.05).until(lambda _: condition())
    except TimeoutException:
        state = {
            "live": _text(browser, "#live"),
            "notice": _text(browser, "#notice"),
            "running": _text(browser, "#running"),
            "machines": _text(browser, "#machines"),
            "console": browser.get_log("browser"),
        }
        raise AssertionError(f"{what}; the page: {state}") from None


def _text(browser: Any, selector: str) -> str | None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return str(browser.find_element(By.CSS_SELECTOR, selector).text)
    except (NoSuchElementException, StaleElementReferenceException):
        return None


def _texts(browser: Any, selector: str) -> list[str]:
    """The text of every element ``selector`` finds, read at one moment (the script may
    swap a part of the page between two reads of Selenium's)."""
    found = browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText);",
        selector,
    )
    return [str(text) for text in found]


def _click(browser: Any, selector: str) -> None:
    """Click the element ``selector`` finds, again if the page swapped it meanwhile."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for _ in range(20):
        try:
            browser.find_element(By.CSS_SELECTOR, selector).click()
            return
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"{selector} kept changing under the click")


def _bar(browser: Any, job_id: str) -> float | None:
    value = browser.execute_script(
        "const bar = document.querySelector(`progress[data-job-id='${arguments[0]}']`);"
        "return bar && bar.hasAttribute('value') ? bar.value : null;",
        job_id,
    )
    return None if value is None else float(value)


def _count(browser: Any, machine: str, state: str) -> str | None:
    """The count on the badge of ``state`` in the drawing of the ``machine`` machine."""
    found = browser.execute_script(
        "const badge = document.querySelector(`#machines svg #${arguments[0]}`);"
        "return badge && badge.querySelector('text').textContent;",
        f"{machine}-count-{state}",
    )
    return None if found is None else str(found)


def _console_errors(browser: Any) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_the_dashboard_is_live_in_a_real_browser(quiv, open_dashboard, browser) -> None:
    from selenium.webdriver.common.by import By

    steps = Steps()
    scheduler = quiv(pool_size=4)
    report = scheduler.add_task("nightly report", lambda: None, cron="0 3 * * *")
    scheduler.add_task(EVIL_NAME, lambda: None, interval=300, delay=120)
    cleanup = scheduler.add_task("cleanup", lambda: None, interval=60, delay=45)
    imports = scheduler.add_task("import orders", steps, interval=3600, delay=3600)

    def refuses() -> None:
        raise ConnectionError("the SMTP server refused the connection")

    invoices = scheduler.add_task("send invoices", refuses, interval=3600, delay=3600)
    open_dashboard(scheduler)
    for _ in range(3):
        scheduler.wait_for_job(scheduler.run_task(report), WAIT)
    scheduler.wait_for_job(scheduler.run_task(invoices), WAIT)

    # Live, with every task listed; the name that holds HTML is text, not markup.
    _wait(browser, lambda: _text(browser, "#live") == "live", "the stream never connected")
    names = [text.splitlines()[0] for text in _texts(browser, "#tasks td.name")]
    assert sorted(names) == sorted(
        ["nightly report", EVIL_NAME, "cleanup", "import orders", "send invoices"]
    )
    assert browser.find_elements(By.CSS_SELECTOR, "#tasks td.name b, #tasks td.name i") == []

    # A running job's bar follows its reports.
    job_id = scheduler.run_task(imports)
    assert steps.started.wait(WAIT)
    _wait(browser, lambda: _text(browser, f'#running tr[data-job-id="{job_id}"]'),
          "the running job never showed")  # fmt: skip
    steps.queue.put(0.25)
    _wait(browser, lambda: _bar(browser, job_id) == 0.25, "the bar never showed 25 %")
    steps.queue.put(0.6)
    _wait(browser, lambda: _bar(browser, job_id) == 0.6, "the bar never advanced to 60 %")
    label = _text(browser, f'.progress-label[data-job-id="{job_id}"]')
    assert label is not None
    assert label == "60% progress=720 total=1200"

    # Pause, by its button: the row changes, the page is not reloaded.
    browser.execute_script("window.quivMarker = 'kept';")
    row = f'#tasks tr[data-task-id="{cleanup}"]'
    _click(browser, f'{row} button[data-action="pause"]')
    _wait(browser, lambda: _text(browser, f"{row} .task-status") == "paused",
          "the row never said paused")  # fmt: skip
    assert browser.execute_script("return window.quivMarker;") == "kept"
    assert scheduler.get_task(cleanup).status == "paused"
    assert _text(browser, f'{row} button[data-action="resume"]') == "Resume"

    # The state machines count what is where.
    expected = {
        ("task", "paused"): "1",
        ("task", "active"): "3",
        ("job", "running"): "1",
        ("job", "completed"): "3",
        ("job", "failed"): "1",
    }
    _wait(
        browser,
        lambda: all(_count(browser, *key) == value for key, value in expected.items()),
        "the state machines never showed the counts",
    )
    history = _text(browser, "#history")
    assert history is not None
    assert "the SMTP server refused the connection" in history

    if os.environ.get("QUIV_DASHBOARD_SCREENSHOT") == "1":
        bottom = browser.execute_script(
            "return document.querySelector('main').getBoundingClientRect().bottom;"
        )
        browser.set_window_size(1360, int(bottom) + 200)  # the window's frame included
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(SCREENSHOT))

    # The job ends: its row goes, its end is in the history.
    steps.queue.put(None)
    assert scheduler.wait_for_job(job_id, WAIT).status == "completed"
    _wait(browser, lambda: _text(browser, f'#running tr[data-job-id="{job_id}"]') is None,
          "the ended job stayed among the running ones")  # fmt: skip
    _wait(browser, lambda: _count(browser, "job", "completed") == "4", "no fourth completed job")
    assert _console_errors(browser) == []


def test_a_read_only_dashboard_has_no_buttons(quiv, open_dashboard, browser) -> None:
    from selenium.webdriver.common.by import By

    scheduler = quiv(pool_size=2)
    scheduler.add_task("cleanup", lambda: None, interval=60, delay=45)
    open_dashboard(scheduler, read_only=True)
    _wait(browser, lambda: _text(browser, "#live") == "live", "the stream never connected")
    assert _text(browser, "#tasks td.name") is not None
    assert browser.find_elements(By.CSS_SELECTOR, "button[data-action]") == []
    assert _console_errors(browser) == []
