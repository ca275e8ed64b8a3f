"""What enrichment publishes: one `enrichment.events` message per event, or per part of a
batch, that runs every stage of its events in one task.

Built from the task names (`enrichment.tasks` registers them), so this module imports no
task and the tasks may import it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from celery import chain, current_app, signature
from django.conf import settings

from enrichment import outstanding, publish

logger = logging.getLogger("claiv.enrichment")

# The whole pipeline for a list of event ids (enrichment.tasks.events).
EVENTS_TASK = "enrichment.events"

# In pipeline order (enrichment.pipeline.STAGES). The former message form, a chain of these
# per event, is still consumed (messages queued before an upgrade); nothing sends it now.
STAGE_TASKS = (
    "enrichment.extract",
    "enrichment.map",
    "enrichment.gate",
    "enrichment.embed",
    "enrichment.tier",
)


def enrichment_chain(event_id: str) -> Any:
    """The former per-event message: a chain of the five stage tasks."""
    return chain(*[signature(name, args=(event_id,), immutable=True) for name in STAGE_TASKS])


def enrichment_signature(event_ids: Sequence[str]) -> Any:
    """The message that enriches these events (all stages, in one task)."""
    return signature(EVENTS_TASK, args=(list(event_ids),), immutable=True)


def message_parts(event_ids: Sequence[str], size: int | None = None) -> list[list[str]]:
    """A batch's events cut into messages of ENRICH_MESSAGE_EVENTS, in order: several
    messages so that several workers share a large batch, each the size of a stage's batch
    so that one message is one model call per stage."""
    step = max(size if size is not None else settings.ENRICH_MESSAGE_EVENTS, 1)
    return [list(event_ids[i : i + step]) for i in range(0, len(event_ids), step)]


def enrichment_enqueue(event_id: str) -> None:
    """Send the event's message. If the broker is down the event stays pending in Postgres
    and reconciliation enqueues it later, so ingest still succeeds.

    The event is recorded as queued before it is published (see `enrichment.outstanding`),
    so reconciliation does not re-send it while it waits behind a backlog.

    Written straight to the Redis broker when `publish.lean_route` allows it (the same
    message, without Celery's per-publish machinery, the record in the same round trip);
    through Celery otherwise."""
    route = publish.lean_route()
    try:
        if route is not None:
            publish.events_publish(route, [event_id])  # records the event as queued itself
        else:
            outstanding.chain_sending(event_id)
            # The message's argsrepr/kwargsrepr (what worker logs show) given as Celery
            # would write them (`saferepr` of the args tuple: the same text for a list of
            # one id), so it does not walk them with saferepr on every single ingest.
            enrichment_signature([event_id]).apply_async(
                argsrepr=f"([{event_id!r}],)", kwargsrepr="{}"
            )
    except Exception:
        outstanding.chain_send_failed(event_id)
        logger.warning("enqueue failed event=%s; reconciliation will retry", event_id)


def enrichment_enqueue_many(event_ids: Sequence[str]) -> None:
    """Send a batch's events as a few messages (`message_parts`) in one broker round trip:
    kombu's producer batch buffers them (on Redis a non-transactional pipeline of LPUSHes)
    and flushes at the end. Same failure rule as `enrichment_enqueue`: if the publish
    fails, or its outcome is uncertain, the events stay pending and reconciliation re-sends
    them (stages are idempotent: a duplicate costs work, never data)."""
    if not event_ids:
        return
    outstanding.chain_sending(*event_ids)
    try:
        with (
            current_app.producer_or_acquire() as producer,
            producer.batch(max_size=PUBLISH_BATCH_COMMANDS),
        ):
            for part in message_parts(event_ids):
                enrichment_signature(part).apply_async(producer=producer)
    except Exception:
        # Some messages may have gone out: forgetting them all errs towards a re-send.
        outstanding.chain_send_failed(*event_ids)
        logger.warning("enqueue failed events=%d; reconciliation will retry", len(event_ids))


# Redis commands buffered before a flush: above any batch's message count, so one batch is
# one round trip.
PUBLISH_BATCH_COMMANDS = 1024
