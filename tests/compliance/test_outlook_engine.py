"""The deadline outlook in the engine (PRODUCT 4.9, 6): computed in the same
set-based run as the status, stored with the evaluation, printed by
``evaluate_eligibility --json`` and served by the API."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance import services
from compliance.models import Evaluation, Policy, PolicyRequirement, Purpose
from compliance.services import evaluation_run
from compliance.simulation import simulation_run
from partners import services as ps
from partners.models import BillingModel, PlanType
from tests.api.conftest import token_client
from tests.factories import (
    ExchangeRateFactory,
    LocationFactory,
    StaffUserFactory,
    SupportContractFactory,
    direct_partner,
)

D = datetime.date
AS_OF = D(2025, 11, 20)
pytestmark = pytest.mark.django_db


ONBOARDED = D(2024, 2, 10)


def reseller(partner_id="1000001", location_id="2000001", onboarded=ONBOARDED):
    """An indirect reseller whose location's deadline is 2026-02-01 on AS_OF."""
    partner = ps.partner_create(
        partner_id=partner_id, name=f"Reseller {partner_id}", country="DE", onboarded_on=onboarded
    )
    location = ps.location_create(
        partner=partner, location_id=location_id, country="DE", onboarded_on=onboarded
    )
    return partner, location


def book(location, day, amount, currency="USD", reference=None):
    ps.revenue_record_create(
        location=location,
        revenue_date=day,
        amount=Decimal(amount),
        currency=currency,
        reference=reference or f"R-{location.location_id}-{day}-{amount}",
    )


def example(location):
    """PRODUCT 4.9: TTM 1,250.00, 700.00 of it before the window, pace
    USD 184.00 over August to October 2025 (and the previous deadline,
    2025-02-01, met: USD 1,100 in its window)."""
    book(location, D(2024, 6, 1), "400.00")
    book(location, D(2025, 1, 15), "700.00")
    book(location, D(2025, 3, 10), "366.00")
    book(location, D(2025, 8, 5), "100.00")
    book(location, D(2025, 9, 5), "50.00")
    book(location, D(2025, 10, 5), "34.00")


