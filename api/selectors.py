"""Querysets of the API and the exports, per requesting user.

Every one starts from ``partners.selectors.partners_for_user`` (the one
door): staff see every partner's rows, a partner user the rows of their own
partner, anyone else nothing. Eager loading lives here so that list
endpoints and exports run a fixed number of queries.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Prefetch, QuerySet

from compliance.models import Evaluation, FollowUpCase
from partners.models import Contact, Location, Partner, RevenueRecord, SupportContract
from partners.selectors import for_visible_partners, partners_for_user

User = AbstractBaseUser | AnonymousUser


def api_partners_for_user(user: User) -> QuerySet[Partner]:
    locations = Location.objects.only("pk", "partner_id", "location_id").order_by("location_id")
    return (
        partners_for_user(user)
        .select_related("account_manager")
        .prefetch_related("designations", Prefetch("locations", queryset=locations))
        .order_by("name", "partner_id")
    )


def locations_for_user(user: User) -> QuerySet[Location]:
    return (
        for_visible_partners(Location.objects, user=user)
        .select_related("partner")
        .order_by("location_id")
    )


def contacts_for_user(user: User) -> QuerySet[Contact]:
    return (
        for_visible_partners(Contact.objects, user=user)
        .select_related("partner")
        .order_by("partner__partner_id", "name", "pk")
    )


def support_contracts_for_user(user: User) -> QuerySet[SupportContract]:
    return (
        for_visible_partners(SupportContract.objects, user=user)
        .select_related("partner")
        .order_by("-end_date", "contract_number", "pk")
    )


def revenue_for_user(user: User) -> QuerySet[RevenueRecord]:
    return (
        for_visible_partners(RevenueRecord.objects, user=user, via="location__partner")
        .select_related("location__partner")
        .order_by("-revenue_date", "location__location_id", "pk")
    )


def evaluations_for_user(user: User) -> QuerySet[Evaluation]:
    return (
        for_visible_partners(Evaluation.objects, user=user)
        .select_related("partner", "location", "policy")
        .order_by("-as_of", "subject_type", "subject_id", "policy__code", "purpose", "pk")
    )


def followup_cases_for_user(user: User) -> QuerySet[FollowUpCase]:
    return (
        for_visible_partners(FollowUpCase.objects, user=user)
        .select_related("partner", "location", "outcome__policy", "owner")
        .order_by("state", "-opened_at", "pk")
    )
