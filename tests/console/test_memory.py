"""The memory browser, re-running enrichment (memory.console.event_reenrich), forget with its
confirmation step and receipt, the receipts page's verification, and the usage page."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from django.test import Client

from claiv.errors import InvalidRequest, NotFound
from enrichment.services import event_reenrich
from memory.console_selectors import memory_forget_preview
from memory.forget import ForgetScope, memory_forget
from memory.models import Candidate, DeletionReceipt, Event, Fact, FactSource
from memory.versioning import user_memory_version
from tenants.models import Tenant
from tests.factories import BASE_TIME, enrich, ingest, ingest_enriched

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stands in for the Celery chain: records which events were sent to the pipeline."""
    sent: list[str] = []
    monkeypatch.setattr("enrichment.workflows.enrichment_enqueue", sent.append)
    return sent


def test_users_list_and_search(console: Client, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Oslo.", user_id="alice")
    ingest_enriched(tenant, "I love tea.", user_id="bob", minutes=5)
    ingest(tenant, "Hello there.", user_id="bob", minutes=6)
    page = console.get(f"/console/projects/{tenant.id}/memory/")
    rows = [(u.user_id, u.events, u.facts) for u in page.context["users"]]
    assert rows == [("bob", 2, 1), ("alice", 1, 1)]
    found = console.get(f"/console/projects/{tenant.id}/memory/", {"q": "ali"})
    assert [u.user_id for u in found.context["users"]] == ["alice"]


def test_user_page_shows_current_and_superseded_facts_with_sources(
    console: Client, tenant: Tenant
) -> None:
    oslo = ingest_enriched(tenant, "I live in Oslo.", user_id="alice")
    bergen = ingest_enriched(tenant, "I moved to Bergen.", user_id="alice", minutes=1)
    page = console.get(f"/console/projects/{tenant.id}/memory/user/", {"user_id": "alice"})
    current = [(f.object_text, f.source_event_id) for f in page.context["current_facts"]]
    past = [(f.object_text, f.status) for f in page.context["past_facts"]]
    assert current == [("Bergen", bergen.id)]
    assert past == [("Oslo", "superseded")]
    body = page.content.decode()
    assert "“I moved to Bergen.”" in body
    assert f"/console/memory/event/{bergen.id}/change/" in body
    assert f"/console/memory/event/{oslo.id}/change/" in body
    assert [e.id for e in page.context["events"]] == [bergen.id, oslo.id]
    searched = console.get(
        f"/console/projects/{tenant.id}/memory/user/", {"user_id": "alice", "q": "Oslo"}
    )
    assert [f.object_text for f in searched.context["past_facts"]] == ["Oslo"]
    assert searched.context["current_facts"] == []
    assert [e.id for e in searched.context["events"]] == [oslo.id]


def test_a_long_event_is_shown_cut_on_the_user_page_and_its_own_page(
    console: Client, tenant: Tenant
) -> None:
    tail = "THE-LAST-WORDS-OF-THE-EVENT"
    content = "A long paste of the server log, line after line. " * 4_000 + tail  # ~200 KB
    event = ingest(tenant, content, user_id="alice")
    page = console.get(f"/console/projects/{tenant.id}/memory/user/", {"user_id": "alice"})
    assert page.status_code == 200
    assert len(page.content) < 50_000
    assert "A long paste of the server log" in page.content.decode()
    own = console.get(f"/console/memory/event/{event.pk}/change/")
    assert own.status_code == 200
    body = own.content.decode()
    assert "more characters" in body and tail not in body
    assert len(own.content) < 100_000
    listed = console.get("/console/memory/event/")
    assert listed.status_code == 200 and tail not in listed.content.decode()


def test_reenrich_resets_the_event_and_rebuilds_its_facts(
    tenant: Tenant, enqueued: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    event = ingest_enriched(tenant, "My sister Anna lives in Rome.")
    before = sorted(Fact.objects.filter(tenant=tenant).values_list("predicate", "object_text"))
    version = user_memory_version(tenant_id=tenant.id, user_id="u1")
    with django_capture_on_commit_callbacks(execute=True):
        event_reenrich(tenant=tenant, event_id=str(event.id))
    event.refresh_from_db()
    assert (event.status, event.stage, event.attempts, event.error) == ("pending", "", 0, None)
    assert not Fact.objects.filter(tenant=tenant).exists()
    assert not Candidate.objects.filter(event=event).exists()
    assert user_memory_version(tenant_id=tenant.id, user_id="u1") > version  # bumped
    assert enqueued == [str(event.id)]
    enrich(event)
    assert (
        sorted(Fact.objects.filter(tenant=tenant).values_list("predicate", "object_text")) == before
    )


def test_reenrich_keeps_facts_other_events_also_stated(tenant: Tenant, enqueued: list[str]) -> None:
    first = ingest_enriched(tenant, "I live in Oslo.")
    second = ingest_enriched(tenant, "I live in Oslo.", minutes=5)
    fact = Fact.objects.get(tenant=tenant)
    assert (fact.mention_count, fact.source_event_id) == (2, first.id)
    event_reenrich(tenant=tenant, event_id=str(first.id))
    fact.refresh_from_db()
    assert (fact.mention_count, fact.source_event_id, fact.source_text) == (
        1,
        second.id,
        "I live in Oslo.",
    )
    assert list(FactSource.objects.filter(fact=fact).values_list("event_id", flat=True)) == [
        second.id
    ]
    enrich(first)
    fact.refresh_from_db()
    assert Fact.objects.filter(tenant=tenant).count() == 1 and fact.mention_count == 2


def test_reenrich_restores_what_its_facts_had_superseded(
    tenant: Tenant, enqueued: list[str]
) -> None:
    ingest_enriched(tenant, "I live in Oslo.")
    moved = ingest_enriched(tenant, "I moved to Bergen.", minutes=1)
    oslo = Fact.objects.get(tenant=tenant, object_text="Oslo")
    assert oslo.status == "superseded"
    event_reenrich(tenant=tenant, event_id=str(moved.id))
    oslo.refresh_from_db()
    assert (oslo.status, oslo.valid_to, oslo.superseded_by_id) == ("current", None, None)
    enrich(moved)
    oslo.refresh_from_db()
    assert oslo.status == "superseded"
    assert Fact.objects.get(tenant=tenant, status="current").object_text == "Bergen"


def test_reenrich_refuses_forgotten_and_other_tenants_events(
    tenant: Tenant, other_tenant: Tenant, enqueued: list[str]
) -> None:
    theirs = ingest_enriched(other_tenant, "I live in Lima.")
    with pytest.raises(NotFound):
        event_reenrich(tenant=tenant, event_id=str(theirs.id))
    forgotten = ingest_enriched(tenant, "I live in Oslo.")
    memory_forget(tenant=tenant, scope=ForgetScope(user_id="u1"))
    with pytest.raises(InvalidRequest):
        event_reenrich(tenant=tenant, event_id=str(forgotten.id))
    theirs.refresh_from_db()
    assert theirs.status == "enriched" and Fact.objects.filter(tenant=other_tenant).exists()
    assert enqueued == []


def test_reenrich_from_the_console(
    console: Client, tenant: Tenant, enqueued: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    event = ingest_enriched(tenant, "I live in Oslo.")
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(f"/console/memory/event/{event.pk}/reenrich/")
    assert response["Location"] == f"/console/memory/event/{event.pk}/change/"
    assert enqueued == [str(event.pk)]
    assert Event.objects.get(pk=event.pk).status == "pending"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"conversation_id": "c2"},
        {"from_time": "2024-05-01T09:01", "to_time": "2024-05-01T09:02"},
        {"erase_events": "on"},
        {"project_id": "p1"},
    ],
)
def test_forget_preview_matches_the_receipt(
    console: Client, tenant: Tenant, fields: dict[str, str]
) -> None:
    for i, (text, conversation) in enumerate(
        [
            ("I live in Oslo.", "c1"),
            ("My sister Anna lives in Rome.", "c2"),
            # Long enough for passages: their vectors are in both counts.
            ("I love hiking. " + "The trail climbs through the forest to the lake. " * 60, "c2"),
            ("I live in Oslo.", "c1"),
        ]
    ):
        ingest_enriched(
            tenant,
            text,
            user_id="alice",
            conversation_id=conversation,
            minutes=i,
            project_id="p1" if conversation == "c2" else "",
        )
    url = f"/console/projects/{tenant.id}/forget/"
    preview = console.post(url, {"action": "preview", "user_id": "alice", **fields})
    assert preview.status_code == 200
    counts = preview.context["preview"]
    assert not DeletionReceipt.objects.exists()  # the confirmation step changes nothing
    response = console.post(url, {"action": "confirm", "user_id": "alice", **fields})
    receipt = DeletionReceipt.objects.get(tenant=tenant)
    assert response["Location"] == f"/console/projects/{tenant.id}/receipts/{receipt.pk}/"
    assert receipt.deleted_counts == {
        "events": counts["events"],
        "facts": counts["facts"],
        "episodes": counts["episodes"],
        "embeddings": counts["embeddings"],
        "chunks": 0,
        "claims": 0,
        "open_loops": 0,
    }
    assert counts["facts"] > 0
    assert counts["events_matched"] == (2 if set(fields) - {"erase_events"} else 4)
    page = console.get(response["Location"])
    assert page.context["check"].ok and b"Verified." in page.content


