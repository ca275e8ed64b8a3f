"""Under a backlog, a stage task whose stage this process already did in another event's
batch returns without asking the database; a stale memory of it never leaves an event
unenriched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enrichment import pipeline
from enrichment.pipeline import batch_memo
from memory.models import Event
from tenants.models import Tenant
from tests.factories import ingest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_memo() -> Any:
    batch_memo._done_in_batch.clear()
    yield
    batch_memo._done_in_batch.clear()


def _backlog(tenant: Tenant) -> list[Event]:
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        return [
            ingest(tenant, "I live in Lisbon."),
            ingest(tenant, "I work at Acme Robotics.", minutes=1),
            ingest(tenant, "My sister Anna lives in Rome.", minutes=2),
        ]


def test_batch_members_tasks_skip_the_database(
    tenant: Tenant, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    first, second, third = _backlog(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.stage_run(str(first.id), "extract").ran

    with CaptureQueriesContext(connection) as queries:
        outcomes = [pipeline.stage_run(str(e.id), "extract") for e in (second, third)]
    assert [o.ran for o in outcomes] == [False, False]
    assert len(queries.captured_queries) == 0
    assert set(Event.objects.filter(tenant=tenant).values_list("stage", flat=True)) == {"extract"}
    assert batch_memo._done_in_batch == {}  # each entry was used up by its last covered stage

    # The next stage is not in the memo: its task looks and leads a batch as before.
    with CaptureQueriesContext(connection) as queries:
        assert not pipeline.stage_run(str(second.id), "extract").ran  # memo used up: looks
    assert len(queries.captured_queries) == 1


def test_a_reset_event_is_still_enriched(
    tenant: Tenant, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    first, second, _ = _backlog(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.stage_run(str(first.id), "extract")
    # An operator re-enriches the event (memory.console) while the memo still holds it.
    Event.objects.filter(pk=second.pk).update(stage="", status="pending")

    assert not pipeline.stage_run(str(second.id), "extract").ran  # trusted the memo
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.stage_run(str(second.id), "tier", batch=False).ran  # the chain goes on
    second.refresh_from_db()
    assert (second.stage, second.status) == ("tier", "enriched")


def test_an_old_memory_is_not_trusted(
    tenant: Tenant,
    django_capture_on_commit_callbacks: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second, _ = _backlog(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.stage_run(str(first.id), "extract")
    monkeypatch.setattr(batch_memo, "BATCH_MEMO_SECONDS", -1.0)

    with CaptureQueriesContext(connection) as queries:
        assert not pipeline.stage_run(str(second.id), "extract").ran
    assert len(queries.captured_queries) == 1
    assert str(second.id) not in batch_memo._done_in_batch
