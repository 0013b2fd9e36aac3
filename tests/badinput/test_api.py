"""Bad input to every writing endpoint of /api/v1/: malformed, oversized,
non-UTF-8 and hostile bodies are a 4xx that names the problem, and nothing
is written (every table of our apps is unchanged)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.conf import settings

from compliance.models import FollowUpCase

pytestmark = pytest.mark.django_db

PARTNER = {
    "partner_id": "7000001",
    "name": "Neue Reseller GmbH",
    "country": "DE",
    "onboarded_on": "2024-01-15",
}
LOCATION = {
    "location_id": "7100001",
    "partner_id": "1000001",
    "country": "DE",
    "onboarded_on": "2024-01-15",
}
CONTACT = {"partner_id": "1000001", "name": "Eva Neu", "email": "eva@neu.example", "language": "de"}
CONTACT_CHANGE = {"name": "Eva Neu", "email": "eva@neu.example", "language": "en"}
CONTRACT = {
    "partner_id": "1000001",
    "plan_type": "asfp",
    "contract_number": "ASFP-1",
    "start_date": "2024-01-01",
    "end_date": "2024-12-31",
    "is_paid": True,
    "amount": "6000.00",
    "currency": "EUR",
}
LINE = {
    "location_id": "2000001",
    "date": "2024-01-15",
    "amount": "10.50",
    "currency": "EUR",
    "reference": "R-1",
    "customer": "Contoso",
}
MOVE = {"state": "in_progress", "notes": "called them"}

#: name -> (method, url, valid body, success status)
ENDPOINTS = {
    "partners": ("post", "/api/v1/partners/", PARTNER, 201),
    "locations": ("post", "/api/v1/locations/", LOCATION, 201),
    "contacts": ("post", "/api/v1/contacts/", CONTACT, 201),
    "contact-put": ("put", "/api/v1/contacts/{contact}/", CONTACT_CHANGE, 200),
    "contact-patch": ("patch", "/api/v1/contacts/{contact}/", CONTACT_CHANGE, 200),
    "support-contracts": ("post", "/api/v1/support-contracts/", CONTRACT, 201),
    "revenue-bulk": ("post", "/api/v1/revenue/bulk/", [LINE], 200),
    "case-move": ("post", "/api/v1/follow-up-cases/{case}/move/", MOVE, 200),
}


@pytest.fixture
def target(request, own_partner):
    """(method, url, valid body, success status) of the endpoint named by
    the test's ``endpoint`` parameter, with its placeholders filled in."""
    method, url, body, success = ENDPOINTS[request.param]
    if "{case}" in url:
        request.getfixturevalue("missed_case")
        url = url.format(case=FollowUpCase.objects.get().pk)
    url = url.format(contact=own_partner.contacts.get().pk)
    return method, url, body, success


