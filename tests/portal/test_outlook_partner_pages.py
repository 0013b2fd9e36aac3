"""The deadline outlook on the partner detail page (staff) and the partner's
own dashboard (PRODUCT 4.9): the words, the figures, the chart's data and
its table, in English and German, with the specification's example."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from compliance.models import Evaluation, PolicyRequirement
from compliance.outlook_selectors import SubjectOutlook, outlook_of
from compliance.services import evaluation_run
from partners import services as ps
from partners.models import PlanType
from portal.views.outlook import _without_outlook
from tests.factories import StaffUserFactory, UserFactory, direct_partner

pytestmark = pytest.mark.django_db

D = datetime.date
AS_OF = D(2025, 11, 20)
DEADLINE = D(2026, 2, 1)


def freeze(monkeypatch, day: datetime.date) -> None:
    """Today is ``day`` (noon UTC: the same day in Berlin)."""
    moment = datetime.datetime(day.year, day.month, day.day, 12, tzinfo=datetime.UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)


def book(location, day, amount, currency="USD"):
    ps.revenue_record_create(
        location=location,
        revenue_date=day,
        amount=Decimal(amount),
        currency=currency,
        reference=f"R-{location.location_id}-{day}-{amount}",
    )


def reseller(partner_id: str, location_id: str, manager):
    """An indirect reseller onboarded 2024-02-10: on 2025-11-20 its
    location's deadline is 2026-02-01 (73 days)."""
    partner = ps.reseller_enrol(
        partner_id=partner_id,
        name=f"Reseller {partner_id} GmbH",
        country="DE",
        onboarded_on=D(2024, 2, 10),
        location_id=location_id,
        contact_name=f"Contact {partner_id}",
        contact_email=f"contact@{partner_id}.example",
        contact_language="de",
        account_manager=manager,
    )
    return partner, partner.locations.get()


def example(location):
    """PRODUCT 4.9: TTM 1,250.00 (compliant), 700.00 of it dated before the
    deadline window; pace August to October USD 184.00 / 92 days."""
    book(location, D(2024, 6, 1), "400.00")
    book(location, D(2025, 1, 15), "700.00")
    book(location, D(2025, 3, 10), "366.00")
    book(location, D(2025, 8, 5), "100.00")
    book(location, D(2025, 9, 5), "50.00")
    book(location, D(2025, 10, 5), "34.00")


@pytest.fixture
def world(monkeypatch):
    freeze(monkeypatch, AS_OF)
    manager = StaffUserFactory(username="manager")
    partner, location = reseller("1000001", "2000001", manager)
    example(location)
    other, other_location = reseller("1000002", "2000002", manager)
    book(other_location, D(2025, 6, 1), "5000.00")
    user = UserFactory(username="partner1")
    contact = partner.contacts.get()
    contact.user = user
    contact.save()
    evaluation_run(as_of=AS_OF)
    return {"manager": manager, "user": user, "partner": partner, "other": other}


def detail(client, partner, language="en"):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(reverse("partners:detail", args=[partner.partner_id]))
    assert response.status_code == 200
    return response


def dashboard(client, language="en"):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return response


