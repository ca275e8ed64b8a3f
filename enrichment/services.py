"""Enrichment's entry points for the layers above memory (the API views and the console).

These are the only functions through which memory's interface files reach enrichment
(see the import contract in pyproject.toml): memory stores and resets data, enrichment
schedules the process on it, after the commit.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from enrichment import workflows
from memory.console import event_enrichment_reset
from memory.ingest import IngestResult, event_ingest
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


def event_reenrich(*, tenant: Tenant, event_id: str) -> Event:
    """Undo what enrichment derived from one event (`memory.console.event_enrichment_reset`)
    and enqueue the pipeline for it after commit."""
    with transaction.atomic():
        event = event_enrichment_reset(tenant=tenant, event_id=event_id)
        event_id_text = str(event.pk)
        transaction.on_commit(lambda: workflows.enrichment_enqueue(event_id_text))
    return event
