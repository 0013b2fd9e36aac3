"""How far ahead a date may be, the same on every door (partners.dates,
docs/decisions/0007-dates-in-the-future.md): onboarding and agreement dates
not after today, revenue dates up to the last day of next month. Each door -
the services, the web forms, the API (single and bulk), the CSV imports and
the Partner Center import - accepts the last allowed day and refuses the day
after it, in the same words.

"Today" is fixed at 2024-01-31 in the configured time zone (Europe/Berlin):
onboarding may be 2024-01-31, not 2024-02-01; revenue may be dated up to
2024-02-29 (a leap year), not 2024-03-01.
"""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from api.services import RevenueLine, revenue_bulk_upsert
from ingestion.imports import import_file
from partners import dates
from partners import services as ps
from partners.models import Location, Partner, RevenueRecord
from tests.api.conftest import token_client
from tests.factories import LocationFactory, PartnerFactory, StaffUserFactory

D = datetime.date
TODAY = D(2024, 1, 31)
TOMORROW = D(2024, 2, 1)
LAST_REVENUE_DAY = D(2024, 2, 29)
TOO_LATE = D(2024, 3, 1)

ONBOARDING_MESSAGE = "onboarding date 2024-02-01 is in the future (latest allowed 2024-01-31)"
AGREEMENT_MESSAGE = "agreement date 2024-02-01 is in the future (latest allowed 2024-01-31)"
REVENUE_MESSAGE = "revenue date 2024-03-01 is more than one month ahead (latest allowed 2024-02-29)"
PC_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "partner_center" / "new-commerce.csv"

pytestmark = pytest.mark.django_db


def freeze(monkeypatch, moment: datetime.datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: moment)


@pytest.fixture(autouse=True)
def today(monkeypatch) -> datetime.date:
    # Noon UTC: 13:00 in Berlin, the same calendar day.
    freeze(monkeypatch, datetime.datetime(2024, 1, 31, 12, 0, tzinfo=datetime.UTC))
    return TODAY


@pytest.fixture
def staff():
    return StaffUserFactory(username="manager")


@pytest.fixture
def location():
    return LocationFactory(location_id="4711001", partner__partner_id="1000001")


def counts() -> tuple[int, int, int]:
    return Partner.objects.count(), Location.objects.count(), RevenueRecord.objects.count()


# --- The rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "latest"),
    [
        (D(2024, 1, 31), D(2024, 2, 29)),
        (D(2023, 1, 31), D(2023, 2, 28)),
        (D(2024, 1, 1), D(2024, 2, 29)),
        (D(2026, 11, 30), D(2026, 12, 31)),
        (D(2026, 12, 2), D(2027, 1, 31)),
        (D(2026, 12, 31), D(2027, 1, 31)),
    ],
)
def test_revenue_may_be_dated_up_to_the_end_of_next_month(day, latest):
    assert dates.end_of_next_month(day) == latest
    assert dates.REVENUE.problem(latest, today=day) == ""
    assert dates.REVENUE.problem(latest + datetime.timedelta(days=1), today=day) != ""


def test_the_messages_name_the_date_and_the_latest_allowed_one():
    assert dates.ONBOARDING.problem(TODAY) == ""
    assert dates.ONBOARDING.problem(TOMORROW) == ONBOARDING_MESSAGE
    assert dates.AGREEMENT.problem(TOMORROW) == AGREEMENT_MESSAGE
    assert dates.REVENUE.problem(LAST_REVENUE_DAY) == ""
    assert dates.REVENUE.problem(TOO_LATE) == REVENUE_MESSAGE


def test_today_is_the_configured_time_zones_today(monkeypatch, settings):
    assert settings.TIME_ZONE == "Europe/Berlin"
    # 23:30 UTC on 31 January is 00:30 on 1 February in Berlin.
    freeze(monkeypatch, datetime.datetime(2024, 1, 31, 23, 30, tzinfo=datetime.UTC))

    assert dates.ONBOARDING.problem(TOMORROW) == ""
    assert dates.REVENUE.problem(D(2024, 3, 31)) == ""
    assert dates.REVENUE.problem(D(2024, 4, 1)) != ""


# --- The services --------------------------------------------------------------------


