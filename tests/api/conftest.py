"""API and export fixtures: the portal's two partners with their users,
and API clients that authenticate with tokens."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.portal import conftest as portal

# The web tests' fixtures: a staff user "manager", partners 1000001 (own) and
# 1000002 (foreign) with their users partner1 and partner2, evaluation runs.
staff = portal.staff
today = portal.today
own_partner = portal.own_partner
foreign_partner = portal.foreign_partner
partner_user = portal.partner_user
foreign_user = portal.foreign_user
evaluated = portal.evaluated
missed_case = portal.missed_case


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # UserRateThrottle counts in the cache, which outlives a test's database.
    cache.clear()
    yield
    cache.clear()


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


@pytest.fixture
def staff_api(staff) -> APIClient:
    return token_client(staff)


@pytest.fixture
def partner_api(partner_user) -> APIClient:
    """partner1's token: sees own_partner only."""
    return token_client(partner_user)
