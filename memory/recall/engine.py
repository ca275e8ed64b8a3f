"""`memory_recall`: the v1 token-budgeted recall (API.md §4).

Runs the channels for one user, fuses them with weighted RRF, hydrates the winners into
blocks and packs them. Facts whose source turn is also selected are kept both ways only
when the budget allows; citations list exactly the events behind the packed text.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC

from django.db import transaction

from memory.embedding import embed_one
from memory.models import Event, Fact
from memory.recall import channels
from memory.recall.fusion import rrf_fuse
from memory.recall.packing import Block, pack
from tenants.models import Tenant

CHANNEL_WEIGHTS = {
    "vector_facts": 1.0,
    "vector_events": 1.0,
    "keyword_facts": 0.8,
    "keyword_events": 0.8,
    "conversation": 0.5,
}
TIER_ORDER = {"hot": 0, "warm": 1, "cold": 2}


@dataclass
class RecallResult:
    system_context: str
    blocks: list[Block]
    citations: list[str]
    token_estimate: int


def _fact_line(fact: Fact) -> str:
    subject = "User" if fact.subject == "user" else fact.subject
    when = fact.event_time.astimezone(UTC).strftime("%Y-%m-%d")
    negation = "not " if fact.negated else ""
    return f"[{when}] {subject}: {negation}{fact.relation_phrase} {fact.object_text}".strip()


def _event_line(event: Event) -> str:
    when = event.event_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    speaker = f"{event.role}: " if event.role and event.role != "user" else ""
    return f"[{when}] {speaker}{' '.join(event.content.split())}"


def memory_recall(*, tenant: Tenant, user_id: str, query: str, token_budget: int,
                  conversation_id: str | None = None,
                  min_confidence: float | None = None) -> RecallResult:
    scope = channels.RecallScope(tenant=tenant, user_id=user_id,
                                 conversation_id=conversation_id, min_confidence=min_confidence)
    rankings: dict[str, list[channels.ItemKey]] = {}
    if channels.events_visible(scope).exists():
        query_vector = embed_one(query)
        keyword = channels.keyword_query(query)
        with transaction.atomic():  # SET LOCAL for the HNSW scans lives in this transaction
            rankings["vector_facts"] = channels.vector_facts(scope, query_vector)
            rankings["vector_events"] = channels.vector_events(scope, query_vector)
        if keyword is not None:
            rankings["keyword_facts"] = channels.keyword_facts(scope, keyword)
            rankings["keyword_events"] = channels.keyword_events(scope, keyword)
        rankings["conversation"] = channels.conversation_recent(scope)
    fused = rrf_fuse(rankings, CHANNEL_WEIGHTS)
    blocks = _hydrate(scope, fused)
    text, admitted, tokens = pack(blocks, token_budget)
    citations: list[str] = []
    for block in admitted:
        for source in block.source_ids:
            if source not in citations:
                citations.append(source)
    return RecallResult(system_context=text, blocks=admitted, citations=citations,
                        token_estimate=tokens)


def _hydrate(scope: channels.RecallScope,
             fused: list[tuple[object, float]]) -> list[Block]:
    if not fused:
        return []
    top = fused[0][1]
    fact_ids = [key[1] for key, _ in fused if key[0] == "fact"]
    event_ids = [key[1] for key, _ in fused if key[0] == "event"]
    facts = {f.id: f for f in channels.facts_visible(scope).filter(id__in=fact_ids)
             .prefetch_related("sources")}
    events = {e.id: e for e in channels.events_visible(scope).filter(id__in=event_ids)}
    blocks: list[Block] = []
    for (kind, item_id), score in fused:  # type: ignore[misc]
        assert isinstance(item_id, uuid.UUID)
        if kind == "fact" and item_id in facts:
            fact = facts[item_id]
            sources = [str(s.event_id) for s in fact.sources.all()] or [str(fact.source_event_id)]
            blocks.append(Block(type="fact", content=_fact_line(fact), source_ids=sources,
                                score=round(score / top, 4), event_time=fact.event_time,
                                tier=fact.tier, item_id=str(fact.id)))
        elif kind == "event" and item_id in events:
            event = events[item_id]
            blocks.append(Block(type="event", content=_event_line(event),
                                source_ids=[str(event.id)], score=round(score / top, 4),
                                event_time=event.event_time, item_id=str(event.id)))
    return blocks
