"""The audit trail: every write, forget, key action and recall served; never content;
GET /v1/audit filters and pages; forget pseudonymises; prune keeps the retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.test import override_settings
from django.utils import timezone

from keys.models import SCOPE_READ, SCOPE_WRITE
from keys.services import api_key_create, api_key_revoke
from memory import access, audit
from memory.audit import audit_flush, audit_prune, audit_pseudonym
from memory.metering import usage_redis
from memory.models import AuditEntry, Fact
from memory.recall import cache, engine
from memory.recall.channels import RecallScope
from memory.recall.engine import Retrieval
from memory.versioning import user_memory_changed
from tenants.models import Tenant
from tests.conftest import Api
from tests.factories import ingest_enriched

pytestmark = pytest.mark.django_db

SECRET = "Falcon launch code 7781"


def _actions(api: Api, **params: str) -> list[str]:
    response = api.get("/v1/audit", **params)
    assert response.status_code == 200, response.content
    return [e["action"] for e in response.json()["entries"]]


def test_writes_and_recalls_are_recorded_without_content(
    api: Api, tenant: Tenant, api_key: tuple
) -> None:
    since = timezone.now().isoformat()  # after the fixture key's creation
    made = api.post("/v1/memories", {"user_id": "u1", "content": SECRET}).json()
    api.post(
        "/v1/recall",
        {"user_id": "u1", "task": "launch code", "token_budget": 300},
        headers={"X-Request-ID": "req-abc"},
    )
    api.post("/v1/recall", {"user_id": "u1", "task": "launch code", "token_budget": 300})
    api.post("/v6/recall", {"user_id": "u1", "query": "launch code"})
    api.post("/v2/recall", {"user_id": "u1", "task": "launch code", "token_budget": 300})
    api.post("/v1/ingest", {"user_id": "u1", "type": "message", "content": SECRET})
    api.post(f"/v1/memories/{made['id']}/supersede", {"content": "Falcon code retired"})
    entries = api.get("/v1/audit", since=since).json()["entries"]
    assert [e["action"] for e in entries] == [
        "memory_supersede",
        "ingest",
        "recall",
        "recall",
        "recall",
        "recall",
        "memory_add",
    ]
    prefix = api_key[0].prefix
    assert {e["actor"] for e in entries} == {prefix}
    assert [e["endpoint"] for e in entries[2:6]] == [
        "POST /v2/recall",
        "POST /v6/recall",
        "POST /v1/recall",
        "POST /v1/recall",
    ]
    # /v2/recall is the v1 view: it shares v1's cache entry.
    assert [e["counts"]["cache_hit"] for e in entries[2:6]] == [1, 0, 1, 0]
    assert entries[5]["request_id"] == "req-abc"
    assert entries[6]["counts"] == {"memories": 1} and entries[6]["user_id"] == "u1"
    stored = list(AuditEntry.objects.values_list("endpoint", "user_id", "counts", "actor"))
    assert "Falcon" not in repr(stored) and "7781" not in repr(stored)


def test_filters_and_cursor(api: Api) -> None:
    for user in ("u1", "u2", "u1"):
        api.post("/v1/memories", {"user_id": user, "content": "note"})
    assert _actions(api, user_id="u1") == ["memory_add", "memory_add"]
    assert _actions(api, action="key_created") == ["key_created"]
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert _actions(api, since=future) == []
    first = api.get("/v1/audit", limit="2").json()
    second = api.get("/v1/audit", limit="2", cursor=first["next_cursor"]).json()
    ids = [e["id"] for e in first["entries"] + second["entries"]]
    assert len(ids) == 4 == len(set(ids)) and second["next_cursor"] is None
    assert api.get("/v1/audit", action="bogus").status_code == 400
    assert api.get("/v1/audit", cursor="nope").status_code == 400


def test_key_actions_are_in_the_trail(api: Api, tenant: Tenant) -> None:
    key, _ = api_key_create(tenant=tenant, name="ci", origin="manage.py")
    api_key_revoke(key=key, origin="manage.py")
    entries = api.get("/v1/audit").json()["entries"]
    assert [(e["action"], e["actor"]) for e in entries[:2]] == [
        ("key_revoked", "manage.py"),
        ("key_created", "manage.py"),
    ]


def test_whole_user_forget_pseudonymises_and_a_scoped_one_does_not(
    api: Api, tenant: Tenant
) -> None:
    api.post("/v1/memories", {"user_id": "u1", "content": "x"})
    api.post("/v1/memories", {"user_id": "u2", "content": "y"})
    api.post("/v1/forget", {"user_id": "u2", "conversation_id": "c9"})
    assert _actions(api, user_id="u2") == ["forget", "memory_add"]
    api.post("/v1/forget", {"user_id": "u2"})
    pseudonym = audit_pseudonym(tenant_id=str(tenant.pk), user_id="u2")
    assert _actions(api, user_id="u2") == []
    assert _actions(api, user_id=pseudonym) == ["forget", "forget", "memory_add"]
    assert _actions(api, user_id="u1") == ["memory_add"]


def test_scope_and_other_tenant(api: Api, other_api: Api, tenant: Tenant) -> None:
    api.post("/v1/memories", {"user_id": "u1", "content": "x"})
    reader = Api(
        client=api.client,
        raw_key=api_key_create(tenant=tenant, scopes=[SCOPE_READ, SCOPE_WRITE])[1],
    )
    assert reader.get("/v1/audit").status_code == 403
    other = other_api.get("/v1/audit").json()["entries"]
    assert [e["action"] for e in other] == ["key_created"]  # its own key only


@override_settings(CLAIV_AUDIT_RETENTION_DAYS=30)
def test_prune_keeps_the_retention(tenant: Tenant) -> None:
    now = timezone.now()
    AuditEntry.objects.all().delete()
    for days in (31, 29):
        AuditEntry.objects.create(tenant=tenant, at=now - timedelta(days=days), action="recall")
    assert audit_flush() == 0
    assert audit_prune(now=now) == 1
    assert [e.at for e in AuditEntry.objects.all()] == [now - timedelta(days=29)]


def test_key_actions_are_read_from_the_keys_log_not_copied(api: Api, tenant: Tenant) -> None:
    """No receiver copies them (house rule: no signals for business logic): the trail reads
    the keys app's own log, pages across both sources, and keeps the retention for it."""
    from keys.models import ApiKeyAuditEntry

    keys = [api_key_create(tenant=tenant, name=f"k{i}", origin="manage.py")[0] for i in range(3)]
    for i in range(2):
        api.post("/v1/memories", {"user_id": "u1", "content": f"note {i}"})
    api_key_revoke(key=keys[0], origin="manage.py")
    assert not AuditEntry.objects.filter(action__startswith="key_").exists()
    seen, cursor = [], None
    while True:
        page = api.get("/v1/audit", limit="2", **({"cursor": cursor} if cursor else {})).json()
        seen += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # The fixture key, three keys, two notes, one revoke: each once, newest first.
    assert len(seen) == 7 == len({e["id"] for e in seen})
    assert [e["at"] for e in seen] == sorted((e["at"] for e in seen), reverse=True)
    assert seen[0]["action"] == "key_revoked" and seen[0]["id"].startswith("key-")
    assert seen[0]["endpoint"] == f"manage.py (key {keys[0].prefix})"
    assert _actions(api, action="key_created", limit="10") == ["key_created"] * 4
    assert _actions(api, user_id="u1") == ["memory_add", "memory_add"]
    old = ApiKeyAuditEntry.objects.filter(tenant=tenant).order_by("at").first()
    assert old is not None
    ApiKeyAuditEntry.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=91))
    assert len(_actions(api, action="key_created")) == 3  # past the retention: not read


