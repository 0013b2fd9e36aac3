"""The compliance engine: evaluate every applicable (subject, policy) for a
date, decide deadlines once, open follow-up cases, and record it all.

Facts are read set-based (``compliance.selectors``), the rules are pure
functions (``compliance.rules``), and the results are written with one bulk
upsert. The number of queries does not depend on the number of partners.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from core.batch import collector_paused
from core.bulk import history_created, upsert
from partners.models import BillingModel, Location, Partner, PartnerStatus

from . import history, revenue_sums, rules, selectors
from .models import (
    CaseKind,
    CaseState,
    DataVersion,
    DeadlineOutcome,
    FollowUpCase,
    JobRun,
    JobState,
    OutcomeResult,
    PartnerCurrent,
    Policy,
    Purpose,
    SubjectType,
)
from .outlooks import deadline_outlooks, rolling_off_cuts
from .rules import outlook as outlook_rules
from .selectors import EVALUATIONS_VERSION

logger = logging.getLogger(__name__)

NIGHTLY_JOB = "evaluate_all"
OUTCOME_KEY = ("subject_type", "subject_id", "policy", "deadline")


@dataclass(frozen=True, slots=True)
class Subject:
    subject_type: str
    subject_id: str
    partner_pk: int
    partner_id: str
    location_pk: int | None
    policy: Policy
    spec: rules.PolicySpec
    #: (subject type, subject id, policy pk), computed once (looked up often)
    key: tuple[str, str, int] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.subject_type, self.subject_id, self.policy.pk))


@dataclass(slots=True)
class EvaluationOutput:
    subject: Subject
    purpose: str
    result: rules.Result
    #: the deadline outlook (PRODUCT 4.9), None where there is none
    outlook: outlook_rules.Outlook | None = None
    #: why the outlook is unknown (a missing exchange rate), or ""
    outlook_error: str = ""


@dataclass
class RunSummary:
    as_of: datetime.date
    outputs: list[EvaluationOutput] = field(default_factory=list)
    outcomes_decided: int = 0
    outcomes_missed: int = 0
    cases_opened: int = 0
    rows_written: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def by_status(self) -> Counter:
        return Counter(o.result.status for o in self.outputs if o.purpose == Purpose.COMPLIANCE)

    def counts(self) -> dict[str, int]:
        return {
            "evaluated": sum(1 for o in self.outputs if o.purpose == Purpose.COMPLIANCE),
            "direct_bill_ready_checked": sum(
                1 for o in self.outputs if o.purpose == Purpose.DIRECT_BILL_READY
            ),
            **{f"status_{k}": v for k, v in sorted(self.by_status.items())},
            "outcomes_decided": self.outcomes_decided,
            "outcomes_missed": self.outcomes_missed,
            "cases_opened": self.cases_opened,
            "rows_written": self.rows_written,
            "errors": len(self.errors),
        }


class _Facts:
    """Everything read for one run, and how to turn it into rule inputs."""

    def __init__(self, partner_pks: set[int] | None) -> None:
        self.partner_pks = partner_pks
        self.partners = selectors.partner_rows(partner_pks)
        self.locations = selectors.location_rows(partner_pks)
        self.contracts = selectors.contracts_by_partner(partner_pks)
        self.locations_of: dict[int, list[int]] = defaultdict(list)
        for location in self.locations.values():
            self.locations_of[location.partner_pk].append(location.pk)

    def subject_location_pks(self, subject: Subject) -> list[int]:
        if subject.location_pk is None:
            return self.locations_of.get(subject.partner_pk, [])
        return [subject.location_pk]

    def deadline_facts(self, subject: Subject) -> tuple[datetime.date, tuple]:
        """What a subject's deadline is decided from (PRODUCT 4.4): its
        onboarding date and its partner's contracts."""
        if subject.location_pk is None:
            onboarded_on = self.partners[subject.partner_pk].onboarded_on
        else:
            onboarded_on = self.locations[subject.location_pk].onboarded_on
        return onboarded_on, self.contracts.get(subject.partner_pk, ())

    def subject_facts(
        self,
        subject: Subject,
        totals: revenue_sums.RevenueTotals,
        unresolved: dict[tuple[str, str, int], datetime.date],
    ) -> rules.SubjectFacts:
        partner = self.partners[subject.partner_pk]
        partner_active = partner.status == PartnerStatus.ACTIVE
        if subject.location_pk is None:
            location_pks = self.locations_of.get(partner.pk, [])
            onboarded_on = partner.onboarded_on
            is_active = partner_active
        else:
            location = self.locations[subject.location_pk]
            location_pks = [location.pk]
            onboarded_on = location.onboarded_on
            is_active = partner_active and location.is_active
        error = totals.error_for(location_pks)
        ttm = (
            None
            if error
            else sum((totals.usd.get(pk, Decimal(0)) for pk in location_pks), Decimal(0))
        )
        return rules.SubjectFacts(
            subject_type=subject.subject_type,
            billing_model=partner.billing_model,
            is_active=is_active,
            onboarded_on=onboarded_on,
            ttm_revenue_usd=ttm,
            revenue_error=error,
            contracts=self.contracts.get(partner.pk, ()),
            designation_count=partner.designation_count,
            agreement_signed_on=partner.agreement_signed_on,
            unresolved_missed_deadline=unresolved.get(subject.key),
        )


