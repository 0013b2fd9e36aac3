"""The engine end to end on the database: PRODUCT section 4 examples,
deadline outcomes, follow-up cases, history and the query budget."""

import datetime
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance.cases import followup_case_move, outcome_override
from compliance.models import (
    CaseKind,
    CaseState,
    DeadlineOutcome,
    Evaluation,
    FollowUpCase,
    OutcomeResult,
    Purpose,
)
from compliance.services import evaluation_run
from partners import services as ps
from partners.models import BillingModel, Location, Partner, PlanType, RevenueRecord
from tests.factories import StaffUserFactory

D = datetime.date
pytestmark = pytest.mark.django_db


def _direct_partner(manager=None, partner_id="1000001"):
    partner = ps.partner_create(
        partner_id=partner_id,
        name="Alpenblick IT GmbH",
        country="DE",
        onboarded_on=D(2019, 3, 10),
        billing_model=BillingModel.DIRECT_BILL,
        account_manager=manager,
    )
    location = ps.location_create(
        partner=partner, location_id=str(int(partner_id) + 5000000), country="DE",
        onboarded_on=D(2019, 3, 10),
    )  # fmt: skip
    return partner, location


@pytest.fixture
def example1():
    """Direct-bill; ASfP paid 2021-09-01..2022-08-31; USD 24,000 on the 20th
    of each month 2021-08-20 .. 2022-07-20."""
    manager = StaffUserFactory()
    partner, location = _direct_partner(manager)
    ps.support_contract_create(
        partner=partner, plan_type=PlanType.ASFP, contract_number="ASFP-1",
        start_date=D(2021, 9, 1), end_date=D(2022, 8, 31), paid_on=D(2021, 8, 25),
    )  # fmt: skip
    day = D(2021, 8, 20)
    while day <= D(2022, 7, 20):
        ps.revenue_record_create(
            location=location, revenue_date=day, amount=Decimal("24000"), currency="USD",
            reference=f"INV-{day:%Y%m}",
        )  # fmt: skip
        day = D(day.year + (day.month == 12), day.month % 12 + 1, 20)
    return partner, location, manager


@pytest.fixture
def example2(example1):
    partner, location, _manager = example1
    ps.revenue_record_create(
        location=location, revenue_date=D(2022, 8, 10), amount=Decimal("12000"), currency="USD",
        reference="INV-202208",
    )  # fmt: skip
    ps.support_contract_create(
        partner=partner, plan_type=PlanType.ASFP, contract_number="ASFP-2",
        start_date=D(2022, 9, 1), end_date=D(2023, 8, 31), paid_on=D(2022, 8, 30),
    )  # fmt: skip
    return example1


def _only(summary, purpose=Purpose.COMPLIANCE):
    outputs = [o for o in summary.outputs if o.purpose == purpose]
    assert len(outputs) == 1, outputs
    return outputs[0].result


def test_example_1_at_risk_with_shortfall(example1):
    result = _only(evaluation_run(as_of=D(2022, 8, 1)))
    assert result.ttm_revenue_usd == Decimal("288000")
    assert result.status == "at_risk"
    assert result.deadline == D(2022, 9, 1)
    assert result.days_to_deadline == 31
    assert result.unmet == ("revenue",)
    assert "USD 12,000.00 short" in result.explanation("en")
    row = Evaluation.objects.get(as_of=D(2022, 8, 1))
    assert row.status == "at_risk" and row.unmet == ["revenue"]
    assert row.policy.code == "csp-direct-2021"
    assert "USD 12,000.00 short" in row.explanation
    assert row.explanation_de  # German text stored too
    assert not DeadlineOutcome.objects.exists()


