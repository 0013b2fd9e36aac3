"""Bad input to every form of the web portal: the form comes back (200) with
the error at the field, or the request is a 400; nothing is written."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.test import override_settings
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from compliance.models import DeadlineOutcome, FollowUpCase
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NUL = "\x00"
AXES_ON = override_settings(
    AXES_ENABLED=True,
    AUTHENTICATION_BACKENDS=[
        "axes.backends.AxesStandaloneBackend",
        "django.contrib.auth.backends.ModelBackend",
    ],
)


@dataclass
class Form:
    client: object
    url: str
    data: dict
    success: int = 302


def _staff_form(request, url: str, data: dict) -> Form:
    return Form(request.getfixturevalue("staff_client"), url, data)


def enrol(request, today):
    return _staff_form(
        request,
        "/partners/new/",
        {
            "partner_id": "7000001",
            "name": "Neue Reseller GmbH",
            "country": "DE",
            "onboarded_on": (today - datetime.timedelta(days=30)).isoformat(),
            "location_id": "7100001",
            "contact_name": "Eva Neu",
            "contact_email": "eva@neu.example",
            "contact_language": "de",
        },
    )


def revenue(request, today):
    partner = request.getfixturevalue("own_partner")
    return _staff_form(
        request,
        "/partners/1000001/revenue/new/",
        {
            "location": partner.locations.get().pk,
            "revenue_date": today.isoformat(),
            "amount": "12.50",
            "currency": "EUR",
            "reference": "INV-9",
            "customer": "Contoso",
        },
    )


def contract(request, today):
    request.getfixturevalue("own_partner")
    return _staff_form(
        request,
        "/partners/1000001/contracts/new/",
        {
            "plan_type": "asfp",
            "contract_number": "ASFP-1",
            "start_date": today.isoformat(),
            "end_date": (today + datetime.timedelta(days=364)).isoformat(),
            "is_paid": "on",
            "amount": "6000",
            "currency": "EUR",
        },
    )


def contact_new(request, today):
    request.getfixturevalue("own_partner")
    return _staff_form(
        request,
        "/partners/1000001/contacts/new/",
        {"name": "Eva Neu", "email": "eva@neu.example", "language": "de"},
    )


def contact_edit(request, today):
    contact = request.getfixturevalue("own_partner").contacts.get()
    return _staff_form(
        request,
        f"/partners/1000001/contacts/{contact.pk}/edit/",
        {"name": "Eva Neu", "email": "eva@neu.example", "language": "en"},
    )


def case_move(request, today):
    request.getfixturevalue("missed_case")
    case = FollowUpCase.objects.get()
    return _staff_form(
        request, f"/cases/{case.pk}/move/", {"state": "in_progress", "notes": "called"}
    )


def override(request, today):
    request.getfixturevalue("missed_case")
    outcome = DeadlineOutcome.objects.get(result="missed")
    return _staff_form(
        request, f"/outcomes/{outcome.pk}/override/", {"reason": "Microsoft granted it"}
    )


def login(request, today):
    UserFactory(username="anna")
    return Form(
        request.getfixturevalue("client"),
        "/accounts/login/",
        {"username": "anna", "password": "portal-demo"},
    )


def password_reset(request, today):
    UserFactory(username="anna", email="anna@example.com")
    return Form(
        request.getfixturevalue("client"),
        "/accounts/password_reset/",
        {"email": "anna@example.com"},
    )


def password_change(request, today):
    client = request.getfixturevalue("client")
    client.force_login(UserFactory(username="anna"))
    return Form(
        client,
        "/accounts/password_change/",
        {
            "old_password": "portal-demo",
            "new_password1": "a-Much-better-Secret-42",
            "new_password2": "a-Much-better-Secret-42",
        },
    )


def set_password(request, today):
    """The form behind a password reset link."""
    client = request.getfixturevalue("client")
    user = UserFactory(username="anna")
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = client.get(f"/accounts/reset/{uid}/{default_token_generator.make_token(user)}/")
    assert link.status_code == 302  # to the form, the token moved into the session
    return Form(
        client,
        link["Location"],
        {"new_password1": "a-Much-better-Secret-42", "new_password2": "a-Much-better-Secret-42"},
    )


FORMS = {
    "enrol": enrol,
    "revenue": revenue,
    "contract": contract,
    "contact-new": contact_new,
    "contact-edit": contact_edit,
    "case-move": case_move,
    "override": override,
    "login": login,
    "password-reset": password_reset,
    "password-change": password_change,
    "set-password": set_password,
}


@pytest.fixture
def form(request, today) -> Form:
    return FORMS[request.param](request, today)


@pytest.mark.parametrize("form", list(FORMS), indirect=True)
def test_the_valid_form_is_accepted(form):
    """The baseline the bad submissions below are spoilt from."""
    response = form.client.post(form.url, form.data)
    assert response.status_code == form.success, response.context["form"].errors


# --- wrong values: the form comes back with the error at the field -------------------------

#: form -> [(case, changes, field with the error; "__all__" for the form)]
VALUES = {
    "enrol": [
        ("missing-fields", None, "partner_id"),
        ("id-negative", {"partner_id": "-7000001"}, "partner_id"),
        ("id-too-long", {"partner_id": "7" * 21}, "partner_id"),
        ("id-nul", {"partner_id": "70000" + NUL}, "partner_id"),
        ("name-nul", {"name": "Evil" + NUL}, "name"),
        ("name-too-long", {"name": "x" * 201}, "name"),
        ("country-nul", {"country": "D" + NUL}, "country"),
        ("date-feb-30", {"onboarded_on": "2023-02-30"}, "onboarded_on"),
        ("date-year-0", {"onboarded_on": "0000-01-01"}, "onboarded_on"),
        ("date-year-10000", {"onboarded_on": "10000-01-01"}, "onboarded_on"),
        ("date-future", {"onboarded_on": "2999-01-01"}, "onboarded_on"),
        ("date-nul", {"onboarded_on": NUL}, "onboarded_on"),
        ("manager-text", {"account_manager": "abc"}, "account_manager"),
        ("manager-huge", {"account_manager": "9" * 30}, "account_manager"),
        ("manager-nul", {"account_manager": NUL}, "account_manager"),
        ("location-nul", {"location_id": NUL}, "location_id"),
        ("email-nul", {"contact_email": "eva" + NUL + "@neu.example"}, "contact_email"),
        ("email-invalid", {"contact_email": "not-an-email"}, "contact_email"),
        ("language", {"contact_language": "fr"}, "contact_language"),
    ],
    "revenue": [
        ("missing-fields", None, "amount"),
        ("location-text", {"location": "abc"}, "location"),
        ("location-huge", {"location": "9" * 30}, "location"),
        ("location-nul", {"location": NUL}, "location"),
        ("amount-nan", {"amount": "NaN"}, "amount"),
        ("amount-infinity", {"amount": "Infinity"}, "amount"),
        ("amount-minus-infinity", {"amount": "-Infinity"}, "amount"),
        ("amount-1e400", {"amount": "1e400"}, "amount"),
        ("amount-too-many-digits", {"amount": "1" * 21}, "amount"),
        ("amount-too-many-places", {"amount": "0.0000001"}, "amount"),
        ("amount-text", {"amount": "12abc"}, "amount"),
        ("amount-nul", {"amount": "1" + NUL}, "amount"),
        ("date-feb-30", {"revenue_date": "2023-02-30"}, "revenue_date"),
        ("date-future", {"revenue_date": "2999-01-01"}, "revenue_date"),
        ("date-nul", {"revenue_date": NUL}, "revenue_date"),
        ("currency-unknown", {"currency": "XXX"}, "currency"),
        ("currency-nul", {"currency": "EU" + NUL}, "currency"),
        ("reference-nul", {"reference": "R" + NUL}, "reference"),
        ("reference-too-long", {"reference": "R" * 201}, "reference"),
        ("customer-nul", {"customer": NUL}, "customer"),
    ],
    "contract": [
        ("missing-fields", None, "plan_type"),
        ("plan-type", {"plan_type": "gold"}, "plan_type"),
        ("number-nul", {"contract_number": "A" + NUL}, "contract_number"),
        ("number-too-long", {"contract_number": "A" * 101}, "contract_number"),
        ("start-feb-30", {"start_date": "2023-02-30"}, "start_date"),
        ("end-before-start", {"end_date": "2000-01-01"}, "end_date"),
        ("paid-on-nul", {"paid_on": NUL}, "paid_on"),
        ("amount-nan", {"amount": "NaN"}, "amount"),
        ("amount-1e400", {"amount": "1e400"}, "amount"),
        ("amount-without-currency", {"currency": ""}, "currency"),
        ("currency-nul", {"currency": NUL}, "currency"),
    ],
    "contact-new": [
        ("missing-fields", None, "email"),
        ("name-nul", {"name": NUL}, "name"),
        ("email-nul", {"email": NUL}, "email"),
        ("email-invalid", {"email": "@"}, "email"),
        ("email-taken", {"email": "contact@1000001.example"}, "email"),
        ("language", {"language": "fr"}, "language"),
    ],
    "contact-edit": [
        ("name-nul", {"name": "a" + NUL}, "name"),
        ("email-too-long", {"email": "e" * 300 + "@neu.example"}, "email"),
        ("language-nul", {"language": NUL}, "language"),
    ],
    "case-move": [
        ("missing-fields", None, "state"),
        ("state-unknown", {"state": "closed"}, "state"),
        ("state-nul", {"state": NUL}, "state"),
        ("notes-nul", {"notes": NUL}, "notes"),
    ],
    "override": [
        ("reason-empty", {"reason": ""}, "reason"),
        ("reason-blank", {"reason": "   "}, "reason"),
        ("reason-nul", {"reason": "ok" + NUL}, "reason"),
        ("reason-too-long", {"reason": "r" * 2001}, "reason"),
    ],
    "login": [
        ("wrong-password", {"password": "wrong"}, "__all__"),
        ("username-nul", {"username": "anna" + NUL}, "username"),
        ("password-nul", {"password": "portal-demo" + NUL}, "password"),
        ("username-too-long", {"username": "a" * 151}, "username"),
    ],
    "password-reset": [
        ("email-nul", {"email": "anna" + NUL + "@example.com"}, "email"),
        ("email-invalid", {"email": "anna"}, "email"),
        ("email-too-long", {"email": "a" * 300 + "@example.com"}, "email"),
    ],
    "password-change": [
        ("old-wrong", {"old_password": "wrong"}, "old_password"),
        ("old-nul", {"old_password": NUL}, "old_password"),
        ("new-nul", {"new_password1": NUL, "new_password2": NUL}, "new_password1"),
        ("new-mismatch", {"new_password2": "something-else-42"}, "new_password2"),
    ],
    "set-password": [
        ("nul", {"new_password1": "a" + NUL, "new_password2": "a" + NUL}, "new_password1"),
        ("mismatch", {"new_password2": "x"}, "new_password2"),
    ],
}
VALUE_CASES = [
    pytest.param(name, changes, field, id=f"{name}-{case}")
    for name, cases in VALUES.items()
    for case, changes, field in cases
]


@pytest.mark.parametrize(("form", "changes", "field"), VALUE_CASES, indirect=["form"])
def test_wrong_values_come_back_on_the_form(form, changes, field, unchanged):
    data = {} if changes is None else {**form.data, **changes}
    with unchanged():
        response = form.client.post(form.url, data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    html = response.content.decode()
    assert all(str(message) in html for message in errors[field]), errors


# --- non-UTF-8 bytes and oversized bodies --------------------------------------------------


def _post_raw(form: Form, body: bytes):
    return form.client.generic(
        "POST", form.url, body, content_type="application/x-www-form-urlencoded"
    )


#: Django's own forms (django.contrib.auth): an unreadable name or password
#: is just a wrong one.
DJANGO_FORMS = {"login", "password-reset", "password-change", "set-password"}
#: form -> a text field to spoil with bytes that are no UTF-8
TEXT_FIELDS = {
    "enrol": "name",
    "revenue": "customer",
    "contract": "contract_number",
    "contact-new": "name",
    "contact-edit": "name",
    "case-move": "notes",
    "override": "reason",
    "login": "username",
    "password-reset": "email",
    "password-change": "old_password",
    "set-password": "new_password1",
}


@pytest.mark.parametrize("form", list(FORMS), indirect=True)
def test_bytes_that_are_no_utf8_come_back_on_the_form(form, request, unchanged):
    """A Latin-1 "ü" (%FC) cannot be read: the field says so (Django reads
    it as U+FFFD; nothing with it is stored)."""
    field = TEXT_FIELDS[request.node.callspec.id]
    body = urlencode({**form.data, field: "M\u00fcller"}, encoding="latin-1").encode()
    with unchanged():
        response = _post_raw(form, body)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors, "the form was accepted"
    if request.node.callspec.id not in DJANGO_FORMS:
        assert errors[field] == [
            "This text contains characters that could not be read; send it as UTF-8."
        ]


def _big(size: int) -> str:
    return "x" * size


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda data: {**data, "padding": _big(3 * 1024 * 1024)}, id="3-mb-body"),
        pytest.param(lambda data: {**data, "name": _big(10 * 1024 * 1024)}, id="10-mb-field"),
        pytest.param(
            lambda data: {**data, **{f"f{n}": "1" for n in range(10_000)}}, id="10000-fields"
        ),
    ],
)
@pytest.mark.parametrize("form", list(FORMS), indirect=True)
def test_oversized_bodies_are_a_400(form, body, unchanged):
    with unchanged():
        response = _post_raw(form, urlencode(body(form.data)).encode())
    assert response.status_code == 400


# --- other inputs: the language switch, query strings ---------------------------------------


@pytest.mark.parametrize(
    ("data", "location"),
    [
        ({"language": "de", "next": "/partners/"}, "/partners/"),
        ({"language": "de", "next": "https://evil.example/"}, "/"),
        ({"language": "de", "next": "//evil.example/"}, "/"),
        ({"language": "de", "next": "/partners/" + NUL}, None),
        ({"language": NUL, "next": "/"}, "/"),
        ({"language": "xx", "next": "/"}, "/"),
        ({"language": "de" * 10_000, "next": "/"}, "/"),
    ],
)
def test_language_switch(client, db, data, location):
    response = client.post("/i18n/setlang/", data)
    assert response.status_code in (302, 204)
    if location is not None:
        assert response["Location"] == location
    assert "evil" not in response.get("Location", "")
    cookie = response.cookies.get("django_language")
    assert (cookie.value if cookie else None) in (None, "de")


@AXES_ON
@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("anna" + NUL, "x"),
        ("anna", "x" + NUL),
        ("\ufffd" * 3, "x"),
        # (axes records the username in a varchar(255): too long must be a form error)
        pytest.param("a" * 10_000, "x", id="username-10000-chars"),
    ],
)
def test_login_with_throttling_on(client, db, username, password):
    """django-axes records failed logins by username (PostgreSQL refuses NUL
    in text): a strange username is a form error, never a 500."""
    UserFactory(username="anna")
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 200
    assert response.context["form"].errors


@pytest.mark.parametrize(
    "query",
    [
        "q=%00",
        "q=" + "x" * 5000,
        "status=%00",
        "policy=%00",
        "policy=99999999999999999999",
        "country=%00",
        "account_manager=%00",
        "account_manager=99999999999999999999",
        "partner_status=%00",
        "mine=%00",
        "sort=%00",
        "sort=-password",
        "page=%00",
        "page=-1",
        "page=99999999999999999999",
    ],
)
@pytest.mark.parametrize("path", ["/partners/", "/partners/export.csv", "/exports/partners.csv"])
def test_partner_list_ignores_bad_filters(staff_client, own_partner, evaluated, path, query):
    """Invalid filter values are ignored on the web list (and its exports),
    as the list says; never an error page."""
    response = staff_client.get(f"{path}?{query}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/exports/revenue.csv?partner=%00",
        "/exports/revenue.xlsx?partner=1000001%00",
        "/exports/revenue.csv?partner=-1",
        "/exports/revenue.csv?partner=" + "1" * 5000,
    ],
)
def test_export_of_no_partner_id_is_a_404(staff_client, own_partner, url):
    """As an unknown partner; PostgreSQL could not even compare a NUL."""
    assert staff_client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("/exports/revenue.csv?date_from=2023-02-30", "date_from"),
        ("/exports/revenue.csv?currency=%00", "currency"),
        ("/exports/revenue.csv?location=%00", "location"),
        ("/exports/evaluations.csv?as_of=2023-02-30", "as_of"),
        ("/exports/evaluations.csv?purpose=%00", "purpose"),
        ("/exports/evaluations.xlsx?policy=%00", "policy"),
        ("/exports/evaluations.csv?partner=%00", "partner"),
    ],
)
def test_export_filters_are_a_400_naming_the_filter(
    staff_client, own_partner, evaluated, url, says
):
    response = staff_client.get(url)
    assert response.status_code == 400
    assert says in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/?mine=%00",
        "/partners/direct-bill-ready/?mine=%00",
        "/imports/?page=%00",
        "/partners/1000001%00/",
        "/partners/99999999999999999999/",
        "/cases/99999999999999999999/move/",
        "/outcomes/99999999999999999999/override/",
        "/imports/99999999999999999999/",
        "/partners/1000001/contacts/99999999999999999999/edit/",
    ],
)
def test_bad_query_strings_and_ids_are_never_a_500(staff_client, own_partner, url):
    assert staff_client.get(url).status_code in (200, 404)


# --- a NUL that reaches PostgreSQL anyway (api.middleware.NulCharacterMiddleware) ----------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/partners/partner/?country=%00",  # a list filter of the admin
        "/admin/partners/partner/?q=%00",
        "/admin/partners/location/?q=%00",
        "/admin/partners/partner/%00/change/",
    ],
)
def test_a_nul_in_an_admin_filter_is_a_400_on_postgresql(client, own_partner, url, on_postgres):
    client.force_login(get_user_model().objects.create_superuser("root", "root@x.example", "pw"))
    response = client.get(url)
    assert response.status_code < 500
    if url.endswith("?country=%00"):
        # SQLite compares the NUL (no such partner); PostgreSQL cannot, and the
        # middleware answers instead of a server error.
        assert response.status_code == (400 if on_postgres else 200)
        if on_postgres:
            assert "NUL character" in response.content.decode()


def test_the_nul_middleware_handles_only_nul_errors(rf):
    from api.middleware import NulCharacterMiddleware

    middleware = NulCharacterMiddleware(lambda request: None)
    request = rf.get("/")
    nul = ValueError("A string literal cannot contain NUL (0x00) characters.")
    assert middleware.process_exception(request, nul).status_code == 400
    assert middleware.process_exception(request, ValueError("other")) is None
    assert middleware.process_exception(request, TypeError("NUL (0x00)")) is None
