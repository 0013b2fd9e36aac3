"""Unit tests of the pure compliance rules (PRODUCT section 4).

Every worked example of section 4 is here with its exact numbers, followed by
the boundaries around each rule. No database: the rules take plain values.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from compliance import rules
from compliance.rules import (
    AT_RISK,
    COMPLIANT,
    ERROR,
    NON_COMPLIANT,
    NOT_APPLICABLE,
    ContractFacts,
    MissingRate,
    PolicySpec,
    SubjectFacts,
    Window,
    add_years,
    anniversary_month_deadline,
    anniversary_month_last_deadline,
    contract_counts_on,
    convert,
    deadline_outcome,
    direct_bill_ready,
    evaluate,
    format_date,
    format_usd,
    status_rank,
    support_plan_met,
    support_renewal_deadline,
    support_renewal_last_deadline,
    to_usd,
    ttm_sum,
    ttm_window,
)

D = Decimal
QUALIFYING = ("asfp", "psfp")
ZERO = D(0)
FY26_THRESHOLD = D("1000000.00")

# The three programme policies of PRODUCT section 2.
DIRECT_2021 = PolicySpec(
    code="csp-direct-2021",
    applies_to="direct_bill",
    subject_level="partner",
    effective_from=date(2021, 1, 1),
    effective_to=date(2025, 9, 30),
    deadline_anchor="support_plan_renewal",
    reminder_offsets=(90, 60, 30, 14, 7, 1),
    threshold_usd=D("300000.00"),
    qualifying_plan_types=QUALIFYING,
)
DIRECT_FY26 = PolicySpec(
    code="csp-direct-fy26",
    applies_to="direct_bill",
    subject_level="partner",
    effective_from=date(2025, 10, 1),
    effective_to=None,
    deadline_anchor="onboarding_anniversary_month",
    reminder_offsets=(90, 60, 30, 14, 7, 1),
    threshold_usd=D("1000000.00"),
    qualifying_plan_types=QUALIFYING,
    requires_designation=True,
    requires_agreement=True,
)
RESELLER_2024 = PolicySpec(
    code="csp-indirect-reseller-2024",
    applies_to="indirect_reseller",
    subject_level="location",
    effective_from=date(2024, 4, 1),
    effective_to=None,
    deadline_anchor="onboarding_anniversary_month",
    reminder_offsets=(90, 60, 30),
    threshold_usd=D("1000.00"),
    qualifying_plan_types=None,
)


def usd(amount: str | int, day: date) -> tuple[Decimal, str, date]:
    return (D(amount), "USD", day)


def asfp(start: date, end: date, *, paid: bool = True, paid_on: date | None = None):
    return ContractFacts("asfp", start, end, is_paid=paid, paid_on=paid_on)


def partner(ttm: Decimal | None = ZERO, **kwargs) -> SubjectFacts:
    values = {
        "subject_type": "partner",
        "billing_model": "direct_bill",
        "is_active": True,
        "onboarded_on": date(2015, 3, 10),
        "ttm_revenue_usd": ttm,
    }
    values.update(kwargs)
    return SubjectFacts(**values)


def location(ttm: Decimal | None = ZERO, **kwargs) -> SubjectFacts:
    values = {
        "subject_type": "location",
        "billing_model": "indirect_reseller",
        "is_active": True,
        "onboarded_on": date(2022, 11, 15),
        "ttm_revenue_usd": ttm,
    }
    values.update(kwargs)
    return SubjectFacts(**values)


def fy26_partner(ttm: Decimal | None = FY26_THRESHOLD, **kwargs) -> SubjectFacts:
    values = {
        "onboarded_on": date(2019, 11, 20),
        "contracts": (asfp(date(2025, 6, 1), date(2026, 5, 31)),),
        "designation_count": 1,
        "agreement_signed_on": date(2020, 1, 15),
    }
    values.update(kwargs)
    return partner(ttm, **values)


# --------------------------------------------------------------------------
# Policies: the specs above are exactly what the data migration ships
# --------------------------------------------------------------------------


def _spec_from_migration(data: dict) -> PolicySpec:
    requirements = {r["code"]: r for r in data["requirements"]}
    return PolicySpec(
        code=data["code"],
        applies_to=data["applies_to"],
        subject_level=data["subject_level"],
        effective_from=data["effective_from"],
        effective_to=data["effective_to"],
        deadline_anchor=data["deadline_anchor"],
        reminder_offsets=data["reminder_offsets"],
        threshold_usd=requirements.get("revenue", {}).get("threshold_usd"),
        qualifying_plan_types=requirements.get("support_plan", {}).get("qualifying_plan_types"),
        requires_designation="designation" in requirements,
        requires_agreement="agreement" in requirements,
    )


def test_policy_specs_match_the_shipped_policies():
    migration = importlib.import_module("compliance.migrations.0002_programme_policies")
    shipped = [_spec_from_migration(data) for data in migration.POLICIES]
    assert shipped == [DIRECT_2021, DIRECT_FY26, RESELLER_2024]


def test_plain_constants_match_the_model_choices():
    from compliance.models import DeadlineAnchor, RequirementCode, SubjectLevel
    from partners.models import BillingModel, PlanType

    assert set(rules.REQUIREMENT_ORDER) == set(RequirementCode.values)
    assert {rules.SUPPORT_PLAN_RENEWAL, rules.ANNIVERSARY_MONTH} == set(DeadlineAnchor.values)
    assert {rules.PARTNER, rules.LOCATION} == set(SubjectLevel.values)
    assert {rules.DIRECT_BILL, rules.INDIRECT_RESELLER} == set(BillingModel.values)
    assert set(rules.PLAN_SHORT_NAMES) == set(PlanType.values)
    assert set(rules.DEFAULT_QUALIFYING_PLAN_TYPES) <= set(PlanType.values)


def test_the_rules_import_no_django():
    """Every module of the rules package imports without loading Django (a
    fresh interpreter: this one has Django loaded already)."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import compliance.rules as rules\n"
        "for module in pkgutil.iter_modules(rules.__path__):\n"
        "    importlib.import_module(f'compliance.rules.{module.name}')\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'django'))\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter, a fixed script
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_policy_spec_turns_json_lists_into_tuples():
    spec = PolicySpec(
        code="x",
        applies_to="direct_bill",
        subject_level="partner",
        effective_from=date(2021, 1, 1),
        effective_to=None,
        deadline_anchor="support_plan_renewal",
        reminder_offsets=[30, 7],
        threshold_usd=None,
        qualifying_plan_types=["asfp"],
    )
    assert spec.reminder_offsets == (30, 7)
    assert spec.qualifying_plan_types == ("asfp",)
    assert spec.requirement_codes == ("support_plan",)


def test_policy_spec_rejects_an_unknown_deadline_anchor():
    with pytest.raises(ValueError, match="deadline anchor"):
        PolicySpec(
            code="x",
            applies_to="direct_bill",
            subject_level="partner",
            effective_from=date(2021, 1, 1),
            effective_to=None,
            deadline_anchor="whenever",
            reminder_offsets=(),
            threshold_usd=None,
            qualifying_plan_types=None,
        )


def test_requirement_codes_are_in_reporting_order():
    assert DIRECT_2021.requirement_codes == ("revenue", "support_plan")
    assert DIRECT_FY26.requirement_codes == ("revenue", "support_plan", "designation", "agreement")
    assert RESELLER_2024.requirement_codes == ("revenue",)


@pytest.mark.parametrize(
    ("policy", "day", "in_force"),
    [
        (DIRECT_2021, date(2020, 12, 31), False),
        (DIRECT_2021, date(2021, 1, 1), True),
        (DIRECT_2021, date(2025, 9, 30), True),
        (DIRECT_2021, date(2025, 10, 1), False),
        (DIRECT_FY26, date(2025, 9, 30), False),
        (DIRECT_FY26, date(2025, 10, 1), True),
        (DIRECT_FY26, date(2099, 12, 31), True),
        (RESELLER_2024, date(2024, 3, 31), False),
        (RESELLER_2024, date(2024, 4, 1), True),
    ],
)
def test_policy_in_force_on_is_inclusive_at_both_ends(policy, day, in_force):
    assert policy.in_force_on(day) is in_force


