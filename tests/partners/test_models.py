"""Database constraints reject bad data, whatever path it comes by."""

import datetime
from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, connection, transaction

from partners.models import Contact, ExchangeRate, Location, Partner, RevenueRecord, SupportContract
from tests.factories import (
    ContactFactory,
    LocationFactory,
    PartnerFactory,
    RevenueRecordFactory,
    SupportContractFactory,
    UserFactory,
)

D = datetime.date
pytestmark = pytest.mark.django_db


def _rejected(make) -> None:
    # PostgreSQL reports an over-long value as DataError; both are rejections.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        make()
        # Foreign keys are checked at commit; check them now.
        connection.check_constraints()


@pytest.mark.parametrize("bad", ["12a4", "", " 123", "\uff11\uff12\uff13", "12-3"])
def test_partner_id_is_digits_only(bad):
    _rejected(lambda: PartnerFactory(partner_id=bad))


def test_partner_and_location_ids_are_unique():
    PartnerFactory(partner_id="111")
    _rejected(lambda: PartnerFactory(partner_id="111"))
    LocationFactory(location_id="222")
    _rejected(lambda: LocationFactory(location_id="222"))
    _rejected(lambda: LocationFactory(location_id="22x"))


@pytest.mark.parametrize("country", ["de", "DEU", "D", "1A"])
def test_country_is_iso_3166_alpha2(country):
    _rejected(lambda: PartnerFactory(country=country))


def test_billing_model_and_status_are_from_the_list():
    _rejected(lambda: PartnerFactory(billing_model="direct"))
    _rejected(lambda: PartnerFactory(status="gone"))


@pytest.mark.parametrize("code", ["XXX", "usd", "EURO"])
def test_currency_must_be_iso_4217(code):
    location = LocationFactory()
    _rejected(lambda: RevenueRecordFactory(location=location, currency_id=code))
    _rejected(
        lambda: ExchangeRate.objects.create(currency_id=code, month=D(2024, 1, 1), usd_per_unit=1)
    )


def test_known_currencies_are_loaded():
    RevenueRecordFactory(currency_id="CHF")
    RevenueRecordFactory(currency_id="GBP")
    assert RevenueRecord.objects.count() == 2


def test_revenue_reference_unique_per_location_and_source():
    location = LocationFactory()
    RevenueRecordFactory(location=location, source="import", reference="INV-1")
    _rejected(lambda: RevenueRecordFactory(location=location, source="import", reference="INV-1"))
    # Same reference from another source or location is another record.
    RevenueRecordFactory(location=location, source="api", reference="INV-1")
    RevenueRecordFactory(location=LocationFactory(), source="import", reference="INV-1")
    _rejected(lambda: RevenueRecordFactory(location=location, reference=""))


def test_credits_are_allowed():
    record = RevenueRecordFactory(amount=Decimal("-250.55"))
    record.refresh_from_db()
    assert record.amount == Decimal("-250.55")


def test_support_contract_end_not_before_start():
    _rejected(lambda: SupportContractFactory(start_date=D(2024, 5, 1), end_date=D(2024, 4, 30)))
    SupportContractFactory(start_date=D(2024, 5, 1), end_date=D(2024, 5, 1))
    _rejected(lambda: SupportContractFactory(plan_type="gold"))
    _rejected(lambda: SupportContractFactory(is_paid=False, paid_on=D(2024, 5, 1)))


def test_support_contract_number_unique_per_partner():
    contract = SupportContractFactory(contract_number="C-1")
    _rejected(lambda: SupportContractFactory(partner=contract.partner, contract_number="C-1"))
    SupportContractFactory(contract_number="C-1")  # another partner
    assert SupportContract.objects.count() == 2


def test_exchange_rate_positive_and_one_per_month():
    ExchangeRate.objects.create(
        currency_id="EUR", month=D(2024, 3, 1), usd_per_unit=Decimal("1.0811")
    )
    _rejected(
        lambda: ExchangeRate.objects.create(currency_id="EUR", month=D(2024, 3, 1), usd_per_unit=1)
    )
    _rejected(
        lambda: ExchangeRate.objects.create(currency_id="GBP", month=D(2024, 3, 1), usd_per_unit=0)
    )


def test_portal_login_is_bound_to_exactly_one_partner():
    user = UserFactory()
    ContactFactory(user=user)
    _rejected(lambda: ContactFactory(user=user))
    contact = Contact.objects.get(user=user)
    assert type(user).objects.get(pk=user.pk).partner_contact == contact


def test_contact_email_unique_per_partner_and_language_valid():
    contact = ContactFactory(email="a@example.com")
    _rejected(lambda: ContactFactory(partner=contact.partner, email="a@example.com"))
    _rejected(lambda: ContactFactory(language="fr"))


def test_revenue_protects_its_location():
    record = RevenueRecordFactory()
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 - ProtectedError
        Location.objects.filter(pk=record.location_id).delete()
    assert Partner.objects.count() == 1
