"""Time expressions resolved against the event time are stored on the fact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enrichment.services import event_ingest_and_enqueue as event_ingest
from memory.models import Fact
from tenants.models import Tenant
from tests.factories import enrich

pytestmark = pytest.mark.django_db


def test_yesterday_is_the_day_before_the_event(tenant: Tenant) -> None:
    event = enrich(
        event_ingest(
            tenant=tenant,
            user_id="u1",
            type="message",
            role="user",
            conversation_id="c1",
            content="I went to the dentist yesterday.",
            event_time=datetime(2024, 5, 10, 15, 30, tzinfo=UTC),
        ).event
    )
    fact = Fact.objects.get(source_event=event)
    assert (fact.predicate, fact.object_text) == ("did_activity", "went to the dentist")
    assert fact.temporal == [
        {
            "ts_start": "2024-05-09T00:00:00+00:00",
            "ts_end": "2024-05-10T00:00:00+00:00",
            "raw_expression": "yesterday",
            "granularity": "day",
        }
    ]
    assert (fact.event_time, fact.valid_from) == (event.event_time, event.event_time)


def test_a_month_and_a_relative_week_on_other_facts(tenant: Tenant) -> None:
    event = enrich(
        event_ingest(
            tenant=tenant,
            user_id="u1",
            type="message",
            role="user",
            conversation_id="c1",
            content="I started a new job at Google in March 2023. "
            "I have a dentist appointment next Tuesday.",
            event_time=datetime(2024, 5, 10, 15, 30, tzinfo=UTC),
        ).event
    )
    temporal = {f.predicate: f.temporal for f in Fact.objects.filter(source_event=event)}
    assert temporal == {
        "works_at": [
            {
                "ts_start": "2023-03-01T00:00:00+00:00",
                "ts_end": "2023-04-01T00:00:00+00:00",
                "raw_expression": "in March 2023",
                "granularity": "month",
            }
        ],
        "appointment": [
            {
                "ts_start": "2024-05-14T00:00:00+00:00",
                "ts_end": "2024-05-15T00:00:00+00:00",
                "raw_expression": "next Tuesday",
                "granularity": "day",
            }
        ],
    }


def test_no_time_expression_no_temporal_match(tenant: Tenant) -> None:
    event = enrich(
        event_ingest(
            tenant=tenant,
            user_id="u1",
            type="message",
            role="user",
            content="I live in Lisbon.",
            conversation_id="c1",
        ).event
    )
    assert Fact.objects.get(source_event=event).temporal == []
