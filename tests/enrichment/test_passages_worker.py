"""Long messages on a real worker: the content limit of API.md §1 enforced exactly, and a
long event indexed as passages, found through the passage that matches, cited as the
event."""

from __future__ import annotations

from typing import Any

import pytest

from memory.api.serializers import MAX_CONTENT_CHARS
from memory.models import Event, Passage
from memory.recall.channels import RecallScope
from memory.recall.engine import retrieve
from tenants.models import Tenant
from tests.conftest import Api, wait_for

DEEP = "My grandmother's violin was restored by a luthier in Cremona in 1998."
TOPICS = [
    "gardening",
    "the train timetable",
    "a budget spreadsheet",
    "cooking rice",
    "the weather in March",
    "a software release",
    "painting the fence",
]


def _long_message(length: int, deep_at: int) -> str:
    """Varied prose of exactly `length` characters with DEEP starting near `deep_at`."""
    sentences, size, i = [], 0, 0
    while size < length:
        if size >= deep_at and DEEP not in sentences:
            sentence = DEEP
        else:
            sentence = f"Note {i} is about {TOPICS[i % len(TOPICS)]} and item {i * 7} of the list."
        sentences.append(sentence)
        size += len(sentence) + 1
        i += 1
    return " ".join(sentences)[:length]


def _ingest(api: Api, content: str) -> Any:
    return api.post(
        "/v1/ingest",
        {
            "user_id": "long",
            "type": "message",
            "role": "user",
            "thread_id": "t",
            "content": content,
        },
    )


@pytest.mark.django_db
def test_content_is_accepted_up_to_the_documented_limit_and_refused_beyond(
    api: Api, tenant: Tenant
) -> None:
    assert MAX_CONTENT_CHARS == 32_000  # API.md §1 "Sizes": content <= 32,000 characters
    at_limit = _ingest(api, _long_message(MAX_CONTENT_CHARS, 20_000))
    assert at_limit.status_code == 200
    for length in (MAX_CONTENT_CHARS + 1, 100 * 1024):  # one over; a 100 KB message
        refused = _ingest(api, _long_message(length, 20_000))
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "payload_too_large"
    assert [
        str(i)
        for i in Event.objects.filter(tenant=tenant, user_id="long").values_list("id", flat=True)
    ] == [at_limit.json()["event_id"]]


@pytest.mark.worker
@pytest.mark.slow
def test_a_long_message_is_recalled_through_the_passage_that_matches(
    worker: Any, api: Api, tenant: Tenant
) -> None:
    content = _long_message(MAX_CONTENT_CHARS, 25_000)
    long_id = _ingest(api, content).json()["event_id"]
    for i, text in enumerate(
        [
            "I listened to violin music on the radio.",
            "My grandmother baked bread on Sundays.",
            "The old chair was restored last spring.",
        ]
    ):
        api.post(
            "/v1/ingest",
            {
                "user_id": "long",
                "type": "message",
                "role": "user",
                "thread_id": "t",
                "content": text,
                "event_time": 1_700_000_000 + i,
            },
        )
    wait_for(
        lambda: Event.objects.filter(tenant=tenant, user_id="long", status="enriched").count() == 4,
        timeout=300,
    )
    passages = list(Passage.objects.filter(event_id=long_id).order_by("ordinal"))
    assert len(passages) >= 40
    assert [content[p.start : p.end] for p in passages] == [p.text for p in passages]
    assert all(p.embedding is not None for p in passages)

    query = "Who restored my grandmother's violin?"
    result = retrieve(RecallScope(tenant=tenant, user_id="long"), query, budget=500)
    assert result.ranks["keyword_passages"][("event", Event.objects.get(pk=long_id).pk)] == 1
    assert DEEP in result.passage_texts[Event.objects.get(pk=long_id).pk]

    body = api.post("/v1/recall", {"user_id": "long", "task": query, "token_budget": 500}).json()
    assert DEEP in body["system_context"]
    assert long_id in body["citations"]
    assert "Note 0 is about gardening" not in body["system_context"]  # an excerpt, not all
