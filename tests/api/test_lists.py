"""Pagination, filters and pinned query budgets of the list endpoints."""

from __future__ import annotations

import datetime

import pytest

from tests.portal.conftest import build_portfolio

from .conftest import token_client


def test_page_size_parameter_and_its_cap(staff_api, own_partner, foreign_partner):
    response = staff_api.get("/api/v1/partners/?page_size=1")
    body = response.json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]
    second = staff_api.get("/api/v1/partners/?page_size=1&page=2").json()
    assert second["results"][0]["partner_id"] != body["results"][0]["partner_id"]
    assert staff_api.get("/api/v1/partners/?page=99").status_code == 404


def test_page_size_is_capped(staff, today, monkeypatch):
    from api.pagination import PageNumberPagination

    assert PageNumberPagination.max_page_size == 500
    build_portfolio(3, staff, today)  # 12 revenue records
    client = token_client(staff)
    assert len(client.get("/api/v1/revenue/?page_size=100000").json()["results"]) == 12
    monkeypatch.setattr(PageNumberPagination, "max_page_size", 5)
    assert len(client.get("/api/v1/revenue/?page_size=100000").json()["results"]) == 5


def test_evaluation_filters(staff_api, evaluated, today):
    everything = staff_api.get("/api/v1/evaluations/?page_size=500").json()
    assert {e["as_of"] for e in everything["results"]} == {
        today.isoformat(),
        (today - datetime.timedelta(days=1)).isoformat(),
    }
    todays = staff_api.get(f"/api/v1/evaluations/?as_of={today}&page_size=500").json()
    assert todays["count"] == everything["count"] / 2
    at_risk = staff_api.get(f"/api/v1/evaluations/?as_of={today}&status=at_risk").json()
    assert at_risk["count"] >= 1
    assert {e["status"] for e in at_risk["results"]} == {"at_risk"}
    assert {e["partner_id"] for e in at_risk["results"]} == {"1000001"}
    policy = at_risk["results"][0]["policy"]
    by_policy = staff_api.get(f"/api/v1/evaluations/?policy={policy}&purpose=compliance").json()
    assert by_policy["count"] >= 2
    assert {(e["policy"], e["purpose"]) for e in by_policy["results"]} == {(policy, "compliance")}
    assert staff_api.get("/api/v1/evaluations/?policy=no-such").json()["count"] == 0
    # the figures derived for the day keep their format: strings of fixed places
    with_outlook = [e for e in everything["results"] if e["pace_usd"] is not None]
    assert with_outlook
    for e in with_outlook:
        assert len(e["pace_usd"].split(".")[1]) == 12
        assert len(e["projected_usd"].split(".")[1]) == 12
        assert e["explanation"] and e["explanation_de"]
    # one evaluation by its id, the same as in the list
    first = everything["results"][0]
    assert staff_api.get(f"/api/v1/evaluations/{first['id']}/").json() == first


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/evaluations/?as_of=yesterday",
        "/api/v1/evaluations/?status=fine",
        "/api/v1/revenue/?date_from=2024-13-01",
    ],
)
def test_invalid_filter_values_are_400(staff_api, own_partner, query):
    response = staff_api.get(query)
    assert response.status_code == 400


def test_revenue_filters(staff_api, own_partner, foreign_partner, today):
    rows = staff_api.get("/api/v1/revenue/?partner=1000002").json()["results"]
    assert [r["reference"] for r in rows] == ["INV-1000002"]
    day = today - datetime.timedelta(days=40)
    assert staff_api.get(f"/api/v1/revenue/?date_from={day}&date_to={day}").json()["count"] == 2
    after = day + datetime.timedelta(days=1)
    assert staff_api.get(f"/api/v1/revenue/?date_from={after}").json()["count"] == 0


# Queries per request, whatever the number of rows: the token (with its user)
# and the page's count and rows, plus one per prefetch. A partner user's token
# adds one query to find their partner.
BUDGETS = {
    "/api/v1/partners/": 5,  # + designations and locations prefetched
    "/api/v1/locations/": 3,
    "/api/v1/contacts/": 3,
    "/api/v1/support-contracts/": 3,
    "/api/v1/revenue/": 3,
    "/api/v1/evaluations/": 3,
    "/api/v1/follow-up-cases/": 3,
}


@pytest.mark.parametrize("n", [3, 30])
@pytest.mark.parametrize("url", list(BUDGETS))
def test_list_query_budget_is_the_same_for_3_and_30_partners(
    staff, today, django_assert_num_queries, n, url
):
    build_portfolio(n, staff, today)
    client = token_client(staff)
    with django_assert_num_queries(BUDGETS[url]):
        response = client.get(url, {"page_size": 500})
    assert response.status_code == 200
    assert response.json()["count"] > 0 or url.endswith("follow-up-cases/")


@pytest.mark.parametrize("n", [3, 30])
def test_partner_token_query_budget(staff, today, django_assert_num_queries, n):
    from partners import services as ps
    from tests.factories import UserFactory

    partners = build_portfolio(n, staff, today)
    user = UserFactory(username="p")
    ps.contact_create(partner=partners[0], name="P", email="p@example.com", login=user)
    client = token_client(user)
    with django_assert_num_queries(4):
        response = client.get("/api/v1/revenue/")
    assert response.json()["count"] == 3
