"""Retrieval channels. Each returns a ranked list of item keys for one user's memory.

An item key is ("fact", uuid), ("event", uuid) or ("episode", uuid). Channels only rank;
hydration and packing happen later. Every query is filtered by tenant, user and the
visibility rules of API.md (global facts always; project-scoped only for that project;
conversation-scoped only in that conversation).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from pgvector.django import CosineDistance

from memory.models import FTS_CONFIG, Episode, Event, Fact, FactStatus, Passage, Scope
from memory.recall import replica
from memory.recall.bm25 import bm25_sql
from tenants.models import Tenant

ItemKey = tuple[str, uuid.UUID]
CHANNEL_DEPTH = 60
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
    # Recall's read database (memory.recall.replica): the replica inside a recall on it.
    facts = Fact.objects.using(replica.alias()).filter(
        scope.visibility(), tenant=scope.tenant, user_id=scope.user_id, status=FactStatus.CURRENT
    )
    if scope.min_confidence is not None:
        facts = facts.filter(confidence__gte=scope.min_confidence)
    return facts


def events_visible(scope: RecallScope) -> QuerySet[Event]:
    return (
        Event.objects.using(replica.alias())
        .filter(
            scope.visibility(),
            tenant=scope.tenant,
            user_id=scope.user_id,
            forgotten_at__isnull=True,
        )
        .exclude(role="system")
    )


def episodes_visible(scope: RecallScope) -> QuerySet[Episode]:
    # Forget deletes every episode that cites a forgotten event, so none is filtered here.
    return Episode.objects.using(replica.alias()).filter(tenant=scope.tenant, user_id=scope.user_id)


MODELS: dict[str, type[Event] | type[Fact] | type[Episode]] = {
    "event": Event,
    "fact": Fact,
    "episode": Episode,
}


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


# What breaks a tie between equal keyword scores (memory.recall.bm25), latest first, per
# kind (alias r): times a row keeps through an export and import (memory.portability),
# unlike its id, which an import into another tenant may change. The id breaks what is
# left.
TIE = {
    "event": "ROW(r.event_time, r.created_at)",
    "fact": "ROW(r.event_time, r.created_at)",
    "episode": "ROW(r.last_event_time, r.first_event_time)",
}
# A passage's: its event's, then its place in the event (alias {p}).
PASSAGE_TIE = (
    f"(SELECT ROW(e.event_time, e.created_at, {{p}}.ordinal) "
    f"FROM {Event._meta.db_table} e WHERE e.id = {{p}}.event_id)"
)


def visible(kind: str, scope: RecallScope) -> Visible:
    return Visible(kind=kind, scope=scope)


Rows = list[tuple[Any, ...]]


def send(sql: str, params: Sequence[object]) -> Callable[[], Rows]:
    """Execute `sql` and return a function that fetches its rows (once). Inside
    `pipeline()` the statement is only sent: Postgres runs it while Python goes on, and
    the first fetch waits for every statement sent so far."""
    cursor = replica.reads().cursor()
    cursor.execute(sql, params)

    def rows() -> Rows:
        try:
            return cursor.fetchall()
        finally:
            cursor.close()

    return rows


@contextmanager
def pipeline() -> Iterator[None]:
    """psycopg pipeline mode on Django's connection: statements `send` issues inside go
    out at once and run while the caller does other work (recall embeds its query while
    Postgres ranks by keyword: ~5 ms of a recall)."""
    connection = replica.reads()
    connection.ensure_connection()
    with connection.connection.pipeline():
        yield


def any_visible(rows: Visible) -> Callable[[], bool]:
    sql, params = rows.select("1")
    fetch = send(f"SELECT EXISTS ({sql})", params)
    return lambda: bool(fetch()[0][0])


def iterative_scan(depth: int) -> None:
    """Sends the HNSW settings for scans `depth` deep. Must be sent inside the transaction
    that issues the vector queries (the settings are transaction-local)."""
    send(
        "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
        "set_config('hnsw.ef_search', %s, true)",
        [str(max(HNSW_EF_SEARCH, int(depth)))],
    )


def _ranked(kind: str, fetch: Callable[[], Rows]) -> Callable[[], list[ItemKey]]:
    return lambda: [(kind, row[0]) for row in fetch()]


def vector_send(
    kind: str, rows: Visible, query_vector: Sequence[float], depth: int = CHANNEL_DEPTH
) -> Callable[[], list[ItemKey]]:
    """The `depth` rows nearest to `query_vector` (send `iterative_scan` first)."""
    sql, params = rows.select("r.id", "r.embedding IS NOT NULL")
    text = "[" + ",".join(repr(float(x)) for x in query_vector) + "]"
    return _ranked(
        kind, send(f"{sql} ORDER BY r.embedding <=> %s::vector LIMIT %s", [*params, text, depth])
    )


def vector(
    kind: str, rows: QuerySet | Visible, query_vector: list[float], depth: int = CHANNEL_DEPTH
) -> list[ItemKey]:
    """`vector_send` answered at once (inside a transaction). A QuerySet goes through the
    ORM: the reference the SQL is tested against."""
    iterative_scan(depth)
    if isinstance(rows, Visible):
        return vector_send(kind, rows, query_vector, depth)()
    ids = list(
        rows.filter(embedding__isnull=False)
        .order_by(CosineDistance("embedding", query_vector))
        .values_list("id", flat=True)[:depth]
    )
    return [(kind, i) for i in ids]


def query_lexemes(text: str) -> list[str]:
    """The query's stemmed lexemes, stop words removed, by Postgres's own parser."""
    with replica.reads().cursor() as cursor:
        cursor.execute(
            "SELECT tsvector_to_array(to_tsvector(%s::regconfig, %s))", [FTS_CONFIG, text]
        )
        row = cursor.fetchone()
    return list(row[0]) if row and row[0] else []


Keyword = tuple[list[ItemKey], dict[uuid.UUID, float]]


def keyword_send(
    kind: str, rows: QuerySet | Visible, query: str, depth: int = CHANNEL_DEPTH
) -> Callable[[], Keyword]:
    """BM25 over the rows' tsvectors for the lexemes of `query`, computed in Postgres
    (memory.recall.bm25): candidates and document frequencies bounded, from the GIN
    index; corpus size and average length from KeywordCorpus for `Visible` rows, or
    aggregated over a QuerySet's rows (the plain twin). Fetches (the top `depth` as a
    ranking, scores of every candidate)."""
    corpus: tuple[object, str, str] | None = None
    if isinstance(rows, QuerySet):  # the reference: statistics aggregated over the rows
        table = rows.model._meta.db_table
        tie = RawSQL(TIE[kind].replace("r.", f'"{table}".'), [], output_field=TextField())
        rows_sql, rows_params = (
            rows.annotate(tie=tie).values_list("id", "search", "tie").query.sql_with_params()
        )
    else:  # the maintained statistics (memory.models.KeywordCorpus)
        rows_sql, rows_params = rows.select(f"r.id, r.search, {TIE[kind]} AS tie")
        corpus = (rows.scope.tenant.pk, rows.scope.user_id, kind)
    fetch = send(*bm25_sql(rows_sql, rows_params, query, FTS_CONFIG, corpus=corpus))

    def ranked() -> Keyword:
        scored = fetch()
        return (
            [(kind, doc_id) for doc_id, _ in scored[:depth]],
            {doc_id: float(score) for doc_id, score in scored},
        )

    return ranked


def keyword(kind: str, rows: QuerySet | Visible, query: str, depth: int = CHANNEL_DEPTH) -> Keyword:
    return keyword_send(kind, rows, query, depth)()


def predicate_facts_send(
    scope: RecallScope, predicates: list[str], depth: int = CHANNEL_DEPTH
) -> Callable[[], list[ItemKey]]:
    """Direct lookup of the facts whose predicate the query is about: the first
    predicate's facts first, then by confidence and recency."""
    if not predicates:
        return list
    sql, params = visible("fact", scope).select(
        "r.id, r.predicate, r.confidence, r.event_time", "r.predicate = ANY(%s)"
    )
    fetch = send(f"{sql} LIMIT %s", [*params, predicates, depth * 3])
    order = {name: i for i, name in enumerate(predicates)}

    def ranked() -> list[ItemKey]:
        facts = fetch()
        facts.sort(key=lambda f: (order[f[1]], -f[2], -f[3].timestamp()))
        return [("fact", f[0]) for f in facts[:depth]]

    return ranked


