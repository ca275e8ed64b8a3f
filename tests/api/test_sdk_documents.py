"""The official SDK (claiv-memory 0.6.4), unchanged, against a live server: every document
and collection method, and recall with `document_id` and `collection_id` (API.md §8)."""

from __future__ import annotations

import pytest

from memory.embedding import embedder
from memory.models import Document, DocumentSpan
from tenants.models import Tenant
from tests.api.test_sdk import ClaivApiError, Sdk, sdk, sdk_process  # noqa: F401 (fixtures)
from tests.support.manual import MANUAL

pytestmark = pytest.mark.sdk


def test_every_document_and_collection_method(sdk: Sdk, tenant: Tenant) -> None:  # noqa: F811
    # The live server runs in this process: load the embedding model before the SDK's
    # 30-second timeout starts counting (a cold load takes 15 s or more on a busy machine).
    embedder().embed(["warm up"])
    sdk = sdk.with_client(timeout=120)
    collection = sdk.create_collection(
        {"user_id": "u1", "project_id": "p1", "name": "Guides", "ordered": True}
    )["collection"]
    cid = collection["collection_id"]
    assert collection["tenant_id"] == tenant.slug and collection["document_count"] == 0

    uploaded = sdk.upload_document(
        {
            "user_id": "u1",
            "project_id": "p1",
            "document_name": "Skyline Manual",
            "document_id": "manual",
            "content": MANUAL,
            "collection_id": cid,
            "position": 0,
        }
    )
    assert uploaded["document_id"] == "manual" and uploaded["status"] == "processing"
    assert uploaded["collection_id"] == cid
    assert uploaded["spans_created"] == DocumentSpan.objects.count()
    assert uploaded["sections"][1]["title"] == "Installation"
    second = sdk.upload_document(
        {
            "user_id": "u1",
            "project_id": "p1",
            "document_name": "Kayak Guide",
            "content": "# Kayak Guide\n\n## Safety\n\nAlways wear a life jacket on the water.\n",
        }
    )
    generated = second["document_id"]
    assert second["collection_id"] is None

    listing = sdk.list_documents(user_id="u1")
    assert listing["total"] == 2
    assert {d["document_id"] for d in listing["documents"]} == {"manual", generated}
    in_collection = sdk.list_documents(user_id="u1", collection_id=cid, limit=5)
    assert [d["document_id"] for d in in_collection["documents"]] == ["manual"]
    assert in_collection["limit"] == 5
    assert sdk.list_documents(user_id="u1", project_id="other")["total"] == 0

    assert sdk.add_document_to_collection(cid, {"document_id": generated, "user_id": "u1"}) == {
        "added": True,
        "collection_id": cid,
        "document_id": generated,
    }
    got = sdk.get_collection(cid, user_id="u1")
    assert [d["document_id"] for d in got["documents"]] == ["manual", generated]
    assert got["collection"]["document_count"] == 2
    assert [c["collection_id"] for c in sdk.list_collections(user_id="u1")["collections"]] == [cid]

    section = sdk.recall(
        {
            "user_id": "u1",
            "conversation_id": "c1",
            "query": "show me the installation section",
            "document_id": "manual",
        }
    )
    text = section["llm_context"]["text"]
    assert text.index("Unpack the router") < text.index("solid blue")
    assert section["answer_facts"][0]["document_name"] == "Skyline Manual"
    local = sdk.recall(
        {
            "user_id": "u1",
            "conversation_id": "c1",
            "query": "what should I wear on the water?",
            "collection_id": cid,  # not in the SDK's types, sent all the same
            "limits": {"document_chunks": 3},
        }
    )
    assert "life jacket" in local["llm_context"]["text"]
    assert {f["document_id"] for f in local["answer_facts"]} <= {"manual", generated}

    assert sdk.remove_document_from_collection(cid, generated) == {
        "removed": True,
        "collection_id": cid,
        "document_id": generated,
    }
    deleted = sdk.delete_document(generated)
    assert deleted["deleted"] is True and deleted["document_id"] == generated
    with pytest.raises(ClaivApiError) as missing:
        sdk.delete_document(generated)
    assert missing.value.status == 404 and missing.value.code == "not_found"
    forgot = sdk.forget({"user_id": "u1", "document_id": "manual"})
    assert forgot["deleted_counts"]["chunks"] > 0
    assert Document.objects.count() == 0
    assert sdk.delete_collection(cid, user_id="u1") == {"deleted": True, "collection_id": cid}
    assert sdk.list_collections(user_id="u1")["collections"] == []
