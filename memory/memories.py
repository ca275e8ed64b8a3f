"""Memories one by one: add, correct, supersede, delete, get, list and search single facts.

An explicit memory is a `Fact` written directly, without extraction:
- `subject` "user", `predicate` and `kind` "note" or "decision" (the explicit entries of
  the predicate catalog, which extraction never maps to), `origin` "explicit", and for a
  decision its `rationale`.
- Sources: recall and forget are built on events (a user without events recalls nothing;
  forget finds facts through their events), so an explicit write stores one *backing
  event* (`type` app_event, `role` user, `metadata` the caller's, `extractor` "explicit",
  status `skipped`: never enqueued, never extracted) whose content is the memory's text
  (and rationale). The fact's `source_event` and its single `FactSource` point at it and
  `source_text` is that content, verbatim, so citations and forget work unchanged.
- Both are embedded synchronously in the write (one embedder call for one text), so the
  memory is recallable as soon as the call returns; the user's memory version is bumped
  in the same transaction, so no cached recall from before is served.

Correct and supersede keep the old version in history exactly as enrichment's
supersede does (`status` superseded, `valid_to`, `superseded_by`); the old version's
backing event is retired from recall (`forgotten_at`) so its text no longer comes back
as a turn. Delete removes the memory with its whole history (every version it
superseded or that superseded it) and their backing events, and appends a signed
forget receipt to the tenant's chain (memory.forget) whose scope names the memory.

Memories are all of a user's facts: extracted ones can be read, corrected (the
correction is explicit), superseded and deleted too; deleting an extracted fact leaves
the raw event it came from (forget by user or conversation removes those).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from claiv.errors import InvalidRequest, NotFound
from memory.access import fact_accesses_drop
from memory.embedding import embedder
from memory.forget import COUNT_KEYS, ForgetScope, _receipt_append
from memory.models import (
    DeletionReceipt,
    EnrichmentStatus,
    Event,
    EventType,
    Fact,
    FactSource,
    FactStatus,
    Role,
    Scope,
)
from memory.recall.cache import recall_cache_drop
from memory.recall.channels import RecallScope
from memory.recall.engine import retrieve
from memory.versioning import user_memory_changed
from memory.vocabulary.predicates import EXPLICIT_PREDICATES
from tenants.models import Tenant

MEMORY_KINDS = tuple(p.name for p in EXPLICIT_PREDICATES)  # ("note", "decision")
ORIGIN_EXPLICIT = "explicit"
LIST_STATUSES = ("current", "superseded", "all")
MAX_LIMIT = 100
# How the fact reads in a recalled context: "User: noted <text> (date)".
_RELATION = {"note": "noted", "decision": "decided"}


@dataclass(frozen=True)
class MemoryDeleteScope(ForgetScope):
    """A forget receipt's scope for one memory: the user and the memory's id."""

    memory_id: str = ""

    def as_json(self) -> dict[str, object]:
        return {**super().as_json(), "memory_id": self.memory_id}


def _parse_id(memory_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(memory_id))
    except ValueError as exc:
        raise NotFound("No such memory.") from exc


def _fact_get(*, tenant: Tenant, memory_id: str, lock: bool = False) -> Fact:
    """The tenant's fact; another tenant's id or a malformed one is NotFound."""
    facts = Fact.objects.filter(tenant=tenant, id=_parse_id(memory_id))
    if lock:
        facts = facts.select_for_update()
    fact = facts.select_related("source_event").first()
    if fact is None:
        raise NotFound("No such memory.")
    return fact


def _body(content: str, rationale: str | None) -> str:
    return f"{content}\nRationale: {rationale}" if rationale else content


def _write(
    *,
    tenant: Tenant,
    user_id: str,
    content: str,
    kind: str,
    conversation_id: str | None,
    metadata: dict[str, Any] | None,
    rationale: str | None,
    scope: str = Scope.GLOBAL,
    project_id: str = "",
) -> Fact:
    """The backing event and the fact, embedded. Call inside a transaction."""
    if kind not in MEMORY_KINDS:
        raise InvalidRequest(
            f"kind must be one of {', '.join(MEMORY_KINDS)}.",
            details={"field": "kind", "allowed": list(MEMORY_KINDS)},
        )
    if not content.strip():
        raise InvalidRequest("content must not be empty.", details={"field": "content"})
    now = timezone.now()
    text = _body(content, rationale)
    vector = embedder().embed([text])[0]
    fact_id = uuid.uuid4()
    event = Event.objects.create(
        tenant=tenant,
        user_id=user_id,
        conversation_id=conversation_id or "",
        project_id=project_id,
        type=EventType.APP_EVENT,
        role=Role.USER,
        content=text,
        event_time=now,
        metadata=metadata or {},
        scope=scope,
        body_hash=hashlib.sha256(f"memory:{fact_id}".encode()).hexdigest(),
        status=EnrichmentStatus.SKIPPED,
        extractor=ORIGIN_EXPLICIT,
        enriched_at=now,
        time_notes=[],
        embedding=vector,
    )
    fact = Fact.objects.create(
        id=fact_id,
        tenant=tenant,
        user_id=user_id,
        subject="user",
        kind=kind,
        predicate=kind,
        relation_phrase=_RELATION[kind],
        object_text=content,
        source_text=text,
        source_event=event,
        source_start=0,
        source_end=len(text),
        source_role=Role.USER,
        event_time=now,
        conversation_id=conversation_id or "",
        project_id=project_id,
        scope=scope,
        confidence=1.0,
        importance=0.8,
        valid_from=now,
        origin=ORIGIN_EXPLICIT,
        rationale=rationale or "",
        embedding=vector,
    )
    FactSource.objects.create(fact=fact, event=event, source_text=text)
    user_memory_changed(tenant_id=tenant.pk, user_id=user_id)
    fact.source_event = event
    return fact


def memory_add(
    *,
    tenant: Tenant,
    user_id: str,
    content: str,
    kind: str = "note",
    conversation_id: str | None = None,
    metadata: dict | None = None,
    rationale: str | None = None,
) -> Fact:
    """Store an explicit memory, recallable as soon as this returns (see the module doc).

    `kind` "note" or "decision" (a decision may carry a `rationale`); anything else, or
    empty content, is InvalidRequest and stores nothing.
    """
    with transaction.atomic():
        return _write(
            tenant=tenant,
            user_id=user_id,
            content=content,
            kind=kind,
            conversation_id=conversation_id,
            metadata=metadata,
            rationale=rationale,
        )


def _retire(old: Fact, new: Fact, moment: datetime) -> None:
    """`old` superseded by `new`, as enrichment's resolver records it."""
    old.status, old.valid_to, old.superseded_by = FactStatus.SUPERSEDED, moment, new
    old.save(update_fields=["status", "valid_to", "superseded_by", "updated_at"])
    if old.origin == ORIGIN_EXPLICIT:
        # The backing event exists only for this memory: its text must not come back.
        Event.objects.filter(pk=old.source_event_id, forgotten_at__isnull=True).update(
            forgotten_at=moment, state_changed_at=moment
        )


