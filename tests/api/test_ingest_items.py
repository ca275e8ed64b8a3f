"""The ingest shortcut (`memory.api.ingest_items`) answers exactly as `IngestSerializer`:
the same validated body for a valid item, and for every bad item no answer at all, so
the serializer's error (status, envelope, field paths) is what the client gets, on
POST /v1/ingest, /v6/ingest and in a batch slot alike."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from claiv.api import validated
from claiv.errors import exception_envelope
from memory.api.ingest_items import FIELDS, ingest_item_fast
from memory.api.serializers import IngestSerializer
from memory.models import Event
from tenants.models import Tenant
from tests.conftest import Api

GOOD = {"user_id": "u1", "type": "message", "role": "user", "content": "I live in Berlin."}

VALID: list[dict[str, Any]] = [
    GOOD,
    {"user_id": "u1", "type": "tool_call", "content": "x"},
    {
        **GOOD,
        "conversation_id": "c1",
        "idempotency_key": "k" * 255,
        "project_id": "p1",
        "scope": "project",
        "event_time": "2026-01-02T03:04:05Z",
        "metadata": {"k": ["v", 1, 2.5, None, {"ü": True}]},
        "document_id": "d1",
        "document_name": "  Report.pdf  ",  # trimmed, as CharField does
    },
    {**GOOD, "conversation_id": None, "role": None, "metadata": None, "event_time": None},
    {**GOOD, "thread_id": "c2"},
    {**GOOD, "thread_id": "c2", "conversation_id": "c2"},
    {**GOOD, "thread_id": "c3", "conversation_id": None, "scope": "conversation"},
    {**GOOD, "event_time": 1767323045},
    {**GOOD, "event_time": 1767323045.25},
    {**GOOD, "event_time": "2026-01-02T03:04:05"},
    {**GOOD, "event_time": "2026-01-02T03:04:05+02:00"},
    {**GOOD, "content": "  Ich wohne in Köln 🏠  ", "user_id": "ü" * 255},
    {**GOOD, "scope": "global", "metadata": {}},
]

INVALID: list[Any] = [
    None,
    "not an object",
    [GOOD],
    42,
    {},
    {**GOOD, "surprise": 1},
    {k: v for k, v in GOOD.items() if k != "user_id"},
    {k: v for k, v in GOOD.items() if k != "type"},
    {k: v for k, v in GOOD.items() if k != "content"},
    {**GOOD, "user_id": None},
    {**GOOD, "user_id": ""},
    {**GOOD, "user_id": 42},
    {**GOOD, "user_id": True},
    {**GOOD, "user_id": ["u1"]},
    {**GOOD, "user_id": "u" * 256},
    {**GOOD, "user_id": "a\x00b"},
    {**GOOD, "user_id": "a\ud800b"},
    {**GOOD, "type": "nonsense"},
    {**GOOD, "type": ""},
    {**GOOD, "type": 1},
    {**GOOD, "type": None},
    {**GOOD, "role": ""},
    {**GOOD, "role": "robot"},
    {**GOOD, "role": 1},
    {**GOOD, "content": ""},
    {**GOOD, "content": " \n\t "},
    {**GOOD, "content": 42},
    {**GOOD, "content": True},
    {**GOOD, "content": None},
    {**GOOD, "content": "a\x00"},
    {**GOOD, "content": "\udc00x"},
    {**GOOD, "content": {"text": "hi"}},
    {**GOOD, "conversation_id": ""},
    {**GOOD, "conversation_id": 7},
    {**GOOD, "conversation_id": "c" * 256},
    {**GOOD, "thread_id": "c1", "conversation_id": "c2"},
    {**GOOD, "idempotency_key": 5},
    {**GOOD, "project_id": ""},
    {**GOOD, "document_id": ""},
    {**GOOD, "event_time": "yesterday-ish"},
    {**GOOD, "event_time": ""},
    {**GOOD, "event_time": True},
    {**GOOD, "event_time": -1},
    {**GOOD, "event_time": 1e20},
    {**GOOD, "event_time": [2026]},
    {**GOOD, "metadata": "not a dict"},
    {**GOOD, "metadata": [1]},
    {**GOOD, "metadata": 3},
    {**GOOD, "metadata": {"blob": "x" * 9000}},
    {**GOOD, "scope": "nope"},
    {**GOOD, "scope": "project"},
    {**GOOD, "scope": "conversation"},
    {**GOOD, "document_name": ""},
    {**GOOD, "document_name": "   "},
    {**GOOD, "document_name": "x" * 1001},
    {**GOOD, "document_name": 5},
]


def _outcome(item: Any, **context: Any) -> Any:
    try:
        return ("ok", validated(IngestSerializer, item, **context))
    except Exception as exc:  # noqa: BLE001 - compared as the client would see them
        return ("error", exception_envelope(exc, "req-1")[:2])


def test_the_shortcut_knows_every_field_of_the_serializer() -> None:
    # A field dropped from the serializer must not stay accepted here.
    assert set(IngestSerializer().fields) == FIELDS


@pytest.mark.parametrize("item", VALID, ids=range(len(VALID)))
def test_a_valid_item_takes_the_shortcut_to_the_serializers_result(item: dict[str, Any]) -> None:
    expected = _outcome(item)
    assert expected[0] == "ok"
    assert ingest_item_fast(item) == expected[1]


@pytest.mark.parametrize("item", INVALID, ids=range(len(INVALID)))
def test_a_bad_item_is_left_to_the_serializer(item: Any) -> None:
    assert _outcome(item)[0] == "error"
    assert ingest_item_fast(item) is None


def test_a_required_conversation_is_checked_as_v6_does() -> None:
    without = dict(GOOD)
    assert _outcome(without, require_conversation=True)[0] == "error"
    assert ingest_item_fast(without, require_conversation=True) is None
    for item in ({**GOOD, "conversation_id": "c1"}, {**GOOD, "thread_id": "c1"}):
        expected = _outcome(item, require_conversation=True)
        assert ingest_item_fast(item, require_conversation=True) == expected[1]


@override_settings(EVENT_CONTENT_MAX_CHARS=10)
def test_the_operators_content_limit_is_left_to_the_serializer() -> None:
    long = {**GOOD, "content": "x" * 11}
    assert _outcome(long)[1][0] == 413
    assert ingest_item_fast(long) is None
    assert (
        ingest_item_fast({**GOOD, "content": "x" * 10})
        == _outcome({**GOOD, "content": "x" * 10})[1]
    )


def _parseable(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_parseable(k) and _parseable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_parseable(v) for v in value)
    if isinstance(value, str):
        return "\x00" not in value and not any("\ud800" <= c <= "\udfff" for c in value)
    return True


@pytest.mark.django_db
def test_every_bad_item_gets_the_same_4xx_alone_and_in_a_batch(api: Api, tenant: Tenant) -> None:
    # A body with NUL or a lone surrogate anywhere is refused whole, before validation.
    bad = [item for item in INVALID if isinstance(item, dict) and _parseable(item)]
    headers = {"X-Request-ID": "req-items"}
    batch = api.post("/v1/ingest/batch", {"events": [*bad, GOOD]}, headers=headers)
    assert batch.status_code == 200, batch.json()
    slots = batch.json()["results"]
    assert "event_id" in slots[-1]  # the good item beside them is stored
    for item, slot in zip(bad, slots, strict=False):
        alone = api.post("/v1/ingest", item, headers=headers)
        assert 400 <= alone.status_code < 500, item
        assert slot == alone.json(), item
    assert list(Event.objects.filter(tenant=tenant).values_list("content", flat=True)) == [
        GOOD["content"]
    ]


@pytest.mark.django_db
def test_v6_ingest_without_a_conversation_is_refused_as_before(api: Api) -> None:
    response = api.post("/v6/ingest", GOOD)
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "fields": {"conversation_id": ["This field is required."]}
    }
    assert api.post("/v6/ingest", {**GOOD, "thread_id": "c1"}).status_code == 200
