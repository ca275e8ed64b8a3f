"""Events ingested with the SDK's `document_id` are tagged inside the ingest's own
transaction (memory.ingest): an event is never committed without its tag, a batch writes
all its tags in one INSERT, and a repeat adds none."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from memory.ingest import event_ingest, events_ingest
from memory.models import DocumentTag, Event
from tenants.models import Tenant
from tests.conftest import Api

pytestmark = pytest.mark.django_db

TAG_TABLE = DocumentTag._meta.db_table


def _item(content: str, **fields: Any) -> dict[str, Any]:
    return {"user_id": "u1", "type": "message", "role": "user", "content": content} | fields


def _tag_inserts(queries: CaptureQueriesContext) -> int:
    return sum(1 for q in queries.captured_queries if f'INSERT INTO "{TAG_TABLE}"' in q["sql"])


def test_single_ingest_tags_its_event_and_a_failed_tag_stores_no_event(tenant: Tenant) -> None:
    stored = event_ingest(
        tenant=tenant, **_item("I use the router", document_id="manual", document_name="Skyline")
    )
    tag = DocumentTag.objects.get(event=stored.event)
    assert (tag.tenant_id, tag.user_id, tag.document_id, tag.document_name) == (
        tenant.pk,
        "u1",
        "manual",
        "Skyline",
    )
    # The retry of the same body stores nothing and tags nothing more.
    again = event_ingest(
        tenant=tenant, **_item("I use the router", document_id="manual", document_name="Skyline")
    )
    assert again.deduped and DocumentTag.objects.count() == 1

    # A crash while tagging takes the event down with it: both or neither are stored.
    with mock.patch("memory.ingest.document_tags_insert", side_effect=RuntimeError("crash")):
        with pytest.raises(RuntimeError):
            event_ingest(tenant=tenant, **_item("second", document_id="manual"))
    assert not Event.objects.filter(content="second").exists()


def test_batch_tags_its_new_events_in_one_insert_inside_its_transaction(tenant: Tenant) -> None:
    event_ingest(tenant=tenant, **_item("stored before", idempotency_key="k0"))
    with CaptureQueriesContext(connection) as queries:
        results = events_ingest(
            tenant=tenant,
            items=[
                _item("A", document_id="manual", document_name="Skyline"),
                _item("B"),
                _item("C", document_id="guide"),
                _item("A", document_id="manual"),  # a retry of the first: no second tag
                _item("stored before", idempotency_key="k0", document_id="manual"),  # repeat
            ],
        )
    assert _tag_inserts(queries) == 1
    ids = [r.event.id for r in results]  # type: ignore[union-attr]
    tags = {t.event_id: (t.document_id, t.document_name) for t in DocumentTag.objects.all()}
    assert tags == {ids[0]: ("manual", "Skyline"), ids[2]: ("guide", "")}

    with mock.patch("memory.ingest.document_tags_insert", side_effect=RuntimeError("crash")):
        with pytest.raises(RuntimeError):
            events_ingest(tenant=tenant, items=[_item("D"), _item("E", document_id="manual")])
    assert not Event.objects.filter(content__in=["D", "E"]).exists()


def test_the_http_ingests_tag_through_the_ingest_transaction(api: Api) -> None:
    single = api.post(
        "/v6/ingest",
        _item("I keep it in the hall", conversation_id="c", document_id="manual")
        | {"document_name": "Skyline"},
    )
    assert single.status_code == 200, single.content
    batch = api.post(
        "/v1/ingest/batch",
        {"events": [_item("tea", document_id="manual"), _item("coffee"), {"user_id": "u1"}]},
    )
    results = batch.json()["results"]
    assert "error" in results[2]
    assert {str(t.event_id) for t in DocumentTag.objects.filter(document_id="manual")} == {
        single.json()["event_id"],
        results[0]["event_id"],
    }