def _subjects(
    facts: _Facts, policies: list[tuple[Policy, rules.PolicySpec]]
) -> tuple[list[Subject], list[Subject]]:
    """(compliance subjects, direct-bill-readiness subjects)."""
    compliance: list[Subject] = []
    readiness: list[Subject] = []
    for policy, spec in policies:
        for partner in facts.partners.values():
            if spec.subject_level == SubjectType.PARTNER:
                subject = Subject(
                    SubjectType.PARTNER,
                    partner.partner_id,
                    partner.pk,
                    partner.partner_id,
                    None,
                    policy,
                    spec,
                )
                if partner.billing_model == spec.applies_to:
                    compliance.append(subject)
                elif (
                    spec.applies_to == BillingModel.DIRECT_BILL
                    and partner.status == PartnerStatus.ACTIVE
                ):
                    readiness.append(subject)
            elif partner.billing_model == spec.applies_to:
                for location_pk in facts.locations_of.get(partner.pk, []):
                    location = facts.locations[location_pk]
                    compliance.append(
                        Subject(
                            SubjectType.LOCATION,
                            location.location_id,
                            partner.pk,
                            partner.partner_id,
                            location.pk,
                            policy,
                            spec,
                        )
                    )
    return compliance, readiness


def _evaluate_all(
    facts: _Facts,
    subjects: list[Subject],
    as_of: datetime.date,
    totals: revenue_sums.RevenueTotals,
    unresolved: dict[tuple[str, str, int], datetime.date],
    rule: Callable[..., rules.Result] = rules.evaluate,
) -> dict[tuple[str, str, int], rules.Result]:
    return {
        s.key: rule(facts.subject_facts(s, totals, unresolved), s.spec, as_of) for s in subjects
    }


@dataclass
class RunFacts:
    """The facts of one run, read set-based: partners, locations, contracts,
    the subjects of the policies, today's TTM totals and the open missed
    deadlines. Reads only."""

    as_of: datetime.date
    partner_pks: set[int] | None
    facts: _Facts
    totals: revenue_sums.RevenueTotals
    unresolved: dict[tuple[str, str, int], datetime.date]
    #: the policies the scan summed the outlook's parts for, and their
    #: compliance and direct-bill-readiness subjects
    policies: tuple[tuple[Policy, rules.PolicySpec], ...] = ()
    subjects: list[Subject] = field(default_factory=list)
    readiness: list[Subject] = field(default_factory=list)


def run_facts(
    *,
    as_of: datetime.date,
    partner_pks: set[int] | None,
    policies: Sequence[tuple[Policy, rules.PolicySpec]] = (),
) -> RunFacts:
    """Read everything an evaluation of ``as_of`` needs (a fixed number of
    queries). Shared by :func:`evaluation_run` and the simulator. The TTM
    scan also sums what the deadline outlook of the subjects of
    ``policies`` needs from today's window (PRODUCT 4.9): the pace months,
    and each location's revenue dated before its deadline window opens."""
    facts = _Facts(partner_pks)
    subjects, readiness = _subjects(facts, list(policies))
    return RunFacts(
        as_of=as_of,
        partner_pks=partner_pks,
        facts=facts,
        totals=revenue_sums.revenue_totals(
            rules.ttm_window(as_of),
            partner_pks,
            inner=outlook_rules.pace_window(as_of),
            cuts=rolling_off_cuts(facts, subjects, as_of),
        ),
        unresolved=selectors.unresolved_missed_deadlines(partner_pks, as_of=as_of),
        policies=tuple(policies),
        subjects=subjects,
        readiness=readiness,
    )


