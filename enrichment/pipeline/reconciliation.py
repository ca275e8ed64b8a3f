"""Reconciliation: find events stuck in the pipeline, count their attempts, fail them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

# Imported under the names the functions below were written with, so that they read as
# they did in the former single-module pipeline (edits to them merge as they are).
from enrichment.pipeline.rows import event_finished as _finished
from enrichment.pipeline.rows import event_get as _event_get
from memory.models import EnrichmentStatus, Event


def events_stuck(*, grace: timedelta, now: datetime | None = None) -> list[str]:
    """Ids of events pending/processing with no progress for `grace`."""
    moment = now or timezone.now()
    return [str(i) for i in Event.objects.filter(
        status__in=[EnrichmentStatus.PENDING, EnrichmentStatus.PROCESSING],
        forgotten_at__isnull=True, state_changed_at__lt=moment - grace,
    ).order_by("state_changed_at").values_list("id", flat=True)[:1000]]


def event_claim_retry(*, event_id: str, max_attempts: int) -> bool:
    """Count an attempt and touch the event so the next sweep leaves it alone for a grace
    period. Returns False (and marks it failed) once attempts are used up."""
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
            return False
        event.save(update_fields=["attempts", "state_changed_at"])
        return True


def event_mark_failed(*, event_id: str, error: str) -> None:
    Event.objects.filter(pk=event_id).exclude(status=EnrichmentStatus.ENRICHED).update(
        status=EnrichmentStatus.FAILED, error=error[:500], state_changed_at=timezone.now())