def send(api, method: str, url: str, body, content_type: str = "application/json"):
    """``body`` as it is if bytes, else JSON-encoded."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.generic(method.upper(), url, data, content_type=content_type)


def first_object(body):
    """The object to spoil: the body itself, or its first line (bulk)."""
    return body[0] if isinstance(body, list) else body


def with_changes(body, **changes):
    """A copy of ``body`` whose (first) object has ``changes``."""
    body = json.loads(json.dumps(body))
    first_object(body).update(changes)
    return body


@pytest.mark.parametrize("target", list(ENDPOINTS), indirect=True)
def test_the_valid_body_is_accepted(staff_api, target):
    """The baseline the bad bodies below are spoilt from."""
    method, url, body, success = target
    response = send(staff_api, method, url, body)
    assert response.status_code == success, response.content


# --- malformed bodies, the same for every endpoint -------------------------------------


@dataclass(frozen=True)
class Bad:
    """A spoilt body: ``make(valid body)`` -> bytes or a JSON value."""

    name: str
    make: Callable[[object], object]
    status: int
    says: str
    content_type: str = "application/json"


def _json_text(body) -> str:
    return json.dumps(body)


def _duplicate_key(body) -> bytes:
    text = _json_text(first_object(body))
    key = next(iter(first_object(body)))
    spoilt = text.replace("{", f'{{"{key}": "first", ', 1)
    return (f"[{spoilt}]" if isinstance(body, list) else spoilt).encode()


def _nan_literal(body) -> bytes:
    text = _json_text(body)
    key = next(iter(first_object(body)))
    return text.replace(f'"{key}": ', f'"{key}": NaN, "x{key}": ', 1).encode()


def _oversized(body):
    return with_changes(body, padding="x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))


def _ten_mb_field(body):
    key = next(iter(first_object(body)))
    return with_changes(body, **{key: "7" * 10 * 1024 * 1024})


GENERIC = [
    Bad("broken-json", lambda b: _json_text(b)[:-3].encode(), 400, "JSON parse error"),
    Bad("trailing-garbage", lambda b: (_json_text(b) + " x").encode(), 400, "JSON parse error"),
    Bad("empty-body", lambda b: b"", 400, ""),
    Bad("json-null", lambda b: b"null", 400, ""),
    Bad("json-string", lambda b: b'"hello"', 400, ""),
    Bad("json-number", lambda b: b"42", 400, ""),
    Bad(
        "form-instead-of-json",
        lambda b: b"name=x&partner_id=1",
        415,
        "Unsupported media type",
        "text/plain",
    ),
    Bad("xml", lambda b: b"<partner><name>x</name></partner>", 415, "Unsupported", "text/xml"),
    Bad(
        "invalid-utf8",
        lambda b: _json_text(b).replace('"', '"\xff', 1).encode("latin-1"),
        400,
        "JSON",
    ),
    Bad(
        "latin-1",
        lambda b: _json_text(b).replace("}", ', "n": "M\u00fcller"}', 1).encode("latin-1"),
        400,
        "JSON",
    ),
    Bad(
        "bogus-charset",
        lambda b: _json_text(b).encode(),
        400,
        "Unsupported charset",
        "application/json; charset=bz2_codec",
    ),
    Bad("utf-16", lambda b: _json_text(b).encode("utf-16"), 400, "JSON"),
    Bad("duplicate-key", _duplicate_key, 400, "duplicate key"),
    Bad("nan-literal", _nan_literal, 400, "NaN"),
    Bad(
        "infinity-literal", lambda b: _nan_literal(b).replace(b"NaN", b"-Infinity"), 400, "Infinity"
    ),
    Bad("deeply-nested", lambda b: b"[" * 100_000 + b"]" * 100_000, 400, "JSON parse error"),
    Bad("unknown-field", lambda b: with_changes(b, colour="blue"), 400, "colour"),
    Bad("oversized-body", _oversized, 413, "larger than"),
    Bad("ten-mb-field", _ten_mb_field, 413, "larger than"),
]


@pytest.mark.parametrize("bad", GENERIC, ids=lambda bad: bad.name)
@pytest.mark.parametrize("target", list(ENDPOINTS), indirect=True)
def test_malformed_bodies_are_refused(staff_api, target, bad, unchanged):
    method, url, body, _ = target
    status = bad.status
    if bad.name == "empty-body" and method == "patch":
        status = 200  # a PATCH of no field changes nothing (and writes nothing)
    with unchanged():
        response = send(staff_api, method, url, bad.make(body), bad.content_type)
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    assert bad.says in response.content.decode()


# --- wrong values, per endpoint --------------------------------------------------------

NUL = "\x00"
#: endpoint -> [(case, changes, status, field named in the answer)]
VALUES = {
    "partners": [
        ("missing-fields", None, 400, "partner_id"),
        ("id-as-list", {"partner_id": ["7000001"]}, 400, "partner_id"),
        ("id-negative", {"partner_id": "-7000001"}, 400, "partner_id"),
        ("id-too-long", {"partner_id": "7" * 21}, 400, "partner_id"),
        ("id-nul", {"partner_id": "70000" + NUL}, 400, "partner_id"),
        ("name-object", {"name": {"de": "x"}}, 400, "name"),
        ("name-nul", {"name": "Evil" + NUL + "GmbH"}, 400, "name"),
        ("name-too-long", {"name": "x" * 201}, 400, "name"),
        ("date-feb-30", {"onboarded_on": "2023-02-30"}, 400, "onboarded_on"),
        ("date-year-10000", {"onboarded_on": "10000-01-01"}, 400, "onboarded_on"),
        ("date-as-number", {"onboarded_on": 20240115}, 400, "onboarded_on"),
        ("date-future", {"onboarded_on": "9999-12-31"}, 400, "onboarded_on"),
        ("date-nul", {"onboarded_on": "2024-01-15" + NUL}, 400, "onboarded_on"),
        ("country-nul", {"country": "D" + NUL}, 400, "country"),
        ("billing-model", {"billing_model": "gold"}, 400, "billing_model"),
        ("status-as-object", {"status": {"a": 1}}, 400, "status"),
        ("manager-unknown", {"account_manager": "nobody"}, 400, "account_manager"),
        ("manager-nul", {"account_manager": "manager" + NUL}, 400, "account_manager"),
        ("designations-string", {"designations": "modern-work"}, 400, "designations"),
        ("designations-nul", {"designations": [NUL]}, 400, "designations"),
    ],
    "locations": [
        ("missing-fields", None, 400, "location_id"),
        ("partner-unknown", {"partner_id": "9999999"}, 400, "partner_id"),
        ("partner-nul", {"partner_id": "1000001" + NUL}, 400, "partner_id"),
        ("partner-as-list", {"partner_id": ["1000001"]}, 400, "partner_id"),
        ("partner-huge-number", {"partner_id": 10**30}, 400, "partner_id"),
        ("id-nul", {"location_id": NUL}, 400, "location_id"),
        ("name-nul", {"name": NUL}, 400, "name"),
        ("date-feb-30", {"onboarded_on": "2023-02-30"}, 400, "onboarded_on"),
        # (one location onboarded in 9999 used to stop the whole evaluation run)
        ("date-future", {"onboarded_on": "9999-12-31"}, 400, "onboarded_on"),
    ],
    "contacts": [
        ("missing-fields", None, 400, "email"),
        ("email-invalid", {"email": "not-an-email"}, 400, "email"),
        ("email-nul", {"email": "eva" + NUL + "@neu.example"}, 400, "email"),
        ("email-too-long", {"email": "e" * 300 + "@neu.example"}, 400, "email"),
        ("name-nul", {"name": NUL}, 400, "name"),
        ("language", {"language": "fr"}, 400, "language"),
        ("notices-not-bool", {"receives_notices": "perhaps"}, 400, "receives_notices"),
        ("partner-nul", {"partner_id": NUL}, 400, "partner_id"),
    ],
    "contact-put": [
        ("missing-fields", None, 400, "email"),
        ("email-nul", {"email": NUL}, 400, "email"),
        ("name-as-list", {"name": ["a", "b"]}, 400, "name"),
        ("language-nul", {"language": NUL}, 400, "language"),
    ],
    "contact-patch": [
        ("email-invalid", {"email": "@"}, 400, "email"),
        ("name-nul", {"name": "a" + NUL}, 400, "name"),
        ("notices-as-list", {"receives_notices": [True]}, 400, "receives_notices"),
    ],
    "support-contracts": [
        ("missing-fields", None, 400, "plan_type"),
        ("start-feb-30", {"start_date": "2023-02-30"}, 400, "start_date"),
        ("end-before-start", {"end_date": "2023-12-31"}, 400, "end_date"),
        ("paid-on-invalid", {"paid_on": "2024-13-01"}, 400, "paid_on"),
        ("plan-type", {"plan_type": "gold"}, 400, "plan_type"),
        ("number-nul", {"contract_number": "A" + NUL}, 400, "contract_number"),
        ("amount-nan", {"amount": "NaN"}, 400, "amount"),
        ("amount-infinity", {"amount": "Infinity"}, 400, "amount"),
        ("amount-1e400", {"amount": "1e400"}, 400, "amount"),
        ("amount-too-many-digits", {"amount": "1" * 21}, 400, "amount"),
        ("amount-too-many-places", {"amount": "1.0000001"}, 400, "amount"),
        ("amount-as-list", {"amount": [1]}, 400, "amount"),
        ("amount-without-currency", {"currency": None}, 400, "currency"),
        ("currency-unknown", {"currency": "XXX"}, 400, "currency"),
        ("currency-nul", {"currency": "EU" + NUL}, 400, "currency"),
        ("is-paid-string", {"is_paid": "perhaps"}, 400, "is_paid"),
    ],
    "revenue-bulk": [
        ("missing-fields", None, 400, "location_id"),
        ("location-unknown", {"location_id": "9999999"}, 400, "location_id"),
        ("location-nul", {"location_id": "2000001" + NUL}, 400, "location_id"),
        ("location-as-list", {"location_id": ["2000001"]}, 400, "location_id"),
        ("date-feb-30", {"date": "2023-02-30"}, 400, "date"),
        ("date-month-13", {"date": "2024-13-01"}, 400, "date"),
        ("date-as-number", {"date": 20240115}, 400, "date"),
        ("amount-string", {"amount": "ten"}, 400, "amount"),
        ("amount-nan", {"amount": "NaN"}, 400, "amount"),
        ("amount-infinity", {"amount": "-Infinity"}, 400, "amount"),
        ("amount-1e400-string", {"amount": "1e400"}, 400, "amount"),
        ("amount-too-many-digits", {"amount": "9" * 21}, 400, "amount"),
        ("amount-too-many-places", {"amount": "0.0000001"}, 400, "amount"),
        ("amount-as-object", {"amount": {"value": 1}}, 400, "amount"),
        ("amount-bool", {"amount": True}, 400, "amount"),
        ("currency-unknown", {"currency": "XXX"}, 400, "currency"),
        ("currency-nul", {"currency": "EU" + NUL}, 400, "currency"),
        ("reference-nul", {"reference": "R" + NUL}, 400, "reference"),
        ("reference-empty", {"reference": ""}, 400, "reference"),
        ("reference-too-long", {"reference": "R" * 201}, 400, "reference"),
        ("customer-nul", {"customer": NUL}, 400, "customer"),
    ],
    "case-move": [
        ("missing-fields", None, 400, "state"),
        ("state-unknown", {"state": "closed"}, 400, "state"),
        ("state-as-list", {"state": ["done"]}, 400, "state"),
        ("state-nul", {"state": NUL}, 400, "state"),
        ("notes-nul", {"notes": "ok" + NUL}, 400, "notes"),
        ("notes-too-long", {"notes": "n" * 5001}, 400, "notes"),
    ],
}


VALUE_CASES = [
    pytest.param(endpoint, changes, status, field, id=f"{endpoint}-{name}")
    for endpoint, cases in VALUES.items()
    for name, changes, status, field in cases
]


@pytest.mark.parametrize(("target", "changes", "status", "field"), VALUE_CASES, indirect=["target"])
def test_wrong_values_are_refused_naming_the_field(
    staff_api, target, changes, status, field, unchanged
):
    method, url, body, _ = target
    if changes is None:  # every field missing
        body = [{}] if isinstance(body, list) else {}
    else:
        body = with_changes(body, **changes)
    with unchanged():
        response = send(staff_api, method, url, body)
    assert response.status_code == status, response.content[:500]
    errors = response.json()
    if "errors" in errors:  # bulk: every problem with its line and field
        assert {"index": 0, "field": field} in [
            {"index": e["index"], "field": e["field"]} for e in errors["errors"]
        ], errors
    else:
        assert field in errors, errors


def test_a_patch_that_changes_nothing_writes_nothing(staff_api, own_partner, unchanged):
    contact = own_partner.contacts.get()
    with unchanged():
        response = send(
            staff_api,
            "patch",
            f"/api/v1/contacts/{contact.pk}/",
            {"name": contact.name, "email": contact.email.upper()},
        )
    assert response.status_code == 200
    assert response.json()["email"] == contact.email


# --- the bulk revenue endpoint as a whole ------------------------------------------------


def test_bulk_one_bad_line_among_many_writes_nothing(staff_api, own_partner, unchanged):
    lines = [dict(LINE, reference=f"R-{n}") for n in range(50)]
    lines[37]["amount"] = "1e400"
    with unchanged():
        response = send(staff_api, "post", "/api/v1/revenue/bulk/", lines)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "index": 37,
            "field": "amount",
            "message": "Ensure that there are no more than 20 digits in total.",
        }
    ]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        pytest.param([], 400, "empty", id="empty-list"),
        pytest.param({"lines": [LINE]}, 400, "JSON list", id="object-not-list"),
        pytest.param([LINE] * 1001, 400, "At most 1000 lines", id="1001-lines"),
        pytest.param([0] * 100_000, 400, "At most 1000 lines", id="100k-small-elements"),
        pytest.param([["2000001", "2024-01-15"]], 400, "Invalid data", id="line-as-list"),
        pytest.param(["R-1"], 400, "Invalid data", id="line-as-string"),
        pytest.param([None], 400, "", id="line-null"),
        pytest.param([LINE, LINE], 400, "Duplicate of line 0", id="same-reference-twice"),
        pytest.param(
            [dict(LINE, reference=f"R-{n}") for n in range(100_000)],
            413,
            "larger than",
            id="100k-lines",
        ),
    ],
)
def test_bulk_lists_are_refused(staff_api, own_partner, body, status, says, unchanged):
    with unchanged():
        response = send(staff_api, "post", "/api/v1/revenue/bulk/", body)
    assert response.status_code == status, response.content[:500]
    assert says in response.content.decode()


def test_bulk_amount_as_json_number_1e400_is_refused(staff_api, own_partner, unchanged):
    """1e400 is valid JSON, but no Decimal of ours (it parses as infinity)."""
    body = json.dumps([LINE]).replace('"10.50"', "1e400").encode()
    with unchanged():
        response = send(staff_api, "post", "/api/v1/revenue/bulk/", body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "amount"


# --- query strings of the lists ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status", "says"),
    [
        ("/api/v1/partners/?q=%00", 400, "q"),
        ("/api/v1/partners/?country=D%00", 400, "country"),
        ("/api/v1/partners/?account_manager=%00", 400, "account_manager"),
        ("/api/v1/partners/?status=%00", 400, "status"),
        ("/api/v1/partners/?page=abc", 404, "Invalid page"),
        ("/api/v1/partners/?page=99999999999999999999999", 404, "Invalid page"),
        ("/api/v1/partners/?page=%00", 404, "Invalid page"),
        ("/api/v1/partners/?page_size=-5", 200, "results"),
        ("/api/v1/partners/?page_size=%00", 200, "results"),
        ("/api/v1/locations/?partner=%00", 400, "partner"),
        ("/api/v1/locations/?is_active=%00", 200, "results"),
        ("/api/v1/contacts/?email=%00", 400, "email"),
        ("/api/v1/support-contracts/?active_on=2023-02-30", 400, "active_on"),
        ("/api/v1/support-contracts/?partner=%00", 400, "partner"),
        ("/api/v1/revenue/?date_from=2023-02-30", 400, "date_from"),
        ("/api/v1/revenue/?date_to=%00", 400, "date_to"),
        ("/api/v1/revenue/?currency=%00", 400, "currency"),
        ("/api/v1/revenue/?reference=%00", 400, "reference"),
        ("/api/v1/revenue/?location=%00", 400, "location"),
        ("/api/v1/evaluations/?as_of=2023-02-30", 400, "as_of"),
        ("/api/v1/evaluations/?policy=%00", 400, "policy"),
        ("/api/v1/evaluations/?partner=%00", 400, "partner"),
        ("/api/v1/follow-up-cases/?partner=%00", 400, "partner"),
        ("/api/v1/follow-up-cases/?state=%00", 400, "state"),
    ],
)
def test_bad_query_strings(staff_api, own_partner, evaluated, url, status, says, unchanged):
    with unchanged():
        response = staff_api.get(url)
    assert response.status_code == status, response.content[:500]
    assert says in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/partners/1000001%00/",
        "/api/v1/partners/99999999999999999999/",
        "/api/v1/contacts/99999999999999999999999/",
        "/api/v1/revenue/-1/",
        "/api/v1/evaluations/%00/",
        "/api/v1/follow-up-cases/1e3/",
    ],
)
def test_bad_ids_in_the_path_are_404(staff_api, own_partner, url):
    assert staff_api.get(url).status_code == 404


# --- hostile values are stored as text and come back as text -----------------------------


def test_markup_in_names_comes_back_as_json_text(staff_api, own_partner):
    name = '<script>alert("x")</script> & "Co"'
    response = send(staff_api, "post", "/api/v1/partners/", dict(PARTNER, name=name))
    assert response.status_code == 201
    assert staff_api.get("/api/v1/partners/7000001/").json()["name"] == name
