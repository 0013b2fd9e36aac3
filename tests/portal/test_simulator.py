"""The policy simulator page for compliance admins (PRODUCT 8): access, the
draft form, summary, chart data, table (filters, sorting, pages), exports,
large runs in the worker, saved drafts and publishing a new version."""

from __future__ import annotations

import csv
import datetime
import io
import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse
from openpyxl import load_workbook

from compliance.models import Policy, PolicyDraft, SimulationRun
from tests.factories import StaffUserFactory
from tests.portal.conftest import build_portfolio

pytestmark = pytest.mark.django_db
RESELLER = "csp-indirect-reseller-2024"
URL = "/compliance/simulator/"


def grant(user, *codenames):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="compliance", codename__in=codenames)
    )
    return user


@pytest.fixture
def admin_user(db):
    """A compliance admin: staff who may run simulations and publish."""
    return grant(
        StaffUserFactory(username="compliance", first_name="Clara", last_name="Admin"),
        "run_simulation",
        "publish_policy",
    )


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def question(**changes) -> dict:
    """The simulator's query for the reseller policy, stored values changed."""
    params = {
        "run": "1",
        "policy": RESELLER,
        "threshold_usd": "1000.00",
        "effective_from": "2024-04-01",
        "deadline_anchor": "onboarding_anniversary_month",
    }
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


# --- access ----------------------------------------------------------------------------


def test_anonymous_users_go_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_partner_users_get_404(client, partner_user):
    client.force_login(partner_user)
    assert client.get(URL).status_code == 404
    assert client.get(reverse("compliance:simulator-csv"), question()).status_code == 404


def test_staff_without_the_permission_get_403(client, staff):
    client.force_login(staff)
    assert client.get(URL).status_code == 403


def test_publishing_needs_its_own_permission(client, own_partner):
    user = grant(StaffUserFactory(), "run_simulation")
    client.force_login(user)
    assert client.get(URL).status_code == 200
    draft = PolicyDraft.objects.create(
        name="x", policy=Policy.objects.get(code=RESELLER), changes={}
    )
    assert client.get(reverse("compliance:draft-publish", args=[draft.pk])).status_code == 403


# --- the form and the result -----------------------------------------------------------


def test_choosing_a_policy_fills_the_form_with_its_stored_values(admin_client):
    response = admin_client.get(URL, {"policy": RESELLER})
    form = response.context["form"]
    assert form.initial["threshold_usd"] == Decimal("1000.00")
    assert form.initial["effective_from"] == datetime.date(2024, 4, 1)
    assert "summary" not in response.context


def test_raising_the_threshold_shows_who_fails_and_by_how_much(
    admin_client, own_partner, foreign_partner
):
    # own partner: USD 400 (at risk); foreign: USD 5,000 (compliant).
    response = admin_client.get(URL, question(threshold_usd="6000"))
    assert response.status_code == 200
    summary = response.context["summary"]
    assert summary.subjects == 2
    assert summary.newly_at_risk == 1
    assert summary.by_status["draft"]["at_risk"] == 2
    assert summary.by_status["baseline"]["compliant"] == 1
    assert summary.needed_usd == Decimal("6600.00")  # 5,600 + 1,000
    body = response.content.decode()
    assert "Highland Systems Ltd" in body
    assert 'data-testid="newly-at-risk">1<' in body
    chart = json.loads(
        body.split('id="simulation-chart-data" type="application/json">')[1].split("</script>")[0]
    )
    # met, on track, short, none: Highland is met today and on track for
    # USD 6,000; Lindenhof on track for 1,000, short of 6,000.
    assert [d["values"] for d in chart["datasets"]] == [[1, 1, 0, 0], [0, 1, 1, 0]]
    assert 'role="img"' in body and "aria-label=" in body
    rows = list(response.context["page_obj"])
    assert rows[0]["partner_name"] == "Highland Systems Ltd"  # the most affected first


def test_a_bad_draft_is_a_form_error_not_a_500(admin_client, own_partner):
    response = admin_client.get(URL, question(threshold_usd="-5"))
    assert response.status_code == 200
    assert "threshold_usd" in response.context["form"].errors
    response = admin_client.get(
        URL, question(effective_from="2026-01-01", effective_to="2025-01-01")
    )
    assert response.status_code == 200
    assert "effective_to" in response.context["form"].errors
    response = admin_client.get(URL, question(policy="no-such"))
    assert "policy" in response.context["form"].errors


