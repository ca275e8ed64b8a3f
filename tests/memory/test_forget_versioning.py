"""Forget with `erase_events` leaves no memory-version row with the user id, and the recall
cache stays correct although the row (and its counter) is gone: versions are never reused."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import redis
from django.conf import settings

from memory.forget import ForgetScope, memory_forget
from memory.models import UserMemoryVersion
from memory.recall.cache import CachedRecall, _encode, _entry_key
from memory.versioning import (
    UNVERSIONED_BASE,
    user_memory_changed,
    user_memory_version,
)
from tenants.models import Tenant
from tests.conftest import Api
from tests.factories import ingest_enriched

pytestmark = pytest.mark.django_db
RECALL = {"user_id": "u1", "task": "Where does the user live?", "token_budget": 500}


def _cache_status(response: object) -> str:
    return response["Server-Timing"].split(",")[0]  # type: ignore[index]


def test_erase_leaves_no_version_row_and_no_cached_recall_is_served(
    api: Api, tenant: Tenant
) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    ingest_enriched(tenant, "I live in Oslo.", user_id="other")
    first = api.post("/v1/recall", RECALL)
    assert _cache_status(api.post("/v1/recall", RECALL)) == "cache;desc=hit"
    before = user_memory_version(tenant_id=tenant.pk, user_id="u1")

    # Redis misses the drop of the cached text: correctness must not depend on it.
    with mock.patch("memory.forget.recall_cache_drop"):
        memory_forget(tenant=tenant, scope=ForgetScope(user_id="u1", erase_events=True))
    assert not UserMemoryVersion.objects.filter(user_id="u1").exists()
    assert UserMemoryVersion.objects.filter(user_id="other").count() == 1

    after = api.post("/v1/recall", RECALL)
    assert _cache_status(after) == "cache;desc=miss"
    assert b"Lisbon" in first.content and b"Lisbon" not in after.content
    # Without a row nothing cached is ever served, whatever version an old entry carries.
    assert _cache_status(api.post("/v1/recall", RECALL)) == "cache;desc=miss"
    key = _entry_key(tenant.pk, "u1", "v1-json", RECALL)
    stale = json.dumps({"system_context": "I live in Lisbon."}).encode()
    for version in (0, 1, before):
        redis.Redis.from_url(settings.REDIS_URL).set(
            key, _encode(version, CachedRecall(tokens=3, body=stale))
        )
        assert _cache_status(api.post("/v1/recall", RECALL)) == "cache;desc=miss"
    assert not UserMemoryVersion.objects.filter(user_id="u1").exists()

    # The user comes back: a new row, at a number never handed out before.
    ingest_enriched(tenant, "I live in Rome.")
    again = user_memory_version(tenant_id=tenant.pk, user_id="u1")
    assert before < again < UNVERSIONED_BASE


def test_forget_without_erase_keeps_the_row_and_bumps_it(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    before = user_memory_version(tenant_id=tenant.pk, user_id="u1")
    memory_forget(tenant=tenant, scope=ForgetScope(user_id="u1"))
    after = user_memory_version(tenant_id=tenant.pk, user_id="u1")
    assert before < after < UNVERSIONED_BASE


def test_partial_erase_keeps_the_row_while_events_remain(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.", conversation_id="c1")
    ingest_enriched(tenant, "I work at Equinor.", conversation_id="c2")
    memory_forget(
        tenant=tenant, scope=ForgetScope(user_id="u1", conversation_id="c1", erase_events=True)
    )
    assert UserMemoryVersion.objects.filter(user_id="u1").count() == 1


def test_an_unknown_user_reads_a_fresh_version_each_time(tenant: Tenant) -> None:
    first = user_memory_version(tenant_id=tenant.pk, user_id="nobody")
    second = user_memory_version(tenant_id=tenant.pk, user_id="nobody")
    assert first != second and min(first, second) >= UNVERSIONED_BASE
    user_memory_changed(tenant_id=tenant.pk, user_id="nobody")
    stored = user_memory_version(tenant_id=tenant.pk, user_id="nobody")
    assert stored == user_memory_version(tenant_id=tenant.pk, user_id="nobody") < UNVERSIONED_BASE
