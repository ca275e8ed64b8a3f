"""Recall over a user's documents (API.md §8): four strategies chosen from the query.

- LOCAL: the spans that best answer the query (BM25 over span text and section path, fused
  with the vector channel by reciprocal rank), at most `limits.document_chunks`.
- SECTION ("show me the installation section"): the named section whole, subsections
  included, in reading order, as verbatim slices of the original text.
- DOCUMENT ("summarise this document"): the document's distillations (the whole, then
  each section in reading order) plus the best spans.
- COLLECTION: a recall over a collection's documents; LOCAL or DOCUMENT per the query,
  the chosen items then in collection order when the collection is `ordered`.

Every read of one recall happens in one REPEATABLE READ snapshot, so a recall running
during a re-upload sees the old document or the new one, never a mix (memory.documents
.store replaces a document in one transaction). Without a document or collection id,
the user's spans that match the query by keyword join ordinary recall (`joined_hits`).
The hits become `chunk` blocks (memory.recall.packing) cited by document id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from claiv.errors import NotFound
from memory.documents.models import (
    Collection,
    CollectionMembership,
    Document,
    DocumentDistillation,
    DocumentSection,
    DocumentSpan,
    DocumentTag,
)
from memory.embedding import embed_query
from memory.recall import channels
from memory.recall.bm25 import bm25_sql
from memory.recall.packing import Block
from tenants.models import Tenant

LOCAL, SECTION, DOCUMENT, COLLECTION = "local", "section", "document", "collection"
DEFAULT_CHUNKS = 5
# Spans ranked per channel before fusion; RRF constant as the memory channels (engine).
DEPTH = 50
FUSION_K = 5
VECTOR_WEIGHT = 0.9
# Joined recall: a span needs a keyword match, and its score in the packed context is
# this share of the best memory item's (documents support, they do not outrank memory).
JOINED_SHARE = 0.9
FTS_CONFIG = "english"

_SUMMARY = re.compile(
    r"\b(summari[sz]e|summary|summaries|overview|outline|tl;?dr|gist|key points|main points"
    r"|what is (?:this|the) (?:document|doc|file|manual|report|guide) about)\b",
    re.IGNORECASE,
)
# "show me the installation section", "the section on backups", "read the Setup chapter".
_SECTION_NAMED = [
    re.compile(
        r"\b(?:the\s+)?[\"“']?(?P<name>[\w][\w .&/+-]{0,80}?)[\"”']?\s+(?:section|chapter|part)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:section|chapter|part)\s+(?:on|about|called|named|titled)?\s*[\"“']?"
        r"(?P<name>[\w][\w .&/+-]{0,80}?)[\"”']?\s*[?.!]?$",
        re.IGNORECASE,
    ),
]
_LEAD = re.compile(
    r"^(?:please\s+)?(?:show|give|read|display|print|open|get|fetch|list|what(?:'s| is| does)?"
    r"|tell)(?:\s+(?:me|us))?(?:\s+(?:the|whole|entire|full|all of the|all))*\s+",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+")
_NOISE = frozenset({"the", "a", "an", "of", "on", "about", "whole", "entire", "full", "me"})


@dataclass
class DocumentHit:
    """One piece of document text for the context, with what a citation needs."""

    kind: str  # "span" | "section" | "distillation"
    item_id: str
    text: str
    document: Document
    section: DocumentSection | None
    score: float
    start: int | None = None
    end: int | None = None

    @property
    def section_title(self) -> str | None:
        return self.section.path or self.section.title if self.section else None

    def citation(self) -> dict[str, Any]:
        return {
            "document_id": self.document.external_id,
            "document_name": self.document.name,
            "section": self.section_title,
            "node_id": str(self.section.id) if self.section else None,
        }


@dataclass
class DocumentRecall:
    strategy: str
    hits: list[DocumentHit] = field(default_factory=list)
    section_node: DocumentSection | None = None


def _stems(text: str) -> set[str]:
    words = set()
    for word in _WORD.findall(text.lower()):
        if word in _NOISE:
            continue
        for suffix in ("ing", "ation", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 4:
                word = word[: -len(suffix)]
                break
        words.add(word)
    return words


def strategy_of(query: str) -> tuple[str, str | None]:
    """(LOCAL | SECTION | DOCUMENT, the named section) from the query's wording."""
    stripped = _LEAD.sub("", query.strip())
    for pattern in _SECTION_NAMED:
        if match := pattern.search(stripped):
            name = match.group("name").strip()
            if _stems(name):
                return SECTION, name
    if _SUMMARY.search(query):
        return DOCUMENT, None
    return LOCAL, None


