"""Lists, dashboards and the CSV export: filters, bad parameters, formula
neutralisation and pinned query budgets (the same budget for 3 and for 300
partners: no N+1)."""

import csv
import io

import pytest
from django.urls import reverse

from compliance.services import evaluation_run
from partners import services as ps
from partners.models import Partner
from portal.exports import csv_safe

from . import outlook_data
from .conftest import build_portfolio

pytestmark = pytest.mark.django_db

# Pinned query budgets, session and user lookups included; the same for 3
# and for 300 partners. (The CSV export reads partners in chunks of 2,000:
# a few more queries per further 2,000.)
BUDGETS = {
    # + 1 for the card "compliant today, short at the deadline"; each order
    # of the at-risk list costs the same
    "dashboard": 12,
    "dashboard_by_need": 12,
    "dashboard_by_outlook": 12,
    # 12 + the deadline outlook's revenue per day with its month's rate (one
    # query for every subject, day and line)
    "partner_dashboard": 13,
    "list": 9,
    "list_filtered": 9,
    "list_outlook": 9,
    "export": 5,
    "direct_bill_ready": 4,
    # 18 + the change history of revenue, follow-up cases and deadline
    # outcomes (one query each, staff only) + the deadline outlook's revenue
    # per day with its month's rate (one query)
    "detail": 22,
    "revenue": 6,
    "contracts": 4,
    "contacts": 4,
}


@pytest.fixture(params=[3, 300], ids=["3-partners", "300-partners"])
def portfolio(request, staff, today):
    partners = build_portfolio(request.param, staff, today)
    # and some the dashboard's at-risk list and its card "compliant today,
    # short at the deadline" show (PRODUCT 4.9), so that the budgets cover rows
    deadline = outlook_data.next_deadline_in_two_months(today)
    for i in range(4):
        _partner, location = outlook_data.reseller(
            str(5_000_000 + i), f"Outlook {i} GmbH", outlook_data.onboarded_for(deadline), staff
        )
        if i % 2:
            outlook_data.at_risk_today(location, today)
        else:
            outlook_data.compliant_short_today(location, today)
    evaluation_run(as_of=today)
    return partners


def _pages(partner):
    pid = partner.partner_id
    return {
        "dashboard": reverse("dashboard"),
        "dashboard_by_need": reverse("dashboard") + "?risk_sort=needed",
        "dashboard_by_outlook": reverse("dashboard") + "?risk_sort=outlook",
        "list": reverse("partners:list"),
        "list_filtered": reverse("partners:list") + "?q=Portfolio&country=DE&mine=on&sort=-status",
        "list_outlook": reverse("partners:list") + "?outlook=compliant_short&sort=-outlook",
        "export": reverse("partners:export"),
        "direct_bill_ready": reverse("partners:direct-bill-ready"),
        "detail": reverse("partners:detail", args=[pid]),
        "revenue": reverse("partners:revenue", args=[pid]),
        "contracts": reverse("partners:contracts", args=[pid]),
        "contacts": reverse("partners:contacts", args=[pid]),
    }


def test_query_budgets_for_staff(client, staff, portfolio, django_assert_max_num_queries):
    client.force_login(staff)
    partner = Partner.objects.filter(locations__isnull=False).order_by("-partner_id").first()
    for name, url in _pages(partner).items():
        with django_assert_max_num_queries(BUDGETS[name], info=name):
            response = client.get(url)
            if name == "export":
                b"".join(response.streaming_content)
        assert response.status_code == 200, name
        if name.startswith("list"):
            assert response.context["rows"], name  # the budget covers rows
        if name.startswith("dashboard"):
            summary = response.context["summary"]
            assert summary.at_risk and summary.compliant_short, name


def test_query_budget_for_the_partner_dashboard(client, portfolio, django_assert_max_num_queries):
    from tests.factories import UserFactory

    partner = portfolio[0]
    user = UserFactory(username="portfolio-user")
    contact = partner.contacts.get()
    contact.user = user
    contact.save()
    client.force_login(user)
    with django_assert_max_num_queries(BUDGETS["partner_dashboard"]):
        response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert partner.name in response.text


def test_dashboard_shows_counts_at_risk_and_the_trend(client, staff, evaluated):
    client.force_login(staff)
    response = client.get(reverse("dashboard"))
    summary = response.context["summary"]
    assert summary.partner_count == 2
    assert [e.partner.name for e in summary.at_risk] == ["Lindenhof IT GmbH"]
    assert "USD 600.00" in response.text  # the shortfall of 1,000 - 400
    assert len(response.context["chart"]["values"]) == 24
    assert "Highland Systems Ltd" not in [e.partner.name for e in summary.at_risk]


