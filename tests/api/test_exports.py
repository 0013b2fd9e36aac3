"""/exports/: CSV and XLSX of partners, evaluations and revenue, with the
list filters, formula neutralisation, access rules and bounded queries."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import openpyxl
import pytest

from compliance.services import evaluation_run
from partners import models as pm
from partners import services as ps
from tests.factories import UserFactory
from tests.portal.conftest import build_portfolio


def read_csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))


def read_xlsx(response) -> tuple[list[str], list[list], list]:
    """header, values, cells (of the data rows) of the only sheet."""
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.worksheets[0]
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    return header, [[c.value for c in row] for row in rows[1:]], rows[1:]


@pytest.fixture
def evil_partner(staff, today):
    """A partner whose texts look like spreadsheet formulas."""
    partner = ps.partner_create(
        partner_id="1000666",
        name='=HYPERLINK("http://evil.example","click")',
        country="DE",
        onboarded_on=today - datetime.timedelta(days=100),
        account_manager=staff,
    )
    location = ps.location_create(
        partner=partner, location_id="2000666", country="DE", onboarded_on=partner.onboarded_on
    )
    for reference, customer, amount in [
        ("+SUM(A1:A9)", "@cmd", "-250.00"),
        ("INV-666", "\tTabbed", "99.999999"),
    ]:
        ps.revenue_record_create(
            location=location,
            revenue_date=today - datetime.timedelta(days=10),
            amount=Decimal(amount),
            currency="USD",
            reference=reference,
            customer=customer,
        )
    return partner


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


# --- partners ----------------------------------------------------------------------


def test_partners_csv_has_the_list_columns_and_neutralises_formulas(
    staff_client, own_partner, foreign_partner, evil_partner, evaluated
):
    response = staff_client.get("/exports/partners.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="partners-' in response["Content-Disposition"]
    rows = read_csv(response)
    by_id = {row["partner_id"]: row for row in rows}
    assert set(by_id) == {"1000001", "1000002", "1000666"}
    assert by_id["1000666"]["name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert by_id["1000001"]["name"] == "Lindenhof IT GmbH"
    assert by_id["1000001"]["status"] == "at_risk"
    assert by_id["1000001"]["ttm_revenue_usd"] == "400.00"
    assert by_id["1000001"]["account_manager"] == "manager"


def test_partners_export_uses_the_web_list_filters(
    staff_client, own_partner, foreign_partner, evaluated
):
    rows = read_csv(staff_client.get("/exports/partners.csv?q=Highland"))
    assert [r["partner_id"] for r in rows] == ["1000002"]
    rows = read_csv(staff_client.get("/exports/partners.csv?status=at_risk"))
    assert [r["partner_id"] for r in rows] == ["1000001"]
    rows = read_csv(staff_client.get("/exports/partners.csv?sort=-name"))
    assert [r["partner_id"] for r in rows] == ["1000001", "1000002"]


def test_partners_xlsx_writes_formula_text_as_plain_strings(
    staff_client, evil_partner, own_partner
):
    response = staff_client.get("/exports/partners.xlsx?sort=partner_id")
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert 'filename="partners-' in response["Content-Disposition"]
    header, values, cells = read_xlsx(response)
    assert header[:3] == ["partner_id", "name", "country"]
    assert [v[0] for v in values] == ["1000001", "1000666"]
    name = cells[1][1]
    assert name.value == '=HYPERLINK("http://evil.example","click")'  # no quote added
    assert name.data_type == "s"  # a string, never a formula
    assert isinstance(values[0][6], datetime.datetime)  # onboarded_on is a date cell


# --- evaluations ---------------------------------------------------------------------


def test_evaluations_export_defaults_to_the_current_run(staff_client, evaluated, today):
    rows = read_csv(staff_client.get("/exports/evaluations.csv"))
    assert rows and {r["as_of"] for r in rows} == {today.isoformat()}
    assert {r["purpose"] for r in rows} == {"compliance"}
    yesterday = (today - datetime.timedelta(days=1)).isoformat()
    rows = read_csv(staff_client.get(f"/exports/evaluations.csv?as_of={yesterday}"))
    assert rows and {r["as_of"] for r in rows} == {yesterday}


def test_evaluations_export_filters(staff_client, evaluated):
    rows = read_csv(staff_client.get("/exports/evaluations.csv?status=at_risk"))
    assert rows and {(r["status"], r["partner_id"]) for r in rows} == {("at_risk", "1000001")}
    policy = rows[0]["policy"]
    rows = read_csv(staff_client.get(f"/exports/evaluations.csv?policy={policy}"))
    assert rows and {r["policy"] for r in rows} == {policy}
    response = staff_client.get("/exports/evaluations.csv?as_of=not-a-date")
    assert response.status_code == 400
    assert b"as_of" in response.content


def test_evaluations_xlsx(staff_client, evaluated, today):
    header, values, _ = read_xlsx(staff_client.get("/exports/evaluations.xlsx?status=at_risk"))
    assert header[:4] == ["as_of", "subject_type", "subject_id", "partner_id"]
    row = dict(zip(header, values[0], strict=True))
    assert row["partner_id"] == "1000001" and row["status"] == "at_risk"
    assert row["as_of"].date() == today
    assert row["ttm_revenue_usd"] == 400


# --- revenue -----------------------------------------------------------------------


def test_revenue_csv_keeps_numbers_and_neutralises_text(staff_client, evil_partner, own_partner):
    rows = read_csv(staff_client.get("/exports/revenue.csv?partner=1000666"))
    by_amount = {r["amount"]: r for r in rows}
    credit = by_amount["-250.000000"]  # a negative number is a number, not a formula
    assert credit["reference"] == "'+SUM(A1:A9)"
    assert credit["customer"] == "'@cmd"
    assert by_amount["99.999999"]["customer"] == "'\tTabbed"
    assert {r["partner_id"] for r in rows} == {"1000666"}


def test_revenue_xlsx(staff_client, evil_partner):
    header, values, cells = read_xlsx(staff_client.get("/exports/revenue.xlsx?partner=1000666"))
    rows = [dict(zip(header, v, strict=True)) for v in values]
    credit = next(r for r in rows if r["reference"] == "+SUM(A1:A9)")
    assert credit["amount"] == -250
    assert credit["customer"] == "@cmd"
    assert all(c.data_type != "f" for row in cells for c in row)


def test_revenue_date_range(staff_client, own_partner, evil_partner, today):
    since = (today - datetime.timedelta(days=20)).isoformat()
    rows = read_csv(staff_client.get(f"/exports/revenue.csv?date_from={since}"))
    assert {r["partner_id"] for r in rows} == {"1000666"}
    rows = read_csv(staff_client.get(f"/exports/revenue.csv?date_to={since}"))
    assert {r["partner_id"] for r in rows} == {"1000001"}
    assert staff_client.get("/exports/revenue.csv?date_to=soon").status_code == 400


# --- access --------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/exports/partners.csv", "/exports/evaluations.xlsx"])
def test_staff_only_exports(client, partner_user, url):
    client.force_login(partner_user)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(
    "url", ["/exports/partners.csv", "/exports/evaluations.csv", "/exports/revenue.xlsx"]
)
def test_anonymous_users_go_to_the_login_page(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_partner_user_exports_own_revenue_only(client, partner_user, foreign_partner):
    client.force_login(partner_user)
    rows = read_csv(client.get("/exports/revenue.csv"))
    assert [(r["partner_id"], r["reference"]) for r in rows] == [("1000001", "INV-1000001")]
    rows = read_csv(client.get("/exports/revenue.csv?partner=1000001"))
    assert len(rows) == 1
    assert client.get("/exports/revenue.csv?partner=1000002").status_code == 404
    assert client.get("/exports/revenue.xlsx?partner=1000002").status_code == 404


def test_unknown_format_is_404(staff_client):
    assert staff_client.get("/exports/partners.pdf").status_code == 404
    assert staff_client.get("/exports/partners.csvx").status_code == 404


def test_the_partner_list_links_the_xlsx_export(staff_client, own_partner):
    response = staff_client.get("/partners/?billing_model=indirect_reseller")
    assert b'href="/exports/partners.xlsx?billing_model=indirect_reseller"' in response.content


# --- bounded queries -----------------------------------------------------------------

# session + user, then the rows; partners add one query per 2,000 rows for
# their states; the current evaluations are one join (no separate query).
EXPORT_BUDGETS = {
    "/exports/partners.csv": 4,
    "/exports/partners.xlsx": 4,
    "/exports/evaluations.csv": 3,
    "/exports/evaluations.xlsx": 3,
    "/exports/revenue.csv": 3,
    "/exports/revenue.xlsx": 3,
}


@pytest.mark.parametrize("n", [3, 30])
@pytest.mark.parametrize("url", list(EXPORT_BUDGETS))
def test_export_query_count_does_not_grow_with_rows(
    client, staff, today, django_assert_num_queries, n, url
):
    build_portfolio(n, staff, today)
    client.force_login(staff)
    with django_assert_num_queries(EXPORT_BUDGETS[url]):
        response = client.get(url)
        body = b"".join(response.streaming_content)
    assert response.status_code == 200
    if url.endswith(".csv"):
        assert body.count(b"\n") > n


def test_a_partner_user_without_partner_gets_an_empty_revenue_file(client, own_partner):
    client.force_login(UserFactory(username="nobody"))
    assert read_csv(client.get("/exports/revenue.csv")) == []
    assert pm.RevenueRecord.objects.exists()


# --- formula prefixes in every export ------------------------------------------------------

#: What a spreadsheet may read as the start of a formula (OWASP's list).
FORMULA_PREFIXES = ["=", "+", "-", "@", "\t", "\r"]


def formula(prefix: str) -> str:
    return f'{prefix}HYPERLINK("http://evil.example","click")'


@pytest.fixture
def formula_partners(staff, today):
    """One partner per prefix: name, revenue reference and customer start
    with it; the account manager's username starts with "-"."""
    manager = UserFactory(username="-cmd", is_staff=True)
    for n, prefix in enumerate(FORMULA_PREFIXES):
        partner = ps.partner_create(
            partner_id=str(1000700 + n),
            name=formula(prefix),
            country="DE",
            onboarded_on=today - datetime.timedelta(days=100),
            account_manager=manager,
        )
        location = ps.location_create(
            partner=partner,
            location_id=str(2000700 + n),
            country="DE",
            onboarded_on=partner.onboarded_on,
        )
        ps.revenue_record_create(
            location=location,
            revenue_date=today - datetime.timedelta(days=3),
            amount=Decimal("-12.50"),
            currency="USD",
            reference=formula(prefix),
            customer=formula(prefix),
        )
    evaluation_run(as_of=today)
    return manager


