"""The policy simulator for compliance admins (PRODUCT 8): pick a policy,
change a draft of it, see who fails next and by how much, export it; save
drafts, publish one as a new policy version.

Thin: ``compliance.simulation`` evaluates (read-only), ``compliance.drafts``
writes the drafts, the worker's runs and new policy versions. Staff with the
permission ``compliance.run_simulation`` only (publishing needs
``compliance.publish_policy``); partner users get 404, other staff 403.
Large runs (more subjects than ``SIMULATOR_SYNC_MAX_SUBJECTS``) go to the
worker (``compliance.simulate``) and the run page shows their progress.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views import View
from django.views.generic import TemplateView

from api.exports import XLSX_CONTENT_TYPE, xlsx_file
from compliance import drafts, rules, selectors, simulation, tasks
from compliance.models import Outlook, Policy, PolicyDraft, SimulationRun, SimulationState, Status
from partners import selectors as partner_selectors
from portal.exports import csv_stream
from portal.simulator_forms import DraftSaveForm, PublishForm, SimulatorForm

from .editing import PortalFormView, ServiceFormMixin

PAGE_SIZE = 50
#: The deadline outlooks (PRODUCT 4.9) as the simulator names them.
OUTLOOK_LABELS = {
    "met": pgettext_lazy("deadline outlook", "Met"),
    "on_track": pgettext_lazy("deadline outlook", "On track"),
    "short": pgettext_lazy("deadline outlook", "Short"),
}
RUN_PERMISSION = "compliance.run_simulation"
PUBLISH_PERMISSION = "compliance.publish_policy"
IN_PROGRESS = (SimulationState.PENDING, SimulationState.RUNNING)
SORTS = {
    "partner": lambda r: (r["partner_name"].casefold(), r["subject_id"]),
    "subject": lambda r: (r["subject_type"], r["subject_id"]),
    "country": lambda r: (r["country"], r["partner_id"]),
    "manager": lambda r: (r["manager"].casefold(), r["partner_id"]),
    "status": lambda r: (rules.status_rank(r["status"]), r["subject_id"]),
    "baseline": lambda r: (rules.status_rank(r["baseline_status"]), r["subject_id"]),
    "outlook": lambda r: (selectors.OUTLOOK_RANKS.get(r["outlook"] or "", 0), r["subject_id"]),
    "deadline": lambda r: (r["deadline"] or "9999", r["subject_id"]),
    "needed": lambda r: (Decimal(r["needed_usd"] or 0), r["subject_id"]),
    "impact": simulation.impact_key,
}
EXPORT_HEADER = (
    "partner_id",
    "partner_name",
    "country",
    "account_manager",
    "subject_type",
    "subject_id",
    "status",
    "baseline_status",
    "outlook",
    "baseline_outlook",
    "ttm_revenue_usd",
    "threshold_usd",
    "baseline_threshold_usd",
    "deadline",
    "baseline_deadline",
    "days_to_deadline",
    "unmet",
    "secured_usd",
    "projected_usd",
    "needed_usd",
    "baseline_needed_usd",
    "extra_needed_usd",
)


def sync_max_subjects() -> int:
    return int(getattr(settings, "SIMULATOR_SYNC_MAX_SUBJECTS", 2000))


class SimulatorAccessMixin(LoginRequiredMixin):
    """Compliance admins only: anonymous users go to the login page,
    partner users get 404 (the simulator does not exist for them), staff
    without ``permission`` 403."""

    permission = RUN_PERMISSION

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not partner_selectors.user_is_staff(request.user):
            raise Http404
        if not request.user.has_perm(self.permission):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _display(rows: list[dict]) -> list[dict]:
    """Labels in the active language and amounts as Decimal, for the page."""
    statuses, outlooks = dict(Status.choices), OUTLOOK_LABELS
    out = []
    for row in rows:
        out.append(
            {
                **row,
                "outlook_label": outlooks.get(row["outlook"], ""),
                "baseline_outlook_label": outlooks.get(row["baseline_outlook"], ""),
                "status_label": statuses.get(row["status"], row["status"]),
                "ttm": _decimal(row["ttm_revenue_usd"]),
                "needed": _decimal(row["needed_usd"]),
                "extra_needed": _decimal(row["extra_needed_usd"]),
                "deadline_date": (
                    datetime.date.fromisoformat(row["deadline"]) if row["deadline"] else None
                ),
            }
        )
    return out


class ResultMixin:
    """The result part of a page: summary cards, chart data, the table
    (filtered by account manager and country, sorted, paginated)."""

    request: HttpRequest

    def result_context(self, rows: list[dict]) -> dict:
        params = self.request.GET
        summary = simulation.summarise(rows)
        managers = sorted(
            {(r["manager_pk"], r["manager"]) for r in rows if r["manager_pk"]},
            key=lambda m: m[1].casefold(),
        )
        countries = sorted({r["country"] for r in rows if r["country"]})
        shown = rows
        manager = params.get("manager", "")
        if manager:
            shown = [r for r in shown if str(r["manager_pk"]) == manager]
        country = params.get("country", "")
        if country:
            shown = [r for r in shown if r["country"] == country]
        only_affected = params.get("affected") == "1"
        if only_affected:
            shown = [r for r in shown if r["affected"]]
        sort = params.get("sort", "-impact")
        key = SORTS.get(sort.lstrip("-"))
        if key is None:
            sort, key = "-impact", SORTS["impact"]
        shown = sorted(shown, key=key, reverse=sort.startswith("-"))
        page = Paginator(shown, PAGE_SIZE).get_page(params.get("page"))
        page.object_list = _display(list(page.object_list))
        outlook_names = [*Outlook.values, simulation.NO_OUTLOOK]
        outlook_labels = [str(OUTLOOK_LABELS[n]) for n in Outlook.values] + [_("No outlook")]
        chart = {
            "labels": outlook_labels,
            "datasets": [
                {
                    "label": _("Stored policy"),
                    "values": [summary.by_outlook["baseline"][n] for n in outlook_names],
                },
                {
                    "label": _("Draft"),
                    "values": [summary.by_outlook["draft"][n] for n in outlook_names],
                },
            ],
        }
        status_rows = [
            (str(label), summary.by_status["baseline"][value], summary.by_status["draft"][value])
            for value, label in Status.choices
        ]
        outlook_rows = [
            (label, summary.by_outlook["baseline"][n], summary.by_outlook["draft"][n])
            for n, label in zip(outlook_names, outlook_labels, strict=True)
        ]
        return {
            "summary": summary,
            "chart": chart,
            "status_rows": status_rows,
            "outlook_rows": outlook_rows,
            "page_obj": page,
            "shown": len(shown),
            "managers": managers,
            "countries": countries,
            "manager": manager,
            "country": country,
            "only_affected": only_affected,
            "sort": sort,
        }


class SimulatorView(SimulatorAccessMixin, ResultMixin, TemplateView):
    template_name = "compliance/simulator.html"

    def get(self, request, *args, **kwargs):
        draft_pk = request.GET.get("draft")
        if draft_pk and "run" not in request.GET:
            draft = get_object_or_404(PolicyDraft.objects.select_related("policy"), pk=draft_pk)
            return redirect(draft_url(draft))
        params = request.GET
        loaded = params.get("loaded")
        if "run" in params and (
            not params.get("effective_from") or (loaded and loaded != params.get("policy"))
        ):
            # A policy newly chosen: the form is filled with its stored values.
            policy = Policy.objects.filter(code=params.get("policy", "")).first()
            if policy is not None:
                try:
                    as_of = SimulatorForm().fields["as_of"].clean(params.get("as_of") or None)
                except ValidationError:
                    as_of = None
                return redirect(question_url(policy, as_of=as_of))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        params = self.request.GET
        form = None
        if "run" in params:
            form = SimulatorForm(params)
        elif params.get("policy"):
            policy = Policy.objects.filter(code=params["policy"]).first()
            if policy is not None:
                form = SimulatorForm(initial=SimulatorForm.initial_for(policy))
        if form is None:
            form = SimulatorForm()
        context.update(
            form=form,
            drafts=PolicyDraft.objects.select_related("policy", "created_by", "published_as"),
            can_publish=self.request.user.has_perm(PUBLISH_PERMISSION),
            save_form=DraftSaveForm(),
            draft=_draft_of(params),
        )
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            as_of = data["as_of"] or timezone.localdate()
            subjects = simulation.subject_count(data["policy"])
            context.update(policy=data["policy"], as_of=as_of, changes=data["changes"])
            if subjects > sync_max_subjects():
                context.update(too_large=subjects)
            else:
                result = simulation.simulation_run(
                    policy=data["policy"], changes=data["changes"], as_of=as_of
                )
                context.update(
                    self.result_context(simulation.simulation_rows(result)),
                    query=params.urlencode(),
                )
        return context


def _draft_of(params) -> PolicyDraft | None:
    pk = params.get("draft")
    if not pk or not str(pk).isdigit():
        return None
    return PolicyDraft.objects.filter(pk=pk).select_related("policy").first()


def question_url(
    policy: Policy,
    changes: dict | None = None,
    as_of: datetime.date | None = None,
    draft: PolicyDraft | None = None,
) -> str:
    """The simulator's address that runs ``policy`` with ``changes``."""
    initial = SimulatorForm.initial_for(policy, changes)
    params: list[tuple[str, str]] = [("run", "1"), ("loaded", policy.code)]
    if draft is not None:
        params.append(("draft", str(draft.pk)))
    for name, value in initial.items():
        if value is None or value is False:
            continue
        if name == "qualifying_plan_types":
            params.extend((name, plan) for plan in value)
        elif value is True:
            params.append((name, "on"))
        elif isinstance(value, datetime.date):
            params.append((name, value.isoformat()))
        else:
            params.append((name, str(value)))
    if as_of:
        params.append(("as_of", as_of.isoformat()))
    return f"{reverse('compliance:simulator')}?{urlencode(params)}"


