"""Request ids, request logs without secrets, and who may read /metrics."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from flask import Flask

from inventory.web.observability import RequestIdFilter, configure_logging
from tests.conftest import PASSWORD, ApiClient
from tests.helpers import form_token


def test_every_answer_carries_a_request_id(app: Flask, viewer: ApiClient) -> None:
    fresh = viewer.get("/api/v1/items")
    assert len(fresh.headers["X-Request-ID"]) == 32
    passed_on = viewer.get("/api/v1/items", headers={"X-Request-ID": "nginx-abc123def"})
    assert passed_on.headers["X-Request-ID"] == "nginx-abc123def"
    forged = viewer.get("/api/v1/items", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert forged.headers["X-Request-ID"].isalnum()
    refused = app.test_client().get("/api/v1/items")
    assert refused.status_code == 401
    assert refused.headers["X-Request-ID"]


def test_request_log_has_the_id_and_no_secrets(
    app: Flask, admin: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="inventory.access")
    admin.get(
        "/api/v1/search",
        query_string={"q": "private words"},
        headers={"X-Request-ID": "trace-0001-abcd"},
    )
    client = app.test_client()
    token = form_token(client)
    client.post(
        "/login", data={"username": "admin-user", "password": PASSWORD, "csrf_token": token}
    )
    client.post(
        "/login",
        data={"username": "admin-user", "password": "wrong-" + PASSWORD, "csrf_token": token},
    )
    lines = [record for record in caplog.records if record.name == "inventory.access"]
    search = next(record for record in lines if "/api/v1/search" in record.getMessage())
    assert RequestIdFilter().filter(search)
    assert search.__dict__["status"] == 200
    everything = caplog.text
    for secret in (admin.token, PASSWORD, "private words", token):
        assert secret not in everything


def test_json_log_lines(app: Flask, viewer: ApiClient) -> None:
    configure_logging("json")
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        viewer.get("/api/v1/items", headers={"X-Request-ID": "json-line-0001"})
    finally:
        logging.getLogger().handlers.clear()
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["request_id"] == "json-line-0001"
    assert line["path"] == "/api/v1/items"
    assert line["level"] == "INFO"


def test_metrics_for_the_network_and_for_admins(app: Flask, make_api: Any) -> None:
    admin, viewer = make_api("admin"), make_api("viewer")
    viewer.get("/api/v1/search", query_string={"q": "drill"})
    inside = app.test_client().get("/metrics")  # loopback, not through the proxy
    assert inside.status_code == 200
    body = inside.get_data(as_text=True)
    assert (
        'inventory_http_requests_total{endpoint="search.search",method="GET",status="200"}' in body
    )
    assert "inventory_search_seconds_bucket" in body
    assert "inventory_db_pool_connections_in_use" in body
    assert "inventory_embedding_queue_items" in body
    proxied = {"X-Forwarded-For": "203.0.113.9"}
    assert app.test_client().get("/metrics", headers=proxied).status_code == 403
    assert viewer.get("/metrics", headers=proxied).status_code == 403
    assert admin.get("/metrics", headers=proxied).status_code == 200
