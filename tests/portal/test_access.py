"""One door: every page renders for staff, a partner user sees their own
partner only (404 for any other partner id, on every partner URL) and gets
403 on staff-only pages; anonymous users are sent to the login page."""

import re

import pytest
from django.urls import reverse

from compliance.models import DeadlineOutcome, FollowUpCase

pytestmark = pytest.mark.django_db

# (url name, staff only)
PARTNER_PAGES = [
    ("partners:detail", False),
    ("partners:revenue", False),
    ("partners:contracts", False),
    ("partners:contacts", False),
    ("partners:contact-new", False),
    ("partners:revenue-new", True),
    ("partners:contract-new", True),
]
STAFF_PAGES = [
    "partners:list",
    "partners:export",
    "partners:enrol",
    "partners:direct-bill-ready",
]


def _partner_urls(partner):
    urls = [(reverse(name, args=[partner.partner_id]), staff) for name, staff in PARTNER_PAGES]
    contact = partner.contacts.first()
    urls.append((reverse("partners:contact-edit", args=[partner.partner_id, contact.pk]), False))
    return urls


def _case_urls(partner):
    outcome = DeadlineOutcome.objects.get(partner=partner)
    case = FollowUpCase.objects.get(partner=partner)
    return [
        reverse("compliance:case-move", args=[case.pk]),
        reverse("compliance:outcome-override", args=[outcome.pk]),
    ]


def test_every_page_renders_for_staff(client, staff, own_partner, evaluated, missed_case):
    client.force_login(staff)
    urls = [reverse("dashboard"), *(reverse(name) for name in STAFF_PAGES)]
    urls += [url for url, _staff in _partner_urls(own_partner)]
    urls += _case_urls(missed_case)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url


def test_partner_user_sees_own_partner(client, partner_user, own_partner, evaluated):
    client.force_login(partner_user)
    for url, staff_only in _partner_urls(own_partner):
        response = client.get(url)
        assert response.status_code == (403 if staff_only else 200), url
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert "Lindenhof IT GmbH" in response.text
    assert "Highland Systems" not in response.text


def test_foreign_partner_is_404_on_every_partner_url(
    client, partner_user, own_partner, foreign_partner, evaluated
):
    client.force_login(partner_user)
    for url, _staff_only in _partner_urls(foreign_partner):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"name": "x"}).status_code == 404, url
    # unknown partner ids and non-digit ids as well
    assert client.get("/partners/999999999/").status_code == 404
    assert client.get("/partners/abc/").status_code == 404


def test_contact_of_another_partner_is_404_under_own_partner(
    client, partner_user, own_partner, foreign_partner
):
    client.force_login(partner_user)
    foreign_contact = foreign_partner.contacts.get()
    url = reverse("partners:contact-edit", args=[own_partner.partner_id, foreign_contact.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "Hijack"}).status_code == 404
    foreign_contact.refresh_from_db()
    assert foreign_contact.name != "Hijack"


def test_staff_pages_are_403_for_partner_users(client, partner_user, missed_case):
    client.force_login(partner_user)
    for name in STAFF_PAGES:
        assert client.get(reverse(name)).status_code == 403, name
    for url in _case_urls(missed_case):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"reason": "x", "state": "done"}).status_code == 403, url


def test_anonymous_users_go_to_the_login_page(client, own_partner):
    for url in [reverse("dashboard"), reverse("partners:list")] + [
        u for u, _s in _partner_urls(own_partner)
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_login_without_partner_sees_an_explanation(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="orphan"))
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert "not linked to a partner" in response.text
    assert client.get(reverse("partners:list")).status_code == 403


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.I)


def test_pages_allow_a_strict_csp(client, staff, partner_user, own_partner, evaluated):
    """No inline script bodies, event handler attributes or style attributes:
    chart data goes through json_script, code through static files."""
    client.force_login(staff)
    pages = [reverse("dashboard"), reverse("partners:list"), reverse("partners:direct-bill-ready")]
    pages += [url for url, _s in _partner_urls(own_partner)]
    for url in pages:
        html = client.get(url).text
        assert not INLINE_SCRIPT.search(html), url
        assert not INLINE_HANDLER.search(html), url
        assert not STYLE_ATTRIBUTE.search(html), url
    assert 'type="application/json"' in client.get(reverse("dashboard")).text
