"""The enrichment canvas: one chain of immutable stage signatures per event.

Built from the task names (`enrichment.tasks` registers them), so this module imports no
task and the tasks may import it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import chain, signature

from enrichment import outstanding

logger = logging.getLogger("claiv.enrichment")

# In pipeline order (enrichment.pipeline.STAGES).
STAGE_TASKS = ("enrichment.extract", "enrichment.map", "enrichment.gate", "enrichment.embed",
               "enrichment.tier")


def enrichment_chain(event_id: str) -> Any:
    return chain(*(signature(name, args=(event_id,), immutable=True) for name in STAGE_TASKS))


def enrichment_enqueue(event_id: str) -> None:
    """Send the chain. If the broker is down the event stays pending in Postgres and
    reconciliation enqueues it later, so ingest still succeeds.

    The chain is recorded as queued before it is published (see `enrichment.outstanding`),
    so reconciliation does not re-send it while it waits behind a backlog."""
    outstanding.chain_sending(event_id)
    try:
        enrichment_chain(event_id).apply_async()
    except Exception:
        outstanding.chain_send_failed(event_id)
        logger.warning("enqueue failed event=%s; reconciliation will retry", event_id)
