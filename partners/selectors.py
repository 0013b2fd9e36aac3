"""Reads of partner data for views, tasks and the API.

This is the one door to partner data (STYLE.md "Access control"): every view
reaches partners through ``partners_for_user`` / ``partner_get_for_user``,
which filter by the requesting user. A partner user sees exactly the partner
their login is bound to (``Contact.user``); staff see every partner. A
missing or foreign partner is ``Http404``, never a 403 that would confirm the
partner exists.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.apps import apps
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Field, ForeignObject, Model, Q, QuerySet
from django.db.models.expressions import BaseExpression
from django.http import Http404
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.formatting import format_date

from .display import change_reason_display
from .models import Contact, Location, Partner, RevenueRecord, SupportContract

M = TypeVar("M", bound=Model)


def user_is_staff(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def partner_pk_for_user(user: User | AnonymousUser) -> int | None:
    """The partner a non-staff login is bound to, or None."""
    if not user.is_authenticated or not user.is_active or user.is_staff:
        return None
    # Cached on the user object for the length of the request (an attribute
    # of our own, which the User model does not declare).
    if not hasattr(user, "_partner_pk_cache"):
        user._partner_pk_cache = (  # type: ignore[attr-defined]
            Contact.objects.filter(user=user).values_list("partner_id", flat=True).first()
        )
    return user._partner_pk_cache  # type: ignore[attr-defined]


def partners_for_user(user: User | AnonymousUser) -> QuerySet[Partner]:
    """Every partner ``user`` may see: all for staff, their own for a
    partner user, none for anyone else."""
    if user_is_staff(user):
        return Partner.objects.all()
    pk = partner_pk_for_user(user)
    if pk is None:
        return Partner.objects.none()
    return Partner.objects.filter(pk=pk)


def for_visible_partners(
    queryset: QuerySet[M], *, user: User | AnonymousUser, via: str = "partner"
) -> QuerySet[M]:
    """The rows of ``queryset`` whose partner (the relation ``via``) ``user``
    may see."""
    return queryset.filter(**{f"{via}__in": partners_for_user(user).values("pk")})


def get_for_user(queryset: QuerySet[M], **lookup: Any) -> M:
    """The row of ``queryset`` that matches ``lookup``, else Http404. The one
    way to a single object for a user: ``queryset`` is already limited to
    what the user may see (``partners_for_user``, ``for_visible_partners``,
    the rows of a partner reached through this door), so a missing and a
    foreign object look the same."""
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise Http404(f"No such {queryset.model._meta.verbose_name}.")
    return obj


def partner_get_for_user(
    *,
    user: User | AnonymousUser,
    partner_id: str,
    annotate: Mapping[str, BaseExpression] | None = None,
) -> Partner:
    """The partner with Microsoft id ``partner_id`` if ``user`` may see it,
    else Http404; with the ``annotate`` expressions of the caller's page."""
    partners = partners_for_user(user).select_related("account_manager")
    return get_for_user(partners.annotate(**(annotate or {})), partner_id=partner_id)


def locations_for_partner(*, partner: Partner) -> QuerySet[Location]:
    return Location.objects.filter(partner=partner).order_by("location_id")


def contacts_for_partner(*, partner: Partner) -> QuerySet[Contact]:
    return Contact.objects.filter(partner=partner).select_related("user").order_by("name")


def contact_get_for_user(*, user: User | AnonymousUser, partner: Partner, pk: int) -> Contact:
    """A contact of ``partner`` (which the caller got through
    ``partner_get_for_user``); a contact of another partner is Http404."""
    return get_for_user(Contact.objects.filter(partner=partner), pk=pk)


def support_contracts_for_partner(*, partner: Partner) -> QuerySet[SupportContract]:
    return SupportContract.objects.filter(partner=partner).order_by("-end_date")


def revenue_for_partner(*, partner: Partner) -> QuerySet[RevenueRecord]:
    return RevenueRecord.objects.filter(location__partner=partner).select_related("location")


# --- pages of the web portal ----------------------------------------------------


