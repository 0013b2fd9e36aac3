"""Fixtures of the bad-input tests: the portal's two partners with their
users (tests.portal.conftest), token API clients, and a snapshot of every
table of our apps to show that a refused request wrote nothing."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.cache import cache

from tests.api.conftest import token_client
from tests.portal import conftest as portal

staff = portal.staff
today = portal.today
own_partner = portal.own_partner
foreign_partner = portal.foreign_partner
partner_user = portal.partner_user
foreign_user = portal.foreign_user
evaluated = portal.evaluated
missed_case = portal.missed_case

#: Apps whose tables a refused request must leave alone (history tables included).
APPS = ("partners", "compliance", "notifications", "auth", "authtoken")


def db_state() -> dict[str, list[tuple]]:
    """Every row of every table of ``APPS``, in primary key order."""
    state = {}
    for app in APPS:
        for model in apps.get_app_config(app).get_models():
            state[model._meta.label] = list(model.objects.order_by("pk").values_list())
    return state


class Unchanged:
    """``with unchanged():`` fails if any table of ``APPS`` changed (but those
    in ``ignore``, by model label)."""

    def __init__(self, ignore: frozenset[str] | set[str] = frozenset()):
        self.ignore = ignore

    def __enter__(self):
        self.before = db_state()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            after = db_state()
            changed = [
                label
                for label in after
                if label not in self.ignore and after[label] != self.before[label]
            ]
            assert not changed, f"tables changed: {changed}"
        return False


@pytest.fixture
def unchanged():
    return Unchanged


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # The API's UserRateThrottle counts in the cache, which outlives a test's database.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff_api(staff):
    return token_client(staff)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client
