"""A client generated from the served schema works, writes included: what
integrators do with /api/schema/ (openapi-python-client, pinned in
requirements-dev.txt)."""

from __future__ import annotations

import datetime
import importlib
import io
import json
import pkgutil
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from partners import models as pm

pytestmark = pytest.mark.django_db(transaction=True)  # live_server sees committed data

PACKAGE = "portal_api_client"
#: Without post hooks the generator runs no ruff on its output: the test
#: imports what the generator wrote and needs nothing from PATH.
CONFIG = "post_hooks: []\n"
WRITES = {
    "partners.partners_create",
    "locations.locations_create",
    "contacts.contacts_create",
    "contacts.contacts_update",
    "contacts.contacts_partial_update",
    "support_contracts.support_contracts_create",
    "revenue.revenue_bulk_create",
    "follow_up_cases.follow_up_cases_move_create",
}


def served_schema(base_url: str, token: str) -> dict:
    request = urllib.request.Request(  # noqa: S310 - the live server's http:// address
        f"{base_url}/api/schema/",
        headers={
            "Authorization": f"Token {token}",
            "Accept": "application/vnd.oai.openapi+json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)


def generate_client(schema: dict, directory: Path) -> Path:
    """The generated package, ``directory / PACKAGE``."""
    (directory / "schema.json").write_text(json.dumps(schema))
    (directory / "config.yml").write_text(CONFIG)
    command = [
        *(sys.executable, "-m", "openapi_python_client", "generate"),
        *("--path", "schema.json", "--config", "config.yml"),
        *("--output-path", PACKAGE, "--meta", "none"),
    ]
    done = subprocess.run(  # noqa: S603 - fixed arguments
        command, cwd=directory, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The generator reports endpoints it had to leave out as warnings.
    assert "Warning" not in done.stdout, done.stdout
    return directory / PACKAGE


def import_every_module(package: Path) -> tuple[list[str], dict[str, str]]:
    """The names of the generated modules and, for those that do not import,
    the error."""
    names, failures = [], {}
    for module in pkgutil.walk_packages([str(package)], f"{PACKAGE}."):
        names.append(module.name)
        try:
            importlib.import_module(module.name)
        except Exception as error:  # a generated module that does not import
            failures[module.name] = repr(error)
    return names, failures


@pytest.fixture
def generated_path(tmp_path, monkeypatch):
    """tmp_path importable; the generated modules forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
        del sys.modules[name]


def test_a_generated_client_imports_and_writes(
    generated_path, live_server, staff, own_partner, foreign_partner
):
    out = io.StringIO()
    call_command("api_token_create", "manager", stdout=out, stderr=io.StringIO())
    token = out.getvalue().strip()

    package = generate_client(served_schema(live_server.url, token), generated_path)
    names, failures = import_every_module(package)
    assert {f"{PACKAGE}.api.{name}" for name in WRITES} <= set(names)
    assert f"{PACKAGE}.api.partners.partners_list" in names
    assert failures == {}

    from portal_api_client import AuthenticatedClient
    from portal_api_client.api.partners import partners_list
    from portal_api_client.api.revenue import revenue_bulk_create
    from portal_api_client.models import BulkResult, PaginatedPartnerList, RevenueLineRequest

    client = AuthenticatedClient(base_url=live_server.url, token=token, prefix="Token")

    listed = partners_list.sync_detailed(client=client, page_size=10)
    assert listed.status_code == 200
    assert isinstance(listed.parsed, PaginatedPartnerList)
    assert listed.parsed.count == 2
    # by name: Highland Systems Ltd, Lindenhof IT GmbH
    assert [partner.partner_id for partner in listed.parsed.results] == ["1000002", "1000001"]

    line = RevenueLineRequest(
        location_id="2000001",
        date=datetime.date(2024, 3, 15),
        amount="1200.50",
        currency="EUR",
        reference="GEN-1",
        customer="Contoso",
    )
    posted = revenue_bulk_create.sync_detailed(client=client, body=[line])
    assert posted.status_code == 200, posted.content
    assert isinstance(posted.parsed, BulkResult)
    assert (posted.parsed.created, posted.parsed.updated, posted.parsed.unchanged) == (1, 0, 0)
    stored = pm.RevenueRecord.objects.get(source=pm.RevenueSource.API)
    assert (stored.location.location_id, stored.reference, stored.customer) == (
        "2000001",
        "GEN-1",
        "Contoso",
    )
    assert (stored.revenue_date, stored.amount) == (datetime.date(2024, 3, 15), Decimal("1200.50"))

    again = revenue_bulk_create.sync(client=client, body=[line])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
