"""Per-key rate limits: headers on every authenticated response, 429, fail-open on Redis."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import redis
from django.conf import settings
from django.test import Client

import claiv.ratelimit
from claiv.ratelimit import _window_end
from keys.services import api_key_create
from memory.models import Event
from tenants.models import Tenant
from tenants.services import tenant_rate_limit_set
from tests.conftest import Api, wait_for
from tests.plugins.services import valkey_server

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_ratelimit_clock")]

BODY = {"user_id": "u1", "type": "message", "content": "hi", "conversation_id": "c1"}


def test_every_authenticated_response_carries_the_headers(api: Api) -> None:
    ok = api.get("/v1/usage/limits")
    bad = api.post("/v1/ingest", {"user_id": "u1"})
    missing = api.get("/v1/events/nope")
    for response, remaining in ((ok, 599), (bad, 598), (missing, 597)):
        assert response["X-RateLimit-Limit"] == "600"
        assert response["X-RateLimit-Remaining"] == str(remaining)
        assert 1 <= int(response["X-RateLimit-Reset"]) <= 60
    anonymous = Client().get("/v1/usage/limits")
    assert anonymous.status_code == 401
    assert "X-RateLimit-Limit" not in anonymous


def test_over_the_limit_is_429_with_retry_after_and_nothing_stored(
    api: Api, tenant: Tenant
) -> None:
    tenant_rate_limit_set(tenant=tenant, per_minute=2)
    assert api.post("/v6/ingest", BODY | {"content": "one"}).status_code == 200
    assert api.post("/v6/ingest", BODY | {"content": "two"}).status_code == 200
    refused = api.post("/v6/ingest", BODY | {"content": "three"}, headers={"X-Request-ID": "rl-1"})
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["code"], error["request_id"]) == ("rate_limited", "rl-1")
    assert error["details"]["limit"] == 2
    retry_after = error["details"]["retry_after"]
    assert isinstance(retry_after, int) and 1 <= retry_after <= 60
    assert refused["Retry-After"] == str(retry_after) == refused["X-RateLimit-Reset"]
    assert refused["X-RateLimit-Remaining"] == "0"
    assert list(
        Event.objects.filter(tenant=tenant).values_list("content", flat=True).order_by("content")
    ) == ["one", "two"]


def test_limits_are_per_key_and_per_tenant(api: Api, other_api: Api, tenant: Tenant) -> None:
    tenant_rate_limit_set(tenant=tenant, per_minute=1)
    assert api.get("/v1/usage/limits").status_code == 200
    assert api.get("/v1/usage/limits").status_code == 429
    second_key = Api(client=Client(), raw_key=api_key_create(tenant=tenant)[1])
    assert second_key.get("/v1/usage/limits").status_code == 200
    assert other_api.get("/v1/usage/limits").status_code == 200
    assert other_api.get("/v1/usage/limits")["X-RateLimit-Remaining"] == "598"


def test_zero_means_unlimited_and_no_headers(api: Api, tenant: Tenant) -> None:
    tenant_rate_limit_set(tenant=tenant, per_minute=0)
    for _ in range(3):
        response = api.get("/v1/usage/limits")
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response


def test_redis_down_fails_open(api: Api, tenant: Tenant) -> None:
    server = valkey_server()
    server.stop()
    try:
        response = api.post("/v6/ingest", BODY)
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response
        assert Event.objects.filter(tenant=tenant).count() == 1
    finally:
        server.start()
    wait_for(lambda: redis.Redis.from_url(settings.REDIS_URL).ping())
    assert api.get("/v1/usage/limits")["X-RateLimit-Limit"] == "600"


def test_a_new_window_starts_a_new_count(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_rate_limit_set(tenant=tenant, per_minute=1)
    now = [1_800_000_000.0]
    monkeypatch.setattr(claiv.ratelimit, "time", SimpleNamespace(time=lambda: now[0]))
    first = api.get("/v1/usage/limits")
    assert first.status_code == 200
    reset = int(first["X-RateLimit-Reset"])
    now[0] += reset - 1  # the last second of the window: still counted in it
    assert api.get("/v1/usage/limits").status_code == 429
    now[0] += 1  # the next window
    again = api.get("/v1/usage/limits")
    assert again.status_code == 200
    assert again["X-RateLimit-Reset"] == "60"


def test_windows_of_different_keys_are_offset() -> None:
    ends = {_window_end(f"tenant:{n}", 1_800_000_000) for n in range(20)}
    assert len(ends) > 10
    assert all(1_800_000_000 < end <= 1_800_000_060 for end in ends)