# --------------------------------------------------------------------------
# Dates and the TTM window (PRODUCT 4.1)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (date(2021, 6, 15), -1, date(2020, 6, 15)),
        (date(2021, 6, 15), 1, date(2022, 6, 15)),
        (date(2024, 2, 29), -1, date(2023, 2, 28)),
        (date(2024, 2, 29), 1, date(2025, 2, 28)),
        (date(2024, 2, 29), 4, date(2028, 2, 29)),
        (date(2020, 2, 29), 0, date(2020, 2, 29)),
        (date(2023, 2, 28), 1, date(2024, 2, 28)),
        (date(2023, 12, 31), 1, date(2024, 12, 31)),
    ],
)
def test_add_years(day, years, expected):
    assert add_years(day, years) == expected


@pytest.mark.parametrize(
    ("as_of", "start", "end", "days"),
    [
        # PRODUCT 4.1
        (date(2021, 6, 15), date(2020, 6, 15), date(2021, 6, 14), 365),
        # Worked example 4: leap day
        (date(2024, 2, 29), date(2023, 2, 28), date(2024, 2, 28), 366),
        (date(2024, 3, 1), date(2023, 3, 1), date(2024, 2, 29), 366),
        (date(2025, 2, 28), date(2024, 2, 28), date(2025, 2, 27), 366),
        (date(2025, 3, 1), date(2024, 3, 1), date(2025, 2, 28), 365),
        (date(2023, 1, 1), date(2022, 1, 1), date(2022, 12, 31), 365),
    ],
)
def test_ttm_window(as_of, start, end, days):
    window = ttm_window(as_of)
    assert window == Window(start, end)
    assert window.days == days


def test_worked_example_4_leap_day_window():
    assert ttm_window(date(2024, 2, 29)) == Window(date(2023, 2, 28), date(2024, 2, 28))


def test_window_contains_both_ends_only():
    window = Window(date(2020, 6, 15), date(2021, 6, 14))
    assert date(2020, 6, 15) in window
    assert date(2021, 6, 14) in window
    assert date(2020, 6, 14) not in window
    assert date(2021, 6, 15) not in window
    assert "2020-06-15" not in window


def test_format_date_by_language():
    assert format_date(date(2021, 9, 30)) == "2021-09-30"
    assert format_date(date(2021, 9, 30), "de") == "30.09.2021"


# --------------------------------------------------------------------------
# TTM sums: the window boundaries, credits, several locations
# --------------------------------------------------------------------------


def test_ttm_sum_counts_the_first_and_last_day_of_the_window_only():
    as_of = date(2021, 6, 15)
    window = ttm_window(as_of)
    lines = [
        usd(1, date(2020, 6, 14)),  # day before the window
        usd(10, date(2020, 6, 15)),  # first day
        usd(100, date(2021, 6, 14)),  # last day
        usd(1000, date(2021, 6, 15)),  # D itself: the day after the window
    ]
    assert ttm_sum(lines, window) == D(110)


def test_ttm_sum_around_leap_days():
    lines = [
        usd(1, date(2023, 2, 27)),
        usd(10, date(2023, 2, 28)),
        usd(100, date(2024, 2, 28)),
        usd(1000, date(2024, 2, 29)),
        usd(10000, date(2024, 3, 1)),
        usd(100000, date(2025, 2, 28)),
    ]
    assert ttm_sum(lines, ttm_window(date(2024, 2, 29))) == D(110)
    # 2025-02-28: 2024-02-28 .. 2025-02-27, including 29 Feb 2024
    assert ttm_sum(lines, ttm_window(date(2025, 2, 28))) == D(11100)
    # 2025-03-01: 2024-03-01 .. 2025-02-28
    assert ttm_sum(lines, ttm_window(date(2025, 3, 1))) == D(110000)


def test_credits_count_and_can_make_the_total_negative():
    window = ttm_window(date(2024, 6, 1))
    lines = [usd("1500.00", date(2024, 1, 10)), usd("-700.50", date(2024, 2, 10))]
    assert ttm_sum(lines, window) == D("799.50")
    lines.append(usd("-1000", date(2024, 3, 1)))
    total = ttm_sum(lines, window)
    assert total == D("-200.50")
    assert format_usd(total) == "USD -200.50"
    assert format_usd(total, "de") == "-200,50 USD"


def test_several_locations_are_summed_for_a_partner_level_policy():
    window = ttm_window(date(2022, 8, 1))
    first = [usd(150000, date(2022, 1, 5)), usd(-5000, date(2022, 2, 5))]
    second = [usd(100000, date(2021, 12, 5))]
    third = [(D(50000), "EUR", date(2022, 3, 5))]
    rates = {("EUR", date(2022, 3, 1)): D("1.1")}
    per_location = [ttm_sum(lines, window, rates) for lines in (first, second, third)]
    assert per_location == [D(145000), D(100000), D(55000)]
    total = ttm_sum(first + second + third, window, rates)
    assert total == sum(per_location) == D(300000)
    facts = partner(total, contracts=(asfp(date(2021, 9, 1), date(2022, 8, 31)),))
    assert evaluate(facts, DIRECT_2021, date(2022, 8, 1)).status == COMPLIANT


# --------------------------------------------------------------------------
# Currencies (worked example 6)
# --------------------------------------------------------------------------


def test_worked_example_6_eur_converts_with_the_rate_of_its_month():
    assert to_usd(D("1000.00"), D("1.0811")) == D("1081.10")
    lines = [(D("1000.00"), "EUR", date(2024, 3, 31))]
    total = convert(lines, {("EUR", date(2024, 3, 1)): D("1.0811")})
    assert total == D("1081.10")
    assert format_usd(total) == "USD 1,081.10"


def test_conversion_is_exact_until_display():
    amount = to_usd(D("0.004999"), D("1.00000001"))
    assert amount == D("0.00499900004999")
    assert format_usd(amount) == "USD 0.00"


def test_usd_needs_no_rate_and_others_use_their_own_month():
    lines = [
        usd("100.00", date(2024, 3, 31)),
        (D("100.00"), "EUR", date(2024, 3, 31)),
        (D("100.00"), "EUR", date(2024, 4, 1)),
        (D("100.00"), "GBP", date(2024, 4, 15)),
    ]
    rates = {
        ("EUR", date(2024, 3, 1)): D("1.08"),
        ("EUR", date(2024, 4, 1)): D("1.07"),
        ("GBP", date(2024, 4, 1)): D("1.25"),
        ("USD", date(2024, 3, 1)): D("99"),  # ignored: USD is always 1
    }
    assert convert(lines, rates) == D("100.00") + D("108.00") + D("107.00") + D("125.00")


def test_missing_rate_is_an_error_naming_currency_and_month():
    lines = [(D("1000.00"), "EUR", date(2024, 3, 31))]
    with pytest.raises(MissingRate) as caught:
        convert(lines, {("EUR", date(2024, 4, 1)): D("1.07")})
    assert caught.value.currency == "EUR"
    assert caught.value.month == date(2024, 3, 1)
    assert str(caught.value) == "no exchange rate for EUR 2024-03"


def test_missing_rate_names_the_earliest_gap_whatever_the_order_and_lists_all():
    lines = [
        (D(1), "GBP", date(2024, 5, 2)),
        (D(1), "EUR", date(2024, 4, 2)),
        (D(1), "CHF", date(2024, 4, 20)),
        (D(1), "EUR", date(2024, 4, 3)),
    ]
    for ordering in (lines, list(reversed(lines))):
        with pytest.raises(MissingRate) as caught:
            convert(ordering, {})
        assert (caught.value.currency, caught.value.month) == ("CHF", date(2024, 4, 1))
        assert caught.value.missing == (
            ("CHF", date(2024, 4, 1)),
            ("EUR", date(2024, 4, 1)),
            ("GBP", date(2024, 5, 1)),
        )
        assert str(caught.value) == (
            "no exchange rate for CHF 2024-04; also for EUR 2024-04, GBP 2024-05"
        )


def test_a_missing_rate_outside_the_window_does_not_matter():
    window = ttm_window(date(2024, 6, 1))
    lines = [usd(5, date(2024, 1, 1)), (D(1000), "EUR", date(2023, 5, 31))]
    assert ttm_sum(lines, window) == D(5)
    with pytest.raises(MissingRate):
        ttm_sum([*lines, (D(1), "EUR", date(2023, 6, 1))], window)


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        to_usd(1000.0, D("1.1"))
    with pytest.raises(TypeError):
        convert([(0.1, "USD", date(2024, 1, 1))], {})


