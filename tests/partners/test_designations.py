"""Solutions Partner designations are accepted by code, by short name and by
Microsoft's name, in any case, on every door that takes them as text: the
partners import (command and staff upload) and the API (PRODUCT section 7)."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from ingestion.imports import import_file
from ingestion.models import ImportRun
from partners.designations import DesignationLookup, UnknownDesignation
from partners.models import Partner
from tests.api.conftest import token_client
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db

# (Microsoft's name, code) of the six designations.
MICROSOFT_NAMES = [
    ("Solutions Partner for Modern Work", "modern-work"),
    ("Solutions Partner for Data & AI (Azure)", "data-ai-azure"),
    ("Solutions Partner for Infrastructure (Azure)", "infrastructure-azure"),
    ("Solutions Partner for Digital & App Innovation (Azure)", "digital-app-innovation-azure"),
    ("Solutions Partner for Business Applications", "business-applications"),
    ("Solutions Partner for Security", "security"),
]
#: Other spellings of the same designations: short names and codes, any case.
OTHER_SPELLINGS = [
    ("Modern Work", "modern-work"),
    ("modern work", "modern-work"),
    ("  Data &  AI (azure) ", "data-ai-azure"),
    ("SECURITY", "security"),
    ("business-applications", "business-applications"),
    ("Infrastructure-Azure", "infrastructure-azure"),
]
#: Microsoft's names as written, in capitals, in lower case, with odd spaces.
MICROSOFT_SPELLINGS = [
    *MICROSOFT_NAMES,
    *((name.upper(), code) for name, code in MICROSOFT_NAMES),
    *((name.lower(), code) for name, code in MICROSOFT_NAMES),
    ("  solutions  partner for Modern WORK ", "modern-work"),
]
SPELLINGS = [*MICROSOFT_SPELLINGS, *OTHER_SPELLINGS]
ACCEPTED = (
    "use one of Business Applications, Data & AI (Azure), Digital & App Innovation (Azure), "
    'Infrastructure (Azure), Modern Work, Security, also as "Solutions Partner for ..." or by '
    "code (business-applications, data-ai-azure, digital-app-innovation-azure, "
    "infrastructure-azure, modern-work, security), in any case"
)
HEADER = (
    "partner_id,name,country,billing_model,onboarded_on,account_manager_email,"
    "agreement_signed_on,designations\n"
)


def partners_file(*designations: str) -> bytes:
    rows = "".join(
        f'{1000001 + n},Partner {n} GmbH,DE,,2020-01-01,,,"{value}"\n'
        for n, value in enumerate(designations)
    )
    return (HEADER + rows).encode()


def codes(partner_id: str = "1000001") -> set[str]:
    return {d.code for d in Partner.objects.get(partner_id=partner_id).designations.all()}


# --- The lookup ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "code"), SPELLINGS)
def test_every_spelling_resolves_to_its_designation(text, code):
    assert DesignationLookup.load().resolve(text).code == code


@pytest.mark.parametrize("text", ["Cloud Magic", "Solutions Partner for", "Modern", "modern_work"])
def test_an_unknown_value_is_named_with_the_accepted_ones(text):
    with pytest.raises(UnknownDesignation) as exc:
        DesignationLookup.load().resolve(text)
    assert str(exc.value) == f"unknown designation {text!r}; {ACCEPTED}"


# --- The partners import (command) ------------------------------------------------------


@pytest.mark.parametrize(("text", "code"), MICROSOFT_SPELLINGS)
def test_the_partners_import_accepts_microsofts_names_in_any_case(text, code):
    report = import_file(kind="partners", source=partners_file(text))

    assert report.ok, [str(error) for error in report.errors]
    assert codes() == {code}


def test_the_command_imports_a_file_with_every_spelling(tmp_path):
    """One partner per spelling: Microsoft's names, short names and codes."""
    path = tmp_path / "partners.csv"
    path.write_bytes(partners_file(*(text for text, _ in SPELLINGS)))
    out = io.StringIO()

    call_command("import_data", "partners", str(path), stdout=out)

    assert re.search(rf"^  created: +{len(SPELLINGS)}$", out.getvalue(), re.MULTILINE)
    for n, (_, code) in enumerate(SPELLINGS):
        assert codes(str(1000001 + n)) == {code}


