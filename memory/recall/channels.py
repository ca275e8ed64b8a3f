"""Retrieval channels. Each returns a ranked list of item keys for one user's memory.

An item key is ("fact", uuid), ("event", uuid) or ("episode", uuid). Channels only rank;
hydration and packing happen later. Every query is filtered by tenant, user and the
visibility rules of API.md (global facts always; project-scoped only for that project;
conversation-scoped only in that conversation).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from pgvector.django import CosineDistance

from memory.models import FTS_CONFIG, Episode, Event, Fact, FactStatus, Passage, Scope
from memory.recall import replica
from memory.recall.bm25 import bm25_sql
from memory.time_notes import note_span
from tenants.models import Tenant

ItemKey = tuple[str, uuid.UUID]
CHANNEL_DEPTH = 60
# pgvector >= 0.8: keep scanning the HNSW graph until enough rows pass the tenant/user
# filter (without it a filtered top-k can come back nearly empty; see ARCHITECTURE.md),
# but at most HNSW_MAX_SCAN_TUPLES index tuples (pgvector's default, said here because
# the exact fallback below relies on the bound). IVFFlat (memory.vector_index) probes
# VECTOR_IVFFLAT_PROBES lists, and more up to VECTOR_IVFFLAT_MAX_PROBES likewise.
HNSW_EF_SEARCH = 100
HNSW_MAX_SCAN_TUPLES = 20_000
# A user with at most EXACT_ROWS rows of a kind (KeywordCorpus) is searched exactly, by
# distance over their own rows (the user index): always the true k nearest, and no walk
# through other users' vectors (a filtered index scan for a small user in a large table
# visits up to HNSW_MAX_SCAN_TUPLES rows of others and may find none of theirs). Larger
# users go through the vector index; should it still return fewer than k rows (the user
# is under ~0.5 % of a table of millions), the exact search runs too. Measured in a
# 108k-138k-row table (BENCHMARKS.md, "Two backends"): at 3,000 rows the index path is
# no faster than exact (the filtered walk visits the other users' tuples) and finds
# 90-100 % of the true top-k; at 5,000 the two cost the same (one faster per kind);
# from 10,000 on the index is 1.4-9x faster but finds 75-84 %. The exact search's cost is
# mostly reading the vectors out of TOAST (they are stored out of line: 1.5 kB each).
EXACT_ROWS = 5_000


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


def send(
    sql: str, params: Sequence[object], *, on: BaseDatabaseWrapper | None = None
) -> Callable[[], Rows]:
    """Execute `sql` and return a function that fetches its rows (once). Inside
    `pipeline()` the statement is only sent: Postgres runs it while Python goes on, and
    the first fetch waits for every statement sent so far on that connection. `on`: a
    second connection (`replica.beside`) instead of recall's own."""
    cursor = (on or replica.reads()).cursor()
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


def iterative_scan(depth: int, *, on: BaseDatabaseWrapper | None = None) -> None:
    """Sends the vector index settings for scans `depth` deep, for either method
    (memory.vector_index), and no parallel workers: a recall's statements are small, and
    merely planning a parallel exact branch that a one-time filter then skips started
    two workers (~25 ms under load). Must be sent inside the transaction that issues the
    statements (the settings are transaction-local)."""
    send(
        "SELECT set_config('max_parallel_workers_per_gather', '0', true), "
        "set_config('hnsw.iterative_scan', 'relaxed_order', true), "
        "set_config('hnsw.ef_search', %s, true), "
        "set_config('hnsw.max_scan_tuples', %s, true), "
        "set_config('ivfflat.iterative_scan', 'relaxed_order', true), "
        "set_config('ivfflat.probes', %s, true), "
        "set_config('ivfflat.max_probes', %s, true)",
        [
            str(max(HNSW_EF_SEARCH, int(depth))),
            str(HNSW_MAX_SCAN_TUPLES),
            str(settings.VECTOR_IVFFLAT_PROBES),
            str(max(settings.VECTOR_IVFFLAT_PROBES, settings.VECTOR_IVFFLAT_MAX_PROBES)),
        ],
        on=on,
    )


def vector_literal(vector: Sequence[float]) -> str:
    """`vector` as pgvector's text input, each float as `repr` writes it (exact round
    trip). A recall formats its query vector once for its four vector channels: 384
    floats each time were ~1.5 ms of Python per recall."""
    return "[" + ",".join(map(repr, map(float, vector))) + "]"


