"""Small builders for tests: events stored through the ingest service, enriched in-process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from enrichment.pipeline import stage_run
from enrichment.services import event_ingest_and_enqueue as event_ingest
from memory.models import Event
from tenants.models import Tenant

BASE_TIME = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def ingest(
    tenant: Tenant, content: str, *, user_id: str = "u1", minutes: int = 0, **fields: Any
) -> Event:
    fields.setdefault("role", "user")
    fields.setdefault("type", "message")
    fields.setdefault("conversation_id", "c1")
    return event_ingest(
        tenant=tenant,
        user_id=user_id,
        content=content,
        event_time=BASE_TIME + timedelta(minutes=minutes),
        **fields,
    ).event


def enrich(event: Event) -> Event:
    """Run the whole pipeline for one event without Celery (stage functions directly)."""
    stage_run(str(event.id), "tier")
    event.refresh_from_db()
    return event


def ingest_enriched(tenant: Tenant, content: str, **kwargs: Any) -> Event:
    return enrich(ingest(tenant, content, **kwargs))
