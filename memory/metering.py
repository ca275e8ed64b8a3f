"""Usage metering writes: count each API request in Redis, flush the counts to Postgres.

The hot path costs one Redis round trip per request, a script that does HINCRBY on a hash
per (tenant, UTC day, endpoint) and SADD of that hash's key to the tenant's set of
unflushed counters. `usage_flush` (Celery beat, every USAGE_FLUSH_SECONDS, 5 s) moves each
hash into its `UsageCounter` row with one upsert. There is no database row per request.

What an empty Redis restart can lose is what was counted since the last flush: a few
seconds, not a minute. Flushing often costs the request path nothing (it still makes one
Redis call); the beat's extra flushes cost one SMEMBERS when there is nothing to move, and
one upsert per (tenant, day, endpoint) counter otherwise (BENCHMARKS.md-style figures in
the commit that set 5 s). Writing each request to Postgres instead would put a database
write on every cached recall.

If Redis is down the request is still served and its usage is dropped with a log line:
metering never fails a request. Work units are not counted here but by a database trigger
(see `WorkUnitCounter`). Plans and quotas are set with `usage_plan_set`. Reads live in
`memory.usage`.
"""

from __future__ import annotations

import bisect
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import redis
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from claiv.errors import InvalidRequest
from claiv.redis_client import redis_client
from memory.models import LATENCY_BUCKETS_MS, UsageCounter, UsagePlan
from tenants.models import Tenant

logger = logging.getLogger("claiv.metering")

# `{usage}` is a hash tag: the record script touches a counter, the tenant's dirty set and
# the tenants set at once, which Redis Cluster allows only within one hash slot, so every
# usage key lives in that slot (one small script per request on one node).
KEY_PREFIX = "claiv:{usage}"
TENANTS_KEY = f"{KEY_PREFIX}:tenants"  # tenant ids that have unflushed counters
# Keys written before the hash tag (an upgrade finds their unflushed counts there once).
LEGACY_KEY_PREFIX = "claiv:usage"

COUNT_FIELDS = (
    "requests",
    "errors_4xx",
    "errors_5xx",
    "request_bytes",
    "response_bytes",
    "ingest_events",
    "tokens",
)
BUCKET_COUNT = len(LATENCY_BUCKETS_MS) + 1


# The shared client, under the name this module's callers know it by.
usage_redis = redis_client


def dirty_key(tenant_id: uuid.UUID | str, prefix: str = KEY_PREFIX) -> str:
    return f"{prefix}:dirty:{tenant_id}"


def counter_key(tenant_id: uuid.UUID | str, day: date, endpoint: str) -> str:
    return f"{KEY_PREFIX}:c:{tenant_id}:{day.isoformat()}:{endpoint}"


def counter_key_parse(key: str) -> tuple[date, str]:
    """(day, endpoint) of a counter key; the endpoint may itself contain colons."""
    rest = key.split(":c:", 1)[1]  # after either prefix (neither contains ":c:")
    _tenant, day, endpoint = rest.split(":", 2)
    return date.fromisoformat(day), endpoint


def latency_bucket(latency_ms: float) -> int:
    return bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)


@dataclass
class CounterValues:
    """One hash's numbers, as read back from Redis or a row."""

    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    request_bytes: int = 0
    response_bytes: int = 0
    ingest_events: int = 0
    tokens: int = 0
    latency_ms_sum: float = 0.0
    latency_buckets: list[int] | None = None

    @classmethod
    def from_hash(cls, raw: dict[bytes, bytes]) -> CounterValues:
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        values = cls(**{name: int(fields.get(name, 0)) for name in COUNT_FIELDS})
        values.latency_ms_sum = float(fields.get("latency_ms_sum", 0))
        values.latency_buckets = [int(fields.get(f"b{i}", 0)) for i in range(BUCKET_COUNT)]
        return values


