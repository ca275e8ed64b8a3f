"""Memories one by one (memory.memories): written directly, recallable at once, corrected
and superseded with history kept, deleted with a signed receipt; tenant-isolated."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from claiv.errors import InvalidRequest, NotFound
from memory.memories import (
    memory_add,
    memory_as_dict,
    memory_correct,
    memory_delete,
    memory_get,
    memory_list,
    memory_search,
    memory_supersede,
)
from memory.models import DeletionReceipt, Event, Fact, FactSource
from memory.recall.engine import memory_recall
from memory.recall.v6 import memory_recall_v6
from memory.versioning import user_memory_version
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_add_is_recallable_at_once_by_v1_v6_and_search(tenant: Tenant) -> None:
    before = user_memory_version(tenant_id=tenant.pk, user_id="u1")
    fact = memory_add(
        tenant=tenant,
        user_id="u1",
        content="The staging database is Postgres 16",
        metadata={"source": "ticket-9"},
    )
    assert user_memory_version(tenant_id=tenant.pk, user_id="u1") != before  # a new version
    assert (fact.origin, fact.kind, fact.predicate, fact.status) == (
        "explicit",
        "note",
        "note",
        "current",
    )
    assert fact.embedding is not None
    source = FactSource.objects.get(fact=fact)
    assert source.event_id == fact.source_event_id
    event = Event.objects.get(pk=fact.source_event_id)
    assert (event.status, event.extractor, event.metadata) == (
        "skipped",
        "explicit",
        {"source": "ticket-9"},
    )

    v1 = memory_recall(
        tenant=tenant, user_id="u1", query="which database does staging use", token_budget=500
    )
    assert "Postgres 16" in v1.system_context
    v6 = memory_recall_v6(tenant=tenant, user_id="u1", query="staging database")
    assert str(fact.id) in [f["fact_id"] for f in v6["answer_facts"]]
    items = memory_search(tenant=tenant, user_id="u1", query="staging database", limit=5)
    fact_items = [i for i in items if i["type"] == "fact"]
    assert fact_items[0]["id"] == str(fact.id)
    assert fact_items[0]["text"] == "The staging database is Postgres 16"
    assert fact_items[0]["status"] == "current"
    assert {"vector_facts", "keyword_facts"} <= set(fact_items[0]["channels"])
    assert items[0]["score"] == 1.0


def test_decision_keeps_its_rationale(tenant: Tenant) -> None:
    fact = memory_add(
        tenant=tenant,
        user_id="u1",
        content="Use Valkey for caching",
        kind="decision",
        rationale="licence",
    )
    body = memory_as_dict(fact)
    assert (body["kind"], body["rationale"], body["content"]) == (
        "decision",
        "licence",
        "Use Valkey for caching",
    )


@pytest.mark.parametrize("kwargs", [{"kind": "opinion"}, {"content": "   "}])
def test_bad_add_stores_nothing(tenant: Tenant, kwargs: dict) -> None:
    with pytest.raises(InvalidRequest):
        memory_add(tenant=tenant, user_id="u1", **({"content": "x"} | kwargs))
    assert Fact.objects.count() == 0 and Event.objects.count() == 0


def test_correct_supersedes_and_keeps_history(tenant: Tenant) -> None:
    old = memory_add(tenant=tenant, user_id="u1", content="The office is in Oslo")
    new = memory_correct(tenant=tenant, memory_id=str(old.id), content="The office is in Bergen")
    old.refresh_from_db()
    assert (old.status, old.superseded_by_id, old.valid_to) == (
        "superseded",
        new.id,
        new.valid_from,
    )
    assert Event.objects.get(pk=old.source_event_id).forgotten_at is not None
    detail = memory_get(tenant=tenant, memory_id=str(new.id))
    assert [m["id"] for m in detail["supersedes"]] == [str(old.id)]
    assert memory_get(tenant=tenant, memory_id=str(old.id))["superseded_by"]["id"] == str(new.id)
    recalled = memory_recall(
        tenant=tenant, user_id="u1", query="where is the office", token_budget=500
    ).system_context
    assert "Bergen" in recalled and "Oslo" not in recalled
    with pytest.raises(InvalidRequest):
        memory_correct(tenant=tenant, memory_id=str(old.id), content="again")
    assert Fact.objects.filter(tenant=tenant).count() == 2


def test_supersede_by_an_existing_memory(tenant: Tenant) -> None:
    old = memory_add(tenant=tenant, user_id="u1", content="Deploy on Fridays")
    new = memory_add(tenant=tenant, user_id="u1", content="Never deploy on Fridays")
    assert (
        memory_supersede(tenant=tenant, memory_id=str(old.id), superseded_by=str(new.id)).id
        == new.id
    )
    old.refresh_from_db()
    assert (old.status, old.superseded_by_id) == ("superseded", new.id)
    with pytest.raises(InvalidRequest):
        memory_supersede(tenant=tenant, memory_id=str(new.id))


def test_list_pages_by_cursor_in_a_stable_order(tenant: Tenant) -> None:
    made = [memory_add(tenant=tenant, user_id="u1", content=f"note {i}") for i in range(5)]
    memory_correct(tenant=tenant, memory_id=str(made[0].id), content="note 0 fixed")
    page, cursor = memory_list(tenant=tenant, user_id="u1", limit=2)
    seen = [f.object_text for f in page]
    while cursor:
        page, cursor = memory_list(tenant=tenant, user_id="u1", limit=2, cursor=cursor)
        seen += [f.object_text for f in page]
    assert seen == ["note 0 fixed", "note 4", "note 3", "note 2", "note 1"]
    superseded, end = memory_list(tenant=tenant, user_id="u1", status="superseded")
    assert ([f.object_text for f in superseded], end) == (["note 0"], None)
    assert len(memory_list(tenant=tenant, user_id="u1", status="all", limit=100)[0]) == 6
    with pytest.raises(InvalidRequest):
        memory_list(tenant=tenant, user_id="u1", cursor="%%%")


def test_delete_removes_history_and_signs_a_receipt(tenant: Tenant) -> None:
    keep = memory_add(tenant=tenant, user_id="u1", content="Keep this one")
    old = memory_add(tenant=tenant, user_id="u1", content="Budget is 10k")
    new = memory_correct(tenant=tenant, memory_id=str(old.id), content="Budget is 12k")
    receipt = memory_delete(tenant=tenant, memory_id=str(new.id))
    assert receipt.scope["memory_id"] == str(new.id)
    assert receipt.deleted_counts["facts"] == 2 and receipt.deleted_counts["events"] == 2
    assert list(Fact.objects.filter(tenant=tenant).values_list("id", flat=True)) == [keep.id]
    assert Event.objects.filter(tenant=tenant).count() == 1
    assert (
        "Budget"
        not in memory_recall(
            tenant=tenant, user_id="u1", query="budget", token_budget=500
        ).system_context
    )
    out = StringIO()
    call_command("verify_receipts", "--tenant", tenant.slug, stdout=out)
    assert DeletionReceipt.objects.filter(tenant=tenant).count() == 1


def test_other_tenant_sees_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    fact = memory_add(tenant=tenant, user_id="u1", content="Secret project Falcon")
    for call in (
        lambda: memory_get(tenant=other_tenant, memory_id=str(fact.id)),
        lambda: memory_correct(tenant=other_tenant, memory_id=str(fact.id), content="x"),
        lambda: memory_supersede(tenant=other_tenant, memory_id=str(fact.id), content="x"),
        lambda: memory_delete(tenant=other_tenant, memory_id=str(fact.id)),
    ):
        with pytest.raises(NotFound):
            call()
    assert memory_list(tenant=other_tenant, user_id="u1") == ([], None)
    assert memory_search(tenant=other_tenant, user_id="u1", query="Falcon") == []
    assert Fact.objects.get(pk=fact.pk).status == "current"
    assert DeletionReceipt.objects.count() == 0