@pytest.mark.parametrize(
    ("amount", "english", "german"),
    [
        (D("212400"), "USD 212,400.00", "212.400,00 USD"),
        (D("300000.00"), "USD 300,000.00", "300.000,00 USD"),
        (D("87600"), "USD 87,600.00", "87.600,00 USD"),
        (D("0.005"), "USD 0.01", "0,01 USD"),
        (D("2.675"), "USD 2.68", "2,68 USD"),
        (D("2.674999"), "USD 2.67", "2,67 USD"),
        (D("-0.004"), "USD 0.00", "0,00 USD"),
        (D("-1234.565"), "USD -1,234.57", "-1.234,57 USD"),
        (D("1234567.891"), "USD 1,234,567.89", "1.234.567,89 USD"),
        (D("999.995"), "USD 1,000.00", "1.000,00 USD"),
        (D(0), "USD 0.00", "0,00 USD"),
    ],
)
def test_format_usd_rounds_half_up_to_cents(amount, english, german):
    assert format_usd(amount) == english
    assert format_usd(amount, "de") == german


# --------------------------------------------------------------------------
# Support plans (PRODUCT 4.3) and their renewal deadlines (PRODUCT 4.4)
# --------------------------------------------------------------------------

TERM = asfp(date(2021, 9, 1), date(2022, 8, 31))


@pytest.mark.parametrize(
    ("contract", "day", "counts"),
    [
        (TERM, date(2021, 8, 31), False),  # before the start
        (TERM, date(2021, 9, 1), True),  # first day
        (TERM, date(2022, 8, 31), True),  # last day
        (TERM, date(2022, 9, 1), False),  # renewal day: the old term is over
        (asfp(date(2021, 9, 1), date(2022, 8, 31), paid=False), date(2022, 1, 1), False),
        (
            asfp(date(2021, 9, 1), date(2022, 8, 31), paid_on=date(2022, 1, 1)),
            date(2022, 1, 1),
            True,
        ),
        (
            asfp(date(2021, 9, 1), date(2022, 8, 31), paid_on=date(2022, 1, 2)),
            date(2022, 1, 1),
            False,
        ),  # paid later than the day
        (ContractFacts("psfp", date(2021, 9, 1), date(2022, 8, 31), True), date(2022, 1, 1), True),
        (
            ContractFacts("unified", date(2021, 9, 1), date(2022, 8, 31), True),
            date(2022, 1, 1),
            False,
        ),  # not a qualifying type
        (
            ContractFacts("other", date(2021, 9, 1), date(2022, 8, 31), True),
            date(2022, 1, 1),
            False,
        ),
    ],
)
def test_contract_counts_on(contract, day, counts):
    assert contract_counts_on(contract, day, QUALIFYING) is counts


def test_qualifying_types_come_from_the_policy():
    unified = ContractFacts("unified", date(2021, 9, 1), date(2022, 8, 31), True)
    assert contract_counts_on(unified, date(2022, 1, 1), ["unified"])
    assert support_plan_met([unified], date(2022, 1, 1), ("unified",))
    assert not support_plan_met([unified], date(2022, 1, 1), QUALIFYING)
    assert not support_plan_met([], date(2022, 1, 1), QUALIFYING)


def test_support_plan_met_with_several_contracts():
    lapsed = asfp(date(2019, 9, 1), date(2020, 8, 31))
    unpaid = asfp(date(2021, 9, 1), date(2022, 8, 31), paid=False)
    unified = ContractFacts("unified", date(2021, 9, 1), date(2022, 8, 31), True)
    day = date(2022, 1, 1)
    assert not support_plan_met([lapsed, unpaid, unified], day, QUALIFYING)
    assert support_plan_met([lapsed, unpaid, unified, TERM], day, QUALIFYING)


def test_support_plan_covering_names_the_contract_that_meets_the_requirement():
    """The one function the evaluation and the pages' support panel ask."""
    renewed = asfp(date(2022, 9, 1), date(2023, 8, 31))
    overlap = ContractFacts("psfp", date(2022, 1, 1), date(2023, 12, 31), True)
    paid_later = asfp(date(2021, 9, 1), date(2023, 12, 31), paid_on=date(2022, 6, 1))
    day = date(2022, 5, 1)
    assert rules.support_plan_covering([TERM, renewed, paid_later], day, QUALIFYING) is TERM
    assert rules.support_plan_covering([TERM, overlap], day, QUALIFYING) is overlap  # longest
    assert rules.support_plan_covering([TERM, overlap], day, ("asfp",)) is TERM
    assert rules.support_plan_covering([paid_later], day, QUALIFYING) is None
    assert rules.support_plan_covering([paid_later], date(2022, 6, 1), QUALIFYING) is paid_later


def test_plan_names_list_the_short_names():
    assert rules.plan_names(rules.DEFAULT_QUALIFYING_PLAN_TYPES) == "ASfP or PSfP"
    assert rules.plan_names(("asfp", "psfp", "unified"), "de") == "ASfP, PSfP oder Unified"
    assert rules.plan_names(("unified",)) == "Unified"


def test_renewal_deadline_is_the_day_after_the_term():
    assert support_renewal_deadline([TERM], date(2022, 8, 1), QUALIFYING) == date(2022, 9, 1)
    assert support_renewal_deadline([TERM], date(2022, 9, 1), QUALIFYING) == date(2022, 9, 1)
    assert support_renewal_deadline([TERM], date(2022, 9, 2), QUALIFYING) is None
    assert support_renewal_deadline([], date(2022, 9, 2), QUALIFYING) is None


def test_renewal_deadline_with_a_renewed_plan_moves_on_after_the_renewal_day():
    renewed = asfp(date(2022, 9, 1), date(2023, 8, 31))
    contracts = [renewed, TERM]
    assert support_renewal_deadline(contracts, date(2022, 8, 1), QUALIFYING) == date(2022, 9, 1)
    assert support_renewal_deadline(contracts, date(2022, 9, 1), QUALIFYING) == date(2022, 9, 1)
    assert support_renewal_deadline(contracts, date(2022, 9, 2), QUALIFYING) == date(2023, 9, 1)


def test_renewal_deadline_ignores_unpaid_late_paid_and_non_qualifying_contracts():
    day = date(2022, 3, 1)
    unpaid = asfp(date(2021, 6, 1), date(2022, 5, 31), paid=False)
    paid_later = asfp(date(2021, 7, 1), date(2022, 6, 30), paid_on=date(2022, 3, 2))
    unified = ContractFacts("unified", date(2021, 4, 1), date(2022, 3, 31), True)
    noise = [unpaid, paid_later, unified]
    assert support_renewal_deadline(noise, day, QUALIFYING) is None
    assert support_renewal_deadline([*noise, TERM], day, QUALIFYING) == date(2022, 9, 1)
    # Paid on the day itself counts; a day later it is the earliest.
    assert support_renewal_deadline(noise, date(2022, 3, 2), QUALIFYING) == date(2022, 7, 1)


def test_renewal_deadline_ignores_lapsed_plans():
    lapsed = asfp(date(2020, 9, 1), date(2021, 8, 31))
    assert support_renewal_deadline([lapsed], date(2022, 1, 1), QUALIFYING) is None
    assert support_renewal_last_deadline([lapsed], date(2022, 1, 1), QUALIFYING) == date(2021, 9, 1)


def test_renewal_last_deadline_is_the_most_recent_renewal_day_up_to_today():
    renewed = asfp(date(2022, 9, 1), date(2023, 8, 31))
    contracts = [TERM, renewed]
    assert support_renewal_last_deadline(contracts, date(2022, 8, 31), QUALIFYING) is None
    assert support_renewal_last_deadline(contracts, date(2022, 9, 1), QUALIFYING) == date(
        2022, 9, 1
    )
    assert support_renewal_last_deadline(contracts, date(2023, 9, 1), QUALIFYING) == date(
        2023, 9, 1
    )
    unpaid = asfp(date(2023, 9, 1), date(2024, 8, 31), paid=False)
    assert support_renewal_last_deadline([*contracts, unpaid], date(2025, 1, 1), QUALIFYING) == (
        date(2023, 9, 1)
    )


