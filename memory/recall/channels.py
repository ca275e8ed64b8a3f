"""Retrieval channels. Each returns a ranked list of item keys for one user's memory.

An item key is ("fact", uuid) or ("event", uuid). Channels only rank; hydration and
packing happen later. Every query is filtered by tenant and user.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, QuerySet
from pgvector.django import CosineDistance

from memory.models import FTS_CONFIG, Event, Fact, FactStatus
from tenants.models import Tenant

ItemKey = tuple[str, uuid.UUID]
CHANNEL_DEPTH = 50
# pgvector >= 0.8: keep scanning the HNSW graph until enough rows pass the tenant/user
# filter (without it a filtered top-k can come back nearly empty; see ARCHITECTURE.md).
HNSW_EF_SEARCH = 100
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")


@dataclass(frozen=True)
class RecallScope:
    tenant: Tenant
    user_id: str
    conversation_id: str | None = None
    min_confidence: float | None = None


def facts_visible(scope: RecallScope) -> QuerySet[Fact]:
    facts = Fact.objects.filter(tenant=scope.tenant, user_id=scope.user_id,
                                status=FactStatus.CURRENT)
    if scope.min_confidence is not None:
        facts = facts.filter(confidence__gte=scope.min_confidence)
    return facts


def events_visible(scope: RecallScope) -> QuerySet[Event]:
    return Event.objects.filter(tenant=scope.tenant, user_id=scope.user_id,
                                forgotten_at__isnull=True).exclude(role="system")


def _iterative_scan() -> None:
    """Must run inside the transaction that issues the vector query."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute(f"SET LOCAL hnsw.ef_search = {HNSW_EF_SEARCH}")


def vector_facts(scope: RecallScope, query_vector: list[float]) -> list[ItemKey]:
    _iterative_scan()
    ids = (facts_visible(scope).filter(embedding__isnull=False)
           .order_by(CosineDistance("embedding", query_vector))
           .values_list("id", flat=True)[:CHANNEL_DEPTH])
    return [("fact", i) for i in ids]


def vector_events(scope: RecallScope, query_vector: list[float]) -> list[ItemKey]:
    _iterative_scan()
    ids = (events_visible(scope).filter(embedding__isnull=False)
           .order_by(CosineDistance("embedding", query_vector))
           .values_list("id", flat=True)[:CHANNEL_DEPTH])
    return [("event", i) for i in ids]


def keyword_query(text: str) -> SearchQuery | None:
    """An OR of the query's words, so a question matches text that has only some of them.

    Postgres stems and drops stop words itself (`english` config); ranking by ts_rank_cd
    then favours rows that match more of the words.
    """
    words = {w.lower().strip("'-") for w in _WORD.findall(text)}
    words = {w for w in words if len(w) > 1}
    if not words:
        return None
    query: SearchQuery | None = None
    for word in sorted(words):
        term = SearchQuery(word, config=FTS_CONFIG, search_type="plain")
        query = term if query is None else query | term
    return query


def keyword_facts(scope: RecallScope, query: SearchQuery) -> list[ItemKey]:
    ids = (facts_visible(scope).filter(search=query)
           .annotate(rank=SearchRank(F("search"), query, cover_density=True))
           .order_by("-rank").values_list("id", flat=True)[:CHANNEL_DEPTH])
    return [("fact", i) for i in ids]


def keyword_events(scope: RecallScope, query: SearchQuery) -> list[ItemKey]:
    ids = (events_visible(scope).filter(search=query)
           .annotate(rank=SearchRank(F("search"), query, cover_density=True))
           .order_by("-rank").values_list("id", flat=True)[:CHANNEL_DEPTH])
    return [("event", i) for i in ids]


def conversation_recent(scope: RecallScope, limit: int = 10) -> list[ItemKey]:
    if not scope.conversation_id:
        return []
    ids = (events_visible(scope).filter(conversation_id=scope.conversation_id)
           .order_by("-event_time").values_list("id", flat=True)[:limit])
    return [("event", i) for i in ids]
