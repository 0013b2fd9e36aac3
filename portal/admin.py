"""Admin pages for staff data entry: partners, their locations, contacts,
revenue and support contracts, and the reference data around them.

Every model with ``history`` uses ``AuditedAdmin`` (django-simple-history), so
each change page has a "History" view naming the user and the changed fields.
Lists select their related rows up front; the tests pin their query counts.
"""

from __future__ import annotations

from typing import ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from compliance.admin import ReevaluatingAuditedAdmin
from compliance.services import partners_reevaluate
from core.admin import AuditedAdmin, admin_change_link, format_money, user_may
from partners import selectors
from partners.dates import AGREEMENT, ONBOARDING, REVENUE, DateLimit
from partners.models import (
    Contact,
    Currency,
    Designation,
    ExchangeRate,
    Location,
    Partner,
    RevenueRecord,
    SupportContract,
)

from .accounts import PortalAdminAuthenticationForm

admin.site.site_header = _("CSP Compliance administration")
admin.site.site_title = _("CSP Compliance administration")
admin.site.index_title = _("Data entry and audit trail")
admin.site.login_form = PortalAdminAuthenticationForm  # checks the username's length

# --- The date rule of every door (docs/decisions/0007) -------------------------------


class DateLimitedForm(forms.ModelForm):
    """Refuses dates beyond their limit (``partners.dates``), like the
    services behind the other doors; a stored date that is not changed is
    not checked again."""

    date_limits: ClassVar[dict[str, DateLimit]] = {}

    def clean(self):
        cleaned = super().clean()
        for name, limit in self.date_limits.items():
            if name in self.changed_data and (problem := limit.problem(cleaned.get(name))):
                self.add_error(name, problem)
        return cleaned


class PartnerAdminForm(DateLimitedForm):
    date_limits = {"onboarded_on": ONBOARDING, "agreement_signed_on": AGREEMENT}


class LocationAdminForm(DateLimitedForm):
    date_limits = {"onboarded_on": ONBOARDING}


class RevenueRecordAdminForm(DateLimitedForm):
    date_limits = {"revenue_date": REVENUE}


# --- List filters -----------------------------------------------------------


class AccountManagerFilter(admin.SimpleListFilter):
    """ "Me", "Unassigned", then every user who manages at least one partner."""

    title = _("account manager")
    parameter_name = "manager"

    def lookups(self, request, model_admin):
        managers = (
            get_user_model()
            .objects.filter(managed_partners__isnull=False)
            .distinct()
            .order_by("username")
        )
        return [
            ("me", _("Me")),
            ("none", _("Unassigned")),
            *((str(user.pk), user.get_full_name() or user.get_username()) for user in managers),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(account_manager=request.user)
        if value == "none":
            return queryset.filter(account_manager__isnull=True)
        if value and value.isdigit():
            return queryset.filter(account_manager_id=int(value))
        return queryset


class CurrencyInUseFilter(admin.SimpleListFilter):
    """USD and the currencies with exchange rates: the only ones amounts can
    be converted from. (The plain relation filter would list all of ISO 4217,
    and "only those in use" would scan the whole revenue table.)"""

    title = _("currency")
    parameter_name = "currency"

    def lookups(self, request, model_admin):
        currencies = Currency.objects.filter(Q(code="USD") | Q(rates__isnull=False)).distinct()
        return [(c.code, f"{c.code} ({c.name})") for c in currencies]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(currency_id=self.value())
        return queryset


# --- Logins: who may pick whom --------------------------------------------------
# Autocomplete widgets search the user admin, which needs the "view user"
# permission. Account managers do not hold it, so they get a plain select of
# staff users for the account manager (the model limits it to staff) and see
# a partner contact's portal login read-only: binding a login to a partner
# grants access to that partner's data, which is for user administrators.


def _portal_login_queryset():
    # Staff and superusers never act as a partner's portal login.
    return get_user_model().objects.filter(is_staff=False, is_superuser=False)


class PortalLoginFieldMixin:
    def get_autocomplete_fields(self, request):
        fields = list(super().get_autocomplete_fields(request))
        if user_may(request.user, "change"):
            fields.append("user")
        return fields

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not user_may(request.user, "change"):
            fields.append("user")
        return fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = _portal_login_queryset()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- Reference data -------------------------------------------------------------


@admin.register(Currency)
class CurrencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "minor_units")
    search_fields = ("code", "name")
    ordering = ("code",)
    list_per_page = 100


