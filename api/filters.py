"""Filters of the API lists and the exports (django-filter). Partners are
named by their Microsoft ids, policies by their code."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from compliance.models import (
    CaseKind,
    CaseState,
    Evaluation,
    FollowUpCase,
    Outlook,
    Purpose,
    Status,
    SubjectType,
)
from partners.models import (
    BillingModel,
    Contact,
    Location,
    Partner,
    PartnerStatus,
    PlanType,
    RevenueRecord,
    RevenueSource,
    SupportContract,
)


class PartnerApiFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_search", help_text="Name contains, or partner id starts with, this text."
    )
    billing_model = django_filters.ChoiceFilter(choices=BillingModel.choices)
    status = django_filters.ChoiceFilter(choices=PartnerStatus.choices)
    country = django_filters.CharFilter(help_text="Two-letter ISO country code.")
    account_manager = django_filters.CharFilter(
        field_name="account_manager__username", help_text="Username of the account manager."
    )

    class Meta:
        model = Partner
        fields = ["q", "billing_model", "status", "country", "account_manager"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(partner_id__startswith=value))


class LocationFilter(django_filters.FilterSet):
    partner = django_filters.CharFilter(field_name="partner__partner_id", help_text="Partner id.")
    country = django_filters.CharFilter()
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Location
        fields = ["partner", "country", "is_active"]


class ContactFilter(django_filters.FilterSet):
    partner = django_filters.CharFilter(field_name="partner__partner_id", help_text="Partner id.")
    email = django_filters.CharFilter(lookup_expr="iexact")
    receives_notices = django_filters.BooleanFilter()

    class Meta:
        model = Contact
        fields = ["partner", "email", "receives_notices"]


class SupportContractFilter(django_filters.FilterSet):
    partner = django_filters.CharFilter(field_name="partner__partner_id", help_text="Partner id.")
    plan_type = django_filters.ChoiceFilter(choices=PlanType.choices)
    is_paid = django_filters.BooleanFilter()
    active_on = django_filters.DateFilter(
        method="filter_active_on", help_text="Contracts whose term covers this date."
    )

    class Meta:
        model = SupportContract
        fields = ["partner", "plan_type", "is_paid", "active_on"]

    def filter_active_on(self, queryset, name, value):
        return queryset.filter(start_date__lte=value, end_date__gte=value)


class RevenueFilter(django_filters.FilterSet):
    partner = django_filters.CharFilter(
        field_name="location__partner__partner_id", help_text="Partner id."
    )
    location = django_filters.CharFilter(
        field_name="location__location_id", help_text="Location id."
    )
    date_from = django_filters.DateFilter(
        field_name="revenue_date", lookup_expr="gte", help_text="Revenue date on or after."
    )
    date_to = django_filters.DateFilter(
        field_name="revenue_date", lookup_expr="lte", help_text="Revenue date on or before."
    )
    source = django_filters.ChoiceFilter(choices=RevenueSource.choices)
    currency = django_filters.CharFilter(field_name="currency_id")
    reference = django_filters.CharFilter()

    class Meta:
        model = RevenueRecord
        fields = ["partner", "location", "date_from", "date_to", "source", "currency", "reference"]


class EvaluationFilter(django_filters.FilterSet):
    as_of = django_filters.DateFilter()
    as_of_from = django_filters.DateFilter(field_name="as_of", lookup_expr="gte")
    as_of_to = django_filters.DateFilter(field_name="as_of", lookup_expr="lte")
    status = django_filters.ChoiceFilter(choices=Status.choices)
    policy = django_filters.CharFilter(field_name="policy__code", help_text="Policy code.")
    purpose = django_filters.ChoiceFilter(choices=Purpose.choices)
    partner = django_filters.CharFilter(field_name="partner__partner_id", help_text="Partner id.")
    subject_type = django_filters.ChoiceFilter(choices=SubjectType.choices)
    outlook = django_filters.ChoiceFilter(
        choices=Outlook.choices,
        help_text=(
            "Deadline outlook: what already counts for the deadline meets the "
            "threshold (met), the pace reaches it (on_track) or not (short)."
        ),
    )

    class Meta:
        model = Evaluation
        fields = [
            "as_of",
            "as_of_from",
            "as_of_to",
            "status",
            "policy",
            "purpose",
            "partner",
            "subject_type",
            "outlook",
        ]


class FollowUpCaseFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=CaseState.choices)
    kind = django_filters.ChoiceFilter(choices=CaseKind.choices)
    partner = django_filters.CharFilter(field_name="partner__partner_id", help_text="Partner id.")

    class Meta:
        model = FollowUpCase
        fields = ["state", "kind", "partner"]
