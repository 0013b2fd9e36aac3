"""Every compliance email the portal planned, sent, skipped or failed.

The unique constraint is what makes a reminder go out once: planning inserts
rows with ``ON CONFLICT DO NOTHING`` and delivery sends a row only while it is
still unsent, under a row lock.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from compliance.models import SubjectType
from partners.models import Language


class Kind(models.TextChoices):
    REMINDER = "reminder", _("Deadline reminder")
    NO_CONTACT_WARNING = "no_contact_warning", _("Reminder to the account manager (no contact)")
    DEADLINE_MISSED = "deadline_missed", _("Deadline missed")
    BACK_ON_TRACK = "back_on_track", _("Back on track")


#: The kinds that stand for "the reminder at this offset": exactly one of them
#: handles an offset of a deadline.
REMINDER_KINDS = (Kind.REMINDER, Kind.NO_CONTACT_WARNING)


class NotificationStatus(models.TextChoices):
    PLANNED = "planned", _("Planned (not attempted yet)")
    PENDING = "pending", _("Pending (retrying)")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")


#: Statuses that still want a delivery attempt.
OPEN_STATUSES = (NotificationStatus.PLANNED, NotificationStatus.PENDING)


class Notification(models.Model):
    """One email (or the record of one not sent) about one subject, policy,
    deadline, kind and reminder offset, in one language.

    Recipients of a subject are grouped by language: a partner with English
    and German contacts gets one English and one German message, each a row.
    """

    subject_type = models.CharField(_("subject type"), max_length=10, choices=SubjectType.choices)
    subject_id = models.CharField(
        _("subject id"), max_length=20, help_text=_("Partner id or location id.")
    )
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    location = models.ForeignKey(
        "partners.Location",
        verbose_name=_("location"),
        on_delete=models.CASCADE,
        related_name="notifications",
        null=True,
        blank=True,
    )
    policy = models.ForeignKey(
        "compliance.Policy",
        verbose_name=_("policy"),
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    deadline = models.DateField(_("deadline"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    offset = models.PositiveSmallIntegerField(
        _("offset (days before the deadline)"),
        # OFFSET is an SQL keyword, and core.bulk leaves ON CONFLICT
        # column names unquoted.
        db_column="offset_days",
        help_text=_("The reminder offset; 0 for notices that are not reminders."),
    )
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    to = models.JSONField(_("to"), default=list, blank=True)
    cc = models.JSONField(_("cc"), default=list, blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=NotificationStatus.choices,
        default=NotificationStatus.PLANNED,
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    facts = models.JSONField(
        _("facts"),
        default=dict,
        blank=True,
        help_text=_("What the message says, as evaluated when it was planned."),
    )
    planned_on = models.DateField(_("planned for evaluation date"))
    batch = models.CharField(_("planning batch"), max_length=32, blank=True, db_index=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "subject_type",
                    "subject_id",
                    "policy",
                    "deadline",
                    "kind",
                    "offset",
                    "language",
                ],
                name="notification_once",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=Kind.values), name="notification_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=NotificationStatus.values), name="notification_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=REMINDER_KINDS, offset__gt=0)
                | (~Q(kind__in=REMINDER_KINDS) & Q(offset=0)),
                name="notification_offset_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(subject_type="partner", location__isnull=True)
                | Q(subject_type="location", location__isnull=False),
                name="notification_location_matches_subject_type",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="notification_sent_has_sent_at",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notification_open"),
            models.Index(fields=["partner", "-created_at"], name="notification_partner"),
            models.Index(fields=["policy", "deadline"], name="notification_deadline"),
        ]

    def __str__(self) -> str:
        offset = f" {self.offset}d" if self.offset else ""
        return (
            f"{self.get_kind_display()}{offset} / {self.subject_type} {self.subject_id} / "
            f"{self.policy_id} / {self.deadline} [{self.language}]: {self.status}"
        )
