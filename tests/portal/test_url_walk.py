"""Walk EVERY URL pattern of the project as the partner user of one partner,
aiming each at another partner's objects: the answer is never their data.

New URL patterns are covered automatically; a pattern with a parameter the
walker does not know fails the test until somebody says what to put there.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from compliance.models import DeadlineOutcome, FollowUpCase
from partners.models import Contact, Location, Partner, RevenueRecord, SupportContract

pytestmark = pytest.mark.django_db

# Answers that carry no data: sent to a login page, refused or not found.
REFUSED = {401, 403, 404, 405}
LOGIN_PREFIXES = ("/accounts/login/", "/admin/login/")
# Pages without an object in the URL that a partner user may open (their own
# dashboard, account pages, language switch, health check...).
ANONYMOUS_OPEN_PAGES = {
    "dashboard",
    "healthz",
    "login",
    "logout",
    "password_change",
    "password_change_done",
    "password_reset",
    "password_reset_done",
    "password_reset_complete",
    "password_reset_confirm",
    "set_language",
    # django-allauth (ADR 0010): the login aliases it reverses, its pages
    # about a company login that ended, and the OpenID Connect endpoints
    # a browser reaches before it is signed in.
    "account_login",
    "account_logout",
    "account_signup",
    "account_inactive",
    "account_reset_password",
    "account_change_password",
    "socialaccount_login_cancelled",
    "socialaccount_login_error",
    "socialaccount_signup",
    "openid_connect_login",
    "openid_connect_callback",
    "mfa_authenticate",
}
# For partner users also these:
OPEN_PAGES = ANONYMOUS_OPEN_PAGES | {
    # The user's own account: sessions, second factor, company login.
    "sessions",
    "mfa_index",
    "mfa_reauthenticate",
    "mfa_activate_totp",
    "mfa_deactivate_totp",
    "mfa_view_recovery_codes",
    "mfa_generate_recovery_codes",
    "mfa_download_recovery_codes",
    "socialaccount_connections",
    "account_reauthenticate",
    # API and exports: a partner user's own data. The walker's id candidates
    # can be the user's own objects, so a 200 is allowed here; the marker
    # check still refuses any trace of another partner.
    "api-root",
    "partner-list",
    "location-list",
    "contact-list",
    "support-contract-list",
    "revenue-list",
    "evaluation-list",
    "follow-up-case-list",
    "api-schema",
    "api-docs",
    "api-redoc",
    "revenue-csv",
    "revenue-xlsx",
    "contact-detail",
    "support-contract-detail",
    "revenue-detail",
    "evaluation-detail",
    "follow-up-case-detail",
    "follow-up-case-move",
}


# Named groups of the includes above a pattern (allauth's OpenID Connect
# URLs take <provider_id> in their include), by the pattern's id.
_OUTER_PARAMS: dict[int, list[str]] = {}


def _walk(patterns, namespace="", outer=()):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace
            groups = tuple(getattr(entry.pattern, "regex", None).groupindex)
            yield from _walk(
                entry.url_patterns, f"{namespace}{ns}:" if ns else namespace, outer + groups
            )
        elif isinstance(entry, URLPattern) and entry.name:
            _OUTER_PARAMS[id(entry)] = list(outer)
            yield f"{namespace}{entry.name}", entry


def _params(pattern: URLPattern) -> list[str]:
    regex = pattern.pattern.regex
    if regex.groups > len(regex.groupindex):
        # Positional groups (e.g. simple_history's admin views): an object id
        # and then a version id.
        return [f"_{i}" for i in range(regex.groups)]
    return _OUTER_PARAMS.get(id(pattern), []) + list(regex.groupindex)


def _reverse(name: str, kwargs: dict) -> str:
    if any(key.startswith("_") for key in kwargs):
        return reverse(name, args=[kwargs[k] for k in sorted(kwargs)])
    return reverse(name, kwargs=kwargs)


@pytest.fixture
def world(partner_user, foreign_partner, missed_case):
    """The partner user's own partner, and everything of two other partners."""
    foreign_location = foreign_partner.locations.get()
    contract = SupportContract.objects.create(
        partner=foreign_partner, plan_type="asfp", contract_number="FOREIGN-1",
        start_date="2024-01-01", end_date="2024-12-31", is_paid=True,
    )  # fmt: skip
    return {
        "foreign": foreign_partner,
        "foreign_location": foreign_location,
        "contact": foreign_partner.contacts.get(),
        "contract": contract,
        "case": FollowUpCase.objects.get(partner=missed_case),
        "outcome": DeadlineOutcome.objects.get(partner=missed_case),
        "revenue": RevenueRecord.objects.filter(location=foreign_location).first(),
        "missed": missed_case,
    }


