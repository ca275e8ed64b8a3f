"""Ingest: store one event durably.

Contains the retry/idempotency rules of API.md §3. Does not parse HTTP (the API layer
validates shapes) and does not enrich: callers enter through
`enrichment.services.event_ingest_and_enqueue`, which schedules enrichment after commit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from claiv.errors import Conflict
from memory.models import Event, Scope
from memory.versioning import user_memory_changed
from tenants.models import Tenant

IDEMPOTENCY_WINDOW = timedelta(hours=24)
# An identical event within this window without an idempotency key is a client retry.
RETRY_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True)
class IngestResult:
    event: Event
    deduped: bool


def _body_hash(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _advisory_lock(*parts: str) -> None:
    """Serialise concurrent ingests of the same logical request (transaction-scoped)."""
    key = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big",
                         signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def event_ingest(*, tenant: Tenant, user_id: str, type: str, content: str,
                 conversation_id: str = "", role: str = "", event_time: datetime | None = None,
                 idempotency_key: str | None = None, metadata: dict[str, Any] | None = None,
                 project_id: str = "", scope: str = Scope.GLOBAL) -> IngestResult:
    """Store an event, or return the one this request repeats.

    Same idempotency key within 24 h: same body → the original event (`deduped`); different
    body → Conflict. Without a key, an identical event within 60 s is a retry.
    """
    metadata = metadata or {}
    body_hash = _body_hash({
        "user_id": user_id, "conversation_id": conversation_id, "type": type, "role": role,
        "content": content, "event_time": event_time.isoformat() if event_time else None,
        "metadata": metadata, "project_id": project_id, "scope": scope,
    })
    now = timezone.now()
    with transaction.atomic():
        tenant_events = Event.objects.filter(tenant=tenant)
        if idempotency_key is not None:
            _advisory_lock(str(tenant.pk), "idem", idempotency_key)
            previous = (tenant_events.filter(idempotency_key=idempotency_key,
                                             created_at__gte=now - IDEMPOTENCY_WINDOW)
                        .order_by("-created_at").first())
            if previous is not None:
                if previous.body_hash != body_hash:
                    raise Conflict("This idempotency_key was used with a different body.",
                                   details={"event_id": str(previous.id)})
                return IngestResult(event=previous, deduped=True)
        else:
            _advisory_lock(str(tenant.pk), "body", body_hash)
            previous = (tenant_events.filter(body_hash=body_hash,
                                             created_at__gte=now - RETRY_WINDOW)
                        .order_by("created_at").first())
            if previous is not None:
                return IngestResult(event=previous, deduped=True)
        event = Event.objects.create(
            tenant=tenant, user_id=user_id, conversation_id=conversation_id,
            project_id=project_id, type=type, role=role, content=content,
            event_time=event_time or now, metadata=metadata, scope=scope,
            idempotency_key=idempotency_key, body_hash=body_hash,
        )
        # A stored event is recallable before it is enriched (conversation recency, v6
        # history), so cached recalls of this user must not outlive it.
        user_memory_changed(tenant_id=tenant.pk, user_id=user_id)
    return IngestResult(event=event, deduped=False)
