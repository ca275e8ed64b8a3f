"""Tiers: hot / warm / cold from importance, recency and recall count; the Tier stage sets
them on an event's facts, the periodic retier moves them as facts age or get recalled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from enrichment import tasks
from enrichment.pipeline import tier_for
from enrichment.services import event_ingest_and_enqueue as event_ingest
from memory.models import Fact
from memory.versioning import user_memory_version
from tenants.models import Tenant
from tests.factories import enrich, ingest_enriched

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("importance", "days", "accesses", "tier"),
    [
        (0.9, 0, 0, "hot"),  # 0.6 x 0.9 + 0.25 x 1 = 0.79
        (0.75, 0, 0, "hot"),  # 0.70: the threshold
        (0.74, 0, 0, "warm"),  # 0.694
        (0.6, 100, 0, "warm"),  # old, but important enough not to go cold
        (0.3, 89, 0, "warm"),  # unimportant, not yet 90 days unseen
        (0.3, 100, 0, "cold"),
        (0.3, 100, 1, "warm"),  # recalled once: not cold
        (0.3, 100, 10, "hot"),  # recalled ten times
    ],
)
def test_tier_for(importance: float, days: int, accesses: int, tier: str) -> None:
    assert (
        tier_for(
            importance=importance,
            last_seen=NOW - timedelta(days=days),
            access_count=accesses,
            now=NOW,
        )
        == tier
    )


@pytest.mark.django_db
def test_the_tier_stage_tiers_the_events_facts(tenant: Tenant) -> None:
    event = enrich(
        event_ingest(
            tenant=tenant,
            user_id="u1",
            type="message",
            role="user",
            conversation_id="c1",
            content="I live in Lisbon. I like sushi.",
            event_time=timezone.now(),
        ).event
    )
    tiers = {f.object_text: (f.importance, f.tier) for f in Fact.objects.filter(source_event=event)}
    assert tiers == {"Lisbon": (0.79, "hot"), "sushi": (0.655, "warm")}


@pytest.mark.django_db
def test_retier_follows_age_and_recalls(tenant: Tenant, other_tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")  # 1 May 2024: long unseen
    ingest_enriched(other_tenant, "I live in Oslo.")
    fact = Fact.objects.get(tenant=tenant)
    assert (fact.importance, fact.tier) == (0.79, "warm")
    version = user_memory_version(tenant_id=tenant.pk, user_id="u1")

    Fact.objects.filter(pk=fact.pk).update(importance=0.3)
    assert tasks.retier() == 1
    fact.refresh_from_db()
    assert fact.tier == "cold"
    assert user_memory_version(tenant_id=tenant.pk, user_id="u1") > version  # bumped
    assert tasks.retier() == 0  # nothing moved since

    Fact.objects.filter(pk=fact.pk).update(access_count=12, last_accessed_at=timezone.now())
    assert tasks.retier() == 1
    fact.refresh_from_db()
    assert fact.tier == "hot"
    assert Fact.objects.get(tenant=other_tenant).tier == "warm"


@pytest.mark.django_db
def test_retier_leaves_history_alone(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    ingest_enriched(tenant, "I moved to Porto.", minutes=10)
    old = Fact.objects.get(tenant=tenant, object_text="Lisbon")
    Fact.objects.filter(pk=old.pk).update(importance=0.3)
    assert old.status == "superseded"
    assert tasks.retier() == 0
    assert Fact.objects.get(pk=old.pk).tier == "warm"
