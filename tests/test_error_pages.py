"""Our own error pages: never Django's bare ones, never a stack trace."""

import pytest
from django.test import Client
from django.urls import path

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _boom(request):
    raise RuntimeError("secret detail")


urlpatterns = [path("boom/", _boom)]


def test_404_page_has_the_layout_and_a_way_back(client):
    client.force_login(UserFactory())
    response = client.get("/partners/999999999/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "navbar" in body and "To the dashboard" in body


def test_500_page_shows_no_stack_trace(settings):
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body and "secret detail" not in body
    assert "Traceback" not in body


def test_a_form_with_too_many_fields_gets_our_400_page(client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
    client.force_login(UserFactory())
    response = client.post("/i18n/setlang/", {f"f{i}": "x" for i in range(500)})
    assert response.status_code == 400
    body = response.content.decode()
    assert "We could not accept what was sent" in body and "Nothing was saved" in body
