"""Retrieval channels. Each returns a ranked list of item keys for one user's memory.

An item key is ("fact", uuid), ("event", uuid) or ("episode", uuid). Channels only rank;
hydration and packing happen later. Every query is filtered by tenant, user and the
visibility rules of API.md (global facts always; project-scoped only for that project;
conversation-scoped only in that conversation).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Q, QuerySet
from pgvector.django import CosineDistance

from memory.models import FTS_CONFIG, Episode, Event, Fact, FactStatus, Scope
from memory.recall.bm25 import bm25_sql
from tenants.models import Tenant

ItemKey = tuple[str, uuid.UUID]
CHANNEL_DEPTH = 60
# Rows scored by BM25 per channel; bounds the cost of a recall over a very large memory.
KEYWORD_CANDIDATES = 1500
# pgvector >= 0.8: keep scanning the HNSW graph until enough rows pass the tenant/user
# filter (without it a filtered top-k can come back nearly empty; see ARCHITECTURE.md).
HNSW_EF_SEARCH = 100


@dataclass(frozen=True)
class RecallScope:
    tenant: Tenant
    user_id: str
    conversation_id: str | None = None
    project_id: str | None = None
    min_confidence: float | None = None

    def visibility(self) -> Q:
        allowed = Q(scope=Scope.GLOBAL)
        if self.project_id:
            allowed |= Q(scope=Scope.PROJECT, project_id=self.project_id)
        if self.conversation_id:
            allowed |= Q(scope=Scope.CONVERSATION, conversation_id=self.conversation_id)
        return allowed


def facts_visible(scope: RecallScope) -> QuerySet[Fact]:
    facts = Fact.objects.filter(scope.visibility(), tenant=scope.tenant, user_id=scope.user_id,
                                status=FactStatus.CURRENT)
    if scope.min_confidence is not None:
        facts = facts.filter(confidence__gte=scope.min_confidence)
    return facts


def events_visible(scope: RecallScope) -> QuerySet[Event]:
    return (Event.objects.filter(scope.visibility(), tenant=scope.tenant, user_id=scope.user_id,
                                 forgotten_at__isnull=True).exclude(role="system"))


def episodes_visible(scope: RecallScope) -> QuerySet[Episode]:
    # Forget deletes every episode that cites a forgotten event, so none is filtered here.
    return Episode.objects.filter(tenant=scope.tenant, user_id=scope.user_id)


MODELS: dict[str, type[Event] | type[Fact] | type[Episode]] = {
    "event": Event, "fact": Fact, "episode": Episode}


@dataclass(frozen=True)
class Visible:
    """One kind of a scope's visible rows as a SQL condition on alias `r`: the raw-SQL
    twin of events_visible / facts_visible / episodes_visible (tests keep them in
    agreement). Recall's statements are built from it directly: Django compiling a
    queryset cost ~0.5-1.5 ms per statement, ~10 statements per recall."""

    kind: str
    scope: RecallScope

    @property
    def table(self) -> str:
        return MODELS[self.kind]._meta.db_table

    def where(self) -> tuple[str, list[object]]:
        scope = self.scope
        clauses = ["r.tenant_id = %s", "r.user_id = %s"]
        params: list[object] = [scope.tenant.pk, scope.user_id]
        if self.kind in ("event", "fact"):
            allowed, allowed_params = ["r.scope = %s"], [Scope.GLOBAL.value]
            if scope.project_id:
                allowed.append("(r.scope = %s AND r.project_id = %s)")
                allowed_params += [Scope.PROJECT.value, scope.project_id]
            if scope.conversation_id:
                allowed.append("(r.scope = %s AND r.conversation_id = %s)")
                allowed_params += [Scope.CONVERSATION.value, scope.conversation_id]
            clauses.append("(" + " OR ".join(allowed) + ")")
            params += allowed_params
        if self.kind == "event":
            clauses.append("r.forgotten_at IS NULL AND r.role <> 'system'")
        elif self.kind == "fact":
            clauses.append("r.status = %s")
            params.append(FactStatus.CURRENT.value)
            if scope.min_confidence is not None:
                clauses.append("r.confidence >= %s")
                params.append(scope.min_confidence)
        return " AND ".join(clauses), params

    def select(self, columns: str, extra_where: str = "") -> tuple[str, list[object]]:
        """SELECT `columns` (of alias r) FROM the visible rows [AND `extra_where`]."""
        where, params = self.where()
        if extra_where:
            where = f"{where} AND {extra_where}"
        return f"SELECT {columns} FROM {self.table} r WHERE {where}", params


def visible(kind: str, scope: RecallScope) -> Visible:
    return Visible(kind=kind, scope=scope)


def _iterative_scan(depth: int) -> None:
    """Must run inside the transaction that issues the vector query."""
    with connection.cursor() as cursor:  # one round trip for both settings
        cursor.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                       "set_config('hnsw.ef_search', %s, true)",
                       [str(max(HNSW_EF_SEARCH, int(depth)))])


def vector(kind: str, rows: QuerySet | Visible, query_vector: list[float],
           depth: int = CHANNEL_DEPTH) -> list[ItemKey]:
    _iterative_scan(depth)
    if isinstance(rows, QuerySet):
        ids = list(rows.filter(embedding__isnull=False)
                   .order_by(CosineDistance("embedding", query_vector))
                   .values_list("id", flat=True)[:depth])
    else:
        sql, params = rows.select("r.id", "r.embedding IS NOT NULL")
        text = "[" + ",".join(repr(float(x)) for x in query_vector) + "]"
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} ORDER BY r.embedding <=> %s::vector LIMIT %s",
                           [*params, text, depth])
            ids = [row[0] for row in cursor.fetchall()]
    return [(kind, i) for i in ids]


def query_lexemes(text: str) -> list[str]:
    """The query's stemmed lexemes, stop words removed, by Postgres's own parser."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tsvector_to_array(to_tsvector(%s::regconfig, %s))",
                       [FTS_CONFIG, text])
        row = cursor.fetchone()
    return list(row[0]) if row and row[0] else []


