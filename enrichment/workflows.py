"""The enrichment canvas: one chain of immutable stage signatures per event."""

from __future__ import annotations

import logging
from typing import Any

from celery import chain

from enrichment import tasks

logger = logging.getLogger("claiv.enrichment")


def enrichment_chain(event_id: str) -> Any:
    return chain(tasks.extract.si(event_id), tasks.map_.si(event_id), tasks.gate.si(event_id),
                 tasks.embed.si(event_id), tasks.tier.si(event_id))


def enrichment_enqueue(event_id: str) -> None:
    """Send the chain. If the broker is down the event stays pending in Postgres and
    reconciliation enqueues it later, so ingest still succeeds."""
    try:
        enrichment_chain(event_id).apply_async()
    except Exception:
        logger.warning("enqueue failed event=%s; reconciliation will retry", event_id)


def enrich_on_stored(sender: Any, event_id: Any, **kwargs: Any) -> None:
    """Receiver of memory's `event_stored` (sent after commit)."""
    enrichment_enqueue(str(event_id))
