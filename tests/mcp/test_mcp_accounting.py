"""MCP requests get the REST request accounting (claiv.mcp.accounting), through the official
client against a real gunicorn: X-Request-ID echoed or made, request metrics, usage per
tool (API.md §6) with recall tokens and ingested events, and the per-key rate limit."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from django.test import Client, override_settings
from mcp import Client as McpClient
from mcp.client.streamable_http import streamable_http_client
from prometheus_client.parser import text_string_to_metric_families

from keys.models import ApiKey
from keys.services import api_key_create
from memory.audit import audit_flush, audit_pseudonym
from memory.metering import usage_flush
from memory.models import AuditEntry
from tenants.models import Tenant
from tenants.services import tenant_rate_limit_set
from tests.claiv.test_server import Server
from tests.conftest import Api
from tests.mcp.conftest import mcp_calls, run_async, url_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

METRICS_TOKEN = "metrics-test-token-0123456789"


async def _calls_with_headers(
    server: Server, raw_key: str, request_id: str | None, calls: list[tuple[str, dict]]
) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []

    async def keep(response: Any) -> None:
        seen.append({k.lower(): v for k, v in response.headers.items()})

    headers = {"Authorization": f"Bearer {raw_key}"}
    if request_id:
        headers["X-Request-ID"] = request_id
    async with httpx2.AsyncClient(
        headers=headers, timeout=120, event_hooks={"response": [keep]}
    ) as http:
        async with McpClient(streamable_http_client(url_of(server), http_client=http)) as client:  # type: ignore[arg-type]
            for name, args in calls:
                result = await client.call_tool(name, args)
                assert result.is_error is False, result.content
    return seen


def _metric(text: str, labels: dict[str, str]) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "claiv_http_request_duration_seconds_count" and (
                sample.labels == labels
            ):
                return float(sample.value)
    return 0.0


def _scrape() -> str:
    with override_settings(CLAIV_METRICS_TOKEN=METRICS_TOKEN):
        response = Client().get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    return response.content.decode()


def test_request_ids_metrics_and_usage(
    mcp_server: Server, api: Api, api_key: tuple[ApiKey, str]
) -> None:
    labels = {"method": "POST", "route": "mcp", "status_class": "2xx"}
    before = _metric(_scrape(), labels)
    calls = [
        (
            "memory_ingest",
            {
                "user_id": "u1",
                "conversation_id": "c1",
                "content": "I live in Oslo.",
                "role": "user",
            },
        ),
        ("memory_recall", {"user_id": "u1", "query": "Where do I live?", "token_budget": 300}),
    ]
    given = run_async(_calls_with_headers, mcp_server, api_key[1], "mcp-trace-1", calls)
    assert given and {h.get("x-request-id") for h in given} == {"mcp-trace-1"}
    made = run_async(_calls_with_headers, mcp_server, api_key[1], None, calls[1:])
    ids = [h.get("x-request-id") for h in made]
    assert all(ids) and len(set(ids)) == len(ids)  # one new id per HTTP request
    # One histogram sample per HTTP request, in the server's process.
    assert _metric(_scrape(), labels) - before == len(given) + len(made)

    usage_flush()
    endpoints = {
        e["endpoint"]: e for e in api.get("/v1/usage/breakdown", range="today").json()["endpoints"]
    }
    assert endpoints["MCP memory_ingest"]["requests"] == 1
    assert endpoints["MCP memory_recall"]["requests"] == 2
    assert endpoints["POST /mcp"]["requests"] >= 1  # the handshakes and the like
    totals = api.get("/v1/usage/summary", range="today").json()["totals"]
    assert totals["ingest_events"] == 1 and totals["ingest_requests"] == 1
    assert totals["recall_requests"] == 2 and totals["tokens"] > 0

    # Every write and recall served is in the audit trail, with the MCP request's id.
    audit_flush()
    trail = list(
        AuditEntry.objects.filter(endpoint__startswith="MCP ")
        .order_by("at", "id")
        .values_list("action", "endpoint", "actor", "user_id", "request_id")
    )
    prefix = api_key[0].prefix
    assert trail[:2] == [
        ("ingest", "MCP memory_ingest", prefix, "u1", "mcp-trace-1"),
        ("recall", "MCP memory_recall", prefix, "u1", "mcp-trace-1"),
    ]
    assert len(trail) == 3 and trail[2][4] in ids


def test_a_whole_user_forget_over_mcp_pseudonymises_the_trail(
    mcp_server: Server, api_key: tuple[ApiKey, str], tenant: Tenant
) -> None:
    ingest = {"user_id": "u9", "conversation_id": "c1", "content": "I like tea.", "role": "user"}
    run_async(
        _calls_with_headers,
        mcp_server,
        api_key[1],
        None,
        [("memory_ingest", ingest), ("memory_forget", {"user_id": "u9"})],
    )
    audit_flush()
    assert not AuditEntry.objects.filter(tenant=tenant, user_id="u9").exists()
    pseudonym = audit_pseudonym(tenant_id=str(tenant.pk), user_id="u9")
    assert list(
        AuditEntry.objects.filter(tenant=tenant, user_id=pseudonym)
        .order_by("at", "id")
        .values_list("action", flat=True)
    ) == ["ingest", "forget"]


def test_the_rate_limit_per_key_applies_to_tool_calls(mcp_server: Server, tenant: Tenant) -> None:
    tenant_rate_limit_set(tenant=tenant, per_minute=2)
    raw = api_key_create(tenant=tenant)[1]
    recall = ("memory_recall", {"user_id": "u1", "query": "anything", "token_budget": 200})
    _version, answers = mcp_calls(mcp_server, raw, [recall, recall, recall])
    assert [a.is_error for a in answers] == [False, False, True]
    assert answers[2].body["error"]["code"] == "rate_limited"
    # Another key of the same tenant has its own budget.
    other = api_key_create(tenant=tenant)[1]
    assert mcp_calls(mcp_server, other, [recall])[1][0].is_error is False
