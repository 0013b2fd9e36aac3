"""What the API reads and accepts. Partners and locations are named by their
Microsoft ids; a reference to a partner is resolved among the partners the
requesting user may see (the one door), so a foreign id reads as unknown."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from functools import cached_property

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from compliance.models import CaseState, Evaluation, FollowUpCase, Outlook
from partners.dates import AGREEMENT, ONBOARDING, REVENUE, DateLimit
from partners.designations import DesignationLookup, UnknownDesignation
from partners.models import (
    MONEY_DIGITS,
    MONEY_PLACES,
    Contact,
    Currency,
    Designation,
    Location,
    Partner,
    RevenueRecord,
    SupportContract,
)
from partners.selectors import partners_for_user


@extend_schema_field(OpenApiTypes.STR)
class PartnerField(serializers.SlugRelatedField):
    """A partner by its Microsoft partner id, among those the user may see."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "partner_id")
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return Partner.objects.none()
        return partners_for_user(request.user)


@extend_schema_field({"type": "string", "minLength": 1})
class DesignationField(serializers.RelatedField):
    """A Solutions Partner designation by any of its names
    (``partners.designations``); written out as its code."""

    default_error_messages = {"incorrect_type": "Give the designation as text."}

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Designation.objects.all())
        super().__init__(**kwargs)

    @cached_property
    def lookup(self) -> DesignationLookup:
        return DesignationLookup.load()

    def to_internal_value(self, data) -> Designation:
        if not isinstance(data, str):
            self.fail("incorrect_type")
        try:
            return self.lookup.resolve(data)
        except UnknownDesignation as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Designation) -> str:
        return value.code


class RejectUnknownFields:
    """A key that is no field of the serializer (read-only fields included)
    is a 400 naming it, instead of being ignored: a misspelt field would
    otherwise look stored. Mix in before the serializer class."""

    #: keys the browsable API's HTML forms add
    ALLOWED_EXTRA = frozenset({"csrfmiddlewaretoken"})

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields) - self.ALLOWED_EXTRA)
            if unknown:
                # (the first few: a body of a million keys needs no echo)
                raise serializers.ValidationError(
                    {str(name)[:100]: ["Unknown field."] for name in unknown[:20]}
                )
        return super().to_internal_value(data)


def within(limit: DateLimit, day: datetime.date | None) -> datetime.date | None:
    """``day`` if ``limit`` allows it (``partners.dates``: the rule the
    service enforces, in its words), else the field's 400."""
    if problem := limit.problem(day):
        raise serializers.ValidationError(problem)
    return day


def _staff_users():
    return get_user_model().objects.filter(is_staff=True, is_active=True)