@contextmanager
def _snapshot() -> Iterator[None]:
    """One REPEATABLE READ snapshot for every read of a recall (see the module docstring).
    Inside an outer transaction (tests) that one's snapshot is used as it is."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _documents_for(
    *,
    tenant: Tenant,
    user_id: str,
    document_id: str | None,
    collection_id: str | None,
) -> tuple[list[Document], Collection | None, dict[uuid.UUID, tuple[int, float]]]:
    """The documents a routed recall reads, the collection, and each document's place
    in collection order. Unknown ids (or another user's or tenant's) are NotFound."""
    collection = None
    order: dict[uuid.UUID, tuple[int, float]] = {}
    documents = Document.objects.filter(tenant=tenant, user_id=user_id).defer("content")
    if collection_id is not None:
        collection = Collection.objects.filter(
            tenant=tenant, user_id=user_id, external_id=collection_id
        ).first()
        if collection is None:
            raise NotFound("No such collection.")
        memberships = CollectionMembership.objects.filter(collection=collection).order_by(
            "position", "added_at", "id"
        )
        for rank, (document_pk, added) in enumerate(
            memberships.values_list("document_id", "added_at")
        ):
            order[document_pk] = (rank, added.timestamp())
        documents = documents.filter(pk__in=list(order))
    if document_id is not None:
        documents = documents.filter(external_id=document_id)
        if not documents.exists():
            raise NotFound("No such document.")
    return list(documents), collection, order


def _rows_sql(
    *, tenant: Tenant, user_id: str, document_pks: Sequence[uuid.UUID] | None
) -> tuple[str, list[Any]]:
    sql = (
        "SELECT s.id, s.search, s.ordinal AS tie, s.embedding FROM memory_documentspan s "
        "WHERE s.tenant_id = %s AND s.user_id = %s"
    )
    params: list[Any] = [tenant.pk, user_id]
    if document_pks is not None:
        sql += " AND s.document_id = ANY(%s)"
        params.append(list(document_pks))
    return sql, params


def _ranked_spans(
    *,
    tenant: Tenant,
    user_id: str,
    query: str,
    document_pks: Sequence[uuid.UUID] | None,
    keyword_only: bool = False,
    query_vector: list[float] | None = None,
) -> list[tuple[uuid.UUID, float]]:
    """Span ids by fused BM25 + vector rank, best first. `keyword_only`: only spans with
    a keyword match (joined recall), still ordered by the fused rank. `query_vector`: the
    query's embedding when the caller has it already (embedded here otherwise)."""
    rows, params = _rows_sql(tenant=tenant, user_id=user_id, document_pks=document_pks)
    sql, bm25_params = bm25_sql(
        rows, params, query, FTS_CONFIG, corpus=(tenant.pk, user_id, "docspan")
    )
    with connection.cursor() as cursor:
        statement_params: list[Any] = [*bm25_params, DEPTH]
        cursor.execute(sql + " LIMIT %s", statement_params)
        keyword = [row[0] for row in cursor.fetchall()]
    if keyword_only and not keyword:
        return []
    vector = query_vector if query_vector is not None else embed_query(query)
    text = channels.vector_literal(vector)
    with connection.cursor() as cursor:
        # Either vector index method (memory.vector_index) keeps scanning until DEPTH
        # rows pass the user filter.
        cursor.execute(
            "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
            "set_config('hnsw.ef_search', %s, true), "
            "set_config('ivfflat.iterative_scan', 'relaxed_order', true), "
            "set_config('ivfflat.probes', %s, true), "
            "set_config('ivfflat.max_probes', %s, true)",
            [
                str(DEPTH * 2),
                str(settings.VECTOR_IVFFLAT_PROBES),
                str(max(settings.VECTOR_IVFFLAT_PROBES, settings.VECTOR_IVFFLAT_MAX_PROBES)),
            ],
        )
        cursor.execute(
            f"SELECT v.id FROM ({rows}) v WHERE v.embedding IS NOT NULL "
            "ORDER BY v.embedding <=> %s::vector LIMIT %s",
            [*params, text, DEPTH],
        )
        nearest = [row[0] for row in cursor.fetchall()]
    scores: dict[uuid.UUID, float] = {}
    for weight, ranking in ((1.0, keyword), (VECTOR_WEIGHT, nearest)):
        for rank, span_id in enumerate(ranking, start=1):
            scores[span_id] = scores.get(span_id, 0.0) + weight / (FUSION_K + rank)
    allowed = set(keyword) if keyword_only else None
    fused = [(i, s) for i, s in scores.items() if allowed is None or i in allowed]
    fused.sort(key=lambda pair: pair[1], reverse=True)
    return fused


