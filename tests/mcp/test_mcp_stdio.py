"""`manage.py mcp`: the stdio server, spawned by the official client, forwarding to a real
gunicorn with the key from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from keys.models import ApiKey
from memory.models import DeletionReceipt, Event, Fact
from tenants.models import Tenant
from tests.claiv.test_server import ROOT, Server
from tests.mcp.conftest import run_async

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _stdio_calls(
    server: Server, raw_key: str, calls: list[tuple[str, dict[str, Any]]]
) -> list[tuple[bool, Any]]:
    env = {
        **os.environ,
        "CLAIV_BASE_URL": f"http://{server.host}:{server.port}",
        "CLAIV_API_KEY": raw_key,
    }
    params = StdioServerParameters(
        command=sys.executable, args=["manage.py", "mcp"], env=env, cwd=str(ROOT)
    )

    async def run() -> list[tuple[bool, Any]]:
        async with Client(params) as client:
            results = [await client.call_tool(name, args) for name, args in calls]
        return [(bool(r.is_error), json.loads(r.content[0].text)) for r in results]

    return run_async(run)


def test_ingest_recall_forget_over_stdio(
    mcp_server: Server, api_key: tuple[ApiKey, str], tenant: Tenant
) -> None:
    answers = _stdio_calls(
        mcp_server,
        api_key[1],
        [
            (
                "memory_ingest",
                {
                    "user_id": "u1",
                    "conversation_id": "c1",
                    "role": "user",
                    "content": "I live in Lisbon.",
                },
            ),
            (
                "memory_recall",
                {"user_id": "u1", "query": "Where does the user live?", "token_budget": 500},
            ),
            ("memory_forget", {"user_id": "u1"}),
            ("memory_recall", {"user_id": "u1", "query": "Where does the user live?"}),
        ],
    )
    assert [error for error, _ in answers] == [False, False, False, False]
    (_, ingest), (_, recall), (_, forget), (_, after) = answers
    event = Event.objects.get(tenant=tenant, id=ingest["event_id"])
    assert (event.user_id, event.content) == ("u1", "I live in Lisbon.")
    assert "Lisbon" in recall["context"]
    assert recall["citations"] == [ingest["event_id"]]
    receipt = DeletionReceipt.objects.get(tenant=tenant, id=forget["receipt_id"])
    assert forget["deleted_counts"] == receipt.deleted_counts
    assert Fact.objects.filter(tenant=tenant).count() == 0
    assert (after["citations"], "Lisbon" in after["context"]) == ([], False)


def test_the_server_s_refusals_reach_the_agent(mcp_server: Server, tenant: Tenant) -> None:
    from keys.services import api_key_create

    read_only = api_key_create(tenant=tenant, name="ro", scopes=["memory:read"])[1]
    [(error, body), (status_error, status)] = _stdio_calls(
        mcp_server,
        read_only,
        [
            ("memory_ingest", {"user_id": "u1", "conversation_id": "c1", "content": "hi"}),
            ("memory_status", {"event_id": "00000000-0000-0000-0000-000000000000"}),
        ],
    )
    assert error is True
    assert body["error"]["code"] == "forbidden"
    assert (status_error, status["error"]["code"]) == (True, "not_found")
    assert Event.objects.filter(tenant=tenant).count() == 0


def test_the_command_refuses_to_start_without_its_environment() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CLAIV_BASE_URL", "CLAIV_API_KEY")}
    done = subprocess.run(
        [sys.executable, "manage.py", "mcp"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert "CLAIV_BASE_URL" in done.stderr
    assert done.stdout == ""
