"""A compliance admin in a real browser: opens the policy simulator, raises
the reseller threshold, sees which partners it affects (summary, chart,
table), exports them as CSV, and reads the same page in German."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from compliance.models import Evaluation
from tests.factories import StaffUserFactory

from .conftest import assert_styled, log_in
from .test_account_manager import _reseller

pytestmark = [pytest.mark.slow, pytest.mark.browser]

DAY = datetime.timedelta(days=1)

SIMULATION_CHART_DRAWN = """
() => {
  const canvas = document.querySelector("canvas[data-simulation-chart]");
  if (!canvas || typeof Chart === "undefined") return null;
  const chart = Chart.getChart(canvas);
  if (!chart || canvas.width === 0) return null;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
  if (painted === 0) return null;
  return {labels: chart.data.labels, sets: chart.data.datasets.map(d => d.data)};
}
"""


@pytest.fixture
def portfolio(reference_data):
    """Three resellers of Maria Lehner's: comfortable, just above USD 1,000,
    and at risk; and Clara, a compliance admin."""
    today = timezone.localdate()
    manager = StaffUserFactory(username="manager", first_name="Maria", last_name="Lehner")
    _reseller(
        "1000001",
        "Alpenblick IT GmbH",
        manager,
        today - 600 * DAY,
        [(today - (15 + 30 * k) * DAY, "900.00") for k in range(12)],
    )
    _reseller(
        "1000002",
        "Donau Cloud KG",
        manager,
        today - 300 * DAY,
        [(today - 70 * DAY, "700.00"), (today - 20 * DAY, "450.50")],
    )
    _reseller(
        "1000003", "Lindenhof IT GmbH", manager, today - 200 * DAY, [(today - 30 * DAY, "300.00")]
    )
    admin = StaffUserFactory(username="clara", first_name="Clara", last_name="Admin")
    admin.user_permissions.add(
        *Permission.objects.filter(codename__in=["run_simulation", "publish_policy"])
    )
    return today


def test_a_compliance_admin_raises_the_threshold_and_exports_who_it_affects(
    page, portfolio, screenshot, static_failures, tmp_path
):
    evaluations = Evaluation.objects.count()
    log_in(page, "clara")
    page.get_by_role("link", name="Simulator").click()
    page.get_by_label("Policy").select_option("csp-indirect-reseller-2024")
    page.get_by_role("button", name="Run simulation").click()
    # The stored policy unchanged: nobody is affected.
    assert page.get_by_test_id("newly-at-risk").inner_text() == "0"

    page.get_by_label("Threshold (USD)").fill("5000")
    page.get_by_role("button", name="Run simulation").click()
    page.wait_for_url(lambda url: "threshold_usd=5000" in url)
    assert_styled(page)
    # Alpenblick (USD 10,800) still passes; Donau Cloud (1,150.50) is newly at risk.
    assert page.get_by_test_id("newly-at-risk").inner_text() == "1"
    table = page.get_by_test_id("simulation-table")
    first = table.locator("tbody tr").first
    assert "Donau Cloud KG" in first.inner_text()
    assert "Alpenblick IT GmbH" in table.inner_text()
    chart = page.wait_for_function(SIMULATION_CHART_DRAWN).json_value()
    assert chart["labels"] == ["Met", "On track", "Short", "No outlook"]
    assert sum(chart["sets"][0]) == sum(chart["sets"][1]) == 3
    canvas = page.locator("canvas[data-simulation-chart]")
    assert canvas.get_attribute("role") == "img"
    assert canvas.get_attribute("aria-label")
    screenshot(page, "simulator-en")

    # Only the affected, sorted by what they still need.
    page.get_by_label("Only subjects the draft changes").check()
    page.get_by_role("button", name="Filter").click()
    assert "Alpenblick" not in table.inner_text()

    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    path = tmp_path / "simulation.csv"
    download_info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert {r["partner_name"] for r in rows} == {
        "Alpenblick IT GmbH",
        "Donau Cloud KG",
        "Lindenhof IT GmbH",
    }
    donau = next(r for r in rows if r["partner_id"] == "1000002")
    assert (donau["baseline_status"], donau["status"]) == ("compliant", "at_risk")
    assert donau["threshold_usd"] == "5000.00"

    # The same page in German.
    page.get_by_role("button", name="Language").click()
    page.get_by_role("button", name="Deutsch").click()
    page.wait_for_function("document.documentElement.lang === 'de'")
    assert page.get_by_role("heading", name="Richtlinien-Simulator").is_visible()
    assert "Neu gefährdet" in page.content()
    page.wait_for_function(SIMULATION_CHART_DRAWN)
    screenshot(page, "simulator-de")
    assert not static_failures, static_failures
    assert Evaluation.objects.count() == evaluations  # the simulation wrote nothing
