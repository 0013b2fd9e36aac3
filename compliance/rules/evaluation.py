"""Pure compliance rules: TTM windows, deadlines, statuses and their wording.

Everything here works on plain values (dates, ``Decimal``, strings, frozen
dataclasses) and never touches the database, so it is trivially unit-tested and
can be called from set-based services, tasks and views alike. The
specification is PRODUCT.md section 4 ("Evaluation semantics").

The string constants below are the values of the TextChoices in
``partners.models`` and ``compliance.models``; they are repeated as plain
strings so that this module imports without Django (a test keeps them in
step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal, localcontext

from core.formatting import format_date, format_usd, is_german

__all__ = [
    "AGREEMENT",
    "ANNIVERSARY_MONTH",
    "AT_RISK",
    "COMPLIANT",
    "DEFAULT_QUALIFYING_PLAN_TYPES",
    "DESIGNATION",
    "DIRECT_BILL",
    "ERROR",
    "INDIRECT_RESELLER",
    "LOCATION",
    "NON_COMPLIANT",
    "NOT_APPLICABLE",
    "PARTNER",
    "PLAN_SHORT_NAMES",
    "REQUIREMENT_ORDER",
    "REVENUE",
    "SUPPORT_PLAN",
    "SUPPORT_PLAN_RENEWAL",
    "ContractFacts",
    "MissingRate",
    "PolicySpec",
    "Result",
    "RevenueLine",
    "SubjectFacts",
    "SupportNote",
    "Window",
    "add_years",
    "anniversary_month_deadline",
    "anniversary_month_last_deadline",
    "contract_counts_on",
    "convert",
    "deadline_outcome",
    "direct_bill_ready",
    "evaluate",
    "format_date",
    "format_usd",
    "month_start",
    "plan_names",
    "status_rank",
    "support_plan_covering",
    "support_plan_met",
    "support_renewal_deadline",
    "support_renewal_last_deadline",
    "to_usd",
    "ttm_sum",
    "ttm_window",
]

# Statuses (Evaluation.status).
NOT_APPLICABLE = "not_applicable"
COMPLIANT = "compliant"
AT_RISK = "at_risk"
NON_COMPLIANT = "non_compliant"
ERROR = "error"

# Requirement codes (compliance.models.RequirementCode), in reporting order.
REVENUE = "revenue"
SUPPORT_PLAN = "support_plan"
DESIGNATION = "designation"
AGREEMENT = "agreement"
REQUIREMENT_ORDER = (REVENUE, SUPPORT_PLAN, DESIGNATION, AGREEMENT)

# Deadline anchors (compliance.models.DeadlineAnchor).
SUPPORT_PLAN_RENEWAL = "support_plan_renewal"
ANNIVERSARY_MONTH = "onboarding_anniversary_month"

# Subject levels (compliance.models.SubjectLevel).
PARTNER = "partner"
LOCATION = "location"

# Billing models (partners.models.BillingModel).
DIRECT_BILL = "direct_bill"
INDIRECT_RESELLER = "indirect_reseller"

# Plan types (partners.models.PlanType) and their short names in explanations.
DEFAULT_QUALIFYING_PLAN_TYPES = ("asfp", "psfp")
PLAN_SHORT_NAMES = {"asfp": "ASfP", "psfp": "PSfP", "unified": "Unified", "other": "Other"}

USD = "USD"
CENT = Decimal("0.01")
ONE_DAY = timedelta(days=1)
# Enough significant digits that products and sums of stored amounts
# (20 digits, 6 places) and rates (18 digits, 8 places) are exact.
_MONEY_PRECISION = 80


# --------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later (or earlier); 29 Feb becomes
    28 Feb in a year without one."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        # Only 29 Feb can fail here (an out-of-range year fails again below).
        return day.replace(year=day.year + years, day=28)


def month_start(day: date) -> date:
    return day.replace(day=1)


@dataclass(frozen=True)
class Window:
    """A closed range of dates: both ends inclusive."""

    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @property
    def days(self) -> int:
        """Number of days in the window, both ends counted."""
        return (self.end - self.start).days + 1


def ttm_window(as_of: date) -> Window:
    """The trailing-twelve-month window for evaluation date ``as_of``
    (PRODUCT 4.1): from the same calendar day a year earlier up to the day
    before ``as_of``, both inclusive."""
    return Window(start=add_years(as_of, -1), end=as_of - ONE_DAY)


# --------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------


class MissingRate(LookupError):
    """No exchange rate for a currency in a month. A missing rate is an
    error, never zero (PRODUCT 3, ExchangeRate).

    ``currency`` and ``month`` (first day) name the first missing pair in
    (month, currency) order; ``missing`` lists every missing pair.
    """

    def __init__(
        self, currency: str, month: date, missing: Iterable[tuple[str, date]] = ()
    ) -> None:
        self.currency = currency
        self.month = month_start(month)
        pairs = sorted({(c, month_start(m)) for c, m in missing} | {(currency, self.month)})
        self.missing: tuple[tuple[str, date], ...] = tuple(
            sorted(pairs, key=lambda pair: (pair[1], pair[0]))
        )
        message = f"no exchange rate for {_rate_key(currency, self.month)}"
        others = [_rate_key(c, m) for c, m in self.missing if (c, m) != (currency, self.month)]
        if others:
            message += f"; also for {', '.join(others)}"
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


def _rate_key(currency: str, month: date) -> str:
    return f"{currency} {month:%Y-%m}"


def _as_decimal(value: Decimal | int | str) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money must be Decimal (or int/str), not float")
    return value if isinstance(value, Decimal) else Decimal(value)


def to_usd(amount: Decimal, rate: Decimal) -> Decimal:
    """``amount`` in a currency times its USD-per-unit ``rate``; exact, not
    rounded (rounding to cents is for display only)."""
    with localcontext() as ctx:
        ctx.prec = _MONEY_PRECISION
        return _as_decimal(amount) * _as_decimal(rate)


# A revenue line: ``(amount, currency, revenue_date)``; any 3-tuple in that order.
RevenueLine = tuple[Decimal, str, date]


def convert(
    lines: Iterable[RevenueLine],
    rates: Mapping[tuple[str, date], Decimal],
) -> Decimal:
    """Sum ``(amount, currency, revenue_date)`` lines in USD.

    ``rates`` maps ``(currency, first day of month)`` to USD per unit; USD
    itself is always 1. Raises :class:`MissingRate` naming the earliest
    missing (month, currency) pair, whatever the order of the lines.
    """
    missing: set[tuple[str, date]] = set()
    with localcontext() as ctx:
        ctx.prec = _MONEY_PRECISION
        total = Decimal(0)
        for amount, currency, revenue_date in lines:
            if currency == USD:
                total += _as_decimal(amount)
                continue
            key = (currency, month_start(revenue_date))
            rate = rates.get(key)
            if rate is None:
                missing.add(key)
                continue
            total += to_usd(amount, rate)
    if missing:
        currency, month = min(missing, key=lambda pair: (pair[1], pair[0]))
        raise MissingRate(currency, month, missing)
    return total


def ttm_sum(
    lines: Iterable[RevenueLine],
    window: Window,
    rates: Mapping[tuple[str, date], Decimal] | None = None,
) -> Decimal:
    """USD total of the lines dated inside ``window`` (credits count).
    Rates are needed only for lines inside the window."""
    return convert((line for line in lines if line[2] in window), rates or {})


# --------------------------------------------------------------------------
# Support plans
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContractFacts:
    """A support contract as the rules see it."""

    plan_type: str
    start: date
    end: date
    is_paid: bool
    paid_on: date | None = None

    def paid_as_of(self, day: date) -> bool:
        """Paid, and (when the payment date is known) paid on or before ``day``."""
        return self.is_paid and (self.paid_on is None or self.paid_on <= day)

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def renewal_date(self) -> date:
        """The day after the term ends: the plan's anniversary."""
        return self.end + ONE_DAY