# --------------------------------------------------------------------------
# Onboarding anniversary month (PRODUCT 4.4; worked example 5)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "deadline"),
    [
        (date(2024, 10, 20), date(2024, 11, 1)),
        (date(2024, 11, 1), date(2024, 11, 1)),
        (date(2024, 11, 2), date(2025, 11, 1)),
        # The onboarding month itself is never a deadline.
        (date(2022, 11, 1), date(2023, 11, 1)),
        (date(2022, 11, 15), date(2023, 11, 1)),
        (date(2022, 11, 20), date(2023, 11, 1)),
        (date(2021, 1, 1), date(2023, 11, 1)),  # before onboarding
        (date(2023, 11, 1), date(2023, 11, 1)),
        (date(2023, 11, 2), date(2024, 11, 1)),
        (date(2024, 12, 31), date(2025, 11, 1)),
        (date(2025, 1, 1), date(2025, 11, 1)),
    ],
)
def test_anniversary_month_deadline(as_of, deadline):
    assert anniversary_month_deadline(date(2022, 11, 15), as_of) == deadline


@pytest.mark.parametrize(
    ("as_of", "last"),
    [
        (date(2022, 11, 20), None),
        (date(2023, 10, 31), None),
        (date(2023, 11, 1), date(2023, 11, 1)),
        (date(2024, 10, 31), date(2023, 11, 1)),
        (date(2024, 11, 1), date(2024, 11, 1)),
        (date(2024, 11, 2), date(2024, 11, 1)),
        (date(2025, 1, 1), date(2024, 11, 1)),
    ],
)
def test_anniversary_month_last_deadline(as_of, last):
    assert anniversary_month_last_deadline(date(2022, 11, 15), as_of) == last


@pytest.mark.parametrize(
    ("as_of", "deadline", "last"),
    [
        (date(2020, 2, 29), date(2021, 2, 1), None),
        (date(2021, 2, 1), date(2021, 2, 1), date(2021, 2, 1)),
        (date(2021, 2, 2), date(2022, 2, 1), date(2021, 2, 1)),
        (date(2024, 2, 29), date(2025, 2, 1), date(2024, 2, 1)),
        (date(2025, 2, 28), date(2026, 2, 1), date(2025, 2, 1)),
        (date(2025, 3, 1), date(2026, 2, 1), date(2025, 2, 1)),
    ],
)
def test_anniversary_of_a_leap_day_onboarding(as_of, deadline, last):
    onboarded = date(2020, 2, 29)
    assert anniversary_month_deadline(onboarded, as_of) == deadline
    assert anniversary_month_last_deadline(onboarded, as_of) == last


def test_anniversary_in_january_and_december():
    assert anniversary_month_deadline(date(2022, 1, 31), date(2022, 12, 31)) == date(2023, 1, 1)
    assert anniversary_month_deadline(date(2022, 12, 1), date(2023, 12, 2)) == date(2024, 12, 1)
    assert anniversary_month_last_deadline(date(2022, 12, 1), date(2023, 12, 1)) == date(
        2023, 12, 1
    )


# --------------------------------------------------------------------------
# Worked examples 1-3: direct-bill partner, support-plan renewal deadline
# --------------------------------------------------------------------------

EXAMPLE_LINES = [usd(24000, date(2021, 8, 20))] + [
    usd(24000, date(2021 + (month > 12), (month - 1) % 12 + 1, 20)) for month in range(9, 20)
]
EXAMPLE_TERM = asfp(date(2021, 9, 1), date(2022, 8, 31))
EXAMPLE_RENEWAL = asfp(date(2022, 9, 1), date(2023, 8, 31))


def example_facts(as_of: date, lines, contracts, **kwargs) -> SubjectFacts:
    return partner(ttm_sum(lines, ttm_window(as_of)), contracts=tuple(contracts), **kwargs)


def test_example_lines_are_twelve_monthly_payments():
    assert len(EXAMPLE_LINES) == 12
    assert EXAMPLE_LINES[0][2] == date(2021, 8, 20)
    assert EXAMPLE_LINES[-1][2] == date(2022, 7, 20)


def test_worked_example_1_at_risk_with_31_days_left():
    as_of = date(2022, 8, 1)
    assert ttm_window(as_of) == Window(date(2021, 8, 1), date(2022, 7, 31))
    result = evaluate(example_facts(as_of, EXAMPLE_LINES, [EXAMPLE_TERM]), DIRECT_2021, as_of)
    assert result.ttm_revenue_usd == D("288000.00")
    assert result.status == AT_RISK
    assert result.deadline == date(2022, 9, 1)
    assert result.days_to_deadline == 31
    assert result.unmet == ("revenue",)
    assert result.requirements == {"revenue": False, "support_plan": True}
    assert list(result.requirements) == ["revenue", "support_plan"]
    assert result.threshold_usd == D("300000.00")
    assert result.shortfall_usd == D("12000.00")
    assert result.last_deadline is None
    assert result.error is None
    assert "USD 12,000.00 short" in result.explanation()
    assert result.explanation() == (
        "TTM revenue USD 288,000.00 of USD 300,000.00 required (USD 12,000.00 short); "
        "support plan ASfP paid until 2022-08-31; deadline 2022-09-01 (31 days)"
    )
    assert result.explanation("de") == (
        "TTM-Umsatz 288.000,00 USD von 300.000,00 USD erforderlich (12.000,00 USD fehlen); "
        "Supportplan ASfP bezahlt bis 31.08.2022; Stichtag 01.09.2022 (31 Tage)"
    )


EXAMPLE_2_LINES = [*EXAMPLE_LINES, usd(12000, date(2022, 8, 10))]
EXAMPLE_2_CONTRACTS = [EXAMPLE_TERM, EXAMPLE_RENEWAL]


def test_worked_example_2_deadline_today_is_non_compliant_and_missed():
    as_of = date(2022, 9, 1)
    assert ttm_window(as_of) == Window(date(2021, 9, 1), date(2022, 8, 31))
    facts = example_facts(as_of, EXAMPLE_2_LINES, EXAMPLE_2_CONTRACTS)
    result = evaluate(facts, DIRECT_2021, as_of)
    assert result.ttm_revenue_usd == D("276000.00")  # the 2021-08-20 line dropped out
    assert result.requirements == {"revenue": False, "support_plan": True}  # renewed, paid
    assert result.deadline == date(2022, 9, 1)
    assert result.days_to_deadline == 0
    assert result.status == NON_COMPLIANT
    # The deadline is decided today: the outcome is "missed".
    assert result.last_deadline == date(2022, 9, 1)
    assert deadline_outcome(facts, DIRECT_2021, result.last_deadline) == "missed"
    assert result.explanation().endswith("deadline 2022-09-01 (today)")
    assert result.explanation("de").endswith("Stichtag 01.09.2022 (heute)")
    assert "USD 24,000.00 short" in result.explanation()


def test_worked_example_3_still_non_compliant_next_deadline_a_year_on():
    as_of = date(2022, 9, 2)
    facts = example_facts(
        as_of, EXAMPLE_2_LINES, EXAMPLE_2_CONTRACTS, unresolved_missed_deadline=date(2022, 9, 1)
    )
    result = evaluate(facts, DIRECT_2021, as_of)
    assert result.status == NON_COMPLIANT
    assert result.deadline == date(2023, 9, 1)
    assert result.days_to_deadline == 364
    assert result.last_deadline == date(2022, 9, 1)
    assert result.missed_deadline == date(2022, 9, 1)
    assert result.explanation() == (
        "missed deadline 2022-09-01 (passed 1 day ago), not resolved yet; "
        "TTM revenue USD 276,000.00 of USD 300,000.00 required (USD 24,000.00 short); "
        "support plan ASfP paid until 2023-08-31; deadline 2023-09-01 (364 days)"
    )
    assert result.explanation("de") == (
        "Stichtag 01.09.2022 verpasst (vor 1 Tag verstrichen), noch nicht erledigt; "
        "TTM-Umsatz 276.000,00 USD von 300.000,00 USD erforderlich (24.000,00 USD fehlen); "
        "Supportplan ASfP bezahlt bis 31.08.2023; Stichtag 01.09.2023 (364 Tage)"
    )
    # Without the open case it would be at risk for the next deadline.
    resolved = evaluate(
        example_facts(as_of, EXAMPLE_2_LINES, EXAMPLE_2_CONTRACTS), DIRECT_2021, as_of
    )
    assert resolved.status == AT_RISK


