"""Celery tasks: thin, explicitly named wrappers over `pipeline`. They take ids only.

Task names are the wire format of queued messages: never rename one. The chain of an event
is built from these names in `enrichment.workflows` (which imports no task).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import redis
from celery import Task, shared_task
from celery.signals import task_received
from django.conf import settings
from django.db import DatabaseError
from django.db import InterfaceError as DjangoInterfaceError
from django.db import OperationalError as DjangoOperationalError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from claiv.metrics.registry import enrichment_failed_record, reconcile_resent_record
from enrichment import outstanding, pipeline

logger = logging.getLogger("claiv.enrichment")


# Errors of a dependency that is down or restarting (Postgres, the Redis broker, a
# socket): retried with backoff, and when retries run out the event is left re-sendable
# for reconciliation, never marked failed (API.md §7). Anything else is a bug or bad data:
# it would fail the same way again, so it fails at once.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    DjangoOperationalError,
    DjangoInterfaceError,
    psycopg.OperationalError,
    redis.ConnectionError,
    redis.TimeoutError,
    BrokerOperationalError,
    ConnectionError,
    TimeoutError,
)


def error_is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS)


class TransientRetryTask(Task):
    """Retries transient failures (`TRANSIENT_ERRORS`) with jittered backoff, four times;
    what is still failing after that is left to the caller's reconciliation."""

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 4


class StageTask(TransientRetryTask):
    """Retries transient failures with backoff. When they run out (or the next stage's
    message cannot be published) the event keeps its status and reconciliation re-sends
    it; a permanent error marks the event failed at once. Only the error class is
    recorded, never content."""

    def on_failure(
        self,
        exc: BaseException,
        task_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        einfo: Any,
    ) -> None:
        if not args:
            return
        error = f"{self.name}: {type(exc).__name__}"
        try:
            if error_is_transient(exc):
                pipeline.event_note_transient(event_id=str(args[0]), error=error)
            else:
                pipeline.event_mark_failed(event_id=str(args[0]), error=error)
                enrichment_failed_record(stage=self.name.rsplit(".", 1)[-1])
        except DatabaseError:
            # The database is down too: the event keeps its pending/processing status,
            # which reconciliation re-sends once it is back.
            logger.warning("failure not recorded event=%s error=%s", args[0], error)


# Broker priority of each stage's messages (Redis serves 0 first): an event already in the
# pipeline finishes before a new one starts, so lag is one queue wait plus five stages,
# not five queue waits. Batches still form: pending extracts are taken on together and
# then move through the later stages together.
STAGE_PRIORITY = {"extract": 8, "map": 6, "gate": 4, "embed": 2, "tier": 0}


def _stage_run(task: Task, event_id: str, stage: str) -> str:
    # The first attempt batches; a retry runs alone (see pipeline.stage_run).
    batch = task.request.retries == 0
    try:
        pipeline.stage_run(event_id, stage, batch=batch)
    except TRANSIENT_ERRORS:
        raise  # retried with backoff (autoretry_for)
    except Exception:
        if not batch:
            raise
        # A permanent error in a batch may be another event's: run this one alone, at
        # once; if it fails alone too, it is its own and the event fails.
        pipeline.stage_run(event_id, stage, batch=False)
    return event_id


@shared_task(
    name="enrichment.extract",
    base=StageTask,
    bind=True,
    acks_late=True,
    priority=STAGE_PRIORITY["extract"],
)
def extract(self: Task, event_id: str) -> str:
    """Extract candidates (and time notes) from the event's content."""
    return _stage_run(self, event_id, "extract")


@shared_task(
    name="enrichment.map", base=StageTask, bind=True, acks_late=True, priority=STAGE_PRIORITY["map"]
)
def map_(self: Task, event_id: str) -> str:
    """Name the candidates' predicates and preview their resolution."""
    return _stage_run(self, event_id, "map")


@shared_task(
    name="enrichment.gate",
    base=StageTask,
    bind=True,
    acks_late=True,
    priority=STAGE_PRIORITY["gate"],
)
def gate(self: Task, event_id: str) -> str:
    """Admit the useful candidates as facts."""
    return _stage_run(self, event_id, "gate")


@shared_task(
    name="enrichment.embed",
    base=StageTask,
    bind=True,
    acks_late=True,
    priority=STAGE_PRIORITY["embed"],
)
def embed(self: Task, event_id: str) -> str:
    """Embed the event, its facts and its episodes."""
    return _stage_run(self, event_id, "embed")


@shared_task(
    name="enrichment.tier",
    base=StageTask,
    bind=True,
    acks_late=True,
    priority=STAGE_PRIORITY["tier"],
)
def tier(self: Task, event_id: str) -> str:
    """Tier the facts the event touched; the event is then enriched."""
    return _stage_run(self, event_id, "tier")


class EventsTask(TransientRetryTask):
    """The whole pipeline for the events of one message (`events`). A permanent error is
    handled per event in the task itself; what reaches `on_failure` is a dependency still
    down after the retries (or an error outside any event's stages): every event of the
    message not yet finished keeps its status with the error class noted, and
    reconciliation re-sends it after the grace period (attempts stay bounded by
    ENRICH_MAX_ATTEMPTS)."""

    def on_failure(
        self,
        exc: BaseException,
        task_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        einfo: Any,
    ) -> None:
        if not args:
            return
        error = f"{self.name}: {type(exc).__name__}"
        for event_id in args[0]:
            try:
                pipeline.event_note_transient(event_id=str(event_id), error=error)
            except DatabaseError:
                logger.warning("failure not recorded event=%s error=%s", event_id, error)