def compliance_outputs(
    run: RunFacts,
    groups: dict[Hashable, tuple[Policy, rules.PolicySpec]],
    rule: Callable[..., rules.Result] = rules.evaluate,
) -> dict[Hashable, list[EvaluationOutput]]:
    """Evaluate every subject of each (policy, spec) with ``rule``, and the
    outlooks of all groups (from the run's scan, plus one query for what it
    did not cut for: a draft's own deadlines); nothing is written. The
    simulator puts a draft and its stored policy side by side this way."""
    subjects = {
        name: (run.subjects if run.policies == (group,) else _subjects(run.facts, [group])[0])
        for name, group in groups.items()
    }
    facts_of: dict[tuple[str, str, int], rules.SubjectFacts] = {}  # the same in every group
    for group in subjects.values():
        for s in group:
            if s.key not in facts_of:
                facts_of[s.key] = run.facts.subject_facts(s, run.totals, run.unresolved)
    results = {
        name: {s.key: rule(facts_of[s.key], s.spec, run.as_of) for s in group}
        for name, group in subjects.items()
    }
    entries: list[tuple[Hashable, Subject, rules.Result]] = [
        ((n, s.key), s, results[n][s.key]) for n, group in subjects.items() for s in group
    ]
    outlooks = deadline_outlooks(run.facts, entries, run.as_of, run.totals)
    return {
        n: [
            EvaluationOutput(
                s, Purpose.COMPLIANCE, results[n][s.key], *outlooks.get((n, s.key), (None, ""))
            )
            for s in group
        ]
        for n, group in subjects.items()
    }


def _record_history(rows: QuerySet) -> None:
    """The "created" history rows of what a run inserted set-based, so that
    the first later change shows before and after."""
    history_created(rows, reason="decided by the evaluation run", when=timezone.now())