def draft_url(draft: PolicyDraft) -> str:
    """The simulator's address that runs ``draft`` again."""
    return question_url(draft.policy, draft.changes, draft.as_of, draft)


def _valid_question(request: HttpRequest) -> SimulatorForm:
    form = SimulatorForm(request.GET)
    if not form.is_valid():
        raise Http404  # only reachable by a hand-made address; the page shows the errors
    return form


def export_rows(rows: list[dict]) -> Iterator[Sequence[object]]:
    for r in rows:
        yield (
            r["partner_id"],
            r["partner_name"],
            r["country"],
            r["manager"],
            r["subject_type"],
            r["subject_id"],
            r["status"],
            r["baseline_status"],
            r["outlook"] or "",
            r["baseline_outlook"] or "",
            _decimal(r["ttm_revenue_usd"]),
            _decimal(r["threshold_usd"]),
            _decimal(r["baseline_threshold_usd"]),
            datetime.date.fromisoformat(r["deadline"]) if r["deadline"] else None,
            datetime.date.fromisoformat(r["baseline_deadline"]) if r["baseline_deadline"] else None,
            r["days_to_deadline"],
            ",".join(r["unmet"]),
            _decimal(r["secured_usd"]),
            _decimal(r["projected_usd"]),
            _decimal(r["needed_usd"]),
            _decimal(r["baseline_needed_usd"]),
            _decimal(r["extra_needed_usd"]),
        )