def uuid_array(ids: Iterable[uuid.UUID]) -> str:
    """`ids` as Postgres array text, for `= ANY(%s::uuid[])`. psycopg adapts a list of
    UUIDs element by element in Python (~3 µs each under load); joining their text takes
    half of that, and a long history's neighbour read passes hundreds of ids."""
    return "{" + ",".join(map(str, ids)) + "}"


def nearest_sql(
    rows_sql: str,
    rows_params: Sequence[object],
    columns: str,
    vector_column: str,
    corpus: tuple[object, str, str],
    query_vector: Sequence[float] | str,
    depth: int,
) -> tuple[str, list[object]]:
    """SQL + params: the `depth` rows of `rows_sql` (a SELECT of `columns` ... WHERE ...,
    no ORDER BY) nearest to `query_vector` by `vector_column`, nearest first, as
    (`columns`..., distance). Exact for a user with at most EXACT_ROWS rows of the kind
    (`corpus`: tenant id, user id, kind), through the vector index otherwise, exact as
    well when the index returned fewer than `depth` rows. The branch not taken is cut by
    a one-time filter, so one statement serves both (it can go out in the pipeline).
    `query_vector` may be given already as `vector_literal` text."""
    text = query_vector if isinstance(query_vector, str) else vector_literal(query_vector)
    distance = f"{vector_column} <=> %s::vector"
    ann = (
        rows_sql.replace(f"SELECT {columns}", f"SELECT {columns}, {distance} AS d", 1)
        + f" AND NOT (SELECT yes FROM small) ORDER BY {distance} LIMIT %s"
    )
    # `+ 0` keeps the planner off the vector index: the user's own rows, by distance.
    exact = (
        rows_sql.replace(f"SELECT {columns}", f"SELECT {columns}, ({distance}) + 0 AS d", 1)
        + " AND ((SELECT yes FROM small) OR (SELECT count(*) FROM ann) < %s)"
        + f" ORDER BY ({distance}) + 0 LIMIT %s"
    )
    sql = (
        "WITH small AS MATERIALIZED (SELECT coalesce(max(c.documents), 0) <= %s AS yes "
        "FROM memory_keywordcorpus c "
        "WHERE c.tenant_id = %s AND c.user_id = %s AND c.kind = %s), "
        f"ann AS MATERIALIZED ({ann}), "
        f"exact AS MATERIALIZED ({exact}) "
        "SELECT * FROM ann WHERE (SELECT count(*) FROM ann) >= %s "
        "UNION ALL SELECT * FROM exact ORDER BY d"
    )
    params = [
        EXACT_ROWS,
        *corpus,
        text,
        *rows_params,
        text,
        depth,
        text,
        *rows_params,
        depth,
        text,
        depth,
        depth,
    ]
    return sql, params


def _ranked(kind: str, fetch: Callable[[], Rows]) -> Callable[[], list[ItemKey]]:
    return lambda: [(kind, row[0]) for row in fetch()]


def vector_send(
    kind: str,
    rows: Visible,
    query_vector: Sequence[float] | str,
    depth: int = CHANNEL_DEPTH,
    *,
    on: BaseDatabaseWrapper | None = None,
) -> Callable[[], list[ItemKey]]:
    """The `depth` rows nearest to `query_vector` (send `iterative_scan` first, on the same
    connection): k rows whenever the user has k (`nearest_sql`)."""
    sql, params = rows.select("r.id", "r.embedding IS NOT NULL")
    corpus = (rows.scope.tenant.pk, rows.scope.user_id, kind)
    return _ranked(
        kind,
        send(*nearest_sql(sql, params, "r.id", "r.embedding", corpus, query_vector, depth), on=on),
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
    kind: str,
    rows: QuerySet | Visible,
    query: str,
    depth: int = CHANNEL_DEPTH,
    *,
    all_scores: bool = True,
    few: bool = False,
    postings: bool = True,
) -> Callable[[], Keyword]:
    """BM25 over the rows' tsvectors for the lexemes of `query`, computed in Postgres
    (memory.recall.bm25): for `Visible` rows, document frequencies and candidates from
    the maintained KeywordTerm / KeywordPosting rows (bounded per query term) and corpus
    size and average length from KeywordCorpus; for a QuerySet's rows (the plain twin),
    from the GIN index and aggregated over the rows. Fetches (the top `depth` as a
    ranking, scores of every candidate; without `all_scores` only the top `depth` rows
    come back: converting up to 1,500 rows per channel was ~10 ms of a recall at 100k).
    `few`: the user's rows of the kind are few (`corpus_sizes`; bm25_sql says why).
    `postings=False` keeps the GIN plan for `Visible` rows (what documents still use).
    With postings, the scores are those of the bm25.RESCORE_PER_DEPTH x `depth` best
    candidates by their postings' rough score (bm25_sql's `depth`)."""
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
    sql, params = bm25_sql(
        rows_sql,
        rows_params,
        query,
        FTS_CONFIG,
        corpus=corpus,
        few=few,
        postings=postings,
        depth=depth,
    )
    fetch = send(sql if all_scores else f"{sql} LIMIT {int(depth)}", params)

    def ranked() -> Keyword:
        scored = fetch()
        return (
            [(kind, doc_id) for doc_id, _ in scored[:depth]],
            {doc_id: float(score) for doc_id, score in scored},
        )

    return ranked


