"""POST /v1/ingest: validation, durability, idempotency and retry dedup."""

from __future__ import annotations

from typing import Any

import pytest

from memory.models import Event
from tests.conftest import Api

pytestmark = pytest.mark.django_db

VALID: dict[str, Any] = {
    "user_id": "u1",
    "type": "message",
    "role": "user",
    "thread_id": "t1",
    "content": "I live in Oslo.",
}


def test_ingest_stores_the_event(api: Api, tenant: object) -> None:
    response = api.post(
        "/v1/ingest",
        VALID | {"event_time": "2024-05-01T10:00:00+02:00", "metadata": {"source": "app"}},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["deduped"] is False
    event = Event.objects.get(pk=body["event_id"])
    assert (event.tenant, event.user_id, event.conversation_id, event.content) == (
        tenant,
        "u1",
        "t1",
        "I live in Oslo.",
    )
    assert event.event_time.isoformat() == "2024-05-01T08:00:00+00:00"
    assert event.metadata == {"source": "app"}
    assert event.status == "pending"


def test_unix_seconds_event_time(api: Api) -> None:
    response = api.post("/v1/ingest", VALID | {"event_time": 1714557600})
    event = Event.objects.get(pk=response.json()["event_id"])
    assert event.event_time.isoformat() == "2024-05-01T10:00:00+00:00"


@pytest.mark.parametrize(
    ("body", "status", "detail_key"),
    [
        ({k: v for k, v in VALID.items() if k != "user_id"}, 400, "fields"),
        ({k: v for k, v in VALID.items() if k != "content"}, 400, "fields"),
        (VALID | {"type": "email"}, 400, "fields"),
        (VALID | {"role": "robot"}, 400, "fields"),
        (VALID | {"content": "   "}, 400, "fields"),
        (VALID | {"content": 42}, 400, "fields"),
        (VALID | {"user_id": ""}, 400, "fields"),
        (VALID | {"user_id": "x" * 256}, 400, "fields"),
        (VALID | {"event_time": "yesterday"}, 400, "fields"),
        (VALID | {"metadata": [1, 2]}, 400, "fields"),
        (VALID | {"tenant_id": "other"}, 400, "unknown_fields"),
        (VALID | {"scope": "project"}, 400, "fields"),
        (VALID | {"thread_id": "a", "conversation_id": "b"}, 400, "fields"),
        (VALID | {"metadata": {"blob": "x" * 9000}}, 413, "limit"),
    ],
)
def test_bad_input_is_rejected_and_nothing_is_stored(
    api: Api, body: dict[str, Any], status: int, detail_key: str
) -> None:
    response = api.post("/v1/ingest", body)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == ("invalid_request" if status == 400 else "payload_too_large")
    assert error["request_id"] == response["X-Request-ID"]
    assert detail_key in error["details"]
    assert Event.objects.count() == 0


def test_unknown_fields_are_named(api: Api) -> None:
    response = api.post("/v1/ingest", VALID | {"zeta": 1, "alpha": 2})
    assert response.json()["error"]["details"] == {"unknown_fields": ["alpha", "zeta"]}


def test_non_json_and_broken_json(api: Api) -> None:
    response = api.client.post(
        "/v1/ingest",
        "user_id=u1",
        content_type="text/plain",
        headers={"Authorization": f"Bearer {api.raw_key}"},
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    broken = api.post("/v1/ingest", '{"user_id": ')
    assert broken.status_code == 400
    assert api.post("/v1/ingest", "[1, 2]").status_code == 400
    deep = "[" * 100 + "]" * 100
    assert api.post("/v1/ingest", deep).status_code == 400
    assert Event.objects.count() == 0


def test_body_over_one_mebibyte_is_413_before_parsing(api: Api) -> None:
    response = api.post("/v1/ingest", VALID | {"content": "y" * (1024 * 1024)})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert Event.objects.count() == 0


def test_wrong_method_is_405_in_the_envelope(api: Api) -> None:
    response = api.get("/v1/ingest")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_idempotency_key_same_body_returns_original(api: Api) -> None:
    first = api.post("/v1/ingest", VALID | {"idempotency_key": "k-1"}).json()
    again = api.post("/v1/ingest", VALID | {"idempotency_key": "k-1"}).json()
    assert again == {"event_id": first["event_id"], "deduped": True}
    assert Event.objects.count() == 1


def test_idempotency_key_different_body_is_409(api: Api) -> None:
    first = api.post("/v1/ingest", VALID | {"idempotency_key": "k-2"}).json()
    response = api.post("/v1/ingest", VALID | {"idempotency_key": "k-2", "content": "Other."})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert response.json()["error"]["details"] == {"event_id": first["event_id"]}
    assert Event.objects.count() == 1


def test_idempotency_keys_are_per_tenant(api: Api, other_api: Api) -> None:
    mine = api.post("/v1/ingest", VALID | {"idempotency_key": "shared"}).json()
    theirs = other_api.post(
        "/v1/ingest", VALID | {"idempotency_key": "shared", "content": "Different."}
    )
    assert theirs.status_code == 200
    assert theirs.json()["event_id"] != mine["event_id"]


def test_identical_retry_without_key_is_deduped_but_new_text_is_not(api: Api) -> None:
    first = api.post("/v1/ingest", VALID).json()
    retry = api.post("/v1/ingest", VALID).json()
    assert retry == {"event_id": first["event_id"], "deduped": True}
    other = api.post("/v1/ingest", VALID | {"content": "I live in Bergen."}).json()
    assert other["deduped"] is False
    assert Event.objects.count() == 2


def test_event_status_endpoint_and_tenant_isolation(api: Api, other_api: Api) -> None:
    event_id = api.post("/v1/ingest", VALID).json()["event_id"]
    body = api.get(f"/v1/events/{event_id}").json()
    assert body["event_id"] == event_id
    assert body["status"] == "pending"
    assert body["conversation_id"] == "t1"
    assert body["fact_ids"] == []
    for path in (
        f"/v1/events/{event_id}",
        "/v1/events/not-a-uuid",
        "/v1/events/00000000-0000-0000-0000-000000000000",
    ):
        response = other_api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
