"""``seed_demo``: deterministic, realistic demo data and the demo logins."""

import datetime
import itertools
import json
import re
from collections import defaultdict
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection

import demo.names
import demo.seed
import demo.users
from compliance.models import DeadlineOutcome, Evaluation, FollowUpCase, Policy
from demo.management.commands.seed_demo import Command
from partners.models import (
    BillingModel,
    Contact,
    Currency,
    Designation,
    ExchangeRate,
    Location,
    Partner,
    RevenueRecord,
    SupportContract,
)

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 11, 27)
SMALL = ["--partners", "30", "--months", "13", "--as-of", AS_OF.isoformat()]
CURRENCY = {
    "DE": "EUR",
    "AT": "EUR",
    "NL": "EUR",
    "FR": "EUR",
    "CH": "CHF",
    "GB": "GBP",
    "US": "USD",
}


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def dump() -> dict[str, list]:
    """Every demo row without ids or timestamps, in a stable order."""
    user_model = get_user_model()
    tables = {
        "partners": Partner.objects.values_list(
            "partner_id",
            "name",
            "country",
            "billing_model",
            "onboarded_on",
            "account_manager__username",
            "agreement_signed_on",
            "status",
        ),
        "designations": Partner.designations.through.objects.values_list(
            "partner__partner_id", "designation__code"
        ),
        "locations": Location.objects.values_list(
            "location_id", "partner__partner_id", "name", "country", "onboarded_on", "is_active"
        ),
        "contacts": Contact.objects.values_list(
            "partner__partner_id", "name", "email", "language", "receives_notices", "user__username"
        ),
        "revenue": RevenueRecord.objects.values_list(
            "location__location_id",
            "revenue_date",
            "amount",
            "currency_id",
            "source",
            "reference",
            "customer",
        ),
        "contracts": SupportContract.objects.values_list(
            "partner__partner_id",
            "plan_type",
            "contract_number",
            "start_date",
            "end_date",
            "is_paid",
            "paid_on",
            "amount",
            "currency_id",
        ),
        "rates": ExchangeRate.objects.values_list("currency_id", "month", "usd_per_unit"),
        "users": user_model.objects.values_list(
            "username", "first_name", "last_name", "email", "is_staff", "is_superuser"
        ),
    }
    return {name: sorted(rows, key=repr) for name, rows in tables.items()}


def add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def ttm_usd(as_of: datetime.date = AS_OF) -> dict[int, Decimal]:
    """TTM revenue in USD per location pk (PRODUCT section 4, rules 1 and 6)."""
    rates = {(r.currency_id, r.month): r.usd_per_unit for r in ExchangeRate.objects.all()}
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for location_id, amount, currency, day in RevenueRecord.objects.filter(
        revenue_date__gte=add_years(as_of, -1), revenue_date__lt=as_of
    ).values_list("location_id", "amount", "currency_id", "revenue_date"):
        totals[location_id] += amount * rates[(currency, day.replace(day=1))]
    return totals


def anniversary_months(onboarded_on: datetime.date, as_of: datetime.date = AS_OF):
    """(most recent deadline on or before as_of, next deadline after it)."""
    previous = None
    for years in range(1, 50):
        deadline = add_years(onboarded_on, years).replace(day=1)
        if deadline >= as_of:
            return previous, deadline
        previous = deadline
    raise AssertionError("no deadline")


@pytest.fixture
def seeded() -> str:
    return seed(*SMALL, "--seed", "7")


# --- determinism ----------------------------------------------------------------------


def test_same_seed_and_as_of_give_identical_data(seeded):
    first = dump()
    seed(*SMALL, "--seed", "7", "--reset")
    assert dump() == first


def test_another_seed_gives_other_data(seeded):
    first = dump()
    seed(*SMALL, "--seed", "8", "--reset")
    second = dump()
    assert second["partners"] != first["partners"]
    assert second["revenue"] != first["revenue"]
    assert len(second["partners"]) == len(first["partners"]) == 30


def test_chunk_size_changes_nothing(seeded, monkeypatch):
    first = dump()
    monkeypatch.setattr(demo.seed, "CHUNK_PARTNERS", 7)
    seed(*SMALL, "--seed", "7", "--reset")
    assert dump() == first