# (tenant id, user id) -> (monotonic time read, {kind: rows}) of KeywordCorpus.
_SIZES: dict[tuple[object, str], tuple[float, dict[str, int]]] = {}
SIZES_TTL_SECONDS = 60.0
_SIZES_MAX = 10_000


def corpus_sizes(scope: RecallScope) -> dict[str, int]:
    """The user's rows per kind (KeywordCorpus), read at most once a minute per process.
    They only choose between plans that give the same rows (`bm25_sql`'s `few`), so a
    stale figure costs time, never a different answer."""
    key = (scope.tenant.pk, scope.user_id)
    now = time.monotonic()
    cached = _SIZES.get(key)
    if cached is not None and now - cached[0] < SIZES_TTL_SECONDS:
        return cached[1]
    with replica.reads().cursor() as cursor:
        cursor.execute(
            "SELECT kind, documents FROM memory_keywordcorpus "
            "WHERE tenant_id = %s AND user_id = %s",
            [scope.tenant.pk, scope.user_id],
        )
        sizes = {kind: int(documents) for kind, documents in cursor.fetchall()}
    if len(_SIZES) >= _SIZES_MAX:
        _SIZES.clear()
    _SIZES[key] = (now, sizes)
    return sizes


def keyword(
    kind: str,
    rows: QuerySet | Visible,
    query: str,
    depth: int = CHANNEL_DEPTH,
    *,
    postings: bool = True,
) -> Keyword:
    return keyword_send(kind, rows, query, depth, postings=postings)()


def predicate_facts_send(
    scope: RecallScope, predicates: list[str], depth: int = CHANNEL_DEPTH
) -> Callable[[], list[ItemKey]]:
    """Direct lookup of the facts whose predicate the query is about: the first
    predicate's facts first, then by confidence and recency (`PREDICATE_ORDER`), the
    first `depth`. One bounded index scan per predicate (`fact_user_predicate_rank`), in
    a total order: before, `LIMIT 3 x depth` without an ORDER BY took whichever matching
    facts a scan met first (for a long history not the best, and not the same from one
    recall to the next), and only those were sorted."""
    if not predicates:
        return list
    sql, params = visible("fact", scope).select(
        "r.id, r.confidence, r.event_time, r.created_at", "r.predicate = q.name"
    )
    fetch = send(
        "SELECT f.id FROM unnest(%s::text[]) WITH ORDINALITY AS q(name, place) "
        f"CROSS JOIN LATERAL ({sql} ORDER BY {PREDICATE_ORDER.format(r='r')} LIMIT %s) f "
        f"ORDER BY q.place, {PREDICATE_ORDER.format(r='f')} LIMIT %s",
        [list(dict.fromkeys(predicates)), *params, depth, depth],
    )
    return _ranked("fact", fetch)


# The predicate channel's order within one predicate (alias {r}): the order of the index
# fact_user_predicate_rank read backwards. Ties go to the fact written first, then the id:
# what a small user's scan in heap order gave before (LoCoMo: newest first instead moved
# one question's evidence out at 2,000 tokens, BENCHMARKS.md "Two backends").
PREDICATE_ORDER = "{r}.confidence DESC, {r}.event_time DESC, {r}.created_at, {r}.id"


# How far from the query's time window a turn may have been said and still be about it
# through one of its time notes (memory.time_notes: "yesterday", "last week", "next
# Friday" resolved at enrichment). A turn said on 4 October about "yesterday" is about
# 3 October: a window on 3 October should hold it, not only the turns said that day.
TEMPORAL_NOTE_REACH = timedelta(days=31)
# Rows the temporal statement reads at most.
TEMPORAL_ROWS = 1000