def temporal_events_send(
    scope: RecallScope, start: datetime, end: datetime, depth: int = CHANNEL_DEPTH
) -> Callable[[dict[uuid.UUID, float]], list[ItemKey]]:
    """Events inside the query's time window; the fetch takes the keyword scores and
    puts the best keyword matches first, then the rest by time."""
    sql, params = visible("event", scope).select("r.id", "r.event_time >= %s AND r.event_time < %s")
    fetch = send(f"{sql} ORDER BY r.event_time LIMIT 1000", [*params, start, end])

    def ranked(keyword_scores: dict[uuid.UUID, float]) -> list[ItemKey]:
        ids = [row[0] for row in fetch()]
        ids.sort(key=lambda i: -keyword_scores.get(i, 0.0))
        return [("event", i) for i in ids[:depth]]

    return ranked


def conversation_recent_send(scope: RecallScope, limit: int = 8) -> Callable[[], list[ItemKey]]:
    """The conversation's latest turns, when the recall names a conversation."""
    if not scope.conversation_id:
        return list
    sql, params = visible("event", scope).select("r.id", "r.conversation_id = %s")
    return _ranked(
        "event",
        send(f"{sql} ORDER BY r.event_time DESC LIMIT %s", [*params, scope.conversation_id, limit]),
    )


