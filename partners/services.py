"""Every change of partner data goes through these functions.

Each one validates, writes inside one transaction and leaves an audit row
(django-simple-history records who changed what; the acting user is passed
explicitly so that tasks and commands are attributed too). Onboarding,
agreement and revenue dates are held to ``partners.dates``: the same limits
as the forms, the API and the imports.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model

from . import dates
from .dates import DateLimit
from .models import (
    BillingModel,
    Contact,
    Designation,
    ExchangeRate,
    Language,
    Location,
    Partner,
    PartnerStatus,
    PlanType,
    RevenueRecord,
    RevenueSource,
    SupportContract,
)


def _save(
    instance: Model,
    *,
    user: User | None,
    reason: str = "",
    limits: Mapping[str, DateLimit] | None = None,
) -> None:
    """full_clean + save, attributing the history row to ``user``. ``limits``:
    field -> how far ahead its date may be (``partners.dates``), checked
    with the model's own validation, all errors at once."""
    errors: dict[str, list] = {}
    try:
        instance.full_clean()
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    for name, limit in (limits or {}).items():
        value = getattr(instance, name)
        if isinstance(value, datetime.date) and (problem := limit.problem(value)):
            errors.setdefault(name, []).append(problem)
    if errors:
        raise ValidationError(errors)
    # django-simple-history reads these instance attributes on save; they
    # are not model fields, so the stubs do not know them.
    if user is not None:
        instance._history_user = user  # type: ignore[attr-defined]
    if reason:
        instance._change_reason = reason  # type: ignore[attr-defined]
    instance.save()


@transaction.atomic
def partner_create(
    *,
    partner_id: str,
    name: str,
    country: str,
    onboarded_on: datetime.date,
    billing_model: str = BillingModel.INDIRECT_RESELLER,
    account_manager: User | None = None,
    agreement_signed_on: datetime.date | None = None,
    designations: Iterable[Designation] = (),
    status: str = PartnerStatus.ACTIVE,
    user: User | None = None,
) -> Partner:
    partner = Partner(
        partner_id=partner_id,
        name=name,
        country=country.upper(),
        onboarded_on=onboarded_on,
        billing_model=billing_model,
        account_manager=account_manager,
        agreement_signed_on=agreement_signed_on,
        status=status,
    )
    _save(
        partner,
        user=user,
        limits={"onboarded_on": dates.ONBOARDING, "agreement_signed_on": dates.AGREEMENT},
    )
    designations = list(designations)
    if designations:
        partner.designations.set(designations)
    return partner


@transaction.atomic
def location_create(
    *,
    partner: Partner,
    location_id: str,
    country: str,
    onboarded_on: datetime.date,
    name: str = "",
    user: User | None = None,
) -> Location:
    location = Location(
        partner=partner,
        location_id=location_id,
        country=country.upper(),
        onboarded_on=onboarded_on,
        name=name,
    )
    _save(location, user=user, limits={"onboarded_on": dates.ONBOARDING})
    return location


@transaction.atomic
def contact_create(
    *,
    partner: Partner,
    name: str,
    email: str,
    language: str = Language.ENGLISH,
    receives_notices: bool = True,
    login: User | None = None,
    user: User | None = None,
) -> Contact:
    contact = Contact(
        partner=partner,
        name=name,
        email=email.strip().lower(),
        language=language,
        receives_notices=receives_notices,
        user=login,
    )
    _save(contact, user=user)
    return contact


@transaction.atomic
def reseller_enrol(
    *,
    partner_id: str,
    name: str,
    country: str,
    onboarded_on: datetime.date,
    location_id: str,
    contact_name: str,
    contact_email: str,
    contact_language: str = Language.ENGLISH,
    account_manager: User | None = None,
    user: User | None = None,
) -> Partner:
    """Enrol an indirect reseller with its first location and contact."""
    partner = partner_create(
        partner_id=partner_id,
        name=name,
        country=country,
        onboarded_on=onboarded_on,
        billing_model=BillingModel.INDIRECT_RESELLER,
        account_manager=account_manager,
        user=user,
    )
    location_create(
        partner=partner,
        location_id=location_id,
        country=country,
        onboarded_on=onboarded_on,
        user=user,
    )
    contact_create(
        partner=partner,
        name=contact_name,
        email=contact_email,
        language=contact_language,
        user=user,
    )
    return partner


@transaction.atomic
def revenue_record_create(
    *,
    location: Location,
    revenue_date: datetime.date,
    amount: Decimal,
    currency: str,
    reference: str = "",
    customer: str = "",
    source: str = RevenueSource.MANUAL,
    user: User | None = None,
) -> RevenueRecord:
    record = RevenueRecord(
        location=location,
        revenue_date=revenue_date,
        amount=amount,
        currency_id=currency.upper(),
        source=source,
        reference=reference or f"{source}-{uuid.uuid4()}",
        customer=customer,
    )
    _save(record, user=user, limits={"revenue_date": dates.REVENUE})
    return record


@transaction.atomic
def support_contract_create(
    *,
    partner: Partner,
    plan_type: str,
    contract_number: str,
    start_date: datetime.date,
    end_date: datetime.date,
    is_paid: bool = False,
    paid_on: datetime.date | None = None,
    amount: Decimal | None = None,
    currency: str | None = None,
    user: User | None = None,
) -> SupportContract:
    contract = SupportContract(
        partner=partner,
        plan_type=PlanType(plan_type),
        contract_number=contract_number,
        start_date=start_date,
        end_date=end_date,
        is_paid=is_paid or paid_on is not None,
        paid_on=paid_on,
        amount=amount,
        currency_id=currency.upper() if currency else None,
    )
    _save(contract, user=user)
    return contract


@transaction.atomic
def exchange_rate_set(
    *,
    currency: str,
    month: datetime.date,
    usd_per_unit: Decimal,
    user: User | None = None,
) -> ExchangeRate:
    month = month.replace(day=1)
    rate = ExchangeRate.objects.filter(currency_id=currency.upper(), month=month).first()
    if rate is None:
        rate = ExchangeRate(currency_id=currency.upper(), month=month)
    rate.usd_per_unit = usd_per_unit
    _save(rate, user=user)
    return rate


@transaction.atomic
def location_deauthorise(
    *, location: Location, on: datetime.date, user: User | None = None, reason: str = ""
) -> Location:
    location.is_active = False
    location.deauthorised_on = on
    _save(location, user=user, reason=reason or "de-authorised")
    return location


@transaction.atomic
def partner_move_to_indirect(
    *, partner: Partner, user: User | None = None, reason: str = ""
) -> Partner:
    partner.billing_model = BillingModel.INDIRECT_RESELLER
    _save(partner, user=user, reason=reason or "moved to the indirect model")
    return partner


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    name: str,
    email: str,
    language: str,
    receives_notices: bool,
    user: User | None = None,
) -> Contact:
    """Change a contact's details. The partner and the portal login are not
    changed here."""
    contact.name = name
    contact.email = email.strip().lower()
    contact.language = language
    contact.receives_notices = receives_notices
    _save(contact, user=user)
    return contact