def test_forget_preview_selector_counts_without_changing(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Oslo.", user_id="alice")
    before = (Fact.objects.count(), Event.objects.filter(forgotten_at__isnull=True).count())
    counts = memory_forget_preview(
        tenant=tenant, scope=ForgetScope(user_id="alice", erase_events=True)
    )
    assert counts["events_matched"] == counts["events"] == 1 and counts["facts"] == 1
    assert (Fact.objects.count(), Event.objects.filter(forgotten_at__isnull=True).count()) == (
        before
    )


def test_forget_form_rejects_a_reversed_window(console: Client, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Oslo.", user_id="alice")
    response = console.post(
        f"/console/projects/{tenant.id}/forget/",
        {
            "action": "confirm",
            "user_id": "alice",
            "from_time": "2024-05-02T00:00",
            "to_time": "2024-05-01T00:00",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "“Events from” must be before “Events until”."
    ]
    assert not DeletionReceipt.objects.exists() and Fact.objects.filter(tenant=tenant).exists()


def test_receipts_page_reports_verification(console: Client, tenant: Tenant) -> None:
    for user in ("a", "b"):
        ingest_enriched(tenant, "I live in Oslo.", user_id=user)
        memory_forget(tenant=tenant, scope=ForgetScope(user_id=user))
    page = console.get(f"/console/projects/{tenant.id}/receipts/")
    assert [(c.receipt.sequence, c.ok) for c in page.context["checks"]] == [(2, True), (1, True)]
    assert b"All 2 receipts verify." in page.content
    DeletionReceipt.objects.filter(tenant=tenant, sequence=1).update(deleted_counts={"facts": 0})
    page = console.get(f"/console/projects/{tenant.id}/receipts/")
    assert page.context["failing"] == 1
    assert b"1 of 2 receipts fail verification." in page.content
    assert b"altered after signing" in page.content


def test_usage_page_renders_metering_or_says_it_is_unavailable(
    console: Client, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = console.get(f"/console/projects/{tenant.id}/usage/", {"range": "30d"})
    assert page.status_code == 200
    if page.context["available"]:
        assert page.context["summary"]["range"] == "30d"
        assert len(page.context["summary"]["daily"]) == 30
        assert page.content.decode().count('<svg class="chart"') == 5
    monkeypatch.setitem(sys.modules, "memory.usage", None)  # as if metering were not built
    missing = console.get(f"/console/projects/{tenant.id}/usage/", {"range": "bogus"})
    assert missing.context["available"] is False and missing.context["range"] == "7d"
    assert b"Usage metering is not available on this server." in missing.content


def test_event_detail_lists_the_facts_it_stated(console: Client, tenant: Tenant) -> None:
    event = ingest_enriched(tenant, "I live in Oslo.")
    fact = Fact.objects.get(tenant=tenant)
    body = console.get(f"/console/memory/event/{event.pk}/change/").content.decode()
    assert f"/console/memory/fact/{fact.pk}/change/" in body
    assert "I live in Oslo." in body
    assert BASE_TIME.strftime("%Y") in body
