"""Every page of the portal that a staff user and a partner user open, for
the tests that look at all of them (German text, layout in the browser).

The pages come from the URL walker of ``tests/portal/test_url_walk.py``:
every named URL pattern, its parameters filled with the user's own objects;
what answers 200 with HTML is a page. The admin (Django's own layout and
catalogue), the REST API and its documentation (DRF, Swagger UI, Redoc) are
not the portal's pages and are left out. A new pattern with a parameter this
module does not know fails the tests until somebody says what to put there.

``build_world`` makes the data through the services users go through: a
partner user's reseller at risk with reminders, a direct-bill partner with
a support contract, a reseller that is direct-bill ready, one that missed
its deadline (case moved and done), one whose missed deadline staff
overrode, a revenue and a contacts import through the upload pages and a
Partner Center file previewed.
"""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import get_resolver, reverse
from django.utils import timezone

from compliance import drafts
from compliance.cases import followup_case_move, outcome_override
from compliance.models import (
    CaseState,
    DeadlineOutcome,
    FollowUpCase,
    Policy,
    PolicyDraft,
    SimulationRun,
)
from compliance.services import evaluation_run
from ingestion.models import ImportRun
from notifications.models import Notification
from notifications.services import reminders_plan
from partners import services as ps
from partners.models import Contact
from tests.factories import StaffUserFactory, UserFactory
from tests.portal.test_url_walk import _params, _reverse, _walk

DAY = datetime.timedelta(days=1)
D = datetime.date
PARTNER_CENTER = Path(__file__).resolve().parent / "fixtures" / "partner_center"

# Not the portal's own pages (see the module docstring).
LEFT_OUT_NAMESPACES = ("admin:", "api:")
LEFT_OUT = {"api-schema", "api-docs", "api-redoc", "logout", "set_language"}


def _reseller(partner_id, name, manager, *, onboarded_on, revenue, language="de"):
    today = timezone.localdate()
    partner = ps.reseller_enrol(
        partner_id=partner_id,
        name=name,
        country="DE",
        onboarded_on=onboarded_on,
        location_id=str(int(partner_id) + 1_000_000),
        contact_name=f"Kontakt {name}",
        contact_email=f"kontakt@{partner_id}.example",
        contact_language=language,
        account_manager=manager,
    )
    location = partner.locations.get()
    for k, amount in enumerate(revenue):
        ps.revenue_record_create(
            location=location,
            revenue_date=today - (20 + 30 * k) * DAY,
            amount=Decimal(amount),
            currency="USD",
            reference=f"RE-{partner_id}-{k}",
            user=manager,
        )
    return partner


def _missed(partner_id, name, manager):
    """A reseller location that missed its first anniversary (PRODUCT 4,
    example 5): a missed deadline and a de-authorisation case."""
    partner = ps.partner_create(
        partner_id=partner_id,
        name=name,
        country="DE",
        onboarded_on=D(2022, 11, 15),
        account_manager=manager,
    )
    location = ps.location_create(
        partner=partner,
        location_id=str(int(partner_id) + 1_000_000),
        country="DE",
        onboarded_on=D(2022, 11, 15),
    )
    ps.revenue_record_create(
        location=location,
        revenue_date=D(2024, 5, 1),
        amount=Decimal("999.99"),
        currency="USD",
        reference=f"RE-{partner_id}",
        user=manager,
    )
    return partner


def _import(client, manager, kind: str, file_name: str, data: str) -> ImportRun:
    """A CSV file through the upload pages: preview, then confirm."""
    client.force_login(manager)
    response = client.post(
        reverse("imports:new"),
        {"kind": kind, "file": SimpleUploadedFile(file_name, data.encode(), "text/csv")},
    )
    assert response.status_code == 302, response
    run = ImportRun.objects.latest("pk")
    response = client.post(reverse("imports:confirm", args=[run.pk]))
    assert response.status_code == 302, response
    client.logout()
    run.refresh_from_db()
    assert run.status == "succeeded", (run.status, run.errors, run.message)
    return run


def _preview_partner_center(client, manager) -> ImportRun:
    """A Partner Center file of resellers the portal does not know, uploaded
    to skip them: previewed, not confirmed."""
    client.force_login(manager)
    data = (PARTNER_CENTER / "new-commerce.csv").read_bytes()
    response = client.post(
        reverse("imports:new"),
        {
            "kind": "revenue:partner-center",
            "file": SimpleUploadedFile("rechnung.csv", data, "text/csv"),
            "skip_unknown": "on",
        },
    )
    assert response.status_code == 302, response
    client.logout()
    run = ImportRun.objects.latest("pk")
    assert run.status == "previewed", (run.status, run.errors, run.message)
    return run


