"""The pipeline on a real Celery worker: ingest → enrich → recall, and crash recovery."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from enrichment import pipeline, tasks
from enrichment.pipeline import stages
from enrichment.workflows import enrichment_enqueue
from memory.models import Candidate, Episode, Event, Fact, FactSource
from tenants.models import Tenant
from tests.conftest import Api, wait_for
from tests.factories import BASE_TIME, ingest, ingest_enriched

pytestmark = pytest.mark.worker


def _status(api: Api, event_id: str) -> str:
    return api.get(f"/v1/events/{event_id}").json()["status"]


def test_ingest_is_enriched_by_the_worker_and_recalled(worker: Any, api: Api) -> None:
    event_id = api.post(
        "/v1/ingest",
        {
            "user_id": "w1",
            "type": "message",
            "role": "user",
            "thread_id": "t",
            "content": "I moved to Lisbon last year and I work at Acme Robotics.",
        },
    ).json()["event_id"]
    wait_for(lambda: _status(api, event_id) == "enriched")
    detail = api.get(f"/v1/events/{event_id}").json()
    assert detail["stage"] == "tier" and detail["error"] is None
    assert len(detail["fact_ids"]) >= 1
    body = api.post(
        "/v1/recall", {"user_id": "w1", "task": "Where does the user live?", "token_budget": 500}
    ).json()
    assert "Lisbon" in body["system_context"]
    assert event_id in body["citations"]


def _snapshot(tenant: Tenant, user_id: str) -> list[tuple[str, str, str, str]]:
    return sorted(
        (f.subject, f.predicate, f.object_text, f.status)
        for f in Fact.objects.filter(tenant=tenant, user_id=user_id)
    )


TEXT = "I live in Oslo. I work at Equinor. My sister Anna lives in Rome."


def test_killed_mid_chain_is_recovered_by_reconciliation_exactly_once(
    worker: Any, tenant: Tenant
) -> None:
    reference = ingest_enriched(tenant, TEXT, user_id="ref")
    expected = _snapshot(tenant, "ref")
    assert expected

    # No broker message reaches the worker: as if the worker died and the message was lost.
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        event = ingest(tenant, TEXT, user_id="crash")
    pipeline.stage_run(str(event.id), "map")  # extract + map committed before the "crash"
    # The gate stage dies mid-way: its transaction rolls back, nothing of it survives.
    real_gate = stages.STAGE_FUNCTIONS["gate"]

    def dying_apply(ev: Event, payload: Any) -> None:
        real_gate[1](ev, payload)
        raise SystemExit("worker killed")

    with mock.patch.dict(stages.STAGE_FUNCTIONS, {"gate": (real_gate[0], dying_apply)}):
        with pytest.raises(SystemExit):
            pipeline.stage_run(str(event.id), "gate")
    event.refresh_from_db()
    assert (event.status, event.stage) == ("processing", "map")
    assert Fact.objects.filter(tenant=tenant, user_id="crash").count() == 0

    # Before the grace period nothing is re-sent; after it, reconciliation re-enqueues.
    assert tasks.reconcile() == 0
    Event.objects.filter(pk=event.pk).update(state_changed_at=timezone.now() - timedelta(hours=1))
    assert tasks.reconcile() == 1
    wait_for(lambda: Event.objects.get(pk=event.pk).status == "enriched")
    assert _snapshot(tenant, "crash") == expected

    # A redelivered duplicate chain (acks_late) changes nothing.
    enrichment_enqueue(str(event.id))
    enrichment_enqueue(str(event.id))
    wait_for(lambda: not Event.objects.filter(status__in=["pending", "processing"]).exists())
    assert _snapshot(tenant, "crash") == expected
    assert FactSource.objects.filter(event=event).count() == len(expected)
    assert Event.objects.get(pk=event.pk).attempts == 1
    assert reference.status == "enriched"


def test_every_stage_rerun_twice_adds_nothing(tenant: Tenant, db: None) -> None:
    event = ingest_enriched(tenant, TEXT)
    before = _snapshot(tenant, "u1")
    candidates = Candidate.objects.filter(event=event).count()
    for stage in pipeline.STAGES:
        for _ in range(2):
            outcome = pipeline.stage_run(str(event.id), stage)
            assert outcome.ran is False
    assert _snapshot(tenant, "u1") == before
    assert Candidate.objects.filter(event=event).count() == candidates


def test_reconciliation_gives_up_after_max_attempts(
    tenant: Tenant, db: None, settings: Any
) -> None:
    settings.ENRICH_MAX_ATTEMPTS = 2
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        event = ingest(tenant, "I live in Oslo.")
    for _ in range(3):
        Event.objects.filter(pk=event.pk).update(
            state_changed_at=timezone.now() - timedelta(hours=1)
        )
        with mock.patch("enrichment.workflows.enrichment_enqueue"):
            tasks.reconcile()
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("failed", 3)
    assert event.error == "gave up after 2 attempts"


def test_system_role_is_stored_but_not_extracted(tenant: Tenant, db: None) -> None:
    event = ingest_enriched(tenant, "You are a helpful assistant. I live in Oslo.", role="system")
    assert event.status == "skipped"
    assert Fact.objects.filter(source_event=event).count() == 0


BURST = [
    "I live in Paris.",
    "I work at Equinor as a geologist.",
    "I moved to Berlin.",
    "My sister Anna lives in Rome.",
    "You live in Madrid.",
    "I like sushi.",
    "I don't like sushi.",
    "I have a dog named Rex.",
    "I moved to Lisbon.",
    "Thanks, that was helpful!",
]


def test_a_burst_is_enriched_in_batches_like_one_by_one(
    worker: Any, api: Api, tenant: Tenant
) -> None:
    for i, text in enumerate(BURST):
        ingest_enriched(
            tenant,
            text,
            user_id="one-by-one",
            minutes=i,
            role="assistant" if text.startswith("You") else "user",
        )
    ids = [
        api.post(
            "/v1/ingest",
            {
                "user_id": "burst",
                "type": "message",
                "conversation_id": "c1",
                "content": text,
                "role": "assistant" if text.startswith("You") else "user",
                "event_time": (BASE_TIME + timedelta(minutes=i)).isoformat(),
            },
        ).json()["event_id"]
        for i, text in enumerate(BURST)
    ]
    wait_for(
        lambda: (
            set(Event.objects.filter(id__in=ids).values_list("status", flat=True)) == {"enriched"}
        )
    )
    assert _snapshot(tenant, "burst") == _snapshot(tenant, "one-by-one")
    assert ("user", "lives_in", "Lisbon", "current") in _snapshot(tenant, "burst")

    def episodes(user_id: str) -> list[tuple[str, int]]:
        return sorted(
            (e.summary.split(":")[0][:7], e.event_count)
            for e in Episode.objects.filter(tenant=tenant, user_id=user_id)
        )

    tasks.episodes_refresh()  # what the beat does each minute after a backlog
    assert not Episode.objects.filter(tenant=tenant, embedding=None).exists()
    assert episodes("burst") == episodes("one-by-one") == [("Convers", 10), ("Session", 10)]


def test_an_event_that_breaks_a_stage_fails_alone(tenant: Tenant, db: None) -> None:
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        good = ingest(tenant, "I live in Oslo.", user_id="good")
        bad = ingest(tenant, "I work at Equinor.", user_id="bad", minutes=1)
    real_gate = stages.STAGE_FUNCTIONS["gate"]

    def breaks_on_bad(events: list[Event], payload: Any) -> Any:
        if any(e.pk == bad.pk for e in events):
            raise ValueError("boom")
        return real_gate[1](events, payload)

    with mock.patch.dict(stages.STAGE_FUNCTIONS, {"gate": (real_gate[0], breaks_on_bad)}):
        with pytest.raises(ValueError):
            pipeline.stage_run(str(good.id), "tier")  # its batch holds the bad event
        # A retry runs unbatched: the good event gets through.
        assert pipeline.stage_run(str(good.id), "tier", batch=False).ran is True
        # Extract, Map and Gate ran in one transaction (no slow part between them): the
        # failed batch left nothing of the bad event; alone, it fails on its own.
        assert (Event.objects.get(pk=bad.pk).status, Event.objects.get(pk=bad.pk).stage) == (
            "pending",
            "",
        )
        assert not Candidate.objects.filter(event=bad).exists()
        with pytest.raises(ValueError):
            pipeline.stage_run(str(bad.id), "tier", batch=False)
    assert Event.objects.get(pk=good.pk).status == "enriched"
    assert Event.objects.get(pk=bad.pk).status == "pending"


def test_stage_tasks_batch_on_the_first_attempt_only(tenant: Tenant, db: None) -> None:
    with mock.patch("enrichment.pipeline.stage_run") as stage_run:
        tasks.map_.apply(args=["e1"])
        tasks.map_.apply(args=["e1"], retries=1)
    assert stage_run.call_args_list == [
        mock.call("e1", "map", batch=True),
        mock.call("e1", "map", batch=False),
    ]