def contract_counts_on(contract: ContractFacts, day: date, qualifying_types: Iterable[str]) -> bool:
    """PRODUCT 4.3: a qualifying type, paid (as of ``day``) and ``start <= day <= end``."""
    return (
        contract.plan_type in tuple(qualifying_types)
        and contract.paid_as_of(day)
        and contract.covers(day)
    )


def _contract_order(c: ContractFacts) -> tuple:
    return (c.end, c.start, c.plan_type, c.is_paid, c.paid_on or date.min)


def support_plan_covering(
    contracts: Iterable[ContractFacts], as_of: date, qualifying_types: Iterable[str]
) -> ContractFacts | None:
    """PRODUCT 4.3: the contract that meets the support-plan requirement on
    ``as_of`` (of a qualifying type, paid as of ``as_of``, covering it) - the
    one running longest when several do - or None when the requirement is
    not met. The evaluation and the pages' support panel both ask this."""
    types = tuple(qualifying_types)
    counting = [c for c in contracts if contract_counts_on(c, as_of, types)]
    return max(counting, key=_contract_order, default=None)


def support_plan_met(
    contracts: Iterable[ContractFacts], as_of: date, qualifying_types: Iterable[str]
) -> bool:
    return support_plan_covering(contracts, as_of, qualifying_types) is not None