def _span_hits(ranked: list[tuple[uuid.UUID, float]], limit: int) -> list[DocumentHit]:
    chosen = ranked[:limit]
    spans = {
        s.id: s
        for s in DocumentSpan.objects.filter(id__in=[i for i, _ in chosen])
        .select_related("document", "section")
        .defer("embedding", "search", "document__content")
    }
    top = chosen[0][1] if chosen else 1.0
    return [
        DocumentHit(
            kind="span",
            item_id=str(span.id),
            text=span.text,
            document=span.document,
            section=span.section,
            score=round(score / top, 4),
            start=span.start,
            end=span.end,
        )
        for span_id, score in chosen
        if (span := spans.get(span_id)) is not None
    ]


def _section_named(
    name: str, documents: list[Document], fallback: DocumentHit | None
) -> DocumentSection | None:
    """The section whose title best matches `name` (shared words over title words; the
    shallower one on a tie); without any, the section of the best span."""
    wanted = _stems(name)
    best: tuple[float, int, int] | None = None
    chosen = None
    for section in DocumentSection.objects.filter(
        document__in=documents, title__isnull=False
    ).order_by("document_id", "ordinal"):
        title = _stems(section.title or "")
        shared = len(wanted & title)
        if not shared:
            continue
        key = (shared / max(len(wanted | title), 1), -section.level, -section.ordinal)
        if best is None or key > best:
            best, chosen = key, section
    if chosen is None and fallback is not None:
        chosen = fallback.section
    return chosen


def _section_hits(section: DocumentSection) -> list[DocumentHit]:
    """The section and its subsections as verbatim pieces, in reading order."""
    document = Document.objects.get(pk=section.document_id)
    nodes = DocumentSection.objects.filter(
        document_id=section.document_id,
        ordinal__gte=section.ordinal,
        start__lt=section.end,
    ).order_by("ordinal")
    hits = []
    count = 0
    for node in nodes:
        text = document.content[node.start : node.body_end].strip()
        if not text:
            continue
        count += 1
        hits.append(
            DocumentHit(
                kind="section",
                item_id=str(node.id),
                text=text,
                document=document,
                section=node,
                score=round(1.0 - count * 1e-4, 4),
                start=node.start,
                end=node.body_end,
            )
        )
    return hits