def _candidates(name: str, param: str, world) -> list[str]:
    """Values to try for ``param``: always the other partners' objects."""
    foreign = world["foreign"]
    if param == "partner_id":
        return [foreign.partner_id]
    if param == "location_id":
        return [world["foreign_location"].location_id]
    if param in {"pk", "object_id", "id", "_0"}:
        return [
            str(world[k].pk)
            for k in ("contact", "case", "outcome", "contract", "revenue", "foreign")
        ] + [str(world["missed"].pk)]
    fixed = {
        "app_label": "partners",
        "model": "partner",
        "kind": "reminder",
        "lang": "en",
        "language": "en",
        "format": "json",
        "uidb64": "MQ",
        "token": "set-password",
        "content_type_id": "1",
        "url": "partners/partner/",
        "path": "x",
        "version_id": "1",
        "_1": "1",
        "provider_id": "sso",
    }
    if param in fixed:
        return [fixed[param]]
    raise AssertionError(f"{name}: the URL walker does not know what to put in <{param}>")


def _markers(world) -> list[str]:
    return [
        world["foreign"].name,
        world["foreign"].partner_id,
        world["foreign_location"].location_id,
        world["contact"].email,
        world["missed"].name,
    ]


def _counts():
    return [m.objects.count() for m in (Partner, Location, Contact, RevenueRecord, SupportContract)]


def _check(response, url, method, markers, must_refuse):
    status = response.status_code
    if status in (301, 302):
        location = response["Location"]
        assert location.startswith(LOGIN_PREFIXES) or not must_refuse, (
            f"{method} {url} redirected to {location}"
        )
        return
    if must_refuse:
        assert status in REFUSED, f"{method} {url} answered {status}"
    assert status < 500, f"{method} {url} answered {status}"
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    # The page may echo the address asked for (e.g. the language switcher's
    # "next"); that is not data.
    body = raw.decode(errors="replace").replace(url, "")
    for marker in markers:
        assert marker not in body, f"{method} {url} shows {marker!r}"


def test_every_url_refuses_a_partner_user_another_partners_data(client, partner_user, world):
    client.force_login(partner_user)
    markers = _markers(world)
    before = _counts()
    walked = 0
    for name, pattern in _walk(get_resolver().url_patterns):
        params = _params(pattern)
        if not params:
            url = reverse(name)
            must_refuse = name.split(":")[-1] not in OPEN_PAGES
        else:
            values = {p: _candidates(name, p, world) for p in params}
            # Try every combination of the first value of all but one param.
            combos = []
            for p in params:
                for value in values[p]:
                    combos.append({q: (value if q == p else values[q][0]) for q in params})
            for kwargs in combos:
                try:
                    url = _reverse(name, kwargs)
                except Exception:  # noqa: S112 - a converter refused the value
                    continue
                for method in ("get", "post"):
                    response = getattr(client, method)(url)
                    refuse = name.split(":")[-1] not in OPEN_PAGES
                    _check(response, url, method.upper(), markers, must_refuse=refuse)
                    walked += 1
            continue
        if name.endswith("logout") or name.endswith("set_language"):
            continue  # would end the session / only switches language
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            _check(response, url, method.upper(), markers, must_refuse=must_refuse)
            walked += 1
    assert _counts() == before, "a refused request wrote something"
    assert walked > 50


def test_anonymous_users_get_nothing_but_the_login_page(client, world):
    markers = _markers(world)
    for name, pattern in _walk(get_resolver().url_patterns):
        params = _params(pattern)
        short = name.split(":")[-1]
        kwargs = {p: _candidates(name, p, world)[0] for p in params}
        try:
            url = _reverse(name, kwargs)
        except Exception:  # noqa: S112
            continue
        response = client.get(url)
        if short in ANONYMOUS_OPEN_PAGES:
            assert response.status_code < 500, url
            continue
        _check(response, url, "GET", markers, must_refuse=True)
        if response.status_code in (301, 302):
            assert re.match(r"^/(accounts|admin)/login/", response["Location"]), url


SIMULATOR_PAGES = {
    "compliance:simulator",
    "compliance:simulator-csv",
    "compliance:simulator-xlsx",
    "compliance:simulation-run-create",
    "compliance:simulation-run",
    "compliance:simulation-run-progress",
    "compliance:simulation-run-csv",
    "compliance:simulation-run-xlsx",
    "compliance:draft-save",
    "compliance:draft-publish",
}


def test_the_walk_covers_the_policy_simulator_and_partner_users_get_404(
    client, partner_user, world
):
    """The simulator does not exist for partner users (404, not 403)."""
    patterns = dict(_walk(get_resolver().url_patterns))
    assert set(patterns) >= SIMULATOR_PAGES
    client.force_login(partner_user)
    for name in sorted(SIMULATOR_PAGES):
        kwargs = {p: _candidates(name, p, world)[0] for p in _params(patterns[name])}
        url = _reverse(name, kwargs)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in (404, 405), f"{method} {url}: {response.status_code}"