def _renewal_dates(
    contracts: Iterable[ContractFacts], paid_as_of: date, qualifying_types: Iterable[str]
) -> list[date]:
    types = tuple(qualifying_types)
    return [c.renewal_date for c in contracts if c.plan_type in types and c.paid_as_of(paid_as_of)]


def support_renewal_deadline(
    contracts: Iterable[ContractFacts], as_of: date, qualifying_types: Iterable[str]
) -> date | None:
    """PRODUCT 4.4: among the qualifying contracts paid as of ``as_of``, the
    earliest ``end + 1 day`` that is ``>= as_of``; None when there is none."""
    dates = [d for d in _renewal_dates(contracts, as_of, qualifying_types) if d >= as_of]
    return min(dates, default=None)


def support_renewal_last_deadline(
    contracts: Iterable[ContractFacts], as_of: date, qualifying_types: Iterable[str]
) -> date | None:
    """The most recent ``end + 1 day`` on or before ``as_of`` among the
    qualifying contracts paid as of ``as_of`` (the deadline an outcome
    decides); None when there is none."""
    dates = [d for d in _renewal_dates(contracts, as_of, qualifying_types) if d <= as_of]
    return max(dates, default=None)


# --------------------------------------------------------------------------
# Onboarding anniversary month
# --------------------------------------------------------------------------


def anniversary_month_deadline(onboarded_on: date, as_of: date) -> date:
    """PRODUCT 4.4: the first day of the month of ``onboarded_on + n years``
    for the smallest ``n >= 1`` giving a date ``>= as_of``. The onboarding
    month itself is never a deadline; once the 1st has passed, the next
    deadline is a year on."""
    first = date(onboarded_on.year + 1, onboarded_on.month, 1)
    if first >= as_of:
        return first
    this_year = date(as_of.year, onboarded_on.month, 1)
    return this_year if this_year >= as_of else this_year.replace(year=as_of.year + 1)


def anniversary_month_last_deadline(onboarded_on: date, as_of: date) -> date | None:
    """The most recent anniversary month start (``n >= 1``) on or before
    ``as_of``; None before the first anniversary month."""
    this_year = date(as_of.year, onboarded_on.month, 1)
    last = this_year if this_year <= as_of else this_year.replace(year=as_of.year - 1)
    return last if last.year > onboarded_on.year else None


# --------------------------------------------------------------------------
# Policies, facts, results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicySpec:
    """A programme policy and its requirements as plain values.

    ``threshold_usd`` None means no revenue requirement;
    ``qualifying_plan_types`` None means no support-plan requirement.
    Lists (as they come out of JSON fields) are turned into tuples.
    """

    code: str
    applies_to: str
    subject_level: str
    effective_from: date
    effective_to: date | None
    deadline_anchor: str
    reminder_offsets: tuple[int, ...]
    threshold_usd: Decimal | None
    qualifying_plan_types: tuple[str, ...] | None
    requires_designation: bool = False
    requires_agreement: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "reminder_offsets", tuple(self.reminder_offsets))
        if self.qualifying_plan_types is not None:
            object.__setattr__(self, "qualifying_plan_types", tuple(self.qualifying_plan_types))
        if self.deadline_anchor not in (SUPPORT_PLAN_RENEWAL, ANNIVERSARY_MONTH):
            raise ValueError(f"unknown deadline anchor {self.deadline_anchor!r}")

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )

    @property
    def requirement_codes(self) -> tuple[str, ...]:
        """The policy's requirements in reporting order."""
        present = {
            REVENUE: self.threshold_usd is not None,
            SUPPORT_PLAN: self.qualifying_plan_types is not None,
            DESIGNATION: self.requires_designation,
            AGREEMENT: self.requires_agreement,
        }
        return tuple(code for code in REQUIREMENT_ORDER if present[code])

    @property
    def deadline_plan_types(self) -> tuple[str, ...]:
        """The plan types whose renewal dates are deadlines (support anchor)."""
        return self.qualifying_plan_types or DEFAULT_QUALIFYING_PLAN_TYPES


