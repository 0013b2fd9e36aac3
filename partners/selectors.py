"""Reads of partner data for views, tasks and the API.

This is the one door to partner data (STYLE.md "Access control"): every view
reaches partners through ``partners_for_user`` / ``partner_get_for_user``,
which filter by the requesting user. A partner user sees exactly the partner
their login is bound to (``Contact.user``); staff see every partner. A
missing or foreign partner is ``Http404``, never a 403 that would confirm the
partner exists.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from .models import Contact, Location, Partner, RevenueRecord, SupportContract


def user_is_staff(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def partner_pk_for_user(user: AbstractBaseUser | AnonymousUser) -> int | None:
    """The partner a non-staff login is bound to, or None."""
    if not user.is_authenticated or not user.is_active or user.is_staff:
        return None
    # Cached on the user object for the length of the request.
    if not hasattr(user, "_partner_pk_cache"):
        user._partner_pk_cache = (
            Contact.objects.filter(user=user).values_list("partner_id", flat=True).first()
        )
    return user._partner_pk_cache


def partners_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Partner]:
    """Every partner ``user`` may see: all for staff, their own for a
    partner user, none for anyone else."""
    if user_is_staff(user):
        return Partner.objects.all()
    pk = partner_pk_for_user(user)
    if pk is None:
        return Partner.objects.none()
    return Partner.objects.filter(pk=pk)


def partner_get_for_user(*, user: AbstractBaseUser | AnonymousUser, partner_id: str) -> Partner:
    """The partner with Microsoft id ``partner_id`` if ``user`` may see it,
    else Http404."""
    partner = (
        partners_for_user(user)
        .select_related("account_manager")
        .filter(partner_id=partner_id)
        .first()
    )
    if partner is None:
        raise Http404("No such partner.")
    return partner


def locations_for_partner(*, partner: Partner) -> QuerySet[Location]:
    return Location.objects.filter(partner=partner).order_by("location_id")


def contacts_for_partner(*, partner: Partner) -> QuerySet[Contact]:
    return Contact.objects.filter(partner=partner).select_related("user").order_by("name")


def contact_get_for_user(
    *, user: AbstractBaseUser | AnonymousUser, partner: Partner, pk: int
) -> Contact:
    """A contact of ``partner`` (which the caller got through
    ``partner_get_for_user``); a contact of another partner is Http404."""
    contact = Contact.objects.filter(partner=partner, pk=pk).first()
    if contact is None:
        raise Http404("No such contact.")
    return contact


def support_contracts_for_partner(*, partner: Partner) -> QuerySet[SupportContract]:
    return SupportContract.objects.filter(partner=partner).order_by("-end_date")


def revenue_for_partner(*, partner: Partner) -> QuerySet[RevenueRecord]:
    return RevenueRecord.objects.filter(location__partner=partner).select_related("location")
