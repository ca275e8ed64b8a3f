"""The document tools (document_upload, document_list) over Streamable HTTP and stdio: an
uploaded document is listed and recalled at once; another tenant sees nothing."""

from __future__ import annotations

import pytest

from keys.models import ApiKey
from keys.services import api_key_create
from memory.models import Document, DocumentTag
from tenants.models import Tenant
from tests.claiv.test_server import Server
from tests.mcp.conftest import mcp_call
from tests.mcp.test_mcp_stdio import _stdio_calls
from tests.support.manual import MANUAL

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def raw_key(api_key: tuple[ApiKey, str]) -> str:
    return api_key[1]


def test_an_uploaded_document_is_listed_and_recalled(
    mcp_server: Server, raw_key: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    uploaded = mcp_call(
        mcp_server,
        raw_key,
        "document_upload",
        user_id="u1",
        project_id="p1",
        document_name="Skyline Manual",
        content=MANUAL,
        document_id="manual",
    )
    assert uploaded.is_error is False, uploaded.body
    assert uploaded.body["document_id"] == "manual" and uploaded.body["spans_created"] > 0
    assert Document.objects.get(tenant=tenant).name == "Skyline Manual"
    listed = mcp_call(mcp_server, raw_key, "document_list", user_id="u1")
    assert [d["document_id"] for d in listed.body["documents"]] == ["manual"]
    recall = mcp_call(
        mcp_server, raw_key, "memory_recall", user_id="u1", query="how long is the warranty?"
    )
    assert "two years" in recall.body["context"] and "manual" in recall.body["citations"]
    other = api_key_create(tenant=other_tenant, name="other")[1]
    assert mcp_call(mcp_server, other, "document_list", user_id="u1").body["documents"] == []
    bad = mcp_call(
        mcp_server,
        raw_key,
        "document_upload",
        user_id="u1",
        project_id="p1",
        document_name="Empty",
        content="  ",
    )
    assert bad.is_error is True and bad.body["error"]["code"] == "invalid_request"


def test_document_tools_over_stdio(mcp_server: Server, raw_key: str, tenant: Tenant) -> None:
    [(e1, uploaded), (e2, listed)] = _stdio_calls(
        mcp_server,
        raw_key,
        [
            (
                "document_upload",
                {
                    "user_id": "u1",
                    "project_id": "p1",
                    "document_name": "Notes",
                    "content": "# Notes\n\nThe boiler is serviced every October.\n",
                },
            ),
            ("document_list", {"user_id": "u1", "project_id": "p1"}),
        ],
    )
    assert (e1, e2) == (False, False)
    assert listed["documents"][0]["document_id"] == uploaded["document_id"]
    assert listed["total"] == 1


def test_memory_ingest_tags_the_event_with_a_document_over_http_and_stdio(
    mcp_server: Server, raw_key: str, tenant: Tenant
) -> None:
    tagged = {"document_id": "manual", "document_name": "Skyline Manual"}
    over_http = mcp_call(
        mcp_server,
        raw_key,
        "memory_ingest",
        user_id="u1",
        conversation_id="c1",
        content="The router sits in the hall.",
        **tagged,
    )
    assert over_http.is_error is False, over_http.body
    [(error, over_stdio), (_, untagged)] = _stdio_calls(
        mcp_server,
        raw_key,
        [
            (
                "memory_ingest",
                {"user_id": "u1", "conversation_id": "c1", "content": "It is blue."} | tagged,
            ),
            ("memory_ingest", {"user_id": "u1", "conversation_id": "c1", "content": "Hello."}),
        ],
    )
    assert error is False, over_stdio
    tags = {
        str(t.event_id): (t.tenant_id, t.user_id, t.document_id, t.document_name)
        for t in DocumentTag.objects.all()
    }
    row = (tenant.pk, "u1", "manual", "Skyline Manual")
    assert tags == {over_http.body["event_id"]: row, over_stdio["event_id"]: row}
    assert untagged["event_id"] not in tags
