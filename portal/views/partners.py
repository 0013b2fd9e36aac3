"""Partner pages of the web portal (staff and partner self-service).

Thin: every partner is reached through ``partners.selectors`` (the one door:
a foreign or unknown partner is 404), every change goes through a service,
and the partner is re-evaluated right after a change so that the page shows
the new status at once.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from compliance import rules
from compliance import selectors as compliance_selectors
from partners import selectors, services
from partners.models import Partner
from portal.exports import PARTNER_EXPORT_HEADER, csv_stream, partner_export_rows
from portal.filters import PartnerFilter
from portal.forms import (
    ContactForm,
    ResellerEnrolForm,
    RevenueRecordForm,
    SupportContractForm,
)
from portal.views.access import PartnerScopedMixin, StaffRequiredMixin
from portal.views.editing import PortalFormView, ServiceFormMixin
from portal.views.outlook import outlook_panels

PAGE_SIZE = 25


def months_chart(months: list[compliance_selectors.MonthRevenue], label: str) -> dict:
    """Chart.js data for ``json_script`` (amounts as strings of 2 decimals)."""
    return {
        "label": label,
        "labels": [date_format(m.month, "M Y") for m in months],
        "values": [str(m.usd.quantize(Decimal("0.01"))) for m in months],
        "currency": "USD",
    }


# --- overview (detail page and the partner's own dashboard) -----------------------------


SUPPORT_PLAN_TYPES = "support_plan_types"


def support_plan_types_annotation(today: datetime.date) -> dict:
    """``annotate`` for the partner lookup of a page with the support panel."""
    return {SUPPORT_PLAN_TYPES: compliance_selectors.support_plan_types(today)}


def support_plan_summary(partner: Partner, contracts: list, today: datetime.date) -> dict:
    """The support panel: the contract that meets the support-plan
    requirement today, asked of the rules' own function with the qualifying
    plan types of the policy that applies to ``partner`` (annotated by
    ``support_plan_types_annotation``; the default qualifying plans when none
    applies), so that the panel says what the evaluation says; and the
    contracts not paid as of today (unpaid, or paid on a later date)."""
    types = getattr(partner, SUPPORT_PLAN_TYPES, None)
    types = rules.DEFAULT_QUALIFYING_PLAN_TYPES if types is None else tuple(types)
    facts = [
        (
            rules.ContractFacts(
                plan_type=c.plan_type,
                start=c.start_date,
                end=c.end_date,
                is_paid=c.is_paid,
                paid_on=c.paid_on,
            ),
            c,
        )
        for c in contracts
    ]
    covering = rules.support_plan_covering([f for f, _c in facts], today, types)
    current = next((c for f, c in facts if f is covering), None)
    return {
        "active": current,
        "days_left": (current.end_date - today).days if current else None,
        "unpaid": [c for f, c in facts if not f.paid_as_of(today) and c.end_date >= today],
        "plans": rules.plan_names(types, get_language() or "en"),
    }


def partner_overview(partner: Partner, today: datetime.date, *, staff: bool = False) -> dict:
    """The current state of one partner: evaluations per policy (partner
    level) and per location, TTM revenue, the monthly chart, the deadline
    outlook (worded for staff or for the partner). Fixed number of
    queries."""
    one = selectors.partner_pk_queryset(partner)
    state = compliance_selectors.partner_states(one).get(
        partner.pk, compliance_selectors.PartnerState()
    )
    partner_level = [e for e in state.compliance if e.subject_type == "partner"]
    by_location: dict[int, list] = {}
    for evaluation in state.compliance:
        if evaluation.location_id is not None:
            by_location.setdefault(evaluation.location_id, []).append(evaluation)
    months = compliance_selectors.monthly_revenue_usd(today=today, partners=one)
    outlooks = outlook_panels(partners=one, evaluations=state.compliance, today=today, staff=staff)
    return {
        "state": state,
        "partner_evaluations": partner_level,
        "location_evaluations": by_location,
        "readiness": state.readiness,
        "support_required": any("support_plan" in e.requirements for e in state.compliance),
        "as_of": state.evaluations[0].as_of if state.evaluations else None,
        "months": months,
        "missing_rates": [gap for m in months for gap in m.missing],
        "chart": months_chart(months, _("Revenue (USD)")),
        "outlooks": outlooks,
        "outlook_cards": {panel.evaluation.pk: panel for panel in outlooks},
    }


class LocationRow:
    def __init__(self, location, evaluations: list):
        self.location = location
        self.evaluations = evaluations


# --- staff: list and export ------------------------------------------------------------


class PartnerListView(StaffRequiredMixin, TemplateView):
    template_name = "partners/partner_list.html"

    def get_filter(self) -> PartnerFilter:
        return PartnerFilter(
            self.request.GET or None,
            queryset=selectors.partner_list_for_user(self.request.user),
            user=self.request.user,
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filterset = self.get_filter()
        paginator = Paginator(filterset.qs, PAGE_SIZE)
        # get_page: a bad or too large page number shows the nearest page
        page = paginator.get_page(self.request.GET.get("page"))
        partners = list(page.object_list)
        states = compliance_selectors.partner_states(
            Partner.objects.filter(pk__in=[p.pk for p in partners])
        )
        empty = compliance_selectors.PartnerState()
        context.update(
            filter=filterset,
            page_obj=page,
            rows=[(p, states.get(p.pk, empty)) for p in partners],
            total=paginator.count,
            sort=self.request.GET.get("sort", ""),
            today=timezone.localdate(),
        )
        return context


class PartnerExportView(PartnerListView):
    """The filtered partner list as CSV (every page)."""

    def get(self, request, *args, **kwargs):
        rows = partner_export_rows(self.get_filter().qs)
        response = StreamingHttpResponse(
            csv_stream(PARTNER_EXPORT_HEADER, rows), content_type="text/csv; charset=utf-8"
        )
        name = f"partners-{timezone.localdate():%Y-%m-%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class DirectBillReadyListView(StaffRequiredMixin, TemplateView):
    """Indirect resellers that would meet the direct-bill policy in force
    (read-only upsell list) and those closest to it."""

    template_name = "partners/direct_bill_ready.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        partners = selectors.partners_for_user(self.request.user)
        scope = "all"
        if self.request.GET.get("mine") == "1":
            partners = partners.filter(account_manager=self.request.user)
            scope = f"mine-{self.request.user.pk}"
        ready, closest = compliance_selectors.cached_by_evaluations(
            f"direct-bill-ready:{scope}",
            lambda: compliance_selectors.direct_bill_candidates(partners),
        )
        context.update(ready=ready, closest=closest, mine=self.request.GET.get("mine") == "1")
        return context


# --- partner pages (staff and the partner's own users) ---------------------------------


class PartnerDetailView(PartnerScopedMixin, TemplateView):
    template_name = "partners/partner_detail.html"

    def get_partner(self, request, partner_id):
        return selectors.partner_detail_for_user(
            user=request.user,
            partner_id=partner_id,
            annotate=support_plan_types_annotation(timezone.localdate()),
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        partner, today = self.partner, timezone.localdate()
        is_staff = context["is_staff"]
        overview = partner_overview(partner, today, staff=is_staff)
        locations = list(selectors.locations_for_partner(partner=partner))
        contracts = list(selectors.support_contracts_for_partner(partner=partner))
        context.update(
            overview,
            today=today,
            location_rows=[
                LocationRow(loc, overview["location_evaluations"].get(loc.pk, []))
                for loc in locations
            ],
            contacts=list(selectors.contacts_for_partner(partner=partner)),
            contracts=contracts,
            support=support_plan_summary(partner, contracts, today),
            history=compliance_selectors.evaluation_history(partner=partner),
            notifications=selectors.notifications_for_partner(
                partner=partner, sent_only=not is_staff
            ),
            outcomes=compliance_selectors.outcomes_for_partner(partner=partner),
            changes=selectors.partner_change_history(partner=partner) if is_staff else None,
        )
        return context


class PartnerRevenueView(PartnerScopedMixin, TemplateView):
    template_name = "partners/partner_revenue.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.localdate()
        months = compliance_selectors.monthly_revenue_usd(
            today=today, partners=selectors.partner_pk_queryset(self.partner)
        )
        context.update(
            months=list(reversed(months)),
            total=sum((m.usd for m in months), Decimal(0)),
            chart=months_chart(months, _("Revenue (USD)")),
            records=selectors.recent_revenue_for_partner(partner=self.partner),
        )
        return context


class PartnerContractsView(PartnerScopedMixin, TemplateView):
    template_name = "partners/partner_contracts.html"

    def get_partner(self, request, partner_id):
        return selectors.partner_get_for_user(
            user=request.user,
            partner_id=partner_id,
            annotate=support_plan_types_annotation(timezone.localdate()),
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.localdate()
        contracts = list(selectors.support_contracts_for_partner(partner=self.partner))
        context.update(
            contracts=contracts,
            support=support_plan_summary(self.partner, contracts, today),
            today=today,
        )
        return context


class PartnerContactsView(PartnerScopedMixin, TemplateView):
    template_name = "partners/partner_contacts.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["contacts"] = list(selectors.contacts_for_partner(partner=self.partner))
        return context


# --- forms -------------------------------------------------------------------------


class PartnerFormView(PartnerScopedMixin, ServiceFormMixin, PortalFormView):
    def get_cancel_url(self) -> str:
        return reverse("partners:detail", args=[self.partner.partner_id])

    def get_success_url(self) -> str:
        return self.get_cancel_url()


class ResellerEnrolView(StaffRequiredMixin, ServiceFormMixin, PortalFormView):
    form_class = ResellerEnrolForm
    title = gettext_lazy("Enrol an indirect reseller")
    submit_label = gettext_lazy("Enrol reseller")
    service_error_fields = ResellerEnrolForm.field_map

    def get_initial(self):
        return {"account_manager": self.request.user.pk, "onboarded_on": timezone.localdate()}

    def get_cancel_url(self) -> str:
        return reverse("partners:list")

    def call_service(self, form) -> Partner:
        data = form.cleaned_data
        return services.reseller_enrol(
            partner_id=data["partner_id"],
            name=data["name"],
            country=data["country"],
            onboarded_on=data["onboarded_on"],
            location_id=data["location_id"],
            contact_name=data["contact_name"],
            contact_email=data["contact_email"],
            contact_language=data["contact_language"],
            account_manager=data["account_manager"],
            user=self.request.user,
        )

    def reevaluated_partner(self) -> Partner:
        return self.object

    def get_success_message(self) -> str:
        return _("%(name)s is enrolled.") % {"name": self.object.name}

    def get_success_url(self) -> str:
        return reverse("partners:detail", args=[self.object.partner_id])


class RevenueRecordCreateView(PartnerFormView):
    staff_only = True
    form_class = RevenueRecordForm
    title = gettext_lazy("Record revenue")
    service_error_fields = {"currency_id": "currency"}
    success_message = gettext_lazy("The revenue is recorded.")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "partner": self.partner}

    def get_initial(self):
        return {"revenue_date": timezone.localdate()}

    def call_service(self, form):
        data = form.cleaned_data
        return services.revenue_record_create(
            location=data["location"],
            revenue_date=data["revenue_date"],
            amount=data["amount"],
            currency=data["currency"].code,
            reference=data["reference"],
            customer=data["customer"],
            user=self.request.user,
        )

    def reevaluated_partner(self) -> Partner:
        return self.partner


class SupportContractCreateView(PartnerFormView):
    staff_only = True
    form_class = SupportContractForm
    title = gettext_lazy("Add a support contract")
    service_error_fields = {"currency_id": "currency"}
    success_message = gettext_lazy("The support contract is added.")

    def call_service(self, form):
        data = form.cleaned_data
        return services.support_contract_create(
            partner=self.partner,
            plan_type=data["plan_type"],
            contract_number=data["contract_number"],
            start_date=data["start_date"],
            end_date=data["end_date"],
            is_paid=data["is_paid"],
            paid_on=data["paid_on"],
            amount=data["amount"],
            currency=data["currency"].code if data["currency"] else None,
            user=self.request.user,
        )

    def reevaluated_partner(self) -> Partner:
        return self.partner


class ContactFormMixin:
    form_class = ContactForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "partner": self.partner}

    def get_cancel_url(self) -> str:
        return reverse("partners:contacts", args=[self.partner.partner_id])

    def get_success_url(self) -> str:
        return self.get_cancel_url()


class ContactCreateView(ContactFormMixin, PartnerFormView):
    title = gettext_lazy("Add a contact")
    success_message = gettext_lazy("The contact is added.")

    def call_service(self, form):
        data = form.cleaned_data
        return services.contact_create(
            partner=self.partner,
            name=data["name"],
            email=data["email"],
            language=data["language"],
            receives_notices=data["receives_notices"],
            user=self.request.user,
        )


class ContactUpdateView(ContactFormMixin, PartnerFormView):
    title = gettext_lazy("Edit contact")
    success_message = gettext_lazy("The contact is saved.")

    def get_form_kwargs(self):
        # the partner is resolved first (404 if foreign); the contact must
        # belong to it
        self.contact = selectors.contact_get_for_user(
            user=self.request.user, partner=self.partner, pk=self.kwargs["pk"]
        )
        return {**super().get_form_kwargs(), "instance": self.contact}

    def call_service(self, form):
        data = form.cleaned_data
        return services.contact_update(
            contact=self.contact,
            name=data["name"],
            email=data["email"],
            language=data["language"],
            receives_notices=data["receives_notices"],
            user=self.request.user,
        )

    def form_valid(self, form):
        response = super().form_valid(form)
        contact = self.object
        if (
            contact is not None
            and contact.user_id is not None
            and contact.user_id == self.request.user.pk
        ):
            # the partner user's own language preference also sets the
            # language of the portal
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                contact.language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE or "Lax",
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            )
        return response
