"""A Partner Center daily-rated usage reconciliation file is recognised from
its header and refused, in either revenue format, by the command and by the
staff upload (PRODUCT section 7): its Azure usage is billed in the invoice
reconciliation file, and importing both would count it twice."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from ingestion.imports import check_header, import_file
from ingestion.models import ImportRun
from partners.models import RevenueRecord
from tests.factories import LocationFactory, StaffUserFactory

USAGE_FILE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "partner_center" / "daily-rated-usage.csv"
)
MESSAGE = (
    "this is a Partner Center daily-rated usage reconciliation file (UsageDate, "
    "BillingPreTaxTotal, ...), which is not imported: Azure usage is billed in the invoice "
    "reconciliation file, so import that file instead (revenue, Partner Center format); "
    "importing both would count the usage twice"
)
FORMATS = ["partner-center", "simple"]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def reseller():
    # The file's Tier2MpnId is a known location: the refusal is about the file.
    return LocationFactory(location_id="4711001")


def variants(tmp_path: Path) -> list[Path]:
    """The file as Partner Center writes it, with its header in lower case
    and in another order, and as German Excel saves it (semicolons)."""
    text = USAGE_FILE.read_text(encoding="utf-8")
    header, *rows = text.splitlines()
    names = header.split(",")
    lower = tmp_path / "lower.csv"
    lower.write_text("\n".join([",".join(reversed(names)).lower(), *rows]) + "\n")
    semicolons = tmp_path / "semicolons.csv"
    semicolons.write_text(
        "\ufeff" + "\n".join(line.replace(",", ";") for line in [header, *rows]) + "\n"
    )
    return [USAGE_FILE, lower, semicolons]


@pytest.mark.parametrize("file_format", FORMATS)
def test_the_command_refuses_the_file_naming_its_type(tmp_path, file_format):
    for path in variants(tmp_path):
        err = io.StringIO()

        with pytest.raises(CommandError, match=r"1 error in 1 row; nothing was written") as exc:
            call_command("import_data", "revenue", str(path), f"--format={file_format}", stderr=err)

        assert exc.value.returncode == 1
        assert err.getvalue().splitlines() == [f"row 1: {MESSAGE}"], path.name
    assert not RevenueRecord.objects.exists()
    assert set(ImportRun.objects.values_list("status", flat=True)) == {"rejected"}


@pytest.mark.parametrize("file_format", FORMATS)
def test_a_dry_run_refuses_it_too(file_format):
    report = import_file(kind="revenue", source=USAGE_FILE, file_format=file_format, dry_run=True)

    assert [(e.row, e.column, e.message) for e in report.errors] == [(1, "", MESSAGE)]


@pytest.mark.parametrize("file_format", FORMATS)
def test_the_upload_parser_refuses_the_header(file_format):
    head = USAGE_FILE.read_bytes()[:4096]

    problems = check_header(kind="revenue", file_format=file_format, head=head)

    assert [(p.row, p.column, p.message) for p in problems] == [(1, "", MESSAGE)]


@pytest.mark.parametrize("kind", ["revenue:partner-center", "revenue"])
def test_the_upload_page_refuses_the_file_before_storing_it(client, kind):
    client.force_login(StaffUserFactory())

    response = client.post(
        reverse("imports:new"),
        {
            "kind": kind,
            "file": SimpleUploadedFile(USAGE_FILE.name, USAGE_FILE.read_bytes(), "text/csv"),
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [MESSAGE]
    assert not ImportRun.objects.exists()
