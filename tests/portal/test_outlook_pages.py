"""The deadline outlook (PRODUCT 4.9) on the staff pages: the dashboard card
"Compliant today, short at the deadline", the at-risk list's need and outlook
(and its orders), the partner list's outlook filter and sort, and the partner
and evaluation exports (CSV and XLSX) that honour it - in English and German,
for staff only. The figures are the specification's example."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from django.conf import settings
from django.urls import reverse

from compliance.dashboard import dashboard_summary
from compliance.models import Evaluation, PartnerCurrent, Policy, Purpose
from compliance.services import evaluation_run
from partners.models import Partner
from tests.portal.test_german_pages import english_on, shown_text

from .outlook_data import (
    AS_OF,
    D,
    book,
    onboarded_for,
    outlook_world,
    product_example,
    reseller,
)

pytestmark = pytest.mark.django_db

FEB = D(2026, 2, 1)


@pytest.fixture
def world(staff):
    return outlook_world(staff)


def _current(partner_id):
    return Evaluation.objects.get(
        partner__partner_id=partner_id, purpose=Purpose.COMPLIANCE, as_of=AS_OF
    )


def test_the_world_is_what_it_says(world):
    expected = {
        "1000101": ("compliant", "short", "450", "696"),
        "1000102": ("compliant", "short", "550", "596"),
        "1000103": ("compliant", "short", "450", "752"),
        "1000104": ("compliant", "met", "0", "1100"),
        "1000105": ("compliant", "on_track", "234", None),
        "1000106": ("at_risk", "on_track", "400", None),
        "1000107": ("at_risk", "short", "700", "300"),
        "1000108": ("at_risk", "short", "100", "900"),
    }
    for partner_id, (status, outlook, needed, projected) in expected.items():
        e = _current(partner_id)
        assert (e.status, e.outlook, e.needed_usd) == (status, outlook, Decimal(needed)), partner_id
        if projected is not None:
            assert e.projected_usd == Decimal(projected), partner_id
    example = _current("1000101")
    assert (example.ttm_revenue_usd, example.secured_usd, example.rolling_off_usd) == (
        Decimal("1250"),
        Decimal("550"),
        Decimal("700"),
    )
    assert (example.deadline, example.days_to_deadline, example.pace_usd) == (FEB, 73, 2)


# --- the dashboard card -------------------------------------------------------------


def test_the_card_lists_compliant_subjects_short_at_the_deadline_most_urgent_first(
    client, staff, world
):
    client.force_login(staff)
    response = client.get(reverse("dashboard"))
    summary = response.context["summary"]
    assert summary.compliant_short_total == 3
    assert [e.partner.partner_id for e in summary.compliant_short] == [
        "1000102",  # 2026-02-01, needs 550
        "1000101",  # 2026-02-01, needs 450
        "1000103",  # 2026-03-01
    ]
    card = response.text.split('id="compliant-short"')[1].split('class="card shadow-sm"')[0]
    assert "Compliant today, short at the deadline" in response.text
    # PRODUCT 4.9: deadline, days left, needed by the deadline, projected
    row = card.split("Kurzatmig IT GmbH")[1].split("</tr>")[0]
    for text in ["location 2000101", "csp-indirect-reseller-2024", "2026-02-01", ">73<"]:
        assert text in row, text
    assert "USD 450.00" in row and "USD 696.00" in row and "of USD 1,000.00" in row
    # met, on track and at-risk subjects are not in the card
    for name in ["Vollgas Vertrieb", "Kurshalter AG", "Bald Knapp KG", "Großer Bedarf GmbH"]:
        assert name not in card, name
    assert f"{reverse('partners:list')}?outlook=compliant_short" in card


def test_the_card_is_limited_and_links_the_whole_list(world):
    summary = dashboard_summary(partners=Partner.objects.all(), today=AS_OF, at_risk_limit=2)
    assert summary.compliant_short_total == 3
    assert [e.partner.partner_id for e in summary.compliant_short] == ["1000102", "1000101"]


def test_a_long_card_shows_fifteen_and_links_all_of_them(client, staff, db):
    for i in range(16):
        _partner, location = reseller(str(1_000_200 + i), f"Kurz {i:02d}", onboarded_for(FEB))
        product_example(location)
    evaluation_run(as_of=AS_OF)
    client.force_login(staff)
    response = client.get(reverse("dashboard"))
    summary = response.context["summary"]
    assert (summary.compliant_short_total, len(summary.compliant_short)) == (16, 15)
    card = response.text.split('id="compliant-short"')[1]
    assert (
        f'<a class="small" href="{reverse("partners:list")}?outlook=compliant_short">Show all 16</a>'
        in card
    )
    listed = client.get(reverse("partners:list"), {"outlook": "compliant_short"})
    assert listed.context["total"] == 16


def test_the_card_without_anybody_short(client, staff, db):
    client.force_login(staff)
    response = client.get(reverse("dashboard"))
    assert response.context["summary"].compliant_short_total == 0
    assert "No compliant subject is short at its deadline." in response.text
    assert "?outlook=compliant_short" not in response.text


def test_the_card_follows_my_partners(client, staff, world):
    from tests.factories import StaffUserFactory

    other = StaffUserFactory(username="other-manager")
    Partner.objects.filter(partner_id="1000101").update(account_manager=other)
    client.force_login(other)
    summary = client.get("/?mine=1").context["summary"]
    assert [e.partner.partner_id for e in summary.compliant_short] == ["1000101"]
    assert "?outlook=compliant_short&amp;mine=on" in client.get("/").text


# --- the at-risk list ---------------------------------------------------------------


def test_the_at_risk_list_shows_the_need_by_the_deadline_and_the_outlook(client, staff, world):
    client.force_login(staff)
    response = client.get(reverse("dashboard"))
    at_risk = response.text.split('id="at-risk"')[1].split('id="compliant-short"')[0]
    assert "Needed by the deadline" in at_risk and "Outlook" in at_risk
    assert "Shortfall" not in at_risk  # today's gap is no longer the column
    row = at_risk.split("Großer Bedarf GmbH")[1].split("</tr>")[0]
    assert "USD 700.00" in row and "Short" in row
    row = at_risk.split("Bald Knapp KG")[1].split("</tr>")[0]
    # today's gap is 400.00 too, but needed is what the deadline's window lacks
    assert "USD 400.00" in row and "On track" in row and "reaches USD 1,076.09" in row


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("", ["1000106", "1000107", "1000108"]),  # nearest deadline first (as before)
        ("deadline", ["1000106", "1000107", "1000108"]),
        ("needed", ["1000107", "1000106", "1000108"]),  # 700, 400, 100
        ("outlook", ["1000107", "1000108", "1000106"]),  # short (by deadline), on track
        ("nonsense", ["1000106", "1000107", "1000108"]),
    ],
)
def test_the_at_risk_list_sorts_by_deadline_need_or_outlook(client, staff, world, sort, expected):
    client.force_login(staff)
    response = client.get(reverse("dashboard"), {"risk_sort": sort} if sort else {})
    assert response.status_code == 200
    summary = response.context["summary"]
    assert [e.partner.partner_id for e in summary.at_risk] == expected
    assert summary.at_risk_sort == (sort if sort in ("needed", "outlook") else "deadline")


def test_each_order_is_cached_apart_and_a_new_run_shows(
    client, staff, world, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    assert client.get("/?risk_sort=needed").context["summary"].at_risk[0].partner_id == (
        world["1000107"].pk
    )
    assert client.get("/").context["summary"].at_risk[0].partner_id == world["1000106"].pk
    book(world["1000107"].locations.get(), D(2025, 11, 1), "650.00")  # needs 50 now
    with django_capture_on_commit_callbacks(execute=True):  # the data version rises
        evaluation_run(as_of=AS_OF, partner_pks={world["1000107"].pk})
    first = client.get("/?risk_sort=needed").context["summary"].at_risk[0]
    assert first.partner_id == world["1000106"].pk


# --- the partner list: filter and sort ----------------------------------------------


def _ids(response) -> list[str]:
    return [partner.partner_id for partner, _state in response.context["rows"]]


@pytest.mark.parametrize(
    ("outlook", "expected"),
    [
        ("short", {"1000101", "1000102", "1000103", "1000107", "1000108"}),
        ("compliant_short", {"1000101", "1000102", "1000103"}),
        ("on_track", {"1000105", "1000106"}),
        ("met", {"1000104"}),
        ("", {f"100010{i}" for i in range(1, 9)}),
    ],
)
def test_the_partner_list_filters_by_outlook(client, staff, world, outlook, expected):
    client.force_login(staff)
    response = client.get(reverse("partners:list"), {"outlook": outlook})
    assert set(_ids(response)) == expected


def test_the_outlook_filter_combines_with_status_and_policy(client, staff, world):
    client.force_login(staff)
    url = reverse("partners:list")
    assert set(_ids(client.get(url, {"outlook": "short", "status": "at_risk"}))) == {
        "1000107",
        "1000108",
    }
    policy = _current("1000101").policy
    by_policy = client.get(url, {"outlook": "compliant_short", "policy": policy.pk})
    assert set(_ids(by_policy)) == {"1000101", "1000102", "1000103"}
    direct = Policy.objects.get(code="csp-direct-fy26")  # applies to none of them
    assert _ids(client.get(url, {"outlook": "short", "policy": direct.pk})) == []


def test_a_partner_with_one_short_location_among_others_is_short(client, staff, world):
    from partners import services as ps

    partner = world["1000104"]  # met
    second = ps.location_create(
        partner=partner, location_id="2009104", country="DE", onboarded_on=onboarded_for(FEB)
    )
    product_example(second)
    evaluation_run(as_of=AS_OF, partner_pks={partner.pk})
    current = PartnerCurrent.objects.get(partner=partner)
    assert (current.worst_outlook_rank, current.compliant_short) == (2, True)
    client.force_login(staff)
    assert "1000104" in _ids(client.get(reverse("partners:list"), {"outlook": "compliant_short"}))
    assert "1000104" not in _ids(client.get(reverse("partners:list"), {"outlook": "met"}))


def test_the_partner_list_sorts_by_outlook_without_outlook_last(client, staff, world):
    from partners import services as ps

    ps.partner_create(
        partner_id="1000199", name="Ohne Auswertung", country="DE", onboarded_on=AS_OF
    )
    client.force_login(staff)
    url = reverse("partners:list")
    worst_first = _ids(client.get(url, {"sort": "-outlook"}))
    assert worst_first[:5] == ["1000101", "1000102", "1000103", "1000107", "1000108"]
    assert worst_first[5:7] == ["1000105", "1000106"] and worst_first[-2:] == ["1000104", "1000199"]
    best_first = _ids(client.get(url, {"sort": "outlook"}))
    assert best_first[0] == "1000104" and best_first[-1] == "1000199"


def test_the_partner_list_shows_the_outlook_column_and_the_filter(client, staff, world):
    client.force_login(staff)
    response = client.get(reverse("partners:list"), {"outlook": "compliant_short"})
    html = response.text
    assert 'name="outlook"' in html
    assert '<option value="compliant_short" selected>' in html
    row = html.split("Kurzatmig IT GmbH")[1].split("</tr>")[0]
    assert "Short" in row and "USD 450.00 needed by 2026-02-01" in row
    # the exports keep the filter
    assert f"{reverse('partners:export')}?outlook=compliant_short" in html
    assert f"{reverse('exports:partners-xlsx')}?outlook=compliant_short" in html


def test_a_bad_outlook_value_is_ignored(client, staff, world):
    client.force_login(staff)
    response = client.get(reverse("partners:list"), {"outlook": "<script>"})
    assert response.status_code == 200
    assert len(_ids(response)) == 8


# --- exports -----------------------------------------------------------------------


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8").removeprefix("\ufeff")
    return list(csv.DictReader(io.StringIO(body)))


def _xlsx(response) -> list[dict]:
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    header, *rows = workbook.worksheets[0].iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in rows]


OUTLOOK_COLUMNS = {
    "outlook": "short",
    "secured_usd": "550.00",
    "rolling_off_usd": "700.00",
    "needed_usd": "450.00",
    "pace_usd": "2.00",
    "projected_usd": "696.00",
}


@pytest.mark.parametrize("url", [reverse("partners:export"), "/exports/partners.csv"])
def test_partner_csv_exports_honour_the_filter_and_carry_the_outlook(client, staff, world, url):
    client.force_login(staff)
    rows = {r["partner_id"]: r for r in _csv(client.get(url, {"outlook": "compliant_short"}))}
    assert set(rows) == {"1000101", "1000102", "1000103"}
    example = rows["1000101"]
    assert {k: example[k] for k in OUTLOOK_COLUMNS} == OUTLOOK_COLUMNS
    assert (example["outlook_subject_id"], example["outlook_deadline"]) == ("2000101", "2026-02-01")
    assert example["outlook_policy"] == "csp-indirect-reseller-2024"
    everyone = {r["partner_id"]: r for r in _csv(client.get(url))}
    assert len(everyone) == 8
    assert everyone["1000104"]["outlook"] == "met" and everyone["1000104"]["needed_usd"] == "0.00"


def test_partner_xlsx_export_honours_the_filter_with_numbers_and_dates(client, staff, world):
    client.force_login(staff)
    rows = _xlsx(client.get("/exports/partners.xlsx", {"outlook": "short", "sort": "-outlook"}))
    assert {r["partner_id"] for r in rows} == {
        "1000101",
        "1000102",
        "1000103",
        "1000107",
        "1000108",
    }
    example = next(r for r in rows if r["partner_id"] == "1000101")
    assert example["outlook"] == "short"
    assert (example["needed_usd"], example["projected_usd"], example["pace_usd"]) == (450, 696, 2)
    assert example["outlook_deadline"].date() == FEB


def test_evaluation_exports_carry_the_outlook_and_filter_by_it(client, staff, world):
    client.force_login(staff)
    rows = _csv(client.get("/exports/evaluations.csv", {"outlook": "short", "status": "compliant"}))
    assert {r["partner_id"] for r in rows} == {"1000101", "1000102", "1000103"}
    example = next(r for r in rows if r["partner_id"] == "1000101")
    assert {k: example[k] for k in OUTLOOK_COLUMNS} == OUTLOOK_COLUMNS
    rows = _xlsx(client.get("/exports/evaluations.xlsx", {"outlook": "on_track"}))
    assert {r["partner_id"] for r in rows} == {"1000105", "1000106"}
    risky = next(r for r in rows if r["partner_id"] == "1000106")
    assert risky["projected_usd"] == pytest.approx(1076.09)  # a number cell, rounded to cents
    response = client.get("/exports/evaluations.csv", {"outlook": "bad"})
    assert response.status_code == 400 and b"outlook" in response.content


def test_the_api_filters_evaluations_by_outlook(world):
    from tests.api.conftest import token_client
    from tests.factories import StaffUserFactory

    api = token_client(StaffUserFactory(username="api-staff"))
    results = api.get(
        "/api/v1/evaluations/", {"outlook": "short", "status": "compliant", "as_of": AS_OF}
    ).json()["results"]
    assert {r["subject_id"] for r in results} == {"2000101", "2000102", "2000103"}


# --- German ------------------------------------------------------------------------


def _german(client, url, params=None) -> str:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    response = client.get(url, params or {})
    assert response.status_code == 200
    return response.text


def test_the_dashboard_card_and_at_risk_list_in_german(client, staff, world):
    client.force_login(staff)
    html = _german(client, reverse("dashboard"), {"risk_sort": "outlook"})
    text = shown_text(html)
    assert "Heute erfüllt, zum Stichtag zu wenig" in text
    assert "Gefährdet, schlechtester Ausblick zuerst" in text
    card = html.split('id="compliant-short"')[1]
    row = card.split("Kurzatmig IT GmbH")[1].split("</tr>")[0]
    assert "01.02.2026" in row and "450,00 USD" in row and "696,00 USD" in row
    assert "von 1.000,00 USD" in row
    assert "Bis zum Stichtag nötig" in text and "Reicht nicht" in text and "Auf Kurs" in text
    assert english_on(text) == []


def test_the_partner_list_filter_and_column_in_german(client, staff, world):
    client.force_login(staff)
    html = _german(client, reverse("partners:list"), {"outlook": "short"})
    text = shown_text(html)
    assert "Ausblick" in text and "Heute erfüllt, zum Stichtag zu wenig" in text
    assert "450,00 USD nötig bis 01.02.2026" in text
    assert english_on(text) == []


# --- access ------------------------------------------------------------------------


@pytest.fixture
def partner_login(client, world):
    from tests.factories import UserFactory

    user = UserFactory(username="kurzatmig-user")
    from partners import services as ps

    contact = ps.contact_create(
        partner=world["1000101"], name="Kim Kurz", email="kim@1000101.example", language="de"
    )
    contact.user = user
    contact.save()
    client.force_login(user)
    return client


def test_a_partner_user_sees_no_staff_card_list_or_export(partner_login):
    client = partner_login
    response = client.get(reverse("dashboard"), {"risk_sort": "needed"})
    assert response.status_code == 200
    assert "portal/partner_dashboard.html" in [t.name for t in response.templates]
    assert "Rollfeld Systems" not in response.text  # another partner, short as well
    assert "summary" not in response.context
    for url in [
        reverse("partners:list") + "?outlook=short",
        reverse("partners:export") + "?outlook=short",
        "/exports/partners.csv?outlook=short",
        "/exports/partners.xlsx?outlook=compliant_short",
        "/exports/evaluations.csv?outlook=short",
    ]:
        assert client.get(url).status_code == 403, url


def test_an_anonymous_visitor_goes_to_the_login_page(client, world):
    for url in ["/?risk_sort=outlook", reverse("partners:list") + "?outlook=short"]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("n", [3, 30])
@pytest.mark.parametrize(
    "url",
    [
        "/exports/partners.csv?outlook=short&sort=-outlook",
        "/exports/partners.xlsx?outlook=compliant_short",
        "/exports/evaluations.csv?outlook=short",
    ],
)
def test_filtered_exports_keep_their_query_budget(
    client, staff, today, django_assert_num_queries, n, url
):
    from tests.api.test_exports import EXPORT_BUDGETS

    from .conftest import build_portfolio
    from .outlook_data import compliant_short_today, next_deadline_in_two_months, reseller

    build_portfolio(n, staff, today)
    onboarded = onboarded_for(next_deadline_in_two_months(today))
    for i in range(3):
        compliant_short_today(reseller(str(5_000_000 + i), f"Short {i}", onboarded)[1], today)
    evaluation_run(as_of=today)
    client.force_login(staff)
    with django_assert_num_queries(EXPORT_BUDGETS[url.split("?")[0]]):
        response = client.get(url)
        body = b"".join(response.streaming_content)
    assert response.status_code == 200
    if ".csv" in url:
        assert body.count(b"\n") > 3  # the filter leaves rows to export
