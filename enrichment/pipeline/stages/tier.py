"""Tier: hot, warm or cold for the facts an event touched; `facts_retier` as facts age."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from enrichment.pipeline.contract import Stage, nothing
from enrichment.pipeline.rows import rows_write
from memory.models import Event, Fact, FactStatus, Tier
from memory.versioning import users_memory_changed

# Weights and cut-offs of `tier_for`: importance dominates (the gate's utility, 0.45-0.96
# for admitted facts), recency decays over COLD_AFTER, ten recalls make a fact hot.
HOT_IMPORTANCE = 0.7
COLD_AFTER = timedelta(days=90)


def tier_for(*, importance: float, last_seen: datetime, access_count: int, now: datetime) -> str:
    """hot: important, or recalled often; cold: unimportant and not seen for 90 days."""
    recency = math.exp(-max((now - last_seen).total_seconds(), 0) / COLD_AFTER.total_seconds())
    heat = 0.6 * importance + 0.25 * recency + 0.15 * min(access_count / 10, 1.0)
    if heat >= HOT_IMPORTANCE or access_count >= 10:
        return Tier.HOT
    if now - last_seen > COLD_AFTER and importance < 0.5 and access_count == 0:
        return Tier.COLD
    return Tier.WARM


def _fact_tier(fact: Fact, now: datetime) -> str:
    last_seen = max(fact.event_time, fact.last_accessed_at or fact.event_time)
    return tier_for(
        importance=fact.importance, last_seen=last_seen, access_count=fact.access_count, now=now
    )


_TIER_FIELDS = ("id", "tier", "importance", "event_time", "last_accessed_at", "access_count")


def tier_apply(events: list[Event], _: None) -> None:
    with_facts = [e.pk for e in events if e.candidate_count > e.gated_count]
    if not with_facts:
        return  # no fact came from these events
    now = timezone.now()
    changed = []
    for fact in (
        Fact.objects.filter(sources__event_id__in=with_facts)
        .distinct()
        .only(*_TIER_FIELDS, "tenant_id", "user_id")
    ):
        tier = _fact_tier(fact, now)
        if tier != fact.tier:
            fact.tier = tier
            changed.append(fact)
    if changed:
        rows_write(Fact, changed, ["tier"])
        users_memory_changed(users={(str(f.tenant_id), f.user_id) for f in changed})


def facts_retier(*, batch: int = 5000, now: datetime | None = None) -> int:
    """Re-tier current facts whose tier no longer matches their age and use; bumps the
    memory version of every user whose facts moved (tiers order recall results)."""
    moment = now or timezone.now()
    changed = 0
    pending: list[Fact] = []

    def flush() -> None:
        with transaction.atomic():
            Fact.objects.bulk_update(pending, ["tier"])
            users_memory_changed(users={(str(f.tenant_id), f.user_id) for f in pending})

    facts = Fact.objects.filter(status=FactStatus.CURRENT).only(
        *_TIER_FIELDS, "tenant_id", "user_id"
    )
    for fact in facts.iterator(chunk_size=batch):
        tier = _fact_tier(fact, moment)
        if tier != fact.tier:
            fact.tier = tier
            pending.append(fact)
        if len(pending) >= batch:
            flush()
            changed, pending = changed + len(pending), []
    if pending:
        flush()
        changed += len(pending)
    return changed


STAGE = Stage(nothing, tier_apply)
