"""v6 recall (API.md §4 `/v6/recall`): facts split into answer / supporting / background,
an `llm_context` bounded by the token budget, working memory of the conversation, a
pending plan, and how the query was routed.

Built on the same retrieval as v1 (`memory.recall.engine.retrieve`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django.db.models.functions import Left

from memory.access import facts_accessed
from memory.models import Event, Fact, Tier
from memory.passages import WHOLE_TEXT_CHARS
from memory.recall import channels, documents, hydration
from memory.recall.engine import (
    RecallScope,
    blocks_from,
    retrieve,
    with_instructions,
)
from memory.recall.packing import pack
from tenants.models import Tenant

DEFAULT_LIMITS = {"answer_facts": 12, "supporting_facts": 12, "background_facts": 8}
HISTORY_TURNS = 10
# Background = durable facts about the user that help any answer (who they are, what
# they prefer, how they want to be answered), drawn from the hot tier when the query
# itself did not reach them.
BACKGROUND_KINDS = (
    "instruction",
    "identity",
    "preference",
    "relationship",
    "location",
    "work",
    "health",
)
_PLAN_STEP = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+(.+)$", re.MULTILINE)
_CONFIRMATION = re.compile(
    r"\b(shall i|should i|do you want me to|want me to|would you like me to|ready to proceed|"
    r"confirm|go ahead|sound good|okay to proceed)\b",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"(?:[$€£]\s?\d+(?:,\d{3})*(?:\.\d+)?(?:\s?[kKmM]\b)?"
    r"|\b\d+(?:,\d{3})*\s?(?:dollars|euros|usd|eur)\b)",
    re.IGNORECASE,
)
_DEADLINE = re.compile(
    r"\b(?:by|before|until|no later than)\s+((?:next\s+)?[A-Z]?[a-z]+day|"
    r"tomorrow|tonight|(?:the\s+)?end of (?:the\s+)?(?:day|week|month)|"
    r"\d{1,2}(?:st|nd|rd|th)?\s+[A-Z][a-z]+|[A-Z][a-z]+\s+\d{1,2})",
    re.IGNORECASE,
)
_ENTITY = re.compile(r"\b([A-Z][a-zA-Z0-9+#.-]+(?:\s+[A-Z][a-zA-Z0-9+#.-]+)*)")
_STOP_ENTITIES = {
    "I",
    "I'm",
    "I'll",
    "I've",
    "I'd",
    "The",
    "A",
    "An",
    "And",
    "But",
    "So",
    "Yes",
    "No",
    "Ok",
    "Okay",
    "Hi",
    "Hello",
    "Thanks",
    "Thank",
    "Sure",
    "What",
    "When",
    "Where",
    "Why",
    "How",
    "Who",
    "Do",
    "Does",
    "Can",
    "Could",
    "Would",
    "Should",
    "Shall",
    "Let",
    "Let's",
    "It",
    "This",
    "That",
    "My",
    "You",
    "We",
}


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def recall_fact(fact: Fact, scores: dict[str, int] | None = None) -> dict[str, Any]:
    """The RecallFact shape (API.md), plus the fields the official SDK also reads."""
    body: dict[str, Any] = {
        "fact_id": str(fact.id),
        "subject": fact.subject,
        "kind": fact.kind,
        "predicate": fact.predicate,
        "object_text": fact.object_text,
        "object": fact.object_text,
        "relation_phrase": fact.relation_phrase,
        "source_text": fact.source_text,
        "confidence": round(fact.confidence, 4),
        "importance": round(fact.importance, 4),
        "tier": fact.tier,
        "created_at": _iso(fact.created_at),
        "valid_from": _iso(fact.valid_from),
        "valid_to": _iso(fact.valid_to),
        "source_event_id": str(fact.source_event_id),
        "document_id": None,
        "document_name": None,
        "temporal_matches": [
            {
                "ts_start": t["ts_start"],
                "ts_end": t["ts_end"],
                "raw_expression": t["raw_expression"],
                "granularity": t["granularity"],
                "anchor_time": _iso(fact.event_time),
                "date_type": "resolved",
            }
            for t in fact.temporal
        ],
    }
    if scores is not None:
        body["debug"] = {"channel_ranks": scores}
    return body


def _history(scope: RecallScope) -> list[Event]:
    if not scope.conversation_id:
        return []
    recent = list(
        channels.events_visible(scope)
        .filter(conversation_id=scope.conversation_id)
        .defer("embedding", "search", "content")
        .annotate(head=Left("content", WHOLE_TEXT_CHARS + 1))
        .order_by("-event_time")[:HISTORY_TURNS]
    )
    for event in recent:
        # A turn is shown up to WHOLE_TEXT_CHARS characters, "…" marking a cut: a 1 MiB
        # message would otherwise be returned whole on every recall of its conversation.
        head: str = event.head  # type: ignore[attr-defined]
        event.content = head[:WHOLE_TEXT_CHARS] + " …" if len(head) > WHOLE_TEXT_CHARS else head
    return list(reversed(recent))


def pending_plan_of(history: list[Event]) -> dict[str, Any] | None:
    """A numbered/bulleted multi-step plan in the latest assistant turn that asks for the
    user's go-ahead, unless the user has answered since."""
    for event in reversed(history):
        if event.role == "user":
            return None  # the user spoke after any plan: nothing is awaiting confirmation
        if event.role == "assistant":
            steps = [step.strip() for step in _PLAN_STEP.findall(event.content)]
            if len(steps) >= 2 and _CONFIRMATION.search(event.content):
                return {
                    "steps": steps,
                    "source_event_id": str(event.id),
                    "proposed_at": _iso(event.event_time),
                    "status": "awaiting_confirmation",
                }
            return None
    return None