def export_response(rows: list[dict], fmt: str, policy_code: str):
    rows = sorted(rows, key=simulation.impact_key, reverse=True)
    filename = f"simulation-{policy_code}-{timezone.localdate():%Y-%m-%d}.{fmt}"
    if fmt == "xlsx":
        handle = xlsx_file("simulation", EXPORT_HEADER, export_rows(rows))
        return FileResponse(
            handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE
        )
    response = StreamingHttpResponse(
        csv_stream(EXPORT_HEADER, export_rows(rows)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class SimulatorExportView(SimulatorAccessMixin, View):
    """The whole result of the question in the query string, CSV or XLSX."""

    def get(self, request: HttpRequest, fmt: str):
        data = _valid_question(request).cleaned_data
        result = simulation.simulation_run(
            policy=data["policy"],
            changes=data["changes"],
            as_of=data["as_of"] or timezone.localdate(),
        )
        return export_response(simulation.simulation_rows(result), fmt, data["policy"].code)


class SimulationRunCreateView(SimulatorAccessMixin, View):
    """Send the question in the query string to the worker."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest):
        data = _valid_question(request).cleaned_data
        run = drafts.simulation_run_create(
            policy=data["policy"],
            changes=data["changes"],
            as_of=data["as_of"] or timezone.localdate(),
            user=request.user,
        )
        tasks.simulate.delay_on_commit(run.pk)
        return redirect("compliance:simulation-run", run.pk)


class SimulationRunDetailView(SimulatorAccessMixin, ResultMixin, TemplateView):
    template_name = "compliance/simulation_run.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run = get_object_or_404(SimulationRun.objects.select_related("policy"), pk=kwargs["pk"])
        context.update(
            run=run,
            in_progress=run.status in IN_PROGRESS,
            percent=round(run.progress * 100),
            policy=run.policy,
            as_of=run.as_of,
            changes=run.changes,
        )
        if run.status == SimulationState.SUCCEEDED:
            context.update(self.result_context(run.rows))
        return context


class SimulationRunProgressView(SimulatorAccessMixin, View):
    """``{"status", "progress" (0..1), "done"}`` for the progress bar."""

    def get(self, request: HttpRequest, pk: int):
        run = get_object_or_404(SimulationRun.objects.only("status", "progress"), pk=pk)
        return JsonResponse(
            {
                "status": run.status,
                "progress": round(run.progress, 2),
                "done": run.status not in IN_PROGRESS,
            }
        )


class SimulationRunExportView(SimulatorAccessMixin, View):
    def get(self, request: HttpRequest, pk: int, fmt: str):
        run = get_object_or_404(SimulationRun.objects.select_related("policy"), pk=pk)
        if run.status != SimulationState.SUCCEEDED:
            raise Http404
        return export_response(run.rows, fmt, run.policy.code)


class PolicyDraftSaveView(SimulatorAccessMixin, View):
    """Save the question in the query string as a named draft."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest):
        question = _valid_question(request).cleaned_data
        form = DraftSaveForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Give the draft a name."))
            return redirect(f"{reverse('compliance:simulator')}?{request.GET.urlencode()}")
        existing = _draft_of(request.GET)
        if existing is not None and existing.name != form.cleaned_data["name"].strip():
            existing = None  # another name: a new draft
        try:
            draft = drafts.policy_draft_save(
                policy=question["policy"],
                name=form.cleaned_data["name"],
                changes=question["changes"],
                as_of=question["as_of"],
                user=request.user,
                draft=existing,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(f"{reverse('compliance:simulator')}?{request.GET.urlencode()}")
        messages.success(request, _("The draft “%(name)s” is saved.") % {"name": draft.name})
        return redirect(draft_url(draft))


class PolicyDraftPublishView(SimulatorAccessMixin, ServiceFormMixin, PortalFormView):
    permission = PUBLISH_PERMISSION
    form_class = PublishForm
    template_name = "compliance/draft_publish.html"
    title = gettext_lazy("Publish a draft as a new policy version")
    submit_label = gettext_lazy("Publish")
    success_message = gettext_lazy("The new policy version is published.")

    @cached_property
    def draft(self) -> PolicyDraft:
        return get_object_or_404(
            PolicyDraft.objects.select_related("policy", "published_as"), pk=self.kwargs["pk"]
        )

    def get_initial(self):
        values = SimulatorForm.initial_for(self.draft.policy, self.draft.changes)
        start = values["effective_from"]
        return {
            "name": self.draft.policy.name,
            "effective_from": start if start > self.draft.policy.effective_from else None,
            "effective_to": values["effective_to"],
        }

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["draft"] = self.draft
        return context

    def get_cancel_url(self) -> str:
        return draft_url(self.draft)

    def get_success_url(self) -> str:
        return reverse("admin:compliance_policy_change", args=[self.object.pk])

    def form_valid(self, form):
        if self.draft.published_as_id is not None:
            form.add_error(None, _("This draft has been published already."))
            return self.form_invalid(form)
        return super().form_valid(form)

    def call_service(self, form):
        data = form.cleaned_data
        return drafts.policy_publish(
            policy=self.draft.policy,
            changes=self.draft.changes,
            code=data["code"],
            name=data["name"],
            effective_from=data["effective_from"],
            effective_to=data["effective_to"],
            user=self.request.user,
            draft=self.draft,
        )
