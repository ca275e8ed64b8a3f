"""Event content up to the 1 MiB body limit (issue #14): accepted on every ingest path and
stored whole, the body limit still 413, the operator's per-event cap 413 when set."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from memory.models import Event
from memory.passages import WHOLE_TEXT_CHARS
from tenants.models import Tenant
from tests.conftest import Api

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024
# Room for the other fields of a body (user id, type, conversation, JSON punctuation).
ROOM = 512


def prose(length: int, *, deep: str = "", deep_at: int = 0) -> str:
    """Varied prose of exactly `length` ASCII characters, `deep` starting near `deep_at`."""
    topics = ["gardening", "the train timetable", "a budget spreadsheet", "cooking rice"]
    sentences, size, i, placed = [], 0, 0, not deep
    while size < length:
        if not placed and size >= deep_at:
            sentence, placed = deep, True
        else:
            sentence = f"Note {i} is about {topics[i % len(topics)]} and item {i * 7} of the list."
        sentences.append(sentence)
        size += len(sentence) + 1
        i += 1
    return " ".join(sentences)[:length]


def tokens(length: int) -> str:
    """`length` characters of distinct short tokens (ids, hashes, a table dump): the worst
    case for a tsvector, which stores each distinct lexeme with its positions."""
    words, size, i = [], 0, 0
    while size < length:
        word = f"k{i:x}"
        words.append(word)
        size += len(word) + 1
        i += 1
    return " ".join(words)[:length]


def _body(content: str, **fields: Any) -> dict[str, Any]:
    return {
        "user_id": "long",
        "type": "message",
        "role": "user",
        "conversation_id": "c",
        "content": content,
    } | fields


def _ingest(api: Api, path: str, content: str) -> Any:
    if path == "/v1/ingest/batch":
        response = api.post(path, {"events": [_body(content)]})
        assert response.status_code == 200, response.content[:300]
        result = response.json()["results"][0]
        assert "event_id" in result, result
        return result["event_id"]
    response = api.post(path, _body(content))
    assert response.status_code == 200, response.content[:300]
    return response.json()["event_id"]


@pytest.mark.parametrize("path", ["/v1/ingest", "/v6/ingest", "/v1/ingest/batch"])
@pytest.mark.parametrize(
    "content",
    [
        pytest.param(prose(100 * 1024), id="100KB-prose"),
        pytest.param(prose(MIB - ROOM), id="1MiB-prose"),
        pytest.param(tokens(MIB - ROOM), id="1MiB-distinct-tokens"),
    ],
)
def test_long_content_is_accepted_and_stored_whole(
    api: Api, tenant: Tenant, path: str, content: str
) -> None:
    event_id = _ingest(api, path, content)
    event = Event.objects.get(tenant=tenant, pk=event_id)
    assert event.content == content
    # The event's own keyword vector covers a bounded prefix (a tsvector holds at most
    # 1 MB): its lexemes are those of the first WHOLE_TEXT_CHARS characters.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search = to_tsvector('english', left(content, %s)) FROM memory_event "
            "WHERE id = %s",
            [WHOLE_TEXT_CHARS, event_id],
        )
        assert cursor.fetchone() == (True,)
    detail = api.get(f"/v1/events/{event_id}").json()
    assert detail["content"] == content


def test_a_repeat_of_a_long_message_within_60_s_is_a_retry(api: Api, tenant: Tenant) -> None:
    content = prose(MIB - ROOM)
    first = api.post("/v1/ingest", _body(content)).json()
    again = api.post("/v1/ingest", _body(content)).json()
    changed = api.post("/v1/ingest", _body(content[:-1] + "!")).json()
    assert again == {"event_id": first["event_id"], "deduped": True}
    assert changed["deduped"] is False and changed["event_id"] != first["event_id"]


@pytest.mark.parametrize("path", ["/v1/ingest", "/v6/ingest", "/v1/ingest/batch"])
def test_a_body_over_1_mib_is_still_413(api: Api, tenant: Tenant, path: str) -> None:
    body = {"events": [_body(prose(MIB))]} if path == "/v1/ingest/batch" else _body(prose(MIB))
    assert len(json.dumps(body)) > MIB
    response = api.post(path, body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not Event.objects.filter(tenant=tenant).exists()


@override_settings(EVENT_CONTENT_MAX_CHARS=32_000)
def test_the_operator_cap_restores_the_413(api: Api, tenant: Tenant) -> None:
    at_cap = api.post("/v1/ingest", _body(prose(32_000)))
    assert at_cap.status_code == 200
    for path in ("/v1/ingest", "/v6/ingest"):
        refused = api.post(path, _body(prose(32_001)))
        assert refused.status_code == 413
        error = refused.json()["error"]
        assert error["code"] == "payload_too_large"
        assert error["details"] == {"field": "content", "limit": 32_000}
        assert error["request_id"] == refused["X-Request-ID"]
    batch = api.post("/v1/ingest/batch", {"events": [_body(prose(100 * 1024))]}).json()
    assert batch["results"][0]["error"]["code"] == "payload_too_large"
    assert [str(i) for i in Event.objects.filter(tenant=tenant).values_list("id", flat=True)] == [
        at_cap.json()["event_id"]
    ]