def evaluate_json(as_of=AS_OF, *args) -> list[dict]:
    out = StringIO()
    call_command("evaluate_eligibility", "--as-of", as_of.isoformat(), "--json", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_evaluate_eligibility_gives_the_specification_example_exactly():
    _, location = reseller()
    example(location)
    (record,) = evaluate_json()
    assert record == {
        "subject_type": "location",
        "subject_id": "2000001",
        "partner_id": "1000001",
        "policy": "csp-indirect-reseller-2024",
        "as_of": "2025-11-20",
        "status": "compliant",
        "ttm_revenue_usd": "1250.00",
        "threshold_usd": "1000.00",
        "deadline": "2026-02-01",
        "days_to_deadline": 73,
        "unmet": [],
        "secured_usd": "550.00",
        "rolling_off_usd": "700.00",
        "needed_usd": "450.00",
        "projected_usd": "696.00",
        "outlook": "short",
    }


def test_the_outlook_is_stored_and_served_by_the_api():
    partner, location = reseller()
    example(location)
    evaluation_run(as_of=AS_OF)
    stored = Evaluation.objects.get(purpose=Purpose.COMPLIANCE)
    assert stored.outlook == "short"
    assert (stored.secured_usd, stored.needed_usd) == (Decimal("550"), Decimal("450"))
    assert stored.pace_usd == Decimal(2) and stored.projected_usd == Decimal(696)
    assert "USD 450.00 still needed in 73 days" in stored.explanation
    assert "450,00 USD fehlen noch" in stored.explanation_de
    api = token_client(StaffUserFactory())
    (row,) = api.get(
        "/api/v1/evaluations/",
        {"as_of": AS_OF.isoformat(), "partner": partner.partner_id, "purpose": "compliance"},
    ).json()["results"]
    assert row["outlook"] == "short"
    assert Decimal(row["projected_usd"]) == Decimal("696")


def test_revenue_dated_today_and_later_is_secured_not_in_todays_ttm():
    _, location = reseller()
    example(location)
    book(location, AS_OF, "300.00")
    book(location, D(2025, 12, 24), "150.00")
    (record,) = evaluate_json()
    assert record["ttm_revenue_usd"] == "1250.00"
    assert record["secured_usd"] == "1000.00"
    assert (record["needed_usd"], record["outlook"]) == ("0.00", "met")


def test_non_usd_revenue_converts_with_its_months_rate_and_a_missing_rate_is_no_zero():
    _, location = reseller()
    ExchangeRateFactory(currency_id="EUR", month=D(2025, 3, 1), usd_per_unit=Decimal("1.0811"))
    book(location, D(2024, 6, 1), "1100.00")  # the previous deadline, met
    book(location, D(2025, 3, 31), "1000.00", currency="EUR")
    (record,) = evaluate_json()
    assert record["secured_usd"] == "1081.10" and record["outlook"] == "met"
    # A line booked for next month, whose rate is not known yet: the outlook
    # is unknown (never counted as zero); today's status stands.
    book(location, D(2025, 12, 5), "10.00", currency="EUR")
    (record,) = evaluate_json()
    assert record["status"] == "compliant"
    assert record["outlook"] is None and record["secured_usd"] is None
    stored = Evaluation.objects.get(as_of=AS_OF, purpose=Purpose.COMPLIANCE)
    assert "Deadline outlook unknown: no exchange rate for EUR 2025-12" in stored.explanation


def test_no_outlook_on_the_deadline_day_or_without_a_revenue_requirement():
    _, location = reseller()
    example(location)
    (record,) = evaluate_json(D(2026, 2, 1))
    assert record["days_to_deadline"] == 0
    assert (record["outlook"], record["secured_usd"], record["projected_usd"]) == (
        None,
        None,
        None,
    )
    PolicyRequirement.objects.filter(
        policy__code="csp-indirect-reseller-2024", code="revenue"
    ).delete()
    Policy.objects.filter(code="csp-indirect-reseller-2024")  # still in force
    (record,) = evaluate_json()
    assert record["threshold_usd"] is None and record["outlook"] is None


def test_a_partner_level_policy_sums_every_location():
    manager = StaffUserFactory()
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
    # FY26 policy: deadline the first of the onboarding anniversary month,
    # 2026-03-01 on AS_OF; window 2025-03-01 .. 2026-02-28.
    book(first, D(2025, 2, 10), "400000.00")  # rolls off
    book(first, D(2025, 4, 10), "500000.00")
    book(second, D(2025, 9, 10), "300000.00")
    book(second, D(2025, 10, 10), "-20000.00")
    (record,) = evaluate_json(AS_OF, "--partner", "1000009")
    assert (record["subject_type"], record["deadline"]) == ("partner", "2026-03-01")
    assert record["ttm_revenue_usd"] == "1180000.00"
    assert record["rolling_off_usd"] == "400000.00"
    assert record["secured_usd"] == "780000.00"
    assert record["needed_usd"] == "220000.00"
    # pace Aug-Oct: 280,000 / 92 days x 101 days = 307,391.30...
    assert record["projected_usd"] == "1087391.30"
    assert record["outlook"] == "on_track"


def _queries_of_a_run(partners: int, first: int, as_of: datetime.date) -> int:
    for n in range(first, first + partners):
        _, location = reseller(f"{1100000 + n}", f"{2100000 + n}")
        book(location, D(2024, 6, 1), "400.00")
        book(location, D(2025, 1, 15), "700.00")
        book(location, D(2025, 9, 5), "500.00")
    with CaptureQueriesContext(connection) as queries:
        evaluation_run(as_of=as_of)
    return len(queries)


def test_the_outlook_costs_a_constant_number_of_queries():
    # Two new days (each run takes the same path: a new day's first run).
    small = _queries_of_a_run(3, 0, AS_OF)
    large = _queries_of_a_run(40, 100, AS_OF + datetime.timedelta(days=1))
    assert large == small
    assert Evaluation.objects.filter(outlook="short", status="compliant").count() == 3 + 43


@pytest.mark.parametrize(
    ("as_of", "rolling_off", "secured"),
    [
        # Deadline 2026-02-01 ten months ahead: most of today's window
        # (2024-04-15 .. 2025-04-14) rolls off; the engine sums the part that
        # stays (2025-02-01 ..) and takes the rest from the TTM.
        (D(2025, 4, 15), "1100.00", "550.00"),
        # Two months ahead: the engine sums the part that rolls off.
        (D(2025, 11, 20), "700.00", "550.00"),
    ],
)
def test_rolling_off_is_the_same_whichever_part_of_the_window_is_summed(
    as_of, rolling_off, secured
):
    _, location = reseller()
    example(location)
    (record,) = evaluate_json(as_of)
    assert record["deadline"] == "2026-02-01"
    assert record["rolling_off_usd"] == rolling_off
    assert record["secured_usd"] == secured
    ttm = Decimal(record["ttm_revenue_usd"])
    ahead = sum(
        (
            Decimal(a)
            for day, a in [(D(2025, 8, 5), "100"), (D(2025, 9, 5), "50"), (D(2025, 10, 5), "34")]
            if day >= as_of
        ),
        Decimal(0),
    )
    assert ttm - Decimal(rolling_off) + ahead == Decimal(secured)


def test_revenue_dated_ahead_counts_for_its_own_location_until_the_deadline():
    """What is dated from today on (read in one query through the date
    index) is secured for its own location only, and only before the
    deadline; a partial run reads its own partners' lines."""
    _, location = reseller()
    other_partner, other = reseller("1000002", "2000002")
    for place in (location, other):
        book(place, D(2025, 3, 10), "900.00")
    book(location, AS_OF, "50.00")  # today: secured, not in today's TTM
    book(location, D(2025, 12, 31), "25.00")  # next month: secured
    summary = evaluation_run(as_of=AS_OF, save=False)
    by_location = {o.subject.location_pk: o for o in summary.outputs if o.outlook}
    assert by_location[location.pk].result.ttm_revenue_usd == Decimal("900.00")
    assert by_location[location.pk].outlook.secured_usd == Decimal("975.00")
    assert by_location[other.pk].outlook.secured_usd == Decimal("900.00")
    (only_other,) = [
        o for o in evaluation_run(as_of=AS_OF, partner_pks={other_partner.pk}, save=False).outputs
        if o.outlook
    ]  # fmt: skip
    assert only_other.outlook.secured_usd == Decimal("900.00")
    # dated on the deadline: the next window's; the day before: this one's
    book(location, D(2026, 2, 1), "7.00")
    (record,) = [r for r in evaluate_json() if r["subject_id"] == "2000001"]
    assert record["secured_usd"] == "975.00"
    book(location, D(2026, 1, 31), "5.00")
    (record,) = [r for r in evaluate_json() if r["subject_id"] == "2000001"]
    assert record["secured_usd"] == "980.00"


def _outlooks(as_of, **kwargs) -> dict:
    summary = evaluation_run(as_of=as_of, save=False, **kwargs)
    return {
        (o.subject.key, o.purpose): (
            o.outlook_error,
            None
            if o.outlook is None
            else (
                o.outlook.secured_usd,
                o.outlook.rolling_off_usd,
                o.outlook.needed_usd,
                o.outlook.pace_total_usd,
                o.outlook.pace_days,
                o.outlook.outlook,
            ),
        )
        for o in summary.outputs
    }


def _portfolio(as_of: datetime.date) -> None:
    """Resellers onboarded in every month of the year (a deadline window
    starting in each month), with credits, euros, a missing rate and
    revenue dated ahead; a direct-bill partner with two locations."""
    for month in range(1, 13):
        _, location = reseller(
            f"{1300000 + month}", f"{2300000 + month}", onboarded=D(2020, month, 17)
        )
        for back in range(0, 400, 23 + month):
            day = as_of - datetime.timedelta(days=back)
            book(location, day, f"{40 + 7 * month + back % 50}.25")
        book(location, as_of - datetime.timedelta(days=month * 20), "-35.50")  # a credit
        book(location, as_of - datetime.timedelta(days=month * 25), "80.00", currency="EUR")
        book(location, as_of + datetime.timedelta(days=month * 9), "12.00")  # dated ahead
    for months_back in range(14):
        first = (as_of.replace(day=1) - datetime.timedelta(days=31 * months_back)).replace(day=1)
        ExchangeRateFactory(currency_id="EUR", month=first, usd_per_unit=Decimal("1.0875"))
    _, gap = reseller("1300099", "2300099", onboarded=D(2021, 6, 1))
    book(gap, as_of - datetime.timedelta(days=40), "50.00", currency="GBP")  # no rate: unknown
    partner = direct_partner("1300100", "Direct GmbH", D(2019, 5, 3))
    for n in (1, 2):
        location = ps.location_create(
            partner=partner, location_id=f"230010{n}", country="DE", onboarded_on=D(2019, 5, 3)
        )
        for back in range(0, 380, 17 * n):
            book(location, as_of - datetime.timedelta(days=back), f"{30000 * n}.00")


@pytest.mark.parametrize(
    "as_of",
    # windows from 2024-02-28 and from 2024-03-01 (around 29 February)
    [AS_OF, D(2025, 4, 15), D(2026, 1, 31), D(2025, 2, 28), D(2025, 3, 1)],
)
def test_the_scan_and_the_span_query_give_the_same_outlooks(as_of):
    """Every subject's outlook summed by the TTM scan (its cut per location)
    equals the one summed by the span query alone (no cuts), for deadline
    windows starting in every month, before and after a 29 February; and
    the scan's night runs no span query."""
    _portfolio(as_of)
    with CaptureQueriesContext(connection) as scanned:
        by_scan = _outlooks(as_of)
    with (
        mock.patch.object(services, "rolling_off_cuts", return_value={}),
        CaptureQueriesContext(connection) as spanned,
    ):
        by_spans = _outlooks(as_of)
    assert by_scan == by_spans
    outlooks = [found for _error, found in by_scan.values() if found]
    assert len(outlooks) >= 10  # resellers (but one whose deadline is today), direct bill
    assert len({o[5] for o in outlooks}) >= 2  # not all alike
    assert len({o[1] for o in outlooks}) >= 9  # rolling off: each window its own
    spans = [q["sql"] for q in spanned.captured_queries if "json" in q["sql"]]
    assert spans and not [q["sql"] for q in scanned.captured_queries if "json" in q["sql"]]


def test_a_location_with_two_deadline_windows_sums_the_second_on_its_own():
    """Two policies for the same location with different deadlines: the
    scan cuts for the first, the span query sums the other's (a support
    plan renewal on the 15th: a cut inside a month); both as without the
    scan's cut."""
    partner, location = reseller()
    example(location)
    policy = Policy.objects.create(
        code="reseller-support-2025",
        name="Reseller support",
        applies_to=BillingModel.INDIRECT_RESELLER,
        subject_level="location",
        effective_from=D(2025, 1, 1),
        deadline_anchor="support_plan_renewal",
        reminder_offsets=[30],
    )
    PolicyRequirement.objects.create(policy=policy, code="revenue", threshold_usd=Decimal("900"))
    PolicyRequirement.objects.create(
        policy=policy, code="support_plan", qualifying_plan_types=["asfp"]
    )
    ps.support_contract_create(
        partner=partner,
        plan_type=PlanType.ASFP,
        contract_number="S-1",
        start_date=D(2025, 4, 15),
        end_date=D(2026, 4, 14),
        is_paid=True,
        paid_on=D(2025, 4, 1),
    )
    found = _outlooks(AS_OF)
    with mock.patch.object(services, "rolling_off_cuts", return_value={}):
        assert _outlooks(AS_OF) == found
    by_policy = {
        key[0][2]: outlook for key, (_error, outlook) in found.items() if outlook is not None
    }
    reseller_policy = Policy.objects.get(code="csp-indirect-reseller-2024").pk
    # the example: 700.00 rolls off before 2025-02-01
    assert by_policy[reseller_policy][:3] == (
        Decimal("550.00"),
        Decimal("700.00"),
        Decimal("450.00"),
    )
    # renewal 2026-04-15, window from 2025-04-15: the 2025-03-10 line rolls off too
    assert by_policy[policy.pk][:3] == (Decimal("184.00"), Decimal("1066.00"), Decimal("716.00"))


def test_dates_at_the_end_of_the_calendar_make_one_error_not_a_failed_night():
    """A location onboarded on 9999-12-31 and a support plan paid until
    9999-12-31 (typos in an import): their deadlines leave the calendar
    before the scan's cuts are made too. Those subjects are errors; the
    night goes on, and the other location keeps its outlook."""
    _, location = reseller()
    example(location)
    typo = LocationFactory(partner=location.partner, onboarded_on=D(9999, 12, 31))
    book(typo, D(2025, 9, 1), "10.00")
    direct = direct_partner("1000077", "Direct KG", D(2019, 5, 3))
    LocationFactory(partner=direct)
    SupportContractFactory(
        partner=direct, start_date=D(2025, 1, 1), end_date=D(9999, 12, 31), paid_on=D(2025, 1, 1)
    )
    for as_of in (AS_OF, D(2025, 4, 15)):  # FY26 (anniversary), then 2021 (support renewal)
        summary = evaluation_run(as_of=as_of, save=False)
        by_pk = {
            (o.subject.partner_pk, o.subject.location_pk): o
            for o in summary.outputs
            if o.purpose == Purpose.COMPLIANCE
        }
        assert by_pk[(location.partner.pk, location.pk)].outlook is not None
        assert by_pk[(location.partner.pk, typo.pk)].result.status == "error"
    simulation_run(
        policy=Policy.objects.get(code="csp-direct-2021"), changes={}, as_of=D(2025, 4, 15)
    )