def _decide_deadlines(
    facts: _Facts,
    subjects: list[Subject],
    results: dict[tuple[str, str, int], rules.Result],
    as_of: datetime.date,
    summary: RunSummary,
) -> list[Subject]:
    """Record a DeadlineOutcome for each subject's most recent undecided
    deadline on or before ``as_of``, computed from the figures as of that
    deadline. Returns the subjects whose deadline was decided as missed."""
    pending: dict[tuple[str, str, int], datetime.date] = {}
    by_key = {s.key: s for s in subjects}
    for key, result in results.items():
        if result.status != "not_applicable" and result.last_deadline is not None:
            pending[key] = result.last_deadline
    decided = selectors.decided_deadlines(set(pending.values()), facts.partner_pks)
    undecided: dict[datetime.date, list[Subject]] = defaultdict(list)
    for key, deadline in pending.items():
        if (*key, deadline) not in decided:
            undecided[deadline].append(by_key[key])

    # Catch-up: deadlines the job did not see on the day are decided from the
    # figures as of the deadline, never from today's (one query for all).
    past_totals = revenue_sums.revenue_totals_for_windows(
        {
            deadline: {pk for s in group for pk in facts.subject_location_pks(s)}
            for deadline, group in undecided.items()
            if deadline != as_of
        }
    )
    outcomes: list[dict] = []
    decided_at = timezone.now()  # one stamp: it finds the rows this run inserts
    for deadline, group in sorted(undecided.items()):
        if deadline == as_of:
            # Today's results, as the catch-up below would find them: an
            # earlier missed deadline is not why this one is met or missed.
            at_deadline = {s.key: replace(results[s.key], missed_deadline=None) for s in group}
        else:
            at_deadline = _evaluate_all(facts, group, deadline, past_totals[deadline], {})
        for subject in group:
            result = at_deadline[subject.key]
            if result.status == "error":
                summary.errors.append(
                    f"{subject.subject_type} {subject.subject_id} / {subject.policy.code}: "
                    f"deadline {deadline} not decided: {result.error}"
                )
                continue
            if result.status == "not_applicable":
                continue
            outcomes.append(
                {
                    "subject_type": subject.subject_type,
                    "subject_id": subject.subject_id,
                    "partner": subject.partner_pk,
                    "location": subject.location_pk,
                    "policy": subject.policy.pk,
                    "deadline": deadline,
                    "result": OutcomeResult.MISSED if result.unmet else OutcomeResult.MET,
                    "ttm_revenue_usd": result.ttm_revenue_usd,
                    "unmet": list(result.unmet),
                    "explanation": result.explanation("en"),
                    "decided_on": as_of,
                    "decided_at": decided_at,
                    "override_reason": "",
                }
            )
    if not outcomes:
        return []
    # Insert-if-missing: a concurrent run that decided first wins; never twice.
    inserted = upsert(DeadlineOutcome, outcomes, unique_fields=OUTCOME_KEY, update_fields=())
    summary.outcomes_decided += inserted
    if inserted:
        _record_history(DeadlineOutcome.objects.filter(decided_at=decided_at))
    missed_keys = {
        (o["subject_type"], o["subject_id"], o["policy"], o["deadline"])
        for o in outcomes
        if o["result"] == OutcomeResult.MISSED
    }
    if not missed_keys:
        return []
    # A case for every missed deadline that has none yet (this also repairs
    # a run that crashed between the two statements).
    stored = DeadlineOutcome.objects.filter(
        result=OutcomeResult.MISSED,
        deadline__in={k[3] for k in missed_keys},
        case__isnull=True,
    ).values_list(
        "pk", "subject_type", "subject_id", "policy_id", "deadline", "partner_id", "location_id"
    )
    now = timezone.now()
    cases = [
        {
            "outcome": pk,
            "partner": partner_pk,
            "location": location_pk,
            "kind": (
                CaseKind.DEAUTHORISATION
                if subject_type == SubjectType.LOCATION
                else CaseKind.TRANSITION_TO_INDIRECT
            ),
            "state": CaseState.OPEN,
            "owner": facts.partners[partner_pk].account_manager_pk,
            "notes": "",
            "opened_at": now,
        }
        for pk, subject_type, subject_id, policy_pk, deadline, partner_pk, location_pk in stored
        if (subject_type, subject_id, policy_pk, deadline) in missed_keys
        and partner_pk in facts.partners
    ]
    summary.outcomes_missed += len(missed_keys)
    opened = upsert(FollowUpCase, cases, unique_fields=("outcome",), update_fields=())
    summary.cases_opened += opened
    if opened:
        _record_history(FollowUpCase.objects.filter(opened_at=now))
    return [by_key[(k[0], k[1], k[2])] for k in missed_keys]


def _finding(output: EvaluationOutput) -> history.Finding:
    s = output.subject
    return history.finding(
        subject_type=s.subject_type,
        subject_id=s.subject_id,
        partner_pk=s.partner_pk,
        location_pk=s.location_pk,
        policy_pk=s.policy.pk,
        purpose=output.purpose,
        result=output.result,
        outlook=output.outlook,
        outlook_error=output.outlook_error,
    )


def _write_current(outputs: list[EvaluationOutput], as_of: datetime.date) -> None:
    """Point each evaluated partner at this run (``PartnerCurrent``) with the
    worst compliance status of the run, its worst deadline outlook and
    whether some subject is compliant today but short at its deadline (for
    the lists' filters and sorts); one statement, changed rows only."""
    ranks, outlook_ranks = selectors.DISPLAY_RANKS, selectors.OUTLOOK_RANKS
    current: dict[int, dict] = {}
    for output in outputs:
        pk = output.subject.partner_pk
        row = current.setdefault(
            pk,
            {
                "partner": pk,
                "evaluated_on": as_of,
                "worst_rank": None,
                "worst_outlook_rank": None,
                "compliant_short": False,
            },
        )
        if output.purpose != Purpose.COMPLIANCE:
            continue
        status = output.result.status
        new = ranks.get(status, ranks["error"])
        row["worst_rank"] = new if row["worst_rank"] is None else max(row["worst_rank"], new)
        outlook = output.outlook.outlook if output.outlook else ""
        if outlook:
            rank = outlook_ranks[outlook]
            worst = row["worst_outlook_rank"]
            row["worst_outlook_rank"] = rank if worst is None else max(worst, rank)
            if status == rules.COMPLIANT and outlook == outlook_rules.SHORT:
                row["compliant_short"] = True
    upsert(
        PartnerCurrent,
        list(current.values()),
        unique_fields=("partner",),
        update_fields=("evaluated_on", "worst_rank", "worst_outlook_rank", "compliant_short"),
        only_if='{table}."evaluated_on" <= EXCLUDED."evaluated_on"',  # a past day stays history
    )


