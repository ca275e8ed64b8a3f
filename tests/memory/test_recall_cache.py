"""The recall cache: hits are served without retrieval, any memory change is visible on
the very next recall (new facts appear, forgotten ones vanish), and forget deletes the
cached text from Redis, not only its reachability."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from django.conf import settings

from memory.recall.cache import (
    CachedRecall,
    _encode,
    _entry_key,
    _index_key,
    _user_tag,
    recall_cache_drop,
)
from memory.versioning import user_memory_version
from tenants.models import Tenant
from tests.conftest import Api, wait_for
from tests.factories import ingest_enriched
from tests.plugins.services import valkey_server

pytestmark = pytest.mark.django_db
RECALL = {"user_id": "u1", "task": "Where does the user live and work?", "token_budget": 1000}


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _user_keys(tenant: Tenant, user_id: str) -> list[bytes]:
    return sorted(_redis().scan_iter(match=f"{_user_tag(tenant.pk, user_id)}*", count=1000))


def _entry_ttls(tenant: Tenant, user_id: str) -> list[int]:
    index = _index_key(tenant.pk, user_id).encode()
    return [_redis().ttl(key) for key in _user_keys(tenant, user_id) if key != index]


def _cache_status(response: Any) -> str:
    return response["Server-Timing"].split(",")[0]


def test_repeated_recall_is_served_from_the_cache(
    api: Api, tenant: Tenant, django_assert_max_num_queries: Any
) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    first = api.post("/v1/recall", RECALL)
    assert _cache_status(first) == "cache;desc=miss"
    # A hit costs the key lookup and the memory-version read, not the retrieval queries.
    with django_assert_max_num_queries(3):
        again = api.post("/v1/recall", RECALL)
    assert _cache_status(again) == "cache;desc=hit"
    assert again.content == first.content
    assert "app;dur=" in again["Server-Timing"]


def test_entry_is_compressed_and_served_only_at_its_version(api: Api, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    body = api.post("/v1/recall", RECALL).content
    key = _entry_key(tenant.pk, "u1", "v1-json", RECALL)
    stored = _redis().get(key)
    assert stored is not None and len(stored) < len(body)
    assert b"Lisbon" not in stored  # compressed, not the JSON text
    version = user_memory_version(tenant_id=tenant.pk, user_id="u1")
    marker = json.dumps({"system_context": "from the cache"}).encode()
    # An entry of an older version is never served...
    _redis().set(key, _encode(version - 1, CachedRecall(tokens=3, body=marker)))
    response = api.post("/v1/recall", RECALL)
    assert _cache_status(response) == "cache;desc=miss"
    assert response.content == body
    # ...one of the current version is served as stored (proves the key is the one read).
    _redis().set(key, _encode(version, CachedRecall(tokens=3, body=marker)))
    response = api.post("/v1/recall", RECALL)
    assert _cache_status(response) == "cache;desc=hit"
    assert response.content == marker


def test_new_memory_appears_on_the_next_recall(api: Api, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    assert "Acme" not in api.post("/v1/recall", RECALL).json()["system_context"]
    event = ingest_enriched(tenant, "I work at Acme Robotics.", minutes=5)
    response = api.post("/v1/recall", RECALL)
    assert _cache_status(response) == "cache;desc=miss"
    assert "Acme" in response.json()["system_context"]
    assert str(event.id) in response.json()["citations"]
    # The stale entry was overwritten in place: one entry for the request, plus the index.
    assert len(_user_keys(tenant, "u1")) == 2


def test_forget_empties_the_cached_context_immediately(
    api: Api, tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    ingest_enriched(tenant, "I live in Porto.", user_id="u2")
    assert api.post("/v1/recall", RECALL).json()["citations"]
    assert api.post("/v1/recall", RECALL | {"token_budget": 500}).json()["citations"]
    assert api.post("/v1/recall", RECALL | {"user_id": "u2"}).json()["citations"]
    assert len(_user_keys(tenant, "u1")) == 3  # two entries and the index

    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/v1/forget", {"user_id": "u1"}).status_code == 200

    # The cached text itself is gone from Redis, not only unreachable; u2's entry stays.
    assert _user_keys(tenant, "u1") == []
    assert len(_user_keys(tenant, "u2")) == 2
    assert api.post("/v1/recall", RECALL).json()["citations"] == []
    assert api.post("/v1/recall", RECALL | {"user_id": "u2"}).json()["citations"]


def test_drop_of_a_user_without_entries_is_a_no_op(tenant: Tenant) -> None:
    assert recall_cache_drop(tenant_id=tenant.pk, user_id="nobody") == 0
    assert _redis().exists(_index_key(tenant.pk, "nobody")) == 0


def test_cache_is_per_tenant(api: Api, other_api: Api, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    assert api.post("/v1/recall", RECALL).json()["citations"]
    response = other_api.post("/v1/recall", RECALL)
    assert _cache_status(response) == "cache;desc=miss"
    assert response.json()["citations"] == []


def test_recall_is_served_without_redis(api: Api, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    expected = api.post("/v1/recall", RECALL).json()
    server = valkey_server()
    server.stop()
    try:
        response = api.post("/v1/recall", RECALL)
        assert response.status_code == 200
        assert _cache_status(response) == "cache;desc=miss"
        assert response.json() == expected
    finally:
        server.start()
    wait_for(lambda: _redis().ping())


V6 = {
    "user_id": "u1",
    "query": "Where does the user live?",
    "conversation_id": "c1",
    "token_budget": 500,
}


def test_v6_recall_is_cached_and_equals_the_uncached_answer(api: Api, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    first = api.post("/v6/recall", V6)
    again = api.post("/v6/recall", V6)
    assert (_cache_status(first), _cache_status(again)) == ("cache;desc=miss", "cache;desc=hit")
    assert again.content == first.content
    assert first.json()["answer_facts"][0]["object_text"] == "Lisbon"
    assert first.json()["llm_context"]["anchor_source"] == "conversation_event"
    [ttl] = _entry_ttls(tenant, "u1")
    assert ttl > 60


def test_v6_answer_anchored_on_the_clock_is_cached_for_a_minute(api: Api, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    body = {"user_id": "u1", "query": "Where does the user live?", "token_budget": 500}
    assert api.post("/v6/recall", body).json()["llm_context"]["anchor_source"] == "server_now"
    [ttl] = _entry_ttls(tenant, "u1")
    assert 0 < ttl <= 60
    assert _cache_status(api.post("/v6/recall", body)) == "cache;desc=hit"
    # The index outlives its longest entry, so forget still finds the v1 entries too.
    api.post("/v1/recall", RECALL)
    assert _redis().ttl(_index_key(tenant.pk, "u1")) > 60


def test_an_ingested_event_is_seen_before_enrichment(api: Api, tenant: Tenant) -> None:
    api.post(
        "/v6/ingest",
        {
            "user_id": "u1",
            "conversation_id": "c1",
            "type": "message",
            "role": "user",
            "content": "I am packing for Lisbon.",
        },
    )
    history = api.post("/v6/recall", V6).json()["llm_context"]["conversation_history"]
    assert [turn["content"] for turn in history] == ["I am packing for Lisbon."]
    api.post(
        "/v6/ingest",
        {
            "user_id": "u1",
            "conversation_id": "c1",
            "type": "message",
            "role": "user",
            "content": "The flight leaves at nine.",
        },
    )
    response = api.post("/v6/recall", V6)
    assert _cache_status(response) == "cache;desc=miss"
    history = response.json()["llm_context"]["conversation_history"]
    assert [turn["content"] for turn in history][-1] == "The flight leaves at nine."


def test_v1_answer_resolved_from_the_clock_is_cached_for_a_minute(api: Api, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    api.post("/v1/recall", RECALL | {"task": "What did the user do last week?"})
    [ttl] = _entry_ttls(tenant, "u1")
    assert 0 < ttl <= 60
    # Anchored on the conversation's latest event instead, it keeps the full lifetime.
    api.post(
        "/v1/recall", RECALL | {"task": "What did the user do last week?", "conversation_id": "c1"}
    )
    assert sorted(ttl > 60 for ttl in _entry_ttls(tenant, "u1")) == [False, True]
