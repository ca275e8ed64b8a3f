"""How often the pipeline rewrites an event row. Every UPDATE of an event adds a version to
each of its indexes (the vector's HNSW graph, the tsvector's GIN, six btrees) and fires the
keyword triggers, so stages without a slow part share their predecessor's transaction and
the event's own vector is written with the stage marker."""

from __future__ import annotations

from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext

from enrichment import tasks
from memory.models import Event, Fact
from tenants.models import Tenant
from tests.factories import ingest


def _event_updates(captured: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].lstrip().upper().startswith(("UPDATE MEMORY_EVENT ", 'UPDATE "MEMORY_EVENT"'))
    ]


def test_a_message_rewrites_its_events_twice_and_writes_every_stage(
    tenant: Tenant, transactional_db: None
) -> None:
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        events = [
            ingest(tenant, f"I live in Town{n}. I met Anna yesterday.", minutes=n) for n in range(4)
        ]
    ids = [str(e.pk) for e in events]
    with CaptureQueriesContext(connection) as captured:
        tasks.events.apply(args=[ids])
    # Extract + Map + Gate in one transaction, Embed + Tier in another: two markers.
    assert len(_event_updates(captured)) == 2
    for event in Event.objects.filter(pk__in=ids):
        assert (event.status, event.stage) == ("enriched", "tier")
        assert event.embedding is not None  # written with the Tier marker
        assert event.time_notes  # Extract's field, written with the Gate marker
        assert event.candidate_count >= 1
        assert event.enriched_at is not None
    facts = Fact.objects.filter(source_event_id__in=ids)
    assert facts.count() >= 4
    assert not facts.filter(embedding__isnull=True).exists()


def test_a_stage_asked_for_alone_still_commits_at_that_stage(
    tenant: Tenant, transactional_db: None
) -> None:
    from enrichment import pipeline

    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        event = ingest(tenant, "I live in Oslo.")
    pipeline.stage_run(str(event.pk), "map")
    event.refresh_from_db()
    assert (event.status, event.stage) == ("processing", "map")
    assert not Fact.objects.filter(source_event=event).exists()
    pipeline.stage_run(str(event.pk), "embed")
    event.refresh_from_db()
    assert (event.status, event.stage) == ("processing", "embed")
    assert event.embedding is not None
