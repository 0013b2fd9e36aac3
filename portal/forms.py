"""Forms of the web portal. They parse and validate input; the views hand
the cleaned data to ``partners.services`` / ``compliance.services``.

The owning partner never comes from a form: views take it from the URL
through ``partners.selectors.partner_get_for_user``. Model forms list their
fields explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from compliance.models import CaseState
from partners.currencies import ISO_CODES
from partners.dates import ONBOARDING, REVENUE, DateLimit
from partners.models import (
    Contact,
    Currency,
    Language,
    Location,
    Partner,
    RevenueRecord,
    SupportContract,
    country_validator,
    mpn_id_validator,
)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def apply_service_error(
    form: forms.BaseForm, error: ValidationError, field_map: Mapping[str, str] | None = None
) -> None:
    """Show a ValidationError raised by a service on ``form``: errors of
    model fields go to the matching form field (renamed by ``field_map``),
    everything else to the top of the form."""
    field_map = field_map or {}
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.error_dict.items():
        target = field_map.get(name, name)
        form.add_error(target if target in form.fields else None, errors)


def within(limit: DateLimit, day):
    """``day`` if ``limit`` allows it (``partners.dates``, as the service
    checks it), else the field's error in the same words."""
    if problem := limit.problem(day):
        raise ValidationError(problem, code="too_late")
    return day


def readable_text(value: str) -> None:
    """Refuse U+FFFD, which is what Django makes of bytes that are no UTF-8
    (e.g. a Latin-1 form post): stored, the original text would be lost."""
    if "\ufffd" in value:
        raise ValidationError(
            _("This text contains characters that could not be read; send it as UTF-8."),
            code="encoding",
        )


class ReadableTextMixin:
    """Every text field of the form refuses unreadable characters
    (:func:`readable_text`). Mix in before the form class."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                field.validators.append(readable_text)


def staff_users():
    return get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


class ResellerEnrolForm(ReadableTextMixin, forms.Form):
    """A new indirect reseller with its first location and first contact."""

    partner_id = forms.CharField(
        label=_("Partner id (MPN)"), max_length=20, validators=[mpn_id_validator]
    )
    name = forms.CharField(label=_("Legal name"), max_length=200)
    country = forms.CharField(
        label=_("Country"),
        max_length=2,
        min_length=2,
        help_text=_("Two-letter ISO code, e.g. DE, AT, CH."),
    )
    onboarded_on = forms.DateField(label=_("CSP onboarding date"), widget=DateInput())
    account_manager = UserChoiceField(
        label=_("Account manager"), queryset=staff_users(), required=False
    )
    location_id = forms.CharField(
        label=_("Location id (PLA MPN id)"), max_length=20, validators=[mpn_id_validator]
    )
    contact_name = forms.CharField(label=_("Contact name"), max_length=200)
    contact_email = forms.EmailField(label=_("Contact email"))
    contact_language = forms.ChoiceField(
        label=_("Contact language"), choices=Language.choices, initial=Language.GERMAN
    )

    #: service (model) field -> form field
    field_map = {"email": "contact_email", "language": "contact_language"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(
                _("Partner"),
                Row(Column("partner_id"), Column("country")),
                "name",
                Row(Column("onboarded_on"), Column("account_manager")),
            ),
            Fieldset(_("First location"), "location_id"),
            Fieldset(
                _("First contact"),
                "contact_name",
                Row(Column("contact_email"), Column("contact_language")),
            ),
        )

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        country_validator(country)
        return country

    def clean_partner_id(self) -> str:
        partner_id = self.cleaned_data["partner_id"].strip()
        if Partner.objects.filter(partner_id=partner_id).exists():
            raise ValidationError(_("A partner with this partner id is already enrolled."))
        return partner_id

    def clean_location_id(self) -> str:
        location_id = self.cleaned_data["location_id"].strip()
        if Location.objects.filter(location_id=location_id).exists():
            raise ValidationError(_("This location id belongs to an enrolled partner already."))
        return location_id

    def clean_onboarded_on(self):
        return within(ONBOARDING, self.cleaned_data["onboarded_on"])


class RevenueRecordForm(ReadableTextMixin, forms.ModelForm):
    """Manual revenue line of one of the partner's locations."""

    class Meta:
        model = RevenueRecord
        fields = ["location", "revenue_date", "amount", "currency", "reference", "customer"]
        widgets = {"revenue_date": DateInput()}
        help_texts = {
            "amount": _("Negative amounts (credits) are allowed."),
            "reference": _("Invoice or order number; left empty, one is generated."),
        }

    def __init__(self, *args, partner: Partner, **kwargs):
        super().__init__(*args, **kwargs)
        # Only this partner's locations: a location id of another partner
        # posted by hand is an invalid choice.
        self.fields["location"].queryset = Location.objects.filter(partner=partner).order_by(
            "location_id"
        )
        self.fields["location"].empty_label = None
        # The codes revenue may be in (the database checks ISO 4217).
        self.fields["currency"].queryset = Currency.objects.filter(code__in=ISO_CODES).order_by(
            "code"
        )
        self.fields["currency"].initial = "USD"
        self.fields["reference"].required = False
        self.fields["amount"].widget.attrs["step"] = "any"

    def clean_revenue_date(self):
        return within(REVENUE, self.cleaned_data["revenue_date"])


class SupportContractForm(ReadableTextMixin, forms.ModelForm):
    class Meta:
        model = SupportContract
        fields = [
            "plan_type",
            "contract_number",
            "start_date",
            "end_date",
            "is_paid",
            "paid_on",
            "amount",
            "currency",
        ]
        widgets = {
            "start_date": DateInput(),
            "end_date": DateInput(),
            "paid_on": DateInput(),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].queryset = Currency.objects.order_by("code")
        self.fields["amount"].widget.attrs["step"] = "any"

    def clean(self):
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("The end date is before the start date."))
        if data.get("amount") is not None and not data.get("currency"):
            self.add_error("currency", _("Give the currency of the amount."))
        return data


class ContactForm(ReadableTextMixin, forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["name", "email", "language", "receives_notices"]

    def __init__(self, *args, partner: Partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.partner = partner

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        others = Contact.objects.filter(partner=self.partner, email=email)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise ValidationError(_("Another contact of this partner has this email address."))
        return email


class FollowUpCaseMoveForm(ReadableTextMixin, forms.Form):
    state = forms.ChoiceField(label=_("New state"), choices=CaseState.choices)
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class OutcomeOverrideForm(ReadableTextMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "Why the missed deadline no longer counts, e.g. an exception Microsoft granted."
        ),
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Give a reason for the override."))
        return reason
