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
memory); a post_save receiver here copies each into the trail in the same transaction.

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
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db.models import Q
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from claiv.errors import InvalidRequest
from keys.models import ApiKey, ApiKeyAuditEntry
from memory.metering import KEY_PREFIX, usage_redis
from memory.models import AuditEntry
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
) -> None:
    """Record one API action of `key` (call after the action succeeded). `endpoint` is
    "METHOD /path"; the API layer's `memory.api.audit.audit_request` fills it in."""
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
    try:
        usage_redis().rpush(BUFFER_KEY, json.dumps(row, separators=(",", ":")))
    except redis.RedisError:
        logger.warning("audit entry written directly: redis unavailable")
        _insert([row])


def audit_record_system(
    *,
    tenant: Tenant,
    action: str,
    actor: str,
    via: str,
    user_id: str = "",
    counts: dict[str, int] | None = None,
) -> None:
    """Record an action taken outside an API request (a management command, a task).

    `actor` names who acted ("cli", or the key prefix that queued a job); `via` is kept as
    the endpoint ("manage.py export", "task memory.portability_import"). Written directly:
    such actions are rare, and a command must not depend on the beat's flush.
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
                request_id="",
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
    return AuditEntry.objects.filter(tenant=tenant, user_id=user_id).update(
        user_id=audit_pseudonym(tenant_id=str(tenant.pk), user_id=user_id)
    )


@receiver(post_save, sender=ApiKeyAuditEntry, dispatch_uid="memory.audit.key_action")
def _key_action(sender: type, instance: ApiKeyAuditEntry, created: bool, **kwargs: Any) -> None:
    if created:
        AuditEntry.objects.create(
            tenant_id=instance.tenant_id,
            at=instance.at,
            action=f"key_{instance.action}",
            endpoint=str(instance.details.get("via", "")),
            actor=instance.actor_label,
            counts={},
            request_id="",
            user_id="",
        )


# --- Reads --------------------------------------------------------------------------------


def _cursor(entry: AuditEntry) -> str:
    return f"{entry.at.isoformat()}~{entry.pk}"


def audit_list(
    *,
    tenant: Tenant,
    user_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[AuditEntry], str | None]:
    """A page of the tenant's entries, newest first (at, then id), and the next cursor."""
    audit_flush()
    entries = AuditEntry.objects.filter(tenant=tenant)
    if user_id is not None:
        entries = entries.filter(user_id=user_id)
    if action is not None:
        entries = entries.filter(action=action)
    if since is not None:
        entries = entries.filter(at__gte=since)
    if until is not None:
        entries = entries.filter(at__lt=until)
    if cursor is not None:
        try:
            moment_text, _, last_id = cursor.partition("~")
            moment, last = datetime.fromisoformat(moment_text), int(last_id)
        except ValueError as exc:
            raise InvalidRequest("Invalid cursor.", details={"field": "cursor"}) from exc
        entries = entries.filter(Q(at__lt=moment) | Q(at=moment, id__lt=last))
    page = list(entries.order_by("-at", "-id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (_cursor(page[-1]) if more and page else None)


def audit_as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "at": entry.at.isoformat(),
        "action": entry.action,
        "endpoint": entry.endpoint,
        "actor": entry.actor,
        "user_id": entry.user_id or None,
        "counts": entry.counts,
        "request_id": entry.request_id or None,
    }