@dataclass(frozen=True, slots=True)
class SubjectFacts:
    """What the rules need to know about one subject (a partner or a
    location) on the evaluation date. The caller sums revenue."""

    subject_type: str
    billing_model: str
    is_active: bool
    onboarded_on: date
    ttm_revenue_usd: Decimal | None
    revenue_error: str | None = None
    contracts: tuple[ContractFacts, ...] = ()
    designation_count: int = 0
    agreement_signed_on: date | None = None
    unresolved_missed_deadline: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "contracts", tuple(self.contracts))


@dataclass(frozen=True, slots=True)
class SupportNote:
    """What an explanation says about the support plan.

    ``kind``: ``paid_until`` (met; ``plan_type`` covers ``as_of`` until
    ``end``), ``unpaid`` (a qualifying plan covers ``as_of`` but is not paid),
    ``starts`` (a paid qualifying plan starts on ``start``), ``not_qualifying``
    (only a paid plan of another type covers ``as_of``), ``ended`` (the last
    paid qualifying plan ended on ``end``) or ``none``.
    """

    kind: str
    qualifying_plan_types: tuple[str, ...]
    plan_type: str | None = None
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of evaluating one subject against one policy on ``as_of``.

    ``requirements`` maps each of the policy's requirement codes to met/not
    met, in the order revenue, support_plan, designation, agreement; in the
    ``error`` state the revenue requirement is left out (unknown, not unmet).
    """

    status: str
    as_of: date
    ttm_revenue_usd: Decimal | None
    threshold_usd: Decimal | None
    shortfall_usd: Decimal | None
    requirements: dict[str, bool]
    unmet: tuple[str, ...]
    deadline: date | None
    days_to_deadline: int | None
    last_deadline: date | None
    error: str | None
    # Details for the explanation and for callers; all optional.
    policy_code: str = ""
    subject_type: str = ""
    deadline_anchor: str = ""
    not_applicable_reason: str | None = (
        None  # billing_model | subject_level | inactive | not_in_force
    )
    support: SupportNote | None = None
    designation_count: int | None = None
    agreement_signed_on: date | None = None
    missed_deadline: date | None = None
    readiness_check: bool = False
    policy: PolicySpec | None = field(default=None, repr=False, compare=False)

    @property
    def ready(self) -> bool | None:
        """For :func:`direct_bill_ready` results: True when ready, False when
        not, None when it could not be decided (error / not applicable).
        Always None for compliance evaluations."""
        if not self.readiness_check or self.status in (ERROR, NOT_APPLICABLE):
            return None
        return self.status == COMPLIANT

    def explanation(self, language: str = "en") -> str:
        """Why, in plain words (PRODUCT 4.7). ``language`` "de..." gives
        German, anything else English."""
        return _explain(self, is_german(language))


STATUS_RANKS = {COMPLIANT: 0, NOT_APPLICABLE: 0, AT_RISK: 1, NON_COMPLIANT: 2, ERROR: 3}


def status_rank(status: str) -> int:
    """Lower is better: compliant 0, at_risk 1, non_compliant 2, error 3
    (unknown is treated as the worst case). not_applicable ranks 0 like
    compliant: neither asks anything of anyone. "Never worse" means
    ``status_rank(after) <= status_rank(before)``."""
    try:
        return STATUS_RANKS[status]
    except KeyError:
        raise ValueError(f"unknown status {status!r}") from None


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------


def _not_applicable_reason(
    facts: SubjectFacts, policy: PolicySpec, as_of: date, *, check_billing_model: bool
) -> str | None:
    if not policy.in_force_on(as_of):
        return "not_in_force"
    return _subject_mismatch(facts, policy, check_billing_model=check_billing_model)


def _subject_mismatch(
    facts: SubjectFacts, policy: PolicySpec, *, check_billing_model: bool
) -> str | None:
    if check_billing_model and facts.billing_model != policy.applies_to:
        return "billing_model"
    if facts.subject_type != policy.subject_level:
        return "subject_level"
    if not facts.is_active:
        return "inactive"
    return None


def _next_deadline(facts: SubjectFacts, policy: PolicySpec, as_of: date) -> date | None:
    if policy.deadline_anchor == SUPPORT_PLAN_RENEWAL:
        return support_renewal_deadline(facts.contracts, as_of, policy.deadline_plan_types)
    return anniversary_month_deadline(facts.onboarded_on, as_of)


def _last_deadline(facts: SubjectFacts, policy: PolicySpec, as_of: date) -> date | None:
    """The most recent deadline ``d`` with ``effective_from <= d <= as_of``
    and ``d <= effective_to``: the one an outcome decides."""
    day = as_of if policy.effective_to is None else min(as_of, policy.effective_to)
    if day < policy.effective_from:
        return None
    if policy.deadline_anchor == SUPPORT_PLAN_RENEWAL:
        last = support_renewal_last_deadline(facts.contracts, day, policy.deadline_plan_types)
    else:
        last = anniversary_month_last_deadline(facts.onboarded_on, day)
    return last if last is not None and last >= policy.effective_from else None


def _support_note(
    contracts: tuple[ContractFacts, ...], as_of: date, qualifying: tuple[str, ...]
) -> SupportNote:
    def note(kind: str, contract: ContractFacts | None = None) -> SupportNote:
        if contract is None:
            return SupportNote(kind, qualifying)
        return SupportNote(kind, qualifying, contract.plan_type, contract.start, contract.end)

    key = _contract_order
    counting = support_plan_covering(contracts, as_of, qualifying)
    if counting is not None:
        return note("paid_until", counting)
    qualified = [c for c in contracts if c.plan_type in qualifying]
    unpaid = [c for c in qualified if c.covers(as_of)]
    if unpaid:
        return note("unpaid", max(unpaid, key=key))
    upcoming = [c for c in qualified if c.paid_as_of(as_of) and c.start > as_of]
    if upcoming:
        return note("starts", min(upcoming, key=lambda c: (c.start, *key(c))))
    other = [c for c in contracts if c.paid_as_of(as_of) and c.covers(as_of)]
    if other:
        return note("not_qualifying", max(other, key=key))
    ended = [c for c in qualified if c.paid_as_of(as_of) and c.end < as_of]
    if ended:
        return note("ended", max(ended, key=key))
    return note("none")


def _requirements(
    facts: SubjectFacts, policy: PolicySpec, as_of: date
) -> tuple[dict[str, bool], SupportNote | None]:
    met: dict[str, bool] = {}
    support = None
    if policy.threshold_usd is not None and facts.ttm_revenue_usd is not None:
        met[REVENUE] = facts.ttm_revenue_usd >= policy.threshold_usd
    if policy.qualifying_plan_types is not None:
        qualifying = policy.qualifying_plan_types
        met[SUPPORT_PLAN] = support_plan_met(facts.contracts, as_of, qualifying)
        support = _support_note(facts.contracts, as_of, qualifying)
    if policy.requires_designation:
        met[DESIGNATION] = facts.designation_count >= 1
    if policy.requires_agreement:
        signed = facts.agreement_signed_on
        met[AGREEMENT] = signed is not None and signed <= as_of
    return met, support


def _score(facts: SubjectFacts, policy: PolicySpec, as_of: date, *, readiness_check: bool) -> dict:
    """Every Result field but the status ("" unless decided here: not
    applicable or error), shared by evaluate and direct_bill_ready. A dict,
    so that the caller builds the (frozen) Result once."""
    base = {
        "as_of": as_of,
        "ttm_revenue_usd": facts.ttm_revenue_usd,
        "threshold_usd": policy.threshold_usd,
        "policy_code": policy.code,
        "subject_type": facts.subject_type,
        "deadline_anchor": policy.deadline_anchor,
        "readiness_check": readiness_check,
        "policy": policy,
    }
    reason = _not_applicable_reason(facts, policy, as_of, check_billing_model=not readiness_check)
    if reason is not None:
        # A policy that ended may still owe the decision of its last deadline
        # (the job did not run between that deadline and the policy's end).
        last = None
        if (
            not readiness_check
            and reason == "not_in_force"
            and _subject_mismatch(facts, policy, check_billing_model=True) is None
        ):
            last = _last_deadline(facts, policy, as_of)
        return dict(
            status=NOT_APPLICABLE,
            shortfall_usd=None,
            requirements={},
            unmet=(),
            deadline=None,
            days_to_deadline=None,
            last_deadline=last,
            error=None,
            not_applicable_reason=reason,
            **base,
        )

    requirements, support = _requirements(facts, policy, as_of)
    unmet = tuple(code for code, ok in requirements.items() if not ok)
    error = None
    shortfall = None
    if policy.threshold_usd is not None:
        if facts.ttm_revenue_usd is None:
            error = facts.revenue_error or "TTM revenue could not be computed"
        else:
            shortfall = max(policy.threshold_usd - facts.ttm_revenue_usd, Decimal(0))
    if readiness_check:
        deadline = last = missed = None
    else:
        deadline = _next_deadline(facts, policy, as_of)
        last = _last_deadline(facts, policy, as_of)
        missed = facts.unresolved_missed_deadline
    return dict(
        status=ERROR if error else "",  # "": the caller decides the status
        shortfall_usd=shortfall,
        requirements=requirements,
        unmet=unmet,
        deadline=deadline,
        days_to_deadline=None if deadline is None else (deadline - as_of).days,
        last_deadline=last,
        error=error,
        support=support,
        designation_count=facts.designation_count if policy.requires_designation else None,
        agreement_signed_on=facts.agreement_signed_on if policy.requires_agreement else None,
        missed_deadline=missed,
        **base,
    )


def _failed(
    facts: SubjectFacts, policy: PolicySpec, as_of: date, exc: Exception, *, readiness_check: bool
) -> Result:
    """An ``error`` result for facts the rules cannot work with (a date so far
    off that its anniversaries leave the calendar): one subject fails, the
    run goes on."""
    return Result(
        status=ERROR,
        as_of=as_of,
        ttm_revenue_usd=None,
        threshold_usd=policy.threshold_usd,
        shortfall_usd=None,
        requirements={},
        unmet=(),
        deadline=None,
        days_to_deadline=None,
        last_deadline=None,
        error=f"cannot evaluate: {exc} (onboarded on {facts.onboarded_on})",
        policy_code=policy.code,
        subject_type=facts.subject_type,
        deadline_anchor=policy.deadline_anchor,
        readiness_check=readiness_check,
        policy=policy,
    )


def evaluate(facts: SubjectFacts, policy: PolicySpec, as_of: date) -> Result:
    """Evaluate one subject against one policy on ``as_of`` (PRODUCT 4.5).

    Precedence: not_applicable, then error (a revenue requirement whose TTM
    could not be computed; the explanation still names an unresolved missed
    deadline), then non_compliant for an unresolved missed deadline, then
    compliant / at_risk / non_compliant from the requirements and deadline.
    """
    try:
        fields = _score(facts, policy, as_of, readiness_check=False)
    except (ValueError, OverflowError) as exc:  # e.g. a date near year 9999
        return _failed(facts, policy, as_of, exc, readiness_check=False)
    if not fields["status"]:
        deadline = fields["deadline"]
        if facts.unresolved_missed_deadline is not None:
            fields["status"] = NON_COMPLIANT
        elif not fields["unmet"]:
            fields["status"] = COMPLIANT
        elif deadline is not None and deadline > as_of:
            fields["status"] = AT_RISK
        else:
            fields["status"] = NON_COMPLIANT
    return Result(**fields)


def direct_bill_ready(facts: SubjectFacts, policy: PolicySpec, as_of: date) -> Result:
    """PRODUCT 4.8: score a subject (an indirect reseller at partner level,
    revenue of all its locations summed by the caller) against a direct-bill
    policy, ignoring the billing model. Only the requirements count: there is
    no deadline and no missed deadline.

    ``status`` is ``compliant`` when every requirement is met (ready) and
    ``non_compliant`` when not (not ready) -- never ``at_risk``, so that a
    readiness result can never trigger reminders if it leaks into a status
    column; ``error`` / ``not_applicable`` (inactive, policy not in force,
    subject level mismatch) as in :func:`evaluate`. ``result.ready`` gives
    True / False / None.
    """
    try:
        fields = _score(facts, policy, as_of, readiness_check=True)
    except (ValueError, OverflowError) as exc:
        return _failed(facts, policy, as_of, exc, readiness_check=True)
    if not fields["status"]:
        fields["status"] = NON_COMPLIANT if fields["unmet"] else COMPLIANT
    return Result(**fields)


def deadline_outcome(facts: SubjectFacts, policy: PolicySpec, deadline: date) -> str | None:
    """PRODUCT 4.6: decide a deadline from the facts as of the deadline date.

    Returns ``"met"`` when every requirement is met on ``deadline``,
    ``"missed"`` when one is not, and None when it cannot be decided (the
    policy does not apply on that date, or the revenue could not be
    computed -- try again once the data is complete). An earlier unresolved
    missed deadline does not decide this one.
    """
    result = evaluate(replace(facts, unresolved_missed_deadline=None), policy, deadline)
    if result.status in (NOT_APPLICABLE, ERROR):
        return None
    return "missed" if result.unmet else "met"


# --------------------------------------------------------------------------
# Explanations
# --------------------------------------------------------------------------


def _plan(plan_type: str | None) -> str:
    return PLAN_SHORT_NAMES.get(plan_type or "", plan_type or "")


def _plans(types: tuple[str, ...], de: bool) -> str:
    names = [_plan(t) for t in types]
    if len(names) <= 1:
        return "".join(names)
    joiner = " oder " if de else " or "
    return ", ".join(names[:-1]) + joiner + names[-1]


def plan_names(types: Iterable[str], language: str = "en") -> str:
    """``ASfP or PSfP`` (``ASfP oder PSfP`` in German): plan types by their
    short names, as the explanations list the qualifying plans."""
    return _plans(tuple(types), is_german(language))


def _days(days: int, de: bool) -> str:
    if days == 0:
        return "heute" if de else "today"
    if days > 0:
        if de:
            return f"{days} Tag" if days == 1 else f"{days} Tage"
        return f"{days} day" if days == 1 else f"{days} days"
    ago = -days
    if de:
        return f"vor {ago} Tag verstrichen" if ago == 1 else f"vor {ago} Tagen verstrichen"
    return f"passed {ago} day ago" if ago == 1 else f"passed {ago} days ago"


_GERMAN_ERRORS = (
    ("TTM revenue could not be computed", "TTM-Umsatz nicht berechenbar"),
    ("no exchange rate for", "kein Wechselkurs für"),
    ("; also for", "; außerdem für"),
    ("cannot evaluate:", "nicht bewertbar:"),
    ("(onboarded on", "(Onboarding am"),
)


def _error_text(error: str, de: bool) -> str:
    if de:
        for en, german in _GERMAN_ERRORS:
            error = error.replace(en, german)
    return error


def _not_applicable_text(result: Result, de: bool) -> str:
    reason = result.not_applicable_reason
    policy = result.policy
    if reason == "inactive":
        if result.subject_type == LOCATION:
            text = "der Standort ist nicht aktiv" if de else "the location is not active"
        else:
            text = "der Partner ist nicht aktiv" if de else "the partner is not active"
    elif reason == "billing_model" and policy is not None:
        if policy.applies_to == DIRECT_BILL:
            text = (
                "die Richtlinie gilt für Direct-Bill-Partner"
                if de
                else "the policy is for direct-bill partners"
            )
        else:
            text = (
                "die Richtlinie gilt für indirekte Reseller"
                if de
                else "the policy is for indirect resellers"
            )
    elif reason == "subject_level" and policy is not None:
        if policy.subject_level == LOCATION:
            text = (
                "die Richtlinie wird je Standort bewertet"
                if de
                else "the policy is evaluated per location"
            )
        else:
            text = (
                "die Richtlinie wird je Partner bewertet"
                if de
                else "the policy is evaluated per partner"
            )
    elif reason == "not_in_force" and policy is not None:
        start = format_date(policy.effective_from, "de" if de else "en")
        if policy.effective_to is None:
            period = f"ab {start}" if de else f"from {start}"
        else:
            end = format_date(policy.effective_to, "de" if de else "en")
            period = f"vom {start} bis {end}" if de else f"from {start} to {end}"
        text = (
            f"Richtlinie {policy.code} gilt {period}"
            if de
            else f"policy {policy.code} is in force {period}"
        )
    else:
        text = ""
    prefix = "nicht anwendbar" if de else "not applicable"
    return f"{prefix}: {text}" if text else prefix


def _revenue_text(result: Result, de: bool) -> str:
    lang = "de" if de else "en"
    if result.ttm_revenue_usd is None:
        return _error_text(result.error or "TTM revenue could not be computed", de)
    assert result.threshold_usd is not None  # noqa: S101 - only called with a threshold
    ttm = format_usd(result.ttm_revenue_usd, lang)
    threshold = format_usd(result.threshold_usd, lang)
    shortfall = result.shortfall_usd or Decimal(0)
    if de:
        gap = "erfüllt" if shortfall == 0 else f"{format_usd(shortfall, lang)} fehlen"
        return f"TTM-Umsatz {ttm} von {threshold} erforderlich ({gap})"
    gap = "met" if shortfall == 0 else f"{format_usd(shortfall, lang)} short"
    return f"TTM revenue {ttm} of {threshold} required ({gap})"


def _support_text(note: SupportNote, de: bool) -> str:
    lang = "de" if de else "en"
    plan = _plan(note.plan_type)
    wanted = _plans(note.qualifying_plan_types, de)
    if note.kind == "paid_until":
        assert note.end is not None  # noqa: S101
        end = format_date(note.end, lang)
        return (
            f"Supportplan {plan} bezahlt bis {end}"
            if de
            else f"support plan {plan} paid until {end}"
        )
    if note.kind == "unpaid":
        assert note.start is not None and note.end is not None  # noqa: S101
        start, end = format_date(note.start, lang), format_date(note.end, lang)
        if de:
            return f"Supportplan {plan} ({start} bis {end}) nicht bezahlt"
        return f"support plan {plan} ({start} to {end}) not paid"
    missing = (
        f"kein aktiver bezahlter Supportplan ({wanted})"
        if de
        else f"no active paid support plan ({wanted})"
    )
    if note.kind == "starts":
        assert note.start is not None  # noqa: S101
        start = format_date(note.start, lang)
        return (
            f"{missing}: {plan} beginnt am {start}" if de else f"{missing}: {plan} starts {start}"
        )
    if note.kind == "not_qualifying":
        return f"{missing}: {plan} zählt nicht" if de else f"{missing}: {plan} does not qualify"
    if note.kind == "ended":
        assert note.end is not None  # noqa: S101
        end = format_date(note.end, lang)
        return f"{missing}: {plan} endete am {end}" if de else f"{missing}: {plan} ended {end}"
    return missing


def _designation_text(count: int, de: bool) -> str:
    if count < 1:
        return "keine Solutions Partner-Bezeichnung" if de else "no Solutions Partner designation"
    if de:
        noun = "Solutions Partner-Bezeichnung" if count == 1 else "Solutions Partner-Bezeichnungen"
    else:
        noun = "Solutions Partner designation" if count == 1 else "Solutions Partner designations"
    return f"{count} {noun}"


def _agreement_text(signed: date | None, as_of: date, de: bool) -> str:
    lang = "de" if de else "en"
    if signed is None:
        return (
            "Microsoft Partner Agreement nicht unterzeichnet"
            if de
            else "Microsoft Partner Agreement not signed"
        )
    when = format_date(signed, lang)
    if signed > as_of:
        if de:
            return f"Microsoft Partner Agreement noch nicht unterzeichnet (datiert {when})"
        return f"Microsoft Partner Agreement not signed yet (dated {when})"
    if de:
        return f"Microsoft Partner Agreement unterzeichnet am {when}"
    return f"Microsoft Partner Agreement signed on {when}"


def _deadline_text(result: Result, de: bool) -> str:
    lang = "de" if de else "en"
    if result.deadline is None:
        return (
            "kein Stichtag: kein bezahlter qualifizierender Supportplan zum Verlängern"
            if de
            else "no deadline: no paid qualifying support plan to renew"
        )
    days = (result.deadline - result.as_of).days
    word = "Stichtag" if de else "deadline"
    return f"{word} {format_date(result.deadline, lang)} ({_days(days, de)})"


def _missed_text(missed: date, as_of: date, de: bool) -> str:
    lang = "de" if de else "en"
    days = _days((missed - as_of).days, de)
    if de:
        return f"Stichtag {format_date(missed, lang)} verpasst ({days}), noch nicht erledigt"
    return f"missed deadline {format_date(missed, lang)} ({days}), not resolved yet"


def _explain(result: Result, de: bool) -> str:
    if result.status == NOT_APPLICABLE:
        return _not_applicable_text(result, de)
    parts: list[str] = []
    if result.readiness_check and result.status != ERROR:
        if result.status == COMPLIANT:
            parts.append("bereit für Direct Bill" if de else "ready for direct bill")
        else:
            parts.append("nicht bereit für Direct Bill" if de else "not ready for direct bill")
    if result.missed_deadline is not None:
        parts.append(_missed_text(result.missed_deadline, result.as_of, de))
    if result.threshold_usd is not None:
        parts.append(_revenue_text(result, de))
    if result.support is not None:
        parts.append(_support_text(result.support, de))
    if DESIGNATION in result.requirements:
        parts.append(_designation_text(result.designation_count or 0, de))
    if AGREEMENT in result.requirements:
        parts.append(_agreement_text(result.agreement_signed_on, result.as_of, de))
    if not result.readiness_check:
        parts.append(_deadline_text(result, de))
    return "; ".join(parts)
