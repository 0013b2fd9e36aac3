"""Evaluation (PRODUCT 4.5, 4.6, 4.8): policies and subject facts as plain
values, the result of evaluating one against the other, the status ranks,
and the deadline outcome."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import lru_cache

from core.formatting import is_german

from .codes import (
    AGREEMENT,
    ANNIVERSARY_MONTH,
    AT_RISK,
    COMPLIANT,
    DESIGNATION,
    ERROR,
    NON_COMPLIANT,
    NOT_APPLICABLE,
    REQUIREMENT_ORDER,
    REVENUE,
    SUPPORT_PLAN,
    SUPPORT_PLAN_RENEWAL,
)
from .dates import anniversary_month_deadline, anniversary_month_last_deadline
from .support import (
    DEFAULT_QUALIFYING_PLAN_TYPES,
    ContractFacts,
    SupportNote,
    support_note,
    support_plan_met,
    support_renewal_deadline,
    support_renewal_last_deadline,
)
from .wording import explain


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
        return explain(self, is_german(language))


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


def next_deadline(
    policy: PolicySpec,
    as_of: date,
    *,
    onboarded_on: date,
    contracts: tuple[ContractFacts, ...] | list[ContractFacts],
) -> date | None:
    """PRODUCT 4.4: the subject's next deadline on or after ``as_of`` under
    the policy's anchor (the support plan's renewal, or the onboarding
    anniversary month); None when there is none."""
    if policy.deadline_anchor == SUPPORT_PLAN_RENEWAL:
        return support_renewal_deadline(contracts, as_of, policy.deadline_plan_types)
    return anniversary_month_deadline(onboarded_on, as_of)


def _next_deadline(facts: SubjectFacts, policy: PolicySpec, as_of: date) -> date | None:
    return next_deadline(policy, as_of, onboarded_on=facts.onboarded_on, contracts=facts.contracts)


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
        support = support_note(facts.contracts, as_of, qualifying)
    if policy.requires_designation:
        met[DESIGNATION] = facts.designation_count >= 1
    if policy.requires_agreement:
        signed = facts.agreement_signed_on
        met[AGREEMENT] = signed is not None and signed <= as_of
    return met, support


def _score(
    facts: SubjectFacts,
    policy: PolicySpec,
    as_of: date,
    *,
    readiness_check: bool,
    deadline_from: date | None = None,
) -> dict:
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
        deadline = _next_deadline(facts, policy, max(as_of, deadline_from or as_of))
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


def evaluate(
    facts: SubjectFacts, policy: PolicySpec, as_of: date, *, deadline_from: date | None = None
) -> Result:
    """Evaluate one subject against one policy on ``as_of`` (PRODUCT 4.5).

    Precedence: not_applicable, then error (a revenue requirement whose TTM
    could not be computed; the explanation still names an unresolved missed
    deadline), then non_compliant for an unresolved missed deadline, then
    compliant / at_risk / non_compliant from the requirements and deadline.

    ``deadline_from`` (the simulator, :func:`evaluate_draft`): the deadline
    is the first one on or after that day instead of on or after ``as_of``.
    """
    try:
        fields = _score(facts, policy, as_of, readiness_check=False, deadline_from=deadline_from)
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


def evaluate_draft(facts: SubjectFacts, policy: PolicySpec, as_of: date) -> Result:
    """PRODUCT 8: a policy (a draft, or the stored one beside it) judged on
    ``as_of`` as though it were in force that day, with its first deadline
    on or after the later of ``as_of`` and its effective date. A policy that
    ended before ``as_of`` is not applicable. The same :func:`evaluate` as
    the nightly run: for a policy in force on ``as_of`` the result is the
    nightly's. An open missed deadline (``unresolved_missed_deadline``, from
    the outcomes recorded for the stored policy) keeps ``non_compliant``;
    no deadline is decided here."""
    if policy.effective_to is not None and policy.effective_to < as_of:
        return evaluate(facts, policy, as_of)
    start = max(as_of, policy.effective_from)
    return evaluate(facts, _in_force_on(policy, as_of), as_of, deadline_from=start)


@lru_cache(maxsize=64)
def _in_force_on(policy: PolicySpec, day: date) -> PolicySpec:
    """``policy`` starting no later than ``day`` (one copy for a whole run)."""
    if policy.effective_from <= day:
        return policy
    return replace(policy, effective_from=day)


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
