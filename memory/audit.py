"""The audit trail: who (key prefix, or console user), what (action, endpoint, user id,
counts: never content), when, and the request id, for every write, forget, key action and
recall served.

Cheap on the hot path: `audit_record` appends one JSON line to a Redis list (one RPUSH,
no database write; measured in bench/audit_record.py) and `audit_flush` (beat, every
minute; also before every read, so a read sees everything recorded before it) moves the
list into `AuditEntry` with one multi-row INSERT. When Redis is unavailable the entry is
inserted directly. Rows older than CLAIV_AUDIT_RETENTION_DAYS are pruned by beat
(`audit_prune`).

Key actions are written by `keys` into its own `ApiKeyAuditEntry` (keys must not import
memory) and read into the trail by `audit_list`: no copy, no signal.

Forget of a whole user (no conversation, project or time bounds) pseudonymises the user
id in the user's audit rows: `forgotten:` + HMAC-SHA256(SECRET_KEY, tenant|user)[:24]. The
trail of what happened stays (SECURITY.md: nothing derived from the user stays readable),
and an operator who knows the id can still compute its pseudonym to answer for it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from claiv.errors import InvalidRequest
from keys.models import ApiKey, ApiKeyAuditEntry
from memory.metering import KEY_PREFIX, usage_redis
from memory.models import AuditEntry, PortabilityJob
from tenants.models import Tenant

logger = logging.getLogger("claiv.audit")

BUFFER_KEY = f"{KEY_PREFIX}:audit"
FLUSH_BATCH = 1000
ACTIONS = (
    "ingest",
    "ingest_batch",
    "recall",
    "forget",
    "memory_add",
    "memory_correct",
    "memory_supersede",
    "memory_delete",
    "document_upload",
    "key_created",
    "key_revoked",
    "key_rotated",
    "export",
    "import",
)


def _row(
    *,
    tenant_id: str,
    action: str,
    endpoint: str,
    actor: str,
    user_id: str,
    counts: dict[str, int],
    request_id: str,
    at: datetime,
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "action": action,
        "endpoint": endpoint[:100],
        "actor": actor[:150],
        "user_id": user_id[:255],
        "counts": counts,
        "request_id": request_id[:64],
        "at": at.isoformat(),
    }


def audit_record(
    *,
    key: ApiKey,
    action: str,
    endpoint: str,
    request_id: str,
    user_id: str = "",
    counts: dict[str, int] | None = None,
    defer_to: list[dict[str, Any]] | None = None,
) -> None:
    """Record one API action of `key` (call after the action succeeded). `endpoint` is
    "METHOD /path"; the API layer's `memory.api.audit.audit_request` fills it in.

    With `defer_to`, the entry is appended there instead of pushed now: the caller
    promises to push it (`audit_rows_push`) before the request is answered, in the same
    round trip as the request's usage count (claiv.middleware.UsageMiddleware)."""
    row = _row(
        tenant_id=str(key.tenant_id),
        action=action,
        endpoint=endpoint,
        actor=key.prefix,
        user_id=user_id,
        counts=counts or {},
        request_id=request_id,
        at=timezone.now(),
    )
    if defer_to is not None:
        defer_to.append(row)
        return
    try:
        usage_redis().rpush(BUFFER_KEY, json.dumps(row, separators=(",", ":")))
    except redis.RedisError:
        logger.warning("audit entry written directly: redis unavailable")
        _insert([row])


