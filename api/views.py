"""REST API v1 (thin): querysets from ``api.selectors`` (which start at
``partners.selectors.partners_for_user``), every change through a service.

A foreign or unknown object is a 404; a partner user asking to change
something of their own that only staff may change gets a 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from compliance.cases import followup_case_move
from compliance.services import partners_reevaluate
from partners import services as partner_services
from partners.revenue import revenue_currency_codes

from . import filters, selectors
from . import serializers as s
from .permissions import StaffWritesOnly
from .services import RevenueLine, revenue_bulk_upsert

#: Lines per ``POST /api/v1/revenue/bulk/``; larger sets go in several requests.
MAX_BULK_LINES = 1000


def as_drf_error(error: DjangoValidationError) -> ValidationError:
    """A model ValidationError (from a service's full_clean) as a 400 body
    keyed by field, with ``non_field_errors`` for the rest."""
    if hasattr(error, "error_dict"):
        detail = {
            (api_settings.NON_FIELD_ERRORS_KEY if field == "__all__" else field): messages
            for field, messages in error.message_dict.items()
        }
    else:
        detail = {api_settings.NON_FIELD_ERRORS_KEY: error.messages}
    return ValidationError(detail)


@contextmanager
def service_errors() -> Iterator[None]:
    """A service's ``ValidationError`` becomes DRF's 400, field by field."""
    try:
        yield
    except DjangoValidationError as error:
        raise as_drf_error(error) from error


class ApiViewSet(viewsets.GenericViewSet):
    permission_classes = [StaffWritesOnly]
    #: actions a partner user may run on an object of their own partner
    partner_object_actions: set[str] = set()


@extend_schema_view(
    list=extend_schema(summary="List partners"),
    retrieve=extend_schema(summary="One partner, by its Microsoft partner id"),
    create=extend_schema(summary="Create a partner (staff)"),
)
class PartnerViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ApiViewSet
):
    serializer_class = s.PartnerSerializer
    filterset_class = filters.PartnerApiFilter
    lookup_field = "partner_id"
    lookup_value_regex = "[0-9]{1,20}"

    def get_queryset(self):
        return selectors.api_partners_for_user(self.request.user)

    def perform_create(self, serializer):
        with service_errors():
            serializer.instance = partner_services.partner_create(
                **serializer.validated_data, user=self.request.user
            )
        partners_reevaluate(partner_pks={serializer.instance.pk})


@extend_schema_view(
    list=extend_schema(summary="List locations"),
    retrieve=extend_schema(summary="One location, by its Microsoft location id"),
    create=extend_schema(summary="Add a location to a partner (staff)"),
)
class LocationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ApiViewSet
):
    serializer_class = s.LocationSerializer
    filterset_class = filters.LocationFilter
    lookup_field = "location_id"
    lookup_value_regex = "[0-9]{1,20}"

    def get_queryset(self):
        return selectors.locations_for_user(self.request.user)

    def perform_create(self, serializer):
        with service_errors():
            serializer.instance = partner_services.location_create(
                **serializer.validated_data, user=self.request.user
            )
        partners_reevaluate(partner_pks={serializer.instance.partner_id})


@extend_schema_view(
    list=extend_schema(summary="List contacts"),
    retrieve=extend_schema(summary="One contact"),
    create=extend_schema(summary="Add a contact to a partner (staff)"),
    update=extend_schema(summary="Change a contact (staff, or the partner's own users)"),
    partial_update=extend_schema(summary="Change some fields of a contact"),
)
class ContactViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ApiViewSet,
):
    serializer_class = s.ContactSerializer
    filterset_class = filters.ContactFilter
    partner_object_actions = {"update", "partial_update"}
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return selectors.contacts_for_user(self.request.user)

    def perform_create(self, serializer):
        with service_errors():
            serializer.instance = partner_services.contact_create(
                **serializer.validated_data, user=self.request.user
            )

    def perform_update(self, serializer):
        contact = serializer.instance
        data = serializer.validated_data
        values = {
            "name": data.get("name", contact.name),
            "email": data.get("email", contact.email),
            "language": data.get("language", contact.language),
            "receives_notices": data.get("receives_notices", contact.receives_notices),
        }
        values["email"] = values["email"].strip().lower()  # as the service stores it
        if all(getattr(contact, name) == value for name, value in values.items()):
            return  # nothing to change: no write, no history row
        with service_errors():
            serializer.instance = partner_services.contact_update(
                contact=contact, **values, user=self.request.user
            )


@extend_schema_view(
    list=extend_schema(summary="List support contracts"),
    retrieve=extend_schema(summary="One support contract"),
    create=extend_schema(summary="Record a support contract (staff)"),
)
class SupportContractViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ApiViewSet
):
    serializer_class = s.SupportContractSerializer
    filterset_class = filters.SupportContractFilter
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return selectors.support_contracts_for_user(self.request.user)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        currency = data.pop("currency", None)
        with service_errors():
            serializer.instance = partner_services.support_contract_create(
                **data, currency=currency.code if currency else None, user=self.request.user
            )
        partners_reevaluate(partner_pks={serializer.instance.partner_id})


@extend_schema_view(
    list=extend_schema(summary="List revenue records"),
    retrieve=extend_schema(summary="One revenue record"),
)
class RevenueViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = s.RevenueRecordSerializer
    filterset_class = filters.RevenueFilter
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return selectors.revenue_for_user(self.request.user)

    @extend_schema(
        summary="Store revenue lines (staff), idempotent by location and reference",
        description=(
            "A list of at most 1000 lines, stored with source `api`. A line whose "
            "(location_id, reference) is new is created; a known one is updated if its "
            "date, amount, currency or customer differ, else left alone: posting the same "
            "lines again changes nothing. All or nothing: if any line is wrong, nothing is "
            "stored and every problem is reported with the line's index and field."
        ),
        request=s.RevenueLineSerializer(many=True),
        responses={
            200: s.BulkResultSerializer,
            400: OpenApiResponse(s.BulkErrorsSerializer, description="Nothing was stored."),
            409: OpenApiResponse(description="A concurrent request stored the same lines."),
        },
        filters=False,
    )
    @action(detail=False, methods=["post"], url_path="bulk", pagination_class=None)
    def bulk(self, request, **kwargs):
        lines, errors = self._parse_lines(request.data)
        if errors:
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        try:
            with service_errors():
                result = revenue_bulk_upsert(lines=lines, user=request.user)
        except IntegrityError:
            return Response(
                {"detail": "A concurrent request stored some of these lines; send them again."},
                status=status.HTTP_409_CONFLICT,
            )
        partners_reevaluate(partner_pks=result.partner_pks)
        return Response(s.BulkResultSerializer(result).data)

    def _parse_lines(self, data) -> tuple[list[RevenueLine], list[dict]]:
        def error(index, field, message):
            return {"index": index, "field": field, "message": str(message)}

        if not isinstance(data, list):
            return [], [error(None, "non_field_errors", "Send a JSON list of revenue lines.")]
        if not data:
            return [], [error(None, "non_field_errors", "The list is empty.")]
        if len(data) > MAX_BULK_LINES:
            message = f"At most {MAX_BULK_LINES} lines per request; got {len(data)}."
            return [], [error(None, "non_field_errors", message)]

        errors: list[dict] = []
        valid: list[tuple[int, dict]] = []
        for index, item in enumerate(data):
            line = s.RevenueLineSerializer(data=item)
            if line.is_valid():
                valid.append((index, line.validated_data))
                continue
            for field, messages in line.errors.items():
                messages = messages if isinstance(messages, list) else [messages]
                errors.extend(error(index, field, message) for message in messages)

        location_ids = {item["location_id"] for _, item in valid}
        locations = {
            location.location_id: location
            for location in selectors.locations_for_user(self.request.user)
            .select_related(None)
            .filter(location_id__in=location_ids)
        }
        currencies = revenue_currency_codes()
        seen: dict[tuple[str, str], int] = {}
        lines: list[RevenueLine] = []
        for index, item in valid:
            location = locations.get(item["location_id"])
            currency = item["currency"].upper()
            key = (item["location_id"], item["reference"])
            if location is None:
                errors.append(error(index, "location_id", "No such location."))
            if currency not in currencies:
                errors.append(error(index, "currency", f"Unknown currency {currency}."))
            if key in seen:
                message = f"Duplicate of line {seen[key]} (same location_id and reference)."
                errors.append(error(index, "reference", message))
            else:
                seen[key] = index
            if location is not None and currency in currencies:
                lines.append(
                    RevenueLine(
                        location=location,
                        revenue_date=item["date"],
                        amount=item["amount"],
                        currency_id=currency,
                        reference=item["reference"],
                        customer=item.get("customer", ""),
                    )
                )
        errors.sort(key=lambda e: (e["index"] is not None, e["index"] or 0))
        return lines, errors


@extend_schema_view(
    list=extend_schema(summary="List evaluations (history included; filter by as_of)"),
    retrieve=extend_schema(summary="One evaluation"),
)
class EvaluationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = s.EvaluationSerializer
    filterset_class = filters.EvaluationFilter
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return selectors.evaluations_for_user(self.request.user)


@extend_schema_view(
    list=extend_schema(summary="List follow-up cases"),
    retrieve=extend_schema(summary="One follow-up case"),
)
class FollowUpCaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = s.FollowUpCaseSerializer
    filterset_class = filters.FollowUpCaseFilter
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return selectors.followup_cases_for_user(self.request.user)

    @extend_schema(
        summary="Move a case to another state (staff)",
        description=(
            "open -> in_progress | done, in_progress -> open | done. Done applies the "
            "consequence: a direct-bill partner moves to the indirect model, a reseller "
            "location is de-authorised."
        ),
        request=s.CaseMoveSerializer,
        responses={200: s.FollowUpCaseSerializer},
        filters=False,
    )
    @action(detail=True, methods=["post"], url_path="move")
    def move(self, request, pk=None, **kwargs):
        case = self.get_object()
        move = s.CaseMoveSerializer(data=request.data)
        move.is_valid(raise_exception=True)
        with service_errors():
            followup_case_move(
                case=case,
                state=move.validated_data["state"],
                notes=move.validated_data["notes"],
                user=request.user,
            )
        partners_reevaluate(partner_pks={case.partner_id})
        case = self.get_queryset().get(pk=case.pk)
        return Response(s.FollowUpCaseSerializer(case, context=self.get_serializer_context()).data)