def _current(fact: Fact) -> None:
    if fact.status != FactStatus.CURRENT:
        raise InvalidRequest(
            "Only a current memory can be corrected or superseded.",
            details={"memory_id": str(fact.id), "status": fact.status},
        )


def memory_correct(
    *, tenant: Tenant, memory_id: str, content: str, rationale: str | None = None
) -> Fact:
    """A new current memory with `content` (same user, kind, conversation, visibility and
    metadata) that supersedes `memory_id`, which stays in history. Only a current
    memory can be corrected (InvalidRequest otherwise)."""
    with transaction.atomic():
        old = _fact_get(tenant=tenant, memory_id=memory_id, lock=True)
        _current(old)
        kind = old.kind if old.kind in MEMORY_KINDS else "note"
        new = _write(
            tenant=tenant,
            user_id=old.user_id,
            content=content,
            kind=kind,
            conversation_id=old.conversation_id or None,
            metadata=old.source_event.metadata if old.origin == ORIGIN_EXPLICIT else None,
            rationale=rationale if rationale is not None else old.rationale or None,
            scope=old.scope,
            project_id=old.project_id,
        )
        _retire(old, new, new.valid_from)
    return new


def memory_supersede(
    *,
    tenant: Tenant,
    memory_id: str,
    content: str | None = None,
    superseded_by: str | None = None,
    kind: str | None = None,
    rationale: str | None = None,
) -> Fact:
    """Mark `memory_id` superseded, either by a new memory with `content` (and `kind`,
    default the old one's) or by the existing current memory `superseded_by` of the same
    user. Exactly one of the two; returns the memory now current."""
    if (content is None) == (superseded_by is None):
        raise InvalidRequest(
            "Give exactly one of content and superseded_by.",
            details={"fields": ["content", "superseded_by"]},
        )
    with transaction.atomic():
        old = _fact_get(tenant=tenant, memory_id=memory_id, lock=True)
        _current(old)
        if superseded_by is not None:
            new = _fact_get(tenant=tenant, memory_id=superseded_by, lock=True)
            if new.pk == old.pk or new.user_id != old.user_id:
                raise InvalidRequest(
                    "superseded_by must be another memory of the same user.",
                    details={"field": "superseded_by"},
                )
            _current(new)
            user_memory_changed(tenant_id=tenant.pk, user_id=old.user_id)
            _retire(old, new, timezone.now())
            return new
        assert content is not None
        new_kind = kind or (old.kind if old.kind in MEMORY_KINDS else "note")
        new = _write(
            tenant=tenant,
            user_id=old.user_id,
            content=content,
            kind=new_kind,
            conversation_id=old.conversation_id or None,
            metadata=None,
            rationale=rationale,
            scope=old.scope,
            project_id=old.project_id,
        )
        _retire(old, new, new.valid_from)
    return new


