"""Staff pages for CSV imports: upload, dry-run preview, confirm, history.

Thin: the form checks the upload (size, UTF-8 CSV with a header that fits
the kind), ``ingestion.imports`` stores, previews and imports it, and large
files go to a Celery task (``ingestion.tasks.import_run``) whose progress the
detail page polls (``static/js/import_progress.js``). Staff only: partner
users get 403.
"""

from __future__ import annotations

import datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from ingestion import imports, tasks
from partners.display import import_kind_label

from .access import StaffRequiredMixin
from .editing import PortalFormView, ServiceFormMixin
from .partners import PAGE_SIZE

ERRORS_PAGE_SIZE = 50
IN_PROGRESS = ("pending", "running")


def max_upload_bytes() -> int:
    return int(getattr(settings, "IMPORT_MAX_UPLOAD_MB", 200)) * 1024 * 1024


def upload_kind_choices() -> list[tuple[str, str]]:
    """The kinds of the upload form, labelled in the active language."""
    return [(value, import_kind_label(value)) for value, _label in imports.UPLOAD_KINDS]


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=upload_kind_choices)
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "UTF-8 CSV with a header row. You will see a dry run before anything is written."
        ),
    )
    skip_unknown = forms.BooleanField(
        label=gettext_lazy("Skip lines of unknown resellers (Partner Center files)"),
        required=False,
    )

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        value = data.get("kind")
        if upload is None or value is None:
            return data
        if upload.size > max_upload_bytes():
            self.add_error(
                "file",
                _("The file is larger than %(mb)s MB.")
                % {"mb": getattr(settings, "IMPORT_MAX_UPLOAD_MB", 200)},
            )
            return data
        kind, file_format = imports.split_upload_kind(value)
        upload.seek(0)
        head = upload.read(imports.HEAD_BYTES)
        upload.seek(0)
        problems = imports.check_header(kind=kind, file_format=file_format, head=head)
        if problems:
            self.add_error("file", "; ".join(problem.message for problem in problems))
        if data.get("skip_unknown") and file_format != "partner-center":
            self.add_error("skip_unknown", _("Only Partner Center files have resellers to skip."))
        data["kind_name"], data["file_format"] = kind, file_format
        return data


class ImportRunListView(StaffRequiredMixin, TemplateView):
    template_name = "partners/imports/list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        runs = imports.import_runs_for_user(self.request.user)
        context["page_obj"] = Paginator(runs, PAGE_SIZE).get_page(self.request.GET.get("page"))
        return context


def start(run, *, dry_run: bool) -> None:
    """Preview or import now (small files) or in the worker (large files)."""
    if imports.import_run_is_large(run):
        tasks.import_run.delay_on_commit(run.pk, dry_run)
    else:
        imports.import_run_execute(run_id=run.pk, dry_run=dry_run)


class ImportRunCreateView(StaffRequiredMixin, ServiceFormMixin, PortalFormView):
    template_name = "partners/imports/new.html"
    form_class = ImportUploadForm
    title = gettext_lazy("Import a CSV file")
    submit_label = gettext_lazy("Upload and preview")

    def get_cancel_url(self) -> str:
        return reverse("imports:list")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["max_mb"] = getattr(settings, "IMPORT_MAX_UPLOAD_MB", 200)
        return context

    def call_service(self, form):
        data = form.cleaned_data
        upload = data["file"]
        run = imports.import_run_create(
            user=self.request.user,
            kind=data["kind_name"],
            file_format=data["file_format"],
            upload=upload,
            file_name=upload.name,
            skip_unknown=data["skip_unknown"],
        )
        start(run, dry_run=True)
        return run

    def get_success_url(self) -> str:
        return reverse("imports:detail", args=[self.object.pk])


class ImportRunDetailView(StaffRequiredMixin, TemplateView):
    template_name = "partners/imports/detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run = imports.import_run_get_for_user(user=self.request.user, pk=kwargs["pk"])
        errors = Paginator(run.errors, ERRORS_PAGE_SIZE).get_page(self.request.GET.get("page"))
        counts = run.counts or {}
        summary = counts.get("result") or counts.get("preview") or {}
        by_location = sorted((summary.get("by_location") or {}).items())
        reevaluation = summary.get("reevaluation")
        if reevaluation:
            reevaluation = {
                **reevaluation,
                "as_of": datetime.date.fromisoformat(reevaluation["as_of"]),
            }
        context.update(
            reevaluation=reevaluation,
            run=run,
            preview=counts.get("preview") or {},
            result=counts.get("result") or {},
            summary=summary,
            by_location=[(mpn, s["rows"], sorted(s["totals"].items())) for mpn, s in by_location],
            totals=sorted((summary.get("totals") or {}).items()),
            page_obj=errors,
            errors_not_kept=max(run.error_count - len(run.errors), 0),
            in_progress=run.status in IN_PROGRESS,
            can_confirm=run.status == "previewed" and not run.error_count,
            percent=round(run.progress * 100),
            same_file_imported=imports.import_runs_for_user(self.request.user)
            .filter(sha256=run.sha256, status="succeeded")
            .exclude(pk=run.pk)
            .first(),
        )
        return context


class ImportRunConfirmView(StaffRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int):
        run = imports.import_run_get_for_user(user=request.user, pk=pk)
        if not imports.import_run_confirm(run=run, user=request.user):
            messages.warning(request, _("This import cannot be started (again)."))
            return redirect("imports:detail", run.pk)
        run.refresh_from_db()
        start(run, dry_run=False)
        run.refresh_from_db()
        if run.status == "succeeded":
            messages.success(request, _("The file is imported."))
        elif run.status == "failed":
            messages.error(request, _("The import failed; nothing was written."))
        return redirect("imports:detail", run.pk)


class ImportRunProgressView(StaffRequiredMixin, View):
    """``{"status", "progress" (0..1), "done"}`` for the progress bar."""

    def get(self, request: HttpRequest, pk: int):
        run = imports.import_run_get_for_user(user=request.user, pk=pk)
        return JsonResponse(
            {
                "status": run.status,
                "progress": round(run.progress, 2),
                "done": run.status not in IN_PROGRESS,
            }
        )