def audit_rows_push(
    rows: list[dict[str, Any]],
    *,
    also: Callable[[Any], None] | None = None,
    then: Callable[[list[Any] | None], None] | None = None,
) -> bool:
    """Push entries deferred by `audit_record(defer_to=...)`, and whatever `also` queues
    on the same pipeline, in one round trip. When Redis fails the entries are inserted
    directly (as `audit_record` does) and False is returned: what `also` queued is lost,
    unless `then` (called with the pipeline's results, one per command in the order queued,
    an exception for a refused one; None when the pipeline failed) saves it."""
    pipe = usage_redis().pipeline(transaction=False)
    if also is not None:
        also(pipe)
    if rows:
        pipe.rpush(BUFFER_KEY, *(json.dumps(r, separators=(",", ":")) for r in rows))
    try:
        # Errors of single commands come back as results: a failed command queued by
        # `also` (a script refused, say) must not make the pushed entries look unpushed
        # (they would then be inserted twice).
        results = pipe.execute(raise_on_error=False)
    except redis.RedisError:
        if rows:
            logger.warning("audit entries written directly: redis unavailable")
            _insert(rows)
        if then is not None:
            then(None)
        return False
    if then is not None:
        then(results)
    failed = [result for result in results if isinstance(result, Exception)]
    if rows and isinstance(results[-1], Exception):
        logger.warning("audit entries written directly: redis refused them")
        _insert(rows)
    if failed:
        logger.warning("%d pipelined redis commands failed: %s", len(failed), failed[0])
        return False
    return True


def audit_record_system(
    *,
    tenant: Tenant,
    action: str,
    actor: str,
    via: str,
    user_id: str = "",
    counts: dict[str, int] | None = None,
    request_id: str = "",
) -> None:
    """Record an action taken outside an API request (a management command, a task).

    `actor` names who acted ("cli", or the key prefix that asked for a job); `via` is kept
    as the endpoint ("manage.py export", or the request that queued the job, whose id is
    `request_id`). Written directly: such actions are rare, and a command must not depend
    on the beat's flush.
    """
    _insert(
        [
            _row(
                tenant_id=str(tenant.pk),
                action=action,
                endpoint=via,
                actor=actor,
                user_id=user_id,
                counts=counts or {},
                request_id=request_id,
                at=timezone.now(),
            )
        ]
    )


def _insert(rows: list[dict[str, Any]]) -> None:
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                tenant_id=r["tenant_id"],
                action=r["action"],
                endpoint=r["endpoint"],
                actor=r["actor"],
                user_id=r["user_id"],
                counts=r["counts"],
                request_id=r["request_id"],
                at=datetime.fromisoformat(r["at"]),
            )
            for r in rows
        ]
    )


def audit_flush() -> int:
    """Move buffered entries into Postgres; returns how many. A failed insert gives the
    entries back to the head of the buffer."""
    client = usage_redis()
    moved = 0
    while True:
        pipe = client.pipeline(transaction=True)  # MULTI: read and remove as one step
        pipe.lrange(BUFFER_KEY, 0, FLUSH_BATCH - 1)
        pipe.ltrim(BUFFER_KEY, FLUSH_BATCH, -1)
        lines, _ = pipe.execute()
        if not lines:
            return moved
        rows = [json.loads(line) for line in lines]
        # A tenant deleted while its entries waited: they go with it.
        known = {
            str(pk)
            for pk in Tenant.objects.filter(pk__in={r["tenant_id"] for r in rows}).values_list(
                "pk", flat=True
            )
        }
        try:
            _insert([r for r in rows if r["tenant_id"] in known])
        except Exception:
            client.lpush(BUFFER_KEY, *reversed(lines))
            raise
        moved += len(lines)


def audit_prune(*, now: datetime | None = None) -> int:
    """Delete entries older than the retention; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.CLAIV_AUDIT_RETENTION_DAYS)
    deleted, _ = AuditEntry.objects.filter(at__lt=cutoff).delete()
    return deleted


def audit_pseudonym(*, tenant_id: str, user_id: str) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{tenant_id}|{user_id}".encode(), hashlib.sha256
    ).hexdigest()
    return f"forgotten:{digest[:24]}"


def audit_user_forget(*, tenant: Tenant, user_id: str) -> int:
    """Pseudonymise the user id in the tenant's audit rows (buffered ones first)."""
    try:
        audit_flush()
    except redis.RedisError:
        logger.warning("audit buffer not flushed before pseudonymising: redis unavailable")
    pseudonym = audit_pseudonym(tenant_id=str(tenant.pk), user_id=user_id)
    # Export jobs of that user keep who asked and when, not whose.
    PortabilityJob.objects.filter(tenant=tenant, user_id=user_id).update(user_id=pseudonym)
    return AuditEntry.objects.filter(tenant=tenant, user_id=user_id).update(user_id=pseudonym)


