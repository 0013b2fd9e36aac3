"""Partners and the facts recorded about them.

Only fields, database constraints and trivial properties live here; changes
of state go through ``partners.services``, reads through ``partners.selectors``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .currencies import ISO_CODES

MPN_ID_MAX_LENGTH = 20
mpn_id_validator = RegexValidator(r"^[0-9]{1,20}\Z", _("Use digits only (Microsoft partner id)."))
country_validator = RegexValidator(r"^[A-Z]{2}\Z", _("Use a two-letter ISO 3166 country code."))
currency_code_validator = RegexValidator(r"^[A-Z]{3}\Z", _("Use a three-letter ISO 4217 code."))

# Amounts keep the precision they arrive with (Partner Center lines carry more
# than cents); rounding to cents happens only for display.
MONEY_DIGITS = 20
MONEY_PLACES = 6


def _digits_only(field: str) -> Q:
    return Q(**{f"{field}__regex": r"^[0-9]+$"})


class BillingModel(models.TextChoices):
    DIRECT_BILL = "direct_bill", _("Direct bill")
    INDIRECT_RESELLER = "indirect_reseller", _("Indirect reseller")


class PartnerStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    OFFBOARDED = "offboarded", _("Offboarded")


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    GERMAN = "de", _("German")


class Currency(models.Model):
    """An ISO 4217 currency. Seeded by a data migration. Rates and support
    contracts refer to it by foreign key; revenue keeps the code, which a
    check constraint holds to ``partners.currencies.ISO_CODES``
    (docs/decisions/0011)."""

    code = models.CharField(
        _("code"), max_length=3, primary_key=True, validators=[currency_code_validator]
    )
    name = models.CharField(_("name"), max_length=80)
    minor_units = models.PositiveSmallIntegerField(_("minor units"), default=2)

    class Meta:
        ordering = ["code"]
        verbose_name = _("currency")
        verbose_name_plural = _("currencies")
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[A-Z]{3}$"), name="currency_code_iso4217_shape"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Designation(models.Model):
    """A Microsoft Solutions Partner designation (e.g. "Modern Work")."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("Solutions Partner designation")
        verbose_name_plural = _("Solutions Partner designations")

    def __str__(self) -> str:
        return self.name