# One script call instead of a pipeline of ~8 commands: 0.19 -> 0.14 ms per request on
# the embedded Valkey (fewer commands to pack and replies to parse).
# KEYS: counter hash, the tenant's dirty set, the set of tenants. ARGV: tenant id, latency
# ms, then (field, increment) pairs.
_RECORD = """
for i = 3, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HINCRBYFLOAT', KEYS[1], 'latency_ms_sum', ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""


@lru_cache(maxsize=1)
def _record_script() -> Any:
    return usage_redis().register_script(_RECORD)


def usage_record(
    *,
    tenant_id: uuid.UUID | str,
    endpoint: str,
    status: int,
    latency_ms: float,
    request_bytes: int = 0,
    response_bytes: int = 0,
    ingest_events: int = 0,
    tokens: int = 0,
    at: datetime | None = None,
) -> bool:
    """Count one request. Returns False (and logs) when Redis could not take it."""
    keys, args = _record_arguments(
        tenant_id=tenant_id,
        endpoint=endpoint,
        status=status,
        latency_ms=latency_ms,
        request_bytes=request_bytes,
        response_bytes=response_bytes,
        ingest_events=ingest_events,
        tokens=tokens,
        at=at,
    )
    try:
        _record_script()(keys=keys, args=args)
    except redis.RedisError:
        logger.warning(
            "usage not recorded: redis unavailable tenant=%s endpoint=%s", tenant_id, endpoint
        )
        return False
    return True


def usage_record_queue(pipe: Any, **request: Any) -> None:
    """`usage_record` queued on a caller's pipeline (keywords as for it), sent when the
    caller executes it: the request's count shares a round trip with its audit entries
    (memory.audit.audit_rows_push). EVAL, not EVALSHA: a pipeline would first check the
    script exists (another round trip); Redis caches the compiled script by its hash.
    A raw command: redis-py's cluster pipeline refuses `.eval()` (it routes EVAL by its
    keys)."""
    keys, args = _record_arguments(**request)
    pipe.execute_command("EVAL", _RECORD, len(keys), *keys, *args)


def _record_arguments(
    *,
    tenant_id: uuid.UUID | str,
    endpoint: str,
    status: int,
    latency_ms: float,
    request_bytes: int = 0,
    response_bytes: int = 0,
    ingest_events: int = 0,
    tokens: int = 0,
    at: datetime | None = None,
) -> tuple[list[str], list[Any]]:
    """The record script's KEYS and ARGV for one request."""
    day = (at or timezone.now()).astimezone(UTC).date()
    key = counter_key(tenant_id, day, endpoint)
    increments: list[str | int] = ["requests", 1, f"b{latency_bucket(latency_ms)}", 1]
    if 400 <= status < 500:
        increments += ["errors_4xx", 1]
    elif status >= 500:
        increments += ["errors_5xx", 1]
    for name, value in (
        ("request_bytes", request_bytes),
        ("response_bytes", response_bytes),
        ("ingest_events", ingest_events),
        ("tokens", tokens),
    ):
        if value:
            increments += [name, value]
    return [key, dirty_key(tenant_id), TENANTS_KEY], [
        str(tenant_id),
        round(latency_ms, 3),
        *increments,
    ]


_UPSERT = f"""
INSERT INTO {UsageCounter._meta.db_table} AS c (tenant_id, day, endpoint, requests, errors_4xx,
    errors_5xx, request_bytes, response_bytes, ingest_events, tokens, latency_ms_sum,
    latency_buckets)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant_id, day, endpoint) DO UPDATE SET
    requests = c.requests + EXCLUDED.requests,
    errors_4xx = c.errors_4xx + EXCLUDED.errors_4xx,
    errors_5xx = c.errors_5xx + EXCLUDED.errors_5xx,
    request_bytes = c.request_bytes + EXCLUDED.request_bytes,
    response_bytes = c.response_bytes + EXCLUDED.response_bytes,
    ingest_events = c.ingest_events + EXCLUDED.ingest_events,
    tokens = c.tokens + EXCLUDED.tokens,
    latency_ms_sum = c.latency_ms_sum + EXCLUDED.latency_ms_sum,
    latency_buckets = ARRAY(
        SELECT COALESCE(a, 0) + COALESCE(b, 0)
        FROM unnest(c.latency_buckets, EXCLUDED.latency_buckets) WITH ORDINALITY AS u(a, b, n)
        ORDER BY n)
"""