def _distillation_hits(documents: list[Document]) -> list[DocumentHit]:
    """Each document's summary, then its sections' summaries in reading order."""
    rows = (
        DocumentDistillation.objects.filter(document__in=documents)
        .select_related("document", "section")
        .defer("document__content")
    )
    ordered = sorted(
        rows,
        key=lambda d: (
            str(d.document_id),
            d.section is not None,
            d.section.ordinal if d.section else -1,
        ),
    )
    return [
        DocumentHit(
            kind="distillation",
            item_id=str(d.id),
            text=d.text,
            document=d.document,
            section=d.section,
            score=round(1.0 - i * 1e-4, 4),
        )
        for i, d in enumerate(ordered)
    ]


def document_recall(
    *,
    tenant: Tenant,
    user_id: str,
    query: str,
    document_id: str | None = None,
    collection_id: str | None = None,
    chunks: int = DEFAULT_CHUNKS,
) -> DocumentRecall:
    """A recall routed to one document or one collection (API.md §8)."""
    strategy, section_name = strategy_of(query)
    with _snapshot():
        documents, collection, order = _documents_for(
            tenant=tenant, user_id=user_id, document_id=document_id, collection_id=collection_id
        )
        if not documents:
            return DocumentRecall(strategy=COLLECTION if collection else strategy)
        pks = [d.pk for d in documents]
        ranked = _ranked_spans(tenant=tenant, user_id=user_id, query=query, document_pks=pks)
        if strategy == SECTION and section_name is not None:
            best = _span_hits(ranked, 1)
            section = _section_named(section_name, documents, best[0] if best else None)
            if section is not None:
                return DocumentRecall(
                    strategy=SECTION, hits=_section_hits(section), section_node=section
                )
            strategy = LOCAL
        if strategy == DOCUMENT:
            # Summaries first; the best spans after them (what the budget leaves room for).
            hits = _distillation_hits(documents) + [
                DocumentHit(**{**hit.__dict__, "score": hit.score * 0.5})
                for hit in _span_hits(ranked, chunks)
            ]
        else:
            hits = _span_hits(ranked, chunks)
    if collection is not None:
        if collection.ordered:
            # Collection order, then reading order inside a document; summaries first.
            hits.sort(
                key=lambda h: (
                    order.get(h.document.pk, (len(order), 0.0)),
                    h.kind != "distillation",
                    h.section is not None,
                    h.start if h.start is not None else -1,
                )
            )
            for i, hit in enumerate(hits):
                hit.score = round(1.0 - i * 1e-4, 4)
        return DocumentRecall(strategy=COLLECTION, hits=hits)
    return DocumentRecall(strategy=strategy, hits=hits)


def joined_hits(
    *,
    tenant: Tenant,
    user_id: str,
    query: str,
    chunks: int = DEFAULT_CHUNKS,
    has_spans: bool | None = None,
    query_vector: list[float] | None = None,
) -> list[DocumentHit]:
    """The user's spans that match the query by keyword, for ordinary recall (no document
    or collection named); [] when the user has no documents. `has_spans`: whether the
    user has any, when already read (`spans_exist_send`, with recall's channels).
    `query_vector`: the query's embedding, when recall has it (not embedded twice)."""
    if has_spans is None:
        has_spans = DocumentSpan.objects.filter(tenant=tenant, user_id=user_id).exists()
    if not has_spans:
        return []
    with _snapshot():
        ranked = _ranked_spans(
            tenant=tenant,
            user_id=user_id,
            query=query,
            document_pks=None,
            keyword_only=True,
            query_vector=query_vector,
        )
        return _span_hits(ranked, chunks)


def spans_exist_send(tenant_id: object, user_id: str) -> Callable[[], tuple[bool, bool]]:
    """Send whether the user has any document span (`joined_hits`' first question) and any
    event tagged with a document (`document_tags`' first question) with recall's other
    statements (`channels.send`); returns the fetch of (spans, tags)."""
    fetch = channels.send(
        f"SELECT EXISTS (SELECT 1 FROM {DocumentSpan._meta.db_table} "
        "WHERE tenant_id = %s AND user_id = %s), "
        f"EXISTS (SELECT 1 FROM {DocumentTag._meta.db_table} "
        "WHERE tenant_id = %s AND user_id = %s)",
        [tenant_id, user_id, tenant_id, user_id],
    )

    def fetched() -> tuple[bool, bool]:
        spans, tags = fetch()[0]
        return bool(spans), bool(tags)

    return fetched