def test_every_draft_field_reaches_the_simulation(admin_client, own_partner):
    response = admin_client.get(
        URL,
        question(
            threshold_usd="2000",
            effective_from="2026-06-01",
            effective_to="2030-12-31",
            deadline_anchor="support_plan_renewal",
            qualifying_plan_types="asfp",
            requires_designation="on",
            requires_agreement="on",
        ),
    )
    assert response.context["changes"] == {
        "threshold_usd": Decimal("2000"),
        "effective_from": datetime.date(2026, 6, 1),
        "effective_to": datetime.date(2030, 12, 31),
        "deadline_anchor": "support_plan_renewal",
        "qualifying_plan_types": ("asfp",),
        "requires_designation": True,
        "requires_agreement": True,
    }
    (row,) = response.context["page_obj"]
    assert row["unmet"] == ["revenue", "support_plan", "designation", "agreement"]
    assert row["status"] == "non_compliant"  # no plan: no renewal deadline
    assert row["baseline_status"] == "at_risk"


def test_the_table_filters_by_account_manager_and_country_and_sorts(
    admin_client, own_partner, foreign_partner, staff
):
    other = StaffUserFactory(username="other", first_name="Otto", last_name="Other")
    foreign_partner.account_manager = other
    foreign_partner.country = "GB"
    foreign_partner.save()
    response = admin_client.get(URL, question(manager=str(other.pk)))
    assert [r["partner_id"] for r in response.context["page_obj"]] == ["1000002"]
    assert response.context["managers"] == [(staff.pk, "Maria Lehner"), (other.pk, "Otto Other")]
    response = admin_client.get(URL, question(country="DE"))
    assert [r["partner_id"] for r in response.context["page_obj"]] == ["1000001"]
    response = admin_client.get(URL, question(sort="partner"))
    assert [r["partner_name"] for r in response.context["page_obj"]] == [
        "Highland Systems Ltd",
        "Lindenhof IT GmbH",
    ]
    response = admin_client.get(URL, question(sort="-partner"))
    assert [r["partner_id"] for r in response.context["page_obj"]] == ["1000001", "1000002"]
    response = admin_client.get(URL, question(sort="-needed", threshold_usd="6000"))
    assert [r["partner_id"] for r in response.context["page_obj"]] == ["1000001", "1000002"]
    response = admin_client.get(URL, question(affected="1", threshold_usd="4000"))
    assert [r["partner_id"] for r in response.context["page_obj"]] == ["1000001"]


def test_every_sort_of_the_table_answers(admin_client, own_partner, foreign_partner):
    from portal.views.simulator import SORTS

    for key in SORTS:
        for sort in (key, f"-{key}"):
            response = admin_client.get(URL, question(sort=sort, threshold_usd="6000"))
            assert response.status_code == 200, sort
            assert len(response.context["page_obj"]) == 2, sort


def test_the_table_is_paginated(admin_client, admin_user, today, monkeypatch):
    monkeypatch.setattr("portal.views.simulator.PAGE_SIZE", 5)
    build_portfolio(12, admin_user, today)
    response = admin_client.get(URL, question())
    page = response.context["page_obj"]
    assert page.paginator.count == response.context["summary"].subjects > 5
    assert len(page.object_list) == 5
    second = admin_client.get(URL, question(page="2"))
    assert second.context["page_obj"].number == 2


#: Queries of one simulation page: session, user, 2 permissions, the
#: policy and its requirements (form, run), subject count, the run's facts
#: (partners, locations, contracts, TTM with its rates and what rolls off,
#: open missed deadlines), the outlooks (what is dated from today on; a
#: draft with the stored deadlines needs no span query), the names, the
#: policy choices, the draft list - on PostgreSQL. SQLite reads the rates
#: of the TTM in one more. The same for 3 partners as for 60.
PAGE_QUERIES = 17


@pytest.fixture
def page_queries():
    return PAGE_QUERIES + (connection.vendor == "sqlite")


@pytest.mark.parametrize("partners", [3, 60])
def test_the_page_query_count_is_pinned(
    admin_client, admin_user, today, partners, page_queries, django_assert_num_queries
):
    build_portfolio(partners, admin_user, today)
    with django_assert_num_queries(page_queries):
        response = admin_client.get(URL, question(threshold_usd="5000"))
    assert response.status_code == 200
    assert response.context["summary"].subjects >= partners * 4 // 5  # the resellers' locations
    assert list(response.context["page_obj"])