def test_the_partner_service_accepts_today_and_refuses_tomorrow():
    partner = ps.partner_create(
        partner_id="1000001", name="A", country="DE", onboarded_on=TODAY, agreement_signed_on=TODAY
    )
    assert partner.onboarded_on == TODAY

    with pytest.raises(ValidationError) as exc:
        ps.partner_create(
            partner_id="1000002",
            name="B",
            country="Germany",
            onboarded_on=TOMORROW,
            agreement_signed_on=TOMORROW,
        )

    errors = exc.value.message_dict
    assert errors["onboarded_on"] == [ONBOARDING_MESSAGE]
    assert errors["agreement_signed_on"] == [AGREEMENT_MESSAGE]
    assert "country" in errors  # reported with the model's own errors
    assert Partner.objects.count() == 1


def test_the_location_service_accepts_today_and_refuses_tomorrow():
    partner = PartnerFactory()
    ps.location_create(partner=partner, location_id="4711001", country="DE", onboarded_on=TODAY)

    with pytest.raises(ValidationError) as exc:
        ps.location_create(
            partner=partner, location_id="4711002", country="DE", onboarded_on=TOMORROW
        )

    assert exc.value.message_dict == {"onboarded_on": [ONBOARDING_MESSAGE]}
    assert Location.objects.count() == 1


def test_the_revenue_service_accepts_the_last_allowed_day_and_refuses_the_next(location):
    ps.revenue_record_create(
        location=location, revenue_date=LAST_REVENUE_DAY, amount=Decimal(1), currency="EUR"
    )

    with pytest.raises(ValidationError) as exc:
        ps.revenue_record_create(
            location=location, revenue_date=TOO_LATE, amount=Decimal(1), currency="EUR"
        )

    assert exc.value.message_dict == {"revenue_date": [REVENUE_MESSAGE]}
    assert RevenueRecord.objects.get().revenue_date == LAST_REVENUE_DAY


def test_the_bulk_revenue_service_refuses_a_late_line_and_stores_nothing(location):
    def line(reference: str, day: datetime.date) -> RevenueLine:
        return RevenueLine(
            location=location,
            revenue_date=day,
            amount=Decimal(1),
            currency_id="EUR",
            reference=reference,
        )

    with pytest.raises(ValidationError) as exc:
        revenue_bulk_upsert(lines=[line("A", LAST_REVENUE_DAY), line("B", TOO_LATE)], user=None)

    assert exc.value.message_dict == {"date": [f"line 1: {REVENUE_MESSAGE}"]}
    assert not RevenueRecord.objects.exists()


# --- The web forms -------------------------------------------------------------------


def _enrol(client, partner_id: str, onboarded_on: datetime.date):
    return client.post(
        reverse("partners:enrol"),
        {
            "partner_id": partner_id,
            "name": "Neue Reseller GmbH",
            "country": "DE",
            "onboarded_on": onboarded_on.isoformat(),
            "location_id": str(int(partner_id) + 100),
            "contact_name": "Eva Neu",
            "contact_email": f"eva@{partner_id}.example",
            "contact_language": "de",
        },
    )


def test_the_enrol_form_accepts_today_and_refuses_tomorrow(client, staff):
    client.force_login(staff)

    assert _enrol(client, "7000001", TODAY).status_code == 302
    response = _enrol(client, "7000002", TOMORROW)

    assert response.status_code == 200
    assert response.context["form"].errors["onboarded_on"] == [ONBOARDING_MESSAGE]
    assert list(Partner.objects.values_list("partner_id", flat=True)) == ["7000001"]


def test_the_revenue_form_accepts_the_last_allowed_day_and_refuses_the_next(
    client, staff, location
):
    client.force_login(staff)
    url = reverse("partners:revenue-new", args=[location.partner.partner_id])

    def post(day: datetime.date):
        data = {"location": location.pk, "revenue_date": day.isoformat()}
        return client.post(url, {**data, "amount": "10", "currency": "EUR"})

    assert post(LAST_REVENUE_DAY).status_code == 302
    response = post(TOO_LATE)

    assert response.status_code == 200
    assert response.context["form"].errors["revenue_date"] == [REVENUE_MESSAGE]
    assert RevenueRecord.objects.get().revenue_date == LAST_REVENUE_DAY


# --- The API ----------------------------------------------------------------------------


@pytest.fixture
def staff_api(staff):
    return token_client(staff)


