"""Bad files for the staff import upload (/imports/new/): what is no UTF-8
CSV text is refused on the form (nothing stored); what only shows further
in is refused by the preview (the run is "rejected", nothing imported);
file names cannot leave the upload folder; limits are a 400."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from compliance.services import evaluation_run
from ingestion.models import ImportRun
from partners.models import RevenueRecord
from tests.factories import LocationFactory

pytestmark = pytest.mark.django_db

HEADER = b"location_id,date,amount,currency,reference,customer\n"
LINE = b"2000011,2024-01-15,10.50,EUR,R-1,Contoso\n"
#: 2,000 good lines (about 80 KB): what follows is beyond the part the form checks
FILLER = b"".join(LINE.replace(b"R-1", b"R-%d" % n) for n in range(2, 2002))


@pytest.fixture
def location():
    return LocationFactory(location_id="2000011")


def upload(client, data: bytes, name: str = "revenue.csv", kind: str = "revenue", **extra):
    return client.post(
        "/imports/new/",
        {"kind": kind, "file": SimpleUploadedFile(name, data, "text/csv"), **extra},
    )


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body written by hand: the test client would clean the
    file names itself, a hostile client does not."""
    boundary = "----badinput-boundary"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, (file_name, data) in files.items():
        parts.append(
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="{name}"; filename="{file_name}"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post_multipart(client, fields, files):
    body, content_type = multipart(fields, files)
    return client.generic("POST", "/imports/new/", body, content_type=content_type)


def stored_files() -> list[str]:
    return default_storage.listdir("imports")[1] if default_storage.exists("imports") else []


def test_a_good_file_is_previewed(staff_client, location):
    """The baseline the bad files below are spoilt from."""
    response = upload(staff_client, HEADER + LINE)
    assert response.status_code == 302
    assert ImportRun.objects.get().status == "previewed"


# --- refused on the form: nothing is stored ------------------------------------------


def _xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active.append(["location_id", "date", "amount", "currency", "reference"])
    workbook.active.append(["2000011", "2024-01-15", 10, "EUR", "R-1"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _zip_bomb() -> bytes:
    """50 MB of zeros in about 50 KB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("revenue.csv", b"0" * 50 * 1024 * 1024)
    return out.getvalue()


def _random_high_bytes() -> bytes:
    return bytes(128 + (n * 37) % 128 for n in range(4096))


@pytest.mark.parametrize(
    ("data", "says"),
    [
        pytest.param(_xlsx(), "not a text file", id="xlsx-renamed-csv"),
        pytest.param(_zip_bomb(), "not a text file", id="zip-bomb"),
        pytest.param(b"\x1f\x8b\x08\x00" + b"\x00" * 64, "not a text file", id="gzip"),
        pytest.param((HEADER + LINE).decode().encode("utf-16"), "not a text file", id="utf-16"),
        pytest.param(HEADER + b"\x00" + LINE, "not a text file", id="nul-byte"),
        pytest.param(_random_high_bytes(), "not UTF-8", id="binary-no-nul"),
        pytest.param(
            HEADER + "2000011,2024-01-15,1,EUR,R-1,M\u00fcller\n".encode("latin-1"),
            "not UTF-8",
            id="latin-1-row",
        ),
        pytest.param(
            HEADER.replace(b"\n", b",stra\xdfe\n") + LINE, "not UTF-8", id="latin-1-header"
        ),
        pytest.param(b"location_id," * 10_000, "too long", id="header-line-over-64k"),
        pytest.param(b"\n\n\n" + HEADER + LINE, "no header", id="blank-first-line"),
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"kundennummer;betrag\n1;2\n", "missing columns", id="other-columns"),
    ],
)
def test_files_that_are_no_csv_text_are_refused_on_the_form(
    staff_client, location, data, says, unchanged
):
    stored = stored_files()
    with unchanged():
        response = upload(staff_client, data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert says in " ".join(errors["file"]), errors
    assert says in response.content.decode()
    assert stored_files() == stored


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "nonsense"}, "kind"),
        ({"kind": "revenue\x00"}, "kind"),
        ({"kind": ["revenue", "partners"]}, "file"),
        ({"kind": "revenue", "skip_unknown": "on"}, "skip_unknown"),
    ],
)
def test_wrong_form_fields(staff_client, location, fields, field, unchanged):
    with unchanged():
        response = staff_client.post(
            "/imports/new/",
            {**fields, "file": SimpleUploadedFile("r.csv", HEADER + LINE, "text/csv")}
            if field != "file"
            else fields,
        )
    assert response.status_code == 200
    assert field in response.context["form"].errors


def test_a_file_above_the_size_limit_is_refused(staff_client, location, settings, unchanged):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    data = HEADER + LINE.replace(b"R-1", b"R-" + b"1" * 100) * 12_000  # about 1.5 MB
    assert len(data) > 1024 * 1024
    with unchanged():
        response = upload(staff_client, data)
    assert response.status_code == 200
    assert "larger than 1 MB" in " ".join(response.context["form"].errors["file"])


@pytest.mark.parametrize(
    ("fields", "files"),
    [
        pytest.param(
            {"kind": "r" * (10 * 1024 * 1024)}, {"file": ("r.csv", HEADER)}, id="10-mb-field"
        ),
        pytest.param(
            {f"f{n}": "1" for n in range(1001)} | {"kind": "revenue"},
            {"file": ("r.csv", HEADER)},
            id="1001-fields",
        ),
        pytest.param(
            {"kind": "revenue"},
            {f"file{n}": ("r.csv", HEADER) for n in range(101)},
            id="101-files",
        ),
    ],
)
def test_oversized_multipart_bodies_are_a_400(staff_client, fields, files, unchanged):
    with unchanged():
        response = post_multipart(staff_client, fields, files)
    assert response.status_code == 400


def test_a_broken_multipart_body_is_a_400(staff_client, unchanged):
    with unchanged():
        response = staff_client.generic(
            "POST", "/imports/new/", b"garbage", content_type="multipart/form-data; boundary="
        )
    assert response.status_code == 400


# --- file names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "kept"),
    [
        ("../../../etc/passwd.csv", "passwd.csv"),
        ("..\\\\..\\\\windows\\\\evil.csv", "evil.csv"),
        ("/var/www/evil.csv", "evil.csv"),
        ("....//....//evil.csv", "evil.csv"),
        ("%2e%2e%2fevil.csv", "%2e%2e%2fevil.csv"),
        ("evil\x00.csv", "evil.csv"),
        ("<img src=x onerror=alert(1)>.csv", "<img src=x onerror=alert(1)>.csv"),
        ("r" * 300 + ".csv", None),
    ],
)
def test_file_names_cannot_leave_the_upload_folder(staff_client, location, file_name, kept):
    response = post_multipart(
        staff_client, {"kind": "revenue"}, {"file": (file_name, HEADER + LINE)}
    )
    assert response.status_code == 302
    run = ImportRun.objects.get()
    # stored under a name of our own, never the client's
    assert re.fullmatch(r"imports/[0-9a-f]{32}\.csv", run.stored_name)
    assert "/" not in run.file_name and "\\" not in run.file_name and "\x00" not in run.file_name
    assert len(run.file_name) <= 255
    if kept is not None:
        assert run.file_name == kept
    for page in ("/imports/", f"/imports/{run.pk}/"):
        html = staff_client.get(page).content.decode()
        assert "<img src=x" not in html  # escaped


# --- refused by the preview: the run is rejected, nothing imported --------------------------


def _preview(client, data: bytes, unchanged_tables):
    with unchanged_tables():
        response = upload(client, data)
    assert response.status_code == 302
    run = ImportRun.objects.get()
    page = client.get(response["Location"]).content.decode()
    return run, page


@pytest.mark.parametrize(
    ("data", "says"),
    [
        pytest.param(
            HEADER + FILLER + "2000011,2024-01-15,1,EUR,R-X,M\u00fcller\n".encode("latin-1"),
            "not UTF-8",
            id="latin-1-row-after-64-kb",
        ),
        pytest.param(
            HEADER + LINE.replace(b"Contoso", b"C" * 2_000_000),
            "cannot be read as CSV",
            id="2-mb-cell",
        ),
        pytest.param(HEADER + LINE.replace(b"2024-01-15", b"2023-02-30"), "date", id="feb-30"),
        pytest.param(HEADER + LINE.replace(b"10.50", b"NaN"), "not a number", id="amount-nan"),
        pytest.param(HEADER + LINE.replace(b"10.50", b"1e400"), "not a number", id="amount-1e400"),
        pytest.param(
            HEADER + LINE.replace(b"10.50", b"9" * 21), "too large", id="amount-too-large"
        ),
        pytest.param(
            HEADER + LINE.replace(b"10.50", b"0.0000001"), "decimal places", id="too-many-places"
        ),
        pytest.param(
            HEADER + LINE.replace(b"R-1", b"R" * 201), "longer than", id="reference-too-long"
        ),
        pytest.param(HEADER + LINE + LINE, "duplicate", id="same-reference-twice"),
    ],
)
def test_bad_rows_reject_the_preview(staff_client, location, data, says, unchanged):
    run, page = _preview(staff_client, data, lambda: unchanged_data(unchanged))
    assert run.status == "rejected"
    assert says in page
    assert "Confirm and import" not in page
    assert not RevenueRecord.objects.exists()


def unchanged_data(unchanged):
    """``unchanged()`` but for the ImportRun table (the upload is recorded)."""
    return unchanged(ignore={"partners.ImportRun"})


def test_ten_thousand_columns(staff_client, location, unchanged):
    header = HEADER.rstrip(b"\n") + b"".join(b",c%d" % n for n in range(10_000)) + b"\n"
    line = LINE.rstrip(b"\n") + b",x" * 10_000 + b"\n"
    assert len(header) < 64 * 1024 < len(header) * 2
    run, _page = _preview(staff_client, header + line, lambda: unchanged_data(unchanged))
    assert run.status == "previewed"  # extra columns are ignored and listed
    assert len(run.counts["preview"]["ignored_columns"]) == 10_000
    response = staff_client.post(f"/imports/{run.pk}/confirm/")
    assert response.status_code == 302
    assert RevenueRecord.objects.get().reference == "R-1"


def test_a_row_of_ten_thousand_cells_under_a_short_header(staff_client, location, unchanged):
    run, _page = _preview(
        staff_client,
        HEADER + LINE.rstrip(b"\n") + b",x" * 10_000 + b"\n",
        lambda: unchanged_data(unchanged),
    )
    assert run.status in ("previewed", "rejected")
    assert not RevenueRecord.objects.exists()


def test_a_nul_after_the_first_64_kb_rejects_the_preview(staff_client, location, unchanged):
    """The form looks at the first 64 KB only; the parser finds the rest."""
    data = HEADER + FILLER + b"2000011,2024-01-15,1,EUR,R-NUL,Con\x00toso\n"
    run, page = _preview(staff_client, data, lambda: unchanged_data(unchanged))
    assert run.status == "rejected"  # not only once PostgreSQL refuses to store it
    assert "contains a NUL character" in page
    assert not RevenueRecord.objects.exists()


# --- the Partner Center format (ingestion.partner_center, a parser of its own) --------------

PC_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "partner_center" / "new-commerce.csv"
PC_HEADER, PC_ROW = PC_FILE.read_bytes().splitlines(keepends=True)[:2]
#: about 1,000 good lines: what follows is beyond the part the form checks
PC_FILLER = PC_ROW * 1000


@pytest.mark.parametrize(
    ("data", "says"),
    [
        pytest.param(
            PC_HEADER + PC_FILLER + "x,M\u00fcller\n".encode("latin-1"),
            "not UTF-8",
            id="latin-1-row-after-64-kb",
        ),
        pytest.param(
            PC_HEADER + PC_FILLER + PC_ROW.replace(b"Adatum Corporation", b"Adatum\x00Corp"),
            "NUL character",
            id="nul-after-64-kb",
        ),
        pytest.param(
            PC_HEADER + PC_ROW.replace(b",840.00,", b"," + b"9" * 2_000_000 + b","),
            "cannot be read as CSV",
            id="2-mb-cell",
        ),
        pytest.param(
            PC_HEADER + PC_ROW.rstrip(b"\r\n") + b",x" * 10_000 + b"\n",
            "values but the header has 48 columns",
            id="row-of-10000-cells",
        ),
        pytest.param(PC_HEADER + b"1,2\n", "is required", id="short-row"),
        pytest.param(
            PC_HEADER + PC_ROW.replace(b",840.00,", b",1e400,"), "not a number", id="1e400"
        ),
        pytest.param(PC_HEADER + PC_ROW.replace(b",840.00,", b",NaN,"), "not a number", id="nan"),
    ],
)
def test_bad_partner_center_rows_reject_the_preview(staff_client, data, says, unchanged):
    for mpn in ("4711001", "4711002", "4711003"):
        LocationFactory(location_id=mpn)
    with unchanged_data(unchanged):
        response = upload(staff_client, data, kind="revenue:partner-center")
    assert response.status_code == 302
    run = ImportRun.objects.get()
    assert run.status == "rejected"
    page = staff_client.get(response["Location"]).content.decode()
    assert says in page
    assert not RevenueRecord.objects.exists()


def test_a_location_onboarded_in_9999_does_not_stop_the_evaluation_run(staff_client, today):
    partner = LocationFactory(location_id="2000011").partner
    data = b"location_id,partner_id,country,onboarded_on\n7100001,%s,DE,9999-12-31\n" % (
        partner.partner_id.encode()
    )
    response = upload(staff_client, data, kind="locations")
    run = ImportRun.objects.get()
    if run.status == "previewed":
        staff_client.post(f"/imports/{run.pk}/confirm/")
    run.refresh_from_db()
    assert response.status_code == 302
    # the import refuses the date, or the evaluation copes with it
    if run.status == "succeeded":
        evaluation_run(as_of=today)


def test_confirm_takes_only_a_post_of_a_clean_preview(staff_client, location, unchanged):
    upload(staff_client, HEADER + LINE.replace(b"10.50", b"ten"))
    rejected = ImportRun.objects.get()
    assert rejected.status == "rejected"
    with unchanged_data(unchanged):
        assert staff_client.get(f"/imports/{rejected.pk}/confirm/").status_code == 405
        assert staff_client.post(f"/imports/{rejected.pk + 1}/confirm/").status_code == 404
        response = staff_client.post(f"/imports/{rejected.pk}/confirm/", {"force": "1"})
        assert response.status_code == 302
    rejected.refresh_from_db()
    assert rejected.status == "rejected"
    assert "cannot be started" in staff_client.get(response["Location"]).content.decode()
