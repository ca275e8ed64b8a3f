"""The enrichment canvas: one chain of immutable stage signatures per event.

Built from the task names (`enrichment.tasks` registers them), so this module imports no
task and the tasks may import it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from celery import chain, current_app, signature

from enrichment import outstanding

logger = logging.getLogger("claiv.enrichment")

# In pipeline order (enrichment.pipeline.STAGES).
STAGE_TASKS = (
    "enrichment.extract",
    "enrichment.map",
    "enrichment.gate",
    "enrichment.embed",
    "enrichment.tier",
)


def _stage_signatures(event_id: str) -> list[Any]:
    """The chain's signatures in run order, as `enrichment_chain(event_id).tasks` holds
    them (equal dicts), without `chain()` folding them one `|` at a time: a third of the
    cost, which a batch pays 500 times."""
    return [signature(name, args=(event_id,), immutable=True) for name in STAGE_TASKS]


def enrichment_chain(event_id: str) -> Any:
    return chain(*_stage_signatures(event_id))


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


def enrichment_enqueue_many(event_ids: Sequence[str]) -> None:
    """Send the chains of several events in one broker round trip: kombu's producer batch
    buffers the messages (on Redis a non-transactional pipeline of LPUSHes) and flushes
    them at the end. Same failure rule as `enrichment_enqueue`: if the publish fails, or
    its outcome is uncertain, the events stay pending and reconciliation re-sends them
    (stages are idempotent: a duplicate costs work, never data)."""
    if not event_ids:
        return
    outstanding.chain_sending(*event_ids)
    try:
        with (
            current_app.producer_or_acquire() as producer,
            producer.batch(max_size=PUBLISH_BATCH_COMMANDS),
        ):
            for event_id in event_ids:
                # A chain's own apply_async drops `producer` (and so the batch); sending its
                # first stage with the rest as the message's `chain` option is what it does.
                first, *rest = _stage_signatures(event_id)
                first.apply_async(producer=producer, chain=list(reversed(rest)))
    except Exception:
        # Some messages may have gone out: forgetting them all errs towards a re-send.
        outstanding.chain_send_failed(*event_ids)
        logger.warning("enqueue failed events=%d; reconciliation will retry", len(event_ids))


# Redis commands buffered before a flush: above a batch's 500 first-stage messages, so one
# batch is one round trip.
PUBLISH_BATCH_COMMANDS = 1024