def test_the_api_creates_partners_onboarded_today_and_refuses_tomorrow(staff_api):
    def post(partner_id: str, **dates_):
        data = {"partner_id": partner_id, "name": "Neu GmbH", "country": "DE", **dates_}
        return staff_api.post("/api/v1/partners/", data, format="json")

    today_ = TODAY.isoformat()
    assert post("1000077", onboarded_on=today_, agreement_signed_on=today_).status_code == 201
    response = post(
        "1000078", onboarded_on=TOMORROW.isoformat(), agreement_signed_on=TOMORROW.isoformat()
    )

    assert response.status_code == 400
    assert response.json() == {
        "onboarded_on": [ONBOARDING_MESSAGE],
        "agreement_signed_on": [AGREEMENT_MESSAGE],
    }
    assert list(Partner.objects.values_list("partner_id", flat=True)) == ["1000077"]


def test_the_api_creates_locations_onboarded_today_and_refuses_tomorrow(staff_api):
    PartnerFactory(partner_id="1000077")

    def post(location_id: str, day: datetime.date):
        data = {"location_id": location_id, "partner_id": "1000077", "country": "DE"}
        return staff_api.post(
            "/api/v1/locations/", {**data, "onboarded_on": day.isoformat()}, format="json"
        )

    assert post("2000077", TODAY).status_code == 201
    response = post("2000078", TOMORROW)

    assert response.status_code == 400
    assert response.json() == {"onboarded_on": [ONBOARDING_MESSAGE]}
    assert list(Location.objects.values_list("location_id", flat=True)) == ["2000077"]


def test_bulk_revenue_reports_the_late_line_by_index_and_stores_nothing(staff_api, location):
    def line(reference: str, day: datetime.date) -> dict:
        return {
            "location_id": "4711001",
            "date": day.isoformat(),
            "amount": "10",
            "currency": "EUR",
            "reference": reference,
        }

    response = staff_api.post(
        "/api/v1/revenue/bulk/",
        [line("A", LAST_REVENUE_DAY), line("B", TOO_LATE), line("C", D(9999, 12, 31))],
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 1, "field": "date", "message": REVENUE_MESSAGE},
        {
            "index": 2,
            "field": "date",
            "message": "revenue date 9999-12-31 is more than one month ahead "
            "(latest allowed 2024-02-29)",
        },
    ]
    assert not RevenueRecord.objects.exists()

    response = staff_api.post("/api/v1/revenue/bulk/", [line("A", LAST_REVENUE_DAY)])
    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0}


# --- The CSV imports -----------------------------------------------------------------------


def errors_of(report) -> list[tuple[int, str, str]]:
    return [(error.row, error.column, error.message) for error in report.errors]


PARTNERS_HEADER = (
    "partner_id,name,country,billing_model,onboarded_on,account_manager_email,"
    "agreement_signed_on,designations\n"
)


def test_the_partners_import_reports_every_late_date_and_writes_nothing():
    data = (
        PARTNERS_HEADER
        + "1000001,Today GmbH,DE,,2024-01-31,,2024-01-31,\n"
        + "1000002,Tomorrow GmbH,DE,,2024-02-01,,,\n"
        + "1000003,Agreement GmbH,DE,,2024-01-01,,2024-02-01,\n"
        + "1000004,Both GmbH,DE,,2024-02-01,,9999-12-31,\n"
    ).encode()

    report = import_file(kind="partners", source=data)

    assert errors_of(report) == [
        (3, "onboarded_on", ONBOARDING_MESSAGE),
        (4, "agreement_signed_on", AGREEMENT_MESSAGE),
        (5, "onboarded_on", ONBOARDING_MESSAGE),
        (
            5,
            "agreement_signed_on",
            "agreement date 9999-12-31 is in the future (latest allowed 2024-01-31)",
        ),
    ]
    assert counts() == (0, 0, 0)

    good = (PARTNERS_HEADER + "1000001,Today GmbH,DE,,2024-01-31,,2024-01-31,\n").encode()
    assert import_file(kind="partners", source=good).created == 1


def test_the_locations_import_reports_every_late_date_and_writes_nothing(tmp_path):
    PartnerFactory(partner_id="1000001")
    path = tmp_path / "locations.csv"
    path.write_text(
        "location_id;partner_id;country;onboarded_on\n"
        "2000001;1000001;DE;31.01.2024\n"
        "2000002;1000001;DE;01.02.2024\n"
        "2000003;1000001;DE;2024-02-01\n"
    )
    err = io.StringIO()

    with pytest.raises(CommandError, match="2 errors in 2 rows; nothing was written"):
        call_command("import_data", "locations", str(path), stderr=err)

    assert err.getvalue().splitlines() == [
        f"row 3, column onboarded_on: {ONBOARDING_MESSAGE}",
        f"row 4, column onboarded_on: {ONBOARDING_MESSAGE}",
    ]
    assert counts() == (1, 0, 0)


