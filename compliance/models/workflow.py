"""Deadline outcomes, follow-up cases, job runs, policy drafts and
simulations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .policies import Policy, SubjectType


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