class _CountedPipelines:
    """The Redis client of memory.audit, recording what each executed pipeline held."""

    def __init__(self, client: object, fail: bool = False) -> None:
        self.client, self.fail, self.executed = client, fail, []

    def pipeline(self, **kwargs: object) -> object:
        real = self.client.pipeline(**kwargs)  # type: ignore[attr-defined]
        outer = self

        class Pipe:
            def __getattr__(self, name: str) -> object:
                return getattr(real, name)

            def __len__(self) -> int:
                return len(real)

            def execute(self, **kw: object) -> object:
                outer.executed.append([c[0][0] for c in real.command_stack])
                if outer.fail:
                    real.reset()
                    raise redis.ConnectionError("redis is down")
                return real.execute(**kw)

        return Pipe()

    def __getattr__(self, name: str) -> object:
        return getattr(self.client, name)


def test_an_ingest_sends_its_audit_entry_and_usage_count_in_one_round_trip(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = _CountedPipelines(audit.usage_redis())
    monkeypatch.setattr(audit, "usage_redis", lambda: counted)
    body = {"user_id": "u1", "type": "message", "role": "user", "content": "hi"}
    assert api.post("/v1/ingest", body).status_code == 200
    assert api.post("/v1/ingest/batch", {"events": [body | {"content": "yo"}]}).status_code == 200
    assert counted.executed == [["EVAL", "RPUSH"], ["EVAL", "RPUSH"]]
    monkeypatch.undo()
    assert _actions(api)[:2] == ["ingest_batch", "ingest"]
    usage = api.get("/v1/usage/summary", range="today").json()
    assert usage["totals"]["ingest_events"] == 2


def test_with_redis_down_the_deferred_entry_is_written_directly(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = _CountedPipelines(audit.usage_redis(), fail=True)
    monkeypatch.setattr(audit, "usage_redis", lambda: counted)
    body = {"user_id": "u1", "type": "message", "role": "user", "content": "hi"}
    assert api.post("/v1/ingest", body).status_code == 200
    assert counted.executed == [["EVAL", "RPUSH"]]
    assert list(AuditEntry.objects.filter(tenant=tenant).values_list("action", flat=True)) == [
        "ingest"
    ]


def test_a_recall_miss_sends_its_cache_write_with_its_audit_entry_and_usage_count(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_memory_changed(tenant_id=tenant.pk, user_id="u1")  # a versioned user is cached
    counted = _CountedPipelines(audit.usage_redis())
    monkeypatch.setattr(audit, "usage_redis", lambda: counted)
    body = {"user_id": "u1", "task": "Where does the user live?", "token_budget": 300}
    miss = api.post("/v1/recall", body)
    assert miss.status_code == 200 and miss["Server-Timing"].startswith("cache;desc=miss")
    # One round trip after the answer: the cache write, the usage count, the audit entry.
    assert counted.executed == [["EVAL", "EVAL", "RPUSH"]]
    hit = api.post("/v1/recall", body)
    assert hit["Server-Timing"].startswith("cache;desc=hit")  # the deferred write landed
    assert hit.content == miss.content


def test_a_refused_cache_write_does_not_write_the_audit_entry_twice(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_memory_changed(tenant_id=tenant.pk, user_id="u1")  # a versioned user is cached
    monkeypatch.setattr(cache, "_WRITE", "return redis.error_reply('refused')")
    body = {"user_id": "u1", "task": "Where does the user live?", "token_budget": 300}
    for _ in range(2):
        response = api.post("/v1/recall", body)
        assert response.status_code == 200
        assert response["Server-Timing"].startswith("cache;desc=miss")  # not cached, not failed
    # Pushed to the buffer (not inserted directly as well): two entries once flushed.
    assert not AuditEntry.objects.filter(tenant=tenant).exists()
    audit_flush()
    assert AuditEntry.objects.filter(tenant=tenant, action="recall").count() == 2


def _fact_packed(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> Fact:
    """A fact, and a v1 recall whose retrieval ranks only it (so the packed context holds
    it: a real one would show the turn that stated it and skip the fact)."""
    ingest_enriched(tenant, "I live in Lisbon.")
    usage_redis().delete(access.COUNTS_KEY, access.LATEST_KEY)
    fact = Fact.objects.get(tenant=tenant, predicate="lives_in")
    ranked = Retrieval(
        scope=RecallScope(tenant=tenant, user_id="u1"),
        query="Where?",
        reference_time=timezone.now(),
        anchor_source="request",
        routing=None,
        fused=[(("fact", fact.id), 1.0)],
        facts={fact.id: fact},
    )
    monkeypatch.setattr(engine, "retrieve", lambda *args, **kwargs: ranked)
    return fact


def test_a_recalls_fact_accesses_ride_on_the_end_pipeline(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    fact = _fact_packed(tenant, monkeypatch)
    counted = _CountedPipelines(audit.usage_redis())
    monkeypatch.setattr(audit, "usage_redis", lambda: counted)

    def alone(*args: object, **kwargs: object) -> None:
        raise AssertionError("the accesses went to Redis in a round trip of their own")

    monkeypatch.setattr(access, "_count", alone)
    body = {"user_id": "u1", "task": "Where does the user live?", "token_budget": 300}
    response = api.post("/v1/recall", body)
    assert response.status_code == 200
    assert [b["type"] for b in response.json()["memory_blocks"]] == ["fact"]
    # One round trip after the answer: the accesses, the cache write, the usage count, the
    # audit entry.
    assert counted.executed == [["EVAL", "EVAL", "EVAL", "RPUSH"]]
    assert usage_redis().hgetall(access.COUNTS_KEY) == {str(fact.id).encode(): b"1"}


def test_when_the_end_pipeline_fails_the_accesses_are_written_directly(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    fact = _fact_packed(tenant, monkeypatch)
    monkeypatch.setattr(audit, "usage_redis", lambda: _CountedPipelines(usage_redis(), fail=True))
    body = {"user_id": "u1", "task": "Where does the user live?", "token_budget": 300}
    assert api.post("/v1/recall", body).status_code == 200
    fact.refresh_from_db()
    assert fact.access_count == 1 and fact.last_accessed_at is not None
    assert not usage_redis().exists(access.COUNTS_KEY)
