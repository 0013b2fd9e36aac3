"""Programme policies (the rules as data) and what the engine records."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.formatting import is_german, round_places
from partners.models import BillingModel, PlanType

from .rules import findings as rules_findings
from .rules import outlook as outlook_rules


class SubjectLevel(models.TextChoices):
    PARTNER = "partner", _("Partner (all locations summed)")
    LOCATION = "location", _("Location (each on its own)")


class DeadlineAnchor(models.TextChoices):
    SUPPORT_PLAN_RENEWAL = "support_plan_renewal", _("Renewal date of the paid support plan")
    ONBOARDING_ANNIVERSARY_MONTH = (
        "onboarding_anniversary_month",
        _("First day of the onboarding anniversary month"),
    )


class RequirementCode(models.TextChoices):
    REVENUE = "revenue", _("Trailing-twelve-month revenue")
    SUPPORT_PLAN = "support_plan", _("Active paid support plan")
    DESIGNATION = "designation", _("Solutions Partner designation")
    AGREEMENT = "agreement", _("Microsoft Partner Agreement signed")


class Policy(models.Model):
    """A programme policy with its effective period. Rules change; they are
    edited here, not in code."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_de = models.CharField(
        _("name (German)"),
        max_length=200,
        blank=True,
        help_text=_("Shown on German pages and in German emails; empty: the name above."),
    )
    description = models.TextField(_("description"), blank=True)
    source_url = models.URLField(_("source"), blank=True)
    applies_to = models.CharField(
        _("applies to billing model"), max_length=20, choices=BillingModel.choices
    )
    subject_level = models.CharField(
        _("evaluated per"), max_length=10, choices=SubjectLevel.choices
    )
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(
        _("effective until"), null=True, blank=True, help_text=_("Inclusive; empty means open.")
    )
    deadline_anchor = models.CharField(
        _("deadline anchor"), max_length=40, choices=DeadlineAnchor.choices
    )
    reminder_offsets = models.JSONField(
        _("reminder offsets (days before the deadline)"),
        default=list,
        blank=True,
        help_text=_("For example [90, 60, 30, 14, 7, 1]."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["effective_from", "code"]
        verbose_name = _("policy")
        verbose_name_plural = _("policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=F("effective_from")),
                name="policy_effective_period_ordered",
            ),
            models.CheckConstraint(
                condition=Q(applies_to__in=BillingModel.values), name="policy_applies_to_valid"
            ),
            models.CheckConstraint(
                condition=Q(subject_level__in=SubjectLevel.values),
                name="policy_subject_level_valid",
            ),
            models.CheckConstraint(
                condition=Q(deadline_anchor__in=DeadlineAnchor.values),
                name="policy_deadline_anchor_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        offsets = self.reminder_offsets
        if not isinstance(offsets, list) or not all(
            isinstance(o, int) and not isinstance(o, bool) and 0 < o <= 366 for o in offsets
        ):
            raise ValidationError(
                {"reminder_offsets": _("Give a list of whole days between 1 and 366.")}
            )
        if len(set(offsets)) != len(offsets):
            raise ValidationError({"reminder_offsets": _("Each offset may appear only once.")})
        self.reminder_offsets = sorted(offsets, reverse=True)

    def name_in(self, language: str | None = None) -> str:
        """The name in ``language`` (default: the active one): the German
        name on German pages and in German emails, else the name."""
        language = language or get_language() or "en"
        if language.startswith("de") and self.name_de:
            return self.name_de
        return self.name

    @property
    def display_name(self) -> str:
        """The name in the active language (for templates)."""
        return self.name_in()

    def in_force_on(self, day: datetime.date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


class PolicyRequirement(models.Model):
    """One requirement of a policy. Which fields matter depends on the code."""

    policy = models.ForeignKey(
        Policy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="requirements"
    )
    code = models.CharField(_("requirement"), max_length=20, choices=RequirementCode.choices)
    threshold_usd = models.DecimalField(
        _("threshold (USD)"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Revenue requirements: met when TTM revenue is at least this amount."),
    )
    qualifying_plan_types = models.JSONField(
        _("qualifying plan types"),
        default=list,
        blank=True,
        help_text=_('Support plan requirements: e.g. ["asfp", "psfp"].'),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["policy", "code"]
        verbose_name = _("policy requirement")
        verbose_name_plural = _("policy requirements")
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "code"], name="policy_requirement_unique_code"
            ),
            models.CheckConstraint(
                condition=~Q(code="revenue") | Q(threshold_usd__isnull=False, threshold_usd__gte=0),
                name="policy_requirement_revenue_has_threshold",
            ),
            models.CheckConstraint(
                condition=Q(code__in=RequirementCode.values), name="policy_requirement_code_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy.code}: {self.get_code_display()}"

    def clean(self) -> None:
        if self.code == RequirementCode.REVENUE and self.threshold_usd is None:
            raise ValidationError({"threshold_usd": _("A revenue requirement needs a threshold.")})
        if self.code == RequirementCode.SUPPORT_PLAN:
            plans = self.qualifying_plan_types
            if not plans or not isinstance(plans, list) or not set(plans) <= set(PlanType.values):
                raise ValidationError(
                    {
                        "qualifying_plan_types": _("Choose from: %(choices)s.")
                        % {"choices": ", ".join(PlanType.values)}
                    }
                )


class SubjectType(models.TextChoices):
    PARTNER = "partner", _("Partner")
    LOCATION = "location", _("Location")


class Status(models.TextChoices):
    COMPLIANT = "compliant", _("Compliant")
    AT_RISK = "at_risk", _("At risk")
    NON_COMPLIANT = "non_compliant", _("Non-compliant")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")
    ERROR = "error", _("Error")


class Outlook(models.TextChoices):
    """Where the deadline's window stands (PRODUCT 4.9)."""

    MET = "met", _("Met")
    ON_TRACK = "on_track", _("On track")
    SHORT = "short", _("Short")


class Purpose(models.TextChoices):
    COMPLIANCE = "compliance", _("Compliance status")
    DIRECT_BILL_READY = "direct_bill_ready", _("Direct-bill readiness (read-only)")


class EvaluationFindings(models.Model):
    """The columns a period keeps and the per-day view shows (one list)."""

    subject_type = models.CharField(_("subject type"), max_length=10, choices=SubjectType.choices)
    subject_id = models.CharField(
        _("subject id"), max_length=20, help_text=_("Partner id or location id.")
    )
    purpose = models.CharField(
        _("purpose"), max_length=20, choices=Purpose.choices, default=Purpose.COMPLIANCE
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    ttm_revenue_usd = models.DecimalField(
        _("TTM revenue (USD)"), max_digits=24, decimal_places=8, null=True, blank=True
    )
    threshold_usd = models.DecimalField(
        _("threshold (USD)"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    shortfall_usd = models.DecimalField(
        _("shortfall (USD)"), max_digits=24, decimal_places=8, null=True, blank=True
    )
    requirements = models.JSONField(_("requirements met"), default=dict)
    unmet = models.JSONField(_("unmet requirements"), default=list)
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    # The deadline outlook (PRODUCT 4.9): null without a revenue
    # requirement or a deadline after the day, or when a missing rate
    # leaves it unknown. The pace and the projection are derived per day
    # from the pace window's sum and length.
    secured_usd = models.DecimalField(
        _("secured for the deadline (USD)"),
        max_digits=24,
        decimal_places=8,
        null=True,
        blank=True,
    )
    rolling_off_usd = models.DecimalField(
        _("rolling off before the deadline (USD)"),
        max_digits=24,
        decimal_places=8,
        null=True,
        blank=True,
    )
    needed_usd = models.DecimalField(
        _("still needed (USD)"), max_digits=24, decimal_places=8, null=True, blank=True
    )
    pace_total_usd = models.DecimalField(
        _("revenue of the pace months (USD)"),
        max_digits=24,
        decimal_places=8,
        null=True,
        blank=True,
    )
    pace_days = models.SmallIntegerField(_("days of the pace months"), null=True, blank=True)
    outlook = models.CharField(_("outlook"), max_length=10, choices=Outlook.choices, blank=True)
    error = models.TextField(_("error"), blank=True)
    # What the explanation is worded from besides the figures (rules.findings.why_of);
    # null for history converted from day rows, which keeps its words.
    why = models.JSONField(_("reasons"), null=True, blank=True)
    legacy_explanation = models.TextField(_("explanation (recorded)"), blank=True)
    legacy_explanation_de = models.TextField(_("explanation (recorded, German)"), blank=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        abstract = True


class EvaluationPeriod(EvaluationFindings):
    """What the engine found for a (subject, policy, purpose) over a period
    of days in which nothing but the calendar changed: from ``valid_from``
    up to the day before ``valid_to`` (open while ``valid_to`` is null).
    Days to the deadline, the projection and the wording are derived for the
    day asked about (``Evaluation``); docs/decisions/0014."""

    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.CASCADE,
        related_name="evaluation_periods",
        db_index=False,  # evaluationperiod_partner (partner, valid_from) serves it
    )
    location = models.ForeignKey(
        "partners.Location",
        verbose_name=_("location"),
        on_delete=models.CASCADE,
        related_name="evaluation_periods",
        null=True,
        blank=True,
    )
    policy = models.ForeignKey(
        Policy,
        verbose_name=_("policy"),
        on_delete=models.PROTECT,
        related_name="evaluation_periods",
        # no index of its own: readers come by subject or partner; only
        # deleting a policy asks by policy (a rare admin action, PROTECT)
        db_index=False,
    )
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(
        _("valid until (exclusive)"), null=True, blank=True, help_text=_("Empty: still valid.")
    )

    class Meta:
        ordering = ["subject_type", "subject_id", "policy_id", "purpose", "valid_from"]
        verbose_name = _("evaluation period")
        verbose_name_plural = _("evaluation periods")
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "policy", "purpose", "valid_from"],
                name="evaluationperiod_one_start",
            ),
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "policy", "purpose"],
                condition=Q(valid_to__isnull=True),
                name="evaluationperiod_one_open",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="evaluationperiod_not_empty",
            ),
            models.CheckConstraint(
                condition=Q(subject_type="partner", location__isnull=True)
                | Q(subject_type="location", location__isnull=False),
                name="evaluationperiod_location_matches_subject_type",
            ),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="evaluationperiod_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "valid_from"], name="evaluationperiod_partner"),
            models.Index(fields=["valid_to", "valid_from"], name="evaluationperiod_until"),
            # the current evaluations: a partner's latest evaluated day is
            # always covered by open periods (docs/decisions/0014)
            models.Index(
                fields=["partner"],
                condition=Q(valid_to__isnull=True),
                name="evaluationperiod_open_partner",
            ),
        ]

    def __str__(self) -> str:
        until = self.valid_to.isoformat() if self.valid_to else ""
        return (
            f"{self.subject_type} {self.subject_id} / {self.policy_id} / "
            f"{self.valid_from}..{until}: {self.status}"
        )


class EvaluatedDay(models.Model):
    """A day the engine evaluated: for every partner (``partner`` null, a
    full run) or for one partner (a re-evaluation after a write on a day
    no full run has covered yet). The per-day history shows a day only
    where it was evaluated, exactly as rows per day did."""

    as_of = models.DateField(_("as of"))
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.CASCADE,
        related_name="evaluated_days",
        null=True,
        blank=True,
    )
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        ordering = ["-as_of"]
        verbose_name = _("evaluated day")
        verbose_name_plural = _("evaluated days")
        constraints = [
            models.UniqueConstraint(
                fields=["as_of"], condition=Q(partner__isnull=True), name="evaluatedday_one_full"
            ),
            models.UniqueConstraint(
                fields=["as_of", "partner"],
                condition=Q(partner__isnull=False),
                name="evaluatedday_one_partial",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.as_of} ({self.partner_id or 'all'})"


class EvaluationQuerySet(models.QuerySet):
    def delete(self) -> tuple[int, dict[str, int]]:
        """The view cannot be written: deletes the periods behind these rows
        (whole periods - the history is not edited day by day)."""
        periods = EvaluationPeriod.objects.filter(pk__in=self.values("period_id"))
        deleted = periods.delete()
        if not EvaluationPeriod.objects.exists():  # no history left: no evaluated days
            EvaluatedDay.objects.all().delete()
        return deleted


class Evaluation(EvaluationFindings):
    """One evaluation of a subject against a policy on a day, as the
    history answers it: a read-only database view of the periods
    (``EvaluationPeriod``) on every evaluated day (``EvaluatedDay``).
    ``days_to_deadline`` is computed by the view; the pace, the projection
    and the explanation by the properties below, for the day."""

    #: period id x 100000 + days since 2000-01-01: unique per (period, day)
    id = models.BigIntegerField(primary_key=True)
    period = models.ForeignKey(
        EvaluationPeriod,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="evaluations",
    )
    location = models.ForeignKey(
        "partners.Location",
        verbose_name=_("location"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="evaluations",
        null=True,
        blank=True,
    )
    policy = models.ForeignKey(
        Policy,
        verbose_name=_("policy"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="evaluations",
    )
    as_of = models.DateField(_("as of"))
    days_to_deadline = models.IntegerField(_("days to deadline"), null=True, blank=True)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid until (exclusive)"), null=True, blank=True)

    objects = EvaluationQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = "compliance_evaluation"
        ordering = ["-as_of", "subject_type", "subject_id", "policy_id"]
        verbose_name = _("evaluation")
        verbose_name_plural = _("evaluations")

    def __str__(self) -> str:
        return f"{self.subject_type} {self.subject_id} / {self.policy_id} / {self.as_of}: {self.status}"

    # --- derived for the day ------------------------------------------------

    def findings(self) -> rules_findings.StoredFindings:
        return rules_findings.StoredFindings(
            status=self.status,
            ttm_revenue_usd=self.ttm_revenue_usd,
            threshold_usd=self.threshold_usd,
            shortfall_usd=self.shortfall_usd,
            requirements=self.requirements,
            unmet=tuple(self.unmet),
            deadline=self.deadline,
            error=self.error,
            why=self.why or {},
            policy_code="",
            subject_type=self.subject_type,
            secured_usd=self.secured_usd,
            rolling_off_usd=self.rolling_off_usd,
            needed_usd=self.needed_usd,
            pace_total_usd=self.pace_total_usd,
            pace_days=self.pace_days,
            outlook=self.outlook,
        )

    @property
    def pace_usd(self) -> Decimal | None:
        """USD a day over the pace months (12 places, as stored before)."""
        if self.pace_total_usd is None or not self.pace_days:
            return None
        return round_places(outlook_rules.pace(self.pace_total_usd, self.pace_days), 12)

    @property
    def projected_usd(self) -> Decimal | None:
        """``secured + pace x days`` on this day (12 places)."""
        if (
            self.pace_total_usd is None
            or not self.pace_days
            or self.secured_usd is None
            or self.days_to_deadline is None
        ):
            return None
        return round_places(
            outlook_rules.projected(
                self.secured_usd, self.pace_total_usd, self.pace_days, self.days_to_deadline
            ),
            12,
        )

    def explanation_in(self, language: str) -> str:
        """Why, in ``language`` (PRODUCT 4.7), for this day."""
        if self.why is None:  # converted from a day row: its recorded words
            if is_german(language):
                return self.legacy_explanation_de or self.legacy_explanation
            return self.legacy_explanation
        return rules_findings.explanation_on(self.findings(), self.as_of, language)

    def status_explanation_in(self, language: str) -> str | None:
        """The words of the evaluation without the outlook's sentence (pages
        that show the outlook on its own); None for converted history,
        whose recorded words cannot be taken apart."""
        if self.why is None:
            return None
        return self.findings().result_on(self.as_of).explanation(language)

    @property
    def explanation(self) -> str:
        return self.explanation_in("en")

    @property
    def explanation_de(self) -> str:
        return self.explanation_in("de")

    @property
    def reader_explanation(self) -> str:
        """In the active language (the reader's)."""
        return self.explanation_in(get_language() or "en")


class PartnerCurrent(models.Model):
    """Where a partner's current evaluations are: the date of its latest run
    and the worst compliance status of that run (partner and locations, all
    policies) as a display rank (``compliance.selectors.DISPLAY_RANKS``).
    Written by every evaluation run, so that lists and dashboards join one
    row per partner instead of searching the evaluation history."""

    partner = models.OneToOneField(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="current",
    )
    evaluated_on = models.DateField(_("evaluated on"))
    worst_rank = models.SmallIntegerField(_("worst status rank"), null=True, blank=True)
    #: the worst deadline outlook of that run (``compliance.selectors.OUTLOOK_RANKS``:
    #: met < on track < short); None when no subject has one
    worst_outlook_rank = models.SmallIntegerField(_("worst outlook rank"), null=True, blank=True)
    #: some subject of that run is compliant today and short at its deadline
    compliant_short = models.BooleanField(
        _("compliant today, short at the deadline"), default=False
    )

    class Meta:
        verbose_name = _("current evaluation date")
        verbose_name_plural = _("current evaluation dates")
        indexes = [
            models.Index(fields=["worst_rank"], name="partnercurrent_worst_rank"),
            models.Index(fields=["worst_outlook_rank"], name="partnercurrent_outlook_rank"),
            models.Index(
                fields=["partner"],
                condition=Q(compliant_short=True),
                name="partnercurrent_compliant_short",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}: {self.evaluated_on}"


class DataVersion(models.Model):
    """A counter per kind of data, raised after every change that cached
    pages depend on (e.g. each evaluation run): cache keys include it, so a
    stale page is never served, whichever process wrote the change."""

    name = models.CharField(_("name"), max_length=50, primary_key=True)
    version = models.BigIntegerField(_("version"), default=0)
    changed_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("data version")
        verbose_name_plural = _("data versions")

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class OutcomeResult(models.TextChoices):
    MET = "met", _("Met")
    MISSED = "missed", _("Missed")


class DeadlineOutcome(models.Model):
    """A deadline decided once, from the figures as of the deadline date."""

    subject_type = models.CharField(_("subject type"), max_length=10, choices=SubjectType.choices)
    subject_id = models.CharField(_("subject id"), max_length=20)
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.CASCADE,
        related_name="outcomes",
    )
    location = models.ForeignKey(
        "partners.Location",
        verbose_name=_("location"),
        on_delete=models.CASCADE,
        related_name="outcomes",
        null=True,
        blank=True,
    )
    policy = models.ForeignKey(
        Policy, verbose_name=_("policy"), on_delete=models.PROTECT, related_name="outcomes"
    )
    deadline = models.DateField(_("deadline"))
    result = models.CharField(_("result"), max_length=10, choices=OutcomeResult.choices)
    ttm_revenue_usd = models.DecimalField(
        _("TTM revenue (USD) on the deadline"), max_digits=24, decimal_places=8, null=True
    )
    unmet = models.JSONField(_("unmet requirements"), default=list)
    explanation = models.TextField(_("explanation"), blank=True)
    decided_on = models.DateField(_("decided on"))
    decided_at = models.DateTimeField(_("decided at"), auto_now_add=True)
    overridden_at = models.DateTimeField(_("overridden at"), null=True, blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("overridden by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    override_reason = models.TextField(_("override reason"), blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-deadline", "subject_type", "subject_id"]
        verbose_name = _("deadline outcome")
        verbose_name_plural = _("deadline outcomes")
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "policy", "deadline"],
                name="outcome_decided_once",
            ),
            models.CheckConstraint(
                condition=Q(overridden_at__isnull=True) | ~Q(override_reason=""),
                name="outcome_override_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_type} {self.subject_id} / {self.policy_id} / {self.deadline}: {self.result}"


class CaseKind(models.TextChoices):
    TRANSITION_TO_INDIRECT = "transition_to_indirect", _("Move to the indirect model")
    DEAUTHORISATION = "deauthorisation", _("De-authorise the reseller location")


class CaseState(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")


class FollowUpCase(models.Model):
    """Work that follows a missed deadline."""

    outcome = models.OneToOneField(
        DeadlineOutcome,
        verbose_name=_("missed deadline"),
        on_delete=models.CASCADE,
        related_name="case",
    )
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.CASCADE,
        related_name="cases",
    )
    location = models.ForeignKey(
        "partners.Location",
        verbose_name=_("location"),
        on_delete=models.CASCADE,
        related_name="cases",
        null=True,
        blank=True,
    )
    kind = models.CharField(_("kind"), max_length=30, choices=CaseKind.choices)
    state = models.CharField(
        _("state"), max_length=20, choices=CaseState.choices, default=CaseState.OPEN
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="followup_cases",
    )
    notes = models.TextField(_("notes"), blank=True)
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["state", "-opened_at"]
        verbose_name = _("follow-up case")
        verbose_name_plural = _("follow-up cases")
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=CaseState.values), name="case_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(state="done", closed_at__isnull=False) | ~Q(state="done"),
                name="case_done_has_closed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_state_display()})"


class JobState(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class JobRun(models.Model):
    """One run of a periodic job for a date; the unique row is what makes the
    nightly job run once per day however often it is triggered."""

    job = models.CharField(_("job"), max_length=50)
    run_date = models.DateField(_("run date"))
    state = models.CharField(
        _("state"), max_length=20, choices=JobState.choices, default=JobState.RUNNING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    task_id = models.CharField(_("task id"), max_length=100, blank=True)

    class Meta:
        ordering = ["-run_date", "job"]
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        constraints = [
            models.UniqueConstraint(fields=["job", "run_date"], name="job_run_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.job} {self.run_date}: {self.state}"


class PolicyDraft(models.Model):
    """A named what-if of a stored policy (PRODUCT 8): the fields it changes
    (``compliance.simulation.DRAFT_FIELDS``, as JSON), re-run on demand and
    publishable as a new policy version. Simulating writes nothing else."""

    name = models.CharField(_("name"), max_length=200)
    policy = models.ForeignKey(
        Policy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="drafts"
    )
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    as_of = models.DateField(_("as of"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    published_as = models.ForeignKey(
        Policy,
        verbose_name=_("published as"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["policy", "name"]
        verbose_name = _("policy draft")
        verbose_name_plural = _("policy drafts")
        permissions = [
            ("run_simulation", _("Can run policy simulations")),
            ("publish_policy", _("Can publish a policy draft as a new policy version")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["policy", "name"], name="policy_draft_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.policy.code}: {self.name}"


class SimulationState(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Done")
    FAILED = "failed", _("Failed")


class SimulationRun(models.Model):
    """A simulation too large to wait for, run by the worker: its question,
    its progress and, when done, its result rows (the page reads them from
    here). The simulator's own record; never an evaluation."""

    policy = models.ForeignKey(
        Policy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="+"
    )
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    as_of = models.DateField(_("as of"))
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=SimulationState.choices,
        default=SimulationState.PENDING,
    )
    progress = models.FloatField(_("progress"), default=0.0)
    rows = models.JSONField(_("rows"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("simulation run")
        verbose_name_plural = _("simulation runs")

    def __str__(self) -> str:
        return f"{self.policy_id} {self.as_of}: {self.status}"
