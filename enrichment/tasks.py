"""Celery tasks: thin, explicitly named wrappers over `pipeline`. They take ids only."""

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


def _stage(name: str) -> Any:
    @shared_task(name=f"enrichment.{name}", base=StageTask, bind=True, acks_late=True,
                 priority=STAGE_PRIORITY[name])
    def run(self: Task, event_id: str) -> str:
        pipeline.stage_run(event_id, name, batch=self.request.retries == 0)
        return event_id

    return run


extract = _stage("extract")
map_ = _stage("map")
gate = _stage("gate")
embed = _stage("embed")
tier = _stage("tier")


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