def test_as_of_moves_the_data(seeded):
    first = dump()
    seed(*SMALL[:-1], "2026-12-27", "--seed", "7", "--reset")
    assert dump()["revenue"] != first["revenue"]


@pytest.mark.parametrize("as_of", ["2024-02-29", "2025-01-01", "2026-12-31", "2030-06-30"])
def test_any_as_of_date_gives_consistent_data(as_of):
    seed("--partners", "40", "--months", "24", "--as-of", as_of, "--seed", "3")
    day = datetime.date.fromisoformat(as_of)
    assert not RevenueRecord.objects.filter(revenue_date__gte=day).exists()
    assert not Location.objects.filter(onboarded_on__gte=day).exists()
    assert ExchangeRate.objects.filter(month=day.replace(day=1)).count() >= 3


# --- realism ----------------------------------------------------------------------------


def test_partners_and_locations_look_real(seeded):
    ids = list(Partner.objects.values_list("partner_id", flat=True))
    ids += list(Location.objects.values_list("location_id", flat=True))
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[1-9][0-9]{10}", i) for i in ids)
    names = list(Partner.objects.values_list("name", flat=True))
    assert len(set(names)) == len(names)
    legal_forms = {form for _, _, forms, _ in demo.names.NAME_PARTS.values() for form, _ in forms}
    assert all(any(n.endswith(f" {form}") for form in legal_forms) for n in names)
    countries = set(Partner.objects.values_list("country", flat=True))
    assert {"DE", "AT", "CH", "GB"} <= countries
    billing = Partner.objects.filter(billing_model=BillingModel.DIRECT_BILL).count()
    assert 3 <= billing < 15  # mostly indirect resellers
    for partner in Partner.objects.prefetch_related("locations"):
        assert 1 <= len(partner.locations.all()) <= 3
        assert all(loc.onboarded_on >= partner.onboarded_on for loc in partner.locations.all())
    # New direct-bill enrolments stopped on 2020-10-01.
    assert not Partner.objects.filter(
        billing_model=BillingModel.DIRECT_BILL, onboarded_on__gte=datetime.date(2020, 10, 1)
    ).exists()


def test_contacts_speak_the_partners_language(seeded):
    german = Contact.objects.filter(partner__country__in=["DE", "AT", "CH", "LI"])
    assert german.filter(language="de").count() > german.filter(language="en").count()
    assert not Contact.objects.exclude(partner__country__in=["DE", "AT", "CH", "LI"]).filter(
        language="de"
    )
    assert Contact.objects.filter(receives_notices=True).count() > Contact.objects.count() / 2
    emails = Contact.objects.values_list("email", flat=True)
    assert all(re.fullmatch(r"[a-z0-9.]+@[a-z0-9-]+\.example", e) for e in emails)


def test_revenue_lines_are_monthly_imports_in_the_location_currency(seeded):
    first_month = datetime.date(2025, 11, 1)  # 13 months up to 2026-11
    revenue = RevenueRecord.objects.select_related("location")
    assert revenue.count() > 500
    for record in revenue:
        assert record.source == "import"
        assert first_month <= record.revenue_date < AS_OF
        assert record.revenue_date >= record.location.onboarded_on
        assert record.currency_id == CURRENCY.get(record.location.country, record.currency_id)
        match = re.fullmatch(r"(INV|CN)-(\d{6})-(\d+)-([1-4])", record.reference)
        assert match, record.reference
        assert match[2] == record.revenue_date.strftime("%Y%m")
        assert match[3] == record.location.location_id
        assert record.customer
    assert {r.currency_id for r in revenue} >= {"EUR", "CHF", "GBP", "USD"}
    assert RevenueRecord.objects.filter(amount__lt=0).exists()  # credit notes
    per_month = defaultdict(int)
    for location_id, day in RevenueRecord.objects.values_list("location_id", "revenue_date"):
        per_month[(location_id, day.year, day.month)] += 1
    assert max(per_month.values()) <= 5  # up to four invoices and a credit note


