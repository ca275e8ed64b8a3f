"""POST /v1/recall: budgets, exact token counts, citations, isolation."""

from __future__ import annotations

import pytest

from memory.tokens import count_tokens
from tenants.models import Tenant
from tests.conftest import Api
from tests.factories import ingest_enriched

pytestmark = pytest.mark.django_db

TOPICS = [
    "I live in Lisbon.",
    "I work at Acme Robotics as a firmware engineer.",
    "My daughter Mia is seven years old.",
    "I'm allergic to peanuts.",
    "I play the cello every Sunday.",
    "My favourite food is ramen.",
    "I speak Portuguese and German.",
    "I have a dog named Pixel.",
    "I'm training for the Berlin marathon in September.",
    "I studied physics at the University of Porto.",
]


@pytest.fixture
def memory(tenant: Tenant) -> list[str]:
    ids = []
    for i in range(40):
        text = TOPICS[i % len(TOPICS)] + f" (note {i}: " + "details " * (i % 7) + ")"
        ids.append(str(ingest_enriched(tenant, text, minutes=i).id))
    return ids


@pytest.mark.parametrize("budget", [200, 250, 333, 500, 1000, 2000, 4000, 8000])
def test_token_estimate_is_exact_and_within_budget(
    api: Api, memory: list[str], budget: int
) -> None:
    body = api.post(
        "/v1/recall",
        {"user_id": "u1", "task": "Tell me about the user's life", "token_budget": budget},
    ).json()
    assert body["token_estimate"] == count_tokens(body["system_context"])
    assert 0 < body["token_estimate"] <= budget
    cited = set(body["citations"])
    assert cited <= set(memory)
    assert cited == {s for block in body["memory_blocks"] for s in block["source_ids"]}
    for block in body["memory_blocks"]:
        assert block["type"] in {"fact", "event", "episode"}
        assert block["content"] in body["system_context"]


def test_recall_finds_the_relevant_memory_first(
    api: Api, tenant: Tenant, memory: list[str]
) -> None:
    body = api.post(
        "/v1/recall",
        {"user_id": "u1", "task": "What is the user allergic to?", "token_budget": 200},
    ).json()
    assert "peanut" in body["system_context"].lower()


def test_empty_memory_is_not_an_error(api: Api) -> None:
    body = api.post(
        "/v1/recall", {"user_id": "nobody", "task": "anything", "token_budget": 500}
    ).json()
    assert body == {"system_context": "", "memory_blocks": [], "citations": [], "token_estimate": 0}


def test_other_tenant_recalls_nothing(other_api: Api, memory: list[str]) -> None:
    body = other_api.post(
        "/v1/recall", {"user_id": "u1", "task": "Where do I live?", "token_budget": 2000}
    ).json()
    assert body["citations"] == [] and body["system_context"] == ""


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "u1", "task": "x", "token_budget": 199},
        {"user_id": "u1", "task": "x", "token_budget": 8001},
        {"user_id": "u1", "task": "x", "token_budget": "lots"},
        {"user_id": "u1", "token_budget": 500},
        {"user_id": "u1", "task": "", "token_budget": 500},
        {"user_id": "u1", "task": "x", "token_budget": 500, "min_confidence": 2},
        {"user_id": "u1", "task": "x", "token_budget": 500, "mode": "fast"},
    ],
)
def test_bad_recall_requests_are_400(api: Api, body: dict[str, object]) -> None:
    response = api.post("/v1/recall", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_hot_facts_outrank_equally_scored_warm_ones(tenant: Tenant) -> None:
    from datetime import UTC, datetime

    from memory.models import Fact
    from memory.recall.channels import RecallScope
    from memory.recall.engine import Retrieval, blocks_from

    ingest_enriched(tenant, "I love hiking.", user_id="h")
    ingest_enriched(tenant, "I love sailing.", user_id="h", minutes=1)
    hiking = Fact.objects.get(tenant=tenant, user_id="h", object_text__icontains="hiking")
    sailing = Fact.objects.get(tenant=tenant, user_id="h", object_text__icontains="sailing")
    Fact.objects.filter(pk=sailing.pk).update(tier="hot")
    Fact.objects.filter(pk=hiking.pk).update(tier="warm")
    result = Retrieval(
        scope=RecallScope(tenant=tenant, user_id="h"),
        query="love",
        reference_time=datetime.now(UTC),
        anchor_source="server_now",
        routing=None,
        fused=[(("fact", hiking.id), 0.50), (("fact", sailing.id), 0.45)],
    )
    result.facts = {f.id: f for f in Fact.objects.filter(pk__in=[hiking.pk, sailing.pk])}
    assert [b.item_id for b in blocks_from(result)] == [str(sailing.id), str(hiking.id)]
