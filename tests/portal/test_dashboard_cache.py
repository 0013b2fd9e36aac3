"""The staff dashboard and the direct-bill list are cached per scope; an
evaluation run (nightly or one partner) shows at once, because the cache key
carries the evaluations' data version."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from compliance import dashboard
from compliance.services import evaluation_run
from partners import services as ps
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return response, len(ctx.captured_queries)


def test_a_second_visit_is_served_from_the_cache(client, staff, evaluated):
    client.force_login(staff)
    _first, cold = _queries(client, reverse("dashboard"))
    _second, warm = _queries(client, reverse("dashboard"))
    assert warm <= cold - 6  # session, user, data version: the aggregates are cached


def test_a_new_run_shows_at_once(
    client, staff, own_partner, evaluated, today, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    before = client.get(reverse("dashboard")).context["summary"]
    # Enough revenue to meet the threshold, then the partner is re-evaluated.
    ps.revenue_record_create(
        location=own_partner.locations.get(),
        revenue_date=today - datetime.timedelta(days=3),
        amount=Decimal("10000000"),
        currency="USD",
        reference="INV-BIG",
    )
    with django_capture_on_commit_callbacks(execute=True):  # the version rises after commit
        evaluation_run(as_of=today, partner_pks={own_partner.pk})
    after = client.get(reverse("dashboard")).context["summary"]
    fresh = dashboard.dashboard_summary(partners=own_partner.__class__.objects.all(), today=today)
    assert [c[1] for c in after.counts] == [c[1] for c in fresh.counts]
    assert [c[1] for c in after.counts] != [c[1] for c in before.counts]


def test_my_partners_and_all_partners_are_cached_apart(client, staff, foreign_partner, evaluated):
    foreign_partner.account_manager = StaffUserFactory(username="other-manager")
    foreign_partner.save()
    client.force_login(staff)
    everyone = client.get(reverse("dashboard") + "?mine=0").context["summary"]
    mine = client.get(reverse("dashboard") + "?mine=1").context["summary"]
    assert (everyone.partner_count, mine.partner_count) == (2, 1)
    again = client.get(reverse("dashboard") + "?mine=0").context["summary"]
    assert again.partner_count == 2
    other = client.get(reverse("partners:direct-bill-ready") + "?mine=1")
    assert other.status_code == 200


def test_the_nightly_task_leaves_the_dashboard_warm(
    client, staff, own_partner, today, django_capture_on_commit_callbacks
):
    from jobs.tasks import evaluate_all

    with django_capture_on_commit_callbacks(execute=True):
        evaluate_all.delay(today.isoformat())
    client.force_login(staff)
    _response, queries = _queries(client, reverse("dashboard"))
    assert queries <= 4  # session, user, data version (+ session save): no aggregates


def test_with_the_cache_server_down_the_dashboard_still_answers(client, staff, evaluated, settings):
    import socket

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    client.force_login(staff)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert response.context["summary"].partner_count == 2