def test_every_revenue_month_has_an_exchange_rate(seeded):
    rates = {(r.currency_id, r.month): r.usd_per_unit for r in ExchangeRate.objects.all()}
    used = {
        (currency, day.replace(day=1))
        for currency, day in RevenueRecord.objects.values_list("currency_id", "revenue_date")
    }
    assert used and all(key in rates for key in used)
    for code in ("EUR", "CHF", "GBP"):
        assert (code, AS_OF.replace(day=1)) in rates
    bands = {"EUR": (1.05, 1.12), "CHF": (1.10, 1.20), "GBP": (1.22, 1.32), "USD": (1, 1)}
    for (code, _month), value in rates.items():
        low, high = bands[code]
        assert Decimal(str(low)) <= value <= Decimal(str(high))
    eur = [v for (code, _), v in sorted(rates.items()) if code == "EUR"]
    assert max(abs(a - b) for a, b in itertools.pairwise(eur)) < Decimal("0.02")


def test_support_contracts_of_direct_bill_partners(seeded):
    contracts = SupportContract.objects.select_related("partner")
    assert contracts.exists()
    assert {c.partner.billing_model for c in contracts} == {BillingModel.DIRECT_BILL}
    assert contracts.filter(is_paid=True).exists()
    assert contracts.filter(is_paid=False).exists()  # an unpaid renewal
    assert contracts.filter(end_date__lt=AS_OF).exists()  # expired terms
    assert contracts.filter(start_date__lte=AS_OF, end_date__gte=AS_OF, is_paid=True).exists()
    assert all(c.currency_id and c.amount > 0 for c in contracts)


# --- scenarios ----------------------------------------------------------------------------


def test_scenario_mix_for_resellers(seeded):
    ttm = ttm_usd()
    locations = list(Location.objects.filter(partner__billing_model=BillingModel.INDIRECT_RESELLER))
    assert any(ttm[loc.pk] >= 10_000 for loc in locations)
    assert any(ttm[loc.pk] == 0 for loc in locations)
    at_risk = missed = 0
    for loc in locations:
        previous, upcoming = anniversary_months(loc.onboarded_on)
        if ttm[loc.pk] < 1000 and (upcoming - AS_OF).days <= 90 and previous is None:
            at_risk += 1
        recent = previous is not None and (AS_OF - previous).days <= 60
        if recent and ttm_usd(previous)[loc.pk] < 1000:
            missed += 1
    assert at_risk >= 1
    assert missed >= 1


def test_scenario_mix_for_direct_bill_partners(seeded):
    ttm = ttm_usd()
    compliant = short = 0
    direct_bill = Partner.objects.filter(billing_model=BillingModel.DIRECT_BILL, status="active")
    for partner in direct_bill.prefetch_related("locations", "support_contracts", "designations"):
        revenue = sum(ttm[loc.pk] for loc in partner.locations.all())
        supported = any(
            c.is_paid and c.plan_type in ("asfp", "psfp") and c.start_date <= AS_OF <= c.end_date
            for c in partner.support_contracts.all()
        )
        complete = (
            revenue >= 1_000_000
            and supported
            and partner.designations.exists()
            and partner.agreement_signed_on
        )
        compliant += bool(complete)
        short += not complete
        assert revenue > 250_000  # about USD 60k-150k a month, some below
    assert compliant >= 1
    assert short >= 2


