"""Security headers and redirects: the Content-Security-Policy every page
carries (and the two API documentation pages' narrow exceptions), and
``next`` parameters that can only lead back to our own host."""

import pytest
from django.urls import reverse

from tests.factories import PartnerFactory, StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db

STRICT = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "font-src": {"'self'"},
    "connect-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}


def policy(response) -> dict[str, set[str]]:
    """The Content-Security-Policy header as {directive: {sources}}."""
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} twice in {header}"
        directives[name] = set(sources)
    return directives


# --- Content-Security-Policy ----------------------------------------------------


@pytest.fixture
def staff(db):
    return StaffUserFactory(username="maria", is_superuser=True)


def test_login_page_carries_the_strict_policy(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert policy(response) == STRICT


@pytest.mark.parametrize(
    "url",
    ["/", "/partners/", "/admin/", "/admin/partners/partner/", "/api/docs/", "/healthz"],
)
def test_every_page_carries_the_strict_policy(client, staff, url):
    client.force_login(staff)
    response = client.get(url)
    assert response.status_code in (200, 503), url  # /healthz: 503 without a broker
    assert policy(response) == STRICT, url


def test_error_pages_carry_the_policy_too(client, staff):
    client.force_login(staff)
    response = client.get("/partners/no-such-partner/")
    assert response.status_code == 404
    assert policy(response) == STRICT


def test_no_unsafe_inline_or_eval_anywhere_but_the_redoc_page(client, staff):
    client.force_login(staff)
    for url in ("/", "/partners/", "/admin/", "/api/docs/", reverse("login")):
        header = client.get(url)["Content-Security-Policy"]
        assert "unsafe" not in header, (url, header)


def test_redoc_gets_inline_styles_and_a_blob_worker_and_nothing_else(client, staff):
    """Redoc injects <style> elements while it loads and runs its search in
    a blob: worker; scripts stay 'self' only, frames and plugins stay off."""
    client.force_login(staff)
    response = client.get(reverse("api-redoc"))
    assert response.status_code == 200
    directives = policy(response)
    assert directives["style-src"] == {"'self'", "'unsafe-inline'"}
    assert directives["worker-src"] == {"'self'", "blob:"}
    expected = {k: v for k, v in STRICT.items() if k != "style-src"}
    assert {k: v for k, v in directives.items() if k not in ("style-src", "worker-src")} == (
        expected
    )
    content = response.content.decode()
    assert "<script>" not in content and "<style" not in content
    assert "fonts.googleapis.com" not in content and "cdn" not in content.lower()


def test_swagger_page_has_no_inline_script_or_style(client, staff):
    """drf-spectacular's split view: the init script is a separate request;
    our template drops the page's inline <style> block."""
    client.force_login(staff)
    response = client.get(reverse("api-docs"))
    content = response.content.decode()
    assert "<style" not in content
    assert "<script>" not in content
    assert "?script=" in content
    script = client.get(reverse("api-docs") + "?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


def test_admin_history_allows_style_attributes_only(client, staff):
    """django-simple-history's history list has one style="" attribute; its
    page allows style attributes, never <style> elements or scripts."""
    client.force_login(staff)
    partner = PartnerFactory()
    response = client.get(reverse("admin:partners_partner_history", args=[partner.pk]))
    assert response.status_code == 200
    directives = policy(response)
    assert directives.pop("style-src-attr") == {"'unsafe-inline'"}
    assert directives == STRICT
    # the change form next to it has no exception
    response = client.get(reverse("admin:partners_partner_change", args=[partner.pk]))
    assert policy(response) == STRICT


def test_our_templates_have_no_inline_event_handlers_or_javascript_urls():
    """The policy forbids them; a template that used one would silently
    break in the browser."""
    import re
    from pathlib import Path

    from django.conf import settings

    offenders = []
    for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        if "emails" in path.parts:
            continue  # emails are not served under the policy
        text = path.read_text(encoding="utf-8")
        if re.search(r"\son[a-z]+\s*=", text) or "javascript:" in text.lower():
            offenders.append(str(path))
    assert offenders == []


# --- redirects stay on our host ----------------------------------------------------

HOSTILE = [
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "///evil.example",
    "https:evil.example",
    "http://testserver@evil.example/",
    "javascript:alert(1)",
    " javascript:alert(1)",
    "JAVASCRIPT:alert(1)",
    "data:text/html,<script>alert(1)</script>",
]


def _lands_on_our_host(response, expected: str) -> None:
    assert response.status_code == 302
    location = response["Location"]
    assert location == expected, location


@pytest.mark.parametrize("target", HOSTILE)
def test_login_next_cannot_leave_our_host(client, target):
    UserFactory(username="anna")
    response = client.post(
        reverse("login") + "?next=" + target, {"username": "anna", "password": "portal-demo"}
    )
    _lands_on_our_host(response, "/")
    client.logout()
    response = client.post(
        reverse("login"), {"username": "anna", "password": "portal-demo", "next": target}
    )
    _lands_on_our_host(response, "/")


@pytest.mark.parametrize("target", HOSTILE)
def test_login_form_does_not_carry_a_hostile_next(client, target):
    response = client.get(reverse("login"), {"next": target})
    assert response.status_code == 200
    assert response.context["next"] == ""


def test_login_next_on_our_host_is_followed(client):
    UserFactory(username="anna")
    response = client.post(
        reverse("login"), {"username": "anna", "password": "portal-demo", "next": "/partners/"}
    )
    _lands_on_our_host(response, "/partners/")


@pytest.mark.parametrize("target", HOSTILE)
def test_logout_next_cannot_leave_our_host(client, target):
    client.force_login(UserFactory())
    response = client.post(reverse("logout") + "?next=" + target)
    _lands_on_our_host(response, reverse("login"))
    client.force_login(UserFactory())
    response = client.post(reverse("logout"), {"next": target})
    _lands_on_our_host(response, reverse("login"))


@pytest.mark.parametrize("target", HOSTILE)
def test_language_switch_next_cannot_leave_our_host(client, target):
    response = client.post(reverse("set_language"), {"language": "de", "next": target})
    _lands_on_our_host(response, "/")
    # nor through a forged Referer when next is missing
    response = client.post(reverse("set_language"), {"language": "en"}, HTTP_REFERER=target)
    _lands_on_our_host(response, "/")
    response = client.get(reverse("set_language"), {"next": target})
    assert response.status_code in (204, 302)
    if response.status_code == 302:
        assert response["Location"] == "/"


def test_language_switch_next_on_our_host_is_followed(client):
    response = client.post(reverse("set_language"), {"language": "de", "next": "/partners/"})
    _lands_on_our_host(response, "/partners/")


@pytest.mark.parametrize("target", HOSTILE)
def test_admin_login_next_cannot_leave_our_host(client, target):
    StaffUserFactory(username="maria")
    response = client.post(
        reverse("admin:login"),
        {"username": "maria", "password": "portal-demo", "next": target},
    )
    assert response.status_code == 302
    assert response["Location"] in ("/", reverse("admin:index")), response["Location"]