# --- exports ---------------------------------------------------------------------------


def test_csv_export_has_every_subject_with_draft_and_baseline(
    admin_client, own_partner, foreign_partner
):
    response = admin_client.get(reverse("compliance:simulator-csv"), question(threshold_usd="6000"))
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["partner_id"] for r in rows} == {"1000001", "1000002"}
    foreign = next(r for r in rows if r["partner_id"] == "1000002")
    assert (foreign["baseline_status"], foreign["status"]) == ("compliant", "at_risk")
    assert foreign["threshold_usd"] == "6000.00"
    assert foreign["baseline_threshold_usd"] == "1000.00"
    assert foreign["extra_needed_usd"] == "1000.00"


def test_xlsx_export(admin_client, own_partner, foreign_partner):
    response = admin_client.get(
        reverse("compliance:simulator-xlsx"), question(threshold_usd="6000")
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(sheet.values)
    assert values[0][:3] == ("partner_id", "partner_name", "country")
    assert len(values) == 3


# --- large runs in the worker ----------------------------------------------------------


def test_a_large_run_goes_to_the_worker_with_a_progress_bar(
    admin_client, own_partner, foreign_partner, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATOR_SYNC_MAX_SUBJECTS = 1
    response = admin_client.get(URL, question(threshold_usd="6000"))
    assert response.context["too_large"] == 2
    assert "summary" not in response.context
    query = response.wsgi_request.GET.urlencode()
    create = f"{reverse('compliance:simulation-run-create')}?{query}"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(create)
    run = SimulationRun.objects.get()
    assert response["Location"] == reverse("compliance:simulation-run", args=[run.pk])
    page = admin_client.get(response["Location"])
    assert page.context["in_progress"]
    assert "data-import-progress-url" in page.content.decode()
    progress = admin_client.get(reverse("compliance:simulation-run-progress", args=[run.pk]))
    assert progress.json() == {"status": "pending", "progress": 0.0, "done": False}
    for callback in callbacks:
        callback()  # the worker (eager in tests)
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert admin_client.get(
        reverse("compliance:simulation-run-progress", args=[run.pk])
    ).json() == {"status": "succeeded", "progress": 1.0, "done": True}
    page = admin_client.get(reverse("compliance:simulation-run", args=[run.pk]))
    assert page.context["summary"].newly_at_risk == 1
    export = admin_client.get(reverse("compliance:simulation-run-csv", args=[run.pk]))
    assert b"1000002" in b"".join(export.streaming_content)


def test_running_a_worker_task_twice_runs_it_once(admin_user, own_partner):
    from compliance import drafts, tasks

    run = drafts.simulation_run_create(
        policy=Policy.objects.get(code=RESELLER),
        changes={"threshold_usd": "10"},
        as_of=datetime.date(2026, 1, 1),
        user=admin_user,
    )
    assert tasks.simulate(run.pk)["status"] == "succeeded"
    assert tasks.simulate(run.pk)["status"] is None


# --- drafts and publishing -------------------------------------------------------------


def test_a_draft_is_saved_named_and_re_run(admin_client, admin_user, own_partner):
    params = question(threshold_usd="2500", as_of="2026-01-15")
    save = f"{reverse('compliance:draft-save')}?{'&'.join(f'{k}={v}' for k, v in params.items())}"
    response = admin_client.post(save, {"name": "FY27 USD 2,500"})
    draft = PolicyDraft.objects.get()
    assert draft.changes == {"threshold_usd": "2500"}
    assert draft.as_of == datetime.date(2026, 1, 15)
    assert draft.created_by == admin_user
    assert draft.history.get().history_user == admin_user
    page = admin_client.get(response["Location"])
    assert page.context["changes"] == {"threshold_usd": Decimal("2500.00")}
    assert page.context["as_of"] == datetime.date(2026, 1, 15)
    # The short address re-runs it too, and the list names it.
    again = admin_client.get(URL, {"draft": draft.pk}, follow=True)
    assert again.context["summary"].subjects == 1
    assert "FY27 USD 2,500" in again.content.decode()


def test_saving_under_a_name_in_use_is_refused_with_a_message(admin_client, own_partner):
    policy = Policy.objects.get(code=RESELLER)
    PolicyDraft.objects.create(name="Same", policy=policy, changes={})
    save = f"{reverse('compliance:draft-save')}?run=1&policy={RESELLER}&threshold_usd=5&effective_from=2024-04-01&deadline_anchor=onboarding_anniversary_month"
    response = admin_client.post(save, {"name": "Same"}, follow=True)
    assert response.status_code == 200
    assert "already" in response.content.decode()
    assert PolicyDraft.objects.count() == 1


def test_publishing_a_draft_makes_a_new_version_and_ends_the_old_one(admin_client, admin_user):
    old = Policy.objects.get(code=RESELLER)
    draft = PolicyDraft.objects.create(
        name="USD 2,000 from 2027",
        policy=old,
        changes={"threshold_usd": "2000", "effective_from": "2027-01-01"},
    )
    url = reverse("compliance:draft-publish", args=[draft.pk])
    form = admin_client.get(url).context["form"]
    assert form.initial["effective_from"] == datetime.date(2027, 1, 1)
    response = admin_client.post(
        url,
        {"code": "csp-indirect-reseller-2027", "name": old.name, "effective_from": "2027-01-01"},
    )
    assert response.status_code == 302
    new = Policy.objects.get(code="csp-indirect-reseller-2027")
    old.refresh_from_db()
    assert old.effective_to == datetime.date(2026, 12, 31)
    assert new.effective_from == datetime.date(2027, 1, 1) and new.effective_to is None
    assert new.requirements.get().threshold_usd == Decimal("2000.00")
    assert (new.applies_to, new.subject_level, new.deadline_anchor) == (
        old.applies_to,
        old.subject_level,
        old.deadline_anchor,
    )
    draft.refresh_from_db()
    assert draft.published_as == new
    # Audited: who and why, for the new version and for the end of the old one.
    assert new.history.get().history_user == admin_user
    assert "USD 2,000 from 2027" in new.history.get().history_change_reason
    latest = old.history.first()
    assert (latest.history_user, latest.effective_to) == (admin_user, datetime.date(2026, 12, 31))
    # Published once.
    again = admin_client.post(
        url, {"code": "csp-indirect-reseller-2028", "name": "x", "effective_from": "2028-01-01"}
    )
    assert again.status_code == 200
    assert again.context["form"].non_field_errors()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"code": RESELLER, "effective_from": "2027-01-01"}, "code"),
        ({"code": "new-version", "effective_from": "2024-01-01"}, "effective_from"),
        (
            {"code": "new-version", "effective_from": "2027-01-01", "effective_to": "2026-01-01"},
            "effective_to",
        ),
        ({"code": "not a slug", "effective_from": "2027-01-01"}, "code"),
        ({"code": "new-version", "effective_from": "soon"}, "effective_from"),
    ],
)
def test_publishing_errors_are_shown_on_the_form(admin_client, data, field):
    draft = PolicyDraft.objects.create(
        name="d", policy=Policy.objects.get(code=RESELLER), changes={"threshold_usd": "5"}
    )
    before = Policy.objects.count()
    response = admin_client.post(
        reverse("compliance:draft-publish", args=[draft.pk]), {"name": "New", **data}
    )
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert Policy.objects.count() == before
    assert Policy.objects.get(code=RESELLER).effective_to is None


