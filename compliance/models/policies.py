"""Policies and their requirements, and the words of the findings."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from partners.models import BillingModel, PlanType


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
