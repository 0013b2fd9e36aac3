"""Fixtures of the web portal tests: a staff user, two partners with their
own partner users, and a portfolio builder for query budgets."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from compliance.services import evaluation_run
from partners import models as pm
from partners import services as ps
from tests.factories import StaffUserFactory, UserFactory

D = datetime.date


@pytest.fixture
def today() -> datetime.date:
    return timezone.localdate()


@pytest.fixture
def staff(db):
    return StaffUserFactory(username="manager", first_name="Maria", last_name="Lehner")


def _reseller(partner_id: str, location_id: str, name: str, staff, today, amount: str):
    partner = ps.reseller_enrol(
        partner_id=partner_id,
        name=name,
        country="DE",
        onboarded_on=today - datetime.timedelta(days=200),
        location_id=location_id,
        contact_name=f"Contact of {name}",
        contact_email=f"contact@{partner_id}.example",
        contact_language="de",
        account_manager=staff,
    )
    location = partner.locations.get()
    ps.revenue_record_create(
        location=location,
        revenue_date=today - datetime.timedelta(days=40),
        amount=Decimal(amount),
        currency="USD",
        reference=f"INV-{partner_id}",
    )
    return partner


@pytest.fixture
def own_partner(staff, today):
    """partner1's partner: an indirect reseller at risk (USD 400 of 1,000)."""
    return _reseller("1000001", "2000001", "Lindenhof IT GmbH", staff, today, "400.00")


@pytest.fixture
def foreign_partner(staff, today):
    return _reseller("1000002", "2000002", "Highland Systems Ltd", staff, today, "5000.00")


@pytest.fixture
def partner_user(own_partner):
    user = UserFactory(username="partner1")
    contact = own_partner.contacts.get()
    contact.user = user
    contact.save()
    return user


@pytest.fixture
def foreign_user(foreign_partner):
    user = UserFactory(username="partner2")
    contact = foreign_partner.contacts.get()
    contact.user = user
    contact.save()
    return user


@pytest.fixture
def evaluated(own_partner, foreign_partner, today):
    evaluation_run(as_of=today - datetime.timedelta(days=1))
    evaluation_run(as_of=today)
    return today


@pytest.fixture
def missed_case(staff):
    """A reseller location that missed its deadline (PRODUCT 4, example 5):
    a deadline outcome *missed* and a de-authorisation case."""
    partner = ps.partner_create(
        partner_id="1000009",
        name="Missed Deadline GmbH",
        country="AT",
        onboarded_on=D(2022, 11, 15),
        account_manager=staff,
    )
    ps.location_create(
        partner=partner, location_id="2000009", country="AT", onboarded_on=D(2022, 11, 15)
    )
    evaluation_run(as_of=D(2024, 11, 1))
    return partner


def build_portfolio(n: int, manager, today: datetime.date) -> list[pm.Partner]:
    """``n`` partners (every fifth direct-bill with a support contract), one or
    two locations each, revenue in USD and EUR, contacts, two evaluation
    runs. Bulk inserts: this is volume for query budgets, not behaviour."""
    ps.exchange_rate_set(
        currency="EUR",
        month=(today - datetime.timedelta(days=5)).replace(day=1),
        usd_per_unit=Decimal("1.08"),
    )
    partners = pm.Partner.objects.bulk_create(
        pm.Partner(
            partner_id=str(3_000_000 + i),
            name=f"Portfolio {i:04d} GmbH",
            country=["DE", "AT", "CH"][i % 3],
            billing_model=(
                pm.BillingModel.DIRECT_BILL if i % 5 == 0 else pm.BillingModel.INDIRECT_RESELLER
            ),
            onboarded_on=today - datetime.timedelta(days=400 + i),
            account_manager=manager if i % 2 == 0 else None,
        )
        for i in range(n)
    )
    locations = pm.Location.objects.bulk_create(
        pm.Location(
            location_id=str(4_000_000 + i * 10 + k),
            partner=partner,
            country=partner.country,
            onboarded_on=partner.onboarded_on,
        )
        for i, partner in enumerate(partners)
        for k in range(1 + i % 2)
    )
    pm.RevenueRecord.objects.bulk_create(
        pm.RevenueRecord(
            location=location,
            revenue_date=today - datetime.timedelta(days=days),
            amount=Decimal("350.50") * (1 + j % 4),
            currency_id="EUR" if days < 20 else "USD",
            reference=f"R-{location.location_id}-{days}",
        )
        for j, location in enumerate(locations)
        for days in (5, 45, 200)
    )
    pm.Contact.objects.bulk_create(
        pm.Contact(partner=p, name=f"Contact {p.partner_id}", email=f"c@{p.partner_id}.example")
        for p in partners
    )
    pm.SupportContract.objects.bulk_create(
        pm.SupportContract(
            partner=p,
            plan_type=pm.PlanType.ASFP,
            contract_number=f"ASFP-{p.partner_id}",
            start_date=today - datetime.timedelta(days=100),
            end_date=today + datetime.timedelta(days=40),
            is_paid=True,
        )
        for p in partners
        if p.billing_model == pm.BillingModel.DIRECT_BILL
    )
    evaluation_run(as_of=today - datetime.timedelta(days=1))
    evaluation_run(as_of=today)
    return partners
