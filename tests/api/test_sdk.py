"""The official Python SDK (claiv-memory 0.6.4), unchanged, against a live server.

The SDK runs in a child process (see sdk_bridge.py: its import name `claiv` collides with
this project's package); `Sdk` forwards each method call to it over a pipe.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from keys.models import ApiKey
from memory.models import Event
from tenants.models import Tenant
from tenants.services import tenant_rate_limit_set
from tests.factories import enrich

pytestmark = pytest.mark.sdk

BRIDGE = Path(__file__).with_name("sdk_bridge.py")


class ClaivApiError(Exception):
    """What the SDK's ClaivApiError carried, as seen across the pipe."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.type = error["type"]
        self.status = error.get("status")
        self.code = error.get("code")
        self.request_id = error.get("request_id")
        self.details = error.get("details")


@dataclass
class Sdk:
    process: subprocess.Popen[str]
    client: dict[str, Any] = field(default_factory=dict)

    def with_client(self, **options: Any) -> Sdk:
        return Sdk(process=self.process, client=self.client | options)

    def __getattr__(self, method: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            assert self.process.stdin is not None and self.process.stdout is not None
            self.process.stdin.write(
                json.dumps(
                    {"client": self.client, "method": method, "args": args, "kwargs": kwargs}
                )
                + "\n"
            )
            self.process.stdin.flush()
            answer = json.loads(self.process.stdout.readline())
            if "error" in answer:
                raise ClaivApiError(answer["error"])
            return answer["result"]

        return call


@pytest.fixture(scope="session")
def sdk_process() -> Iterator[subprocess.Popen[str]]:
    with tempfile.TemporaryDirectory() as cwd:
        process = subprocess.Popen(
            [sys.executable, "-I", str(BRIDGE)],
            cwd=cwd,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        yield process
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


@pytest.fixture
def sdk(live_server: Any, api_key: tuple[ApiKey, str], sdk_process: subprocess.Popen[str]) -> Sdk:
    # The base URL is the server root: every SDK method carries its own /v1 or /v6 path.
    return Sdk(
        process=sdk_process,
        client={"api_key": api_key[1], "base_url": live_server.url, "max_retries": 0},
    )


def test_ingest_recall_forget_receipts_usage_round_trip(sdk: Sdk, tenant: Tenant) -> None:
    assert sdk.health_check() == {"ok": True}
    ingested = sdk.ingest(
        {
            "user_id": "u1",
            "type": "message",
            "content": "I live in Paris",
            "conversation_id": "c1",
            "role": "user",
        }
    )
    assert ingested["deduped"] is False
    assert sdk.ingest(
        {
            "user_id": "u1",
            "type": "message",
            "content": "I live in Paris",
            "conversation_id": "c1",
            "role": "user",
        }
    ) == ingested | {"deduped": True}
    enrich(Event.objects.get(pk=ingested["event_id"]))  # the worker's job, done in-process

    recalled = sdk.recall(
        {
            "user_id": "u1",
            "conversation_id": "c1",
            "query": "where do I live?",
            "reference_time": None,
            "limits": {"answer_facts": 12, "document_chunks": 5},
        }
    )
    assert "Paris" in recalled["llm_context"]["text"]
    facts = recalled["answer_facts"] + recalled["supporting_facts"]
    assert ingested["event_id"] in {f["source_event_id"] for f in facts}

    forgot = sdk.forget({"user_id": "u1"})
    assert forgot["deleted_counts"]["facts"] >= 1
    assert set(forgot["deleted_counts"]) >= {
        "events",
        "chunks",
        "episodes",
        "facts",
        "claims",
        "open_loops",
    }
    after = sdk.recall({"user_id": "u1", "conversation_id": "c2", "query": "where do I live?"})
    assert "Paris" not in after["llm_context"]["text"]

    listing = sdk.list_deletion_receipts()
    assert [r["receipt_id"] for r in listing["receipts"]] == [forgot["receipt_id"]]
    assert (listing["total"], listing["limit"], listing["offset"]) == (1, 20, 0)
    assert sdk.list_deletion_receipts(user_id="u2")["total"] == 0
    receipt = sdk.get_deletion_receipt(forgot["receipt_id"])
    assert receipt == listing["receipts"][0]
    assert receipt["scope"]["user_id"] == "u1" and receipt["completed_at"]

    # Requests so far: 2 ingests, 2 recalls, 1 forget, 2 lists, 1 get (health has no tenant).
    summary = sdk.get_usage_summary("today")
    totals = summary["totals"]
    assert (
        totals["requests"],
        totals["ingest_requests"],
        totals["recall_requests"],
        totals["forget_requests"],
        totals["ingest_events"],
        totals["errors"],
    ) == (8, 2, 2, 1, 1, 0)
    assert totals["tokens"] == recalled["token_estimate"] + after["token_estimate"]
    breakdown = sdk.get_usage_breakdown("7d")
    counts = {e["endpoint"]: e["requests"] for e in breakdown["endpoints"]}
    assert counts == {
        "POST /v6/ingest": 2,
        "POST /v6/recall": 2,
        "POST /v6/forget": 1,
        "GET /v1/deletion-receipts": 2,
        "GET /v1/deletion-receipts/{receipt_id}": 1,
        "GET /v1/usage/summary": 1,
    }
    limits = sdk.get_usage_limits()
    assert limits["is_within_quota"] is True
    assert limits["limits"]["requests"]["used"] == 10


def test_v5_and_v2_methods_reach_their_aliases(sdk: Sdk, tenant: Tenant) -> None:
    event = sdk.ingest_v5(
        {
            "user_id": "u1",
            "type": "message",
            "content": "I like tea",
            "thread_id": "t1",
            "event_time": 1714554000,
        }
    )
    assert Event.objects.get(pk=event["event_id"]).conversation_id == "t1"
    assert (
        sdk.recall_v2({"user_id": "u1", "task": "drinks?", "token_budget": 500, "thread_id": "t1"})[
            "token_estimate"
        ]
        >= 0
    )
    assert "receipt_id" in sdk.forget_v2({"user_id": "u1", "thread_id": "t1"})


def test_sdk_error_class_sees_status_and_code(
    live_server: Any, sdk: Sdk, tenant: Tenant, frozen_ratelimit_clock: float
) -> None:
    stranger = sdk.with_client(api_key="ck_nothing_" + "x" * 43)
    with pytest.raises(ClaivApiError) as unauthorized:
        stranger.get_usage_limits()
    assert unauthorized.value.type == "ClaivApiError"
    assert (unauthorized.value.status, unauthorized.value.code) == (401, "unauthorized")
    assert unauthorized.value.request_id

    with pytest.raises(ClaivApiError) as missing:
        sdk.get_deletion_receipt(str(uuid.uuid4()))
    assert (missing.value.status, missing.value.code) == (404, "not_found")

    with pytest.raises(ClaivApiError) as unknown_route:
        sdk.feedback_v6("r1", {"selected_ids": []})  # a route the SDK knows, this server not
    assert (unknown_route.value.status, unknown_route.value.code) == (404, "not_found")

    # The receipt lookup above was this key's first counted request of the window (the
    # unknown route never reaches a view); the usage call is its second.
    tenant_rate_limit_set(tenant=tenant, per_minute=2)
    sdk.get_usage_limits()
    with pytest.raises(ClaivApiError) as limited:
        sdk.get_usage_limits()
    assert (limited.value.status, limited.value.code) == (429, "rate_limited")
    assert 1 <= limited.value.details["retry_after"] <= 60

    with pytest.raises(ClaivApiError) as invalid:
        sdk.ingest({"user_id": "u1", "type": "message", "content": "x"})  # no conversation_id
    assert (invalid.value.status, invalid.value.code) == (429, "rate_limited")
