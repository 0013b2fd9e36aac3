"""Who sees and changes what through /api/v1/: staff everything, a partner
user's token its own partner only (foreign objects 404), anonymous 401."""

from __future__ import annotations

import datetime

import pytest

from compliance.models import Evaluation, FollowUpCase
from partners import models as pm
from partners import services as ps
from tests.factories import UserFactory

from .conftest import token_client

LISTS = [
    "/api/v1/partners/",
    "/api/v1/locations/",
    "/api/v1/contacts/",
    "/api/v1/support-contracts/",
    "/api/v1/revenue/",
    "/api/v1/evaluations/",
    "/api/v1/follow-up-cases/",
]


@pytest.fixture
def contracts(own_partner, foreign_partner, today):
    for partner in (own_partner, foreign_partner):
        ps.support_contract_create(
            partner=partner,
            plan_type="asfp",
            contract_number=f"ASFP-{partner.partner_id}",
            start_date=today - datetime.timedelta(days=30),
            end_date=today + datetime.timedelta(days=300),
            is_paid=True,
        )


def detail_urls(partner: pm.Partner) -> list[str]:
    """One detail URL of every kind, for objects of ``partner``."""
    location = partner.locations.first()
    urls = [
        f"/api/v1/partners/{partner.partner_id}/",
        f"/api/v1/locations/{location.location_id}/",
        f"/api/v1/contacts/{partner.contacts.first().pk}/",
        f"/api/v1/support-contracts/{partner.support_contracts.first().pk}/",
        f"/api/v1/revenue/{pm.RevenueRecord.objects.filter(location=location).first().pk}/",
        f"/api/v1/evaluations/{Evaluation.objects.filter(partner=partner).first().pk}/",
    ]
    case = FollowUpCase.objects.filter(partner=partner).first()
    if case is not None:
        urls.append(f"/api/v1/follow-up-cases/{case.pk}/")
    return urls


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/", *LISTS, "/api/v1/partners/1000001/"])
def test_anonymous_gets_401_with_a_token_challenge(anon_api, url):
    response = anon_api.get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_a_wrong_token_is_401(anon_api, own_partner):
    anon_api.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert anon_api.get("/api/v1/partners/").status_code == 401


@pytest.mark.django_db
def test_an_inactive_users_token_is_401(staff):
    client = token_client(staff)
    staff.is_active = False
    staff.save()
    assert client.get("/api/v1/partners/").status_code == 401


def test_staff_list_every_endpoint(staff_api, contracts, evaluated, missed_case):
    counts = {}
    for url in LISTS:
        response = staff_api.get(url)
        assert response.status_code == 200, url
        counts[url] = response.json()["count"]
    assert counts["/api/v1/partners/"] == 3
    assert counts["/api/v1/locations/"] == 3
    assert counts["/api/v1/contacts/"] == 2
    assert counts["/api/v1/support-contracts/"] == 2
    assert counts["/api/v1/revenue/"] == 2
    assert counts["/api/v1/evaluations/"] > 0
    assert counts["/api/v1/follow-up-cases/"] == 1


def test_staff_retrieve_every_kind(staff_api, own_partner, contracts, evaluated):
    for url in detail_urls(own_partner):
        assert staff_api.get(url).status_code == 200, url
    body = staff_api.get(f"/api/v1/partners/{own_partner.partner_id}/").json()
    assert body["partner_id"] == "1000001"
    assert body["locations"] == ["2000001"]
    assert body["account_manager"] == "manager"
    revenue = staff_api.get("/api/v1/revenue/?partner=1000001").json()["results"]
    assert [(r["location_id"], r["partner_id"], r["amount"]) for r in revenue] == [
        ("2000001", "1000001", "400.000000")
    ]


def test_partner_token_lists_only_its_own_partner(
    partner_api, own_partner, foreign_partner, contracts, evaluated
):
    partners = partner_api.get("/api/v1/partners/").json()
    assert [p["partner_id"] for p in partners["results"]] == ["1000001"]
    for url in LISTS:
        rows = partner_api.get(url).json()["results"]
        assert all(row.get("partner_id", "1000001") == "1000001" for row in rows), url
    evaluations = partner_api.get("/api/v1/evaluations/").json()["results"]
    assert evaluations and {e["partner_id"] for e in evaluations} == {"1000001"}
    # a filter naming the foreign partner finds nothing
    assert partner_api.get("/api/v1/revenue/?partner=1000002").json()["count"] == 0


