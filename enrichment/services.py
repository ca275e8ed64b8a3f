"""Enrichment's entry points for the layers above memory (the API views and the console).

These are the only functions through which memory's interface files reach enrichment
(see the import contract in pyproject.toml): memory stores and resets data, enrichment
schedules the process on it, after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from enrichment import workflows
from memory.console import event_enrichment_reset
from memory.ingest import IngestResult, event_ingest, events_ingest
from memory.models import Event
from tenants.models import Tenant


def event_ingest_and_enqueue(**fields: Any) -> IngestResult:
    """Store an event (`memory.ingest.event_ingest`, same keywords and rules) and, when it
    is new, enqueue its enrichment once the row is committed. A repeat is not re-enqueued:
    the original's chain, or reconciliation, enriches it."""
    result = event_ingest(**fields)
    if not result.deduped:
        event_id = str(result.event.id)
        # Looked up on the module at send time, so tests may replace it.
        transaction.on_commit(lambda: workflows.enrichment_enqueue(event_id))
    return result


def events_ingest_and_enqueue(
    *, tenant: Tenant, items: Sequence[Mapping[str, Any]]
) -> list[IngestResult | Exception]:
    """Store a batch (`memory.ingest.events_ingest`: one transaction, same rules as one by
    one, one result or error per item) and, once committed, enqueue the new events'
    enrichment in one publish (`workflows.enrichment_enqueue_many`)."""
    results = events_ingest(tenant=tenant, items=items)
    new_ids = [str(r.event.id) for r in results if isinstance(r, IngestResult) and not r.deduped]
    if new_ids:
        transaction.on_commit(lambda: workflows.enrichment_enqueue_many(new_ids))
    return results


def event_reenrich(*, tenant: Tenant, event_id: str) -> Event:
    """Undo what enrichment derived from one event (`memory.console.event_enrichment_reset`)
    and enqueue the pipeline for it after commit."""
    with transaction.atomic():
        event = event_enrichment_reset(tenant=tenant, event_id=event_id)
        event_id_text = str(event.pk)
        transaction.on_commit(lambda: workflows.enrichment_enqueue(event_id_text))
    return event
