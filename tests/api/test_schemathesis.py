"""Property-based requests generated from the OpenAPI schema (schemathesis):
no operation answers with a server error, whatever the parameters."""

from __future__ import annotations

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from rest_framework.authtoken.models import Token

BULK = ("POST", "/api/v1/revenue/bulk/")
MAX_EXAMPLES = 25


@pytest.fixture
def wsgi_app():
    """The project's WSGI application, without the per-request connection
    cleanup that would close the test's transaction (as Django's test client
    does)."""
    from portal.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.slow
def test_no_server_errors(wsgi_app, staff, own_partner, foreign_partner, evaluated, missed_case):
    import schemathesis

    headers = {"Authorization": f"Token {Token.objects.create(user=staff).key}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    chosen = [
        op
        for op in operations
        if op.method.upper() == "GET" or (op.method.upper(), op.path) == BULK
    ]
    assert len(chosen) == 15  # every list and detail endpoint, and the bulk POST

    statuses: dict[str, set[int]] = {}
    for operation in chosen:
        check_operation(operation, headers, statuses)
    assert len(statuses) == 15
    assert all(code < 500 for codes in statuses.values() for code in codes), statuses


def check_operation(operation, headers: dict, statuses: dict[str, set[int]]) -> None:
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = case.call(headers=headers)
        statuses.setdefault(operation.label, set()).add(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    run()
