"""Every page fits the window, in English and in German: at 1280 px no page
of a staff user or a partner user (tests/pages.py) scrolls sideways - the
German top bar was the one that did (its log-out button cut off). The top
bar also fits at the edges of the expanded layout (1200 and 1400 px), and
the charts write money the way the page's language does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings

from tests.pages import build_world, portal_pages

from .conftest import PASSWORD, chart_state, log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]

OVERFLOW = """() => {
  const root = document.documentElement;
  return {scroll: root.scrollWidth, client: root.clientWidth};
}"""
USERS = {"manager": "manager", "partner_user": "partner1"}


@pytest.fixture
def world(reference_data, client):
    return build_world(client)


@contextmanager
def _window(browser, live_server, username: str, language: str, width: int) -> Iterator:
    """A logged-in browser ``width`` px wide with ``language`` chosen."""
    context = browser.new_context(
        base_url=live_server.url,
        locale="en-US",
        timezone_id="Europe/Berlin",
        viewport={"width": width, "height": 900},
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        log_in(page, username, PASSWORD)
        # (a partner user's login chooses their contact's language; ours wins)
        context.add_cookies(
            [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
        )
        yield page
    finally:
        context.close()


def _overflow(page, url: str) -> str | None:
    response = page.goto(url, wait_until="load")
    assert response.status == 200, url
    widths = page.evaluate(OVERFLOW)
    if widths["scroll"] > widths["client"]:
        return f"{url}: {widths['scroll']} px wide in a {widths['client']} px window"
    return None


@pytest.mark.parametrize("who", list(USERS))
def test_no_page_scrolls_sideways_at_1280_px(browser, live_server, client, world, who, screenshot):
    pages = portal_pages(client, world[who], world)
    assert len(pages) > (30 if who == "manager" else 8), pages
    problems = []
    for language in ("en", "de"):
        with _window(browser, live_server, USERS[who], language, 1280) as page:
            for url in pages:
                problem = _overflow(page, url)
                if problem:
                    problems.append(f"[{language}] {problem}")
            page.goto("/")
            assert page.locator("html").get_attribute("lang") == language
            screenshot(page, f"layout-{who}-{language}-1280")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", [1200, 1400])
@pytest.mark.parametrize("who", list(USERS))
def test_the_german_top_bar_fits_where_the_navigation_is_expanded(
    browser, live_server, world, who, width, screenshot
):
    with _window(browser, live_server, USERS[who], "de", width) as page:
        for url in ("/", f"/partners/{world['own'].partner_id}/"):
            assert _overflow(page, url) is None
        logout = page.get_by_role("button", name="Abmelden")
        assert logout.is_visible()
        box = logout.bounding_box()
        assert box["x"] + box["width"] <= width
        screenshot(page, f"layout-{who}-de-{width}")


# Intl.NumberFormat puts a no-break space between amount and code.
AXIS_LABELS = {
    "en": re.compile(r"^-?USD\u00a0\d{1,3}(,\d{3})*(\.\d+)?$"),
    "de": re.compile(r"^-?\d{1,3}(\.\d{3})*(,\d+)?\u00a0USD$"),
}
TICKS = """() => {
  const chart = Chart.getChart(document.querySelector("canvas[data-chart-source]"));
  return chart.scales.y.ticks.map((t) => t.label);
}"""


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("who", list(USERS))
def test_chart_axes_write_money_the_way_the_page_does(browser, live_server, world, who, language):
    with _window(browser, live_server, USERS[who], language, 1280) as page:
        page.goto("/")
        chart_state(page)
        labels = page.evaluate(TICKS)
        assert len(labels) > 2, labels
        assert all(AXIS_LABELS[language].match(label) for label in labels), labels
        assert not any("$" in label for label in labels), labels
