"""The v6 trio and the SDK's aliases: POST /v6/ingest, /v6/recall, /v6/forget, /v2/*."""

from __future__ import annotations

from typing import Any

import pytest

from memory.models import DeletionReceipt, Event, Fact
from tenants.models import Tenant
from tests.conftest import Api
from tests.factories import ingest_enriched

pytestmark = pytest.mark.django_db

MESSAGE = {
    "user_id": "u1",
    "type": "message",
    "content": "I live in Paris",
    "conversation_id": "c1",
    "role": "user",
}


def test_v6_ingest_stores_the_event_with_scope(api: Api, tenant: Tenant) -> None:
    body = MESSAGE | {"project_id": "p1", "scope": "project"}
    response = api.post("/v6/ingest", body)
    assert response.status_code == 200
    event = Event.objects.get(tenant=tenant)
    assert response.json() == {"event_id": str(event.id), "deduped": False}
    assert (event.conversation_id, event.project_id, event.scope) == ("c1", "p1", "project")


def test_v6_ingest_accepts_the_sdk_document_keys_and_nulls(api: Api, tenant: Tenant) -> None:
    body = MESSAGE | {
        "document_id": "d1",
        "document_name": "Report",
        "role": None,
        "metadata": None,
        "event_time": None,
        "idempotency_key": None,
        "project_id": None,
        "scope": None,
    }
    response = api.post("/v6/ingest", body)
    assert response.status_code == 200
    event = Event.objects.get(tenant=tenant)
    assert (event.role, event.metadata, event.scope, event.project_id) == ("", {}, "global", "")


def test_v5_style_thread_id_is_the_conversation(api: Api, tenant: Tenant) -> None:
    body = {k: v for k, v in MESSAGE.items() if k != "conversation_id"}
    body |= {"thread_id": "t9", "event_time": 1714554000}
    assert api.post("/v6/ingest", body).status_code == 200
    assert Event.objects.get(tenant=tenant).conversation_id == "t9"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({k: v for k, v in MESSAGE.items() if k != "conversation_id"}, {"conversation_id"}),
        (MESSAGE | {"conversation_id": None}, {"conversation_id"}),
        (MESSAGE | {"scope": "project"}, {"project_id"}),
        (MESSAGE | {"scope": "everywhere"}, {"scope"}),
    ],
)
def test_v6_ingest_scope_rules_reject_and_store_nothing(
    api: Api, tenant: Tenant, body: dict[str, Any], fields: set[str]
) -> None:
    response = api.post("/v6/ingest", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert set(error["details"]["fields"]) == fields
    assert Event.objects.filter(tenant=tenant).count() == 0


def test_v6_ingest_still_rejects_truly_unknown_fields(api: Api, tenant: Tenant) -> None:
    response = api.post("/v6/ingest", MESSAGE | {"colour": "red"})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"unknown_fields": ["colour"]}
    assert Event.objects.filter(tenant=tenant).count() == 0


