"""Usage reads for the API and the console: summary, per-endpoint breakdown, plan limits.

The numbers are the flushed `UsageCounter` rows plus the counters still waiting in Redis
(read, never taken), so a chart is current to the last request. Work units (events
enriched) come from `WorkUnitCounter`. Days are UTC. Every function takes the tenant and
sees only its counters. Writes live in `memory.metering`.

The dict shapes are exactly API.md §6.
"""

from __future__ import annotations

import calendar
import logging
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any

import redis
from django.db.models import Sum
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from claiv.errors import ApplicationError, InvalidRequest
from memory.metering import (
    BUCKET_COUNT,
    CounterValues,
    counter_key_parse,
    dirty_key,
    usage_redis,
)
from memory.models import LATENCY_BUCKETS_MS, UsageCounter, UsagePlan, WorkUnitCounter
from tenants.models import Tenant

logger = logging.getLogger("claiv.usage")

RANGES = ("7d", "30d", "month", "today")
DEFAULT_PLAN = "self-hosted"
QUOTA_METRICS = ("requests", "tokens", "work_units", "ingest_events")
# Which request totals each endpoint feeds (API.md §6 `*_requests`); v2 paths are SDK aliases.
ENDPOINT_KINDS = {
    "POST /v1/ingest": "ingest",
    "POST /v6/ingest": "ingest",
    "POST /v1/ingest/batch": "ingest",
    "POST /v1/recall": "recall",
    "POST /v2/recall": "recall",
    "POST /v6/recall": "recall",
    "POST /v1/forget": "forget",
    "POST /v2/forget": "forget",
    "POST /v6/forget": "forget",
    # The MCP tools that mirror them (claiv.mcp.accounting).
    "MCP memory_ingest": "ingest",
    "MCP memory_recall": "recall",
    "MCP memory_forget": "forget",
}


class QuotaExceeded(ApplicationError):
    code = "quota_exceeded"


def _today() -> date:
    return timezone.now().astimezone(UTC).date()


def usage_range_dates(*, range: str, today: date | None = None) -> tuple[date, date]:
    """First and last day (inclusive) of a usage range ending today."""
    end = today or _today()
    if range == "today":
        return end, end
    if range == "7d":
        return end - timedelta(days=6), end
    if range == "30d":
        return end - timedelta(days=29), end
    if range == "month":
        return end.replace(day=1), end
    raise InvalidRequest(
        f"range must be one of {', '.join(RANGES)}.",
        details={"fields": {"range": [f"Not one of {', '.join(RANGES)}."]}},
    )


def _pending(tenant: Tenant) -> list[tuple[date, str, CounterValues]]:
    """Counters not yet flushed to Postgres. Empty (logged) when Redis is unreachable."""
    client = usage_redis()
    try:
        keys = sorted(k.decode() for k in client.smembers(dirty_key(tenant.pk)))
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        hashes = pipe.execute() if keys else []
    except redis.RedisError:
        logger.warning(
            "usage read without unflushed counters: redis unavailable tenant=%s", tenant.pk
        )
        return []
    return [
        (*counter_key_parse(key), CounterValues.from_hash(raw))
        for key, raw in zip(keys, hashes, strict=True)
        if raw
    ]


def _counters(tenant: Tenant, start: date, end: date) -> dict[tuple[date, str], CounterValues]:
    """(day, endpoint) → totals over flushed rows and pending Redis counters."""
    merged: dict[tuple[date, str], CounterValues] = defaultdict(
        lambda: CounterValues(latency_buckets=[0] * BUCKET_COUNT)
    )
    rows = UsageCounter.objects.filter(tenant=tenant, day__gte=start, day__lte=end)
    sources = [
        (
            row.day,
            row.endpoint,
            CounterValues(
                requests=row.requests,
                errors_4xx=row.errors_4xx,
                errors_5xx=row.errors_5xx,
                request_bytes=row.request_bytes,
                response_bytes=row.response_bytes,
                ingest_events=row.ingest_events,
                tokens=row.tokens,
                latency_ms_sum=row.latency_ms_sum,
                latency_buckets=list(row.latency_buckets),
            ),
        )
        for row in rows
    ]
    sources += [item for item in _pending(tenant) if start <= item[0] <= end]
    for day, endpoint, values in sources:
        total = merged[(day, endpoint)]
        for name in (
            "requests",
            "errors_4xx",
            "errors_5xx",
            "request_bytes",
            "response_bytes",
            "ingest_events",
            "tokens",
        ):
            setattr(total, name, getattr(total, name) + getattr(values, name))
        total.latency_ms_sum += values.latency_ms_sum
        buckets = values.latency_buckets or []
        total.latency_buckets = [
            a + (buckets[i] if i < len(buckets) else 0)
            for i, a in enumerate(total.latency_buckets or [])
        ]
    return dict(merged)