def keyword(kind: str, rows: QuerySet | Visible, lexemes: list[str],
            depth: int = CHANNEL_DEPTH) -> tuple[list[ItemKey], dict[uuid.UUID, float]]:
    """BM25 over the rows' tsvectors, computed in Postgres (see memory.recall.bm25).
    -> (the top `depth` as a ranking, scores of every candidate)."""
    if not lexemes:
        return [], {}
    if isinstance(rows, QuerySet):
        rows_sql, rows_params = rows.values_list("id", "search").query.sql_with_params()
    else:
        rows_sql, rows_params = rows.select("r.id, r.search")
    sql, params = bm25_sql(rows_sql, rows_params, lexemes, KEYWORD_CANDIDATES)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ranked = cursor.fetchall()
    scores = {doc_id: float(score) for doc_id, score in ranked}
    return [(kind, doc_id) for doc_id, _ in ranked[:depth]], scores


def predicate_facts(scope: RecallScope, predicates: list[str],
                    depth: int = CHANNEL_DEPTH) -> list[ItemKey]:
    """Direct lookup of the facts whose predicate the query is about."""
    if not predicates:
        return []
    order = {name: i for i, name in enumerate(predicates)}
    facts = list(facts_visible(scope).filter(predicate__in=predicates)
                 .values_list("id", "predicate", "confidence", "event_time")[:depth * 3])
    facts.sort(key=lambda f: (order[f[1]], -f[2], -f[3].timestamp()))
    return [("fact", f[0]) for f in facts[:depth]]


def temporal_events(scope: RecallScope, start: datetime, end: datetime,
                    keyword_scores: dict[uuid.UUID, float],
                    depth: int = CHANNEL_DEPTH) -> list[ItemKey]:
    """Events inside the query's time window, best keyword matches first, then by time."""
    ids = list(events_visible(scope).filter(event_time__gte=start, event_time__lt=end)
               .order_by("event_time").values_list("id", flat=True)[:1000])
    ids.sort(key=lambda i: -keyword_scores.get(i, 0.0))
    return [("event", i) for i in ids[:depth]]


def conversation_recent(scope: RecallScope, limit: int = 8) -> list[ItemKey]:
    if not scope.conversation_id:
        return []
    ids = (events_visible(scope).filter(conversation_id=scope.conversation_id)
           .order_by("-event_time").values_list("id", flat=True)[:limit])
    return [("event", i) for i in ids]
