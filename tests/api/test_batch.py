"""POST /v1/ingest/batch and GET /v1/events/{id}."""

from __future__ import annotations

import pytest

from memory.models import Event
from tenants.models import Tenant
from tests.conftest import Api

pytestmark = pytest.mark.django_db


def _event(content: str, **fields: object) -> dict[str, object]:
    return {"user_id": "u1", "type": "message", "content": content, "role": "user"} | fields


def test_mixed_batch_stores_valid_items_and_reports_each_in_order(api: Api, tenant: Tenant) -> None:
    api.post("/v1/ingest", _event("first", idempotency_key="k1"))
    original = Event.objects.get(tenant=tenant)
    events = [
        _event("I live in Paris", conversation_id="c1"),
        _event("   "),  # blank content
        {"user_id": "u1", "type": "message"},  # content missing
        _event("x", colour="red"),  # unknown field
        "not an object",
        _event("y", metadata={"blob": "x" * 9000}),  # over the metadata limit
        _event("other body", idempotency_key="k1"),  # key reused: conflict
        _event("first", idempotency_key="k1"),  # a true retry
        _event("I work at Acme", thread_id="c2", event_time=1714554000),
    ]
    response = api.post("/v1/ingest/batch", {"events": events}, headers={"X-Request-ID": "batch-1"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 9

    stored = {e.content: e for e in Event.objects.filter(tenant=tenant)}
    assert set(stored) == {"first", "I live in Paris", "I work at Acme"}
    assert results[0] == {"event_id": str(stored["I live in Paris"].id), "deduped": False}
    assert results[8] == {"event_id": str(stored["I work at Acme"].id), "deduped": False}
    assert stored["I work at Acme"].conversation_id == "c2"
    assert results[7] == {"event_id": str(original.id), "deduped": True}

    errors = {i: results[i]["error"] for i in (1, 2, 3, 4, 5, 6)}
    assert {i: e["code"] for i, e in errors.items()} == {
        1: "invalid_request",
        2: "invalid_request",
        3: "invalid_request",
        4: "invalid_request",
        5: "payload_too_large",
        6: "conflict",
    }
    assert errors[1]["details"] == {"fields": {"content": ["content must not be empty."]}}
    assert errors[2]["details"] == {"fields": {"content": ["This field is required."]}}
    assert errors[3]["details"] == {"unknown_fields": ["colour"]}
    assert errors[6]["details"] == {"event_id": str(original.id)}
    assert all(e["request_id"] == "batch-1" for e in errors.values())


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"events": []}, 400, "invalid_request"),
        ({"events": "nope"}, 400, "invalid_request"),
        ({}, 400, "invalid_request"),
        ({"events": [{}], "extra": 1}, 400, "invalid_request"),
        ({"events": [_event(f"m{i}") for i in range(501)]}, 413, "payload_too_large"),
    ],
)
def test_bad_batches_are_refused_whole_and_store_nothing(
    api: Api, tenant: Tenant, body: dict[str, object], status: int, code: str
) -> None:
    response = api.post("/v1/ingest/batch", body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert Event.objects.filter(tenant=tenant).count() == 0


def test_batch_of_500_is_accepted(api: Api, tenant: Tenant) -> None:
    response = api.post("/v1/ingest/batch", {"events": [_event(f"m{i}") for i in range(500)]})
    assert response.status_code == 200
    assert all(r["deduped"] is False for r in response.json()["results"])
    assert Event.objects.filter(tenant=tenant).count() == 500


def test_batch_items_belong_to_the_keys_tenant(
    api: Api, other_api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    response = other_api.post("/v1/ingest/batch", {"events": [_event("theirs")]})
    event_id = response.json()["results"][0]["event_id"]
    assert Event.objects.get(pk=event_id).tenant == other_tenant
    assert Event.objects.filter(tenant=tenant).count() == 0
    assert api.get(f"/v1/events/{event_id}").status_code == 404


def test_event_detail_has_every_field_of_the_contract(api: Api, tenant: Tenant) -> None:
    event_id = api.post(
        "/v1/ingest",
        _event(
            "I live in Paris",
            conversation_id="c1",
            metadata={"k": [1, 2]},
            project_id="p1",
            scope="project",
            event_time="2024-05-01T09:00:00Z",
        ),
    ).json()["event_id"]
    event = Event.objects.get(pk=event_id)
    body = api.get(f"/v1/events/{event_id}").json()
    assert body == {
        "event_id": event_id,
        "user_id": "u1",
        "conversation_id": "c1",
        "project_id": "p1",
        "scope": "project",
        "type": "message",
        "role": "user",
        "content": "I live in Paris",
        "event_time": "2024-05-01T09:00:00+00:00",
        "metadata": {"k": [1, 2]},
        "created_at": event.created_at.isoformat(),
        "status": "pending",
        "stage": None,
        "fact_ids": [],
        "error": None,
    }
