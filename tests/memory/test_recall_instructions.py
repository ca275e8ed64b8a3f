"""Standing instructions to the assistant (kind `instruction`) are in every recall's
context, v1 and v6, even at a small budget and for a query that is about something else
(issue #15): they apply to every answer."""

from __future__ import annotations

import pytest

from memory.models import Fact
from memory.recall.engine import memory_recall
from memory.recall.v6 import memory_recall_v6
from memory.tokens import count_tokens
from tenants.models import Tenant
from tests.factories import ingest_enriched

pytestmark = pytest.mark.django_db

BUDGET = 200
QUERY = "What happened on the hiking trip to the Alps above Zermatt?"


def _memory(tenant: Tenant, user_id: str = "u1") -> None:
    """An instruction stated first (long ago: cold), then enough on-topic memory to fill
    the budget."""
    ingest_enriched(tenant, "Please always answer me in short bullet points.", user_id=user_id)
    Fact.objects.filter(tenant=tenant, user_id=user_id, kind="instruction").update(tier="cold")
    for minute in range(1, 25):
        ingest_enriched(
            tenant,
            f"Alps trip day {minute}: we hiked above Zermatt.",
            user_id=user_id,
            minutes=minute,
        )


def test_the_instruction_is_a_fact_of_its_own_kind(tenant: Tenant) -> None:
    _memory(tenant)
    instruction = Fact.objects.get(tenant=tenant, user_id="u1", kind="instruction")
    assert instruction.predicate == "assistant_instruction"
    assert "short bullet points" in instruction.object_text


def test_v1_recall_carries_the_instruction_at_a_small_budget(tenant: Tenant) -> None:
    _memory(tenant)
    result = memory_recall(tenant=tenant, user_id="u1", query=QUERY, token_budget=BUDGET)
    assert "short bullet points" in result.system_context
    assert "Zermatt" in result.system_context  # the query's own evidence still fits
    assert result.token_estimate == count_tokens(result.system_context) <= BUDGET
    instruction = Fact.objects.get(tenant=tenant, user_id="u1", kind="instruction")
    assert str(instruction.source_event_id) in result.citations
    # At a budget that holds one or two lines, the instruction is the one kept.
    tiny = memory_recall(tenant=tenant, user_id="u1", query=QUERY, token_budget=40)
    assert "short bullet points" in tiny.system_context


def test_v6_recall_carries_the_instruction_at_a_small_budget(tenant: Tenant) -> None:
    _memory(tenant)
    body = memory_recall_v6(tenant=tenant, user_id="u1", query=QUERY, token_budget=BUDGET)
    text = body["llm_context"]["text"]
    assert "short bullet points" in text
    assert "Zermatt" in text
    assert body["token_estimate"] == count_tokens(text) <= BUDGET
    instruction = Fact.objects.get(tenant=tenant, user_id="u1", kind="instruction")
    assert str(instruction.id) in body["llm_context"]["fact_ids"]


def test_another_users_or_tenants_instruction_is_not_carried(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    _memory(tenant, user_id="u2")
    _memory(other_tenant)
    ingest_enriched(tenant, "We hiked to the Alps and saw Zermatt.", user_id="u1")
    result = memory_recall(tenant=tenant, user_id="u1", query=QUERY, token_budget=BUDGET)
    body = memory_recall_v6(tenant=tenant, user_id="u1", query=QUERY, token_budget=BUDGET)
    assert "bullet points" not in result.system_context
    assert "bullet points" not in body["llm_context"]["text"]