def temporal_events_send(
    scope: RecallScope, start: datetime, end: datetime, depth: int = CHANNEL_DEPTH
) -> Callable[[dict[uuid.UUID, float]], list[ItemKey]]:
    """Events inside the query's time window: said in it, or said within
    TEMPORAL_NOTE_REACH of it with a time note that falls in it. The fetch takes the
    keyword scores and puts the best keyword matches first, then the rest by time."""
    rows = visible("event", scope)
    # Two reads: the turns said inside the window (their notes are not needed: they are
    # about it whatever they say), an index-only range of event_user_time_id, and the
    # turns said within the reach around it that have notes, from the partial index
    # event_user_time_noted. One range filtered on the notes visited the heap of every
    # turn of the two months around the window (a one-day window at 100k events: 3,080
    # buffers -> 11; BENCHMARKS.md "Long history at 100k: shared buffers and the temporal
    # channel"). The same rows: inside, or near with notes.
    inside, inside_params = rows.select(
        "r.id, true AS inside, NULL::jsonb AS notes, r.event_time",
        "r.event_time >= %s AND r.event_time < %s",
    )
    noted, noted_params = rows.select(
        "r.id, false, r.time_notes, r.event_time",
        "r.event_time >= %s AND r.event_time < %s AND NOT (r.event_time >= %s "
        "AND r.event_time < %s) AND r.time_notes <> '[]'::jsonb",
    )
    # The limit keeps the turns said inside the window first, so that turns said before
    # it cannot crowd them out for a user with many turns a day; `ranked` puts what it
    # kept back in time order.
    fetch = send(
        f"SELECT * FROM (({inside} ORDER BY r.event_time LIMIT %s) UNION ALL "
        f"({noted} ORDER BY r.event_time LIMIT %s)) t "
        "ORDER BY t.inside DESC, t.event_time LIMIT %s",
        [
            *inside_params,
            start,
            end,
            TEMPORAL_ROWS,
            *noted_params,
            start - TEMPORAL_NOTE_REACH,
            end + TEMPORAL_NOTE_REACH,
            start,
            end,
            TEMPORAL_ROWS,
            TEMPORAL_ROWS,
        ],
    )

    def about(inside: bool, notes: str | list[list[str]] | None) -> bool:
        if inside:
            return True
        # jsonb may arrive as its text
        pairs: list[list[str]] = json.loads(notes) if isinstance(notes, str) else notes or []
        for _, label in pairs:
            span = note_span(label)
            if span is not None and span[0] < end and start < span[1]:
                return True
        return False

    def ranked(keyword_scores: dict[uuid.UUID, float]) -> list[ItemKey]:
        rows = sorted(fetch(), key=lambda row: row[3])  # stable: ties keep id order
        ids = [row[0] for row in rows if about(row[1], row[2])]
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
    scope: RecallScope, query: str, depth: int = CHANNEL_DEPTH, *, few: bool = False
) -> Callable[[], PassageHits]:
    """BM25 over the passages of the visible events (the same statement as the other
    keyword channels, statistics from the 'passage' corpus row); ranks their events."""
    rows_sql, rows_params = _passages_of_visible_events(
        scope, f"p.id, p.search, {PASSAGE_TIE.format(p='p')} AS tie"
    )
    sql, params = bm25_sql(
        rows_sql,
        rows_params,
        query,
        FTS_CONFIG,
        corpus=(scope.tenant.pk, scope.user_id, "passage"),
        few=few,
        postings=True,
        depth=depth,
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
    scope: RecallScope,
    query_vector: Sequence[float] | str,
    depth: int = CHANNEL_DEPTH,
    *,
    on: BaseDatabaseWrapper | None = None,
) -> Callable[[], PassageHits]:
    """The passages nearest to `query_vector` among the visible events' passages; ranks
    their events. Exact over the user's passages (index passage_user) up to EXACT_ROWS of
    them, through the vector index beyond (`nearest_sql`): a filtered index scan for a
    user with few or no passages would walk other users' rows."""
    sql, params = _passages_of_visible_events(scope, "p.event_id, p.id", "p.embedding IS NOT NULL")
    corpus = (scope.tenant.pk, scope.user_id, "passage")
    return _by_event(
        send(
            *nearest_sql(
                sql, params, "p.event_id, p.id", "p.embedding", corpus, query_vector, depth * 2
            ),
            on=on,
        ),
        depth,
    )
