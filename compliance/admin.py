"""Admin pages for the programme policies (the rules as data).

Compliance admins edit policies here; account managers may only look. New
engine models get their own ``@admin.register`` block below, deriving from
``AuditedAdmin`` when the model has ``history``.
"""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.admin import AuditedAdmin, admin_change_link, format_money

from .models import Policy, PolicyRequirement, RequirementCode

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
class PolicyAdmin(AuditedAdmin):
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
    search_fields = ("code", "name")
    readonly_fields = ("created_at", "updated_at")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    ordering = ("effective_from", "code")
    inlines = (PolicyRequirementInline,)
    fieldsets = (
        (None, {"fields": ("code", "name", "description", "source_url")}),
        (_("Scope"), {"fields": ("applies_to", "subject_level", "effective_from", "effective_to")}),
        (_("Deadline and reminders"), {"fields": ("deadline_anchor", "reminder_offsets")}),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("requirements")

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
class PolicyRequirementAdmin(AuditedAdmin):
    list_display = ("policy_link", "code", "threshold_display", "qualifying_plan_types")
    list_filter = ("code", "policy")
    list_select_related = ("policy",)
    search_fields = ("policy__code", "policy__name")
    autocomplete_fields = ("policy",)
    ordering = ("policy__effective_from", "policy__code", "code")

    @admin.display(description=_("policy"), ordering="policy__code")
    def policy_link(self, obj):
        return admin_change_link(obj.policy)

    @admin.display(description=_("threshold (USD)"), ordering="threshold_usd")
    def threshold_display(self, obj):
        return format_money(obj.threshold_usd)