# --- Reads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditItem:
    """One entry of the trail as read: an `AuditEntry`, or a key action of the keys app's
    own log (`ApiKeyAuditEntry`), which is read into the trail rather than copied."""

    id: str
    at: datetime
    action: str
    endpoint: str
    actor: str
    user_id: str
    counts: dict[str, int]
    request_id: str
    # Order among entries at the same instant: trail rows (1) before key actions (0).
    rank: int
    pk: int

    @property
    def cursor(self) -> str:
        return f"{self.at.isoformat()}~{'ak'[1 - self.rank]}{self.pk}"


def _from_entry(entry: AuditEntry) -> AuditItem:
    return AuditItem(
        id=str(entry.pk),
        at=entry.at,
        action=entry.action,
        endpoint=entry.endpoint,
        actor=entry.actor,
        user_id=entry.user_id,
        counts=entry.counts,
        request_id=entry.request_id,
        rank=1,
        pk=entry.pk,
    )


def _from_key_entry(entry: ApiKeyAuditEntry) -> AuditItem:
    via = str(entry.details.get("via", ""))
    return AuditItem(
        id=f"key-{entry.pk}",
        at=entry.at,
        action=f"key_{entry.action}",
        endpoint=f"{via} (key {entry.key_prefix})"[:100],
        actor=entry.actor_label,
        user_id="",
        counts={},
        request_id="",
        rank=0,
        pk=entry.pk,
    )


def _after(cursor: str, rank: int) -> Q:
    """Rows of the given rank after the cursor, in (at, rank, pk) descending order."""
    try:
        moment_text, _, position = cursor.partition("~")
        moment = datetime.fromisoformat(moment_text)
        cursor_rank, last = {"a": 1, "k": 0}[position[:1]], int(position[1:])
    except (ValueError, KeyError) as exc:
        raise InvalidRequest("Invalid cursor.", details={"field": "cursor"}) from exc
    if rank < cursor_rank:
        return Q(at__lte=moment)
    if rank > cursor_rank:
        return Q(at__lt=moment)
    return Q(at__lt=moment) | Q(at=moment, id__lt=last)


def audit_list(
    *,
    tenant: Tenant,
    user_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[AuditItem], str | None]:
    """A page of the tenant's trail, newest first, and the next cursor.

    The trail is `AuditEntry` and, read in at this point, the keys app's own log of key
    actions (so no copy is written behind the key services' back); key actions older than
    the retention are left out here (the keys log itself is kept). Each source gives its
    first `limit + 1` rows after the cursor; merged, the first `limit` are the page."""
    audit_flush()
    times = Q()
    if since is not None:
        times &= Q(at__gte=since)
    if until is not None:
        times &= Q(at__lt=until)
    entries = AuditEntry.objects.filter(times, tenant=tenant)
    if user_id is not None:
        entries = entries.filter(user_id=user_id)
    if action is not None:
        entries = entries.filter(action=action)
    if cursor is not None:
        entries = entries.filter(_after(cursor, 1))
    items = [_from_entry(e) for e in entries.order_by("-at", "-id")[: limit + 1]]
    if user_id is None and (action is None or action.startswith("key_")):
        retention = timezone.now() - timedelta(days=settings.CLAIV_AUDIT_RETENTION_DAYS)
        keys = ApiKeyAuditEntry.objects.filter(times, tenant=tenant, at__gte=retention)
        if action is not None:
            keys = keys.filter(action=action.removeprefix("key_"))
        if cursor is not None:
            keys = keys.filter(_after(cursor, 0))
        items += [_from_key_entry(e) for e in keys.order_by("-at", "-id")[: limit + 1]]
    items.sort(key=lambda i: (i.at, i.rank, i.pk), reverse=True)
    page = items[:limit]
    return page, (page[-1].cursor if len(items) > limit else None)


def audit_as_dict(item: AuditItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "at": item.at.isoformat(),
        "action": item.action,
        "endpoint": item.endpoint,
        "actor": item.actor,
        "user_id": item.user_id or None,
        "counts": item.counts,
        "request_id": item.request_id or None,
    }