def test_example_2_deadline_today_missed_opens_case(example2):
    _partner, _location, manager = example2
    summary = evaluation_run(as_of=D(2022, 9, 1))
    result = _only(summary)
    assert result.ttm_revenue_usd == Decimal("276000")
    assert result.status == "non_compliant"
    assert result.deadline == D(2022, 9, 1) and result.days_to_deadline == 0
    outcome = DeadlineOutcome.objects.get()
    assert outcome.result == OutcomeResult.MISSED
    assert outcome.deadline == D(2022, 9, 1)
    assert outcome.ttm_revenue_usd == Decimal("276000")
    case = FollowUpCase.objects.get()
    assert case.outcome == outcome
    assert case.kind == CaseKind.TRANSITION_TO_INDIRECT
    assert case.state == CaseState.OPEN
    assert case.owner == manager
    assert summary.cases_opened == 1


def test_example_3_stays_non_compliant_next_deadline_a_year_on(example2):
    evaluation_run(as_of=D(2022, 9, 1))
    result = _only(evaluation_run(as_of=D(2022, 9, 2)))
    assert result.status == "non_compliant"
    assert result.deadline == D(2023, 9, 1)
    assert DeadlineOutcome.objects.count() == 1  # decided once
    assert FollowUpCase.objects.count() == 1


def test_catch_up_decides_from_figures_on_the_deadline(example2):
    """The job did not run on 2022-09-01. Revenue dated after the deadline
    must not rescue it: the outcome uses the window as of the deadline."""
    _partner, location, _ = example2
    ps.revenue_record_create(
        location=location, revenue_date=D(2022, 9, 3), amount=Decimal("50000"), currency="USD",
        reference="LATE",
    )  # fmt: skip
    summary = evaluation_run(as_of=D(2022, 9, 10))
    outcome = DeadlineOutcome.objects.get()
    assert outcome.deadline == D(2022, 9, 1)
    assert outcome.result == OutcomeResult.MISSED
    assert outcome.ttm_revenue_usd == Decimal("276000")
    assert outcome.decided_on == D(2022, 9, 10)
    # Today's figures alone would be compliant; the missed deadline wins.
    result = _only(summary)
    assert result.requirements["revenue"] is True
    assert result.status == "non_compliant"


def test_met_deadline_records_met_and_no_case(example2):
    _partner, location, _ = example2
    ps.revenue_record_create(
        location=location, revenue_date=D(2022, 8, 31), amount=Decimal("24000"), currency="USD",
        reference="TOPUP",
    )  # fmt: skip
    result = _only(evaluation_run(as_of=D(2022, 9, 1)))
    assert result.ttm_revenue_usd == Decimal("300000")  # exactly the threshold
    assert result.status == "compliant"
    assert DeadlineOutcome.objects.get().result == OutcomeResult.MET
    assert not FollowUpCase.objects.exists()


def test_rerun_same_day_overwrites_never_duplicates(example1):
    evaluation_run(as_of=D(2022, 8, 1))
    first = Evaluation.objects.get()
    summary = evaluation_run(as_of=D(2022, 8, 1))
    assert summary.rows_written == 0  # nothing changed, nothing written
    again = Evaluation.objects.get()
    assert again.pk == first.pk and again.computed_at == first.computed_at
    _partner, location, _ = example1
    ps.revenue_record_create(
        location=location, revenue_date=D(2022, 7, 31), amount=Decimal("12000"), currency="USD",
        reference="MORE",
    )  # fmt: skip
    summary = evaluation_run(as_of=D(2022, 8, 1))
    assert summary.rows_written == 1
    row = Evaluation.objects.get()
    assert row.status == "compliant" and row.ttm_revenue_usd == Decimal("300000")
    # History: another date is another row.
    evaluation_run(as_of=D(2022, 8, 2))
    assert Evaluation.objects.count() == 2


