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