class PartnerSerializer(RejectUnknownFields, serializers.ModelSerializer):
    account_manager = serializers.SlugRelatedField(
        slug_field="username",
        queryset=_staff_users(),
        allow_null=True,
        required=False,
        help_text="Username of the staff user who manages the partner.",
    )
    designations = DesignationField(
        many=True,
        required=False,
        help_text=(
            "Solutions Partner designations, each by code, short name (Modern Work) or "
            "Microsoft's name (Solutions Partner for Modern Work), in any case; read as codes."
        ),
    )
    locations = serializers.SlugRelatedField(
        slug_field="location_id",
        many=True,
        read_only=True,
        help_text="Microsoft ids of the partner's locations.",
    )

    class Meta:
        model = Partner
        fields = [
            "partner_id",
            "name",
            "country",
            "billing_model",
            "status",
            "onboarded_on",
            "agreement_signed_on",
            "account_manager",
            "designations",
            "locations",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_onboarded_on(self, day: datetime.date) -> datetime.date:
        return within(ONBOARDING, day)

    def validate_agreement_signed_on(self, day: datetime.date | None) -> datetime.date | None:
        return within(AGREEMENT, day)


class LocationSerializer(RejectUnknownFields, serializers.ModelSerializer):
    partner_id = PartnerField(source="partner", help_text="Microsoft partner id.")

    class Meta:
        model = Location
        fields = [
            "location_id",
            "partner_id",
            "name",
            "country",
            "onboarded_on",
            "is_active",
            "deauthorised_on",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["is_active", "deauthorised_on", "created_at", "updated_at"]

    def validate_onboarded_on(self, day: datetime.date) -> datetime.date:
        return within(ONBOARDING, day)


class ContactSerializer(RejectUnknownFields, serializers.ModelSerializer):
    partner_id = PartnerField(
        source="partner", help_text="Microsoft partner id; cannot be changed later."
    )
    has_login = serializers.SerializerMethodField(help_text="Whether a portal login is bound.")

    class Meta:
        model = Contact
        fields = [
            "id",
            "partner_id",
            "name",
            "email",
            "language",
            "receives_notices",
            "has_login",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # the service's full_clean checks the unique e-mail per partner

    def get_has_login(self, obj: Contact) -> bool:
        return obj.user_id is not None

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["partner_id"].read_only = True
        return fields


class SupportContractSerializer(RejectUnknownFields, serializers.ModelSerializer):
    partner_id = PartnerField(source="partner", help_text="Microsoft partner id.")
    currency = serializers.SlugRelatedField(
        slug_field="code", queryset=Currency.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = SupportContract
        fields = [
            "id",
            "partner_id",
            "plan_type",
            "contract_number",
            "start_date",
            "end_date",
            "is_paid",
            "paid_on",
            "amount",
            "currency",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # the service's full_clean checks the constraints

    def validate(self, attrs):
        if attrs.get("amount") is not None and attrs.get("currency") is None:
            raise serializers.ValidationError({"currency": "Give the currency of the amount."})
        return attrs


class RevenueRecordSerializer(serializers.ModelSerializer):
    location_id = serializers.CharField(source="location.location_id", read_only=True)
    partner_id = serializers.CharField(source="location.partner.partner_id", read_only=True)
    currency = serializers.CharField(source="currency_id", read_only=True)

    class Meta:
        model = RevenueRecord
        fields = [
            "id",
            "location_id",
            "partner_id",
            "revenue_date",
            "amount",
            "currency",
            "source",
            "reference",
            "customer",
            "created_at",
        ]
        read_only_fields = fields


class RevenueLineSerializer(RejectUnknownFields, serializers.Serializer):
    """One line of ``POST /api/v1/revenue/bulk/``."""

    location_id = serializers.RegexField(
        r"^[0-9]{1,20}\Z", max_length=20, help_text="Microsoft location id."
    )
    date = serializers.DateField(
        help_text="Revenue date (YYYY-MM-DD); at most the last day of next month."
    )
    amount = serializers.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        help_text="Negative amounts are credits.",
    )
    currency = serializers.RegexField(r"^[A-Za-z]{3}\Z", help_text="ISO 4217 code, e.g. EUR.")
    reference = serializers.CharField(
        max_length=200, help_text="Your unique id of the line; unique per location."
    )
    customer = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")

    def validate_date(self, day: datetime.date) -> datetime.date:
        return within(REVENUE, day)


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class BulkErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True, help_text="Position of the line (0-based).")
    field = serializers.CharField()
    message = serializers.CharField()


class BulkErrorsSerializer(serializers.Serializer):
    errors = BulkErrorSerializer(many=True)


class EvaluationSerializer(serializers.ModelSerializer):
    partner_id = serializers.CharField(source="partner.partner_id", read_only=True)
    location_id = serializers.CharField(
        source="location.location_id", read_only=True, allow_null=True
    )
    policy = serializers.CharField(source="policy.code", read_only=True)
    requirements = serializers.DictField(
        child=serializers.BooleanField(), read_only=True, help_text="Requirement code -> met."
    )
    unmet = serializers.ListField(child=serializers.CharField(), read_only=True)
    outlook = serializers.SerializerMethodField(
        help_text="The deadline outlook (met, on_track, short); null without a revenue "
        "requirement or a deadline after as_of."
    )
    # derived for the evaluation's day (the history keeps periods: ADR 0014)
    pace_usd = serializers.DecimalField(
        max_digits=30,
        decimal_places=12,
        read_only=True,
        allow_null=True,
        help_text="USD a day over the three complete months before as_of's month.",
    )
    projected_usd = serializers.DecimalField(
        max_digits=30,
        decimal_places=12,
        read_only=True,
        allow_null=True,
        help_text="secured_usd + pace_usd x days_to_deadline.",
    )
    explanation = serializers.CharField(read_only=True, help_text="Why, in English.")
    explanation_de = serializers.CharField(read_only=True, help_text="Why, in German.")

    @extend_schema_field(
        {"type": "string", "enum": [c for c, _ in Outlook.choices], "nullable": True}
    )
    def get_outlook(self, obj: Evaluation) -> str | None:
        return obj.outlook or None

    class Meta:
        model = Evaluation
        fields = [
            "id",
            "subject_type",
            "subject_id",
            "partner_id",
            "location_id",
            "policy",
            "purpose",
            "as_of",
            "status",
            "ttm_revenue_usd",
            "threshold_usd",
            "shortfall_usd",
            "requirements",
            "unmet",
            "deadline",
            "days_to_deadline",
            "secured_usd",
            "rolling_off_usd",
            "needed_usd",
            "pace_usd",
            "projected_usd",
            "outlook",
            "error",
            "explanation",
            "explanation_de",
            "computed_at",
        ]
        read_only_fields = fields


class FollowUpCaseSerializer(serializers.ModelSerializer):
    partner_id = serializers.CharField(source="partner.partner_id", read_only=True)
    location_id = serializers.CharField(
        source="location.location_id", read_only=True, allow_null=True
    )
    owner = serializers.CharField(source="owner.username", read_only=True, allow_null=True)
    policy = serializers.CharField(source="outcome.policy.code", read_only=True)
    deadline = serializers.DateField(source="outcome.deadline", read_only=True)

    class Meta:
        model = FollowUpCase
        fields = [
            "id",
            "partner_id",
            "location_id",
            "kind",
            "state",
            "owner",
            "notes",
            "policy",
            "deadline",
            "opened_at",
            "closed_at",
        ]
        read_only_fields = fields


class CaseMoveSerializer(RejectUnknownFields, serializers.Serializer):
    state = serializers.ChoiceField(choices=CaseState.choices)
    notes = serializers.CharField(allow_blank=True, required=False, default="", max_length=5000)