def test_my_partners_toggle(client, staff, own_partner, evaluated):
    from tests.factories import StaffUserFactory

    other = StaffUserFactory()
    client.force_login(other)
    assert client.get("/?mine=1").context["summary"].partner_count == 0
    # remembered for the session
    assert client.get("/").context["summary"].partner_count == 0
    assert client.get("/?mine=0").context["summary"].partner_count == 2


def test_list_search_and_filters(client, staff, own_partner, foreign_partner, evaluated):
    client.force_login(staff)

    def names(query):
        response = client.get(reverse("partners:list") + query)
        assert response.status_code == 200
        return [p.name for p, _state in response.context["rows"]]

    assert names("") == ["Highland Systems Ltd", "Lindenhof IT GmbH"]
    assert names("?q=linden") == ["Lindenhof IT GmbH"]
    assert names("?q=1000002") == ["Highland Systems Ltd"]
    assert names("?q=2000001") == ["Lindenhof IT GmbH"]  # location id
    assert names("?status=at_risk") == ["Lindenhof IT GmbH"]
    assert names("?status=compliant") == ["Highland Systems Ltd"]
    assert names("?billing_model=direct_bill") == []
    assert names("?sort=-name") == ["Lindenhof IT GmbH", "Highland Systems Ltd"]
    assert names("?sort=-status") == ["Lindenhof IT GmbH", "Highland Systems Ltd"]


@pytest.mark.parametrize(
    "query",
    [
        "?page=abc",
        "?page=9999",
        "?page=-1",
        "?status=bogus",
        "?policy=999999",
        "?policy=abc",
        "?account_manager=xyz",
        "?country=%00",
        "?sort=password",
        "?mine=maybe",
        "?q=" + "x" * 5000,
    ],
)
def test_bad_list_parameters_never_fail(client, staff, own_partner, evaluated, query):
    client.force_login(staff)
    assert client.get(reverse("partners:list") + query).status_code == 200
    assert client.get(reverse("partners:export") + query).status_code == 200


def test_csv_export_of_the_filtered_list_neutralises_formulas(client, staff, today):
    ps.partner_create(
        partner_id="8000001", name='=HYPERLINK("http://evil")', country="DE", onboarded_on=today
    )
    ps.partner_create(partner_id="8000002", name="@SUM(A1)", country="AT", onboarded_on=today)
    ps.partner_create(partner_id="8000003", name="Plain GmbH", country="CH", onboarded_on=today)
    client.force_login(staff)
    response = client.get(reverse("partners:export") + "?country=DE")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:2] == ["partner_id", "name"]
    assert [r[1] for r in rows[1:]] == ['\'=HYPERLINK("http://evil")']
    body = b"".join(client.get(reverse("partners:export")).streaming_content).decode("utf-8-sig")
    assert "'@SUM(A1)" in body
    assert "Plain GmbH" in body


@pytest.mark.parametrize("value", ["=1+1", "+49 123", "-2", "@cmd", "\tx", "\rx"])
def test_csv_safe_prefixes_formula_starters(value):
    assert csv_safe(value) == "'" + value


def test_csv_safe_keeps_plain_text_and_numbers():
    assert csv_safe("GmbH = good") == "GmbH = good"
    assert csv_safe(-5) == -5


def test_direct_bill_ready_lists_indirect_resellers(client, staff, evaluated):
    client.force_login(staff)
    response = client.get(reverse("partners:direct-bill-ready"))
    assert response.status_code == 200
    closest = [e.partner.name for e in response.context["closest"]]
    assert closest == ["Highland Systems Ltd", "Lindenhof IT GmbH"]  # smallest shortfall first
    assert response.context["ready"] == []


def test_detail_shows_status_explanation_and_german(client, staff, own_partner, evaluated):
    client.force_login(staff)
    url = reverse("partners:detail", args=[own_partner.partner_id])
    response = client.get(url)
    assert "TTM revenue USD 400.00 of USD 1,000.00 required" in response.text
    assert "At risk" in response.text
    assert "Change history" in response.text
    client.post(reverse("set_language"), {"language": "de", "next": url})
    response = client.get(url)
    assert "400,00 USD" in response.text
    assert "von 1.000,00 USD" in response.text or "1.000,00 USD" in response.text


def test_partner_user_detail_hides_staff_sections(client, partner_user, own_partner, evaluated):
    client.force_login(partner_user)
    response = client.get(reverse("partners:detail", args=[own_partner.partner_id]))
    assert response.status_code == 200
    assert "Change history" not in response.text
    assert reverse("partners:revenue-new", args=[own_partner.partner_id]) not in response.text
