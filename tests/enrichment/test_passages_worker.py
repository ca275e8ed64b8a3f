"""Long messages on a real worker (issue #14): content up to the 1 MiB body limit is
indexed as passages, found through the passage that matches and cited as the event, in
an excerpt within the budget, through v1, v6 and the engine."""

from __future__ import annotations

from typing import Any

import pytest

from memory.models import Event, Passage
from memory.passages import WHOLE_TEXT_CHARS
from memory.recall.channels import RecallScope
from memory.recall.engine import retrieve
from memory.tokens import count_tokens
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


@pytest.mark.worker
@pytest.mark.slow
def test_a_long_message_is_recalled_through_the_passage_that_matches(
    worker: Any, api: Api, tenant: Tenant
) -> None:
    content = _long_message(100 * 1024, 80_000)  # a 100 KB message, the answer deep inside
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
    assert len(passages) >= 120
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
    assert count_tokens(body["system_context"]) <= body["token_estimate"] <= 500

    v6 = api.post(
        "/v6/recall",
        {"user_id": "long", "query": query, "conversation_id": "t", "token_budget": 500},
    ).json()
    assert DEEP in v6["llm_context"]["text"]
    assert v6["token_estimate"] <= 500
    # The conversation's history shows the long turn cut, not 100 KB.
    history = [h["content"] for h in v6["llm_context"]["conversation_history"]]
    assert max(len(h) for h in history) <= WHOLE_TEXT_CHARS + 2
    search = api.post("/v1/search", {"user_id": "long", "query": query, "limit": 5}).json()
    hit = next(i for i in search["items"] if i["id"] == long_id)
    assert DEEP in hit["text"] and len(hit["text"]) < 2_000


# A 1 MiB message through the worker (~85 CPU seconds of embedding) is measured by
# bench/long_content.py rather than tested here; its acceptance is in
# tests/api/test_long_content.py.