def test_a_missed_deadline_keeps_a_subject_non_compliant_even_when_every_requirement_is_met():
    as_of = date(2022, 10, 15)
    facts = partner(
        D("350000"),
        contracts=(EXAMPLE_RENEWAL,),
        unresolved_missed_deadline=date(2022, 9, 1),
    )
    result = evaluate(facts, DIRECT_2021, as_of)
    assert result.unmet == ()
    assert result.status == NON_COMPLIANT
    assert result.explanation().startswith(
        "missed deadline 2022-09-01 (passed 44 days ago), not resolved yet; "
    )
    assert "vor 44 Tagen verstrichen" in result.explanation("de")
    assert evaluate(
        partner(D("350000"), contracts=(EXAMPLE_RENEWAL,)), DIRECT_2021, as_of
    ).status == (COMPLIANT)


def test_deadline_outcome_met_when_everything_is_met_on_the_deadline():
    facts = partner(D("300000.00"), contracts=(EXAMPLE_TERM, EXAMPLE_RENEWAL))
    assert deadline_outcome(facts, DIRECT_2021, date(2022, 9, 1)) == "met"
    # An older open case does not decide a later deadline.
    older = partner(
        D("300000.00"),
        contracts=(EXAMPLE_TERM, EXAMPLE_RENEWAL),
        unresolved_missed_deadline=date(2021, 9, 1),
    )
    assert deadline_outcome(older, DIRECT_2021, date(2022, 9, 1)) == "met"
    # Not renewed: the old term no longer covers the renewal day.
    lapsing = partner(D("300000.00"), contracts=(EXAMPLE_TERM,))
    assert deadline_outcome(lapsing, DIRECT_2021, date(2022, 9, 1)) == "missed"


def test_deadline_outcome_is_undecided_without_revenue_or_outside_the_policy():
    no_rate = partner(None, revenue_error="no exchange rate for EUR 2022-08")
    assert deadline_outcome(no_rate, DIRECT_2021, date(2022, 9, 1)) is None
    assert deadline_outcome(partner(D(0)), DIRECT_2021, date(2020, 9, 1)) is None


def test_not_renewed_plan_on_the_renewal_day_fails_the_support_requirement():
    as_of = date(2022, 9, 1)
    result = evaluate(partner(D("400000"), contracts=(EXAMPLE_TERM,)), DIRECT_2021, as_of)
    assert result.requirements == {"revenue": True, "support_plan": False}
    assert result.deadline == as_of
    assert result.status == NON_COMPLIANT
    assert result.explanation() == (
        "TTM revenue USD 400,000.00 of USD 300,000.00 required (met); "
        "no active paid support plan (ASfP or PSfP): ASfP ended 2022-08-31; "
        "deadline 2022-09-01 (today)"
    )


def test_no_renewal_date_means_no_deadline_and_non_compliant():
    as_of = date(2022, 9, 2)
    result = evaluate(partner(D("400000"), contracts=(EXAMPLE_TERM,)), DIRECT_2021, as_of)
    assert result.deadline is None
    assert result.days_to_deadline is None
    assert result.status == NON_COMPLIANT
    assert result.last_deadline == date(2022, 9, 1)
    assert result.explanation().endswith("no deadline: no paid qualifying support plan to renew")
    assert result.explanation("de").endswith(
        "kein Stichtag: kein bezahlter qualifizierender Supportplan zum Verlängern"
    )


def test_no_support_plan_at_all():
    result = evaluate(partner(D("400000")), DIRECT_2021, date(2021, 3, 1))
    assert result.status == NON_COMPLIANT
    assert result.unmet == ("support_plan",)
    assert result.explanation() == (
        "TTM revenue USD 400,000.00 of USD 300,000.00 required (met); "
        "no active paid support plan (ASfP or PSfP); "
        "no deadline: no paid qualifying support plan to renew"
    )
    assert result.explanation("de") == (
        "TTM-Umsatz 400.000,00 USD von 300.000,00 USD erforderlich (erfüllt); "
        "kein aktiver bezahlter Supportplan (ASfP oder PSfP); "
        "kein Stichtag: kein bezahlter qualifizierender Supportplan zum Verlängern"
    )


def test_compliant_with_every_requirement_met():
    as_of = date(2022, 8, 1)
    result = evaluate(partner(D("300000"), contracts=(EXAMPLE_TERM,)), DIRECT_2021, as_of)
    assert result.status == COMPLIANT
    assert result.unmet == ()
    assert result.shortfall_usd == D(0)
    assert result.deadline == date(2022, 9, 1)
    assert result.explanation() == (
        "TTM revenue USD 300,000.00 of USD 300,000.00 required (met); "
        "support plan ASfP paid until 2022-08-31; deadline 2022-09-01 (31 days)"
    )


# --------------------------------------------------------------------------
# Threshold boundaries (PRODUCT 4.2)
# --------------------------------------------------------------------------

AS_OF = date(2022, 8, 1)


@pytest.mark.parametrize(
    ("ttm", "met", "shortfall", "text"),
    [
        (D("300000.00"), True, D("0"), "(met)"),
        (D("300000.01"), True, D("0"), "(met)"),
        (D("299999.99"), False, D("0.01"), "(USD 0.01 short)"),
        # No rounding before comparing: a fraction of a cent short is short,
        # even if it displays as the threshold.
        (D("299999.999"), False, D("0.001"), "USD 300,000.00 of USD 300,000.00"),
        (D("-100"), False, D("300100"), "TTM revenue USD -100.00"),
    ],
)
def test_threshold_is_met_at_or_above(ttm, met, shortfall, text):
    result = evaluate(partner(ttm, contracts=(EXAMPLE_TERM,)), DIRECT_2021, AS_OF)
    assert result.requirements["revenue"] is met
    assert result.status == (COMPLIANT if met else AT_RISK)
    assert result.shortfall_usd == shortfall
    assert text in result.explanation()


def test_revenue_on_the_window_edges_decides_the_threshold():
    as_of = date(2022, 8, 1)
    base = [usd("299000", date(2022, 1, 10))]
    first_day = [*base, usd("1000", date(2021, 8, 1))]
    day_before = [*base, usd("1000", date(2021, 7, 31))]
    last_day = [*base, usd("1000", date(2022, 7, 31))]
    on_as_of = [*base, usd("1000", date(2022, 8, 1))]
    contracts = [EXAMPLE_TERM]
    for lines, status in [
        (first_day, COMPLIANT),
        (day_before, AT_RISK),
        (last_day, COMPLIANT),
        (on_as_of, AT_RISK),
    ]:
        assert evaluate(example_facts(as_of, lines, contracts), DIRECT_2021, as_of).status == (
            status
        )


# --------------------------------------------------------------------------
# Several contracts
# --------------------------------------------------------------------------


def test_a_plan_paid_only_after_as_of_does_not_count_yet():
    as_of = date(2022, 9, 10)
    late = asfp(date(2022, 9, 1), date(2023, 8, 31), paid_on=date(2022, 9, 20))
    facts = partner(D("400000"), contracts=(EXAMPLE_TERM, late))
    result = evaluate(facts, DIRECT_2021, as_of)
    assert result.requirements["support_plan"] is False
    assert result.deadline is None  # the late one is not paid yet, the old one passed
    assert result.status == NON_COMPLIANT
    assert "support plan ASfP (2022-09-01 to 2023-08-31) not paid" in result.explanation()
    assert "Supportplan ASfP (01.09.2022 bis 31.08.2023) nicht bezahlt" in result.explanation("de")
    later = evaluate(facts, DIRECT_2021, date(2022, 9, 20))
    assert later.requirements["support_plan"] is True
    assert later.deadline == date(2023, 9, 1)


def test_an_unpaid_renewal_is_not_a_renewal():
    as_of = date(2022, 8, 15)
    unpaid = asfp(date(2022, 9, 1), date(2023, 8, 31), paid=False)
    facts = partner(D("400000"), contracts=(EXAMPLE_TERM, unpaid))
    assert evaluate(facts, DIRECT_2021, as_of).status == COMPLIANT
    on_renewal = evaluate(facts, DIRECT_2021, date(2022, 9, 1))
    assert on_renewal.status == NON_COMPLIANT
    assert "not paid" in on_renewal.explanation()