def text_of(response) -> str:
    """The page's text with tags and runs of white space collapsed."""
    html = re.sub(r"<script.*?</script>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def chart_data(response, number=1) -> dict:
    match = re.search(
        rf'<script id="outlook-chart-{number}" type="application/json">(.*?)</script>',
        response.content.decode(),
        flags=re.S,
    )
    assert match, f"no outlook-chart-{number}"
    return json.loads(match.group(1))


def figures(response) -> dict[str, str]:
    html = response.content.decode()
    return {
        name: re.sub(r"\s+", " ", value).strip()
        for name, value in re.findall(r'data-figure="([\w-]+)">([^<]*)<', html)
    }


def test_staff_read_the_outlook_of_the_specification_example(client, world):
    client.force_login(world["manager"])
    response = detail(client, world["partner"])
    text = text_of(response)
    assert (
        "USD 550.00 already counts for 2026-02-01; USD 450.00 still needed in 73 days. "
        "At the pace of the last three months (USD 2.00 a day) it would reach USD 696.00."
    ) in text
    # said once, in the outlook panel: the status card keeps today's words
    assert text.count("already counts for 2026-02-01") == 1
    assert "At your pace" not in text
    assert "Deadline outlook: short" in text and 'href="#outlook-1"' in response.content.decode()
    assert figures(response) == {
        "secured": "USD 550.00",
        "needed": "USD 450.00",
        "rolling-off": "USD 700.00",
        "pace": "USD 2.00 a day",
        "projected": "USD 696.00",
    }
    assert "Outlook: short" in text
    assert "in 73 days" in text
    html = response.content.decode()
    assert 'data-outlook-chart="outlook-chart-1" role="img"' in html
    assert (
        'aria-label="TTM revenue from 2025-11-20 to the deadline 2026-02-01: from booked revenue '
        "alone it goes from USD 1,250.00 to USD 550.00; at the current pace it reaches "
        'USD 696.00; the threshold is USD 1,000.00."'
    ) in html
    assert "js/outlook_charts.js" in html


def test_the_chart_data_goes_through_json_script(client, world):
    client.force_login(world["manager"])
    data = chart_data(detail(client, world["partner"]))
    assert len(data["labels"]) == len(data["booked"]) == len(data["projected"]) == 74
    assert (data["labels"][0], data["labels"][-1]) == ("2025-11-20", "2026-02-01")
    assert (data["booked"][0], data["booked"][-1]) == ("1250.00", "550.00")
    assert (data["projected"][0], data["projected"][-1]) == ("1250.00", "696.00")
    assert data["threshold"] == "1000.00" and data["currency"] == "USD"
    # the 700.00 of 2025-01-15 rolls off after 2026-01-15
    day = data["labels"].index("2026-01-16")
    assert data["booked"][day - 1 : day + 1] == ["1250.00", "550.00"]
    assert data["projected"][day] == "664.00"  # 550 + 2 x 57 days
    assert data["names"] == {
        "booked": "TTM from booked revenue",
        "projected": "TTM at the current pace",
        "threshold": "Threshold",
    }


def test_the_chart_has_a_weekly_table_with_headers(client, world):
    client.force_login(world["manager"])
    response = detail(client, world["partner"])
    panel = response.context["outlooks"][0]
    assert [p.day for p in panel.table][:2] == [AS_OF, D(2025, 11, 27)]
    assert panel.table[-1].day == DEADLINE
    html = response.content.decode()
    assert '<th scope="col" class="text-end">TTM from booked revenue</th>' in html
    assert '<th scope="row" class="fw-normal text-nowrap">2026-02-01</th>' in html
    # (the revenue chart's own table has row headers too)
    assert html.count('<th scope="row" class="fw-normal text-nowrap">') == len(panel.table) == 12


def test_staff_read_it_in_german(client, world):
    client.force_login(world["manager"])
    response = detail(client, world["partner"], "de")
    text = text_of(response)
    assert (
        "550,00 USD zählen bereits für den 01.02.2026; 450,00 USD fehlen noch, in 73 Tagen. "
        "Im Tempo der letzten drei Monate (2,00 USD am Tag) würden 696,00 USD erreicht."
    ) in text
    assert figures(response) == {
        "secured": "550,00 USD",
        "needed": "450,00 USD",
        "rolling-off": "700,00 USD",
        "pace": "2,00 USD am Tag",
        "projected": "696,00 USD",
    }
    assert "Ausblick auf die Frist" in text and "Ausblick: zu knapp" in text
    assert "in 73 Tagen" in text
    data = chart_data(response)
    assert (data["labels"][0], data["labels"][-1]) == ("20.11.2025", "01.02.2026")
    assert data["names"]["booked"] == "TTM aus gebuchtem Umsatz"
    assert 'aria-label="TTM-Umsatz vom 20.11.2025 bis zum Stichtag 01.02.2026' in (
        response.content.decode()
    )


def test_the_partner_reads_their_own_outlook_in_english_and_german(client, world):
    client.force_login(world["user"])
    text = text_of(dashboard(client))
    assert (
        "USD 550.00 already counts for 2026-02-01; USD 450.00 still needed in 73 days. "
        "At your pace of the last three months (USD 2.00 a day) you would reach USD 696.00."
    ) in text
    assert text.count("already counts for 2026-02-01") == 1
    assert "TTM revenue USD 1,250.00 of USD 1,000.00 required" in text  # the status card
    response = dashboard(client, "de")
    text = text_of(response)
    assert (
        "Im Tempo der letzten drei Monate (2,00 USD am Tag) würden Sie 696,00 USD erreichen."
    ) in text
    assert text.count("zählen bereits für den") == 1
    assert "Ausblick auf die Frist: zu knapp" in text
    assert chart_data(response)["booked"][-1] == "550.00"
    assert figures(response)["needed"] == "450,00 USD"


def test_a_partner_user_sees_only_their_own_outlook(client, world):
    client.force_login(world["user"])
    response = dashboard(client)
    assert [p.evaluation.subject_id for p in response.context["outlooks"]] == ["2000001"]
    assert "2000002" not in response.content.decode()
    own = client.get(reverse("partners:detail", args=[world["partner"].partner_id]))
    assert [p.evaluation.subject_id for p in own.context["outlooks"]] == ["2000001"]
    foreign = client.get(reverse("partners:detail", args=[world["other"].partner_id]))
    assert foreign.status_code == 404


def test_a_met_outlook_has_no_still_needed_sentence(client, world):
    client.force_login(world["manager"])
    text = text_of(detail(client, world["other"]))
    assert "USD 5,000.00 already counts for 2026-02-01; the threshold of USD 1,000.00" in text
    assert "Outlook: met" in text


def test_no_outlook_without_a_revenue_requirement(client, world):
    PolicyRequirement.objects.filter(
        policy__code="csp-indirect-reseller-2024", code="revenue"
    ).delete()
    evaluation_run(as_of=AS_OF)
    client.force_login(world["manager"])
    response = detail(client, world["partner"])
    assert response.context["outlooks"] == []
    assert "Deadline outlook" not in text_of(response)
    assert "outlook-chart" not in response.content.decode()


def test_no_outlook_on_the_deadline_day(client, world, monkeypatch):
    freeze(monkeypatch, DEADLINE)
    evaluation_run(as_of=DEADLINE)
    client.force_login(world["manager"])
    response = detail(client, world["partner"])
    assert response.context["outlooks"] == []
    assert "outlook-chart" not in response.content.decode()


def test_no_outlook_once_the_deadline_has_passed_even_before_the_next_run(
    client, world, monkeypatch
):
    # still the evaluation of 2025-11-20, read on the day after the deadline
    freeze(monkeypatch, DEADLINE + datetime.timedelta(days=1))
    client.force_login(world["user"])
    response = dashboard(client)
    assert response.context["as_of"] == AS_OF
    assert response.context["outlooks"] == []
    assert "Deadline outlook" not in text_of(response)


def test_a_missing_rate_shows_the_error_and_no_chart_never_zero(client, world):
    location = world["partner"].locations.get()
    book(location, D(2025, 9, 20), "100.00", currency="EUR")  # no rate for EUR 2025-09
    evaluation_run(as_of=AS_OF)
    client.force_login(world["manager"])
    for language, words in [
        ("en", "Deadline outlook unknown: no exchange rate for EUR 2025-09."),
        ("de", "Ausblick auf die Frist unbekannt: no exchange rate for EUR 2025-09."),
    ]:
        response = detail(client, world["partner"], language)
        text = text_of(response)
        assert words in text
        assert "outlook-chart" not in response.content.decode()
        assert figures(response) == {}
    ps.exchange_rate_set(currency="EUR", month=D(2025, 9, 1), usd_per_unit=Decimal("1.10"))
    evaluation_run(as_of=AS_OF)
    data = chart_data(detail(client, world["partner"]))
    assert data["booked"][0] == "1360.00"  # 1,250.00 + EUR 100.00 x 1.10
    assert data["booked"][-1] == "660.00"


def test_revenue_ahead_without_a_rate_leaves_the_outlook_unknown_said_once(client, world):
    # booked for next month, whose rate is not known yet: today's status
    # stands, the outlook is unknown
    book(world["partner"].locations.get(), D(2025, 12, 5), "10.00", currency="EUR")
    evaluation_run(as_of=AS_OF)
    client.force_login(world["user"])
    for language, words, status in [
        ("en", "Deadline outlook unknown: no exchange rate for EUR 2025-12.", "Compliant"),
        ("de", "Ausblick auf die Frist unbekannt: no exchange rate for EUR 2025-12.", "Konform"),
    ]:
        response = dashboard(client, language)
        text = text_of(response)
        assert text.count(words) == 1, language
        assert status in text
        assert "outlook-chart" not in response.content.decode()
    (panel,) = response.context["outlooks"]
    assert panel.outlook is None and panel.status_text.startswith("TTM-Umsatz 1.250,00 USD")


def test_a_location_policy_shows_one_outlook_per_location(client, world):
    partner = world["partner"]
    second = ps.location_create(
        partner=partner, location_id="2000011", country="DE", onboarded_on=D(2024, 5, 3)
    )
    book(second, D(2025, 7, 1), "999.00")
    evaluation_run(as_of=AS_OF)
    client.force_login(world["manager"])
    response = detail(client, partner)
    panels = response.context["outlooks"]
    assert [(p.evaluation.subject_id, p.evaluation.deadline) for p in panels] == [
        ("2000001", DEADLINE),
        ("2000011", D(2026, 5, 1)),
    ]
    first, other = chart_data(response, 1), chart_data(response, 2)
    assert first["booked"][-1] == "550.00"
    assert other["labels"][-1] == "2026-05-01" and other["booked"][-1] == "999.00"
    text = text_of(response)
    assert "Location 2000011" in text


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_outlook_costs_the_same_queries_for_one_or_many_locations_and_lines(client, world):
    manager = world["manager"]
    big, first = reseller("1000003", "2000031", manager)
    ps.exchange_rate_set(currency="EUR", month=D(2025, 9, 1), usd_per_unit=Decimal("1.10"))
    locations = [first] + [
        ps.location_create(
            partner=big, location_id=f"20000{n}", country="DE", onboarded_on=D(2024, 2, 10)
        )
        for n in range(32, 38)
    ]
    for k, location in enumerate(locations):
        for day in range(1, 29, 3):
            book(location, D(2025, 9, day), f"{10 + k}.00", currency="EUR" if day % 2 else "USD")
            book(location, D(2025, 3, day), "25.00")
    small, only = reseller("1000004", "2000041", manager)
    book(only, D(2025, 9, 2), "10.00", currency="EUR")
    evaluation_run(as_of=AS_OF)
    client.force_login(manager)
    small_url = reverse("partners:detail", args=[small.partner_id])
    big_url = reverse("partners:detail", args=[big.partner_id])
    assert len(client.get(big_url).context["outlooks"]) == 7
    assert _queries(client, big_url) == _queries(client, small_url)
    client.force_login(world["user"])
    assert _queries(client, reverse("dashboard")) <= 13  # tests/portal/test_lists.py


def test_a_partner_level_policy_sums_every_location_in_the_chart(client, world):
    manager = world["manager"]
    partner = direct_partner("1000009", "Direct AG", D(2019, 3, 10), account_manager=manager)
    first = ps.location_create(
        partner=partner, location_id="2000091", country="DE", onboarded_on=D(2019, 3, 10)
    )
    second = ps.location_create(
        partner=partner, location_id="2000092", country="AT", onboarded_on=D(2019, 3, 10)
    )
    ps.support_contract_create(
        partner=partner,
        plan_type=PlanType.ASFP,
        contract_number="A-1",
        start_date=D(2025, 1, 1),
        end_date=D(2026, 12, 31),
        paid_on=D(2025, 1, 1),
    )
    # deadline 2026-03-01 (101 days), window 2025-03-01 .. 2026-02-28
    book(first, D(2025, 2, 10), "400000.00")  # rolls off
    book(first, D(2025, 4, 10), "500000.00")
    book(second, D(2025, 9, 10), "300000.00")
    book(second, D(2025, 10, 10), "-20000.00")
    evaluation_run(as_of=AS_OF)
    client.force_login(manager)
    response = detail(client, partner)
    (panel,) = response.context["outlooks"]
    assert panel.evaluation.subject_type == "partner"
    data = chart_data(response)
    assert (data["labels"][-1], len(data["labels"])) == ("2026-03-01", 102)
    assert (data["booked"][0], data["booked"][-1]) == ("1180000.00", "780000.00")
    assert data["projected"][-1] == "1087391.30"  # 780,000 + 280,000 / 92 x 101
    day = data["labels"].index("2026-02-11")  # the 2025-02-10 line is gone
    assert data["booked"][day - 1 : day + 1] == ["1180000.00", "780000.00"]
    text = text_of(response)
    assert "Partner level (all locations)" in text and "Outlook: on track" in text
    assert figures(response)["projected"] == "USD 1,087,391.30"


def test_the_status_card_keeps_the_whole_explanation_when_the_words_differ():
    evaluation = Evaluation(
        as_of=AS_OF,
        deadline=DEADLINE,
        threshold_usd=Decimal(1000),
        secured_usd=Decimal(550),
        rolling_off_usd=Decimal(700),
        needed_usd=Decimal(450),
        pace_total_usd=Decimal(184),
        pace_days=92,
        outlook="short",
        why=None,  # history converted from day rows: the words it recorded
        legacy_explanation="TTM revenue USD 1,250.00 of USD 1,000.00 required (met)",
        legacy_explanation_de="",
    )
    subject = SubjectOutlook(evaluation, outlook_of(evaluation))
    assert subject.outlook.projected_usd == Decimal(696)
    # no outlook sentence stored (an older run): nothing is cut off
    assert _without_outlook(subject, "en") == ""
    evaluation.legacy_explanation += " " + subject.outlook.explanation("en")
    assert _without_outlook(subject, "en") == (
        "TTM revenue USD 1,250.00 of USD 1,000.00 required (met)"
    )
    # no German explanation stored: the English one is shown whole
    assert _without_outlook(subject, "de") == ""
