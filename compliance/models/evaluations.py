"""The evaluation history (periods, evaluated days, the per-day view) and
what the pages read of it (PartnerCurrent, DataVersion)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import models, transaction
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.formatting import is_german, round_places

from ..rules import findings as rules_findings
from ..rules import outlook as outlook_rules
from .policies import Outlook, Policy, Purpose, Status, SubjectType


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
        """The view cannot be written: takes these days out of the periods
        behind them, as deleting day rows did (``history.uncover``)."""
        from .. import history  # writes through the history's one door

        if not self.query.where:  # everything: no history, no evaluated days
            periods = EvaluationPeriod.objects.all().delete()
            EvaluatedDay.objects.all().delete()
            return periods
        days_of: dict[int, set[datetime.date]] = {}
        for period_pk, as_of in self.order_by().values_list("period_id", "as_of"):
            days_of.setdefault(period_pk, set()).add(as_of)
        with transaction.atomic():
            taken = history.uncover(days_of)
        return taken, {self.model._meta.label: taken}


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