def test_a_non_qualifying_plan_does_not_meet_the_requirement_nor_set_a_deadline():
    unified = ContractFacts("unified", date(2022, 1, 1), date(2022, 12, 31), True)
    result = evaluate(partner(D("400000"), contracts=(unified,)), DIRECT_2021, date(2022, 6, 1))
    assert result.requirements["support_plan"] is False
    assert result.deadline is None
    assert result.status == NON_COMPLIANT
    assert "no active paid support plan (ASfP or PSfP): Unified does not qualify" in (
        result.explanation()
    )
    assert "Unified zählt nicht" in result.explanation("de")


def test_a_paid_plan_starting_later_gives_a_deadline_but_not_the_requirement():
    future = asfp(date(2022, 10, 1), date(2023, 9, 30))
    result = evaluate(partner(D("400000"), contracts=(future,)), DIRECT_2021, date(2022, 6, 1))
    assert result.requirements["support_plan"] is False
    # Literally PRODUCT 4.4: the earliest end + 1 of a paid qualifying plan.
    assert result.deadline == date(2023, 10, 1)
    assert result.status == AT_RISK
    assert "no active paid support plan (ASfP or PSfP): ASfP starts 2022-10-01" in (
        result.explanation()
    )
    assert "ASfP beginnt am 01.10.2022" in result.explanation("de")


def test_the_latest_covering_plan_is_named_and_the_earliest_renewal_is_the_deadline():
    overlapping = ContractFacts("psfp", date(2022, 3, 1), date(2023, 2, 28), True)
    facts = partner(D("400000"), contracts=(EXAMPLE_TERM, overlapping))
    result = evaluate(facts, DIRECT_2021, date(2022, 6, 1))
    assert result.deadline == date(2022, 9, 1)
    assert "support plan PSfP paid until 2023-02-28" in result.explanation()


def test_a_custom_support_policy_without_qualifying_types_uses_asfp_and_psfp_for_deadlines():
    policy = PolicySpec(
        code="revenue-only",
        applies_to="direct_bill",
        subject_level="partner",
        effective_from=date(2021, 1, 1),
        effective_to=None,
        deadline_anchor="support_plan_renewal",
        reminder_offsets=(30,),
        threshold_usd=D("100"),
        qualifying_plan_types=None,
    )
    psfp = ContractFacts("psfp", date(2022, 1, 1), date(2022, 12, 31), True)
    unified = ContractFacts("unified", date(2022, 1, 1), date(2022, 6, 30), True)
    result = evaluate(partner(D("50"), contracts=(psfp, unified)), policy, date(2022, 6, 1))
    assert result.requirements == {"revenue": False}
    assert result.deadline == date(2023, 1, 1)
    assert result.status == AT_RISK


# --------------------------------------------------------------------------
# Worked example 5: reseller location, anniversary month
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "deadline", "days", "last"),
    [
        (date(2024, 10, 20), date(2024, 11, 1), 12, None),
        (date(2024, 11, 1), date(2024, 11, 1), 0, date(2024, 11, 1)),
        (date(2024, 11, 2), date(2025, 11, 1), 364, date(2024, 11, 1)),
    ],
)
def test_worked_example_5_reseller_location_deadlines(as_of, deadline, days, last):
    result = evaluate(location(D("999.99")), RESELLER_2024, as_of)
    assert result.deadline == deadline
    assert result.days_to_deadline == days
    # 2023-11-01 was an anniversary, but before the policy took effect.
    assert result.last_deadline == last
    assert result.unmet == ("revenue",)
    assert result.status == (AT_RISK if days else NON_COMPLIANT)


def test_worked_example_5_explanations():
    result = evaluate(location(D("250.00")), RESELLER_2024, date(2024, 10, 20))
    assert result.explanation() == (
        "TTM revenue USD 250.00 of USD 1,000.00 required (USD 750.00 short); "
        "deadline 2024-11-01 (12 days)"
    )
    assert result.explanation("de") == (
        "TTM-Umsatz 250,00 USD von 1.000,00 USD erforderlich (750,00 USD fehlen); "
        "Stichtag 01.11.2024 (12 Tage)"
    )
    today = evaluate(location(D("1000.00")), RESELLER_2024, date(2024, 11, 1))
    assert today.status == COMPLIANT
    assert today.explanation() == (
        "TTM revenue USD 1,000.00 of USD 1,000.00 required (met); deadline 2024-11-01 (today)"
    )
    assert deadline_outcome(location(D("1000.00")), RESELLER_2024, date(2024, 11, 1)) == "met"
    one = evaluate(location(D("1")), RESELLER_2024, date(2024, 10, 31))
    assert one.explanation().endswith("deadline 2024-11-01 (1 day)")
    assert one.explanation("de").endswith("Stichtag 01.11.2024 (1 Tag)")


def test_reseller_location_onboarded_on_a_leap_day():
    facts = location(D("10"), onboarded_on=date(2020, 2, 29))
    on_leap_day = evaluate(facts, RESELLER_2024, date(2024, 4, 1))
    assert on_leap_day.deadline == date(2025, 2, 1)
    assert on_leap_day.last_deadline is None  # 2024-02-01 is before 2024-04-01
    assert evaluate(facts, RESELLER_2024, date(2025, 2, 28)).deadline == date(2026, 2, 1)
    assert evaluate(facts, RESELLER_2024, date(2025, 3, 1)).last_deadline == date(2025, 2, 1)


def test_a_newly_onboarded_location_is_not_due_in_its_onboarding_month():
    facts = location(D("0"), onboarded_on=date(2024, 5, 1))
    result = evaluate(facts, RESELLER_2024, date(2024, 5, 1))
    assert result.deadline == date(2025, 5, 1)
    assert result.last_deadline is None
    assert result.status == AT_RISK


# --------------------------------------------------------------------------
# FY26 policy: designation and agreement; policy changeover
# --------------------------------------------------------------------------


def test_fy26_all_requirements_met():
    result = evaluate(fy26_partner(designation_count=2), DIRECT_FY26, date(2025, 10, 15))
    assert result.status == COMPLIANT
    assert list(result.requirements) == ["revenue", "support_plan", "designation", "agreement"]
    assert result.deadline == date(2025, 11, 1)
    assert result.days_to_deadline == 17
    assert result.last_deadline is None  # 2024-11-01 was under the previous policy
    assert result.explanation() == (
        "TTM revenue USD 1,000,000.00 of USD 1,000,000.00 required (met); "
        "support plan ASfP paid until 2026-05-31; 2 Solutions Partner designations; "
        "Microsoft Partner Agreement signed on 2020-01-15; deadline 2025-11-01 (17 days)"
    )
    assert result.explanation("de") == (
        "TTM-Umsatz 1.000.000,00 USD von 1.000.000,00 USD erforderlich (erfüllt); "
        "Supportplan ASfP bezahlt bis 31.05.2026; 2 Solutions Partner-Bezeichnungen; "
        "Microsoft Partner Agreement unterzeichnet am 15.01.2020; Stichtag 01.11.2025 (17 Tage)"
    )


def test_fy26_every_requirement_unmet_is_listed_in_order():
    facts = fy26_partner(
        D("999999.99"), contracts=(), designation_count=0, agreement_signed_on=None
    )
    result = evaluate(facts, DIRECT_FY26, date(2025, 10, 15))
    assert result.unmet == ("revenue", "support_plan", "designation", "agreement")
    assert result.status == AT_RISK  # the anniversary deadline is ahead
    assert result.explanation() == (
        "TTM revenue USD 999,999.99 of USD 1,000,000.00 required (USD 0.01 short); "
        "no active paid support plan (ASfP or PSfP); no Solutions Partner designation; "
        "Microsoft Partner Agreement not signed; deadline 2025-11-01 (17 days)"
    )
    assert result.explanation("de") == (
        "TTM-Umsatz 999.999,99 USD von 1.000.000,00 USD erforderlich (0,01 USD fehlen); "
        "kein aktiver bezahlter Supportplan (ASfP oder PSfP); "
        "keine Solutions Partner-Bezeichnung; "
        "Microsoft Partner Agreement nicht unterzeichnet; Stichtag 01.11.2025 (17 Tage)"
    )


def test_fy26_one_designation_and_agreement_signed_on_the_day():
    as_of = date(2025, 11, 1)
    facts = fy26_partner(designation_count=1, agreement_signed_on=as_of)
    result = evaluate(facts, DIRECT_FY26, as_of)
    assert result.requirements["designation"] is True
    assert result.requirements["agreement"] is True
    assert "1 Solutions Partner designation;" in result.explanation()
    assert "1 Solutions Partner-Bezeichnung;" in result.explanation("de")
    assert result.last_deadline == as_of
    assert result.status == COMPLIANT


