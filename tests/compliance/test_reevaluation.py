"""One truth on every path: every write re-evaluates the partners it touched
for today through ``partners_reevaluate`` (PRODUCT 4.6, 7), and that
re-evaluation decides no deadline; the nightly run does, from the full data.

Each door is tried the way its users go through it: the import command and
the upload, the web forms, the REST API and the admin. What they leave behind
is read back where an integrator reads it, the API's current evaluations.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from compliance import services, tasks
from compliance.models import DeadlineOutcome, Evaluation, FollowUpCase, OutcomeResult
from jobs.tasks import evaluate_all
from notifications.models import Notification
from partners import services as ps
from partners.models import Location, Partner, RevenueRecord
from tests.api.conftest import token_client
from tests.factories import StaffUserFactory


@pytest.fixture
def staff(db):
    return StaffUserFactory(username="manager", email="manager@example.com", is_superuser=True)


@pytest.fixture
def api(staff):
    return token_client(staff)


def last_deadline(today: datetime.date) -> datetime.date:
    """The first of a month that has passed (the last onboarding-anniversary
    deadline of a location onboarded two years before, mid-month)."""
    first = today.replace(day=1)
    return first if first < today else (first - datetime.timedelta(days=1)).replace(day=1)


def onboarded_before(deadline: datetime.date, years: int = 2) -> datetime.date:
    return deadline.replace(year=deadline.year - years, day=15)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def import_data(*args) -> str:
    out = StringIO()
    call_command("import_data", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def current(api, partner_id: str, today: datetime.date) -> list[dict]:
    """The stored evaluations of ``partner_id`` for ``today``, through the API."""
    response = api.get(
        "/api/v1/evaluations/",
        {"as_of": today.isoformat(), "partner": partner_id, "purpose": "compliance"},
    )
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.fixture
def reseller(staff):
    """An indirect reseller with one location, onboarded long enough ago that
    its last deadline has passed, and no revenue yet."""
    today = timezone.localdate()
    partner = ps.reseller_enrol(
        partner_id="1000001",
        name="Lindenhof IT GmbH",
        country="DE",
        onboarded_on=onboarded_before(last_deadline(today)),
        location_id="2000001",
        contact_name="Lena Berg",
        contact_email="lena@lindenhof.example",
        contact_language="de",
        account_manager=staff,
        user=staff,
    )
    return partner


def recent(today: datetime.date, days: int = 10) -> datetime.date:
    return today - datetime.timedelta(days=days)


# --- the import command ------------------------------------------------------------


def test_a_revenue_import_re_evaluates_before_the_command_exits(tmp_path, api, reseller):
    today = timezone.localdate()
    assert not Evaluation.objects.exists()
    path = write(
        tmp_path,
        "revenue.csv",
        "location_id,date,amount,currency,reference,customer\n"
        f"2000001,{recent(today).isoformat()},1250.00,USD,INV-1,Contoso\n",
    )
    out = import_data("revenue", path)
    assert f"re-evaluated 1 partner for {today.isoformat()}" in out
    (evaluation,) = current(api, "1000001", today)
    assert evaluation["subject_id"] == "2000001"
    assert Decimal(evaluation["ttm_revenue_usd"]) == Decimal("1250.00")
    assert evaluation["status"] == "compliant"


def test_a_partner_center_import_re_evaluates_before_the_command_exits(tmp_path, api, reseller):
    today = timezone.localdate()
    charge = recent(today, 20)
    header = (
        "ResellerMpnId,CustomerName,InvoiceNumber,OrderId,SubscriptionId,ChargeType,"
        "ChargeStartDate,Subtotal,Currency,SkuId,AvailabilityId\n"
    )
    path = write(
        tmp_path,
        "reconciliation.csv",
        header
        + f"2000001,Contoso,G1,O1,S1,cycleCharge,{charge.isoformat()},700.00,USD,0001,A1\n"
        + f"2000001,Contoso,G1,O2,S2,cycleCharge,{charge.isoformat()},500.00,USD,0001,A1\n",
    )
    out = import_data("revenue", "--format", "partner-center", path)
    assert f"re-evaluated 1 partner for {today.isoformat()}" in out
    (evaluation,) = current(api, "1000001", today)
    assert Decimal(evaluation["ttm_revenue_usd"]) == Decimal("1200.00")


def test_every_import_kind_re_evaluates_the_partners_it_names(tmp_path, api, staff):
    today = timezone.localdate()
    onboarded = onboarded_before(last_deadline(today)).isoformat()
    out = import_data(
        "partners",
        write(
            tmp_path,
            "partners.csv",
            "partner_id,name,country,billing_model,onboarded_on,account_manager_email,"
            "agreement_signed_on,designations\n"
            f"1000001,Lindenhof IT GmbH,DE,indirect_reseller,{onboarded},manager@example.com,,\n"
            f"1000002,Highland Systems Ltd,GB,indirect_reseller,{onboarded},,,\n",
        ),
    )
    assert "re-evaluated 2 partners" in out
    out = import_data(
        "locations",
        write(
            tmp_path,
            "locations.csv",
            f"location_id,partner_id,country,onboarded_on\n2000001,1000001,DE,{onboarded}\n",
        ),
    )
    assert "re-evaluated 1 partner for" in out
    assert [e["subject_id"] for e in current(api, "1000001", today)] == ["2000001"]
    out = import_data(
        "support-contracts",
        write(
            tmp_path,
            "contracts.csv",
            "partner_id,plan_type,contract_number,start_date,end_date,paid,amount,currency\n"
            f"1000002,asfp,C-1,{recent(today, 100)},{today + datetime.timedelta(days=200)},"
            "yes,1000,USD\n",
        ),
    )
    assert "re-evaluated 1 partner for" in out
    out = import_data(
        "contacts",
        write(
            tmp_path,
            "contacts.csv",
            "partner_id,name,email,language,receives_notices\n"
            "1000001,Lena Berg,lena@lindenhof.example,de,yes\n",
        ),
    )
    assert "re-evaluated" not in out  # no evaluation depends on contacts

    month = recent(today, 40).replace(day=5)
    import_data(
        "revenue",
        write(
            tmp_path,
            "revenue.csv",
            "location_id,date,amount,currency,reference,customer\n"
            f"2000001,{month.isoformat()},1000.00,EUR,INV-1,\n",
        ),
    )
    (before,) = current(api, "1000001", today)
    out = import_data(
        "fx-rates",
        write(
            tmp_path,
            "rates.csv",
            f"currency,month,usd_per_unit\nEUR,{month:%Y-%m},1.0811\n",
        ),
    )
    assert "re-evaluated 1 partner for" in out  # only the partner with EUR that month
    (after,) = current(api, "1000001", today)
    assert before["status"] == "error"  # a missing rate is an error, never zero (PRODUCT 3)
    assert after["status"] == "compliant"
    assert Decimal(after["ttm_revenue_usd"]) == Decimal("1081.10")


def test_a_dry_run_or_an_unchanged_file_re_evaluates_nothing(tmp_path, reseller):
    today = timezone.localdate()
    path = write(
        tmp_path,
        "revenue.csv",
        f"location_id,date,amount,currency,reference,customer\n2000001,{recent(today)},5,USD,R,\n",
    )
    assert "re-evaluated" not in import_data("revenue", path, "--dry-run")
    assert not Evaluation.objects.exists()
    assert "re-evaluated 1 partner" in import_data("revenue", path)
    with mock.patch.object(services, "evaluation_run") as run:
        assert "re-evaluated" not in import_data("revenue", path)
    run.assert_not_called()


def test_a_failed_re_evaluation_keeps_the_import_and_says_so(tmp_path, reseller):
    today = timezone.localdate()
    path = write(
        tmp_path,
        "revenue.csv",
        f"location_id,date,amount,currency,reference,customer\n2000001,{recent(today)},5,USD,R,\n",
    )
    with mock.patch.object(services, "evaluation_run", side_effect=RuntimeError("disk full")):
        out = import_data("revenue", path)
    assert "re-evaluation failed (RuntimeError: disk full); the nightly run will do it" in out
    assert RevenueRecord.objects.count() == 1


def test_a_big_import_is_one_run_over_the_touched_partners(tmp_path, reseller, staff):
    for n in range(2, 6):
        ps.location_create(
            partner=reseller,
            location_id=f"200000{n}",
            country="DE",
            onboarded_on=reseller.onboarded_on,
            user=staff,
        )
    today = timezone.localdate()
    lines = "".join(
        f"200000{n},{recent(today, day)},10,USD,R{n}-{day},\n"
        for n in range(1, 6)
        for day in range(1, 30)
    )
    path = write(
        tmp_path, "revenue.csv", "location_id,date,amount,currency,reference,customer\n" + lines
    )
    with mock.patch.object(services, "evaluation_run", wraps=services.evaluation_run) as run:
        import_data("revenue", path)
    run.assert_called_once()
    assert run.call_args.kwargs == {"as_of": today, "partner_pks": {reseller.pk}, "decide": False}


# --- the initial load: no deadline decided before the nightly run --------------------


def test_an_initial_load_decides_no_deadline_until_the_nightly_run(tmp_path, api, staff):
    """Partners, locations, contracts, then revenue (the documented order),
    for a portfolio whose last deadlines have passed: no outcome, no case, no
    notice, only today's figures; the nightly run then decides each deadline
    from the full data."""
    today = timezone.localdate()
    deadline = last_deadline(today)
    onboarded = onboarded_before(deadline).isoformat()
    import_data(
        "partners",
        write(
            tmp_path,
            "partners.csv",
            "partner_id,name,country,billing_model,onboarded_on,account_manager_email,"
            "agreement_signed_on,designations\n"
            f"1000001,Enough Revenue GmbH,DE,indirect_reseller,{onboarded},manager@example.com,,\n"
            f"1000002,Too Little Ltd,GB,indirect_reseller,{onboarded},manager@example.com,,\n",
        ),
    )
    import_data(
        "locations",
        write(
            tmp_path,
            "locations.csv",
            "location_id,partner_id,country,onboarded_on\n"
            f"2000001,1000001,DE,{onboarded}\n2000002,1000002,GB,{onboarded}\n",
        ),
    )
    import_data(
        "contacts",
        write(
            tmp_path,
            "contacts.csv",
            "partner_id,name,email,language,receives_notices\n"
            "1000001,Ann Enough,ann@enough.example,en,yes\n"
            "1000002,Tom Little,tom@little.example,en,yes\n",
        ),
    )
    import_data(
        "support-contracts",
        write(
            tmp_path,
            "contracts.csv",
            "partner_id,plan_type,contract_number,start_date,end_date,paid,amount,currency\n"
            f"1000001,asfp,C-1,{onboarded},{today + datetime.timedelta(days=300)},yes,1000,USD\n",
        ),
    )
    # Revenue in the window of the passed deadline: USD 1,200 for the first
    # location, USD 300 for the second (threshold USD 1,000).
    dated = deadline - datetime.timedelta(days=40)
    import_data(
        "revenue",
        write(
            tmp_path,
            "revenue.csv",
            "location_id,date,amount,currency,reference,customer\n"
            f"2000001,{dated},1200.00,USD,INV-1,\n2000002,{dated},300.00,USD,INV-2,\n",
        ),
    )
    assert not DeadlineOutcome.objects.exists()
    assert not FollowUpCase.objects.exists()
    assert not Notification.objects.exists()
    assert {e["subject_id"] for e in current(api, "1000001", today)} == {"2000001"}
    assert {e["subject_id"] for e in current(api, "1000002", today)} == {"2000002"}

    evaluate_all.delay(today.isoformat())  # the nightly run (eager in tests)

    outcomes = {o.subject_id: o for o in DeadlineOutcome.objects.all()}
    assert set(outcomes) == {"2000001", "2000002"}
    assert {o.deadline for o in outcomes.values()} == {deadline}
    assert outcomes["2000001"].result == OutcomeResult.MET
    assert outcomes["2000001"].ttm_revenue_usd == Decimal("1200.00")
    assert outcomes["2000002"].result == OutcomeResult.MISSED
    assert FollowUpCase.objects.get().outcome == outcomes["2000002"]
    (evaluation,) = current(api, "1000002", today)
    assert evaluation["status"] == "non_compliant"


def test_a_web_form_write_decides_no_deadline(client, staff, reseller):
    """The revenue form re-evaluates in the request; a deadline that passed
    without revenue is still left to the nightly run."""
    client.force_login(staff)
    location = reseller.locations.get()
    response = client.post(
        reverse("partners:revenue-new", args=[reseller.partner_id]),
        {
            "location": location.pk,
            "revenue_date": recent(timezone.localdate()).isoformat(),
            "amount": "50.00",
            "currency": "USD",
            "reference": "FORM-1",
            "customer": "",
        },
    )
    assert response.status_code == 302, response.content
    assert Evaluation.objects.filter(as_of=timezone.localdate(), location=location).exists()
    assert not DeadlineOutcome.objects.exists()
    assert not FollowUpCase.objects.exists()


# --- the REST API -----------------------------------------------------------------------


def test_api_writes_re_evaluate(api, staff):
    today = timezone.localdate()
    onboarded = onboarded_before(last_deadline(today)).isoformat()
    response = api.post(
        "/api/v1/partners/",
        {
            "partner_id": "1000003",
            "name": "Direct Bill AG",
            "country": "DE",
            "billing_model": "direct_bill",
            "onboarded_on": onboarded,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    (partner_level,) = current(api, "1000003", today)
    assert partner_level["subject_type"] == "partner"
    assert "support_plan" in partner_level["unmet"]

    response = api.post(
        "/api/v1/support-contracts/",
        {
            "partner_id": "1000003",
            "plan_type": "psfp",
            "contract_number": "P-1",
            "start_date": recent(today, 30).isoformat(),
            "end_date": (today + datetime.timedelta(days=330)).isoformat(),
            "is_paid": True,
            "paid_on": recent(today, 30).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    (partner_level,) = current(api, "1000003", today)
    assert "support_plan" not in partner_level["unmet"]

    response = api.post(
        "/api/v1/locations/",
        {
            "location_id": "2000003",
            "partner_id": "1000003",
            "country": "DE",
            "onboarded_on": onboarded,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    response = api.post(
        "/api/v1/revenue/bulk/",
        [
            {
                "location_id": "2000003",
                "date": recent(today).isoformat(),
                "amount": "1000000.00",
                "currency": "USD",
                "reference": "API-1",
            }
        ],
        format="json",
    )
    assert response.status_code == 200, response.json()
    (partner_level,) = current(api, "1000003", today)
    assert Decimal(partner_level["ttm_revenue_usd"]) == Decimal("1000000.00")
    assert "revenue" not in partner_level["unmet"]
    assert not DeadlineOutcome.objects.exists()


# --- the admin ----------------------------------------------------------------------------


def test_admin_saves_and_deletes_re_evaluate_after_the_commit(
    client, staff, reseller, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    today = timezone.localdate()
    location = reseller.locations.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:partners_revenuerecord_add"),
            {
                "location": location.pk,
                "revenue_date": recent(today).isoformat(),
                "amount": "1500.00",
                "currency": "USD",
                "source": "manual",
                "reference": "ADMIN-1",
                "customer": "",
            },
        )
    assert response.status_code == 302, response.content
    evaluation = Evaluation.objects.get(as_of=today, location=location, purpose="compliance")
    assert (evaluation.status, evaluation.ttm_revenue_usd) == ("compliant", Decimal("1500.00"))

    record = RevenueRecord.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:partners_revenuerecord_delete", args=[record.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    evaluation.refresh_from_db()
    assert evaluation.ttm_revenue_usd == Decimal("0")
    assert not DeadlineOutcome.objects.exists()


def test_admin_bulk_delete_re_evaluates(
    client, staff, reseller, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    location = reseller.locations.get()
    ps.location_create(
        partner=reseller,
        location_id="2000009",
        country="DE",
        onboarded_on=reseller.onboarded_on,
        user=staff,
    )
    with (
        mock.patch("compliance.services.partners_reevaluate") as reevaluate,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(
            reverse("admin:partners_location_changelist"),
            {"action": "delete_selected", "_selected_action": [location.pk], "post": "yes"},
        )
    assert not Location.objects.filter(pk=location.pk).exists()
    reevaluate.assert_called_once_with(partner_pks={reseller.pk})


def test_an_admin_policy_change_re_evaluates_everyone_in_the_worker(
    rf, staff, reseller, django_capture_on_commit_callbacks
):
    from django.contrib.admin.sites import site

    from compliance.admin import PolicyAdmin
    from compliance.models import Policy

    policy = Policy.objects.get(code="csp-indirect-reseller-2024")
    policy.description = "changed"
    request = rf.post("/admin/")
    request.user = staff
    with (
        mock.patch("compliance.tasks.evaluate_partners.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        PolicyAdmin(Policy, site).save_model(request, policy, None, True)
    delay.assert_called_once_with(None)  # every partner, in the worker
    assert tasks.evaluate_partners(None)["partners"] == Partner.objects.count()
    assert Evaluation.objects.filter(as_of=timezone.localdate()).exists()
    assert not DeadlineOutcome.objects.exists()
