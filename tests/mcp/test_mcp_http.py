"""The MCP server over Streamable HTTP at /mcp, with the official client, against a real
gunicorn: every tool of the ingest/recall/forget family, both protocol eras, the key's
tenant and scopes, 401s, and the server's request guard."""

from __future__ import annotations

import http.client
import json

import pytest

from keys.models import ApiKey
from keys.services import api_key_create, api_key_revoke
from memory.models import DeletionReceipt, Event, Fact
from tenants.models import Tenant
from tests.claiv.test_server import Server, _raw
from tests.mcp.conftest import mcp_call, mcp_calls, run_async

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOOLS = {
    # name: (readOnlyHint, destructiveHint)
    "memory_ingest": (False, False),
    "memory_status": (True, False),
    "memory_recall": (True, False),
    "memory_search": (True, False),
    "memory_list_recent": (True, False),
    "memory_add": (False, False),
    "memory_correct": (False, False),
    "memory_forget": (False, True),
    "memory_record_decision": (False, False),
    "document_upload": (False, False),
    "document_list": (True, False),
}
WWW_AUTHENTICATE = 'Bearer error="invalid_token", error_description="Authentication required"'


@pytest.fixture
def raw_key(api_key: tuple[ApiKey, str]) -> str:
    return api_key[1]


def _ingest(server: Server, raw_key: str, content: str, **extra: str) -> str:
    answer = mcp_call(
        server,
        raw_key,
        "memory_ingest",
        user_id="u1",
        conversation_id="c1",
        content=content,
        role="user",
        **extra,
    )
    assert answer.is_error is False, answer.body
    return str(answer.body["event_id"])