def test_v6_and_v2_forget_are_the_v1_forget(api: Api, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Oslo.", conversation_id="c1")
    facts = Fact.objects.filter(tenant=tenant).count()
    assert facts > 0
    response = api.post(
        "/v6/forget",
        {"user_id": "u1", "conversation_id": "c1", "project_id": None, "from_time": None},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["deleted_counts"]["facts"] == facts
    assert Fact.objects.filter(tenant=tenant).count() == 0
    second = api.post("/v2/forget", {"user_id": "u1"}).json()
    assert second["deleted_counts"]["facts"] == 0
    receipts = DeletionReceipt.objects.filter(tenant=tenant).order_by("sequence")
    assert [str(r.id) for r in receipts] == [body["receipt_id"], second["receipt_id"]]


def test_forget_by_document_id_is_narrowed_to_that_document(api: Api, tenant: Tenant) -> None:
    """Forget by document_id (API.md §8) removes that document's data only: the user's
    other memory stays (before documents existed the field was refused, never widened)."""
    ingest_enriched(tenant, "I live in Oslo.")
    facts = Fact.objects.filter(tenant=tenant).count()
    response = api.post("/v6/forget", {"user_id": "u1", "document_id": "d1"})
    assert response.status_code == 200
    assert response.json()["deleted_counts"]["facts"] == 0
    assert Fact.objects.filter(tenant=tenant).count() == facts
    receipt = DeletionReceipt.objects.get(tenant=tenant)
    assert receipt.scope["document_id"] == "d1"


def test_v2_recall_is_the_token_budgeted_recall(api: Api) -> None:
    response = api.post(
        "/v2/recall",
        {
            "user_id": "u1",
            "task": "where?",
            "token_budget": 300,
            "thread_id": None,
            "min_confidence": None,
        },
    )
    assert response.status_code == 200
    assert response.json() == {
        "system_context": "",
        "memory_blocks": [],
        "citations": [],
        "token_estimate": 0,
    }


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"user_id": "u1"}, "query"),
        ({"user_id": "u1", "query": "q", "token_budget": 100}, "token_budget"),
        ({"user_id": "u1", "query": "q", "token_budget": 9000}, "token_budget"),
        ({"user_id": "u1", "query": "q", "limits": {"answer_facts": 51}}, "limits"),
        ({"user_id": "u1", "query": "q", "limits": {"answer_facts": -1}}, "limits"),
        ({"user_id": "u1", "query": "q", "limits": {"nonsense": 1}}, "unknown_fields"),
        ({"user_id": "u1", "query": "q", "include": {"everything": True}}, "unknown_fields"),
        ({"user_id": "u1", "query": "q", "reference_time": "last tuesday"}, "reference_time"),
        ({"user_id": "u1", "query": "q", "extra": 1}, "unknown_fields"),
    ],
)
def test_v6_recall_request_is_strict(api: Api, body: dict[str, Any], where: str) -> None:
    response = api.post("/v6/recall", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert where in error["details"] or where in error["details"].get("fields", {})


def test_v6_recall_request_accepts_the_sdk_readme_body(
    api: Api, monkeypatch: pytest.MonkeyPatch, tenant: Tenant
) -> None:
    """The SDK's extra keys are accepted and dropped; null means absent; defaults filled."""
    seen: dict[str, Any] = {}

    def engine(**kwargs: Any) -> dict[str, Any]:
        seen.update(kwargs)
        return {"token_estimate": 0, "llm_context": {"anchor_source": "conversation_event"}}

    monkeypatch.setattr("memory.api.v6.memory_recall_v6", engine)
    body = {
        "user_id": "u1",
        "conversation_id": "c1",
        "query": "where do I live?",
        "reference_time": None,
        "mode_hint": None,
        "document_id": "d1",
        "project_id": None,
        "token_budget": None,
        "limits": {
            "answer_facts": 5,
            "document_chunks": 5,
            "max_list_items": 3,
            "background_facts": None,
        },
        "include": {"pending_plan": True, "debug": None},
    }
    response = api.post("/v6/recall", body)
    assert response.status_code == 200
    assert seen == {
        "tenant": tenant,
        "user_id": "u1",
        "query": "where do I live?",
        "conversation_id": "c1",
        "project_id": None,
        "reference_time": None,
        "token_budget": 2000,
        "limits": {"answer_facts": 5, "supporting_facts": 12, "background_facts": 8},
        "include_debug": False,
        # Recall over documents (API.md §8): the document and the span cap are passed on.
        "document_id": "d1",
        "collection_id": None,
        "document_chunks": 5,
    }


# --- Scope visibility of recalled facts ---------------------------------------------------


def _recalled(api: Api, **body: Any) -> tuple[set[str], str]:
    response = api.post("/v6/recall", {"user_id": "u1"} | body)
    assert response.status_code == 200
    result = response.json()
    facts = result["answer_facts"] + result["supporting_facts"] + result["background_context"]
    return {f["source_event_id"] for f in facts}, result["llm_context"]["text"]


@pytest.fixture
def scoped(tenant: Tenant) -> dict[str, str]:
    """One global, one project-scoped and one conversation-scoped statement."""
    return {
        "global": str(ingest_enriched(tenant, "I live in Lisbon.", conversation_id="c1").id),
        "project": str(
            ingest_enriched(
                tenant,
                "I prefer React for the frontend.",
                conversation_id="c2",
                project_id="p1",
                scope="project",
                minutes=1,
            ).id
        ),
        "conversation": str(
            ingest_enriched(
                tenant,
                "I work at Equinor as a geologist.",
                conversation_id="c3",
                scope="conversation",
                minutes=2,
            ).id
        ),
    }


QUERY = "Where do I live, which frontend framework do I prefer and where do I work?"


def test_project_fact_only_with_its_project(api: Api, scoped: dict[str, str]) -> None:
    with_project, _ = _recalled(api, query=QUERY, conversation_id="c9", project_id="p1")
    assert scoped["project"] in with_project
    for other in ({"project_id": "p2"}, {}):
        ids, text = _recalled(api, query=QUERY, conversation_id="c9", **other)
        assert scoped["project"] not in ids
        assert "React" not in text


def test_conversation_fact_only_in_its_conversation(api: Api, scoped: dict[str, str]) -> None:
    inside, _ = _recalled(api, query=QUERY, conversation_id="c3")
    assert scoped["conversation"] in inside
    for other in ({"conversation_id": "c1"}, {}):
        ids, text = _recalled(api, query=QUERY, **other)
        assert scoped["conversation"] not in ids
        assert "Equinor" not in text


def test_global_fact_everywhere(api: Api, scoped: dict[str, str]) -> None:
    for where in ({}, {"conversation_id": "c3"}, {"conversation_id": "c2", "project_id": "p1"}):
        ids, _ = _recalled(api, query="Where do I live?", **where)
        assert scoped["global"] in ids


def test_other_tenant_recalls_nothing_on_v6(other_api: Api, scoped: dict[str, str]) -> None:
    ids, text = _recalled(other_api, query=QUERY, conversation_id="c3", project_id="p1")
    assert ids == set() and text == ""