def _work_units(tenant: Tenant, start: date, end: date) -> dict[date, int]:
    rows = WorkUnitCounter.objects.filter(tenant=tenant, day__gte=start, day__lte=end)
    return {row.day: row.work_units for row in rows}


def usage_summary(*, tenant: Tenant, range: str = "7d") -> dict[str, Any]:
    """Totals and one entry per day of the range (zeros included), oldest day first."""
    start, end = usage_range_dates(range=range)
    counters = _counters(tenant, start, end)
    work_units = _work_units(tenant, start, end)
    totals = dict.fromkeys(
        (
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
        ),
        0,
    )
    days: dict[date, dict[str, Any]] = {}
    day = start
    while day <= end:
        days[day] = {
            "date": day.isoformat(),
            "requests": 0,
            "ingest_events": 0,
            "tokens": 0,
            "work_units": work_units.get(day, 0),
            "errors": 0,
        }
        day += timedelta(days=1)
    for (day, endpoint), values in counters.items():
        errors = values.errors_4xx + values.errors_5xx
        kind = ENDPOINT_KINDS.get(endpoint)
        if kind is not None:
            totals[f"{kind}_requests"] += values.requests
        totals["requests"] += values.requests
        totals["errors"] += errors
        for name in ("ingest_events", "tokens", "request_bytes", "response_bytes"):
            totals[name] += getattr(values, name)
        entry = days[day]
        entry["requests"] += values.requests
        entry["errors"] += errors
        entry["ingest_events"] += values.ingest_events
        entry["tokens"] += values.tokens
    totals["work_units"] = sum(work_units.values())
    return {
        "range": range,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "totals": totals,
        "daily": list(days.values()),
    }


def latency_percentile(buckets: list[int], q: float) -> float:
    """The q-quantile (0–1) of a LATENCY_BUCKETS_MS histogram, interpolated in its bucket.

    Within a bucket requests are taken as evenly spread; in the open-ended last bucket the
    estimate is its lower bound (a floor, not a guess).
    """
    total = sum(buckets)
    if total == 0:
        return 0.0
    rank = q * total
    seen = 0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            lower = float(LATENCY_BUCKETS_MS[index - 1]) if index > 0 else 0.0
            if index >= len(LATENCY_BUCKETS_MS):
                return lower
            upper = float(LATENCY_BUCKETS_MS[index])
            return round(lower + (upper - lower) * (rank - seen) / count, 1)
        seen += count
    return float(LATENCY_BUCKETS_MS[-1])


def usage_breakdown(*, tenant: Tenant, range: str = "7d") -> dict[str, Any]:
    """Per endpoint over the range: requests, errors, error rate, mean/p50/p95 latency.

    Sorted by requests (most first), then endpoint name.
    """
    start, end = usage_range_dates(range=range)
    per_endpoint: dict[str, CounterValues] = {}
    for (_day, endpoint), values in _counters(tenant, start, end).items():
        total = per_endpoint.setdefault(endpoint, CounterValues(latency_buckets=[0] * BUCKET_COUNT))
        total.requests += values.requests
        total.errors_4xx += values.errors_4xx + values.errors_5xx
        total.latency_ms_sum += values.latency_ms_sum
        total.latency_buckets = [
            a + b
            for a, b in zip(total.latency_buckets or [], values.latency_buckets or [], strict=False)
        ]
    endpoints = []
    for endpoint, total in sorted(per_endpoint.items(), key=lambda kv: (-kv[1].requests, kv[0])):
        buckets = total.latency_buckets or []
        endpoints.append(
            {
                "endpoint": endpoint,
                "requests": total.requests,
                "errors": total.errors_4xx,
                "error_rate": round(total.errors_4xx / total.requests, 4)
                if total.requests
                else 0.0,
                "avg_latency_ms": (
                    round(total.latency_ms_sum / total.requests, 1) if total.requests else 0.0
                ),
                "p50_latency_ms": latency_percentile(buckets, 0.50),
                "p95_latency_ms": latency_percentile(buckets, 0.95),
            }
        )
    return {
        "range": range,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "endpoints": endpoints,
    }


def _add_month(day: date, cycle_day: int) -> date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(cycle_day, calendar.monthrange(year, month)[1]))