def partner_list_for_user(user: User | AnonymousUser) -> QuerySet[Partner]:
    """The partner list of the portal: what ``user`` may see, with the
    account manager loaded."""
    return partners_for_user(user).select_related("account_manager")


def partner_detail_for_user(
    *,
    user: User | AnonymousUser,
    partner_id: str,
    annotate: Mapping[str, BaseExpression] | None = None,
) -> Partner:
    """``partner_get_for_user`` with the designations prefetched."""
    partners = partners_for_user(user).select_related("account_manager")
    partners = partners.annotate(**(annotate or {})).prefetch_related("designations")
    return get_for_user(partners, partner_id=partner_id)


def partner_pk_queryset(partner: Partner) -> QuerySet[Partner]:
    """A one-partner queryset for the set-based compliance selectors."""
    return Partner.objects.filter(pk=partner.pk)


def recent_revenue_for_partner(*, partner: Partner, limit: int = 50) -> list[RevenueRecord]:
    return list(revenue_for_partner(partner=partner).order_by("-revenue_date", "-pk")[:limit])


@dataclass(frozen=True)
class HistoryEntry:
    """One change of a partner or of a row that belongs to it."""

    when: datetime.datetime
    model: str
    object_label: str
    action: str  # "+", "~", "-"
    user: str
    reason: str
    changes: tuple[str, ...]


_HISTORY_SKIP = {"created_at", "updated_at", "id", "partner", "decided_at", "opened_at"}


def _tracked_fields(model: type[Model]) -> list[Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if f.name not in _HISTORY_SKIP and f.attname not in _HISTORY_SKIP
    ]


# What a change of a follow-up case or deadline outcome did, shown when the
# version before it is not recorded.
_STATE_AFTER = {
    "followupcase": ("state", "owner", "closed_at"),
    "deadlineoutcome": ("overridden_by", "override_reason"),
}


def _history_sources(partner: Partner) -> list[tuple]:
    """(model, historical queryset) of everything that belongs to
    ``partner``, with the relations the labels and diffs show joined."""
    sources = [
        (Partner, Partner.history.filter(id=partner.pk)),
        (Location, Location.history.filter(partner_id=partner.pk)),
        (Contact, Contact.history.filter(partner_id=partner.pk).select_related("user")),
        (SupportContract, SupportContract.history.filter(partner_id=partner.pk)),
        (
            RevenueRecord,
            RevenueRecord.history.filter(location__partner_id=partner.pk).select_related(
                "location"
            ),
        ),
    ]
    if apps.is_installed("compliance"):
        case = apps.get_model("compliance", "FollowUpCase")
        outcome = apps.get_model("compliance", "DeadlineOutcome")
        sources += [
            (
                case,
                case.history.filter(partner_id=partner.pk).select_related("location", "owner"),
            ),
            (
                outcome,
                outcome.history.filter(partner_id=partner.pk).select_related(
                    "policy", "location", "overridden_by"
                ),
            ),
        ]
    return sources


def partner_change_history(*, partner: Partner, limit: int = 40) -> list[HistoryEntry]:
    """The latest audit rows (django-simple-history) of the partner, its
    locations, contacts, support contracts, revenue records, follow-up cases
    and deadline outcomes (overrides), newest first; one query per kind,
    seven in all. Field changes (before → after) are shown where the
    previous version is among the rows fetched."""
    records = []
    for model, qs in _history_sources(partner):
        for record in qs.select_related("history_user").order_by("-history_date")[:limit]:
            records.append((model, record))
    records.sort(key=lambda item: item[1].history_date)
    # Location ids by primary key, also of locations deleted since.
    location_ids = {record.id: record.location_id for model, record in records if model is Location}
    previous: dict[tuple[str, int], object] = {}
    entries: list[HistoryEntry] = []
    for model, record in records:
        key = (model._meta.label, record.id)
        changes: list[str] = []
        before = previous.get(key)
        if before is not None and record.history_type == "~":
            for field in _tracked_fields(model):
                old, new = (
                    getattr(before, field.attname, None),
                    getattr(record, field.attname, None),
                )
                if old != new:
                    changes.append(
                        f"{field.verbose_name}: {_display(field, before)} → {_display(field, record)}"
                    )
        elif record.history_type == "~" and model._meta.model_name in _STATE_AFTER:
            # No earlier version to compare with (the nightly run inserts
            # outcomes and cases without a history row): the state after.
            for name in _STATE_AFTER[model._meta.model_name]:
                field = model._meta.get_field(name)
                if getattr(record, field.attname, None) not in (None, ""):
                    changes.append(f"{field.verbose_name}: {_display(field, record)}")
        previous[key] = record
        user = record.history_user
        entries.append(
            HistoryEntry(
                when=record.history_date,
                model=str(model._meta.verbose_name),
                object_label=_object_label(model, record, location_ids),
                action=record.history_type,
                user=_person(user),
                reason=change_reason_display(record.history_change_reason or ""),
                changes=tuple(changes),
            )
        )
    entries.reverse()
    return entries[:limit]


