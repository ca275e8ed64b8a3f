"""The whole-pipeline message (`enrichment.events`): one task runs every stage of a list of
events, batched among those events only, with the stage tasks' failure rules per event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from enrichment import outstanding, pipeline, tasks
from enrichment.pipeline import stages
from memory.models import Event
from tenants.models import Tenant
from tests.factories import ingest


def _events(tenant: Tenant, count: int, *, user_id: str = "u1") -> list[Event]:
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        return [
            ingest(tenant, f"I live in Town{n}.", user_id=user_id, minutes=n) for n in range(count)
        ]


def test_one_message_enriches_all_its_events_and_takes_along_no_other(
    tenant: Tenant, transactional_db: None
) -> None:
    sent = _events(tenant, 4)
    other = _events(tenant, 1, user_id="u2")[0]  # waits for extract, not in the message
    groups: list[list[str]] = []
    real_extract = stages.STAGE_FUNCTIONS["extract"]

    def recording(events: list[Event]) -> Any:
        groups.append([str(e.pk) for e in events])
        return real_extract[0](events)

    ids = [str(e.pk) for e in sent]
    with mock.patch.dict(stages.STAGE_FUNCTIONS, {"extract": (recording, real_extract[1])}):
        tasks.events.apply(args=[ids])
    assert [sorted(g) for g in groups] == [sorted(ids)]  # one prepare for the four
    assert {e.status for e in Event.objects.filter(pk__in=ids)} == {"enriched"}
    assert Event.objects.get(pk=other.pk).status == "pending"


def test_an_event_that_breaks_a_stage_fails_alone_and_the_rest_are_enriched(
    tenant: Tenant, transactional_db: None
) -> None:
    good = _events(tenant, 3)
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        bad = ingest(tenant, "I work at Equinor.", user_id="bad", minutes=1)
    real_gate = stages.STAGE_FUNCTIONS["gate"]

    def breaks_on_bad(events: list[Event], payload: Any) -> Any:
        if any(e.pk == bad.pk for e in events):
            raise ValueError("boom")
        return real_gate[1](events, payload)

    ids = [str(good[0].pk), str(bad.pk), *(str(e.pk) for e in good[1:])]
    with (
        mock.patch.dict(stages.STAGE_FUNCTIONS, {"gate": (real_gate[0], breaks_on_bad)}),
        mock.patch("enrichment.tasks.enrichment_failed_record") as failed,
    ):
        tasks.events.apply(args=[ids])
    assert {e.status for e in Event.objects.filter(pk__in=[e.pk for e in good])} == {"enriched"}
    bad.refresh_from_db()
    assert (bad.status, bad.error) == ("failed", "enrichment.gate: ValueError")
    failed.assert_called_once_with(stage="gate")


def test_transient_errors_are_retried_then_every_event_is_left_to_reconciliation(
    tenant: Tenant, transactional_db: None
) -> None:
    sent = _events(tenant, 2)
    ids = [str(e.pk) for e in sent]
    with mock.patch(
        "enrichment.pipeline.stage_run", side_effect=redis.ConnectionError("down")
    ) as stage_run:
        tasks.events.apply(args=[ids])
    assert stage_run.call_count == 1 + tasks.EventsTask.max_retries
    # The first attempt batches among the message's events; retries run each alone.
    assert stage_run.call_args_list[0] == mock.call(ids[0], "tier", batch=True, among=ids)
    assert stage_run.call_args_list[1] == mock.call(ids[0], "tier", batch=False, among=ids)
    for event in Event.objects.filter(pk__in=ids):
        assert event.status == "pending"
        assert event.error == "transient: enrichment.events: ConnectionError"
    stuck = pipeline.events_stuck(grace=timedelta(0), now=timezone.now() + timedelta(seconds=1))
    assert set(ids) <= set(stuck)


def test_a_single_event_message_batches_with_the_tenant_backlog(
    tenant: Tenant, transactional_db: None
) -> None:
    with mock.patch("enrichment.pipeline.stage_run") as stage_run:
        tasks.events.apply(args=[["e1"]])
    assert stage_run.call_args_list == [mock.call("e1", "tier", batch=True, among=None)]


@pytest.mark.usefixtures("redis_service")
def test_receiving_a_message_records_all_its_events_as_delivered() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    ids = ["delivered-a", "delivered-b"]
    outstanding.chain_sending(*ids)
    request = mock.Mock(args=[ids])
    request.name = "enrichment.events"
    outstanding.on_task_received(request)
    assert [client.zscore(outstanding.QUEUED_KEY, i) for i in ids] == [None, None]
    assert all(client.zscore(outstanding.DELIVERED_KEY, i) is not None for i in ids)
    client.zrem(outstanding.DELIVERED_KEY, *ids)
