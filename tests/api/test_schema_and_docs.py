"""The OpenAPI schema validates; the documentation pages load everything
from /static/ (drf-spectacular-sidecar), nothing from a CDN."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client, staff):
    client.force_login(staff)
    return client


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/", "/api/docs/redoc/"])
def test_schema_and_docs_need_a_login(url):
    from django.test import Client

    assert Client().get(url).status_code == 401


def test_a_partner_user_may_read_the_schema(partner_user):
    from django.test import Client

    client = Client()
    client.force_login(partner_user)
    assert client.get("/api/schema/").status_code == 200


def test_schema_is_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/revenue/bulk/" in schema["paths"]
    assert "/api/v1/partners/{partner_id}/" in schema["paths"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_schema_offers_json_bodies_only(client):
    # Form and multipart bodies are for the browsable API; a client generated
    # from the schema sends JSON (tests/api/test_generated_client.py).
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    bodies = {
        (method, path): operation["requestBody"]["content"]
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }
    assert len(bodies) == 8  # 4 creates, contact PUT and PATCH, the case move, revenue bulk
    assert {media for content in bodies.values() for media in content} == {"application/json"}
    assert bodies["post", "/api/v1/revenue/bulk/"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/RevenueLineRequest"},
    }


def test_schema_validates_without_warnings(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")
    )
    assert "/api/v1/evaluations/" in (tmp_path / "schema.yml").read_text()


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("url", ["/api/docs/", "/api/docs/redoc/"])
def test_docs_pages_load_their_assets_locally(client, url):
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"https?://", html)
    assets = _assets(html)
    assert assets
    for asset in assets:
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), asset
        else:
            assert asset.startswith(url), asset  # the init script of Swagger UI
    assert "<script>" not in html  # no inline script (CSP)


def test_swagger_init_script_is_served(client):
    response = client.get("/api/docs/?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b"/api/schema/" in response.content


def test_api_token_create_creates_and_rotates(staff, capsys):
    call_command("api_token_create", "manager")
    first = capsys.readouterr().out.strip()
    assert Token.objects.get(user=staff).key == first
    call_command("api_token_create", "manager")
    second = capsys.readouterr().out.strip()
    assert second != first
    assert list(Token.objects.values_list("key", flat=True)) == [second]


def test_api_token_create_refuses_unknown_users():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user"):
        call_command("api_token_create", "ghost")


def test_a_created_token_works(staff):
    from django.test import Client

    call_command("api_token_create", "manager")
    key = Token.objects.get(user=staff).key
    response = Client().get("/api/v1/partners/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