def working_memory_of(history: list[Event], facts: list[Fact]) -> dict[str, Any]:
    recent = history[-4:]
    entities: list[str] = []
    for event in recent:
        for match in _ENTITY.findall(event.content):
            if match not in _STOP_ENTITIES and match not in entities:
                entities.append(match)
    subjects: list[str] = []
    recent_ids = {e.id for e in recent}
    for fact in facts:
        if fact.source_event_id in recent_ids and fact.subject not in subjects:
            subjects.append(fact.subject)
    constraints: dict[str, str] = {}
    for event in recent:
        if event.role != "user":
            continue
        if money := _MONEY.search(event.content):
            constraints["budget"] = money.group(0)
        if deadline := _DEADLINE.search(event.content):
            constraints["deadline"] = deadline.group(1)
    summary_parts = []
    for event in recent[-2:]:
        first = re.split(r"(?<=[.!?])\s", " ".join(event.content.split()), maxsplit=1)[0]
        summary_parts.append(f"{event.role or 'user'}: {first[:160]}")
    return {
        "focus": {
            "entities": entities[:10],
            "last_subjects": subjects[:5],
            "last_constraints": constraints,
        },
        "pending_confirmation": None,
        "last_plan": None,
        "turn_summary": " | ".join(summary_parts),
    }


def memory_recall_v6(
    *,
    tenant: Tenant,
    user_id: str,
    query: str,
    conversation_id: str | None = None,
    project_id: str | None = None,
    reference_time: datetime | None = None,
    token_budget: int = 2000,
    limits: dict[str, int] | None = None,
    include_debug: bool = False,
    document_id: str | None = None,
    collection_id: str | None = None,
    document_chunks: int = documents.DEFAULT_CHUNKS,
) -> dict[str, Any]:
    if document_id is not None or collection_id is not None:
        return _document_recall_v6(
            tenant=tenant,
            user_id=user_id,
            query=query,
            document_id=document_id,
            collection_id=collection_id,
            chunks=document_chunks,
            token_budget=token_budget,
            reference_time=reference_time,
        )
    caps = DEFAULT_LIMITS | (limits or {})
    scope = RecallScope(
        tenant=tenant, user_id=user_id, conversation_id=conversation_id, project_id=project_id
    )
    result = retrieve(scope, query, reference_time=reference_time, budget=token_budget)
    ranked_facts = [
        result.facts[key[1]]
        for key, _ in result.fused
        if key[0] == "fact" and key[1] in result.facts
    ]
    answer = ranked_facts[: caps["answer_facts"]]
    supporting, background = _supporting_and_background(
        scope, answer, ranked_facts, caps["supporting_facts"], caps["background_facts"]
    )

    # Spans of the user's documents that match the query join the other memory; the user's
    # instructions to the assistant come first at any budget.
    joined = documents.joined_hits(
        tenant=tenant,
        user_id=user_id,
        query=query,
        chunks=document_chunks,
        has_spans=result.has_documents,
        query_vector=result.query_vector,
    )
    text, admitted, tokens = pack(
        with_instructions(
            scope,
            documents.with_memory(blocks_from(result, token_budget), joined),
            result.instructions,
        ),
        token_budget,
    )
    in_text = [b.item_id for b in admitted if b.type == "fact"]
    facts_accessed(in_text)
    history = _history(scope)

    def debug_for(fact: Fact) -> dict[str, int] | None:
        if not include_debug:
            return None
        return {
            name: ranks[("fact", fact.id)]
            for name, ranks in result.ranks.items()
            if ("fact", fact.id) in ranks
        }

    # Facts of events ingested with a document_id name that document (API.md §8).
    tags = documents.document_tags(
        [f.source_event_id for f in answer + supporting + background],
        any_tags=result.has_document_tags,
    )
    routing = result.routing
    temporal = None
    if routing is not None and routing.temporal is not None:
        temporal = {
            "expression": routing.temporal.expression,
            "ts_start": _iso(routing.temporal.start),
            "ts_end": _iso(routing.temporal.end),
            "granularity": routing.temporal.granularity,
        }
    predicates = routing.predicates if routing else []
    return {
        "answer_facts": [documents.tagged(recall_fact(f, debug_for(f)), tags) for f in answer],
        "supporting_facts": [
            documents.tagged(recall_fact(f, debug_for(f)), tags) for f in supporting
        ],
        "background_context": [documents.tagged(recall_fact(f), tags) for f in background],
        "llm_context": {
            "text": text,
            "reference_time": _iso(result.reference_time),
            "anchor_source": result.anchor_source,
            "conversation_history": [
                {"role": e.role or "user", "content": e.content, "event_time": _iso(e.event_time)}
                for e in history
            ],
            "fact_ids": in_text,
        },
        "working_memory": working_memory_of(history, ranked_facts) if conversation_id else None,
        "pending_plan": pending_plan_of(history),
        "routing": {
            "mode": "multi" if len(predicates) > 1 else "single",
            "kinds": routing.kinds if routing else [],
            "predicates": predicates,
            "temporal_intent": temporal,
        },
        "token_estimate": tokens,
        "documents": documents.documents_body(
            None, joined, {b.item_id for b in admitted if b.type == "chunk"}
        ),
    }