def test_partner_token_reads_own_objects(partner_api, own_partner, contracts, evaluated):
    for url in detail_urls(own_partner):
        assert partner_api.get(url).status_code == 200, url


def test_partner_token_gets_404_for_every_foreign_object(
    partner_api, foreign_partner, contracts, evaluated, missed_case
):
    urls = detail_urls(foreign_partner)
    urls.append(f"/api/v1/follow-up-cases/{FollowUpCase.objects.get().pk}/")
    for url in urls:
        assert partner_api.get(url).status_code == 404, url


def test_a_login_without_a_partner_sees_nothing(own_partner, evaluated):
    client = token_client(UserFactory(username="nobody"))
    for url in LISTS:
        assert client.get(url).json()["count"] == 0, url
    assert client.get("/api/v1/partners/1000001/").status_code == 404


def test_session_auth_serves_the_browsable_api(client, staff, own_partner):
    client.force_login(staff)
    response = client.get("/api/v1/partners/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Lindenhof IT GmbH" in response.content


# --- writes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (
            "/api/v1/partners/",
            {"partner_id": "1000077", "name": "X", "country": "DE", "onboarded_on": "2024-01-01"},
        ),
        (
            "/api/v1/locations/",
            {
                "location_id": "2000077",
                "partner_id": "1000001",
                "country": "DE",
                "onboarded_on": "2024-01-01",
            },
        ),
        ("/api/v1/contacts/", {"partner_id": "1000001", "name": "N", "email": "n@example.com"}),
        (
            "/api/v1/support-contracts/",
            {
                "partner_id": "1000001",
                "plan_type": "asfp",
                "contract_number": "C-1",
                "start_date": "2024-01-01",
                "end_date": "2024-12-31",
            },
        ),
        ("/api/v1/revenue/bulk/", []),
    ],
)
def test_partner_token_may_not_create(partner_api, own_partner, url, data):
    response = partner_api.post(url, data, format="json")
    assert response.status_code == 403
    assert pm.Partner.objects.count() == 1


