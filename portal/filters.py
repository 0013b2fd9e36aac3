"""Filters of the staff partner list (django-filter). Invalid values are
ignored and reported on the form; they never cause an error page."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from compliance.models import Outlook, Policy, Status
from compliance.selectors import DISPLAY_RANKS, OUTLOOK_RANKS, partners_with_worst_status
from partners.models import BillingModel, Location, Partner, PartnerStatus

from .forms import UserChoiceField, staff_users


class StaffUserFilter(django_filters.ModelChoiceFilter):
    field_class = UserChoiceField


#: The outlook filter: the partner's worst deadline outlook (PRODUCT 4.9) over
#: itself and its locations, or "some subject compliant today is short".
COMPLIANT_SHORT = "compliant_short"
OUTLOOK_CHOICES = [
    (Outlook.SHORT, Outlook.SHORT.label),
    (COMPLIANT_SHORT, _("Compliant today, short at the deadline")),
    (Outlook.ON_TRACK, Outlook.ON_TRACK.label),
    (Outlook.MET, Outlook.MET.label),
]
#: Sorted with the partners without an outlook last, in either direction and
#: on every database.
NULLS_LAST = {"worst_outlook_rank"}


class PartnerOrderingFilter(django_filters.OrderingFilter):
    def get_ordering_value(self, param):
        value = super().get_ordering_value(param)
        name = value.lstrip("-")
        if name in NULLS_LAST:
            field = F(name)
            return (
                field.desc(nulls_last=True) if value.startswith("-") else field.asc(nulls_last=True)
            )
        return value


class PartnerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_search",
        widget=forms.TextInput(attrs={"placeholder": _("Name, partner id or location id")}),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Status.choices, method="filter_noop", empty_label=_("Any")
    )
    policy = django_filters.ModelChoiceFilter(
        label=_("Policy"),
        queryset=Policy.objects.order_by("effective_from", "code"),
        method="filter_noop",
        empty_label=_("Any"),
    )
    outlook = django_filters.ChoiceFilter(
        label=_("Outlook"),
        choices=OUTLOOK_CHOICES,
        method="filter_noop",
        empty_label=_("Any"),
    )
    billing_model = django_filters.ChoiceFilter(
        label=_("Billing model"), choices=BillingModel.choices, empty_label=_("Any")
    )
    country = django_filters.ChoiceFilter(label=_("Country"), choices=[], empty_label=_("Any"))
    account_manager = StaffUserFilter(
        label=_("Account manager"), queryset=staff_users(), empty_label=_("Any")
    )
    partner_status = django_filters.ChoiceFilter(
        field_name="status",
        label=_("Partner state"),
        choices=PartnerStatus.choices,
        empty_label=_("Any"),
    )
    mine = django_filters.BooleanFilter(
        label=_("My partners only"), method="filter_mine", widget=forms.CheckboxInput
    )
    sort = PartnerOrderingFilter(
        label=_("Sort by"),
        fields=(
            ("name", "name"),
            ("partner_id", "partner_id"),
            ("country", "country"),
            ("billing_model", "billing_model"),
            ("account_manager__username", "account_manager"),
            ("onboarded_on", "onboarded_on"),
            ("worst_rank", "status"),
            ("worst_outlook_rank", "outlook"),
        ),
        field_labels={
            "name": _("Name"),
            "partner_id": _("Partner id"),
            "country": _("Country"),
            "billing_model": _("Billing model"),
            "account_manager__username": _("Account manager"),
            "onboarded_on": _("Onboarding date"),
            "worst_rank": _("Status"),
            "worst_outlook_rank": _("Outlook"),
        },
    )

    class Meta:
        model = Partner
        fields = [
            "q",
            "status",
            "policy",
            "outlook",
            "billing_model",
            "country",
            "account_manager",
        ]

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        countries = Partner.objects.order_by("country").values_list("country", flat=True).distinct()
        self.filters["country"].extra["choices"] = lambda: [(c, c) for c in countries]

    def filter_search(self, queryset: QuerySet[Partner], name: str, value: str):
        value = value.strip()
        if not value:
            return queryset
        location = Location.objects.filter(partner=OuterRef("pk"), location_id__startswith=value)
        return queryset.filter(
            Q(name__icontains=value) | Q(partner_id__startswith=value) | Exists(location)
        )

    def filter_noop(self, queryset, name, value):
        return queryset  # applied together in filter_queryset

    def filter_mine(self, queryset, name, value):
        if value and self.user is not None:
            return queryset.filter(account_manager=self.user)
        return queryset

    def filter_queryset(self, queryset: QuerySet[Partner]) -> QuerySet[Partner]:
        data = self.form.cleaned_data
        policy, status = data.get("policy"), data.get("status")
        # The worst current status and outlook of the partner and its
        # locations, for the chosen policy or over all policies; annotated
        # for sorting as well.
        queryset = partners_with_worst_status(queryset, policy=policy)
        outlook = data.get("outlook")
        if outlook == COMPLIANT_SHORT:
            queryset = queryset.filter(compliant_short=True)
        elif outlook:
            queryset = queryset.filter(worst_outlook_rank=OUTLOOK_RANKS[outlook])
        if status:
            queryset = queryset.filter(worst_rank=DISPLAY_RANKS[status])
        elif policy is not None:
            # partners the policy applies to
            queryset = queryset.filter(worst_rank__gt=DISPLAY_RANKS["not_applicable"])
        queryset = super().filter_queryset(queryset)
        if data.get("sort"):
            # a unique tie-breaker keeps pages stable
            return queryset.order_by(*queryset.query.order_by, "partner_id")
        return queryset.order_by("name", "partner_id")