@admin.register(Designation)
class DesignationAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "partner_count")
    search_fields = ("name", "code")
    prepopulated_fields = {"code": ("name",)}
    ordering = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(partner_count=Count("partner"))

    @admin.display(description=_("partners"), ordering="partner_count")
    def partner_count(self, obj):
        return obj.partner_count


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ReevaluatingAuditedAdmin):
    list_display = ("currency", "month_display", "usd_per_unit", "updated_at")
    list_filter = (CurrencyInUseFilter,)
    search_fields = ("=currency__code", "currency__name")
    date_hierarchy = "month"
    autocomplete_fields = ("currency",)
    readonly_fields = ("updated_at",)
    ordering = ("-month", "currency")
    list_per_page = 100

    @admin.display(description=_("month"), ordering="month")
    def month_display(self, obj):
        return obj.month.strftime("%Y-%m")

    def reevaluation_partner_pks(self, objs) -> set[int]:
        return selectors.partner_pks_with_revenue_in((r.currency_id, r.month) for r in objs)


# --- Partners and what belongs to them ------------------------------------------


class LocationInline(admin.TabularInline):
    form = LocationAdminForm
    model = Location
    fields = ("location_id", "name", "country", "onboarded_on", "is_active", "deauthorised_on")
    ordering = ("location_id",)
    extra = 0
    show_change_link = True


class ContactInline(PortalLoginFieldMixin, admin.TabularInline):
    model = Contact
    fields = ("name", "email", "language", "receives_notices", "user")
    ordering = ("name",)
    extra = 0
    show_change_link = True


class SupportContractInline(admin.TabularInline):
    model = SupportContract
    fields = (
        "contract_number",
        "plan_type",
        "start_date",
        "end_date",
        "is_paid",
        "paid_on",
        "amount",
        "currency",
    )
    autocomplete_fields = ("currency",)
    extra = 0
    show_change_link = True