def test_fy26_agreement_signed_after_as_of_is_not_signed_yet():
    facts = fy26_partner(agreement_signed_on=date(2025, 11, 2))
    result = evaluate(facts, DIRECT_FY26, date(2025, 11, 1))
    assert result.unmet == ("agreement",)
    assert result.status == NON_COMPLIANT  # deadline today
    assert "Microsoft Partner Agreement not signed yet (dated 2025-11-02)" in result.explanation()
    assert "noch nicht unterzeichnet (datiert 02.11.2025)" in result.explanation("de")


def test_policy_changeover_on_2025_10_01():
    facts = partner(
        D("500000"),
        onboarded_on=date(2019, 11, 20),
        contracts=(asfp(date(2025, 6, 1), date(2026, 5, 31)),),
        designation_count=1,
        agreement_signed_on=date(2020, 1, 15),
    )
    last_old = evaluate(facts, DIRECT_2021, date(2025, 9, 30))
    assert last_old.status == COMPLIANT
    assert last_old.deadline == date(2026, 6, 1)
    first_new_too_early = evaluate(facts, DIRECT_FY26, date(2025, 9, 30))
    assert first_new_too_early.status == NOT_APPLICABLE

    old_gone = evaluate(facts, DIRECT_2021, date(2025, 10, 1))
    assert old_gone.status == NOT_APPLICABLE
    assert old_gone.explanation() == (
        "not applicable: policy csp-direct-2021 is in force from 2021-01-01 to 2025-09-30"
    )
    assert old_gone.explanation("de") == (
        "nicht anwendbar: Richtlinie csp-direct-2021 gilt vom 01.01.2021 bis 30.09.2025"
    )
    first_new = evaluate(facts, DIRECT_FY26, date(2025, 10, 1))
    assert first_new.status == AT_RISK
    assert first_new.unmet == ("revenue",)
    assert first_new.shortfall_usd == D("500000")
    assert first_new.deadline == date(2025, 11, 1)
    assert first_new.days_to_deadline == 31
    assert first_new.last_deadline is None
    assert evaluate(facts, DIRECT_FY26, date(2025, 9, 30)).explanation() == (
        "not applicable: policy csp-direct-fy26 is in force from 2025-10-01"
    )
    assert evaluate(facts, DIRECT_FY26, date(2025, 9, 30)).explanation("de") == (
        "nicht anwendbar: Richtlinie csp-direct-fy26 gilt ab 01.10.2025"
    )


def test_an_onboarding_anniversary_before_the_policy_took_effect_is_never_its_deadline():
    facts = fy26_partner(onboarded_on=date(2015, 3, 10))
    assert evaluate(facts, DIRECT_FY26, date(2025, 10, 1)).last_deadline is None
    assert evaluate(facts, DIRECT_FY26, date(2026, 2, 28)).last_deadline is None
    assert evaluate(facts, DIRECT_FY26, date(2026, 3, 1)).last_deadline == date(2026, 3, 1)
    # A renewal date before 2021-01-01 is not csp-direct-2021's either.
    old_plan = partner(D(0), contracts=(asfp(date(2020, 1, 1), date(2020, 12, 30)),))
    assert evaluate(old_plan, DIRECT_2021, date(2021, 1, 1)).last_deadline is None
    edge = partner(D(0), contracts=(asfp(date(2020, 1, 1), date(2020, 12, 31)),))
    assert evaluate(edge, DIRECT_2021, date(2021, 1, 1)).last_deadline == date(2021, 1, 1)


def test_an_ended_policy_still_names_its_last_deadline_for_a_late_decision():
    # Renewal day 2025-09-20 under csp-direct-2021; the job did not run until
    # after the policy ended. The deadline still needs its outcome.
    facts = partner(D(0), contracts=(asfp(date(2024, 9, 20), date(2025, 9, 19)),))
    result = evaluate(facts, DIRECT_2021, date(2025, 10, 3))
    assert result.status == NOT_APPLICABLE
    assert result.last_deadline == date(2025, 9, 20)
    assert deadline_outcome(facts, DIRECT_2021, result.last_deadline) == "missed"
    # A renewal day after the policy ended is never its deadline.
    after = partner(D(0), contracts=(asfp(date(2024, 10, 5), date(2025, 10, 4)),))
    assert evaluate(after, DIRECT_2021, date(2025, 10, 10)).last_deadline is None
    # Subjects the policy does not apply to get none.
    moved = partner(
        D(0),
        billing_model="indirect_reseller",
        contracts=(asfp(date(2024, 9, 20), date(2025, 9, 19)),),
    )
    assert evaluate(moved, DIRECT_2021, date(2025, 10, 3)).last_deadline is None


def test_a_renewal_after_the_policy_ends_is_still_shown_as_the_deadline():
    facts = partner(D(0), contracts=(asfp(date(2024, 11, 1), date(2025, 10, 31)),))
    result = evaluate(facts, DIRECT_2021, date(2025, 9, 15))
    assert result.deadline == date(2025, 11, 1)
    assert result.status == AT_RISK


# --------------------------------------------------------------------------
# Not applicable and error
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "policy", "as_of", "reason", "english", "german"),
    [
        (
            location(D(5000), billing_model="direct_bill"),
            RESELLER_2024,
            date(2024, 6, 1),
            "billing_model",
            "not applicable: the policy is for indirect resellers",
            "nicht anwendbar: die Richtlinie gilt für indirekte Reseller",
        ),
        (
            partner(D(5000), billing_model="indirect_reseller"),
            DIRECT_2021,
            date(2022, 6, 1),
            "billing_model",
            "not applicable: the policy is for direct-bill partners",
            "nicht anwendbar: die Richtlinie gilt für Direct-Bill-Partner",
        ),
        (
            partner(D(5000), is_active=False),
            DIRECT_2021,
            date(2022, 6, 1),
            "inactive",
            "not applicable: the partner is not active",
            "nicht anwendbar: der Partner ist nicht aktiv",
        ),
        (
            location(D(5000), is_active=False),
            RESELLER_2024,
            date(2024, 6, 1),
            "inactive",
            "not applicable: the location is not active",
            "nicht anwendbar: der Standort ist nicht aktiv",
        ),
        (
            location(D(5000)),
            RESELLER_2024,
            date(2024, 3, 31),
            "not_in_force",
            "not applicable: policy csp-indirect-reseller-2024 is in force from 2024-04-01",
            "nicht anwendbar: Richtlinie csp-indirect-reseller-2024 gilt ab 01.04.2024",
        ),
        (
            partner(D(5000), billing_model="indirect_reseller"),
            RESELLER_2024,
            date(2024, 6, 1),
            "subject_level",
            "not applicable: the policy is evaluated per location",
            "nicht anwendbar: die Richtlinie wird je Standort bewertet",
        ),
        (
            location(D(5000), billing_model="direct_bill"),
            DIRECT_2021,
            date(2022, 6, 1),
            "subject_level",
            "not applicable: the policy is evaluated per partner",
            "nicht anwendbar: die Richtlinie wird je Partner bewertet",
        ),
    ],
)
def test_not_applicable(facts, policy, as_of, reason, english, german):
    result = evaluate(facts, policy, as_of)
    assert result.status == NOT_APPLICABLE
    assert result.not_applicable_reason == reason
    assert result.requirements == {}
    assert result.unmet == ()
    assert result.deadline is None
    assert result.days_to_deadline is None
    assert result.last_deadline is None
    assert result.explanation() == english
    assert result.explanation("de") == german


def test_not_applicable_wins_over_a_missing_rate():
    facts = partner(None, revenue_error="no exchange rate for EUR 2024-03", is_active=False)
    assert evaluate(facts, DIRECT_2021, date(2024, 4, 1)).status == NOT_APPLICABLE


def test_missing_revenue_is_an_error_never_zero():
    as_of = date(2024, 4, 10)
    facts = location(None, revenue_error=str(MissingRate("EUR", date(2024, 3, 15))))
    result = evaluate(facts, RESELLER_2024, as_of)
    assert result.status == ERROR
    assert result.error == "no exchange rate for EUR 2024-03"
    assert result.ttm_revenue_usd is None
    assert result.shortfall_usd is None
    assert result.requirements == {}  # unknown, not unmet
    assert result.unmet == ()
    assert result.deadline == date(2024, 11, 1)
    assert result.explanation() == (
        "no exchange rate for EUR 2024-03; deadline 2024-11-01 (205 days)"
    )
    assert result.explanation("de") == (
        "kein Wechselkurs für EUR 2024-03; Stichtag 01.11.2024 (205 Tage)"
    )


