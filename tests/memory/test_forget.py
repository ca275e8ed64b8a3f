"""POST /v1/forget: derived data gone in one transaction, receipt stored, nothing recalled."""

from __future__ import annotations

import pytest

from memory import receipts
from memory.forget import receipt_payload
from memory.models import Candidate, DeletionReceipt, Episode, Event, Fact, FactSource, Passage
from tenants.models import Tenant
from tests.conftest import Api
from tests.factories import ingest_enriched

pytestmark = pytest.mark.django_db

STATEMENTS = [
    "I live in Oslo and work at Equinor as a geologist.",
    "My sister Anna lives in Rome.",
    "I love hiking in the mountains.",
]


def _load(tenant: Tenant, user_id: str = "u1", conversation_id: str = "c1") -> list[Event]:
    return [
        ingest_enriched(tenant, text, user_id=user_id, conversation_id=conversation_id, minutes=i)
        for i, text in enumerate(STATEMENTS)
    ]


def test_forget_deletes_derived_rows_keeps_events_and_signs_a_receipt(
    api: Api, tenant: Tenant
) -> None:
    events = _load(tenant)
    facts_before = Fact.objects.filter(tenant=tenant, user_id="u1").count()
    assert facts_before > 0
    # One conversation, one session: two episodes, each embedded.
    assert Episode.objects.filter(tenant=tenant, user_id="u1", embedding__isnull=False).count() == 2
    embedded = (
        Fact.objects.filter(tenant=tenant, embedding__isnull=False).count()
        + Event.objects.filter(tenant=tenant, embedding__isnull=False).count()
        + 2
    )

    response = api.post("/v1/forget", {"user_id": "u1"})
    assert response.status_code == 200
    body = response.json()
    assert body["deleted_counts"] == {
        "events": 0,
        "facts": facts_before,
        "episodes": 2,
        "embeddings": embedded,
        "chunks": 0,
        "claims": 0,
        "open_loops": 0,
    }
    assert Fact.objects.filter(tenant=tenant).count() == 0
    assert FactSource.objects.filter(event__tenant=tenant).count() == 0
    assert Candidate.objects.filter(event__tenant=tenant).count() == 0
    assert Episode.objects.filter(tenant=tenant).count() == 0
    kept = Event.objects.filter(tenant=tenant)
    assert kept.count() == len(events)
    assert all(e.forgotten_at is not None and e.embedding is None for e in kept)

    receipt = DeletionReceipt.objects.get(pk=body["receipt_id"])
    assert receipt.tenant == tenant and receipt.deleted_counts == body["deleted_counts"]
    assert receipt.digest == receipts.receipt_digest(receipt_payload(receipt))
    assert receipts.signature_valid(
        digest=receipt.digest, signature=receipt.signature, public_key=receipts.public_key_b64()
    )

    recall = api.post(
        "/v1/recall", {"user_id": "u1", "task": "Where do I live?", "token_budget": 2000}
    ).json()
    assert recall == {
        "system_context": "",
        "memory_blocks": [],
        "citations": [],
        "token_estimate": 0,
    }


def test_erase_events_deletes_raw_events_too(api: Api, tenant: Tenant) -> None:
    events = _load(tenant)
    body = api.post("/v1/forget", {"user_id": "u1", "erase_events": True}).json()
    assert body["deleted_counts"]["events"] == len(events)
    assert Event.objects.filter(tenant=tenant).count() == 0


def test_forget_narrowed_to_a_conversation_leaves_the_rest(api: Api, tenant: Tenant) -> None:
    _load(tenant, conversation_id="c1")
    kept_event = ingest_enriched(tenant, "I drive a red Tesla.", conversation_id="c2", minutes=30)
    kept_facts = Fact.objects.filter(tenant=tenant, source_event=kept_event).count()
    assert kept_facts > 0
    api.post("/v1/forget", {"user_id": "u1", "thread_id": "c1"})
    assert Fact.objects.filter(tenant=tenant).count() == kept_facts
    context = api.post(
        "/v1/recall", {"user_id": "u1", "task": "What car?", "token_budget": 1000}
    ).json()
    assert context["citations"] == [str(kept_event.id)]


def test_receipts_chain_per_tenant(api: Api, other_api: Api, tenant: Tenant) -> None:
    first = api.post("/v1/forget", {"user_id": "a"}).json()["receipt_id"]
    other_api.post("/v1/forget", {"user_id": "a"})
    second = api.post("/v1/forget", {"user_id": "b"}).json()["receipt_id"]
    r1, r2 = DeletionReceipt.objects.get(pk=first), DeletionReceipt.objects.get(pk=second)
    assert (r1.sequence, r1.prev_digest) == (1, "")
    assert (r2.sequence, r2.prev_digest) == (2, r1.digest)


def test_other_tenant_cannot_forget_this_tenants_user(
    api: Api, other_api: Api, tenant: Tenant
) -> None:
    _load(tenant)
    facts = Fact.objects.filter(tenant=tenant).count()
    body = other_api.post("/v1/forget", {"user_id": "u1", "erase_events": True}).json()
    assert body["deleted_counts"]["facts"] == 0 and body["deleted_counts"]["events"] == 0
    assert Fact.objects.filter(tenant=tenant).count() == facts
    assert Event.objects.filter(tenant=tenant, forgotten_at__isnull=True).count() == 3


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"user_id": "u1", "from_time": "2024-05-02T00:00:00Z", "to_time": "2024-05-01T00:00:00Z"},
        {"user_id": "u1", "everything": True},
        {"user_id": "u1", "erase_events": "maybe"},
    ],
)
def test_bad_forget_requests_change_nothing(
    api: Api, tenant: Tenant, body: dict[str, object]
) -> None:
    _load(tenant)
    facts = Fact.objects.filter(tenant=tenant).count()
    response = api.post("/v1/forget", body)
    assert response.status_code == 400
    assert Fact.objects.filter(tenant=tenant).count() == facts
    assert DeletionReceipt.objects.count() == 0


def test_forget_by_time_window(api: Api, tenant: Tenant) -> None:
    events = _load(tenant)  # at 09:00, 09:01, 09:02 on 2024-05-01
    api.post("/v1/forget", {"user_id": "u1", "from_time": "2024-05-01T09:01:00Z"})
    remaining = set(Fact.objects.filter(tenant=tenant).values_list("source_event_id", flat=True))
    assert remaining == {events[0].id}


def test_a_long_events_passage_vectors_are_counted_and_deleted(api: Api, tenant: Tenant) -> None:
    long = ingest_enriched(tenant, "The quarterly report covers the sales of the north. " * 150)
    passages = Passage.objects.filter(event=long).count()
    assert passages >= 8  # 7,800 characters: about ten passages of 800
    embedded = (
        Fact.objects.filter(tenant=tenant, embedding__isnull=False).count()
        + Event.objects.filter(tenant=tenant, embedding__isnull=False).count()
        + Episode.objects.filter(tenant=tenant, embedding__isnull=False).count()
    )
    counts = api.post("/v1/forget", {"user_id": "u1"}).json()["deleted_counts"]
    assert counts["embeddings"] == embedded + passages
    assert not Passage.objects.filter(tenant=tenant).exists()
