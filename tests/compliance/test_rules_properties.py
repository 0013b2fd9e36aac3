"""Property tests of the pure compliance rules (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

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
    add_years,
    anniversary_month_deadline,
    anniversary_month_last_deadline,
    convert,
    direct_bill_ready,
    evaluate,
    format_usd,
    status_rank,
    support_renewal_deadline,
    support_renewal_last_deadline,
    to_usd,
    ttm_sum,
    ttm_window,
)

from .test_rules import DIRECT_2021, DIRECT_FY26, RESELLER_2024

RULES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PLAN_TYPES = ("asfp", "psfp", "unified", "other")
CURRENCIES = ("USD", "EUR", "CHF")
EPOCH = date(2019, 1, 1)

days = st.dates(min_value=date(2019, 1, 1), max_value=date(2028, 12, 31))
any_days = st.dates(min_value=date(1901, 1, 1), max_value=date(2998, 12, 31))
money = st.decimals(
    min_value=Decimal("-2000000"), max_value=Decimal("2000000"), places=6, allow_nan=False
)
positive_money = st.decimals(
    min_value=Decimal("0.000001"), max_value=Decimal("2000000"), places=6, allow_nan=False
)
policies = st.sampled_from([DIRECT_2021, DIRECT_FY26, RESELLER_2024])


@st.composite
def contracts(draw) -> ContractFacts:
    start = draw(days)
    end = start + timedelta(days=draw(st.integers(0, 800)))
    is_paid = draw(st.booleans())
    paid_on = draw(st.none() | days) if is_paid else None
    return ContractFacts(draw(st.sampled_from(PLAN_TYPES)), start, end, is_paid, paid_on)


@st.composite
def subject_facts(draw, policy: PolicySpec | None = None) -> SubjectFacts:
    subject_type = policy.subject_level if policy and draw(st.booleans()) else None
    return SubjectFacts(
        subject_type=subject_type or draw(st.sampled_from(["partner", "location"])),
        billing_model=draw(st.sampled_from(["direct_bill", "indirect_reseller"])),
        is_active=draw(st.booleans()) or draw(st.booleans()),
        onboarded_on=draw(st.dates(min_value=date(2010, 1, 1), max_value=date(2028, 12, 31))),
        ttm_revenue_usd=draw(money),
        contracts=tuple(draw(st.lists(contracts(), max_size=5))),
        designation_count=draw(st.integers(0, 3)),
        agreement_signed_on=draw(st.none() | days),
        unresolved_missed_deadline=draw(st.none() | days),
    )


@st.composite
def scenarios(draw):
    policy = draw(policies)
    facts = draw(subject_facts(policy))
    # Mostly applicable facts, so that statuses other than not_applicable show up.
    if draw(st.booleans()):
        facts = replace(
            facts,
            subject_type=policy.subject_level,
            billing_model=policy.applies_to,
            is_active=True,
        )
    as_of = draw(days)
    return facts, policy, as_of


@st.composite
def revenue_lines(draw):
    currency = draw(st.sampled_from(CURRENCIES))
    return (draw(money), currency, draw(days))


RATES = {
    (currency, date(year, month, 1)): Decimal(rate)
    for currency, rate in (("EUR", "1.0811"), ("CHF", "1.12345678"))
    for year in range(2019, 2029)
    for month in range(1, 13)
}


# --------------------------------------------------------------------------
# Status
# --------------------------------------------------------------------------


@RULES
@given(scenarios(), positive_money)
def test_adding_positive_revenue_never_makes_the_status_worse(scenario, extra):
    facts, policy, as_of = scenario
    before = evaluate(facts, policy, as_of)
    richer = replace(facts, ttm_revenue_usd=facts.ttm_revenue_usd + extra)
    after = evaluate(richer, policy, as_of)
    assert status_rank(after.status) <= status_rank(before.status)
    assert set(after.unmet) <= set(before.unmet)
    ready_before = direct_bill_ready(facts, policy, as_of).ready
    ready_after = direct_bill_ready(richer, policy, as_of).ready
    assert not (ready_before and not ready_after)


@RULES
@given(scenarios(), st.randoms(use_true_random=False))
def test_evaluation_does_not_depend_on_the_order_of_contracts(scenario, rnd):
    facts, policy, as_of = scenario
    shuffled = list(facts.contracts)
    rnd.shuffle(shuffled)
    other = replace(facts, contracts=tuple(shuffled))
    first, second = evaluate(facts, policy, as_of), evaluate(other, policy, as_of)
    assert first == second
    assert first.explanation() == second.explanation()
    assert first.explanation("de") == second.explanation("de")


@RULES
@given(st.lists(revenue_lines(), max_size=20), days, st.randoms(use_true_random=False))
def test_ttm_does_not_depend_on_the_order_of_lines(lines, as_of, rnd):
    shuffled = list(lines)
    rnd.shuffle(shuffled)
    window = ttm_window(as_of)
    assert ttm_sum(lines, window, RATES) == ttm_sum(shuffled, window, RATES)
    partial_rates = {key: rate for key, rate in RATES.items() if key[1].month != 6}
    outcomes = []
    for ordering in (lines, shuffled):
        try:
            outcomes.append(ttm_sum(ordering, window, partial_rates))
        except MissingRate as missing:
            outcomes.append((missing.currency, missing.month, missing.missing, str(missing)))
    assert outcomes[0] == outcomes[1]


@RULES
@given(scenarios())
def test_status_follows_requirements_deadline_and_missed_deadline(scenario):
    facts, policy, as_of = scenario
    result = evaluate(facts, policy, as_of)
    assert result.explanation()
    assert result.explanation("de")
    assert "None" not in result.explanation() + result.explanation("de")
    if result.status == NOT_APPLICABLE:
        assert not (
            policy.in_force_on(as_of)
            and facts.is_active
            and facts.billing_model == policy.applies_to
            and facts.subject_type == policy.subject_level
        )
        return
    assert result.status in (COMPLIANT, AT_RISK, NON_COMPLIANT, ERROR)
    assert tuple(result.requirements) == tuple(
        code for code in policy.requirement_codes if code in result.requirements
    )
    assert result.unmet == tuple(code for code, met in result.requirements.items() if not met)
    if result.deadline is not None:
        assert result.deadline >= as_of
        assert result.days_to_deadline == (result.deadline - as_of).days
    if result.last_deadline is not None:
        assert policy.effective_from <= result.last_deadline <= as_of
    if result.shortfall_usd is not None:
        assert result.shortfall_usd >= 0
        assert (result.shortfall_usd == 0) is result.requirements["revenue"]
    if result.status == COMPLIANT:
        assert not result.unmet and facts.unresolved_missed_deadline is None
    if result.status == AT_RISK:
        assert result.unmet and result.deadline > as_of
        assert facts.unresolved_missed_deadline is None
    if result.status == NON_COMPLIANT:
        assert (
            facts.unresolved_missed_deadline is not None
            or result.deadline is None
            or result.deadline == as_of
        )


# --------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------


@RULES
@given(any_days)
@example(date(2024, 2, 29))
@example(date(2000, 2, 29))
@example(date(2025, 2, 28))
@example(date(2024, 3, 1))
def test_ttm_window_spans_a_year_and_ends_the_day_before(as_of):
    window = ttm_window(as_of)
    assert window.end == as_of - timedelta(days=1)
    assert window.start == add_years(as_of, -1)
    assert window.days in (365, 366)
    has_leap_day = any(
        date(year, 3, 1) - timedelta(days=1) in window
        and (date(year, 3, 1) - timedelta(days=1)).day == 29
        for year in (window.start.year, window.end.year)
    )
    # On 29 Feb itself the window starts on 28 Feb a year earlier and holds
    # both 28 Febs: 366 days without a leap day (PRODUCT worked example 4).
    on_leap_day = (as_of.month, as_of.day) == (2, 29)
    assert window.days == (366 if has_leap_day or on_leap_day else 365)
    # Consecutive windows move by one day at the end.
    assert ttm_window(as_of + timedelta(days=1)).end == as_of


@RULES
@given(any_days, st.integers(-50, 50))
def test_add_years_keeps_the_day_except_29_february(day, years):
    moved = add_years(day, years)
    assert moved.year == day.year + years
    assert moved.month == day.month
    assert moved.day == day.day or (day.month, day.day, moved.day) == (2, 29, 28)


@RULES
@given(any_days, any_days)
def test_anniversary_month_deadline(onboarded_on, as_of):
    deadline = anniversary_month_deadline(onboarded_on, as_of)
    assert deadline.day == 1
    assert deadline.month == onboarded_on.month
    assert deadline >= as_of
    assert deadline.year > onboarded_on.year  # never the onboarding month's own year
    # At most a year ahead (of as_of, or of the onboarding date for new subjects).
    assert deadline <= add_years(max(as_of, onboarded_on), 1)
    assert deadline < add_years(max(as_of, onboarded_on), 1) + timedelta(days=31)
    # The deadline is the smallest candidate: a year earlier was too early or n = 0.
    earlier = deadline.replace(year=deadline.year - 1)
    assert earlier < as_of or earlier.year == onboarded_on.year


@RULES
@given(any_days, any_days)
def test_anniversary_month_last_deadline_and_next_deadline_agree(onboarded_on, as_of):
    last = anniversary_month_last_deadline(onboarded_on, as_of)
    deadline = anniversary_month_deadline(onboarded_on, as_of)
    if last is None:
        assert deadline == date(onboarded_on.year + 1, onboarded_on.month, 1)
        return
    assert last <= as_of
    assert last.day == 1 and last.month == onboarded_on.month
    assert last.year > onboarded_on.year
    assert deadline == (last if last == as_of else last.replace(year=last.year + 1))


@RULES
@given(st.lists(contracts(), max_size=6), days)
def test_support_renewal_deadlines_bracket_as_of(contract_list, as_of):
    qualifying = ("asfp", "psfp")
    deadline = support_renewal_deadline(contract_list, as_of, qualifying)
    last = support_renewal_last_deadline(contract_list, as_of, qualifying)
    renewals = {
        c.end + timedelta(days=1)
        for c in contract_list
        if c.plan_type in qualifying and c.is_paid and (c.paid_on is None or c.paid_on <= as_of)
    }
    assert deadline is None or (deadline >= as_of and deadline in renewals)
    assert last is None or (last <= as_of and last in renewals)
    assert all(d < as_of or deadline <= d for d in renewals)
    assert all(d > as_of or last >= d for d in renewals)
    if deadline is not None and last is not None:
        assert last <= deadline
        assert (last == deadline) is (deadline == as_of)


# --------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------


@RULES
@given(st.lists(revenue_lines(), max_size=20))
def test_convert_is_the_sum_of_the_converted_lines(lines):
    expected = sum(
        (
            amount
            if currency == "USD"
            else to_usd(amount, RATES[(currency, revenue_date.replace(day=1))])
            for amount, currency, revenue_date in lines
        ),
        Decimal(0),
    )
    assert convert(lines, RATES) == expected


@RULES
@given(st.lists(revenue_lines(), max_size=20), days)
def test_windowed_sums_split_exactly(lines, as_of):
    window = ttm_window(as_of)
    inside = [line for line in lines if window.start <= line[2] <= window.end]
    assert ttm_sum(lines, window, RATES) == convert(inside, RATES)


@RULES
@given(money)
def test_format_usd_round_trips_to_the_cent(amount):
    cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    english = format_usd(amount)
    german = format_usd(amount, "de")
    assert english.startswith("USD ")
    assert german.endswith(" USD")
    assert Decimal(english[4:].replace(",", "")) == cents
    assert Decimal(german[:-4].replace(".", "").replace(",", ".")) == cents
    assert english.count(".") == 1 and german.count(",") == 1
