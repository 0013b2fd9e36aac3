"""factory_boy factories. Tests that exercise user-visible behaviour create
their data through services; factories are for the rest."""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from partners import models as pm


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("portal-demo")


class StaffUserFactory(UserFactory):
    is_staff = True
    username = factory.Sequence(lambda n: f"manager{n}")


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = pm.Partner

    partner_id = factory.Sequence(lambda n: str(5_000_000 + n))
    name = factory.Sequence(lambda n: f"Partner {n} GmbH")
    country = "DE"
    billing_model = pm.BillingModel.INDIRECT_RESELLER
    onboarded_on = datetime.date(2020, 5, 15)
    status = pm.PartnerStatus.ACTIVE


class DirectBillPartnerFactory(PartnerFactory):
    billing_model = pm.BillingModel.DIRECT_BILL


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = pm.Location

    location_id = factory.Sequence(lambda n: str(6_000_000 + n))
    partner = factory.SubFactory(PartnerFactory)
    country = factory.LazyAttribute(lambda o: o.partner.country)
    onboarded_on = factory.LazyAttribute(lambda o: o.partner.onboarded_on)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = pm.Contact

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    email = factory.Sequence(lambda n: f"contact{n}@partner.example")
    language = pm.Language.ENGLISH
    receives_notices = True


class RevenueRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = pm.RevenueRecord

    location = factory.SubFactory(LocationFactory)
    revenue_date = datetime.date(2024, 1, 15)
    amount = Decimal("1000.00")
    currency_id = "USD"
    source = pm.RevenueSource.MANUAL
    reference = factory.Sequence(lambda n: f"ref-{n}")


class ExchangeRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = pm.ExchangeRate
        django_get_or_create = ("currency_id", "month")

    currency_id = "EUR"
    month = datetime.date(2024, 1, 1)
    usd_per_unit = Decimal("1.08")


class SupportContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = pm.SupportContract

    partner = factory.SubFactory(DirectBillPartnerFactory)
    plan_type = pm.PlanType.ASFP
    contract_number = factory.Sequence(lambda n: f"ASFP-{n:06d}")
    start_date = datetime.date(2021, 9, 1)
    end_date = datetime.date(2022, 8, 31)
    is_paid = True
    paid_on = factory.LazyAttribute(lambda o: o.start_date if o.is_paid else None)
    amount = Decimal("6000.00")
    currency_id = "USD"


def direct_partner(partner_id: str, name: str, onboarded: datetime.date, **extra):
    """A direct-bill partner with the agreement signed (the FY26 policy),
    created through the one door (``partners.services``)."""
    from partners import services

    return services.partner_create(
        partner_id=partner_id,
        name=name,
        country="DE",
        onboarded_on=onboarded,
        billing_model=pm.BillingModel.DIRECT_BILL,
        agreement_signed_on=datetime.date(2020, 1, 1),
        **extra,
    )