def build_world(client) -> dict:
    today = timezone.localdate()
    manager = StaffUserFactory(
        username="manager",
        first_name="Maria",
        last_name="Lehner",
        email="maria@csp.example",
        is_superuser=True,
    )
    # two resellers that missed their first anniversary: one case moved and
    # done (the location is de-authorised), one deadline overridden
    done = _missed("1000004", "Kleinkram IT", manager)
    overridden = _missed("1000005", "Nordlicht Netzwerke", manager)
    evaluation_run(as_of=D(2024, 11, 1))
    case = FollowUpCase.objects.get(partner=done)
    followup_case_move(case=case, state=CaseState.IN_PROGRESS, user=manager, notes="Angerufen")
    followup_case_move(case=case, state=CaseState.DONE, user=manager)
    outcome_override(
        outcome=DeadlineOutcome.objects.get(partner=overridden),
        user=manager,
        reason="Ausnahme von Microsoft",
    )
    # partner1's reseller: at risk, first anniversary month within 90 days
    own = _reseller(
        "1000001",
        "Lindenhof IT GmbH",
        manager,
        onboarded_on=today - 300 * DAY,
        revenue=["400.00", "-34.56", "200.00"],
    )
    partner_user = UserFactory(username="partner1", first_name="Lena", last_name="Hofmann")
    contact = own.contacts.get()
    contact.user = partner_user
    contact.save()
    ps.contact_create(partner=own, name="Jonas Weber", email="jonas@1000001.example", language="de")
    ps.support_contract_create(
        partner=own,
        plan_type="asfp",
        contract_number="ASFP-100",
        start_date=today - 100 * DAY,
        end_date=today + 265 * DAY,
        paid_on=today - 90 * DAY,
        amount=Decimal("6000.00"),
        currency="EUR",
    )
    ps.exchange_rate_set(
        currency="EUR", month=(today - 90 * DAY).replace(day=1), usd_per_unit=Decimal("1.08")
    )
    # a direct-bill partner at risk (partner level) with a paid support plan
    direct = ps.partner_create(
        partner_id="1000002",
        name="Alpenblick Systemhaus AG",
        country="AT",
        onboarded_on=today - 800 * DAY,
        billing_model="direct_bill",
        account_manager=manager,
    )
    ps.location_create(
        partner=direct, location_id="2000002", country="AT", onboarded_on=today - 800 * DAY
    )
    ps.support_contract_create(
        partner=direct,
        plan_type="psfp",
        contract_number="PSFP-200",
        start_date=today - 200 * DAY,
        end_date=today + 20 * DAY,
        paid_on=today - 200 * DAY,
        amount=Decimal("12000.00"),
        currency="USD",
    )
    ps.revenue_record_create(
        location=direct.locations.get(),
        revenue_date=today - 30 * DAY,
        amount=Decimal("250000.00"),
        currency="USD",
        reference="RE-200",
        user=manager,
    )
    # a reseller selling enough to be direct-bill ready
    _reseller(
        "1000003",
        "Donau Cloud KG",
        manager,
        onboarded_on=today - 500 * DAY,
        revenue=["400000.00", "350000.00", "300000.00"],
    )
    _import(
        client,
        manager,
        "revenue",
        "umsatz.csv",
        "location_id,date,amount,currency,reference,customer\n"
        f"{own.locations.get().location_id},{today - 3 * DAY},120.00,USD,UP-1,Kunde A\n",
    )
    _import(
        client,
        manager,
        "contacts",
        "kontakte.csv",
        "partner_id,name,email,language,receives_notices\n"
        f"{own.partner_id},Petra Schulz,petra@{own.partner_id}.example,de,ja\n",
    )
    _preview_partner_center(client, manager)
    evaluation_run(as_of=today - DAY)
    evaluation_run(as_of=today)
    reminders_plan(as_of=today)
    assert Notification.objects.filter(partner=own).exists()
    # the policy simulator: a saved draft and a run the worker finished
    reseller_policy = Policy.objects.get(code="csp-indirect-reseller-2024")
    drafts.policy_draft_save(
        policy=reseller_policy,
        name="Schwelle 2.500 USD",
        changes={"threshold_usd": "2500"},
        as_of=None,
        user=manager,
    )
    run = drafts.simulation_run_create(
        policy=reseller_policy, changes={"threshold_usd": "2500"}, as_of=today, user=manager
    )
    drafts.simulation_run_execute(run_id=run.pk)
    return {
        "manager": manager,
        "partner_user": partner_user,
        "own": own,
        "partners": [own, direct, done, overridden],
    }


def _values(name: str, param: str, world: dict, user) -> list[str]:
    """What to put in ``param`` of pattern ``name`` for ``user``: their own
    objects (every partner of the world for staff)."""
    partners = world["partners"] if user.is_staff else [world["own"]]
    if param == "partner_id":
        return [p.partner_id for p in partners]
    if name == "partners:contact-edit" and param == "pk":
        return [
            str(pk)
            for pk in Contact.objects.filter(partner__in=partners).values_list("pk", flat=True)
        ]
    by_pattern = {
        "imports": lambda: ImportRun.objects.values_list("pk", flat=True),
        "compliance:case-move": lambda: FollowUpCase.objects.values_list("pk", flat=True),
        "compliance:outcome-override": lambda: DeadlineOutcome.objects.filter(
            result="missed"
        ).values_list("pk", flat=True),
        "notifications:email": lambda: Notification.objects.values_list("pk", flat=True),
        "compliance:simulation-run": lambda: SimulationRun.objects.values_list("pk", flat=True),
        "compliance:draft-publish": lambda: PolicyDraft.objects.values_list("pk", flat=True),
    }
    for prefix, pks in by_pattern.items():
        if name.startswith(prefix) and param == "pk":
            return [str(pk) for pk in pks()]
    fixed = {
        "kind": ["reminder", "deadline_missed", "back_on_track", "no_contact_warning"],
        "language": ["de", "en"],
        "uidb64": ["MQ"],
        "token": ["set-password"],
        "provider_id": ["sso"],
    }
    if param in fixed:
        return fixed[param]
    raise AssertionError(f"{name}: tests/pages.py does not know what to put in <{param}>")


def portal_pages(client, user, world: dict) -> list[str]:
    """The addresses of every portal page ``user`` can open (200, HTML)."""
    client.force_login(user)
    pages = []
    for name, pattern in _walk(get_resolver().url_patterns):
        if name.startswith(LEFT_OUT_NAMESPACES) or name in LEFT_OUT:
            continue
        params = _params(pattern)
        lists = [_values(name, p, world, user) for p in params]
        for combo in itertools.product(*lists):
            url = _reverse(name, dict(zip(params, combo, strict=True)))
            response = client.get(url)
            if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
                pages.append(url)
    client.logout()
    return sorted(set(pages))
