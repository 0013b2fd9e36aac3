"""An account manager's first steps in the portal, in a real browser: log
in, read the dashboard (with its Chart.js chart), enrol a reseller, record
revenue for it and see its status change from at risk to compliant."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from compliance.services import evaluation_run
from partners import services as ps
from partners.models import Partner
from tests.factories import StaffUserFactory

from .conftest import assert_styled, chart_state, log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]

DAY = datetime.timedelta(days=1)
RESELLER_POLICY = "CSP indirect reseller revenue requirement (2024)"


def _reseller(partner_id, name, manager, onboarded_on, revenue):
    """A reseller through the services; ``revenue``: (date, USD amount) pairs."""
    partner = ps.reseller_enrol(
        partner_id=partner_id,
        name=name,
        country="DE",
        onboarded_on=onboarded_on,
        location_id=str(int(partner_id) + 1_000_000),
        contact_name=f"Contact of {name}",
        contact_email=f"contact@{partner_id}.example",
        account_manager=manager,
    )
    location = partner.locations.get()
    for day, amount in revenue:
        ps.revenue_record_create(
            location=location,
            revenue_date=day,
            amount=Decimal(amount),
            currency="USD",
            reference=f"INV-{partner_id}-{day:%Y%m%d}",
        )
    return partner


@pytest.fixture
def portfolio(reference_data):
    """Maria Lehner's portfolio: one comfortable reseller with a year of
    revenue, one at risk with its anniversary about two months away."""
    today = timezone.localdate()
    manager = StaffUserFactory(username="manager", first_name="Maria", last_name="Lehner")
    _reseller(
        "1000001",
        "Alpenblick IT GmbH",
        manager,
        today - 600 * DAY,
        [(today - (15 + 30 * k) * DAY, f"{260 + 40 * (k % 5)}.00") for k in range(12)],
    )
    _reseller(
        "1000002",
        "Donau Cloud KG",
        manager,
        today - 300 * DAY,
        [(today - 70 * DAY, "250.00"), (today - 20 * DAY, "140.50")],
    )
    evaluation_run(as_of=today)
    return today


def _status_card(page, policy_name: str):
    return page.locator(".card", has=page.get_by_text(policy_name, exact=True)).last


def _kpi(page, label: str) -> str:
    label_div = page.locator(".kpi-label", has_text=re.compile(f"^{re.escape(label)}$"))
    return page.locator(".kpi", has=label_div).locator(".kpi-value").inner_text().strip()


def test_account_manager_enrols_a_reseller_and_records_revenue(
    page, portfolio, static_failures, screenshot
):
    today = portfolio
    onboarded_on = today - 200 * DAY  # first anniversary month 4-6 months ahead

    log_in(page, "manager")

    # the dashboard, with the revenue chart drawn by Chart.js
    assert urlsplit(page.url).path == "/"
    page.get_by_role("heading", name="Compliance dashboard").wait_for()
    assert_styled(page)
    chart = chart_state(page)
    assert chart["labels"] == 24
    assert any(float(v) > 0 for v in chart["values"]), chart
    assert chart["width"] > 0 and chart["painted"] > 0
    assert page.get_by_role("link", name="Donau Cloud KG").is_visible()  # at risk

    # enrol a reseller through the form in the navigation bar
    page.get_by_role("link", name="Enrol reseller").click()
    page.wait_for_url("**/partners/new/")
    page.get_by_label("Partner id (MPN)").fill("1000050")
    page.get_by_label("Country").fill("at")
    page.get_by_label("Legal name").fill("Brandneu Systemhaus GmbH")
    page.get_by_label("CSP onboarding date").fill(onboarded_on.isoformat())
    page.get_by_label("Location id (PLA MPN id)").fill("2000050")
    page.get_by_label("Contact name").fill("Bernd Brandneu")
    page.get_by_label("Contact email").fill("bernd@brandneu.example")
    assert page.get_by_label("Account manager").input_value() != ""  # preset to me
    page.get_by_role("button", name="Enrol reseller").click()

    page.wait_for_url("**/partners/1000050/")
    page.get_by_text("Brandneu Systemhaus GmbH is enrolled.").wait_for()
    partner = Partner.objects.get(partner_id="1000050")
    assert partner.country == "AT" and partner.account_manager.username == "manager"
    card = _status_card(page, RESELLER_POLICY)
    assert card.locator(".badge").first.inner_text().strip() == "At risk"
    assert "USD 0.00" in card.inner_text()

    # record USD 1,250.00 ten days ago: above the USD 1,000 threshold
    page.goto(f"/partners/{partner.partner_id}/revenue/new/")
    page.get_by_role("heading", name="Record revenue").wait_for()
    assert page.get_by_label("Location").input_value()  # the one location is chosen
    page.get_by_label("Revenue date").fill((today - 10 * DAY).isoformat())
    page.get_by_label("Amount").fill("1250.00")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_label("Reference").fill("INV-BRANDNEU-1")
    page.get_by_role("button", name="Save").click()

    page.wait_for_url("**/partners/1000050/")
    page.get_by_text("The revenue is recorded.").wait_for()
    card = _status_card(page, RESELLER_POLICY)
    assert card.locator(".badge").first.inner_text().strip() == "Compliant"
    assert "USD 1,250.00" in card.inner_text()
    assert_styled(page)
    chart = chart_state(page)
    assert 1250 in chart["values"], chart
    screenshot(page, "partner-detail")

    # back on the dashboard the new partner counts; screenshot for review
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_role("heading", name="Compliance dashboard").wait_for()
    chart_state(page)
    assert _kpi(page, "Partners") == "3"
    assert _kpi(page, "At risk") == "1"  # Donau Cloud KG's location
    screenshot(page, "dashboard")

    assert not static_failures, static_failures
