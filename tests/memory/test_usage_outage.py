"""Usage counted before a Redis loss is not lost beyond the flush interval: the beat moves
counters into Postgres every USAGE_FLUSH_SECONDS, and an empty Valkey restart after that
leaves every flushed request counted."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from memory.metering import KEY_PREFIX, TENANTS_KEY, dirty_key, usage_flush
from tenants.models import Tenant
from tests.conftest import Api, wait_for
from tests.plugins.services import valkey_server

pytestmark = pytest.mark.django_db


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _answers() -> bool:
    try:
        return bool(_redis().ping())
    except redis.RedisError:
        return False


def test_usage_is_flushed_every_few_seconds_and_never_piles_up() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["flush-usage"]
    assert entry["task"] == "memory.usage_flush"
    assert entry["schedule"] == 5.0 == float(settings.USAGE_FLUSH_SECONDS)
    assert entry["options"] == {"expires": 10.0}


@pytest.mark.slow
def test_an_empty_valkey_restart_keeps_flushed_usage(api: Api, tenant: Tenant) -> None:
    for _ in range(3):
        assert api.get("/v1/usage/limits").status_code == 200
    # What the beat runs every USAGE_FLUSH_SECONDS (this tenant only: other tests' rolled
    # back tenants may have counters waiting in Redis too).
    assert usage_flush(tenant_id=tenant.pk) == 1
    server = valkey_server()
    server.stop()
    try:
        # While Redis is down requests are served; their usage is the window at risk.
        assert api.get("/v1/usage/limits").status_code == 200
    finally:
        server.start()
        wait_for(_answers, timeout=120)
    # The session's Valkey comes back from its append-only file; a restart that lost its
    # data is made by deleting every usage key (not FLUSHDB: other state is not ours).
    client = _redis()
    client.delete(*client.scan_iter(match=f"{KEY_PREFIX}:*", count=1000), TENANTS_KEY)
    assert client.smembers(TENANTS_KEY) == client.smembers(dirty_key(tenant.pk)) == set()
    summary = api.get("/v1/usage/summary", range="today").json()
    # The 3 flushed requests survived; the one served while Redis was down was not counted.
    assert summary["totals"]["requests"] == 3