REVENUE_HEADER = "location_id,date,amount,currency,reference,customer\n"


def test_the_revenue_import_reports_every_late_date_and_writes_nothing(location):
    data = (
        REVENUE_HEADER
        + "4711001,2024-02-01,10,EUR,NEXT-MONTH,\n"
        + "4711001,2024-02-29,10,EUR,LAST-DAY,\n"
        + "4711001,2024-03-01,10,EUR,TOO-LATE,\n"
        + "4711001,2025-01-01,10,EUR,FAR-TOO-LATE,\n"
    ).encode()

    report = import_file(kind="revenue", source=data)

    assert errors_of(report) == [
        (4, "date", REVENUE_MESSAGE),
        (
            5,
            "date",
            "revenue date 2025-01-01 is more than one month ahead (latest allowed 2024-02-29)",
        ),
    ]
    assert counts() == (1, 1, 0)

    good = "\n".join(data.decode().splitlines()[:3]).encode()
    report = import_file(kind="revenue", source=good)
    assert report.created == 2
    assert max(RevenueRecord.objects.values_list("revenue_date", flat=True)) == LAST_REVENUE_DAY


# --- The Partner Center import --------------------------------------------------------------


def partner_center_file(tmp_path: Path, *charge_starts: str) -> Path:
    """The first line of the new-commerce fixture once per charge start date."""
    with PC_FILE.open(encoding="utf-8-sig", newline="") as handle:
        header, first, *_ = csv.reader(handle)
    rows = []
    for n, start in enumerate(charge_starts):
        row = dict(zip(header, first, strict=True))
        row.update(ChargeStartDate=start, OrderId=f"order-{n}", ResellerMpnId="4711001")
        rows.append([row[name] for name in header])
    path = tmp_path / "reconciliation.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def test_the_partner_center_import_takes_next_months_charges_and_refuses_later_ones(
    tmp_path, location
):
    next_month = ["2024-02-01T00:00:00", "2/29/2024 12:00:00 AM"]
    path = partner_center_file(tmp_path, *next_month, "2024-03-01T00:00:00", "3/1/2024 0:00")

    report = import_file(kind="revenue", source=path, file_format="partner-center")

    assert errors_of(report) == [
        (4, "ChargeStartDate", REVENUE_MESSAGE),
        (5, "ChargeStartDate", REVENUE_MESSAGE),
    ]
    assert counts() == (1, 1, 0)

    # A charge period that starts next month is booked revenue.
    path = partner_center_file(tmp_path, *next_month)
    call_command("import_data", "revenue", str(path), "--format=partner-center",
                 stdout=io.StringIO())  # fmt: skip
    assert sorted(RevenueRecord.objects.values_list("revenue_date", flat=True)) == [
        TOMORROW,
        LAST_REVENUE_DAY,
    ]


# --- the admin site -------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    client.force_login(StaffUserFactory(is_superuser=True))
    return client


def test_admin_revenue_form_refuses_a_date_beyond_next_month(admin_client):
    location = LocationFactory()

    def add(day):
        return admin_client.post(
            reverse("admin:partners_revenuerecord_add"),
            {
                "location": location.pk,
                "revenue_date": day.isoformat(),
                "amount": "10.00",
                "currency": "USD",
                "source": "manual",
                "reference": f"ADMIN-{day}",
                "customer": "",
            },
        )

    refused = add(TOO_LATE)
    assert refused.status_code == 200
    assert REVENUE_MESSAGE in refused.content.decode()
    assert add(LAST_REVENUE_DAY).status_code == 302
    assert RevenueRecord.objects.get().revenue_date == LAST_REVENUE_DAY


def test_admin_location_form_refuses_a_future_onboarding_date_but_keeps_stored_ones(admin_client):
    location = LocationFactory(onboarded_on=TODAY)
    url = reverse("admin:partners_location_change", args=[location.pk])
    data = {
        "location_id": location.location_id,
        "partner": location.partner.pk,
        "name": "Renamed",
        "country": location.country,
        "onboarded_on": TOMORROW.isoformat(),
        "is_active": "on",
    }
    refused = admin_client.post(url, data)
    assert refused.status_code == 200
    assert ONBOARDING_MESSAGE in refused.content.decode()
    Location.objects.filter(pk=location.pk).update(onboarded_on=TOMORROW)  # stored earlier
    assert admin_client.post(url, data).status_code == 302  # unchanged: not checked again
    location.refresh_from_db()
    assert location.name == "Renamed"
