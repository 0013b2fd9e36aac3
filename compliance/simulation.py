"""The policy simulator (PRODUCT 8): "if the threshold becomes X from date Y,
who fails, and by how much?"

A *draft* is a copy of a stored policy, in memory (a ``rules.PolicySpec``),
with some of its fields changed (``DRAFT_FIELDS``). :func:`simulation_run`
evaluates the draft and, beside it, the stored policy over every subject
the policy covers on an as-of date, with the facts, rules and outlooks of
the nightly run (``services.run_facts`` / ``services.compliance_outputs``,
``rules.evaluate_draft``). Both are judged as though in force on the as-of
date, with the first deadline on or after the later of the as-of date and
the effective date. Past deadlines are not re-decided: the outcomes recorded
for the stored policy apply (an open missed deadline stays non-compliant).

Reads only: nothing here writes an evaluation, an outcome, a case, a
notification or a policy.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation

from core.batch import collector_paused
from core.formatting import cents_text
from partners.models import Location, Partner, PlanType

from . import rules, selectors, services
from .models import DeadlineAnchor, Policy, SubjectType
from .services import EvaluationOutput

DRAFT_FIELDS = (
    "threshold_usd",
    "effective_from",
    "effective_to",
    "deadline_anchor",
    "qualifying_plan_types",
    "requires_designation",
    "requires_agreement",
)
NO_OUTLOOK = "none"


class DraftError(ValueError):
    """A draft field that cannot be simulated; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def _date(name: str, value: object) -> datetime.date | None:
    if value is None or isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise DraftError(name, f"{value!r} is not a date (use YYYY-MM-DD)") from None