def _history_ids(fact: Fact) -> set[uuid.UUID]:
    """The fact and every version linked to it by supersession, either way."""
    chain, frontier = {fact.pk}, {fact.pk}
    while frontier:
        linked = Fact.objects.filter(
            Q(superseded_by__in=frontier) | Q(supersedes__in=frontier), tenant_id=fact.tenant_id
        )
        found = set(linked.values_list("id", flat=True)) - chain
        chain |= found
        frontier = found
    return chain


def memory_delete(*, tenant: Tenant, memory_id: str) -> DeletionReceipt:
    """Delete the memory with its whole history and their backing events; returns the
    signed receipt appended to the tenant's chain (scope: user and memory id)."""
    requested_at = timezone.now()
    with transaction.atomic():
        # The tenant row lock serialises receipts, so the chain has no forks (NO KEY: see
        # memory.forget; inserts into the tenant are not blocked).
        Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
        fact = _fact_get(tenant=tenant, memory_id=memory_id, lock=True)
        fact_ids = _history_ids(fact)
        facts = Fact.objects.filter(tenant=tenant, id__in=fact_ids)
        backing = set(
            facts.filter(origin=ORIGIN_EXPLICIT).values_list("source_event_id", flat=True)
        )
        embeddings = facts.filter(embedding__isnull=False).count()
        embeddings += Event.objects.filter(id__in=backing, embedding__isnull=False).count()
        facts.delete()
        Event.objects.filter(tenant=tenant, id__in=backing).delete()
        transaction.on_commit(partial(fact_accesses_drop, fact_ids))
        counts = dict.fromkeys(COUNT_KEYS, 0)
        counts.update({"events": len(backing), "facts": len(fact_ids), "embeddings": embeddings})
        deleted = [f"fact:{i}" for i in fact_ids] + [f"event:{i}" for i in backing]
        receipt = _receipt_append(
            tenant=tenant,
            scope=MemoryDeleteScope(user_id=fact.user_id, memory_id=str(fact.pk)),
            counts=counts,
            deleted_ids=deleted,
            requested_at=requested_at,
        )
        user_memory_changed(tenant_id=tenant.pk, user_id=fact.user_id)
        transaction.on_commit(partial(recall_cache_drop, tenant_id=tenant.pk, user_id=fact.user_id))
    return receipt


# --- Reads --------------------------------------------------------------------------------


