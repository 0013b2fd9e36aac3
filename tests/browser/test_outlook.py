"""The deadline outlook in a real browser (PRODUCT 4.9): an account manager
and the partner read the per-policy outlook of the specification's example
and see the chart of the TTM until the deadline - booked revenue, the
projection at the current pace and the threshold - in English and German."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from compliance.services import evaluation_run
from partners import services as ps
from tests.factories import StaffUserFactory, UserFactory

from .conftest import assert_styled, chart_state, log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]

D = datetime.date
AS_OF = D(2025, 11, 20)

OUTLOOK_CHART = """
() => {
  const canvas = document.querySelector("canvas[data-outlook-chart]");
  if (!canvas || typeof Chart === "undefined") return null;
  const chart = Chart.getChart(canvas);
  if (!chart || canvas.width === 0 || canvas.height === 0) return null;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
  if (painted === 0) return null;
  return {
    labels: chart.data.labels,
    names: chart.data.datasets.map((d) => d.label),
    dashes: chart.data.datasets.map((d) => d.borderDash.length),
    booked: chart.data.datasets[0].data,
    projected: chart.data.datasets[1].data,
    threshold: chart.data.datasets[2].data,
    legend: chart.legend.legendItems.map((item) => item.text),
    ticks: chart.scales.x.ticks.length,
  };
}
"""


@pytest.fixture
def example(reference_data, monkeypatch):
    """PRODUCT 4.9 on 2025-11-20: TTM 1,250.00, secured 550.00 for the
    deadline 2026-02-01, pace USD 2.00 a day, projected 696.00 (short)."""
    moment = datetime.datetime(2025, 11, 20, 12, tzinfo=datetime.UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    manager = StaffUserFactory(username="manager", first_name="Maria", last_name="Lehner")
    partner = ps.reseller_enrol(
        partner_id="1000001",
        name="Lindenhof IT GmbH",
        country="DE",
        onboarded_on=D(2024, 2, 10),
        location_id="2000001",
        contact_name="Lena Hofmann",
        contact_email="lena@1000001.example",
        contact_language="de",
        account_manager=manager,
    )
    location = partner.locations.get()
    for day, amount in [
        (D(2024, 6, 1), "400.00"),
        (D(2025, 1, 15), "700.00"),
        (D(2025, 3, 10), "366.00"),
        (D(2025, 8, 5), "100.00"),
        (D(2025, 9, 5), "50.00"),
        (D(2025, 10, 5), "34.00"),
    ]:
        ps.revenue_record_create(
            location=location,
            revenue_date=day,
            amount=Decimal(amount),
            currency="USD",
            reference=f"INV-{day}",
        )
    user = UserFactory(username="partner1", first_name="Lena", last_name="Hofmann")
    contact = partner.contacts.get()
    contact.user = user
    contact.save()
    evaluation_run(as_of=AS_OF)
    return partner


def _language(page, live_server, language: str) -> None:
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
    )


def _chart(page) -> dict:
    page.locator("canvas[data-outlook-chart]").scroll_into_view_if_needed()
    return page.wait_for_function(OUTLOOK_CHART).json_value()


def _shoot(screenshot, page, panel, name: str) -> None:
    """The whole page (once the revenue chart has grown) and, close up, the
    outlook panel."""
    chart_state(page)
    path = screenshot(page, name)
    panel.screenshot(path=str(path.with_name(f"{name}-panel.png")))


def _outlook_panel(page):
    panel = page.locator("article.outlook-panel").first
    panel.scroll_into_view_if_needed()
    return panel


def test_an_account_manager_reads_the_outlook_and_its_chart(
    page, example, live_server, static_failures, screenshot
):
    log_in(page, "manager")
    page.goto(f"/partners/{example.partner_id}/")
    assert_styled(page)
    panel = _outlook_panel(page)
    text = " ".join(panel.inner_text().split())
    assert (
        "USD 550.00 already counts for 2026-02-01; USD 450.00 still needed in 73 days. "
        "At the pace of the last three months (USD 2.00 a day) it would reach USD 696.00."
    ) in text
    assert "Outlook: short" in text
    chart = _chart(page)
    assert (chart["labels"][0], chart["labels"][-1]) == ("2025-11-20", "2026-02-01")
    assert (chart["booked"][0], chart["booked"][-1]) == (1250, 550)
    assert chart["projected"][-1] == 696 and set(chart["threshold"]) == {1000}
    assert chart["legend"] == [
        "TTM from booked revenue",
        "TTM at the current pace",
        "Threshold",
    ]
    # told apart without colour: solid, dashed, dotted
    assert chart["dashes"] == [0, 2, 2]
    assert 3 <= chart["ticks"] <= 8
    canvas = panel.locator("canvas")
    assert canvas.get_attribute("role") == "img"
    assert "from booked revenue alone it goes from USD 1,250.00 to USD 550.00" in (
        canvas.get_attribute("aria-label")
    )
    # the text alternative: a table of the series, week by week
    panel.get_by_text("The chart as a table (weekly)").click()
    rows = panel.locator("details table tbody tr")
    assert rows.count() == 12
    assert " ".join(rows.last.inner_text().split()) == (
        "2026-02-01 USD 550.00 USD 696.00 USD 1,000.00"
    )
    _shoot(screenshot, page, panel, "outlook-staff-en")
    assert static_failures == []

    _language(page, live_server, "de")
    page.goto(f"/partners/{example.partner_id}/")
    panel = _outlook_panel(page)
    text = " ".join(panel.inner_text().split())
    assert (
        "550,00 USD zählen bereits für den 01.02.2026; 450,00 USD fehlen noch, in 73 Tagen. "
        "Im Tempo der letzten drei Monate (2,00 USD am Tag) würden 696,00 USD erreicht."
    ) in text
    chart = _chart(page)
    assert (chart["labels"][0], chart["labels"][-1]) == ("20.11.2025", "01.02.2026")
    assert chart["legend"] == ["TTM aus gebuchtem Umsatz", "TTM im aktuellen Tempo", "Schwelle"]
    _shoot(screenshot, page, panel, "outlook-staff-de")
    assert static_failures == []


def test_the_partner_reads_their_outlook_in_english_and_german(
    page, example, live_server, static_failures, screenshot
):
    log_in(page, "partner1")
    assert page.url.rstrip("/") == live_server.url
    _language(page, live_server, "en")  # their contact's language is German
    page.goto("/")
    panel = _outlook_panel(page)
    assert "At your pace of the last three months (USD 2.00 a day) you would reach USD 696.00." in (
        " ".join(panel.inner_text().split())
    )
    chart = _chart(page)
    assert chart["booked"][-1] == 550 and chart["projected"][-1] == 696
    _shoot(screenshot, page, panel, "outlook-partner-en")

    _language(page, live_server, "de")
    page.goto("/")
    panel = _outlook_panel(page)
    assert "würden Sie 696,00 USD erreichen" in " ".join(panel.inner_text().split())
    chart = _chart(page)
    assert chart["labels"][-1] == "01.02.2026"
    _shoot(screenshot, page, panel, "outlook-partner-de")

    # on a phone the chart keeps its width for the lines
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    panel = _outlook_panel(page)
    chart = _chart(page)
    assert chart["booked"][-1] == 550
    box = panel.locator("canvas").bounding_box()
    assert box["width"] > 250
    _shoot(screenshot, page, panel, "outlook-partner-de-phone")
    assert static_failures == []