def test_the_engine_sees_every_scenario_and_reset_clears_its_records():
    seed("--partners", "30", "--months", "24", "--as-of", AS_OF.isoformat())
    out = StringIO()
    call_command("evaluate_eligibility", "--as-of", AS_OF.isoformat(), "--json", stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    found = {(row["policy"], row["status"]) for row in rows}
    for policy in ("csp-indirect-reseller-2024", "csp-direct-fy26"):
        for status in ("compliant", "at_risk", "non_compliant"):
            assert (policy, status) in found
    by_location = {row["subject_id"]: row for row in rows if row["subject_type"] == "location"}
    user_model = get_user_model()
    partner1 = user_model.objects.get(username="partner1").partner_contact.partner
    partner2 = user_model.objects.get(username="partner2").partner_contact.partner
    (location1,) = partner1.locations.all()
    assert by_location[location1.location_id]["status"] == "at_risk"
    assert 14 <= by_location[location1.location_id]["days_to_deadline"] <= 70
    for location in partner2.locations.all():
        assert by_location[location.location_id]["status"] == "compliant"
    assert Evaluation.objects.exists()
    assert DeadlineOutcome.objects.exists()
    assert FollowUpCase.objects.exists()

    seed(*SMALL, "--reset")
    assert not Evaluation.objects.exists()
    assert not DeadlineOutcome.objects.exists()
    assert not FollowUpCase.objects.exists()


# --- logins --------------------------------------------------------------------------------


def test_demo_logins_have_their_roles(seeded, client):
    users = {u.username: u for u in get_user_model().objects.all()}
    admin, manager, partner1, partner2 = (users[n] for n in demo.users.DEMO_LOGINS)
    assert admin.is_superuser and admin.is_staff
    assert manager.is_staff and not manager.is_superuser
    assert manager.groups.filter(name="Account managers").exists()
    managed = Partner.objects.filter(account_manager=manager)
    assert 0 < managed.count() < Partner.objects.count()
    assert not Partner.objects.filter(account_manager__isnull=True).exists()
    assert set(
        Partner.objects.values_list("account_manager__groups__name", flat=True).distinct()
    ) == {"Account managers"}

    contact1, contact2 = partner1.partner_contact, partner2.partner_contact
    assert not partner1.is_staff and not partner2.is_staff
    assert contact1.partner_id != contact2.partner_id
    assert {contact1.partner, contact2.partner} <= set(managed)
    assert partner1.email == contact1.email

    # partner1's partner: its location is short of USD 1,000 with the deadline weeks away.
    ttm = ttm_usd()
    (location1,) = contact1.partner.locations.all()
    _previous, deadline = anniversary_months(location1.onboarded_on)
    assert ttm[location1.pk] < 1000
    assert 0 < (deadline - AS_OF).days <= 90
    # partner2's partner: every location comfortably above it.
    assert all(ttm[loc.pk] >= 1000 for loc in contact2.partner.locations.all())

    for username in demo.users.DEMO_LOGINS:
        assert client.login(username=username, password="portal-demo"), username
    assert not client.login(username="anna.becker", password="portal-demo")


def test_password_option(client):
    out = seed(*SMALL, "--password", "another-secret-1")
    assert "another-secret-1" in out
    assert client.login(username="partner1", password="another-secret-1")
    assert not client.login(username="partner1", password="portal-demo")


def test_summary_lists_counts_and_logins(seeded):
    assert "partners" in seeded and "30" in seeded
    assert f"{RevenueRecord.objects.count():,}" in seeded
    for username in demo.users.DEMO_LOGINS:
        assert username in seeded
    assert "portal-demo" in seeded
    partner1 = get_user_model().objects.get(username="partner1")
    assert partner1.partner_contact.partner.partner_id in seeded


# --- refusals and reset -------------------------------------------------------------------


def test_refuses_when_partners_exist(seeded):
    before = dump()
    with pytest.raises(CommandError, match="--reset"):
        seed(*SMALL)
    assert dump() == before


def test_reset_replaces_demo_data_and_keeps_reference_data(seeded):
    kept = (
        Policy.objects.count(),
        Currency.objects.count(),
        Designation.objects.count(),
        Group.objects.count(),
    )
    old_ids = set(Partner.objects.values_list("partner_id", flat=True))
    out = seed("--partners", "12", "--months", "3", "--as-of", AS_OF.isoformat(), "--reset")
    assert out.startswith("Deleted 30 partners")
    assert Partner.objects.count() == 12
    assert not old_ids & set(Partner.objects.values_list("partner_id", flat=True))
    assert ExchangeRate.objects.filter(month__lt=datetime.date(2026, 9, 1)).count() == 0
    assert kept == (
        Policy.objects.count(),
        Currency.objects.count(),
        Designation.objects.count(),
        Group.objects.count(),
    )
    assert get_user_model().objects.filter(username="partner1").count() == 1


def test_reset_keeps_other_users(seeded):
    someone = get_user_model().objects.create_user("someone", password="x-secret-99")
    seed(*SMALL, "--reset")
    assert get_user_model().objects.filter(pk=someone.pk).exists()


def test_existing_demo_login_is_taken_over():
    get_user_model().objects.create_user("admin", password="old-password-1")
    seed(*SMALL)
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("portal-demo")


def test_production_settings_refuse(settings):
    settings.PORTAL_ALLOW_DEMO_USERS = False
    with pytest.raises(CommandError, match="Production settings refuse to create demo logins"):
        seed(*SMALL)
    with pytest.raises(demo.seed.DemoSeedError):
        demo.seed.demo_seed(partners=5, months=2, seed=1, as_of=AS_OF, password="x")
    assert not Partner.objects.exists()
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--partners", "1"], "at least 2 partners"),
        (["--partners", "0"], "not a positive number"),
        (["--months", "121"], "between 1 and 120 months"),
        (["--months", "x"], "not a whole number"),
        (["--as-of", "27.11.2026"], "YYYY-MM-DD"),
        (["--password", ""], "must not be empty"),
    ],
)
def test_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        seed(*args)
    assert not Partner.objects.exists()


