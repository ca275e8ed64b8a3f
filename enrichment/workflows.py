"""The enrichment canvas: one chain of immutable stage signatures per event.

Built from the task names (`enrichment.tasks` registers them), so this module imports no
task and the tasks may import it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import chain, signature

logger = logging.getLogger("claiv.enrichment")

# In pipeline order (enrichment.pipeline.STAGES).
STAGE_TASKS = ("enrichment.extract", "enrichment.map", "enrichment.gate", "enrichment.embed",
               "enrichment.tier")


def enrichment_chain(event_id: str) -> Any:
    return chain(*(signature(name, args=(event_id,), immutable=True) for name in STAGE_TASKS))


def enrichment_enqueue(event_id: str) -> None:
    """Send the chain. If the broker is down the event stays pending in Postgres and
    reconciliation enqueues it later, so ingest still succeeds."""
    try:
        enrichment_chain(event_id).apply_async()
    except Exception:
        logger.warning("enqueue failed event=%s; reconciliation will retry", event_id)