# --- Passages of long events (memory.passages) -------------------------------------------

PassageHits = tuple[list[ItemKey], dict[uuid.UUID, uuid.UUID]]


def _passages_of_visible_events(
    scope: RecallScope, columns: str, extra_where: str = ""
) -> tuple[str, list[object]]:
    """SELECT `columns` (alias p) of the passages whose event is visible (the passage has
    no visibility of its own: it is its event's)."""
    where, params = visible("event", scope).where()
    extra = f" AND {extra_where}" if extra_where else ""
    return (
        f"SELECT {columns} FROM {Passage._meta.db_table} p "
        f"WHERE p.tenant_id = %s AND p.user_id = %s{extra} AND EXISTS ("
        f"SELECT 1 FROM {Event._meta.db_table} r WHERE r.id = p.event_id AND {where})",
        [scope.tenant.pk, scope.user_id, *params],
    )


def _by_event(fetch: Callable[[], Rows], depth: int) -> Callable[[], PassageHits]:
    """Rows (event id, passage id) best first -> the events ranked by their best passage,
    and that passage of each."""

    def ranked() -> PassageHits:
        best: dict[uuid.UUID, uuid.UUID] = {}
        for event_id, passage_id, *_ in fetch():
            best.setdefault(event_id, passage_id)
        return [("event", e) for e in list(best)[:depth]], best

    return ranked


def keyword_passages_send(
    scope: RecallScope, query: str, depth: int = CHANNEL_DEPTH
) -> Callable[[], PassageHits]:
    """BM25 over the passages of the visible events (the same statement as the other
    keyword channels, statistics from the 'passage' corpus row); ranks their events."""
    rows_sql, rows_params = _passages_of_visible_events(
        scope, f"p.id, p.search, {PASSAGE_TIE.format(p='p')} AS tie"
    )
    sql, params = bm25_sql(
        rows_sql, rows_params, query, FTS_CONFIG, corpus=(scope.tenant.pk, scope.user_id, "passage")
    )
    return _by_event(
        send(
            f"SELECT p.event_id, p.id, s.score FROM ({sql}) s "
            f"JOIN {Passage._meta.db_table} p ON p.id = s.id "
            f"ORDER BY s.score DESC, {PASSAGE_TIE.format(p='p')} DESC, p.id",
            params,
        ),
        depth,
    )


def vector_passages_send(
    scope: RecallScope, query_vector: Sequence[float], depth: int = CHANNEL_DEPTH
) -> Callable[[], PassageHits]:
    """The passages nearest to `query_vector` among the visible events' passages; ranks
    their events. An exact scan of the user's passages (index passage_user), not HNSW: a
    filtered HNSW scan for a user with few or no passages walks up to
    hnsw.max_scan_tuples of other users' rows. Linear in the user's passages."""
    sql, params = _passages_of_visible_events(scope, "p.event_id, p.id", "p.embedding IS NOT NULL")
    text = "[" + ",".join(repr(float(x)) for x in query_vector) + "]"
    # `+ 0` keeps the planner off the HNSW index (see the docstring).
    return _by_event(
        send(
            f"{sql} ORDER BY (p.embedding <=> %s::vector) + 0 LIMIT %s", [*params, text, depth * 2]
        ),
        depth,
    )
