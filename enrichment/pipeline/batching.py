"""Batching: which other events of the tenant a stage run takes on under a backlog."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.db.models import QuerySet

from enrichment.pipeline.contract import STAGES
from enrichment.pipeline.rows import EVENT_DEFERRED
from memory.models import EnrichmentStatus, Event


def events_waiting(
    event: Event,
    stage: str,
    *,
    limit: int,
    narrow: Callable[[QuerySet[Event]], QuerySet[Event]] | None,
    among: Sequence[str] | None = None,
) -> list[Event]:
    """Up to `limit` other events of the tenant waiting for `stage`, oldest first (index
    event_stage_waiting), narrowed by the stage's `narrow`; only those of `among` when
    given (the events of one message: two workers then never prepare the same event)."""
    if limit <= 0:
        return []
    index = STAGES.index(stage)
    rows = (
        Event.objects.defer(*EVENT_DEFERRED)
        .filter(
            tenant_id=event.tenant_id,
            stage=STAGES[index - 1] if index else "",
            status=(EnrichmentStatus.PROCESSING if index else EnrichmentStatus.PENDING),
            forgotten_at__isnull=True,
        )
        .exclude(pk=event.pk)
        .order_by("created_at")
    )
    if among is not None:
        rows = rows.filter(pk__in=list(among))
    if narrow is not None:
        rows = narrow(rows)
    return list(rows[:limit])


def events_lock_waiting(others: list[Event], stage: str) -> list[Event]:
    """The given events still waiting for `stage` whose row lock is free right now (SKIP
    LOCKED: never wait on, or deadlock with, a worker busy with one of them), locked."""
    if not others:
        return []
    index = STAGES.index(stage)
    taken = set(
        Event.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            pk__in=[e.pk for e in others],
            stage=STAGES[index - 1] if index else "",
            status=(EnrichmentStatus.PROCESSING if index else EnrichmentStatus.PENDING),
            forgotten_at__isnull=True,
        )
        .values_list("id", flat=True)
    )
    return [e for e in others if e.pk in taken]