def test_several_spellings_of_one_designation_count_once():
    data = partners_file(
        "Solutions Partner for Data & AI (Azure)|Data & AI (Azure)|data-ai-azure|Security"
    )

    report = import_file(kind="partners", source=data)

    assert report.ok, [str(error) for error in report.errors]
    assert codes() == {"data-ai-azure", "security"}


def test_every_unknown_designation_is_reported_by_row_and_column_and_nothing_is_written(tmp_path):
    path = tmp_path / "partners.csv"
    path.write_bytes(
        partners_file(
            "Solutions Partner for Modern Work|Solutions Partner for Cloud Magic",
            "Security",
            "Modern Workplace|Azure",
        )
    )
    err = io.StringIO()

    with pytest.raises(CommandError, match="3 errors in 2 rows; nothing was written"):
        call_command("import_data", "partners", str(path), stderr=err)

    assert err.getvalue().splitlines() == [
        f"row 2, column designations: unknown designation "
        f"'Solutions Partner for Cloud Magic'; {ACCEPTED}",
        f"row 4, column designations: unknown designation 'Modern Workplace'; {ACCEPTED}",
        f"row 4, column designations: unknown designation 'Azure'; {ACCEPTED}",
    ]
    assert not Partner.objects.exists()


# --- The staff upload (web form) ------------------------------------------------------


def _upload(client, data: bytes):
    return client.post(
        reverse("imports:new"),
        {"kind": "partners", "file": SimpleUploadedFile("partners.csv", data, "text/csv")},
    )


def test_the_upload_form_imports_every_spelling(client):
    client.force_login(StaffUserFactory())

    _upload(client, partners_file(*(text for text, _ in SPELLINGS)))
    run = ImportRun.objects.get()
    assert (run.status, run.errors) == ("previewed", [])
    client.post(reverse("imports:confirm", args=[run.pk]))

    run.refresh_from_db()
    assert (run.status, run.counts["result"]["created"]) == ("succeeded", len(SPELLINGS))
    for n, (_, code) in enumerate(SPELLINGS):
        assert codes(str(1000001 + n)) == {code}


def test_the_upload_form_shows_the_unknown_designation(client):
    client.force_login(StaffUserFactory())

    _upload(client, partners_file("modern-work", "Solutions Partner for Cloud Magic"))

    run = ImportRun.objects.get()
    assert (run.status, run.errors) == (
        "rejected",
        [
            [
                3,
                "designations",
                f"unknown designation 'Solutions Partner for Cloud Magic'; {ACCEPTED}",
            ]
        ],
    )
    page = client.get(reverse("imports:detail", args=[run.pk])).content.decode()
    assert "unknown designation &#x27;Solutions Partner for Cloud Magic&#x27;" in page
    assert not Partner.objects.exists()


# --- The API ---------------------------------------------------------------------------


@pytest.fixture
def staff_api():
    return token_client(StaffUserFactory())


def _create(api, designations):
    return api.post(
        "/api/v1/partners/",
        {
            "partner_id": "1000077",
            "name": "Neu GmbH",
            "country": "DE",
            "onboarded_on": "2024-01-01",
            "designations": designations,
        },
        format="json",
    )


@pytest.mark.parametrize(("text", "code"), MICROSOFT_SPELLINGS)
def test_the_api_accepts_microsofts_names_in_any_case(staff_api, text, code):
    response = _create(staff_api, [text])

    assert response.status_code == 201, response.json()
    assert response.json()["designations"] == [code]
    assert codes("1000077") == {code}


def test_the_api_takes_every_spelling_in_one_list(staff_api):
    response = _create(staff_api, [text for text, _ in SPELLINGS])

    assert response.status_code == 201, response.json()
    assert sorted(response.json()["designations"]) == sorted({code for _, code in SPELLINGS})


def test_the_api_names_the_unknown_designation(staff_api):
    response = _create(staff_api, ["Solutions Partner for Modern Work", "Cloud Magic"])

    assert response.status_code == 400
    assert response.json() == {"designations": [f"unknown designation 'Cloud Magic'; {ACCEPTED}"]}
    assert not Partner.objects.exists()