def billing_cycle(*, cycle_day: int, today: date | None = None) -> tuple[date, date]:
    """(first day of the current cycle, the day the next one starts)."""
    today = today or _today()
    if today.day >= cycle_day:
        start = today.replace(day=cycle_day)
    else:
        previous = today.replace(day=1) - timedelta(days=1)
        start = previous.replace(day=cycle_day)
    return start, _add_month(start, cycle_day)


def _cycle_used(tenant: Tenant, start: date, end: date) -> dict[str, int]:
    used = dict.fromkeys(QUOTA_METRICS, 0)
    for values in _counters(tenant, start, end).values():
        used["requests"] += values.requests
        used["tokens"] += values.tokens
        used["ingest_events"] += values.ingest_events
    used["work_units"] = int(
        WorkUnitCounter.objects.filter(tenant=tenant, day__gte=start, day__lte=end).aggregate(
            n=Sum("work_units")
        )["n"]
        or 0
    )
    return used


def usage_limits(*, tenant: Tenant) -> dict[str, Any]:
    """The plan, its billing cycle, and used/limit/remaining per quota (null = unlimited)."""
    plan = UsagePlan.objects.filter(tenant=tenant).first()
    cycle_day = plan.billing_cycle_day if plan else 1
    start, reset = billing_cycle(cycle_day=cycle_day)
    used = _cycle_used(tenant, start, _today())
    limits: dict[str, dict[str, Any]] = {}
    for metric in QUOTA_METRICS:
        limit = getattr(plan, f"{metric}_quota") if plan else None
        if limit is None:
            limits[metric] = {
                "used": used[metric],
                "limit": None,
                "remaining": None,
                "percentage_used": 0.0,
            }
        else:
            limits[metric] = {
                "used": used[metric],
                "limit": limit,
                "remaining": max(0, limit - used[metric]),
                "percentage_used": (round(100.0 * used[metric] / limit, 2) if limit else 100.0),
            }
    within = all(
        entry["limit"] is None or entry["used"] < entry["limit"] for entry in limits.values()
    )
    return {
        "plan": plan.plan if plan else DEFAULT_PLAN,
        "billing_cycle_day": cycle_day,
        "reset_date": reset.isoformat(),
        "is_within_quota": within,
        "limits": limits,
    }


# Plans change rarely (`usage_plan_set`); a request path that reads them on every call
# paid ~0.5 ms of a ~4 ms cached recall. A change made in this process is seen at once
# (the signal below); other processes see it within PLAN_CACHE_SECONDS.
PLAN_CACHE_SECONDS = 10.0
_plans: dict[str, tuple[float, UsagePlan | None]] = {}


def _plan_of(tenant: Tenant) -> UsagePlan | None:
    now = monotonic()
    cached = _plans.get(str(tenant.pk))
    if cached is not None and now - cached[0] < PLAN_CACHE_SECONDS:
        return cached[1]
    plan = UsagePlan.objects.filter(tenant=tenant).first()
    _plans[str(tenant.pk)] = (now, plan)
    return plan


@receiver([post_save, post_delete], sender=UsagePlan, dispatch_uid="memory.usage.plan_changed")
def _plan_changed(*, instance: UsagePlan, **kwargs: Any) -> None:
    _plans.pop(str(instance.tenant_id), None)


def usage_quota_check(*, tenant: Tenant, metrics: tuple[str, ...]) -> None:
    """Raise QuotaExceeded when any of `metrics` is used up for this billing cycle.

    The plan is read through a short per-process cache (`_plan_of`), so a tenant without
    a plan (the usual self-hosted case) costs no query on most requests.
    """
    plan = _plan_of(tenant)
    if plan is None or all(getattr(plan, f"{m}_quota") is None for m in metrics):
        return
    start, reset = billing_cycle(cycle_day=plan.billing_cycle_day)
    used = _cycle_used(tenant, start, _today())
    for metric in metrics:
        limit = getattr(plan, f"{metric}_quota")
        if limit is not None and used[metric] >= limit:
            reset_at = datetime.combine(reset, time.min, tzinfo=UTC)
            retry_after = max(1, int((reset_at - timezone.now()).total_seconds()))
            raise QuotaExceeded(
                f"The {metric} quota of this plan is used up until {reset.isoformat()}.",
                details={
                    "metric": metric,
                    "used": used[metric],
                    "limit": limit,
                    "reset_date": reset.isoformat(),
                    "retry_after": retry_after,
                },
            )