def _event_failed(event_id: str, exc: BaseException) -> None:
    """A permanent error of the event's own (it failed alone): failed, not re-sent; the
    error names the stage as a stage task's would."""
    stage = (
        pipeline.stage_failed(exc) or pipeline.event_stage_undone(event_id) or pipeline.STAGES[-1]
    )
    pipeline.event_mark_failed(event_id=event_id, error=f"enrichment.{stage}: {type(exc).__name__}")
    enrichment_failed_record(stage=stage)
    logger.warning("enrichment failed event=%s stage=%s", event_id, stage)


@shared_task(
    name="enrichment.events",
    base=EventsTask,
    bind=True,
    acks_late=True,
    priority=STAGE_PRIORITY["extract"],
)
def events(self: Task, event_ids: list[str]) -> None:
    """Run every undone stage of each event, in one task: what a chain of five stage tasks
    does per event, with one message for a batch's events (or a part of it) and no broker
    round trip between stages. Each stage runs for the message's events together (one model
    call, set-based writes); a message of one event takes along the tenant's backlog as a
    stage task does. Same rules as the stage tasks: idempotent (a redelivery or a
    duplicate does only what is still undone), transient errors retried with backoff for
    the whole message, a retry runs each event alone, and a permanent error in a batch is
    retried alone so only the event it belongs to fails."""
    last = pipeline.STAGES[-1]
    batch = self.request.retries == 0
    among = list(event_ids) if len(event_ids) > 1 else None
    for event_id in event_ids:
        try:
            pipeline.stage_run(event_id, last, batch=batch, among=among)
            continue
        except TRANSIENT_ERRORS:
            raise  # retried with backoff (autoretry_for)
        except Exception as exc:
            if not batch:
                _event_failed(str(event_id), exc)
                continue
        # A permanent error in a batch may be another event's: this one runs alone, and so
        # does the rest of the message (the event at fault then fails on its own).
        batch = False
        try:
            pipeline.stage_run(event_id, last, batch=False)
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:
            _event_failed(str(event_id), exc)


task_received.connect(outstanding.on_task_received, dispatch_uid="enrichment.outstanding")


@shared_task(name="enrichment.reconcile", autoretry_for=(DjangoOperationalError,), max_retries=2)
def reconcile() -> int:
    """Re-send the chains of events not moving for the grace period: pending, processing,
    or failed for a transient reason. Events whose message still waits in the broker queue
    (or was just delivered) are left alone (see `enrichment.outstanding`)."""
    from enrichment.workflows import enrichment_enqueue

    grace_seconds = settings.ENRICH_RECONCILE_GRACE_SECONDS
    stuck = pipeline.events_stuck(grace=timezone.timedelta(seconds=grace_seconds))
    waiting = outstanding.events_waiting(stuck, grace_seconds=grace_seconds)
    count = 0
    for event_id in stuck:
        if event_id in waiting:
            continue
        if pipeline.event_claim_retry(event_id=event_id, max_attempts=settings.ENRICH_MAX_ATTEMPTS):
            enrichment_enqueue(event_id)
            count += 1
    if count:
        reconcile_resent_record(count=count)
    if count or waiting:
        logger.info("reconcile re-enqueued=%d still-queued=%d", count, len(waiting))
    return count


@shared_task(name="enrichment.retier")
def retier() -> int:
    """Recompute tiers as facts age or get recalled."""
    return pipeline.facts_retier()


@shared_task(name="enrichment.episodes_refresh")
def episodes_refresh() -> int:
    """Embed episode summaries whose vector was left stale while a backlog drained."""
    return pipeline.episodes_refresh()


# --- Documents (enrichment.documents) --------------------------------------------------------


class DistilTask(TransientRetryTask):
    """Transient failures are retried, then left to `documents_reconcile`; anything else
    marks the document `error` with the error class (never content)."""

    def on_failure(
        self,
        exc: BaseException,
        task_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        einfo: Any,
    ) -> None:
        if len(args) < 2 or error_is_transient(exc):
            return
        from enrichment.documents import document_mark_error

        try:
            document_mark_error(str(args[0]), int(args[1]), f"{self.name}: {type(exc).__name__}")
        except DatabaseError:
            logger.warning("failure not recorded document=%s", args[0])


@shared_task(name="enrichment.document_distil", base=DistilTask, bind=True, acks_late=True)
def document_distil(self: Task, document_pk: str, generation: int) -> str:
    """Summaries per section and per document for one generation of a document."""
    from enrichment.documents import document_distil as distil

    return distil(document_pk, generation)


@shared_task(name="enrichment.documents_reconcile", autoretry_for=(DjangoOperationalError,))
def documents_reconcile() -> int:
    """Beat, every minute: re-send the distil stage of documents stuck in `processing`."""
    from enrichment.documents import documents_reconcile as reconcile_documents

    return reconcile_documents()
