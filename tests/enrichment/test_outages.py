"""Outages never lose an event: broker and database errors leave events re-sendable,
reconciliation finishes them, permanent errors fail at once, and events merely queued
behind a backlog are not re-sent. The slow tests stop and restart the session's real
Valkey and Postgres while a real Celery worker enriches."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from enrichment import outstanding, pipeline, tasks
from enrichment.workflows import enrichment_enqueue
from memory.models import Event, Fact
from tenants.models import Tenant
from tests.conftest import Api, wait_for
from tests.factories import ingest
from tests.plugins.services import postgres_server, valkey_server

TEXTS = [
    "I live in Oslo.",
    "I work at Equinor.",
    "My sister Anna lives in Rome.",
    "I like jazz.",
    "I moved to Lisbon last year.",
    "My dog is called Rex.",
]


def _age(*events: Event, seconds: float = 3600) -> None:
    Event.objects.filter(pk__in=[e.pk for e in events]).update(
        state_changed_at=timezone.now() - timedelta(seconds=seconds)
    )


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _answers(check: Callable[[], Any]) -> bool:
    try:
        check()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not back yet"
        return False


def _database_answers() -> bool:
    def query() -> None:
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    return _answers(query)


# --- Without a worker ---------------------------------------------------------------------


def test_a_broker_error_after_a_stage_leaves_the_event_resendable(tenant: Tenant, db: None) -> None:
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        event = ingest(tenant, "I live in Oslo.")
    pipeline.stage_run(str(event.id), "embed")
    # The stage committed; publishing the next stage failed (the broker vanished).
    tasks.embed.on_failure(
        BrokerOperationalError("Connection refused"), "t1", (str(event.id),), {}, None
    )
    event.refresh_from_db()
    assert (event.status, event.stage) == ("processing", "embed")
    assert event.error == "transient: enrichment.embed: OperationalError"
    _age(event)
    with mock.patch("enrichment.workflows.enrichment_enqueue") as enqueue:
        assert tasks.reconcile() == 1
    enqueue.assert_called_once_with(str(event.id))
    pipeline.stage_run(str(event.id), "tier")  # what the re-sent chain does
    event.refresh_from_db()
    assert (event.status, event.error, event.attempts) == ("enriched", None, 1)


def test_transient_errors_are_retried_then_left_to_reconciliation(
    tenant: Tenant, transactional_db: None
) -> None:
    # transactional_db: the task's post-run hook may close the connection (claiv.celery).
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        event = ingest(tenant, "I live in Oslo.")
    with mock.patch(
        "enrichment.pipeline.stage_run", side_effect=redis.ConnectionError("down")
    ) as stage_run:
        tasks.map_.apply(args=[str(event.id)])
    assert stage_run.call_count == 1 + tasks.StageTask.max_retries
    event.refresh_from_db()
    assert event.status == "pending"
    assert event.error == "transient: enrichment.map: ConnectionError"
    assert str(event.id) in pipeline.events_stuck(
        grace=timedelta(0), now=timezone.now() + timedelta(seconds=1)
    )


def test_a_permanent_error_fails_at_once_and_is_not_resent(
    tenant: Tenant, transactional_db: None
) -> None:
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        event = ingest(tenant, "I live in Oslo.")
    with mock.patch("enrichment.pipeline.stage_run", side_effect=KeyError("a bug")) as stage_run:
        tasks.map_.apply(args=[str(event.id)])
    # Once in its batch, once alone; no backoff retries.
    assert [c.kwargs["batch"] for c in stage_run.call_args_list] == [True, False]
    event.refresh_from_db()
    assert (event.status, event.error) == ("failed", "enrichment.map: KeyError")
    _age(event)
    with mock.patch("enrichment.workflows.enrichment_enqueue") as enqueue:
        assert tasks.reconcile() == 0
    enqueue.assert_not_called()
    assert Event.objects.get(pk=event.pk).status == "failed"


def test_legacy_transient_failures_are_resent(tenant: Tenant, db: None) -> None:
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        event = ingest(tenant, "I live in Oslo.")
    Event.objects.filter(pk=event.pk).update(
        status="failed", error="enrichment.map: OperationalError"
    )
    _age(event)
    with mock.patch("enrichment.workflows.enrichment_enqueue") as enqueue:
        assert tasks.reconcile() == 1
    enqueue.assert_called_once_with(str(event.id))
    assert Event.objects.get(pk=event.pk).status == "pending"


def test_queued_events_are_not_resent_but_lost_ones_are(tenant: Tenant, db: None) -> None:
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        waiting = ingest(tenant, "I live in Oslo.")
        held = ingest(tenant, "I work at Equinor.", minutes=1)
    # Their chains are sent but stay in the queue, as if behind a long backlog (Celery's
    # path, mocked; the lean publish records the same way: tests/enrichment/test_publish.py).
    with (
        mock.patch("enrichment.publish.lean_route", return_value=None),
        mock.patch("enrichment.workflows.enrichment_signature") as chain,
    ):
        enrichment_enqueue(str(waiting.id))
        enrichment_enqueue(str(held.id))
    assert chain.return_value.apply_async.call_count == 2
    _age(waiting, held)
    with mock.patch("enrichment.workflows.enrichment_enqueue") as enqueue:
        assert tasks.reconcile() == 0
    enqueue.assert_not_called()

    # A worker received `held` and was killed: once the delivery is older than the grace
    # it is re-sent; `waiting` is still in the queue and is not.
    outstanding.on_task_received(mock.Mock(args=[str(held.id)]), name="x")  # not a stage
    request = mock.Mock(args=[str(held.id)])
    request.name = "enrichment.extract"
    outstanding.on_task_received(request)
    grace = settings.ENRICH_RECONCILE_GRACE_SECONDS
    assert _redis().zscore(outstanding.QUEUED_KEY, str(held.id)) is None
    with mock.patch("enrichment.workflows.enrichment_enqueue") as enqueue:
        assert tasks.reconcile() == 0  # delivered just now: being worked on
    _redis().zadd(outstanding.DELIVERED_KEY, {str(held.id): time.time() - grace - 1})
    with mock.patch("enrichment.workflows.enrichment_enqueue") as enqueue:
        assert tasks.reconcile() == 1
    enqueue.assert_called_once_with(str(held.id))

    # Valkey restarted empty: the record went with the queue, so `waiting` is re-sent.
    _redis().delete(outstanding.QUEUED_KEY, outstanding.DELIVERED_KEY)
    _age(waiting, held)
    with mock.patch("enrichment.workflows.enrichment_enqueue") as enqueue:
        assert tasks.reconcile() == 2
    assert sorted(c.args[0] for c in enqueue.call_args_list) == sorted(
        [str(waiting.id), str(held.id)]
    )


def test_a_failed_publish_is_not_recorded_as_queued(tenant: Tenant, db: None) -> None:
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        event = ingest(tenant, "I live in Oslo.")
    chain = mock.Mock()
    chain.return_value.apply_async.side_effect = BrokerOperationalError("down")
    with (
        mock.patch("enrichment.publish.lean_route", return_value=None),
        mock.patch("enrichment.workflows.enrichment_signature", chain),
    ):
        enrichment_enqueue(str(event.id))  # logs and returns: ingest still succeeds
    assert chain.return_value.apply_async.call_count == 1
    assert _redis().zscore(outstanding.QUEUED_KEY, str(event.id)) is None


# --- Real outages, real worker ------------------------------------------------------------


def _ingest_all(api: Api, prefix: str, count: int, phase: str) -> tuple[list[str], list[int]]:
    """Ingest `count` distinct events (ingest is idempotent on content, so each phase
    varies the thread); returns the acknowledged event ids and every status code."""
    accepted: list[str] = []
    codes: list[int] = []
    for i in range(count):
        response = api.post(
            "/v1/ingest",
            {
                "user_id": f"{prefix}{i % 3}",
                "type": "message",
                "role": "user",
                "thread_id": f"{phase}{i}",
                "content": TEXTS[i % len(TEXTS)],
            },
        )
        codes.append(response.status_code)
        if response.status_code == 200:
            accepted.append(response.json()["event_id"])
    return accepted, codes


def _drain(accepted: list[str], timeout: float = 240.0) -> None:
    """Run reconciliation until every acknowledged event is enriched (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = dict(
            Event.objects.filter(id__in=accepted).values_list("status").values_list("id", "status")
        )
        if len(statuses) == len(accepted) and set(statuses.values()) == {"enriched"}:
            return
        assert "failed" not in statuses.values(), statuses
        tasks.reconcile()
        time.sleep(1.0)  # poll interval, not a readiness wait
    pytest.fail(f"not all enriched within {timeout}s: {statuses}")


@pytest.mark.slow
@pytest.mark.worker
def test_valkey_outage_during_ingest_loses_no_event(worker: Any, api: Api, settings: Any) -> None:
    settings.ENRICH_RECONCILE_GRACE_SECONDS = 5
    settings.ENRICH_MAX_ATTEMPTS = 100  # the test calls reconcile far more often than beat
    before, before_codes = _ingest_all(api, "v", 6, "before")
    server = valkey_server()
    server.stop()
    try:
        # The broker is down: ingest still answers 200.
        during, during_codes = _ingest_all(api, "v", 6, "during")
    finally:
        server.start()
        wait_for(lambda: _answers(lambda: _redis().ping()), timeout=120)
    after, after_codes = _ingest_all(api, "v", 6, "after")
    assert before_codes + during_codes + after_codes == [200] * 18
    accepted = before + during + after
    assert len(set(accepted)) == 18
    _drain(accepted)
    assert Event.objects.filter(id__in=accepted, status="enriched").count() == 18
    assert not Event.objects.filter(status="failed").exists()
    assert Fact.objects.filter(user_id__startswith="v").exists()


@pytest.mark.slow
@pytest.mark.worker
def test_postgres_outage_during_ingest_is_503_and_loses_no_event(
    worker: Any, api: Api, settings: Any
) -> None:
    settings.ENRICH_RECONCILE_GRACE_SECONDS = 5
    settings.ENRICH_MAX_ATTEMPTS = 100
    before, before_codes = _ingest_all(api, "p", 6, "before")
    server = postgres_server()
    server.stop()
    try:
        during, during_codes = _ingest_all(api, "p", 4, "during")
    finally:
        server.start()
        wait_for(_database_answers, timeout=120)
    after, after_codes = _ingest_all(api, "p", 6, "after")
    assert before_codes == after_codes == [200] * 6
    assert during == [] and during_codes == [503] * 4
    accepted = before + after
    _drain(accepted)
    assert Event.objects.filter(id__in=accepted, status="enriched").count() == 12
    assert Event.objects.filter(user_id__startswith="p").count() == 12
    assert not Event.objects.filter(status="failed").exists()