def statistics_refresh() -> None:
    """Fresh planner statistics for the tables a nightly run grows
    (PostgreSQL). Each night adds a new ``as_of`` that the statistics do not
    know yet; without them the current-row lookups of the pages fall back to
    scanning the whole day instead of probing (partner, as_of)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "ANALYZE compliance_evaluationperiod, compliance_evaluatedday, "
                "compliance_partnercurrent"
            )


def bump_version(name: str) -> None:
    """Raise the ``DataVersion`` counter ``name`` (its own short statement:
    call it after the change committed)."""
    updated = DataVersion.objects.filter(name=name).update(version=F("version") + 1)
    if not updated:
        try:
            with transaction.atomic():
                DataVersion.objects.create(name=name, version=1)
        except IntegrityError:  # created concurrently
            DataVersion.objects.filter(name=name).update(version=F("version") + 1)


def evaluation_run(
    *,
    as_of: datetime.date,
    partner_pks: Iterable[int] | None = None,
    save: bool = True,
    decide: bool = True,
) -> RunSummary:
    """Evaluate every applicable (subject, policy) on ``as_of``; with
    ``save`` also upsert the evaluations and, with ``decide`` (a *full*
    evaluation: the nightly run, ``evaluate_eligibility``), decide deadlines
    and open cases, all in one transaction. Writes use
    :func:`partners_reevaluate` instead (``decide=False``, PRODUCT 4.6)."""
    pks = set(partner_pks) if partner_pks is not None else None
    summary = RunSummary(as_of=as_of)
    with collector_paused(), transaction.atomic():
        run = run_facts(as_of=as_of, partner_pks=pks, policies=selectors.policies_in_force(as_of))
        facts, totals, unresolved = run.facts, run.totals, run.unresolved
        compliance_subjects, readiness_subjects = run.subjects, run.readiness
        results = _evaluate_all(facts, compliance_subjects, as_of, totals, unresolved)
        if save and decide:
            newly_missed = _decide_deadlines(facts, compliance_subjects, results, as_of, summary)
            if newly_missed:
                for subject in newly_missed:
                    missed_on = results[subject.key].last_deadline
                    if missed_on is not None:  # always: what was missed is a last deadline
                        unresolved[subject.key] = max(
                            unresolved.get(subject.key, datetime.date.min), missed_on
                        )
                results.update(_evaluate_all(facts, newly_missed, as_of, totals, unresolved))
        outlooks = deadline_outlooks(
            facts, [(s.key, s, results[s.key]) for s in compliance_subjects], as_of, totals
        )
        for subject in compliance_subjects:
            outlook, outlook_error = outlooks.get(subject.key, (None, ""))
            summary.outputs.append(
                EvaluationOutput(
                    subject, Purpose.COMPLIANCE, results[subject.key], outlook, outlook_error
                )
            )
        for subject in readiness_subjects:
            result = rules.direct_bill_ready(
                facts.subject_facts(subject, totals, {}), subject.spec, as_of
            )
            summary.outputs.append(EvaluationOutput(subject, Purpose.DIRECT_BILL_READY, result))
        for output in summary.outputs:
            if output.result.status == "error" and output.purpose == Purpose.COMPLIANCE:
                summary.errors.append(
                    f"{output.subject.subject_type} {output.subject.subject_id} / "
                    f"{output.subject.policy.code}: {output.result.error}"
                )
        if save:
            written = history.record_day(
                summary.outputs,
                _finding,
                day=as_of,
                partner_pks=pks,
                now=timezone.now(),
            )
            summary.rows_written = written.rows
            _write_current(summary.outputs, as_of)
            transaction.on_commit(lambda: bump_version(EVALUATIONS_VERSION))
    return summary


@dataclass
class Reevaluation:
    """What :func:`partners_reevaluate` did: how many partners, for which
    day, and the error if it failed (the write it follows stays saved)."""

    as_of: datetime.date
    partners: int = 0
    evaluated: int = 0
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error

    def __str__(self) -> str:
        if self.error:
            return f"re-evaluation failed ({self.error}); the nightly run will do it"
        noun = "partner" if self.partners == 1 else "partners"
        return (
            f"re-evaluated {self.partners} {noun} for {self.as_of.isoformat()} "
            f"in {self.seconds:.2f} s"
        )


def partners_reevaluate(
    *, partner_pks: Iterable[int], when: datetime.date | None = None
) -> Reevaluation:
    """The one way a write asks for re-evaluation (form, API, admin, every
    import kind): evaluate the partners it touched as of ``when`` (today in
    the configured time zone) in one set-based run and store the result, so
    that pages, API and reminders show figures as new as the data.

    It refreshes the day's figures but decides no deadline and opens no case
    (PRODUCT 4.6, docs/decisions/0006): a portfolio loaded in order, revenue
    last, must never record "missed" for a deadline whose revenue is not
    imported yet. The nightly run decides from the full data.

    Call it after the write committed. It never raises: a failure is logged
    and returned, and the write it follows is kept (the nightly run catches
    up)."""
    pks = set(partner_pks)
    result = Reevaluation(as_of=when or timezone.localdate(), partners=len(pks))
    if not pks:
        return result
    started = time.perf_counter()
    try:
        summary = evaluation_run(as_of=result.as_of, partner_pks=pks, decide=False)
    except Exception as exc:
        logger.exception("re-evaluation of %d partner(s) for %s failed", len(pks), result.as_of)
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    finally:
        result.seconds = time.perf_counter() - started
    result.evaluated = summary.counts()["evaluated"]
    logger.info("%s", result)
    return result


def partners_reevaluate_all(*, when: datetime.date | None = None) -> Reevaluation:
    """:func:`partners_reevaluate` for every partner (a policy changed)."""
    return partners_reevaluate(partner_pks=Partner.objects.values_list("pk", flat=True), when=when)


# --- nightly job ---------------------------------------------------------------


def job_run_claim(
    *, job: str, run_date: datetime.date, task_id: str = "", stale_after: datetime.timedelta
) -> JobRun | None:
    """Claim the run of ``job`` for ``run_date``. Returns None when it already
    succeeded or another worker is running it; takes over a run that failed
    or went stale (its worker died)."""
    now = timezone.now()
    with transaction.atomic():
        try:
            run, created = JobRun.objects.select_for_update().get_or_create(
                job=job, run_date=run_date, defaults={"started_at": now, "task_id": task_id}
            )
        except IntegrityError:  # a concurrent claim created it first
            return None
        if created:
            return run
        if run.state == JobState.SUCCEEDED:
            return None
        if run.state == JobState.RUNNING and run.started_at > now - stale_after:
            return None
        run.state = JobState.RUNNING
        run.attempts += 1
        run.started_at = now
        run.finished_at = None
        run.task_id = task_id
        run.save(update_fields=["state", "attempts", "started_at", "finished_at", "task_id"])
        return run


def job_run_finish(*, run: JobRun, summary: RunSummary | None, error: str = "") -> JobRun:
    run.finished_at = timezone.now()
    if summary is not None:
        run.counts = summary.counts()
        run.errors = summary.errors[:500]
    if error:
        run.state = JobState.FAILED
        run.errors = [*run.errors, error][:500]
    else:
        run.state = JobState.SUCCEEDED
    run.save(update_fields=["finished_at", "counts", "errors", "state"])
    transaction.on_commit(lambda: bump_version(EVALUATIONS_VERSION))  # the dashboard shows runs
    return run


def partner_pks_for_ids(partner_ids: Iterable[str]) -> dict[str, int]:
    return dict(
        Partner.objects.filter(partner_id__in=list(partner_ids)).values_list("partner_id", "pk")
    )


def location_pks(partner_pk: int) -> list[int]:
    return list(Location.objects.filter(partner_id=partner_pk).values_list("pk", flat=True))