def test_missing_exchange_rate_is_an_error_naming_currency_and_month(example1):
    _partner, location, _ = example1
    ps.revenue_record_create(
        location=location, revenue_date=D(2022, 3, 31), amount=Decimal("1000"), currency="EUR",
        reference="EUR-1",
    )  # fmt: skip
    _other, _other_location = _direct_partner(partner_id="1000002")
    summary = evaluation_run(as_of=D(2022, 8, 1))
    by_partner = {o.subject.partner_id: o.result for o in summary.outputs}
    assert by_partner["1000001"].status == "error"
    assert by_partner["1000001"].ttm_revenue_usd is None  # never counted as zero
    assert "EUR 2022-03" in by_partner["1000001"].error
    assert by_partner["1000002"].status != "error"  # the run continued
    assert any("EUR 2022-03" in e for e in summary.errors)
    row = Evaluation.objects.get(subject_id="1000001")
    assert row.status == "error" and "EUR 2022-03" in row.error


def test_example_6_conversion_with_the_month_rate():
    partner = ps.partner_create(
        partner_id="2000001", name="Nordlicht Systems AG", country="AT",
        onboarded_on=D(2022, 11, 15),
    )  # fmt: skip
    location = ps.location_create(
        partner=partner, location_id="7000001", country="AT", onboarded_on=D(2022, 11, 15)
    )
    ps.exchange_rate_set(currency="EUR", month=D(2024, 3, 1), usd_per_unit=Decimal("1.0811"))
    ps.revenue_record_create(
        location=location, revenue_date=D(2024, 3, 31), amount=Decimal("1000.00"), currency="EUR",
        reference="E6",
    )  # fmt: skip
    result = _only(evaluation_run(as_of=D(2024, 10, 20)))
    assert result.ttm_revenue_usd == Decimal("1081.10")
    assert result.status == "compliant"


@pytest.mark.parametrize(
    ("as_of", "deadline", "days"),
    [(D(2024, 10, 20), D(2024, 11, 1), 12), (D(2024, 11, 1), D(2024, 11, 1), 0),
     (D(2024, 11, 2), D(2025, 11, 1), 364)],
)  # fmt: skip
def test_example_5_reseller_location_deadlines(as_of, deadline, days):
    partner = ps.partner_create(
        partner_id="2000002", name="Thames Cloud Ltd", country="GB", onboarded_on=D(2022, 11, 15)
    )
    ps.location_create(
        partner=partner, location_id="7000002", country="GB", onboarded_on=D(2022, 11, 15)
    )
    result = _only(evaluation_run(as_of=as_of))
    assert (result.deadline, result.days_to_deadline) == (deadline, days)


def test_reseller_location_missed_on_anniversary_opens_deauthorisation():
    manager = StaffUserFactory()
    partner = ps.partner_create(
        partner_id="2000003", name="Kleinkram IT", country="DE", onboarded_on=D(2022, 11, 15),
        account_manager=manager,
    )  # fmt: skip
    location = ps.location_create(
        partner=partner, location_id="7000003", country="DE", onboarded_on=D(2022, 11, 15)
    )
    ps.revenue_record_create(
        location=location, revenue_date=D(2024, 5, 1), amount=Decimal("999.99"), currency="USD"
    )
    evaluation_run(as_of=D(2024, 11, 1))
    outcome = DeadlineOutcome.objects.get()
    assert (outcome.subject_type, outcome.subject_id) == ("location", "7000003")
    assert outcome.result == OutcomeResult.MISSED
    case = FollowUpCase.objects.get()
    assert case.kind == CaseKind.DEAUTHORISATION and case.location == location
    # Staff finish the case: the location is de-authorised, status leaves non-compliant.
    followup_case_move(case=case, state=CaseState.IN_PROGRESS, user=manager)
    followup_case_move(case=case, state=CaseState.DONE, user=manager, on=D(2024, 11, 5))
    location.refresh_from_db()
    assert location.is_active is False and location.deauthorised_on == D(2024, 11, 5)
    result = _only(evaluation_run(as_of=D(2024, 11, 6)))
    assert result.status == "not_applicable"
    assert case.history.filter(history_user=manager).exists()


