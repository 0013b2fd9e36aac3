"""Hostile text that is valid input: markup and template syntax in names,
notes and references is stored as typed and shown as text on every page
(escaped), never run."""

from __future__ import annotations

import datetime
import json

import pytest
from django.contrib.auth import get_user_model

from compliance.models import FollowUpCase
from partners.models import Contact
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
CLOSE = "</script><script>alert(3)</script>"
TEMPLATE = "{{ 7|add:35 }}{% now 'Y' %}"
HOSTILE = f"{SCRIPT}{IMG}{CLOSE}{TEMPLATE}"
#: what must never appear in a page: the markup as markup
RAW = ["<script>alert", "<img src=x", "onerror=alert(2)>"]


@pytest.fixture
def hostile_partner(staff, missed_case, today):
    """A partner whose every text field is hostile, entered through the API
    and the forms as staff would."""
    api = token_client(staff)
    post = api.post
    created = post(
        "/api/v1/partners/",
        {
            "partner_id": "7000666",
            "name": HOSTILE,
            "country": "DE",
            "onboarded_on": (today - datetime.timedelta(days=100)).isoformat(),
            "account_manager": "manager",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    for url, body in [
        (
            "/api/v1/locations/",
            {
                "location_id": "7100666",
                "partner_id": "7000666",
                "name": HOSTILE,
                "country": "DE",
                "onboarded_on": (today - datetime.timedelta(days=100)).isoformat(),
            },
        ),
        (
            "/api/v1/contacts/",
            {"partner_id": "7000666", "name": HOSTILE, "email": "x@evil.example"},
        ),
        (
            "/api/v1/support-contracts/",
            {
                "partner_id": "7000666",
                "plan_type": "asfp",
                "contract_number": HOSTILE[:100],
                "start_date": today.isoformat(),
                "end_date": (today + datetime.timedelta(days=30)).isoformat(),
            },
        ),
    ]:
        response = post(url, body, format="json")
        assert response.status_code == 201, response.content
    bulk = post(
        "/api/v1/revenue/bulk/",
        [
            {
                "location_id": "7100666",
                "date": today.isoformat(),
                "amount": "10",
                "currency": "USD",
                "reference": HOSTILE,
                "customer": HOSTILE,
            }
        ],
        format="json",
    )
    assert bulk.status_code == 200, bulk.content
    case = FollowUpCase.objects.get()
    moved = post(
        f"/api/v1/follow-up-cases/{case.pk}/move/",
        {"state": "in_progress", "notes": HOSTILE},
        format="json",
    )
    assert moved.status_code == 200, moved.content
    return "7000666"


def assert_escaped(html: str, *, shown: bool = True) -> None:
    for raw in RAW:
        assert raw not in html, raw
    assert "42" + str(datetime.date.today().year) not in html  # no template ran
    if shown:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    "url",
    [
        "/partners/7000666/",
        "/partners/7000666/revenue/",
        "/partners/7000666/contracts/",
        "/partners/7000666/contacts/",
        "/partners/?q=7000666",
    ],
)
def test_hostile_text_is_shown_escaped_to_staff(staff_client, hostile_partner, url):
    response = staff_client.get(url)
    assert response.status_code == 200
    assert_escaped(response.content.decode())


@pytest.mark.parametrize(
    "url",
    ["/", "/partners/direct-bill-ready/", "/cases/{case}/move/", "/partners/7000666/contacts/new/"],
)
def test_other_staff_pages_stay_escaped(staff_client, hostile_partner, url):
    response = staff_client.get(url.format(case=FollowUpCase.objects.get().pk))
    assert response.status_code == 200
    assert_escaped(response.content.decode(), shown=False)


def test_the_partner_user_sees_it_escaped(client, hostile_partner):
    """Their dashboard and partner page, logged in as the hostile contact."""
    user = get_user_model().objects.create_user("evil-user", password="x")
    Contact.objects.filter(partner__partner_id=hostile_partner).update(user=user)
    client.force_login(user)
    for url in ["/", f"/partners/{hostile_partner}/", f"/partners/{hostile_partner}/contacts/"]:
        response = client.get(url)
        assert response.status_code == 200
        assert_escaped(response.content.decode())


@pytest.mark.parametrize("url", ["/admin/partners/partner/", "/admin/partners/contact/"])
def test_the_admin_shows_it_escaped(client, hostile_partner, url):
    client.force_login(get_user_model().objects.create_superuser("root", "root@x.example", "pw"))
    response = client.get(url)
    assert response.status_code == 200
    assert_escaped(response.content.decode())


def test_the_browsable_api_shows_it_escaped(staff_client, hostile_partner):
    response = staff_client.get("/api/v1/partners/7000666/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert_escaped(response.content.decode(), shown=False)


def test_the_json_api_returns_it_as_typed(staff_client, hostile_partner):
    def get(url):
        return json.loads(staff_client.get(url, HTTP_ACCEPT="application/json").content)

    assert get("/api/v1/partners/7000666/")["name"] == HOSTILE
    assert get("/api/v1/revenue/?partner=7000666")["results"][0]["customer"] == HOSTILE