CSV_EXPORTS = [
    "/partners/export.csv",
    "/exports/partners.csv",
    "/exports/evaluations.csv",
    "/exports/revenue.csv",
]


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


@pytest.mark.parametrize("url", CSV_EXPORTS)
def test_every_csv_export_neutralises_every_formula_prefix(staff_client, formula_partners, url):
    rows = read_csv(staff_client.get(url))
    cells = [value for row in rows for value in row.values()]
    for prefix in FORMULA_PREFIXES:
        assert "'" + formula(prefix) in cells, (prefix, url)
    # nothing else starts a formula either: only numbers we wrote start with "-"
    risky = [c for c in cells if c[:1] in FORMULA_PREFIXES and not _is_number(c)]
    assert risky == [], risky
    if "partners" in url:
        assert "'-cmd" in cells  # the account manager's username


@pytest.mark.parametrize(
    "url", ["/exports/partners.xlsx", "/exports/evaluations.xlsx", "/exports/revenue.xlsx"]
)
def test_every_xlsx_export_writes_formula_text_as_strings(staff_client, formula_partners, url):
    _header, _values, cells = read_xlsx(staff_client.get(url))
    texts = [c.value for row in cells for c in row if isinstance(c.value, str)]
    for prefix in FORMULA_PREFIXES:
        # as typed, no quote added (reading XML turns a CR into a line feed)
        assert formula(prefix).replace("\r", "\n") in texts, (prefix, url)
    assert all(c.data_type != "f" for row in cells for c in row)
    assert all(c.data_type == "s" for row in cells for c in row if isinstance(c.value, str))


def test_a_negative_amount_stays_a_number_in_csv_and_xlsx(staff_client, formula_partners):
    rows = read_csv(staff_client.get("/exports/revenue.csv"))
    assert {r["amount"] for r in rows} == {"-12.500000"}
    header, values, _cells = read_xlsx(staff_client.get("/exports/revenue.xlsx"))
    amounts = {row[header.index("amount")] for row in values}
    assert amounts == {-12.5}