def _person(user: User | None) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def _display(field: Field, record: Any) -> str:
    """A field's value in a history row as staff read it: choices by their
    label, booleans as yes/no, people by name, other relations by the
    joined object or their id."""
    value = getattr(record, field.attname, None)
    if value is None or value == "":
        return "\u2013"
    if field.choices:
        return _short(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(field, ForeignObject) and field.is_cached(record):
        related = field.get_cached_value(record)
        if related is not None:
            if isinstance(related, User):
                return _short(_person(related))
            return _short(related)
    if isinstance(value, datetime.datetime):
        local = timezone.localtime(value)
        return f"{_day(local.date())} {local:%H:%M}"
    if isinstance(value, datetime.date):
        return _day(value)
    return _short(value)


def _day(value: datetime.date) -> str:
    """As the pages show dates: ISO in English, dd.mm.yyyy in German."""
    return format_date(value, get_language() or "en")


def _short(value: object) -> str:
    if value is None or value == "":
        return "\u2013"
    text = str(value)
    return text if len(text) <= 40 else f"{text[:39]}…"


def _object_label(model: type[Model], record: Any, location_ids: dict[int, str]) -> str:
    if model is Partner:
        return record.partner_id
    if model is Location:
        return record.location_id
    if model is Contact:
        return record.name
    if model is SupportContract:
        return record.contract_number
    if model is RevenueRecord:
        return f"{record.reference} ({record.location.location_id})"
    if record.location_id is None:
        subject = str(_("partner"))
    elif record.location is not None:  # joined; None once the location is deleted
        subject = record.location.location_id
    else:
        subject = location_ids.get(record.location_id, str(record.location_id))
    if model._meta.model_name == "followupcase":
        return f"{record.get_kind_display()} ({subject})"
    # a deadline outcome
    return f"{record.policy.code} {_day(record.deadline)} ({subject})"


def notifications_for_partner(
    *, partner: Partner, sent_only: bool = False, limit: int = 20
) -> list | None:
    """The partner's notifications, newest first; None when the
    notifications app is not installed."""
    if not apps.is_installed("notifications"):
        return None
    notification = apps.get_model("notifications", "Notification")
    qs = notification.objects.filter(partner=partner)
    if sent_only:
        qs = qs.filter(status="sent")
    return list(qs.select_related("policy", "location").order_by("-created_at", "-pk")[:limit])


# --- Which partners a write touched (for the re-evaluation that follows it) ---------


def partner_pks_of_locations(location_pks: Iterable[int]) -> set[int]:
    """The partners of these locations (by primary key)."""
    return set(
        Location.objects.filter(pk__in=set(location_pks))
        .values_list("partner_id", flat=True)
        .distinct()
    )


def partner_pks_with_revenue_in(months: Iterable[tuple[str, datetime.date]]) -> set[int]:
    """The partners with revenue in any of these (currency code, month):
    those an exchange rate of that currency and month converts."""
    condition = Q()
    for currency, month in months:
        condition |= Q(
            currency_id=currency, revenue_date__year=month.year, revenue_date__month=month.month
        )
    if not condition:
        return set()
    return set(
        RevenueRecord.objects.filter(condition)
        .values_list("location__partner_id", flat=True)
        .distinct()
    )
