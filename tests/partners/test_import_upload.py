"""The staff upload pages (/imports/): upload, dry-run preview, confirm,
progress, history; staff only."""

from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from ingestion.models import ImportRun
from partners.models import RevenueRecord
from tests.factories import ContactFactory, LocationFactory, StaffUserFactory, UserFactory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PC_FILE = FIXTURES / "partner_center" / "new-commerce.csv"

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(StaffUserFactory())
    return client


@pytest.fixture
def locations():
    return [LocationFactory(location_id=mpn) for mpn in ("4711001", "4711002", "4711003")]


def upload(client, path: Path = PC_FILE, kind: str = "revenue:partner-center", **extra):
    data = path.read_bytes() if isinstance(path, Path) else path
    name = path.name if isinstance(path, Path) else "upload.csv"
    return client.post(
        reverse("imports:new"),
        {"kind": kind, "file": SimpleUploadedFile(name, data, "text/csv"), **extra},
    )


def test_upload_preview_confirm(staff_client, locations):
    response = upload(staff_client)
    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("imports:detail", args=[run.pk])
    assert (run.status, run.kind, run.file_format, run.file_name) == (
        "previewed",
        "revenue",
        "partner-center",
        "new-commerce.csv",
    )
    assert len(run.sha256) == 64 and run.lines == 10
    assert not RevenueRecord.objects.exists()  # a preview writes nothing
    assert default_storage.exists(run.stored_name)

    page = staff_client.get(response["Location"])
    html = page.content.decode()
    assert "Confirm and import" in html
    assert "4711002" in html  # rows by location
    assert "1251.20 CHF" in html  # totals by currency
    assert page.context["summary"]["created"] == 9

    response = staff_client.post(reverse("imports:confirm", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert run.counts["result"]["created"] == 9
    assert RevenueRecord.objects.count() == 9
    assert not default_storage.exists(run.stored_name)  # kept until imported

    # a second confirm does nothing
    staff_client.post(reverse("imports:confirm", args=[run.pk]))
    assert RevenueRecord.objects.count() == 9

    listing = staff_client.get(reverse("imports:list"))
    assert "new-commerce.csv" in listing.content.decode()


def test_rejected_file_shows_every_error_paginated(staff_client, locations):
    header = (PC_FILE.read_text(encoding="utf-8-sig").splitlines())[0]
    good = (PC_FILE.read_text(encoding="utf-8-sig").splitlines())[1]
    bad = good.replace(",840.00,", ",eight hundred,")
    data = "\n".join([header, *[bad] * 120]).encode()
    upload(staff_client, data)
    run = ImportRun.objects.get()
    assert (run.status, run.error_count, len(run.errors)) == ("rejected", 120, 120)
    page = staff_client.get(reverse("imports:detail", args=[run.pk]))
    assert "Confirm and import" not in page.content.decode()
    assert len(page.context["page_obj"].object_list) == 50
    assert page.context["page_obj"].paginator.num_pages == 3
    assert staff_client.post(reverse("imports:confirm", args=[run.pk])).status_code == 302
    assert not RevenueRecord.objects.exists()


def test_stored_errors_are_capped(staff_client, locations, monkeypatch):
    monkeypatch.setattr(ImportRun, "ERRORS_KEPT", 10)
    lines = PC_FILE.read_text(encoding="utf-8-sig").splitlines()
    data = "\n".join([lines[0], *[lines[1].replace(",840.00,", ",x,")] * 30]).encode()
    upload(staff_client, data)
    run = ImportRun.objects.get()
    assert (run.error_count, len(run.errors)) == (30, 10)
    page = staff_client.get(reverse("imports:detail", args=[run.pk]))
    assert page.context["errors_not_kept"] == 20


def test_simple_kind_upload(staff_client):
    LocationFactory(location_id="2000011")
    data = b"location_id,date,amount,currency,reference,customer\n2000011,2024-01-15,10,EUR,R1,\n"
    upload(staff_client, data, kind="revenue")
    run = ImportRun.objects.get()
    assert run.status == "previewed"
    staff_client.post(reverse("imports:confirm", args=[run.pk]))
    assert RevenueRecord.objects.get().reference == "R1"


def test_oversize_file_is_rejected(staff_client, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 0
    response = upload(staff_client)
    assert response.status_code == 200
    assert "larger than 0 MB" in response.content.decode()
    assert not ImportRun.objects.exists()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
        (b"\xff\xfe\x00\x00garbage", "not a text file"),
        ("Kundennummer,Betrag\n1,2\n".encode("latin-1"), "missing columns"),
        (b"caf\xe9,x\n", "not UTF-8"),
        (b"", "empty"),
    ],
)
def test_non_csv_content_is_rejected(staff_client, data, fragment):
    response = upload(staff_client, data)
    assert response.status_code == 200
    assert fragment in response.content.decode()
    assert not ImportRun.objects.exists()


def test_header_must_fit_the_kind(staff_client):
    response = upload(staff_client, PC_FILE, kind="revenue")  # simple format chosen
    assert "missing columns for revenue: location_id" in response.content.decode()
    response = upload(staff_client, FIXTURES / "imports" / "revenue.csv")
    assert "simple revenue format" in response.content.decode()
    assert not ImportRun.objects.exists()


def test_partner_users_get_403(client, locations):
    user = UserFactory()
    ContactFactory(user=user)
    client.force_login(user)
    run = ImportRun.objects.create(
        kind="revenue", file_name="x.csv", sha256="0" * 64, size=1, status="previewed"
    )
    for url in (
        reverse("imports:list"),
        reverse("imports:new"),
        reverse("imports:detail", args=[run.pk]),
        reverse("imports:progress", args=[run.pk]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("imports:confirm", args=[run.pk])).status_code == 403
    assert upload(client).status_code == 403
    assert ImportRun.objects.count() == 1


def test_anonymous_users_go_to_login(client):
    response = client.get(reverse("imports:list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_progress_endpoint(staff_client):
    run = ImportRun.objects.create(
        kind="revenue",
        file_name="x.csv",
        sha256="0" * 64,
        size=1,
        status="running",
        progress=0.4,
    )
    assert staff_client.get(reverse("imports:progress", args=[run.pk])).json() == {
        "status": "running",
        "progress": 0.4,
        "done": False,
    }
    page = staff_client.get(reverse("imports:detail", args=[run.pk])).content.decode()
    assert "js/import_progress.js" in page
    assert "data-import-progress-url" in page
    assert "<script>" not in page  # no inline scripts
    run.status = "succeeded"
    run.save()
    assert staff_client.get(reverse("imports:progress", args=[run.pk])).json()["done"] is True
    assert staff_client.get(reverse("imports:progress", args=[run.pk + 1])).status_code == 404


def test_large_files_run_as_a_task(
    staff_client, locations, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_ASYNC_ROWS = 5
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        upload(staff_client)
    run = ImportRun.objects.get()
    assert run.status == "pending" and len(callbacks) == 1
    page = staff_client.get(reverse("imports:detail", args=[run.pk])).content.decode()
    assert "data-import-progress-url" in page
    callbacks[0]()  # the (eager) task: the dry run
    run.refresh_from_db()
    assert (run.status, run.progress) == ("previewed", 1.0)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        staff_client.post(reverse("imports:confirm", args=[run.pk]))
    # One task; in it, the re-evaluation raises the data version on commit.
    assert [getattr(c, "args", None) for c in callbacks] == [(run.pk, False), None]
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert RevenueRecord.objects.count() == 9
    today = timezone.localdate().isoformat()
    assert run.counts["result"]["reevaluation"] == {"partners": 3, "as_of": today, "error": ""}
    page = staff_client.get(reverse("imports:detail", args=[run.pk])).content.decode()
    assert "Re-evaluated 3 partners for " in page


def test_same_file_twice_is_flagged(staff_client, locations):
    upload(staff_client)
    first = ImportRun.objects.get()
    staff_client.post(reverse("imports:confirm", args=[first.pk]))
    upload(staff_client)
    second = ImportRun.objects.exclude(pk=first.pk).get()
    page = staff_client.get(reverse("imports:detail", args=[second.pk]))
    assert page.context["same_file_imported"] == first
    assert page.context["summary"]["unchanged"] == 9


@pytest.mark.parametrize("runs", [1, 30])
def test_list_query_budget(staff_client, django_assert_max_num_queries, runs):
    user = StaffUserFactory()
    ImportRun.objects.bulk_create(
        ImportRun(created_by=user, kind="revenue", file_name=f"{n}.csv", sha256="0" * 64, size=1)
        for n in range(runs)
    )
    with django_assert_max_num_queries(6):
        response = staff_client.get(reverse("imports:list"))
    assert response.status_code == 200