def test_error_keeps_the_other_requirements_and_mentions_an_open_missed_deadline():
    facts = fy26_partner(
        None,
        revenue_error="no exchange rate for EUR 2025-12; also for CHF 2026-01",
        designation_count=0,
        unresolved_missed_deadline=date(2025, 11, 1),
    )
    result = evaluate(facts, DIRECT_FY26, date(2026, 1, 15))
    assert result.status == ERROR
    assert result.requirements == {"support_plan": True, "designation": False, "agreement": True}
    assert result.unmet == ("designation",)
    assert result.explanation() == (
        "missed deadline 2025-11-01 (passed 75 days ago), not resolved yet; "
        "no exchange rate for EUR 2025-12; also for CHF 2026-01; "
        "support plan ASfP paid until 2026-05-31; no Solutions Partner designation; "
        "Microsoft Partner Agreement signed on 2020-01-15; deadline 2026-11-01 (290 days)"
    )
    assert result.explanation("de").startswith(
        "Stichtag 01.11.2025 verpasst (vor 75 Tagen verstrichen), noch nicht erledigt; "
        "kein Wechselkurs für EUR 2025-12; außerdem für CHF 2026-01; "
    )


def test_error_without_a_reason_still_says_what_is_missing():
    result = evaluate(partner(None), DIRECT_2021, date(2022, 6, 1))
    assert result.status == ERROR
    assert result.error == "TTM revenue could not be computed"
    assert result.explanation().startswith("TTM revenue could not be computed;")
    assert result.explanation("de").startswith("TTM-Umsatz nicht berechenbar;")


def test_unknown_revenue_is_no_error_without_a_revenue_requirement():
    policy = PolicySpec(
        code="support-only",
        applies_to="direct_bill",
        subject_level="partner",
        effective_from=date(2021, 1, 1),
        effective_to=None,
        deadline_anchor="support_plan_renewal",
        reminder_offsets=(30,),
        threshold_usd=None,
        qualifying_plan_types=QUALIFYING,
    )
    result = evaluate(partner(None, contracts=(EXAMPLE_TERM,)), policy, date(2022, 6, 1))
    assert result.status == COMPLIANT
    assert result.requirements == {"support_plan": True}
    assert result.shortfall_usd is None
    assert result.explanation() == (
        "support plan ASfP paid until 2022-08-31; deadline 2022-09-01 (92 days)"
    )


def test_explanation_language_falls_back_to_english():
    result = evaluate(location(D(1)), RESELLER_2024, date(2024, 10, 20))
    assert result.explanation("de-AT") == result.explanation("de")
    assert result.explanation("fr") == result.explanation("en") == result.explanation()


# --------------------------------------------------------------------------
# Direct-bill ready (PRODUCT 4.8)
# --------------------------------------------------------------------------


def reseller_partner(**kwargs) -> SubjectFacts:
    return fy26_partner(billing_model="indirect_reseller", **kwargs)


def test_direct_bill_ready_ignores_the_billing_model():
    result = direct_bill_ready(reseller_partner(), DIRECT_FY26, date(2025, 10, 15))
    assert result.status == COMPLIANT
    assert result.ready is True
    assert result.deadline is None
    assert result.last_deadline is None
    assert result.explanation() == (
        "ready for direct bill; "
        "TTM revenue USD 1,000,000.00 of USD 1,000,000.00 required (met); "
        "support plan ASfP paid until 2026-05-31; 1 Solutions Partner designation; "
        "Microsoft Partner Agreement signed on 2020-01-15"
    )
    assert result.explanation("de").startswith("bereit für Direct Bill; ")
    # The same facts are not applicable as a compliance evaluation.
    assert evaluate(reseller_partner(), DIRECT_FY26, date(2025, 10, 15)).status == NOT_APPLICABLE


def test_direct_bill_not_ready_is_never_at_risk():
    facts = reseller_partner(ttm=D("400000"), designation_count=0)
    result = direct_bill_ready(facts, DIRECT_FY26, date(2025, 10, 15))
    assert result.status == NON_COMPLIANT
    assert result.ready is False
    assert result.unmet == ("revenue", "designation")
    assert result.shortfall_usd == D("600000")
    assert result.explanation().startswith(
        "not ready for direct bill; "
        "TTM revenue USD 400,000.00 of USD 1,000,000.00 required (USD 600,000.00 short)"
    )
    assert result.explanation("de").startswith("nicht bereit für Direct Bill; ")


def test_direct_bill_ready_ignores_missed_deadlines_of_other_policies():
    facts = reseller_partner(unresolved_missed_deadline=date(2025, 2, 1))
    result = direct_bill_ready(facts, DIRECT_FY26, date(2025, 10, 15))
    assert result.ready is True
    assert result.missed_deadline is None


def test_direct_bill_ready_undecided():
    missing = direct_bill_ready(
        reseller_partner(ttm=None, revenue_error="no exchange rate for EUR 2025-09"),
        DIRECT_FY26,
        date(2025, 10, 15),
    )
    assert missing.status == ERROR
    assert missing.ready is None
    assert missing.explanation().startswith("no exchange rate for EUR 2025-09; ")
    inactive = direct_bill_ready(reseller_partner(is_active=False), DIRECT_FY26, date(2025, 10, 15))
    assert inactive.status == NOT_APPLICABLE
    assert inactive.ready is None
    too_early = direct_bill_ready(reseller_partner(), DIRECT_FY26, date(2025, 9, 30))
    assert too_early.status == NOT_APPLICABLE
    assert too_early.last_deadline is None


def test_ready_is_none_for_compliance_evaluations():
    assert evaluate(fy26_partner(), DIRECT_FY26, date(2025, 10, 15)).ready is None


def test_direct_bill_ready_against_the_2021_policy():
    facts = partner(D("300000"), billing_model="indirect_reseller", contracts=(EXAMPLE_TERM,))
    assert direct_bill_ready(facts, DIRECT_2021, date(2022, 6, 1)).ready is True
    lapsed = partner(D("300000"), billing_model="indirect_reseller")
    result = direct_bill_ready(lapsed, DIRECT_2021, date(2022, 6, 1))
    assert result.ready is False
    assert "no deadline" not in result.explanation()


# --------------------------------------------------------------------------
# Status ranking
# --------------------------------------------------------------------------


def test_status_rank_orders_compliant_best():
    assert status_rank(COMPLIANT) < status_rank(AT_RISK) < status_rank(NON_COMPLIANT)
    assert status_rank(NON_COMPLIANT) < status_rank(ERROR)
    assert status_rank(NOT_APPLICABLE) == status_rank(COMPLIANT)
    with pytest.raises(ValueError, match="unknown status"):
        status_rank("fine")


def test_adding_revenue_improves_example_1_to_compliant():
    as_of = date(2022, 8, 1)
    lines = [*EXAMPLE_LINES, usd(12000, as_of - timedelta(days=1))]
    before = evaluate(example_facts(as_of, EXAMPLE_LINES, [EXAMPLE_TERM]), DIRECT_2021, as_of)
    after = evaluate(example_facts(as_of, lines, [EXAMPLE_TERM]), DIRECT_2021, as_of)
    assert (before.status, after.status) == (AT_RISK, COMPLIANT)
    assert status_rank(after.status) < status_rank(before.status)


def test_a_date_at_the_end_of_the_calendar_is_an_error_not_a_crash():
    """A location onboarded on 9999-12-31 (a typo in an import): its
    anniversaries leave the calendar. That subject is an error with a reason;
    the run goes on for everyone else."""
    facts = SubjectFacts(
        subject_type="location",
        billing_model="indirect_reseller",
        is_active=True,
        onboarded_on=date(9999, 12, 31),
        ttm_revenue_usd=Decimal("5"),
    )
    result = rules.evaluate(facts, RESELLER_2024, date(2024, 11, 1))
    assert result.status == rules.ERROR
    assert "cannot evaluate" in result.error and "9999-12-31" in result.error
    assert "nicht bewertbar" in result.explanation("de")