def test_case_done_moves_direct_bill_partner_to_indirect(example2):
    partner, _location, manager = example2
    evaluation_run(as_of=D(2022, 9, 1))
    case = FollowUpCase.objects.get()
    with pytest.raises(ValidationError):
        followup_case_move(case=case, state="bogus", user=manager)
    followup_case_move(case=case, state=CaseState.DONE, user=manager, notes="re-enrolled")
    partner.refresh_from_db()
    assert partner.billing_model == BillingModel.INDIRECT_RESELLER
    case.refresh_from_db()
    assert case.closed_at is not None and "re-enrolled" in case.notes
    with pytest.raises(ValidationError):
        followup_case_move(case=case, state=CaseState.OPEN, user=manager)


def test_override_ends_non_compliance_and_is_audited(example2):
    _partner, _location, manager = example2
    evaluation_run(as_of=D(2022, 9, 1))
    outcome = DeadlineOutcome.objects.get()
    with pytest.raises(ValidationError):
        outcome_override(outcome=outcome, user=manager, reason="  ")
    outcome_override(outcome=outcome, user=manager, reason="Microsoft granted an extension")
    result = _only(evaluation_run(as_of=D(2022, 9, 2)))
    # Back to the ordinary rules: revenue is short, next deadline a year on.
    assert result.status == "at_risk"
    record = outcome.history.latest()
    assert record.history_user == manager
    assert record.override_reason == "Microsoft granted an extension"


def test_direct_bill_ready_flag_for_indirect_resellers():
    partner = ps.partner_create(
        partner_id="2000004", name="Big Reseller AG", country="CH", onboarded_on=D(2018, 1, 10),
        agreement_signed_on=D(2020, 1, 1),
    )  # fmt: skip
    location = ps.location_create(
        partner=partner, location_id="7000004", country="CH", onboarded_on=D(2018, 1, 10)
    )
    ps.revenue_record_create(
        location=location, revenue_date=D(2025, 6, 1), amount=Decimal("1200000"), currency="USD"
    )
    summary = evaluation_run(as_of=D(2025, 11, 1))
    ready = _only(summary, Purpose.DIRECT_BILL_READY)
    assert ready.requirements["revenue"] is True
    assert "support_plan" in ready.unmet  # no plan: not ready yet
    compliance = [o for o in summary.outputs if o.purpose == Purpose.COMPLIANCE]
    assert [o.subject.subject_type for o in compliance] == ["location"]  # never a partner status
    stored = Evaluation.objects.get(purpose=Purpose.DIRECT_BILL_READY)
    assert stored.policy.code == "csp-direct-fy26"


def test_policy_changeover_2025_10_01(example1):
    _partner, _location, _ = example1
    on_30th = {o.subject.policy.code for o in evaluation_run(as_of=D(2025, 9, 30)).outputs}
    on_1st = {o.subject.policy.code for o in evaluation_run(as_of=D(2025, 10, 1)).outputs}
    assert on_30th == {"csp-direct-2021"}
    assert on_1st == {"csp-direct-fy26"}


def _bulk_partners(n, start):
    partners = Partner.objects.bulk_create(
        [
            Partner(
                partner_id=str(start + i),
                name=f"P{i}",
                country="DE",
                billing_model=BillingModel.INDIRECT_RESELLER if i % 5 else BillingModel.DIRECT_BILL,
                onboarded_on=D(2021, 3, 15),
            )
            for i in range(n)
        ]
    )
    locations = Location.objects.bulk_create(
        [
            Location(
                location_id=str(start + 10_000_000 + i),
                partner=p,
                country="DE",
                onboarded_on=D(2021, 3, 15),
            )
            for i, p in enumerate(partners)
        ]
    )
    RevenueRecord.objects.bulk_create(
        [
            RevenueRecord(
                location=loc,
                revenue_date=D(2024, m, 10),
                amount=Decimal(100 * (i % 4)),
                currency_id="EUR" if i % 3 else "USD",
                source="import",
                reference=f"R{m}",
            )
            for i, loc in enumerate(locations)
            for m in range(1, 13)
        ]
    )


