"""POST /api/v1/revenue/bulk/: idempotent by (location, reference), all or
nothing, every bad line reported by index and field."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from partners import models as pm
from partners.models import RevenueRecord
from tests.concurrency import race

URL = "/api/v1/revenue/bulk/"


def line(reference: str, **changes) -> dict:
    return {
        "location_id": "2000001",
        "date": "2024-03-15",
        "amount": "1200.50",
        "currency": "EUR",
        "reference": reference,
        "customer": "Contoso",
        **changes,
    }


def api_records():
    return pm.RevenueRecord.objects.filter(source=pm.RevenueSource.API).order_by("reference")


def test_reposting_the_same_lines_changes_nothing(staff_api, staff, own_partner, foreign_partner):
    lines = [line("INV-1"), line("INV-2", amount="-50", location_id="2000002")]
    first = staff_api.post(URL, lines)
    assert first.status_code == 200, first.json()
    assert first.json() == {"created": 2, "updated": 0, "unchanged": 0}
    stored = {(r.location.location_id, r.reference, r.amount) for r in api_records()}
    assert stored == {("2000001", "INV-1", Decimal("1200.5")), ("2000002", "INV-2", Decimal("-50"))}
    assert api_records().first().history.get().history_user == staff

    again = staff_api.post(URL, lines)
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 2}
    assert api_records().count() == 2

    changed = staff_api.post(URL, [line("INV-1", amount="1300"), lines[1], line("INV-3")])
    assert changed.json() == {"created": 1, "updated": 1, "unchanged": 1}
    assert api_records().get(reference="INV-1").amount == Decimal("1300")
    assert api_records().count() == 3
    # the manual record of the fixture is untouched
    assert pm.RevenueRecord.objects.filter(source=pm.RevenueSource.MANUAL).count() == 2


def test_an_api_reference_may_equal_a_manual_one(staff_api, own_partner):
    # the fixture's manual record of location 2000001 has reference INV-1000001
    response = staff_api.post(URL, [line("INV-1000001")])
    assert response.json()["created"] == 1


def test_all_or_nothing_with_every_error_by_index_and_field(
    staff_api, own_partner, foreign_partner
):
    lines = [
        line("OK-1"),
        line("BAD-1", amount="12abc"),
        line("BAD-2", location_id="2999999", currency="XXX"),
        line("OK-1"),  # duplicate of line 0
        {"location_id": "2000001", "date": "2024-02-30", "currency": "EUR", "reference": ""},
    ]
    response = staff_api.post(URL, lines)
    assert response.status_code == 400
    errors = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert errors == {
        (1, "amount"),
        (2, "location_id"),
        (2, "currency"),
        (3, "reference"),
        (4, "date"),
        (4, "amount"),
        (4, "reference"),
    }
    assert all(e["message"] for e in response.json()["errors"])
    assert not api_records().exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"location_id": "2000001"}, "list"),
        ([], "empty"),
        ([line(f"R{i}") for i in range(1001)], "1000"),
    ],
)
def test_the_body_must_be_a_list_of_at_most_1000_lines(staff_api, own_partner, body, message):
    response = staff_api.post(URL, body)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["index"] is None and message in error["message"]
    assert not api_records().exists()


def test_changed_partners_are_reevaluated(staff_api, own_partner):
    with mock.patch("api.views.partners_reevaluate") as reevaluate:
        staff_api.post(URL, [line("INV-9")])
    reevaluate.assert_called_once_with(partner_pks=frozenset({own_partner.pk}))
    with mock.patch("api.views.partners_reevaluate") as reevaluate:
        staff_api.post(URL, [line("INV-9")])  # unchanged: nothing to re-evaluate
    reevaluate.assert_called_once_with(partner_pks=frozenset())


def test_lines_are_validated_like_the_model(staff_api, own_partner):
    too_precise = staff_api.post(URL, [line("P", amount="1.1234567")])
    assert too_precise.status_code == 400
    assert too_precise.json()["errors"][0]["field"] == "amount"
    lower_case_currency = staff_api.post(URL, [line("P", currency="eur")])
    assert lower_case_currency.json()["created"] == 1
    assert api_records().get().currency_id == "EUR"


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: row locks")
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_request_with_the_same_new_lines_is_a_conflict(staff, own_partner):
    """Two clients post the same new lines at once: the lines are stored
    once; the request that loses the race (if they overlap) is told to send
    them again (409), never a server error."""
    token = Token.objects.create(user=staff).key
    clients = [APIClient(), APIClient()]
    for client in clients:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    lines = [line(f"RACE-{n}") for n in range(50)]
    responses = race(2, lambda: clients.pop().post(URL, lines, format="json"))

    statuses = sorted(response.status_code for response in responses)
    assert statuses in ([200, 200], [200, 409])
    if statuses == [200, 409]:
        (conflict,) = [r for r in responses if r.status_code == 409]
        assert conflict.json() == {
            "detail": "A concurrent request stored some of these lines; send them again."
        }
    assert sum(r.json().get("created", 0) for r in responses) == 50
    assert api_records().count() == 50
    assert RevenueRecord.history.filter(reference__startswith="RACE-").count() == 50
