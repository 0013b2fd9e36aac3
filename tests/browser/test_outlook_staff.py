"""An account manager reads the deadline outlook (PRODUCT 4.9) in a real
browser: the dashboard card "Compliant today, short at the deadline", the
at-risk list's need by the deadline and outlook (sorted by outlook), and the
partner list filtered to the card's partners - in English, then in German
after switching the language in the navigation bar. Screenshots for review
in test-artifacts/screenshots (dashboard-outlook-*, partners-outlook-*)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from compliance.models import Evaluation, Purpose
from compliance.services import evaluation_run
from core.formatting import format_date, format_usd
from tests.factories import StaffUserFactory
from tests.portal import outlook_data

from .conftest import assert_styled, chart_state, log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def portfolio(reference_data):
    """Today: two resellers that pass but are short at their deadline two
    months away (700.00 rolls off, 550.00 secured, a slow pace), one that
    has already met it, two at risk."""
    today = timezone.localdate()
    manager = StaffUserFactory(username="manager", first_name="Maria", last_name="Lehner")
    deadline = outlook_data.next_deadline_in_two_months(today)
    onboarded = outlook_data.onboarded_for(deadline)

    def location(partner_id, name):
        return outlook_data.reseller(partner_id, name, onboarded, manager)[1]

    outlook_data.compliant_short_today(location("1000101", "Kurzatmig IT GmbH"), today)
    outlook_data.compliant_short_today(location("1000102", "Rollfeld Systems"), today)
    outlook_data.book(
        location("1000104", "Vollgas Vertrieb"), today - 40 * outlook_data.DAY, "1100.00"
    )
    outlook_data.at_risk_today(location("1000106", "Bald Knapp KG"), today, "600.00")
    outlook_data.at_risk_today(location("1000107", "Großer Bedarf GmbH"), today, "300.00")
    evaluation_run(as_of=today)
    return today


def _evaluation(partner_id: str) -> Evaluation:
    return Evaluation.objects.get(
        partner__partner_id=partner_id,
        purpose=Purpose.COMPLIANCE,
        as_of=timezone.localdate(),
    )


def test_the_outlook_on_the_dashboard_and_the_partner_list_in_english_and_german(
    page, portfolio, static_failures, screenshot
):
    example = _evaluation("1000101")
    assert (example.status, example.outlook, example.needed_usd) == ("compliant", "short", 450)

    log_in(page, "manager")
    page.get_by_role("heading", name="Compliance dashboard").wait_for()
    assert_styled(page)

    # the card: both short resellers, the need and where the pace leads
    card = page.locator("#compliant-short")
    assert "Compliant today, short at the deadline" in card.locator(".card-header").inner_text()
    assert card.locator(".card-header .badge").inner_text().strip() == "2"
    row = card.locator("tr", has=page.get_by_role("link", name="Kurzatmig IT GmbH"))
    text = row.inner_text()
    assert format_date(example.deadline) in text
    assert str(example.days_to_deadline) in text
    assert "USD 450.00" in text and format_usd(example.projected_usd) in text
    assert card.get_by_role("link", name="Vollgas Vertrieb").count() == 0  # met

    # the at-risk list: needed by the deadline and the outlook, sorted by outlook
    at_risk = page.locator("#at-risk")
    header = at_risk.locator("thead").text_content()
    assert "Needed by the deadline" in header and "Outlook" in header
    assert "Shortfall" not in header
    at_risk.get_by_role("link", name="Outlook").click()
    page.wait_for_url("**/?risk_sort=outlook#at-risk")
    page.get_by_text("At risk, worst outlook first").wait_for()
    badges = at_risk.locator("tbody tr").first.locator(".badge").all_inner_texts()
    assert any(b.strip() == "Short" for b in badges), badges
    chart_state(page)
    screenshot(page, "dashboard-outlook-en")

    # the card's link: the partner list filtered to those partners
    card.get_by_role("link", name="Show in the partner list").click()
    page.wait_for_url("**/partners/?outlook=compliant_short")
    assert parse_qs(urlsplit(page.url).query) == {"outlook": ["compliant_short"]}
    assert page.get_by_label("Outlook").input_value() == "compliant_short"
    names = page.locator("tbody td:first-child a").all_inner_texts()
    assert sorted(names) == ["Kurzatmig IT GmbH", "Rollfeld Systems"]
    row = page.locator("tbody tr", has=page.get_by_role("link", name="Kurzatmig IT GmbH"))
    assert "Short" in row.inner_text()
    assert f"USD 450.00 needed by {format_date(example.deadline)}" in row.inner_text()
    # the filter form offers the outlooks
    page.get_by_label("Outlook").select_option("met")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**outlook=met**")
    assert page.locator("tbody td:first-child a").all_inner_texts() == ["Vollgas Vertrieb"]
    page.goto("/partners/?outlook=compliant_short")
    screenshot(page, "partners-outlook-en")

    # German, through the language menu
    page.get_by_role("button", name="Language").click()
    page.get_by_role("button", name="Deutsch").click()
    page.wait_for_function("document.documentElement.lang === 'de'")
    assert page.get_by_label("Ausblick").input_value() == "compliant_short"
    row = page.locator("tbody tr", has=page.get_by_role("link", name="Kurzatmig IT GmbH"))
    assert "Reicht nicht" in row.inner_text()
    assert f"450,00 USD nötig bis {format_date(example.deadline, 'de')}" in row.inner_text()
    screenshot(page, "partners-outlook-de")

    page.goto("/?risk_sort=needed")
    page.get_by_text("Gefährdet, größter Bedarf zuerst").wait_for()
    card = page.locator("#compliant-short")
    assert "Heute erfüllt, zum Stichtag zu wenig" in card.inner_text()
    text = card.locator("tr", has=page.get_by_role("link", name="Kurzatmig IT GmbH")).inner_text()
    assert format_date(example.deadline, "de") in text
    assert "450,00 USD" in text and format_usd(example.projected_usd, "de") in text
    header = page.locator("#at-risk thead").text_content()
    assert "Bis zum Stichtag nötig" in header and "Ausblick" in header
    chart_state(page)
    screenshot(page, "dashboard-outlook-de")

    assert not static_failures, static_failures