def _count_queries(as_of):
    with CaptureQueriesContext(connection) as ctx:
        evaluation_run(as_of=as_of)
    return len(ctx.captured_queries)


def _clear():
    Evaluation.objects.all().delete()
    FollowUpCase.objects.all().delete()
    DeadlineOutcome.objects.all().delete()
    RevenueRecord.objects.all().delete()
    Location.objects.all().delete()
    Partner.objects.all().delete()


def test_query_count_is_the_same_for_5_and_500_partners():
    for m in range(1, 13):
        ps.exchange_rate_set(currency="EUR", month=D(2024, m, 1), usd_per_unit=Decimal("1.1"))
    counts = {}
    for n in (5, 500):
        _clear()
        _bulk_partners(n, 3_000_000)
        # First run decides the 2025-03-01 deadlines late (catch-up), the
        # second is an ordinary night.
        counts[n] = (_count_queries(D(2025, 3, 3)), _count_queries(D(2025, 3, 4)))
        assert Evaluation.objects.filter(as_of=D(2025, 3, 4), purpose="compliance").count() == n
        assert DeadlineOutcome.objects.count() == n - n // 5  # one per reseller location
    assert counts[5] == counts[500], counts


def test_evaluate_eligibility_json_lines(example1):
    out = StringIO()
    call_command("evaluate_eligibility", "--as-of", "2022-08-01", "--json", stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [
        {
            "subject_type": "partner",
            "subject_id": "1000001",
            "partner_id": "1000001",
            "policy": "csp-direct-2021",
            "as_of": "2022-08-01",
            "status": "at_risk",
            "ttm_revenue_usd": "288000.00",
            "threshold_usd": "300000.00",
            "deadline": "2022-09-01",
            "days_to_deadline": 31,
            "unmet": ["revenue"],
            # W 2021-09-01 .. 2022-08-31 drops the 2021-08-20 line; pace
            # May-July 2022: 72,000 / 92 days x 31 days = 24,260.87.
            "secured_usd": "264000.00",
            "rolling_off_usd": "24000.00",
            "needed_usd": "36000.00",
            "projected_usd": "288260.87",
            "outlook": "short",
        }
    ]


def test_evaluate_eligibility_table_and_errors(example1):
    out = StringIO()
    call_command(
        "evaluate_eligibility", "--as-of", "2022-08-01", "--partner", "1000001", stdout=out
    )
    text = out.getvalue()
    assert "at_risk" in text and "USD 288,000.00" in text and "1 evaluated on 2022-08-01" in text
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown partner id: 999"):
        call_command("evaluate_eligibility", "--partner", "999", stdout=StringIO())
    with pytest.raises(CommandError, match="not a date"):
        call_command("evaluate_eligibility", "--as-of", "2022-13-01", stdout=StringIO())


def test_outcomes_and_cases_of_a_run_have_their_created_history(example2):
    evaluation_run(as_of=D(2022, 9, 1))
    outcome = DeadlineOutcome.objects.get()
    case = FollowUpCase.objects.get()
    for row in (outcome, case):
        (created,) = row.history.all()
        assert created.history_type == "+"
        assert created.history_change_reason == "decided by the evaluation run"
    assert case.history.get().state == CaseState.OPEN
    # The next change shows before -> after.
    followup_case_move(case=case, state=CaseState.IN_PROGRESS, user=StaffUserFactory())
    newest, first = case.history.all()[:2]
    assert [c.field for c in newest.diff_against(first).changes] == ["state"]
    # A second run the same day adds nothing.
    evaluation_run(as_of=D(2022, 9, 1))
    assert outcome.history.count() == 1
