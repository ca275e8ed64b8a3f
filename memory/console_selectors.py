"""Memory reads for the console: the memory browser and the forget preview.

Each takes the tenant explicitly. Reads shared with the API (events, receipts) stay in
`memory.selectors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.db.models import Case, Count, Max, Q, QuerySet, When
from django.db.models.functions import Left

# Forget's own matching rule, so the console's preview cannot drift from what forget does.
from memory.forget import ForgetScope, _matching_documents, _matching_events
from memory.models import (
    FTS_CONFIG,
    Document,
    DocumentSpan,
    Episode,
    Event,
    Fact,
    FactSource,
    FactStatus,
    Passage,
)
from tenants.models import Tenant


@dataclass(frozen=True)
class MemoryUserRow:
    user_id: str
    events: int
    facts: int
    last_active: datetime | None  # the latest event time or document upload
    documents: int = 0


def memory_users_list(*, tenant: Tenant, search: str = "", limit: int = 100) -> list[MemoryUserRow]:
    """End users of a tenant (those with events, documents or both) with event,
    current-fact and document counts, most recently active first."""
    events = Event.objects.filter(tenant=tenant)
    documents = Document.objects.filter(tenant=tenant)
    if search:
        events = events.filter(user_id__icontains=search)
        documents = documents.filter(user_id__icontains=search)
    # The `limit` most recent of each kind hold the `limit` most recent users overall.
    latest: dict[str, datetime] = {}
    for rows in (
        events.values("user_id").annotate(last=Max("event_time")).order_by("-last", "user_id"),
        documents.values("user_id").annotate(last=Max("updated_at")).order_by("-last", "user_id"),
    ):
        for row in rows[:limit]:
            seen = latest.get(row["user_id"])
            latest[row["user_id"]] = row["last"] if seen is None else max(seen, row["last"])
    users = sorted(latest, key=lambda u: (-latest[u].timestamp(), u))[:limit]

    def counts(rows: QuerySet[Any, Any]) -> dict[str, int]:
        return dict(
            rows.filter(user_id__in=users)
            .values("user_id")
            .annotate(n=Count("id"))
            .values_list("user_id", "n")
        )

    event_counts = counts(events)
    fact_counts = counts(Fact.objects.filter(tenant=tenant, status=FactStatus.CURRENT))
    document_counts = counts(documents)
    return [
        MemoryUserRow(
            u,
            event_counts.get(u, 0),
            fact_counts.get(u, 0),
            latest[u],
            document_counts.get(u, 0),
        )
        for u in users
    ]


def _text_filter(q: str, *fields: str) -> Q:
    """Full-text match (stemmed, websearch syntax) or a plain substring in any field."""
    condition = Q(search=SearchQuery(q, config=FTS_CONFIG, search_type="websearch"))
    for name in fields:
        condition |= Q(**{f"{name}__icontains": q})
    return condition


def memory_user_facts(
    *, tenant: Tenant, user_id: str, q: str = "", limit: int = 200
) -> QuerySet[Fact]:
    """A user's facts, current first, then superseded and contradicted, newest first."""
    facts = Fact.objects.filter(tenant=tenant, user_id=user_id)
    if q:
        facts = facts.filter(_text_filter(q, "subject", "object_text", "source_text"))
    order = Case(When(status=FactStatus.CURRENT, then=0), default=1)
    return facts.select_related("source_event").order_by(order, "-valid_from")[:limit]


def memory_user_events(
    *, tenant: Tenant, user_id: str, q: str = "", limit: int = 100
) -> QuerySet[Event]:
    events = Event.objects.filter(tenant=tenant, user_id=user_id)
    if q:
        events = events.filter(_text_filter(q, "content"))
    # The page shows 140 characters of each: read no more (an event may hold 1 MiB).
    return (
        events.defer("embedding", "search", "content")
        .annotate(content_head=Left("content", 200))
        .order_by("-event_time")[:limit]
    )


def memory_user_episodes(
    *, tenant: Tenant, user_id: str, q: str = "", limit: int = 50
) -> QuerySet[Episode]:
    episodes = Episode.objects.filter(tenant=tenant, user_id=user_id)
    if q:
        episodes = episodes.filter(_text_filter(q, "summary"))
    return episodes.defer("embedding").order_by("-last_event_time")[:limit]


def memory_forget_preview(*, tenant: Tenant, scope: ForgetScope) -> dict[str, int]:
    """What `memory_forget(tenant, scope)` would delete, counted without changing anything.

    Uses forget's own event matching and counts facts, episodes and embeddings by the
    same rules, so the console's confirmation step shows the numbers the receipt will carry
    (`events_matched` and `already_forgotten` are extra, for the operator).
    """
    events = _matching_events(tenant=tenant, scope=scope)
    event_ids = events.values("id")
    facts = Fact.objects.filter(
        Q(id__in=FactSource.objects.filter(event_id__in=event_ids).values("fact_id"))
        | Q(source_event_id__in=event_ids),
        tenant=tenant,
    )
    episodes = Episode.objects.filter(
        tenant=tenant,
        id__in=Episode.events.through.objects.filter(event_id__in=event_ids).values("episode_id"),
    )
    matched = events.count()
    # The scope's documents go whole (memory.forget): their spans are the receipt's chunks.
    spans = DocumentSpan.objects.filter(
        document__in=_matching_documents(tenant=tenant, scope=scope)
    )
    return {
        "events_matched": matched,
        "already_forgotten": events.filter(forgotten_at__isnull=False).count(),
        "events": matched if scope.erase_events else 0,
        "facts": facts.count(),
        "episodes": episodes.count(),
        "embeddings": (
            facts.filter(embedding__isnull=False).count()
            + episodes.filter(embedding__isnull=False).count()
            + events.filter(embedding__isnull=False).count()
            + Passage.objects.filter(event_id__in=event_ids, embedding__isnull=False).count()
            + spans.filter(embedding__isnull=False).count()
        ),
        "documents": _matching_documents(tenant=tenant, scope=scope).count(),
        "chunks": spans.count(),
    }