def _post_mcp(
    server: Server, headers: dict[str, str], body: bytes = b"{}"
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    try:
        conn.request(
            "POST",
            "/mcp",
            body=body,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                **headers,
            },
        )
        response = conn.getresponse()
        return (response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def test_tools_are_listed_with_their_annotations(mcp_server: Server, raw_key: str) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def listed() -> dict[str, tuple[bool | None, bool | None]]:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {raw_key}"}) as http:
            url = f"http://{mcp_server.host}:{mcp_server.port}/mcp"
            async with Client(streamable_http_client(url, http_client=http)) as client:
                tools = (await client.list_tools()).tools
        return {
            t.name: (t.annotations.read_only_hint, t.annotations.destructive_hint)
            for t in tools
            if t.annotations is not None
        }

    assert run_async(listed) == TOOLS


def test_ingest_status_recall_forget(mcp_server: Server, raw_key: str, tenant: Tenant) -> None:
    version, answers = mcp_calls(
        mcp_server,
        raw_key,
        [
            (
                "memory_ingest",
                {
                    "user_id": "u1",
                    "conversation_id": "c1",
                    "role": "user",
                    "content": "I live in Lisbon.",
                },
            )
        ],
    )
    assert version == "2026-07-28"
    event_id = answers[0].body["event_id"]
    assert answers[0].body == {"event_id": event_id, "deduped": False}
    event = Event.objects.get(tenant=tenant, id=event_id)
    assert (event.user_id, event.conversation_id, event.content) == (
        "u1",
        "c1",
        "I live in Lisbon.",
    )
    fact_ids = sorted(
        str(i)
        for i in Fact.objects.filter(tenant=tenant, source_event=event).values_list("id", flat=True)
    )
    assert fact_ids  # enriched in the server (eager): the tools below see it at once

    status = mcp_call(mcp_server, raw_key, "memory_status", event_id=event_id)
    assert status.is_error is False
    assert status.body == {
        "event_id": event_id,
        "user_id": "u1",
        "conversation_id": "c1",
        "status": "enriched",
        "stage": status.body["stage"],
        "fact_ids": status.body["fact_ids"],
        "error": None,
    }
    assert sorted(status.body["fact_ids"]) == fact_ids

    recall = mcp_call(
        mcp_server,
        raw_key,
        "memory_recall",
        user_id="u1",
        query="Where does the user live?",
        token_budget=500,
    )
    assert recall.is_error is False
    assert "Lisbon" in recall.body["context"]
    assert recall.body["citations"] == [event_id]
    assert 0 < recall.body["token_estimate"] <= 500

    forget = mcp_call(mcp_server, raw_key, "memory_forget", user_id="u1")
    assert forget.is_error is False
    receipt = DeletionReceipt.objects.get(tenant=tenant, id=forget.body["receipt_id"])
    assert forget.body["deleted_counts"] == receipt.deleted_counts
    assert receipt.deleted_counts["facts"] == len(fact_ids)
    assert Fact.objects.filter(tenant=tenant).count() == 0

    after = mcp_call(
        mcp_server,
        raw_key,
        "memory_recall",
        user_id="u1",
        query="Where does the user live?",
        token_budget=500,
    )
    assert "Lisbon" not in after.body["context"]
    assert after.body["citations"] == []


def test_a_2025_client_is_served(mcp_server: Server, raw_key: str, tenant: Tenant) -> None:
    version, answers = mcp_calls(
        mcp_server,
        raw_key,
        [
            (
                "memory_ingest",
                {"user_id": "u9", "conversation_id": "c9", "content": "I drive a red Tesla."},
            ),
            ("memory_recall", {"user_id": "u9", "query": "What car do I drive?"}),
        ],
        mode="legacy",
    )
    assert version == "2025-11-25"
    assert [a.is_error for a in answers] == [False, False]
    assert Event.objects.filter(tenant=tenant, id=answers[0].body["event_id"]).count() == 1
    assert answers[1].body["citations"] == [answers[0].body["event_id"]]


def test_another_tenant_sees_nothing(
    mcp_server: Server, raw_key: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    event_id = _ingest(mcp_server, raw_key, "I live in Lisbon.")
    facts_before = Fact.objects.filter(tenant=tenant).count()
    other_key = api_key_create(tenant=other_tenant, name="other")[1]

    status = mcp_call(mcp_server, other_key, "memory_status", event_id=event_id)
    assert status.is_error is True
    assert status.body["error"]["code"] == "not_found"
    # Exactly like an id that does not exist.
    missing = mcp_call(
        mcp_server, other_key, "memory_status", event_id="00000000-0000-0000-0000-000000000000"
    )
    assert missing.body == status.body

    recall = mcp_call(
        mcp_server, other_key, "memory_recall", user_id="u1", query="Where does the user live?"
    )
    assert (recall.body["context"], recall.body["citations"]) == ("", [])

    forget = mcp_call(mcp_server, other_key, "memory_forget", user_id="u1")
    assert forget.is_error is False
    assert forget.body["deleted_counts"]["facts"] == 0
    assert Fact.objects.filter(tenant=tenant).count() == facts_before > 0
    assert DeletionReceipt.objects.filter(tenant=tenant).count() == 0


def test_a_key_without_the_scope_gets_an_error_and_changes_nothing(
    mcp_server: Server, raw_key: str, tenant: Tenant
) -> None:
    _ingest(mcp_server, raw_key, "I live in Lisbon.")
    facts = Fact.objects.filter(tenant=tenant).count()
    read_only = api_key_create(tenant=tenant, name="ro", scopes=["memory:read"])[1]

    ingest = mcp_call(
        mcp_server,
        read_only,
        "memory_ingest",
        user_id="u1",
        conversation_id="c1",
        content="I moved to Porto.",
    )
    assert ingest.is_error is True
    assert ingest.body["error"]["code"] == "forbidden"
    assert ingest.body["error"]["details"] == {"required_scope": "memory:write"}
    forget = mcp_call(mcp_server, read_only, "memory_forget", user_id="u1")
    assert forget.is_error is True
    assert forget.body["error"]["details"] == {"required_scope": "memory:forget"}
    assert Event.objects.filter(tenant=tenant).count() == 1
    assert Fact.objects.filter(tenant=tenant).count() == facts
    assert DeletionReceipt.objects.filter(tenant=tenant).count() == 0

    write_only = api_key_create(tenant=tenant, name="wo", scopes=["memory:write"])[1]
    recall = mcp_call(mcp_server, write_only, "memory_recall", user_id="u1", query="home?")
    assert recall.body["error"]["details"] == {"required_scope": "memory:read"}


def test_bad_input_is_an_error_and_stores_nothing(
    mcp_server: Server, raw_key: str, tenant: Tenant
) -> None:
    answer = mcp_call(
        mcp_server,
        raw_key,
        "memory_ingest",
        user_id="u1",
        conversation_id="c1",
        content="hello",
        type="bogus",
    )
    assert answer.is_error is True
    assert answer.body["error"]["code"] == "invalid_request"
    assert list(answer.body["error"]["details"]["fields"]) == ["type"]
    budget = mcp_call(
        mcp_server, raw_key, "memory_recall", user_id="u1", query="x", token_budget=10
    )
    assert list(budget.body["error"]["details"]["fields"]) == ["token_budget"]
    assert Event.objects.filter(tenant=tenant).count() == 0


@pytest.mark.parametrize(
    "authorization", [None, "Bearer ck_nope1234_" + "x" * 43, "Basic dXNlcjpwYXNz"]
)
def test_no_or_a_bad_key_is_401_with_www_authenticate(
    mcp_server: Server, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    status, headers_out, body = _post_mcp(mcp_server, headers)
    assert status == 401
    assert headers_out["www-authenticate"] == WWW_AUTHENTICATE
    assert json.loads(body) == {
        "error": "invalid_token",
        "error_description": "Authentication required",
    }


def test_a_revoked_key_is_refused_on_its_next_request(
    mcp_server: Server, api_key: tuple[ApiKey, str], tenant: Tenant
) -> None:
    key, raw = api_key
    _ingest(mcp_server, raw, "I live in Lisbon.")
    api_key_revoke(key=key)
    status, headers, _body = _post_mcp(mcp_server, {"Authorization": f"Bearer {raw}"})
    assert (status, headers["www-authenticate"]) == (401, WWW_AUTHENTICATE)
    assert Event.objects.filter(tenant=tenant).count() == 1


def test_the_request_guard_still_applies(mcp_server: Server, raw_key: str) -> None:
    # Refused on its Content-Length alone, before any body is read (or sent: the server
    # closes the connection, so a test that wrote the whole body could hit a broken pipe).
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {raw_key}\r\n"
        "Content-Type: application/json\r\nAccept: application/json, text/event-stream"
        f"\r\nContent-Length: {1024 * 1024 + 1}\r\n\r\n"
    ).encode()
    status, _headers, body = _raw(mcp_server.port, head)
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"