def _upsert(tenant_id: str, day: date, endpoint: str, values: CounterValues) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            _UPSERT,
            [
                tenant_id,
                day,
                endpoint,
                values.requests,
                values.errors_4xx,
                values.errors_5xx,
                values.request_bytes,
                values.response_bytes,
                values.ingest_events,
                values.tokens,
                values.latency_ms_sum,
                values.latency_buckets or [0] * BUCKET_COUNT,
            ],
        )


def _give_back(client: redis.Redis, tenant_id: str, key: str, raw: dict[bytes, bytes]) -> None:
    """Put taken counts back (the database refused them), so the next flush retries."""
    pipe = client.pipeline(transaction=False)
    for field, value in raw.items():
        if field == b"latency_ms_sum":
            pipe.hincrbyfloat(key, field, float(value))
        else:
            pipe.hincrby(key, field, int(value))
    pipe.sadd(dirty_key(tenant_id), key)
    pipe.sadd(TENANTS_KEY, tenant_id)
    pipe.execute()


def usage_flush(*, tenant_id: uuid.UUID | str | None = None) -> int:
    """Move unflushed counters from Redis into `UsageCounter` rows. Returns hashes moved.

    Each set membership is removed *before* its hash is taken, so a request counted
    meanwhile re-adds it and is flushed next time rather than stranded.
    """
    client = usage_redis()
    moved = 0
    for prefix in (KEY_PREFIX, LEGACY_KEY_PREFIX):
        moved += _flush_prefix(client, prefix, tenant_id)
    return moved


def _flush_prefix(client: Any, prefix: str, tenant_id: uuid.UUID | str | None) -> int:
    tenants_key = f"{prefix}:tenants"
    if tenant_id is not None:
        tenants = [str(tenant_id)]
    else:
        tenants = [t.decode() for t in client.smembers(tenants_key)]
    moved = 0
    for tenant in tenants:
        client.srem(tenants_key, tenant)
        for raw_key in client.smembers(dirty_key(tenant, prefix)):
            key = raw_key.decode()
            client.srem(dirty_key(tenant, prefix), key)
            pipe = client.pipeline(transaction=True)  # MULTI: read and delete as one step
            pipe.hgetall(key)
            pipe.delete(key)
            raw, _deleted = pipe.execute()
            if not raw:
                continue
            day, endpoint = counter_key_parse(key)
            try:
                with transaction.atomic():
                    _upsert(tenant, day, endpoint, CounterValues.from_hash(raw))
            except DatabaseError:
                if not Tenant.objects.filter(pk=tenant).exists():
                    continue  # the tenant was deleted; its counts go with it
                # Given back under the current names (a legacy key's counts move over).
                _give_back(client, tenant, counter_key(tenant, day, endpoint), raw)
                raise
            moved += 1
    return moved


def usage_plan_set(*, tenant: Tenant, **changes: Any) -> UsagePlan:
    """Create or update the tenant's plan. Keys: plan, billing_cycle_day, <metric>_quota."""
    allowed = {
        "plan",
        "billing_cycle_day",
        "requests_quota",
        "tokens_quota",
        "work_units_quota",
        "ingest_events_quota",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"unknown plan fields: {sorted(unknown)}")
    if any(v is not None and v < 0 for k, v in changes.items() if k.endswith("_quota")):
        raise InvalidRequest("Quotas must be 0 or more (omit for unlimited).")
    day = changes.get("billing_cycle_day")
    if day is not None and not 1 <= day <= 28:
        raise InvalidRequest("billing_cycle_day must be between 1 and 28.")
    plan, _ = UsagePlan.objects.get_or_create(tenant=tenant)
    for name, value in changes.items():
        setattr(plan, name, value)
    plan.save()
    return plan