def test_choosing_another_policy_in_the_form_loads_its_stored_values(admin_client):
    response = admin_client.get(
        URL, question(policy="csp-direct-fy26", loaded=RESELLER, threshold_usd="5")
    )
    assert response.status_code == 302
    page = admin_client.get(response["Location"])
    assert page.context["changes"] == {}  # the stored csp-direct-fy26
    assert page.context["form"].cleaned_data["threshold_usd"] == Decimal("1000000.00")
    # Only a policy chosen: the same.
    response = admin_client.get(URL, {"run": "1", "policy": RESELLER, "as_of": "bad"})
    assert response.status_code == 302
    assert admin_client.get(response["Location"]).context["summary"].subjects == 0


def test_a_failed_worker_run_is_recorded_and_shown(admin_client, admin_user, monkeypatch):
    from compliance import drafts, simulation

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(simulation, "simulation_run", broken)
    run = drafts.simulation_run_create(
        policy=Policy.objects.get(code=RESELLER), changes={}, as_of=datetime.date(2026, 1, 1),
        user=admin_user,
    )  # fmt: skip
    drafts.simulation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", "RuntimeError: database went away")
    page = admin_client.get(reverse("compliance:simulation-run", args=[run.pk]))
    assert "database went away" in page.content.decode()
    export = admin_client.get(reverse("compliance:simulation-run-csv", args=[run.pk]))
    assert export.status_code == 404
