"""The staff email previews of a subject that is compliant today but short
at its deadline (PRODUCT 4.9 and 5), in a real browser, English and German:
the index lists the case, and the email shows the deadline's figures."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.factories import StaffUserFactory

from .conftest import log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]

EXPECTED = {
    "en": [
        "meets the requirements of CSP indirect reseller revenue requirement (2024) today",
        "Already counts for the deadline: USD 550.00.",
        "Rolls off before the deadline: USD 700.00",
        "Still needed by the deadline: USD 450.00 of USD 1,000.00.",
        "USD 696.00 on the deadline.",
        "Outlook: short. At this pace USD 304.00 will still be missing on the deadline.",
    ],
    "de": [
        "erfüllt die Anforderungen von CSP-Umsatzanforderung für indirekte Reseller (2024) heute",
        "Zählt bereits für die Frist: 550,00 USD.",
        "Fällt bis zur Frist heraus: 700,00 USD",
        "Bis zur Frist fehlen noch: 450,00 USD von 1.000,00 USD.",
        "696,00 USD zur Frist.",
        "Ausblick: zu wenig. In diesem Tempo fehlen zur Frist noch 304,00 USD.",
    ],
}


@pytest.mark.parametrize("language", ["en", "de"])
def test_short_case_previews_in_a_browser(page, live_server, reference_data, screenshot, language):
    StaffUserFactory(username="previewer", is_superuser=True)
    log_in(page, "previewer")
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
    )
    page.goto("/notifications/preview/")
    label = (
        "Deadline reminder: compliant today, short at the deadline"
        if language == "en"
        else "Erinnerung vor dem Stichtag: heute erfüllt, zur Frist zu wenig"
    )
    row = page.locator("tr", has_text=label).filter(has=page.locator(f'td[lang="{language}"]'))
    assert row.count() == 1
    screenshot(page, f"email-previews-index-{language}")
    row.get_by_role("link", name="HTML").click()
    page.wait_for_url(f"**/notifications/preview/reminder-short/{language}/")
    body = page.locator("body").inner_text()
    for text in EXPECTED[language]:
        assert text in body, text
    # Drawn as a mail client draws it: the email's inline styles apply
    # (the page's Content-Security-Policy allows them there, and only there).
    heading = page.locator("td[style*='font-weight:600']")
    assert heading.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(180, 83, 9)"
    screenshot(page, f"email-reminder-short-{language}")