def test_staff_creates_partner_location_contact_contract(staff_api, staff):
    response = staff_api.post(
        "/api/v1/partners/",
        {
            "partner_id": "1000077",
            "name": "Neu GmbH",
            "country": "DE",
            "onboarded_on": "2024-01-01",
            "billing_model": "direct_bill",
            "account_manager": "manager",
            "designations": ["modern-work"],
        },
    )
    assert response.status_code == 201, response.json()
    partner = pm.Partner.objects.get(partner_id="1000077")
    assert partner.account_manager == staff
    assert [d.code for d in partner.designations.all()] == ["modern-work"]
    assert partner.history.first().history_user == staff

    response = staff_api.post(
        "/api/v1/locations/",
        {
            "location_id": "2000077",
            "partner_id": "1000077",
            "country": "AT",
            "onboarded_on": "2024-02-01",
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["partner_id"] == "1000077"
    assert partner.locations.get().country == "AT"

    response = staff_api.post(
        "/api/v1/contacts/",
        {"partner_id": "1000077", "name": "Anna", "email": " Anna@Neu.Example "},
    )
    assert response.status_code == 201, response.json()
    assert partner.contacts.get().email == "anna@neu.example"

    response = staff_api.post(
        "/api/v1/support-contracts/",
        {
            "partner_id": "1000077",
            "plan_type": "asfp",
            "contract_number": "ASFP-1",
            "start_date": "2024-01-01",
            "end_date": "2024-12-31",
            "paid_on": "2024-01-05",
            "amount": "6000.00",
            "currency": "EUR",
        },
    )
    assert response.status_code == 201, response.json()
    contract = partner.support_contracts.get()
    assert contract.is_paid and contract.currency_id == "EUR"


def test_staff_create_errors_are_400_by_field(staff_api, own_partner):
    duplicate = staff_api.post(
        "/api/v1/partners/",
        {"partner_id": "1000001", "name": "Dup", "country": "DE", "onboarded_on": "2024-01-01"},
    )
    assert duplicate.status_code == 400
    assert "partner_id" in duplicate.json()

    backwards = staff_api.post(
        "/api/v1/support-contracts/",
        {
            "partner_id": "1000001",
            "plan_type": "asfp",
            "contract_number": "C-1",
            "start_date": "2024-12-31",
            "end_date": "2024-01-01",
        },
    )
    assert backwards.status_code == 400
    assert backwards.json()  # reported, not a server error
    assert not pm.SupportContract.objects.exists()

    same_email = staff_api.post(
        "/api/v1/contacts/",
        {"partner_id": "1000001", "name": "Twin", "email": "CONTACT@1000001.example"},
    )
    assert same_email.status_code == 400
    assert own_partner.contacts.count() == 1

    unknown = staff_api.post(
        "/api/v1/locations/",
        {
            "location_id": "2000078",
            "partner_id": "999",
            "country": "DE",
            "onboarded_on": "2024-01-01",
        },
    )
    assert unknown.status_code == 400
    assert "partner_id" in unknown.json()


def test_partner_user_updates_own_contact(partner_api, own_partner, partner_user):
    contact = own_partner.contacts.get()
    response = partner_api.patch(
        f"/api/v1/contacts/{contact.pk}/", {"name": "Neuer Name", "language": "en"}
    )
    assert response.status_code == 200, response.json()
    contact.refresh_from_db()
    assert (contact.name, contact.language) == ("Neuer Name", "en")
    assert contact.history.first().history_user == partner_user
    # the partner cannot be changed through an update
    response = partner_api.patch(f"/api/v1/contacts/{contact.pk}/", {"partner_id": "1000002"})
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.partner == own_partner


def test_partner_user_cannot_update_a_foreign_contact(partner_api, foreign_partner):
    contact = foreign_partner.contacts.get()
    response = partner_api.patch(f"/api/v1/contacts/{contact.pk}/", {"name": "Hijacked"})
    assert response.status_code == 404
    contact.refresh_from_db()
    assert contact.name != "Hijacked"


def test_no_deletes_or_partner_updates(staff_api, own_partner):
    assert staff_api.delete("/api/v1/partners/1000001/").status_code == 405
    assert staff_api.patch("/api/v1/partners/1000001/", {"name": "x"}).status_code == 405
    contact = own_partner.contacts.get()
    assert staff_api.delete(f"/api/v1/contacts/{contact.pk}/").status_code == 405


# --- follow-up cases ------------------------------------------------------------------


def test_staff_moves_a_case_through_the_service(staff_api, staff, missed_case):
    case = FollowUpCase.objects.get()
    url = f"/api/v1/follow-up-cases/{case.pk}/move/"
    response = staff_api.post(url, {"state": "in_progress", "notes": "called them"})
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "in_progress"
    response = staff_api.post(url, {"state": "done"})
    assert response.status_code == 200
    assert response.json()["closed_at"]
    location = missed_case.locations.get()
    assert not location.is_active and location.deauthorised_on is not None
    # done is final
    response = staff_api.post(url, {"state": "open"})
    assert response.status_code == 400
    assert staff_api.post(url, {"state": "nonsense"}).status_code == 400


def test_partner_user_cannot_move_cases(missed_case):
    case = FollowUpCase.objects.get()
    own_user = UserFactory(username="missed-user")
    ps.contact_create(partner=missed_case, name="M", email="m@example.com", login=own_user)
    own = token_client(own_user)
    url = f"/api/v1/follow-up-cases/{case.pk}/move/"
    assert own.get(f"/api/v1/follow-up-cases/{case.pk}/").status_code == 200
    assert own.post(url, {"state": "done"}).status_code == 403
    stranger = token_client(UserFactory(username="stranger"))
    assert stranger.post(url, {"state": "done"}).status_code == 404
    case.refresh_from_db()
    assert case.state == "open"


def test_actions_accept_a_format_suffix(staff_api, missed_case, own_partner):
    case = FollowUpCase.objects.get()
    response = staff_api.post(f"/api/v1/follow-up-cases/{case.pk}/move.json", {"state": "open"})
    assert response.status_code == 200
    assert staff_api.post("/api/v1/revenue/bulk.json", []).status_code == 400
