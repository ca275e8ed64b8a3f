"""Usage metering: counters per tenant/day/endpoint, flush to Postgres, the three reads,
work units from enrichment, quotas."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from memory.metering import usage_flush, usage_plan_set, usage_record
from memory.models import UsageCounter, WorkUnitCounter
from memory.usage import billing_cycle, latency_percentile, usage_breakdown, usage_summary
from tenants.models import Tenant
from tests.conftest import Api
from tests.factories import ingest, ingest_enriched

pytestmark = pytest.mark.django_db

TOTAL_KEYS = (
    "requests",
    "ingest_requests",
    "recall_requests",
    "forget_requests",
    "ingest_events",
    "tokens",
    "work_units",
    "errors",
    "request_bytes",
    "response_bytes",
)


def _today() -> date:
    return timezone.now().astimezone(UTC).date()


def _traffic(api: Api) -> dict[str, int]:
    """Two ingests (one a retry), a batch of two, a recall, a forget, a 400 and a 404."""
    bodies = []
    for body in (
        {"user_id": "u1", "type": "message", "content": "I live in Oslo.", "conversation_id": "c1"},
        {"user_id": "u1", "type": "message", "content": "I live in Oslo.", "conversation_id": "c1"},
    ):
        bodies.append(api.post("/v6/ingest", body))
    bodies.append(
        api.post(
            "/v1/ingest/batch",
            {
                "events": [
                    {"user_id": "u1", "type": "message", "content": "a"},
                    {"user_id": "u1", "type": "message", "content": "b"},
                ]
            },
        )
    )
    recall = api.post("/v1/recall", {"user_id": "u1", "task": "where?", "token_budget": 500})
    bodies += [
        recall,
        api.post("/v6/forget", {"user_id": "u9"}),
        api.post("/v1/ingest", {"user_id": "u1"}),
        api.get("/v1/events/nope"),
    ]
    return {
        "tokens": recall.json()["token_estimate"],
        "response_bytes": sum(len(r.content) for r in bodies),
    }


def test_summary_counts_every_request_exactly(api: Api) -> None:
    seen = _traffic(api)
    summary = api.get("/v1/usage/summary", range="today").json()
    today = _today().isoformat()
    assert (summary["range"], summary["start_date"], summary["end_date"]) == ("today", today, today)
    totals = summary["totals"]
    assert set(totals) == set(TOTAL_KEYS)
    assert {
        k: totals[k]
        for k in (
            "requests",
            "ingest_requests",
            "recall_requests",
            "forget_requests",
            "ingest_events",
            "errors",
            "tokens",
            "work_units",
            "response_bytes",
        )
    } == {
        "requests": 7,
        "ingest_requests": 4,
        "recall_requests": 1,
        "forget_requests": 1,
        "ingest_events": 3,
        "errors": 2,
        "tokens": seen["tokens"],
        "work_units": 0,
        "response_bytes": seen["response_bytes"],
    }
    assert totals["request_bytes"] > 0
    assert summary["daily"] == [
        {
            "date": today,
            "requests": 7,
            "ingest_events": 3,
            "tokens": seen["tokens"],
            "work_units": 0,
            "errors": 2,
        }
    ]


def test_flush_moves_counts_to_postgres_without_changing_them(api: Api, tenant: Tenant) -> None:
    _traffic(api)
    before = usage_summary(tenant=tenant, range="7d")
    assert UsageCounter.objects.filter(tenant=tenant).count() == 0
    assert usage_flush(tenant_id=tenant.pk) == 6  # one hash per endpoint used
    assert UsageCounter.objects.filter(tenant=tenant).count() == 6
    assert usage_flush(tenant_id=tenant.pk) == 0
    assert usage_summary(tenant=tenant, range="7d") == before
    # Counting goes on after a flush, into the same row on the next flush.
    api.post("/v1/recall", {"user_id": "u1", "task": "x", "token_budget": 500})
    usage_flush(tenant_id=tenant.pk)
    row = UsageCounter.objects.get(tenant=tenant, endpoint="POST /v1/recall")
    assert row.requests == 2 and sum(row.latency_buckets) == 2


def test_summary_daily_covers_the_range_with_zeros(api: Api, tenant: Tenant) -> None:
    usage_record(
        tenant_id=tenant.pk,
        endpoint="POST /v6/ingest",
        status=200,
        latency_ms=3,
        ingest_events=1,
        at=timezone.now() - timedelta(days=2),
    )
    summary = api.get("/v1/usage/summary").json()
    assert summary["range"] == "7d"
    days = [d["date"] for d in summary["daily"]]
    assert days == [(_today() - timedelta(days=6 - i)).isoformat() for i in range(7)]
    assert [d["requests"] for d in summary["daily"]] == [0, 0, 0, 0, 1, 0, 0]
    assert summary["totals"]["ingest_requests"] == 1


def test_work_units_are_events_that_reached_enriched(api: Api, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Oslo.")
    ingest_enriched(tenant, "I love hiking.", minutes=1)
    ingest(tenant, "not enriched yet", minutes=2)
    ingest_enriched(tenant, "System prompt here.", role="system", minutes=3)  # skipped
    assert WorkUnitCounter.objects.get(tenant=tenant).work_units == 2
    api.post("/v1/forget", {"user_id": "u1", "erase_events": True})
    summary = api.get("/v1/usage/summary", range="today").json()
    assert summary["totals"]["work_units"] == 2
    assert summary["daily"][0]["work_units"] == 2


def test_breakdown_per_endpoint_with_latency_percentiles(api: Api, tenant: Tenant) -> None:
    # Buckets (ms): 4 in 0–5, 2 in 25–50, 3 in 50–100, 1 in 500–1000, and the 503 in 10–25:
    # p50 = rank 5.5 → 25 + 25·(0.5/2) = 31.25; p95 = rank 10.45 → 500 + 500·0.45 = 725.
    for latency in (1, 2, 3, 4, 30, 40, 60, 70, 80, 900):
        usage_record(
            tenant_id=tenant.pk, endpoint="POST /v6/recall", status=200, latency_ms=latency
        )
    usage_record(tenant_id=tenant.pk, endpoint="POST /v6/recall", status=503, latency_ms=20)
    usage_record(tenant_id=tenant.pk, endpoint="POST /v6/ingest", status=200, latency_ms=7)
    usage_flush(tenant_id=tenant.pk)  # half flushed, half pending: the read merges both
    usage_record(tenant_id=tenant.pk, endpoint="POST /v6/ingest", status=400, latency_ms=9)
    body = usage_breakdown(tenant=tenant, range="30d")
    assert body["endpoints"] == [
        {
            "endpoint": "POST /v6/recall",
            "requests": 11,
            "errors": 1,
            "error_rate": 0.0909,
            "avg_latency_ms": 110.0,
            "p50_latency_ms": 31.2,
            "p95_latency_ms": 725.0,
        },
        {
            "endpoint": "POST /v6/ingest",
            "requests": 2,
            "errors": 1,
            "error_rate": 0.5,
            "avg_latency_ms": 8.0,
            "p50_latency_ms": 7.5,
            "p95_latency_ms": 9.8,
        },
    ]
    over_the_api = api.get("/v1/usage/breakdown", range="30d").json()
    assert over_the_api["endpoints"] == body["endpoints"]
    assert over_the_api["start_date"] == (_today() - timedelta(days=29)).isoformat()


def test_latency_percentile_from_buckets() -> None:
    assert latency_percentile([0] * 12, 0.5) == 0.0
    assert latency_percentile([4] + [0] * 11, 0.5) == 2.5  # within 0–5 ms
    assert latency_percentile([0] * 11 + [3], 0.95) == 10000.0  # open-ended: lower bound


def test_bad_range_is_400_and_other_tenant_sees_nothing(api: Api, other_api: Api) -> None:
    _traffic(api)
    response = api.get("/v1/usage/summary", range="1y")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "fields": {"range": ['"1y" is not a valid choice.']}
    }
    theirs = other_api.get("/v1/usage/summary", range="today").json()
    assert theirs["totals"] == dict.fromkeys(TOTAL_KEYS, 0)
    # Only their own call to the summary is on their books.
    endpoints = other_api.get("/v1/usage/breakdown").json()["endpoints"]
    assert [(e["endpoint"], e["requests"]) for e in endpoints] == [("GET /v1/usage/summary", 1)]
    limits = other_api.get("/v1/usage/limits").json()
    assert {k: v["used"] for k, v in limits["limits"].items()} == {
        "requests": 2,
        "tokens": 0,
        "work_units": 0,
        "ingest_events": 0,
    }


def test_limits_default_to_unlimited(api: Api) -> None:
    _traffic(api)
    body = api.get("/v1/usage/limits").json()
    start, reset = billing_cycle(cycle_day=1)
    unlimited = {"limit": None, "remaining": None, "percentage_used": 0.0}
    assert body == {
        "plan": "self-hosted",
        "billing_cycle_day": 1,
        "reset_date": reset.isoformat(),
        "is_within_quota": True,
        "limits": {
            "requests": {"used": 7} | unlimited,
            "tokens": {"used": body["limits"]["tokens"]["used"]} | unlimited,
            "work_units": {"used": 0} | unlimited,
            "ingest_events": {"used": 3} | unlimited,
        },
    }


def test_ingest_quota_refuses_ingest_with_quota_exceeded_but_not_forget(
    api: Api, tenant: Tenant
) -> None:
    usage_plan_set(tenant=tenant, plan="starter", ingest_events_quota=2)
    body = {"user_id": "u1", "type": "message", "conversation_id": "c1"}
    assert api.post("/v6/ingest", body | {"content": "one"}).status_code == 200
    assert api.post("/v6/ingest", body | {"content": "two"}).status_code == 200
    refused = api.post("/v6/ingest", body | {"content": "three"})
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["details"]["metric"] == "ingest_events"
    assert int(refused["Retry-After"]) == error["details"]["retry_after"] > 0
    assert api.post("/v6/forget", {"user_id": "u1"}).status_code == 200
    limits = api.get("/v1/usage/limits").json()
    assert limits["plan"] == "starter" and limits["is_within_quota"] is False
    assert limits["limits"]["ingest_events"] == {
        "used": 2,
        "limit": 2,
        "remaining": 0,
        "percentage_used": 100.0,
    }


def test_billing_cycle_boundaries() -> None:
    assert billing_cycle(cycle_day=15, today=date(2024, 3, 14)) == (
        date(2024, 2, 15),
        date(2024, 3, 15),
    )
    assert billing_cycle(cycle_day=15, today=date(2024, 3, 15)) == (
        date(2024, 3, 15),
        date(2024, 4, 15),
    )
    assert billing_cycle(cycle_day=1, today=date(2024, 12, 31)) == (
        date(2024, 12, 1),
        date(2025, 1, 1),
    )


def test_tenant_limits_command_shows_and_sets(tenant: Tenant) -> None:
    out = StringIO()
    call_command("tenant_limits", "acme", stdout=out)
    assert out.getvalue().splitlines()[:2] == ["tenant acme", "rate_limit_per_minute 600"]
    out = StringIO()
    call_command(
        "tenant_limits",
        "acme",
        "--rate-limit",
        "0",
        "--plan",
        "pro",
        "--tokens-quota",
        "1000",
        "--billing-cycle-day",
        "5",
        stdout=out,
    )
    lines = out.getvalue().splitlines()
    assert lines[1] == "rate_limit_per_minute unlimited"
    assert lines[2].startswith("plan pro billing_cycle_day 5 reset_date ")
    assert "tokens used 0 limit 1000" in lines
    tenant.refresh_from_db()
    assert tenant.rate_limit_per_minute == 0
    call_command("tenant_limits", "acme", "--tokens-quota", "-1", stdout=StringIO())
    out = StringIO()
    call_command("tenant_limits", "acme", stdout=out)
    assert "tokens used 0 limit unlimited" in out.getvalue().splitlines()


def test_usage_needs_the_read_scope(tenant: Tenant) -> None:
    from django.test import Client

    from keys.services import api_key_create

    writer = Api(client=Client(), raw_key=api_key_create(tenant=tenant, scopes=["memory:write"])[1])
    for path in ("/v1/usage/summary", "/v1/usage/breakdown", "/v1/usage/limits"):
        assert writer.get(path).status_code == 403


def test_usage_record_at_a_given_day(tenant: Tenant) -> None:
    moment = datetime(2024, 5, 1, 23, 59, tzinfo=UTC)
    usage_record(
        tenant_id=tenant.pk, endpoint="GET /v1/usage/limits", status=200, latency_ms=1, at=moment
    )
    usage_flush(tenant_id=tenant.pk)
    assert UsageCounter.objects.get(tenant=tenant).day == date(2024, 5, 1)