def _document_recall_v6(
    *,
    tenant: Tenant,
    user_id: str,
    query: str,
    document_id: str | None,
    collection_id: str | None,
    chunks: int,
    token_budget: int,
    reference_time: datetime | None,
) -> dict[str, Any]:
    """A recall routed to a document or a collection: its hits are the answer facts, and
    the context is theirs alone (API.md §8)."""
    found = documents.document_recall(
        tenant=tenant,
        user_id=user_id,
        query=query,
        document_id=document_id,
        collection_id=collection_id,
        chunks=chunks,
    )
    text, admitted, tokens = pack(documents.hit_blocks(found.hits), token_budget)
    in_text = {b.item_id for b in admitted}
    reference = reference_time or datetime.now(UTC)
    return {
        "answer_facts": [documents.recall_item(h) for h in found.hits if h.item_id in in_text],
        "supporting_facts": [
            documents.recall_item(h) for h in found.hits if h.item_id not in in_text
        ],
        "background_context": [],
        "llm_context": {
            "text": text,
            "reference_time": _iso(reference),
            "anchor_source": "request" if reference_time else "server_now",
            "conversation_history": [],
            "fact_ids": [],
        },
        "working_memory": None,
        "pending_plan": None,
        "routing": {
            "mode": "document",
            "kinds": [f"document_{found.strategy}"],
            "predicates": [],
            "temporal_intent": None,
        },
        "token_estimate": tokens,
        "documents": documents.documents_body(found.strategy, found.hits, in_text),
    }


def _supporting_and_background(
    scope: RecallScope,
    answer: list[Fact],
    ranked: list[Fact],
    supporting_limit: int,
    background_limit: int,
) -> tuple[list[Fact], list[Fact]]:
    """Supporting facts: lower-ranked hits, then other current facts about the answer
    facts' subjects. Background facts: durable facts of BACKGROUND_KINDS (hot tier first)
    that are neither. Both statements go out in one round trip: the background one does
    not wait for the supporting one's rows, it reads as many more rows as that one may
    return, and those are dropped here."""
    chosen = {f.id for f in answer}
    supporting = [f for f in ranked if f.id not in chosen][:supporting_limit]
    chosen |= {f.id for f in supporting}
    missing = supporting_limit - len(supporting) if answer else 0
    with channels.pipeline():
        extra = (
            hydration.facts_where_send(
                scope,
                "r.subject = ANY(%s) AND NOT r.id = ANY(%s)",
                [sorted({f.subject for f in answer}), list(chosen)],
                "r.importance DESC, r.event_time DESC, r.created_at DESC",
                missing,
            )
            if missing > 0
            else list
        )
        background = (
            hydration.facts_where_send(
                scope,
                "r.kind = ANY(%s) AND NOT r.id = ANY(%s)",
                [list(BACKGROUND_KINDS), list(chosen)],
                _TIER_ORDER + ", r.importance DESC, r.event_time DESC, r.created_at DESC",
                background_limit + max(missing, 0),
            )
            if background_limit > 0
            else list
        )
        supporting.extend(extra())
        taken = {f.id for f in supporting}
        return supporting, [f for f in background() if f.id not in taken][:background_limit]


# Hot facts first, then warm, then the rest (cold).
_TIER_ORDER = (
    f"CASE WHEN r.tier = '{Tier.HOT.value}' THEN 0 "
    f"WHEN r.tier = '{Tier.WARM.value}' THEN 1 ELSE 2 END"
)