def _threshold(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise DraftError("threshold_usd", f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise DraftError("threshold_usd", f"{value!r} is not a number")
    if amount < 0:
        raise DraftError("threshold_usd", f"{value} is negative")
    return amount


def _plan_types(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple):
        raise DraftError("qualifying_plan_types", f"{value!r} is not a list of plan types")
    plans = tuple(str(plan) for plan in value)
    unknown = sorted(set(plans) - set(PlanType.values))
    if unknown:
        raise DraftError(
            "qualifying_plan_types",
            f"unknown plan type {', '.join(unknown)} (choose from {', '.join(PlanType.values)})",
        )
    return plans or None  # no plan type: no support-plan requirement


def draft_spec(
    spec: rules.PolicySpec, changes: Mapping[str, object], *, check_period: bool = True
) -> rules.PolicySpec:
    """``spec`` with ``changes`` applied (keys from ``DRAFT_FIELDS``; values
    as typed or as JSON keeps them: strings for dates and amounts). A key
    that is absent keeps the stored value; ``effective_to`` None means open,
    ``threshold_usd`` None no revenue requirement, ``qualifying_plan_types``
    None or empty no support-plan requirement. Raises :class:`DraftError`;
    ``check_period`` False lets an effective-to before the effective-from
    through (to show a saved draft whose stored policy changed since, so
    that the form can say what is wrong)."""
    unknown = sorted(set(changes) - set(DRAFT_FIELDS))
    if unknown:
        raise DraftError(unknown[0], f"not a draft field: {', '.join(unknown)}")
    values: dict[str, object] = {}
    for name, value in changes.items():
        if name == "threshold_usd":
            values[name] = _threshold(value)
        elif name in ("effective_from", "effective_to"):
            day = _date(name, value)
            if day is None and name == "effective_from":
                raise DraftError(name, "a policy needs an effective date")
            values[name] = day
        elif name == "deadline_anchor":
            if value not in DeadlineAnchor.values:
                raise DraftError(
                    name, f"{value!r} is not a deadline anchor ({', '.join(DeadlineAnchor.values)})"
                )
            values[name] = value
        elif name == "qualifying_plan_types":
            values[name] = _plan_types(value)
        else:
            values[name] = bool(value)
    draft = replace(spec, **values)  # type: ignore[arg-type]
    if (
        check_period
        and draft.effective_to is not None
        and draft.effective_to < draft.effective_from
    ):
        raise DraftError(
            "effective_to",
            f"effective-to {draft.effective_to} is before effective-from {draft.effective_from}",
        )
    return draft


def changes_as_json(changes: Mapping[str, object]) -> dict[str, object]:
    """The changes as a ``PolicyDraft`` keeps them (dates ISO, amounts as
    strings, plan types as a list)."""
    out: dict[str, object] = {}
    for name, value in changes.items():
        if isinstance(value, datetime.date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class SimulatedSubject:
    """One subject under the draft and under the stored policy."""

    draft: EvaluationOutput
    baseline: EvaluationOutput

    @property
    def subject(self) -> services.Subject:
        return self.draft.subject

    @property
    def status(self) -> str:
        return self.draft.result.status

    @property
    def baseline_status(self) -> str:
        return self.baseline.result.status

    @property
    def outlook(self) -> str | None:
        return self.draft.outlook.outlook if self.draft.outlook else None

    @property
    def baseline_outlook(self) -> str | None:
        return self.baseline.outlook.outlook if self.baseline.outlook else None

    @property
    def needed_usd(self) -> Decimal | None:
        """Still needed for the draft's deadline (PRODUCT 4.9)."""
        return self.draft.outlook.needed_usd if self.draft.outlook else None

    @property
    def baseline_needed_usd(self) -> Decimal | None:
        return self.baseline.outlook.needed_usd if self.baseline.outlook else None

    @property
    def extra_needed_usd(self) -> Decimal:
        """How much more the draft asks for than the stored policy."""
        return (self.needed_usd or Decimal(0)) - (self.baseline_needed_usd or Decimal(0))

    @property
    def newly_failing(self) -> bool:
        return self.status == rules.NON_COMPLIANT and self.baseline_status != rules.NON_COMPLIANT

    @property
    def newly_at_risk(self) -> bool:
        return self.status == rules.AT_RISK and self.baseline_status in (
            rules.COMPLIANT,
            rules.NOT_APPLICABLE,
        )

    @property
    def newly_short(self) -> bool:
        return self.outlook == "short" and self.baseline_outlook != "short"

    @property
    def affected(self) -> bool:
        return (
            self.status != self.baseline_status
            or self.outlook != self.baseline_outlook
            or self.extra_needed_usd != 0
        )

    @property
    def impact(self) -> tuple[int, int, Decimal]:
        """Sort key, larger is worse: the status getting worse, then the
        outlook, then the revenue the draft asks for on top."""
        return (
            rules.status_rank(self.status) - rules.status_rank(self.baseline_status),
            # (no outlook ranks as met)
            selectors.OUTLOOK_RANKS.get(self.outlook or "", 0)
            - selectors.OUTLOOK_RANKS.get(self.baseline_outlook or "", 0),
            self.extra_needed_usd,
        )


@dataclass
class SimulationSummary:
    subjects: int = 0
    affected: int = 0
    by_status: dict[str, Counter] = field(default_factory=dict)
    by_outlook: dict[str, Counter] = field(default_factory=dict)
    newly_failing: int = 0
    newly_at_risk: int = 0
    newly_short: int = 0
    needed_usd: Decimal = Decimal(0)
    baseline_needed_usd: Decimal = Decimal(0)


def _day(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


def subject_row(row: SimulatedSubject) -> dict:
    """One subject as plain JSON values: what the page, the export and a
    worker run keep (amounts as strings with cents, dates ISO)."""
    d, b = row.draft, row.baseline
    o = d.outlook
    return {
        "subject_type": row.subject.subject_type,
        "subject_id": row.subject.subject_id,
        "partner_pk": row.subject.partner_pk,
        "partner_id": row.subject.partner_id,
        "status": row.status,
        "baseline_status": row.baseline_status,
        "outlook": row.outlook,
        "baseline_outlook": row.baseline_outlook,
        "ttm_revenue_usd": cents_text(d.result.ttm_revenue_usd),
        "threshold_usd": cents_text(d.result.threshold_usd),
        "baseline_threshold_usd": cents_text(b.result.threshold_usd),
        "deadline": _day(d.result.deadline),
        "baseline_deadline": _day(b.result.deadline),
        "days_to_deadline": d.result.days_to_deadline,
        "unmet": list(d.result.unmet),
        "baseline_unmet": list(b.result.unmet),
        "secured_usd": cents_text(o.secured_usd) if o else None,
        "projected_usd": cents_text(o.projected_usd) if o else None,
        "needed_usd": cents_text(row.needed_usd),
        "baseline_needed_usd": cents_text(row.baseline_needed_usd),
        "extra_needed_usd": cents_text(row.extra_needed_usd),
        "newly_failing": row.newly_failing,
        "newly_at_risk": row.newly_at_risk,
        "newly_short": row.newly_short,
        "affected": row.affected,
        "impact": [*row.impact[:2], cents_text(row.impact[2])],
        "error": d.result.error or "",
    }


def summarise(rows: Iterable[Mapping]) -> SimulationSummary:
    """Counts of :func:`subject_row` rows under the draft and the baseline."""
    out = SimulationSummary(
        by_status={"draft": Counter(), "baseline": Counter()},
        by_outlook={"draft": Counter(), "baseline": Counter()},
    )
    for row in rows:
        out.subjects += 1
        out.affected += row["affected"]
        out.by_status["draft"][row["status"]] += 1
        out.by_status["baseline"][row["baseline_status"]] += 1
        out.by_outlook["draft"][row["outlook"] or NO_OUTLOOK] += 1
        out.by_outlook["baseline"][row["baseline_outlook"] or NO_OUTLOOK] += 1
        out.newly_failing += row["newly_failing"]
        out.newly_at_risk += row["newly_at_risk"]
        out.newly_short += row["newly_short"]
        out.needed_usd += Decimal(row["needed_usd"] or 0)
        out.baseline_needed_usd += Decimal(row["baseline_needed_usd"] or 0)
    return out


def impact_key(row: Mapping) -> tuple:
    status, outlook, extra = row["impact"]
    return (status, outlook, Decimal(extra or 0), row["subject_id"])


def most_affected(rows: Iterable[Mapping], limit: int = 20) -> list[Mapping]:
    """The ``limit`` subjects the draft hurts most (:attr:`SimulatedSubject.impact`)."""
    return sorted((r for r in rows if r["affected"]), key=impact_key, reverse=True)[:limit]


@dataclass
class Simulation:
    policy: Policy
    stored: rules.PolicySpec
    draft: rules.PolicySpec
    as_of: datetime.date
    subjects: list[SimulatedSubject]

    def rows(self) -> list[dict]:
        return [subject_row(row) for row in self.subjects]

    def summary(self) -> SimulationSummary:
        return summarise(self.rows())


def simulation_run(
    *,
    policy: Policy,
    changes: Mapping[str, object],
    as_of: datetime.date,
    partner_pks: Iterable[int] | None = None,
    progress: Callable[[float], None] | None = None,
) -> Simulation:
    """Evaluate the draft (``policy`` with ``changes``) and the stored policy
    for every subject of the policy (or of ``partner_pks``) on ``as_of``.
    Set-based, as the nightly run, and read-only. ``progress`` is called
    with the share done (0..1). Raises :class:`DraftError`."""
    stored = selectors.policy_spec(policy)
    draft = draft_spec(stored, changes)
    pks = set(partner_pks) if partner_pks is not None else None
    with collector_paused():
        run = services.run_facts(as_of=as_of, partner_pks=pks, policies=[(policy, stored)])
        if progress:
            progress(0.6)
        outputs = services.compliance_outputs(
            run,
            {"draft": (policy, draft), "baseline": (policy, stored)},
            rule=rules.evaluate_draft,
        )
    if progress:
        progress(0.95)
    subjects = [
        SimulatedSubject(d, b) for d, b in zip(outputs["draft"], outputs["baseline"], strict=True)
    ]
    subjects.sort(
        key=lambda row: (
            row.subject.partner_id,
            row.subject.subject_type != "partner",
            row.subject.subject_id,
        )
    )
    return Simulation(policy=policy, stored=stored, draft=draft, as_of=as_of, subjects=subjects)


def subject_count(policy: Policy) -> int:
    """How many subjects ``policy`` covers (one query): the page sends
    large simulations to the worker."""
    if policy.subject_level == SubjectType.LOCATION:
        return Location.objects.filter(partner__billing_model=policy.applies_to).count()
    return Partner.objects.filter(billing_model=policy.applies_to).count()


def simulation_rows(result: Simulation, partner_pks: Iterable[int] | None = None) -> list[dict]:
    """:meth:`Simulation.rows` with each partner's name, country and account
    manager (one query), for the page's filters and the export."""
    partners = Partner.objects.all()
    if partner_pks is not None:
        partners = partners.filter(pk__in=list(partner_pks))
    names = {
        pk: (name, country, manager_pk, " ".join(p for p in (first, last) if p) or username or "")
        for pk, name, country, manager_pk, username, first, last in partners.values_list(
            "pk",
            "name",
            "country",
            "account_manager_id",
            "account_manager__username",
            "account_manager__first_name",
            "account_manager__last_name",
        )
    }
    rows = result.rows()
    for row in rows:
        name, country, manager_pk, manager = names.get(row["partner_pk"], ("", "", None, ""))
        row.update(partner_name=name, country=country, manager_pk=manager_pk, manager=manager)
    return rows
