"""Health probes and the error envelope for Django's own failures."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.test import Client

from tests.conftest import wait_for
from tests.plugins.services import valkey_server

pytestmark = pytest.mark.django_db


def test_healthz_needs_no_auth_and_no_dependency() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_readyz_reports_both_dependencies() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "checks": {"postgres": "ok", "redis": "ok"}}


def test_readyz_is_503_while_valkey_is_down_and_recovers() -> None:
    server = valkey_server()
    server.stop()
    try:
        response = Client().get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["ok"] is False
        assert body["checks"]["postgres"] == "ok"
        assert body["checks"]["redis"].startswith("error")
    finally:
        server.start()
    wait_for(lambda: redis.Redis.from_url(settings.REDIS_URL).ping())
    assert Client().get("/readyz").status_code == 200


def test_unknown_url_is_a_json_404_envelope() -> None:
    response = Client().get("/v1/nothing-here", headers={"X-Request-ID": "req-abc"})
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "Not found.",
            "request_id": "req-abc",
            "details": {},
        }
    }
    assert response["X-Request-ID"] == "req-abc"


def test_request_id_is_generated_when_absent() -> None:
    response = Client().get("/healthz")
    assert len(response["X-Request-ID"]) == 36