@admin.register(Partner)
class PartnerAdmin(ReevaluatingAuditedAdmin):
    form = PartnerAdminForm
    list_display = (
        "partner_id",
        "name",
        "country",
        "billing_model",
        "status",
        "account_manager_display",
        "location_count",
    )
    list_display_links = ("partner_id", "name")
    list_filter = ("billing_model", "status", AccountManagerFilter, "country", "designations")
    list_select_related = ("account_manager",)
    search_fields = ("^partner_id", "name", "^locations__location_id", "contacts__email")
    search_help_text = _("Partner id, name, location id or contact email.")
    ordering = ("name", "partner_id")
    filter_horizontal = ("designations",)
    readonly_fields = ("revenue_link", "created_at", "updated_at")
    inlines = (LocationInline, ContactInline, SupportContractInline)
    actions = ("reevaluate_now",)

    @admin.action(description=_("Re-evaluate selected partners now"), permissions=["view"])
    def reevaluate_now(self, request, queryset):
        result = partners_reevaluate(partner_pks=set(queryset.values_list("pk", flat=True)))
        if not result.ok:
            self.message_user(request, str(result), messages.ERROR)
            return
        self.message_user(
            request,
            _("%(n)d evaluation(s) on %(day)s.") % {"n": result.evaluated, "day": result.as_of},
            messages.SUCCESS,
        )

    fieldsets = (
        (None, {"fields": ("partner_id", "name", "country", "status")}),
        (
            _("Programme"),
            {
                "fields": (
                    "billing_model",
                    "onboarded_on",
                    "agreement_signed_on",
                    "designations",
                )
            },
        ),
        (_("Ownership"), {"fields": ("account_manager",)}),
        (_("Record"), {"fields": ("revenue_link", "created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        # A correlated subquery rather than JOIN + GROUP BY: the page counts
        # and the country filter's choices then stay plain single-table
        # queries, and searching by location id cannot inflate the number.
        locations = (
            Location.objects.filter(partner=OuterRef("pk"))
            .order_by()
            .values("partner")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super().get_queryset(request).annotate(location_count=Coalesce(Subquery(locations), 0))
        )

    def get_autocomplete_fields(self, request):
        # Without "view user" the autocomplete view would answer 403; the
        # plain select is limited to staff by the model's limit_choices_to.
        if user_may(request.user, "view"):
            return ("account_manager",)
        return ()

    @admin.display(description=_("account manager"), ordering="account_manager__username")
    def account_manager_display(self, obj):
        manager = obj.account_manager
        if manager is None:
            return None
        return manager.get_full_name() or manager.get_username()

    @admin.display(description=_("locations"), ordering="location_count")
    def location_count(self, obj):
        return obj.location_count

    @admin.display(description=_("revenue"))
    def revenue_link(self, obj):
        if obj is None or obj.pk is None:
            return None
        url = reverse("admin:partners_revenuerecord_changelist")
        return format_html(
            '<a href="{}?q={}">{}</a>', url, obj.partner_id, _("Revenue records of this partner")
        )

    def reevaluation_partner_pks(self, objs) -> set[int]:
        return {obj.pk for obj in objs}


@admin.register(Location)
class LocationAdmin(ReevaluatingAuditedAdmin):
    form = LocationAdminForm
    list_display = (
        "location_id",
        "name",
        "partner_link",
        "country",
        "onboarded_on",
        "is_active",
        "deauthorised_on",
    )
    list_filter = ("is_active", "partner__billing_model", "country")
    list_select_related = ("partner",)
    search_fields = ("^location_id", "name", "^partner__partner_id", "partner__name")
    search_help_text = _("Location id, location name, partner id or partner name.")
    autocomplete_fields = ("partner",)
    readonly_fields = ("created_at", "updated_at")
    ordering = ("partner__name", "location_id")
    fieldsets = (
        (None, {"fields": ("location_id", "partner", "name", "country", "onboarded_on")}),
        (_("Status"), {"fields": ("is_active", "deauthorised_on")}),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description=_("partner"), ordering="partner__name")
    def partner_link(self, obj):
        return admin_change_link(obj.partner)

    def reevaluation_partner_pks(self, objs) -> set[int]:
        return {obj.partner_id for obj in objs}


@admin.register(Contact)
class ContactAdmin(PortalLoginFieldMixin, AuditedAdmin):
    list_display = ("name", "email", "partner_link", "language", "receives_notices", "login")
    list_filter = ("language", "receives_notices", ("user", admin.EmptyFieldListFilter))
    list_select_related = ("partner", "user")
    search_fields = ("name", "email", "^partner__partner_id", "partner__name", "user__username")
    search_help_text = _("Name, email, partner id, partner name or login.")
    autocomplete_fields = ("partner",)
    readonly_fields = ("created_at", "updated_at")
    ordering = ("partner__name", "name")
    fields = (
        "partner",
        "name",
        "email",
        "language",
        "receives_notices",
        "user",
        "created_at",
        "updated_at",
    )

    @admin.display(description=_("partner"), ordering="partner__name")
    def partner_link(self, obj):
        return admin_change_link(obj.partner)

    @admin.display(description=_("portal login"), ordering="user__username")
    def login(self, obj):
        return obj.user.get_username() if obj.user else None


@admin.register(RevenueRecord)
class RevenueRecordAdmin(ReevaluatingAuditedAdmin):
    form = RevenueRecordAdminForm
    # The largest table: no unfiltered COUNT(*), related rows in the same
    # query, and autocomplete instead of selects with every location.
    list_display = (
        "revenue_date",
        "location",
        "partner_link",
        "amount_display",
        "currency",
        "source",
        "reference",
        "customer",
    )
    list_filter = ("source", CurrencyInUseFilter, "location__partner__billing_model")
    list_select_related = ("location__partner", "currency")
    search_fields = (
        "=location__location_id",
        "=location__partner__partner_id",
        "location__partner__name",
        "reference",
        "customer",
    )
    search_help_text = _("Location id or partner id (exact), partner name, reference, customer.")
    date_hierarchy = "revenue_date"
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per filter choice over the whole table
    autocomplete_fields = ("location", "currency")
    readonly_fields = ("created_at",)
    ordering = ("-revenue_date", "location_id")
    fields = (
        "location",
        "revenue_date",
        "amount",
        "currency",
        "source",
        "reference",
        "customer",
        "created_at",
    )

    @admin.display(description=_("partner"), ordering="location__partner__name")
    def partner_link(self, obj):
        return admin_change_link(obj.location.partner)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount)

    def reevaluation_partner_pks(self, objs) -> set[int]:
        return selectors.partner_pks_of_locations(obj.location_id for obj in objs)


@admin.register(SupportContract)
class SupportContractAdmin(ReevaluatingAuditedAdmin):
    list_display = (
        "contract_number",
        "partner_link",
        "plan_type",
        "start_date",
        "end_date",
        "is_paid",
        "paid_on",
        "amount_display",
        "currency",
    )
    list_filter = ("plan_type", "is_paid", CurrencyInUseFilter, "partner__billing_model")
    list_select_related = ("partner", "currency")
    search_fields = ("contract_number", "^partner__partner_id", "partner__name")
    search_help_text = _("Contract number, partner id or partner name.")
    date_hierarchy = "end_date"
    autocomplete_fields = ("partner", "currency")
    readonly_fields = ("created_at", "updated_at")
    ordering = ("-end_date", "contract_number")
    fieldsets = (
        (None, {"fields": ("partner", "plan_type", "contract_number")}),
        (_("Term"), {"fields": ("start_date", "end_date")}),
        (_("Payment"), {"fields": ("is_paid", "paid_on", "amount", "currency")}),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description=_("partner"), ordering="partner__name")
    def partner_link(self, obj):
        return admin_change_link(obj.partner)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount)

    def reevaluation_partner_pks(self, objs) -> set[int]:
        return {obj.partner_id for obj in objs}


from . import user_admin  # noqa: E402,F401  the user admin with the factor reset