# --- Context ------------------------------------------------------------------------------


def hit_line(hit: DocumentHit) -> str:
    """ "[Manual § Installation > Linux] text" (the text with its whitespace collapsed
    unless it is a whole section, whose line breaks carry its structure)."""
    where = hit.document.name
    if hit.section_title:
        where += f" § {hit.section_title}"
    label = "summary of " if hit.kind == "distillation" else ""
    text = hit.text.strip() if hit.kind == "section" else " ".join(hit.text.split())
    return f"[{label}{where}] {text}"


def hit_blocks(hits: list[DocumentHit], *, scale: float = 1.0) -> list[Block]:
    """`chunk` blocks of the hits (memory.recall.packing renders them in rank order)."""
    return [
        Block(
            type="chunk",
            content=hit_line(hit),
            source_ids=[hit.document.external_id],
            score=round(hit.score * scale, 4),
            event_time=hit.document.updated_at,
            item_id=hit.item_id,
        )
        for hit in hits
    ]


def recall_item(hit: DocumentHit) -> dict[str, Any]:
    """A hit in the RecallFact shape (what the SDK reads), with its citation."""
    return {
        "fact_id": hit.item_id,
        "subject": hit.document.name,
        "kind": f"document_{hit.kind}",
        "predicate": "document_text",
        "object_text": hit.text,
        "object": hit.text,
        "relation_phrase": hit.section_title or "",
        "source_text": hit.text,
        "confidence": 1.0,
        "importance": hit.score,
        "tier": None,
        "created_at": hit.document.updated_at.isoformat(),
        "valid_from": None,
        "valid_to": None,
        "source_event_id": None,
        "temporal_matches": [],
        "document_id": hit.document.external_id,
        "document_name": hit.document.name,
        "section": hit.citation()["section"],
        "node_id": hit.citation()["node_id"],
        "char_start": hit.start,
        "char_end": hit.end,
    }


def with_memory(memory: list[Block], hits: list[DocumentHit]) -> list[Block]:
    """Memory blocks and joined document blocks in one ranking: a span scores
    JOINED_SHARE of the best memory item times its own normalised score."""
    if not hits:
        return memory
    top = memory[0].score if memory else 1.0
    ranked = memory + hit_blocks(hits, scale=JOINED_SHARE * top)
    ranked.sort(key=lambda block: block.score, reverse=True)  # stable: memory first on ties
    return ranked


def documents_body(
    strategy: str | None, hits: list[DocumentHit], in_text: set[str]
) -> dict[str, Any]:
    """The response's `documents` object: the strategy (null for ordinary recall) and the
    citations of the hits the context holds."""
    return {
        "strategy": strategy,
        "citations": [
            {**hit.citation(), "item_id": hit.item_id, "kind": hit.kind}
            for hit in hits
            if hit.item_id in in_text
        ],
    }


def document_tags(
    event_ids: list[uuid.UUID], *, any_tags: bool | None = None
) -> dict[str, tuple[str, str]]:
    """event id -> (document_id, document_name) of the events tagged at ingest.
    `any_tags`: whether the user has any tagged event, when already read
    (`spans_exist_send`, with recall's channels); False costs no statement."""
    if not event_ids or any_tags is False:
        return {}
    return {
        str(event_id): (document_id, name)
        for event_id, document_id, name in DocumentTag.objects.filter(
            event_id__in=event_ids
        ).values_list("event_id", "document_id", "document_name")
    }


def tagged(item: dict[str, Any], tags: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """A RecallFact with the document its source event was tagged with, if any."""
    tag = tags.get(str(item.get("source_event_id")))
    if tag is not None:
        item["document_id"], item["document_name"] = tag[0], tag[1] or None
    return item