class Partner(models.Model):
    """A partner organisation (Microsoft "partner global account")."""

    partner_id = models.CharField(
        _("partner id"),
        max_length=MPN_ID_MAX_LENGTH,
        unique=True,
        validators=[mpn_id_validator],
        help_text=_("Microsoft partner (MPN) id, digits only."),
    )
    name = models.CharField(_("legal name"), max_length=200)
    country = models.CharField(_("country"), max_length=2, validators=[country_validator])
    billing_model = models.CharField(
        _("billing model"),
        max_length=20,
        choices=BillingModel.choices,
        default=BillingModel.INDIRECT_RESELLER,
    )
    onboarded_on = models.DateField(_("CSP onboarding date"))
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account manager"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_partners",
        limit_choices_to={"is_staff": True},
    )
    agreement_signed_on = models.DateField(
        _("Microsoft Partner Agreement signed on"), null=True, blank=True
    )
    designations = models.ManyToManyField(
        Designation, verbose_name=_("Solutions Partner designations"), blank=True
    )
    status = models.CharField(
        _("status"), max_length=20, choices=PartnerStatus.choices, default=PartnerStatus.ACTIVE
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords(m2m_fields=[designations])

    class Meta:
        ordering = ["name", "partner_id"]
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        constraints = [
            models.CheckConstraint(
                condition=_digits_only("partner_id"), name="partner_id_digits_only"
            ),
            models.CheckConstraint(
                condition=Q(country__regex=r"^[A-Z]{2}$"), name="partner_country_iso3166"
            ),
            models.CheckConstraint(
                condition=Q(billing_model__in=BillingModel.values),
                name="partner_billing_model_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PartnerStatus.values), name="partner_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["account_manager", "status"]),
            models.Index(fields=["billing_model", "status"]),
            # The partner list's default order: a page without sorting them all.
            models.Index(fields=["name", "partner_id"], name="partner_list_order"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.partner_id})"

    @property
    def is_active(self) -> bool:
        return self.status == PartnerStatus.ACTIVE


class Location(models.Model):
    """A partner location account (PLA). Revenue is recorded per location."""

    location_id = models.CharField(
        _("location id"),
        max_length=MPN_ID_MAX_LENGTH,
        unique=True,
        validators=[mpn_id_validator],
        help_text=_("Microsoft partner location (MPN) id, digits only."),
    )
    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="locations"
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    country = models.CharField(_("country"), max_length=2, validators=[country_validator])
    onboarded_on = models.DateField(_("onboarding date"))
    is_active = models.BooleanField(_("active"), default=True)
    deauthorised_on = models.DateField(_("de-authorised on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["partner__name", "location_id"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        constraints = [
            models.CheckConstraint(
                condition=_digits_only("location_id"), name="location_id_digits_only"
            ),
            models.CheckConstraint(
                condition=Q(country__regex=r"^[A-Z]{2}$"), name="location_country_iso3166"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} ({self.country})"


class Contact(models.Model):
    """A person at a partner; optionally the portal login of that person."""

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"))
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.ENGLISH
    )
    receives_notices = models.BooleanField(_("receives compliance notices"), default=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("portal login"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="partner_contact",
        limit_choices_to={"is_staff": False, "is_superuser": False},
        help_text=_("A login bound to this contact sees this partner only."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["partner__name", "name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "email"], name="contact_unique_email_per_partner"
            ),
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="contact_language_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class ExchangeRate(models.Model):
    """USD per unit of a currency for one calendar month."""

    currency = models.ForeignKey(
        Currency, verbose_name=_("currency"), on_delete=models.PROTECT, related_name="rates"
    )
    month = models.DateField(_("month"), help_text=_("First day of the month."))
    usd_per_unit = models.DecimalField(
        _("USD per unit"),
        max_digits=18,
        decimal_places=8,
        validators=[MinValueValidator(Decimal("0.00000001"))],
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-month", "currency"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "month"], name="exchange_rate_unique_month"
            ),
            models.CheckConstraint(condition=Q(usd_per_unit__gt=0), name="exchange_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency_id} {self.month:%Y-%m} = {self.usd_per_unit} USD"

    def clean(self) -> None:
        if self.month and self.month.day != 1:
            raise ValidationError({"month": _("Use the first day of the month.")})


class RevenueSource(models.TextChoices):
    MANUAL = "manual", _("Manual entry")
    IMPORT = "import", _("Import")
    API = "api", _("API")


class RevenueRecord(models.Model):
    """One revenue line of a location. Credits are negative and count."""

    # No single-column indexes on the foreign keys: (location, ...) leads the
    # two composite indexes below, and revenue is never looked up by currency
    # (deleting a currency, which PROTECT refuses anyway, may scan). Each
    # index costs every imported line (docs/decisions/0004).
    # The currency is an ISO 4217 code held by a check constraint, not by a
    # database foreign key: its per-row trigger was the dearest step of an
    # import (docs/decisions/0011). The ORM relation stays (``record.currency``,
    # PROTECT in the admin); the one revenue upsert checks the staged codes
    # against the currency table in one statement.
    # The location key is checked by the database once per statement, not
    # once per row: triggers of migration 0009 (PostgreSQL: statement-level,
    # over the statement's new rows; SQLite: per row) refuse revenue of a
    # location that is not stored and the deletion of a location with
    # revenue, instead of the foreign key's per-row trigger (0011).
    location = models.ForeignKey(
        Location,
        verbose_name=_("location"),
        on_delete=models.PROTECT,
        related_name="revenue",
        db_index=False,
        db_constraint=False,
    )
    revenue_date = models.DateField(_("revenue date"))
    amount = models.DecimalField(_("amount"), max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.ForeignKey(
        Currency,
        verbose_name=_("currency"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    source = models.CharField(
        _("source"), max_length=10, choices=RevenueSource.choices, default=RevenueSource.MANUAL
    )
    reference = models.CharField(
        _("external reference"),
        max_length=200,
        help_text=_("Unique per location and source: re-importing a file changes nothing."),
    )
    customer = models.CharField(_("customer"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-revenue_date", "location_id"]
        verbose_name = _("revenue record")
        verbose_name_plural = _("revenue records")
        constraints = [
            models.UniqueConstraint(
                fields=["location", "source", "reference"], name="revenue_unique_reference"
            ),
            models.CheckConstraint(condition=~Q(reference=""), name="revenue_reference_not_empty"),
            models.CheckConstraint(
                condition=Q(currency__in=sorted(ISO_CODES)), name="revenue_currency_iso4217"
            ),
            models.CheckConstraint(
                condition=Q(source__in=RevenueSource.values), name="revenue_source_valid"
            ),
        ]
        indexes = [
            # The TTM sums scan (location, date) ranges.
            models.Index(fields=["location", "revenue_date"], name="revenue_location_date"),
            models.Index(fields=["revenue_date"], name="revenue_date"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.revenue_date}, {self.amount} {self.currency_id})"


class PlanType(models.TextChoices):
    ASFP = "asfp", _("Advanced Support for Partners")
    PSFP = "psfp", _("Premier Support for Partners")
    UNIFIED = "unified", _("Unified Support")
    OTHER = "other", _("Other")


class SupportContract(models.Model):
    """A Microsoft support plan bought by a partner."""

    partner = models.ForeignKey(
        Partner,
        verbose_name=_("partner"),
        on_delete=models.CASCADE,
        related_name="support_contracts",
    )
    plan_type = models.CharField(_("plan type"), max_length=10, choices=PlanType.choices)
    contract_number = models.CharField(_("contract number"), max_length=100)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    is_paid = models.BooleanField(_("paid"), default=False)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    amount = models.DecimalField(
        _("amount"), max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True
    )
    currency = models.ForeignKey(
        Currency,
        verbose_name=_("currency"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-end_date", "contract_number"]
        verbose_name = _("support contract")
        verbose_name_plural = _("support contracts")
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "contract_number"], name="support_contract_unique_number"
            ),
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")), name="support_contract_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(paid_on__isnull=True) | Q(is_paid=True),
                name="support_contract_paid_on_implies_paid",
            ),
            models.CheckConstraint(
                condition=Q(plan_type__in=PlanType.values), name="support_contract_plan_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(currency__isnull=False),
                name="support_contract_amount_has_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_plan_type_display()} {self.contract_number}"

    def clean(self) -> None:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": _("The end date is before the start date.")})
        if self.paid_on and not self.is_paid:
            self.is_paid = True
