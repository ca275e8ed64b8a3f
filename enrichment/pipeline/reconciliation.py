"""Reconciliation: find events stuck in the pipeline (or left by a dependency outage),
count their attempts, fail them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from claiv.metrics.registry import enrichment_failed_record
from enrichment.pipeline.contract import STAGES

# Imported under the names the functions below were written with, so that they read as
# they did in the former single-module pipeline (edits to them merge as they are).
from enrichment.pipeline.rows import event_finished as _finished
from enrichment.pipeline.rows import event_get as _event_get
from enrichment.pipeline.rows import stages_done as _stages_done
from memory.models import EnrichmentStatus, Event

# `error` of an event a dependency outage left re-sendable; reconciliation re-sends it.
TRANSIENT_PREFIX = "transient: "
# Failures recorded before transient errors were told apart ("enrichment.embed:
# OperationalError"): a broker or database outage, so they are re-sent too.
_LEGACY_TRANSIENT_SUFFIXES = (
    ": OperationalError",
    ": InterfaceError",
    ": ConnectionError",
    ": TimeoutError",
)


def events_stuck(*, grace: timedelta, now: datetime | None = None) -> list[str]:
    """Ids of events with no progress for `grace`: pending/processing, or failed because a
    dependency was down (oldest first, at most 1000)."""
    moment = now or timezone.now()
    transient = Q(error__startswith=TRANSIENT_PREFIX)
    for suffix in _LEGACY_TRANSIENT_SUFFIXES:
        transient |= Q(error__endswith=suffix)
    retryable = Q(status__in=[EnrichmentStatus.PENDING, EnrichmentStatus.PROCESSING]) | (
        Q(status=EnrichmentStatus.FAILED) & transient
    )
    return [
        str(i)
        for i in Event.objects.filter(
            retryable,
            forgotten_at__isnull=True,
            state_changed_at__lt=moment - grace,
        )
        .order_by("state_changed_at")
        .values_list("id", flat=True)[:1000]
    ]


def event_claim_retry(*, event_id: str, max_attempts: int) -> bool:
    """Count an attempt and touch the event so the next sweep leaves it alone for a grace
    period (an event failed for a transient reason goes back to pending/processing).
    Returns False (and marks it failed) once attempts are used up."""
    with transaction.atomic():
        event = _event_get(event_id, lock=True)
        if event is None or _finished(event):
            return False
        event.attempts += 1
        event.state_changed_at = timezone.now()
        if event.attempts > max_attempts:
            event.status = EnrichmentStatus.FAILED
            event.error = f"gave up after {max_attempts} attempts"
            event.save(update_fields=["attempts", "state_changed_at", "status", "error"])
            transaction.on_commit(lambda: enrichment_failed_record(stage="reconcile"))
            return False
        if event.status == EnrichmentStatus.FAILED:
            event.status = EnrichmentStatus.PROCESSING if event.stage else EnrichmentStatus.PENDING
        event.save(update_fields=["attempts", "state_changed_at", "status"])
        return True


def event_mark_failed(*, event_id: str, error: str) -> None:
    """A permanent failure (a bug, bad data): the event is failed and not re-sent."""
    Event.objects.filter(pk=event_id).exclude(status=EnrichmentStatus.ENRICHED).update(
        status=EnrichmentStatus.FAILED, error=error[:500], state_changed_at=timezone.now()
    )


def event_note_transient(*, event_id: str, error: str) -> None:
    """A stage gave up because a dependency was down: note the error class, keep the status
    (pending/processing), so reconciliation re-sends the event after the grace period."""
    Event.objects.filter(pk=event_id).exclude(
        status__in=[EnrichmentStatus.ENRICHED, EnrichmentStatus.SKIPPED, EnrichmentStatus.FAILED],
    ).update(error=(TRANSIENT_PREFIX + error)[:500], state_changed_at=timezone.now())


def event_stage_undone(event_id: str) -> str | None:
    """The next stage the event still needs (None when it is gone or finished): the stage a
    failure of a whole-pipeline run is recorded against."""
    event = _event_get(event_id)
    if event is None or _finished(event) or _stages_done(event) >= len(STAGES):
        return None
    return STAGES[_stages_done(event)]