def test_as_of_defaults_to_today(settings):
    from django.utils import timezone

    seed("--partners", "5", "--months", "2")
    today = timezone.localdate()
    assert ExchangeRate.objects.filter(month=today.replace(day=1)).exists()
    assert RevenueRecord.objects.latest("revenue_date").revenue_date < today


def test_help_describes_every_option():
    text = Command().create_parser("manage.py", "seed_demo").format_help()
    for option in ("--partners", "--months", "--seed", "--as-of", "--password", "--reset"):
        assert option in text
    assert "PORTAL_ALLOW_DEMO_USERS" in text


def test_indexes_and_constraints_survive_the_bulk_load():
    table = RevenueRecord._meta.db_table

    def shape():
        with connection.cursor() as cursor:
            found = connection.introspection.get_constraints(cursor, table)
        return {
            name: (tuple(c["columns"]), c["unique"], c["foreign_key"]) for name, c in found.items()
        }

    before = shape()
    seed(*SMALL)
    assert shape() == before
    assert len(before) >= 4


# --- density (benchmarks) -------------------------------------------------------------------


def revenue_lines_per_month() -> dict[tuple, list[str]]:
    lines: dict[tuple, list[str]] = defaultdict(list)
    for location_id, day, reference in RevenueRecord.objects.values_list(
        "location_id", "revenue_date", "reference"
    ):
        lines[(location_id, day.year, day.month)].append(reference)
    return lines


def test_lines_per_month_gives_every_month_with_sales_that_many_lines():
    seed(*SMALL, "--seed", "7", "--lines-per-month", "6")
    months = revenue_lines_per_month()
    invoices = [sorted(r for r in refs if r.startswith("INV-")) for refs in months.values()]
    assert all(1 <= len(refs) <= 6 for refs in invoices)
    # Only months of a few dollars have fewer lines (no more lines than dollars).
    assert sum(len(refs) == 6 for refs in invoices) > 0.8 * len(invoices)
    six = next(refs for refs in invoices if len(refs) == 6)
    assert [ref.rsplit("-", 1)[1] for ref in six] == ["1", "2", "3", "4", "5", "6"]
    assert all(sum(not r.startswith("INV-") for r in refs) <= 1 for refs in months.values())
    assert not RevenueRecord.objects.filter(amount=0).exists()


def test_lines_per_month_is_deterministic_and_scales_the_rows():
    seed(*SMALL, "--seed", "7")
    default_rows = RevenueRecord.objects.count()
    seed(*SMALL, "--seed", "7", "--lines-per-month", "6", "--reset")
    first = dump()
    seed(*SMALL, "--seed", "7", "--lines-per-month", "6", "--reset")
    assert dump() == first
    # The same partners, locations and scenarios; only the revenue is denser.
    seed(*SMALL, "--seed", "7", "--reset")
    assert dump()["locations"] == first["locations"]
    assert RevenueRecord.objects.count() == default_rows
    assert len(first["revenue"]) > 2.5 * default_rows


@pytest.mark.parametrize("value", ["0", "51", "x"])
def test_bad_lines_per_month(value):
    with pytest.raises(CommandError, match=r"positive number|whole number|between 1 and 50"):
        seed(*SMALL, "--lines-per-month", value)
    assert not Partner.objects.exists()


def test_help_describes_the_density_option():
    text = Command().create_parser("manage.py", "seed_demo").format_help()
    assert "--lines-per-month" in text
