"""Console-facing memory writes: resetting one event for re-enrichment.

Forget from the console uses `memory.forget.memory_forget` as is; reads for the console are
in `memory.console_selectors`.
"""

from __future__ import annotations

import logging
import uuid

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from claiv.errors import InvalidRequest, NotFound
from memory.models import Candidate, EnrichmentStatus, Event, Fact, FactSource, FactStatus
from memory.versioning import user_memory_changed
from tenants.models import Tenant

logger = logging.getLogger("claiv.console")


def event_enrichment_reset(*, tenant: Tenant, event_id: str) -> Event:
    """Undo what enrichment derived from one event, so that the pipeline can run again.

    In one transaction, under the event's row lock (which every stage takes too):
    - candidates of the event are deleted;
    - facts the event created are deleted, unless another event also stated them: such a
      fact is handed to its earliest other source (one mention fewer), so the other
      events' knowledge is kept, and re-running this event reinforces it again;
    - facts the event only reinforced lose that source (one mention fewer);
    - facts that a deleted fact had superseded become current again, so the re-run
      decides afresh whether to supersede them;
    - the event's state goes back to pending (stage, attempts, error, counters cleared)
      and the user's memory version is bumped (recall caches drop).
    Forgotten events cannot be re-enriched. The pipeline is enqueued, after commit, by
    `enrichment.services.event_reenrich` (memory does not import enrichment).
    """
    try:
        parsed = uuid.UUID(str(event_id))
    except ValueError as exc:
        raise NotFound("No such event.") from exc
    with transaction.atomic():
        event = (
            Event.objects.select_for_update()
            .defer("embedding")
            .filter(tenant=tenant, id=parsed)
            .first()
        )
        if event is None:
            raise NotFound("No such event.")
        if event.forgotten_at is not None:
            raise InvalidRequest("This event was forgotten; its memory cannot be rebuilt.")

        own = list(
            Fact.objects.select_for_update()
            .filter(tenant=tenant, source_event=event)
            .defer("embedding")
        )
        deleted: list[object] = []
        for fact in own:
            other = (
                FactSource.objects.filter(fact=fact)
                .exclude(event=event)
                .select_related("event")
                .order_by("event__event_time", "id")
                .first()
            )
            if other is None:
                deleted.append(fact.pk)
                continue
            start = max(0, other.event.content.find(other.source_text))
            Fact.objects.filter(pk=fact.pk).update(
                source_event=other.event,
                source_text=other.source_text,
                source_start=start,
                source_end=start + len(other.source_text),
                source_role=other.event.role,
                mention_count=max(1, fact.mention_count - 1),
                updated_at=timezone.now(),
            )
        reinforced = (
            FactSource.objects.filter(event=event)
            .exclude(fact_id__in=[f.pk for f in own])
            .values_list("fact_id", flat=True)
        )
        Fact.objects.filter(tenant=tenant, id__in=list(reinforced), mention_count__gt=1).update(
            mention_count=F("mention_count") - 1
        )
        FactSource.objects.filter(event=event).delete()
        Fact.objects.filter(tenant=tenant, superseded_by_id__in=deleted).update(
            status=FactStatus.CURRENT, valid_to=None, superseded_by=None
        )
        Fact.objects.filter(tenant=tenant, id__in=deleted).delete()
        Candidate.objects.filter(event=event).delete()

        event.status = EnrichmentStatus.PENDING
        event.stage = ""
        event.attempts = 0
        event.error = None
        event.candidate_count = 0
        event.gated_count = 0
        event.embedding = None
        event.state_changed_at = timezone.now()
        event.save(
            update_fields=[
                "status",
                "stage",
                "attempts",
                "error",
                "candidate_count",
                "gated_count",
                "embedding",
                "state_changed_at",
            ]
        )
        user_memory_changed(tenant_id=tenant.pk, user_id=event.user_id)
        event_id_text = str(event.pk)
    logger.info(
        "re-enrich event=%s facts_deleted=%d facts_kept=%d",
        event_id_text,
        len(deleted),
        len(own) - len(deleted),
    )
    return event
