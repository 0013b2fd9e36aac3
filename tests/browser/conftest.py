"""Browser tests: Playwright's sync API driving the system Chromium against
pytest-django's ``live_server``.

* ``browser`` (session): one Chromium for the whole run; skipped with a
  reason when no Chromium is installed (``PLAYWRIGHT_CHROMIUM`` or
  ``/usr/bin/chromium``; ``.ci/run`` installs Debian's package).
* ``page``: a fresh English browser context per test, with a record of every
  failed request for ``/static/`` (Bootstrap, icons, Chart.js must load).
* ``reference_data``: ``live_server`` needs committed data, so these tests use
  ``transactional_db``, which empties every table afterwards, the rows of the
  data migrations included. The fixture puts currencies, designations, staff
  groups and the programme policies back before each test and once more after
  the module, for the tests that run later in the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reference import restore_reference_data

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "portal-demo"


def chromium_executable() -> str:
    return os.environ.get("PLAYWRIGHT_CHROMIUM") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    executable = chromium_executable()
    if not Path(executable).exists():
        pytest.skip(
            f"no Chromium at {executable}: install Debian's chromium package "
            "(.ci/run does) or set PLAYWRIGHT_CHROMIUM"
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running in this thread for
    # as long as it runs; Django's ORM guard would then refuse the queries
    # the tests (and the database flush after each) make between page calls.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class StaticFailures(list):
    """Failed or erroneous responses for /static/ URLs seen by one page."""

    def watch(self, page) -> None:
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _failed(self, request) -> None:
        # ERR_ABORTED: the page navigated on before a low-priority load (the
        # favicon) finished; the file itself is fine (a 404 shows below).
        if "/static/" in request.url and "ERR_ABORTED" not in (request.failure or ""):
            self.append(f"{request.url}: {request.failure}")

    def _response(self, response) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.append(f"{response.url}: HTTP {response.status}")


@pytest.fixture
def static_failures() -> StaticFailures:
    return StaticFailures()


@pytest.fixture
def page(browser, live_server, static_failures) -> Iterator:
    context = browser.new_context(
        base_url=live_server.url,
        locale="en-US",
        timezone_id="Europe/Berlin",
        viewport={"width": 1366, "height": 900},
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    static_failures.watch(page)
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """``screenshot(page, name)``: a full-page PNG in test-artifacts/screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def reference_data(transactional_db) -> None:
    restore_reference_data()


@pytest.fixture(scope="module", autouse=True)
def _reference_data_back_after_this_module(django_db_blocker):
    yield
    with django_db_blocker.unblock():
        restore_reference_data()


def log_in(page, username: str, password: str = PASSWORD) -> None:
    """Through the real login form, as a person would."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


CHART_DRAWN = """
() => {
  const canvas = document.querySelector("canvas[data-chart-source]");
  if (!canvas || typeof Chart === "undefined") return null;
  const chart = Chart.getChart(canvas);
  if (!chart || canvas.width === 0 || canvas.height === 0) return null;
  if (Chart.animator.running(chart)) return null;  // bars still growing
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
  if (painted === 0) return null;
  return {
    labels: chart.data.labels.length,
    values: chart.data.datasets[0].data,
    width: canvas.width,
    painted: painted,
  };
}
"""


def chart_state(page) -> dict:
    """Wait until Chart.js has drawn the page's revenue chart (animation
    finished, pixels painted); its data."""
    return page.wait_for_function(CHART_DRAWN).json_value()


def assert_styled(page) -> None:
    """Bootstrap's CSS and JS are in effect (the navbar is the primary blue)."""
    background = page.eval_on_selector("nav.navbar", "n => getComputedStyle(n).backgroundColor")
    assert background not in ("", "rgba(0, 0, 0, 0)", "transparent"), background
    assert page.evaluate("typeof bootstrap !== 'undefined'")
