"""Structured logs carry the request id; the response tells it too."""

import json
import logging

import pytest

from portal.logging import JsonFormatter, RequestIdFilter, request_id_var


@pytest.mark.django_db
def test_request_id_is_taken_from_the_proxy_or_made(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    made = client.get("/healthz")["X-Request-ID"]
    assert len(made) == 32
    hostile = client.get("/healthz", HTTP_X_REQUEST_ID="x\nInjected: yes")["X-Request-ID"]
    assert "\n" not in hostile and hostile != "x\nInjected: yes"


def test_json_lines_with_request_id_and_extras():
    record = logging.LogRecord(
        "portal.test", logging.WARNING, __file__, 1, "hello %s", ("world",), None
    )
    record.partner_id = "123"
    token = request_id_var.set("req-1")
    try:
        RequestIdFilter().filter(record)
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    payload = json.loads(line)
    assert payload["message"] == "hello world"
    assert payload["request_id"] == "req-1"
    assert payload["level"] == "WARNING" and payload["partner_id"] == "123"