def memory_get(*, tenant: Tenant, memory_id: str) -> dict[str, Any]:
    """One memory with its history: what it superseded, what superseded it, its sources."""
    fact = _fact_get(tenant=tenant, memory_id=memory_id)
    supersedes = list(
        Fact.objects.filter(tenant=tenant, superseded_by=fact).order_by("valid_from", "id")
    )
    sources = list(FactSource.objects.filter(fact=fact).select_related("event").order_by("id"))
    return {
        **memory_as_dict(fact),
        "supersedes": [memory_as_dict(f) for f in supersedes],
        "superseded_by": (
            memory_as_dict(_fact_get(tenant=tenant, memory_id=str(fact.superseded_by_id)))
            if fact.superseded_by_id
            else None
        ),
        "sources": [
            {
                "event_id": str(s.event_id),
                "source_text": s.source_text,
                "event_time": _iso(s.event.event_time),
                "explicit": s.event.extractor == ORIGIN_EXPLICIT,
            }
            for s in sources
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def memory_as_dict(fact: Fact) -> dict[str, Any]:
    """The JSON shape of one memory (API and MCP)."""
    event = fact.source_event if fact.origin == ORIGIN_EXPLICIT else None
    return {
        "id": str(fact.pk),
        "user_id": fact.user_id,
        "kind": fact.kind,
        "text": memory_as_dict_text(fact),
        "content": fact.object_text,
        "rationale": fact.rationale or None,
        "origin": fact.origin,
        "status": fact.status,
        "predicate": fact.predicate,
        "subject": fact.subject,
        "conversation_id": fact.conversation_id or None,
        "metadata": event.metadata if event is not None else {},
        "confidence": round(fact.confidence, 4),
        "tier": fact.tier,
        "valid_from": _iso(fact.valid_from),
        "valid_to": _iso(fact.valid_to),
        "superseded_by_id": str(fact.superseded_by_id) if fact.superseded_by_id else None,
        "source_event_id": str(fact.source_event_id),
        "created_at": _iso(fact.created_at),
        "updated_at": _iso(fact.updated_at),
    }


def _cursor_encode(fact: Fact) -> str:
    raw = f"{fact.created_at.isoformat()}|{fact.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, fact_id = raw.partition("|")
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, uuid.UUID(fact_id)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise InvalidRequest("Invalid cursor.", details={"field": "cursor"}) from exc


def memory_list(
    *,
    tenant: Tenant,
    user_id: str,
    status: str = "current",
    kind: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> tuple[list[Fact], str | None]:
    """A page of the user's memories, newest first (created_at, then id: a stable order),
    and the cursor of the next page (None on the last). `status` current, superseded
    (superseded or contradicted) or all."""
    if status not in LIST_STATUSES:
        raise InvalidRequest(
            f"status must be one of {', '.join(LIST_STATUSES)}.", details={"field": "status"}
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be 1–{MAX_LIMIT}.", details={"field": "limit"})
    facts: QuerySet[Fact] = (
        Fact.objects.filter(tenant=tenant, user_id=user_id)
        .select_related("source_event")
        .defer("embedding", "search", "source_event__embedding", "source_event__search")
    )
    if status == "current":
        facts = facts.filter(status=FactStatus.CURRENT)
    elif status == "superseded":
        facts = facts.exclude(status=FactStatus.CURRENT)
    if kind is not None:
        facts = facts.filter(kind=kind)
    if cursor is not None:
        moment, last_id = _cursor_decode(cursor)
        facts = facts.filter(Q(created_at__lt=moment) | Q(created_at=moment, id__lt=last_id))
    page = list(facts.order_by("-created_at", "-id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (_cursor_encode(page[-1]) if more and page else None)


def memory_search(
    *, tenant: Tenant, user_id: str, query: str, limit: int = 10, conversation_id: str | None = None
) -> list[dict]:
    """The ranked items of recall, unpacked: `retrieve` (memory.recall.engine), the same
    channels and fusion, cut to `limit` hydrated items. Each: id, type (fact, event or
    episode), text, kind, score (fused, the first item = 1.0), channels (the channels
    that ranked it; "neighbour" for a turn added beside a strong hit), status."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be 1–{MAX_LIMIT}.", details={"field": "limit"})
    scope = RecallScope(tenant=tenant, user_id=user_id, conversation_id=conversation_id)
    result = retrieve(scope, query, budget=2000)
    if not result.fused:
        return []
    top = result.fused[0][1]
    # An explicit memory's backing event carries the same text as the memory: it answers
    # as the memory itself, once (the fact's own rank, or the event's if that came first).
    backing = {
        str(f.source_event_id): f
        for f in Fact.objects.filter(
            tenant=tenant,
            user_id=user_id,
            origin=ORIGIN_EXPLICIT,
            status=FactStatus.CURRENT,
            source_event_id__in=[i for t, i in (k for k, _ in result.fused) if t == "event"],
        )
    }
    seen: set[tuple[str, Any]] = set()
    items: list[dict[str, Any]] = []
    for key, score in result.fused:
        item_type, item_id = key
        found = [name for name, ranks in result.ranks.items() if key in ranks]
        memory = backing.get(str(item_id)) if item_type == "event" else None
        if memory is not None:
            key, item_type, item_id = ("fact", memory.pk), "fact", memory.pk
            result.facts.setdefault(item_id, memory)
        if key in seen:
            continue
        seen.add(key)
        if item_type == "fact" and item_id in result.facts:
            fact = result.facts[item_id]
            text, kind, status = memory_as_dict_text(fact), fact.kind, fact.status
        elif item_type == "event" and item_id in result.events:
            text, kind, status = _event_text(result, item_id), "event", "current"
        elif item_type == "episode" and item_id in result.episodes:
            text, kind, status = result.episodes[item_id].summary, "episode", "current"
        else:
            continue
        found += [
            name for name, ranks in result.ranks.items() if key in ranks and name not in found
        ]
        items.append(
            {
                "id": str(item_id),
                "type": item_type,
                "text": text,
                "kind": kind,
                "score": round(score / top, 4),
                "channels": found or ["neighbour"],
                "status": status,
            }
        )
        if len(items) == limit:
            break
    return items


def _event_text(result: Any, event_id: Any) -> str:
    """An event's text as search shows it: whole, or for a long event (hydrated up to
    memory.passages.WHOLE_TEXT_CHARS) the passage that matched, else its first part."""
    event = result.events[event_id]
    if not getattr(event, "content_cut", False):
        return str(event.content)
    passage = result.passage_texts.get(event_id)
    return f"… {passage} …" if passage is not None else f"{event.content} …"


def memory_as_dict_text(fact: Fact) -> str:
    """How a fact reads on its own: an explicit memory's text, or the extracted triple."""
    if fact.origin == ORIGIN_EXPLICIT:
        return fact.object_text
    negation = "not " if fact.negated else ""
    return f"{fact.subject} {negation}{fact.relation_phrase} {fact.object_text}"
