"""Import runs: every file imported, by a staff upload or the ``import_data``
command (who, when, the file's hash and size, the counts and the errors).

The table keeps its name from when the model lived in ``partners``
(``partners_importrun``): moving the model moved no rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PREVIEWED = "previewed", _("Previewed")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    REJECTED = "rejected", _("Rejected")


class ImportRun(models.Model):
    """One file uploaded by staff: its dry run (preview), then its import.

    The file stays in the default storage (``imports/``) until it is
    imported; ``counts`` holds the report of the preview and of the import,
    ``errors`` at most ``ERRORS_KEPT`` rows of it (``error_count`` says how
    many there were).
    """

    ERRORS_KEPT = 1000

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    kind = models.CharField(_("kind"), max_length=30)
    file_format = models.CharField(_("format"), max_length=30, default="simple")
    file_name = models.CharField(_("file name"), max_length=255)
    stored_name = models.CharField(_("stored as"), max_length=255, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    lines = models.PositiveIntegerField(_("lines"), default=0)
    skip_unknown = models.BooleanField(_("skip unknown resellers"), default=False)
    status = models.CharField(
        _("status"), max_length=20, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    progress = models.FloatField(_("progress"), default=0.0)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    error_count = models.PositiveIntegerField(_("errors found"), default=0)
    message = models.TextField(_("message"), blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        db_table = "partners_importrun"
        ordering = ["-created_at", "-pk"]
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ImportStatus.values), name="import_run_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["sha256", "status"], name="import_run_sha256")]

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name} ({self.status})"
