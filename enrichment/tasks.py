"""Celery tasks: thin, explicitly named wrappers over `pipeline`. They take ids only.

Task names are the wire format of queued messages: never rename one. The chain of an event
is built from these names in `enrichment.workflows` (which imports no task).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from enrichment import pipeline

logger = logging.getLogger("claiv.enrichment")


class StageTask(Task):
    """Retries transient failures with backoff; when retries run out the event is marked
    failed with the error class (never its content)."""

    autoretry_for = (Exception,)
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 4

    def on_failure(self, exc: BaseException, task_id: str, args: tuple[Any, ...],
                   kwargs: dict[str, Any], einfo: Any) -> None:
        if args:
            pipeline.event_mark_failed(event_id=str(args[0]),
                                       error=f"{self.name}: {type(exc).__name__}")


# Broker priority of each stage's messages (Redis serves 0 first): an event already in the
# pipeline finishes before a new one starts, so lag is one queue wait plus five stages,
# not five queue waits. Batches still form: pending extracts are taken on together and
# then move through the later stages together.
STAGE_PRIORITY = {"extract": 8, "map": 6, "gate": 4, "embed": 2, "tier": 0}


def _stage_run(task: Task, event_id: str, stage: str) -> str:
    # The first attempt batches; a retry runs alone (see pipeline.stage_run).
    pipeline.stage_run(event_id, stage, batch=task.request.retries == 0)
    return event_id


@shared_task(name="enrichment.extract", base=StageTask, bind=True, acks_late=True,
             priority=STAGE_PRIORITY["extract"])
def extract(self: Task, event_id: str) -> str:
    """Extract candidates (and time notes) from the event's content."""
    return _stage_run(self, event_id, "extract")


@shared_task(name="enrichment.map", base=StageTask, bind=True, acks_late=True,
             priority=STAGE_PRIORITY["map"])
def map_(self: Task, event_id: str) -> str:
    """Name the candidates' predicates and preview their resolution."""
    return _stage_run(self, event_id, "map")


@shared_task(name="enrichment.gate", base=StageTask, bind=True, acks_late=True,
             priority=STAGE_PRIORITY["gate"])
def gate(self: Task, event_id: str) -> str:
    """Admit the useful candidates as facts."""
    return _stage_run(self, event_id, "gate")


@shared_task(name="enrichment.embed", base=StageTask, bind=True, acks_late=True,
             priority=STAGE_PRIORITY["embed"])
def embed(self: Task, event_id: str) -> str:
    """Embed the event, its facts and its episodes."""
    return _stage_run(self, event_id, "embed")


@shared_task(name="enrichment.tier", base=StageTask, bind=True, acks_late=True,
             priority=STAGE_PRIORITY["tier"])
def tier(self: Task, event_id: str) -> str:
    """Tier the facts the event touched; the event is then enriched."""
    return _stage_run(self, event_id, "tier")


@shared_task(name="enrichment.reconcile", autoretry_for=(OperationalError,), max_retries=2)
def reconcile() -> int:
    """Re-enqueue events stuck in pending/processing past the grace period."""
    from enrichment.workflows import enrichment_enqueue

    grace = timezone.timedelta(seconds=settings.ENRICH_RECONCILE_GRACE_SECONDS)
    count = 0
    for event_id in pipeline.events_stuck(grace=grace):
        if pipeline.event_claim_retry(event_id=event_id, max_attempts=settings.ENRICH_MAX_ATTEMPTS):
            enrichment_enqueue(event_id)
            count += 1
    if count:
        logger.info("reconcile re-enqueued=%d", count)
    return count


@shared_task(name="enrichment.retier")
def retier() -> int:
    """Recompute tiers as facts age or get recalled."""
    return pipeline.facts_retier()


@shared_task(name="enrichment.episodes_refresh")
def episodes_refresh() -> int:
    """Embed episode summaries whose vector was left stale while a backlog drained."""
    return pipeline.episodes_refresh()
