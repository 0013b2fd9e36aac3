"""Admin pages for the programme policies (the rules as data).

Compliance admins edit policies here; account managers may only look. New
engine models get their own ``@admin.register`` block below, deriving from
``AuditedAdmin`` when the model has ``history``.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import (
    AuditedAdmin,
    ReadOnlyAdmin,
    SystemRecordMixin,
    admin_change_link,
    format_money,
)

from . import cases, services
from .models import (
    CaseState,
    DeadlineOutcome,
    Evaluation,
    EvaluationPeriod,
    FollowUpCase,
    JobRun,
    Policy,
    PolicyDraft,
    PolicyRequirement,
    RequirementCode,
    SimulationRun,
)

# --- Re-evaluation after admin saves ---------------------------------------------


class ReevaluatingAdmin(admin.ModelAdmin):
    """Admin pages whose saves and deletes change what an evaluation finds:
    after the change commits, the partners it touched are re-evaluated for
    today through the one re-evaluation service (``partners_reevaluate``),
    like every other write path. Subclasses say which partners a set of
    objects touches (``None``: all of them, e.g. a policy)."""

    def reevaluation_partner_pks(self, objs) -> set[int] | None:
        raise NotImplementedError

    def _reevaluate_on_commit(self, objs) -> None:
        pks = self.reevaluation_partner_pks(objs)

        def run() -> None:
            if pks is None:
                from .tasks import evaluate_partners

                evaluate_partners.delay(None)  # every partner: in the worker
            else:
                services.partners_reevaluate(partner_pks=pks)

        transaction.on_commit(run, robust=True)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._reevaluate_on_commit([obj])

    def delete_model(self, request, obj):
        self._reevaluate_on_commit([obj])  # before the row (and its relations) is gone
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        self._reevaluate_on_commit(list(queryset))
        super().delete_queryset(request, queryset)


class ReevaluatingAuditedAdmin(ReevaluatingAdmin, AuditedAdmin):
    pass


# --- Policies -------------------------------------------------------------------


class InForceFilter(admin.SimpleListFilter):
    title = _("in force today")
    parameter_name = "in_force"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        in_force = queryset.filter(effective_from__lte=today).exclude(effective_to__lt=today)
        if self.value() == "yes":
            return in_force
        if self.value() == "no":
            return queryset.exclude(pk__in=in_force.values("pk"))
        return queryset


def describe_requirement(requirement: PolicyRequirement) -> str:
    """A short label, e.g. "TTM revenue >= USD 300,000.00"."""
    if requirement.code == RequirementCode.REVENUE and requirement.threshold_usd is not None:
        return _("TTM revenue ≥ USD %(amount)s") % {
            "amount": format_money(requirement.threshold_usd)
        }
    label = requirement.get_code_display()
    if requirement.code == RequirementCode.SUPPORT_PLAN and requirement.qualifying_plan_types:
        return f"{label} ({', '.join(requirement.qualifying_plan_types)})"
    return str(label)


class PolicyRequirementInline(admin.TabularInline):
    model = PolicyRequirement
    fields = ("code", "threshold_usd", "qualifying_plan_types")
    extra = 0


@admin.register(Policy)
class PolicyAdmin(ReevaluatingAuditedAdmin):
    list_display = (
        "code",
        "name",
        "applies_to",
        "subject_level",
        "effective_from",
        "effective_to",
        "in_force_today",
        "requirement_summary",
        "deadline_anchor",
        "reminders",
    )
    list_filter = (InForceFilter, "applies_to", "subject_level", "deadline_anchor")
    search_fields = ("code", "name", "name_de")
    readonly_fields = ("created_at", "updated_at")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    ordering = ("effective_from", "code")
    inlines = (PolicyRequirementInline,)
    fieldsets = (
        (None, {"fields": ("code", "name", "name_de", "description", "source_url")}),
        (_("Scope"), {"fields": ("applies_to", "subject_level", "effective_from", "effective_to")}),
        (_("Deadline and reminders"), {"fields": ("deadline_anchor", "reminder_offsets")}),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("requirements")

    def reevaluation_partner_pks(self, objs) -> None:
        return None  # a policy concerns every partner

    @admin.display(description=_("in force today"), boolean=True)
    def in_force_today(self, obj):
        return obj.in_force_on(timezone.localdate())

    @admin.display(description=_("requirements"))
    def requirement_summary(self, obj):
        order = RequirementCode.values  # revenue, support plan, designation, agreement
        requirements = sorted(obj.requirements.all(), key=lambda r: order.index(r.code))
        return "; ".join(describe_requirement(r) for r in requirements) or None

    @admin.display(description=_("reminders (days before)"))
    def reminders(self, obj):
        return ", ".join(str(days) for days in obj.reminder_offsets) or None


@admin.register(PolicyRequirement)
class PolicyRequirementAdmin(ReevaluatingAuditedAdmin):
    list_display = ("policy_link", "code", "threshold_display", "qualifying_plan_types")
    list_filter = ("code", "policy")
    list_select_related = ("policy",)
    search_fields = ("policy__code", "policy__name")
    autocomplete_fields = ("policy",)
    ordering = ("policy__effective_from", "policy__code", "code")

    def reevaluation_partner_pks(self, objs) -> None:
        return None  # a policy concerns every partner

    @admin.display(description=_("policy"), ordering="policy__code")
    def policy_link(self, obj):
        return admin_change_link(obj.policy)

    @admin.display(description=_("threshold (USD)"), ordering="threshold_usd")
    def threshold_display(self, obj):
        return format_money(obj.threshold_usd)


# --- What the engine records ------------------------------------------------------


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyAdmin):
    list_display = (
        "as_of",
        "subject_type",
        "subject_id",
        "partner_link",
        "policy",
        "purpose",
        "status",
        "ttm_display",
        "deadline",
        "days_to_deadline",
    )
    list_filter = ("status", "purpose", "policy", "subject_type", "as_of")
    list_select_related = ("partner", "policy")
    search_fields = ("^subject_id", "^partner__partner_id", "partner__name")
    date_hierarchy = "as_of"
    show_full_result_count = False
    list_per_page = 100
    ordering = ("-as_of", "subject_type", "subject_id")

    @admin.display(description=_("partner"), ordering="partner__name")
    def partner_link(self, obj):
        return admin_change_link(obj.partner)

    @admin.display(description=_("TTM revenue (USD)"), ordering="ttm_revenue_usd")
    def ttm_display(self, obj):
        return format_money(obj.ttm_revenue_usd)


@admin.register(EvaluationPeriod)
class EvaluationPeriodAdmin(ReadOnlyAdmin):
    """How the history is stored: a row per period of unchanged findings
    (the evaluations above are its days)."""

    list_display = (
        "subject_type",
        "subject_id",
        "partner_link",
        "policy",
        "purpose",
        "valid_from",
        "valid_to",
        "status",
        "ttm_display",
        "deadline",
        "outlook",
    )
    list_filter = ("status", "purpose", "policy", "subject_type", "outlook")
    list_select_related = ("partner", "policy")
    search_fields = ("^subject_id", "^partner__partner_id", "partner__name")
    date_hierarchy = "valid_from"
    show_full_result_count = False
    list_per_page = 100
    ordering = ("subject_type", "subject_id", "policy", "purpose", "-valid_from")

    @admin.display(description=_("partner"), ordering="partner__name")
    def partner_link(self, obj):
        return admin_change_link(obj.partner)

    @admin.display(description=_("TTM revenue (USD)"), ordering="ttm_revenue_usd")
    def ttm_display(self, obj):
        return format_money(obj.ttm_revenue_usd)


class FollowUpCaseInline(SystemRecordMixin, admin.StackedInline):
    model = FollowUpCase
    fields = ("kind", "state", "owner", "notes", "opened_at", "closed_at")
    readonly_fields = fields
    extra = 0


@admin.register(DeadlineOutcome)
class DeadlineOutcomeAdmin(SystemRecordMixin, AuditedAdmin):
    """Outcomes are decided by the engine; staff may only record an
    override with a reason (audited)."""

    list_display = (
        "deadline",
        "subject_type",
        "subject_id",
        "partner_link",
        "policy",
        "result",
        "ttm_display",
        "decided_on",
        "overridden_at",
    )
    list_filter = (
        "result",
        "policy",
        "subject_type",
        ("overridden_at", admin.EmptyFieldListFilter),
    )
    list_select_related = ("partner", "policy")
    search_fields = ("^subject_id", "^partner__partner_id", "partner__name")
    date_hierarchy = "deadline"
    inlines = (FollowUpCaseInline,)
    fields = (
        "subject_type",
        "subject_id",
        "partner",
        "location",
        "policy",
        "deadline",
        "result",
        "ttm_revenue_usd",
        "unmet",
        "explanation",
        "decided_on",
        "decided_at",
        "override_reason",
        "overridden_at",
        "overridden_by",
    )

    def get_readonly_fields(self, request, obj=None):
        return [f for f in self.fields if f != "override_reason"]

    def save_model(self, request, obj, form, change):
        try:
            cases.outcome_override(
                outcome=obj, user=request.user, reason=form.cleaned_data["override_reason"]
            )
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
        else:
            partner_pk = obj.partner_id
            transaction.on_commit(
                lambda: services.partners_reevaluate(partner_pks={partner_pk}), robust=True
            )

    @admin.display(description=_("partner"), ordering="partner__name")
    def partner_link(self, obj):
        return admin_change_link(obj.partner)

    @admin.display(description=_("TTM revenue (USD)"), ordering="ttm_revenue_usd")
    def ttm_display(self, obj):
        return format_money(obj.ttm_revenue_usd)


@admin.register(FollowUpCase)
class FollowUpCaseAdmin(SystemRecordMixin, AuditedAdmin):
    list_display = ("partner_link", "location", "kind", "state", "owner", "deadline", "opened_at")
    list_filter = ("state", "kind", "owner")
    list_select_related = ("partner", "location", "owner", "outcome")
    search_fields = ("^partner__partner_id", "partner__name", "^location__location_id")
    autocomplete_fields = ("owner",)
    readonly_fields = ("outcome", "partner", "location", "kind", "state", "opened_at", "closed_at")
    fields = (
        "outcome",
        "partner",
        "location",
        "kind",
        "state",
        "owner",
        "notes",
        "opened_at",
        "closed_at",
    )
    actions = ("mark_in_progress", "mark_done")

    @admin.display(description=_("partner"), ordering="partner__name")
    def partner_link(self, obj):
        return admin_change_link(obj.partner)

    @admin.display(description=_("deadline"), ordering="outcome__deadline")
    def deadline(self, obj):
        return obj.outcome.deadline

    def _move(self, request, queryset, state):
        moved = 0
        partner_pks: set[int] = set()
        for case in queryset:
            try:
                cases.followup_case_move(case=case, state=state, user=request.user)
                moved += 1
                partner_pks.add(case.partner_id)
            except ValidationError as exc:
                self.message_user(request, f"{case}: {'; '.join(exc.messages)}", messages.ERROR)
        if partner_pks:
            services.partners_reevaluate(partner_pks=partner_pks)
        if moved:
            self.message_user(
                request,
                ngettext("%(n)d case moved.", "%(n)d cases moved.", moved) % {"n": moved},
                messages.SUCCESS,
            )

    @admin.action(description=_("Mark selected cases in progress"), permissions=["change"])
    def mark_in_progress(self, request, queryset):
        self._move(request, queryset, CaseState.IN_PROGRESS)

    @admin.action(
        description=_("Mark selected cases done (moves partners to indirect / de-authorises)"),
        permissions=["change"],
    )
    def mark_done(self, request, queryset):
        self._move(request, queryset, CaseState.DONE)


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = (
        "run_date",
        "job",
        "state",
        "attempts",
        "started_at",
        "finished_at",
        "error_count",
    )
    list_filter = ("state", "job")
    date_hierarchy = "run_date"
    fields = (
        "job",
        "run_date",
        "state",
        "attempts",
        "started_at",
        "finished_at",
        "counts",
        "errors",
        "task_id",
    )

    @admin.display(description=_("errors"))
    def error_count(self, obj):
        return len(obj.errors or [])


@admin.register(PolicyDraft)
class PolicyDraftAdmin(AuditedAdmin):
    """Named what-ifs of the policy simulator (``/compliance/simulator/``);
    the history shows who saved and published which."""

    list_display = ("name", "policy", "as_of", "created_by", "published_as", "updated_at")
    list_filter = ("policy",)
    list_select_related = ("policy", "created_by", "published_as")
    search_fields = ("name", "policy__code")
    readonly_fields = ("created_by", "published_as", "created_at", "updated_at")
    fields = ("name", "policy", "changes", "as_of", *readonly_fields)


@admin.register(SimulationRun)
class SimulationRunAdmin(ReadOnlyAdmin):
    """Simulations the worker ran; deletable (their rows are large)."""

    deletable = True
    exclude = ("rows",)
    list_display = ("policy", "as_of", "status", "progress", "created_by", "created_at")
    list_filter = ("status", "policy")
    list_select_related = ("policy", "created_by")
    readonly_fields = (
        "policy",
        "changes",
        "as_of",
        "status",
        "progress",
        "error",
        "created_by",
        "created_at",
        "finished_at",
    )
