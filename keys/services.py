"""API key writes: create, revoke, rotate, record use. Reads live in `keys.selectors`.

Create, revoke and rotate each write an `ApiKeyAuditEntry` in the same transaction as the
change, naming the console user (`actor`) or the interface (`origin`: "manage.py", …).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from claiv.errors import InvalidRequest
from keys.hashing import key_generate, key_hash
from keys.models import ALL_SCOPES, ApiKey, ApiKeyAuditAction, ApiKeyAuditEntry
from tenants.models import Tenant

# last_used_at is refreshed at most this often, so authentication is not a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _check_scopes(scopes: list[str] | None) -> list[str]:
    if scopes is None:
        return list(ALL_SCOPES)
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown or not scopes:
        raise InvalidRequest(
            f"Scopes must be a non-empty subset of {', '.join(ALL_SCOPES)}.",
            details={"unknown_scopes": unknown},
        )
    return sorted(set(scopes), key=ALL_SCOPES.index)


def _audit(
    *,
    key: ApiKey,
    action: str,
    actor: AbstractBaseUser | None,
    origin: str,
    details: dict[str, Any],
) -> None:
    ApiKeyAuditEntry.objects.create(
        tenant_id=key.tenant_id,
        key=key,
        key_prefix=key.prefix,
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor.get_username() if actor is not None else origin,
        action=action,
        details={"via": "console" if actor is not None else origin, **details},
    )


def _create(*, tenant: Tenant, name: str, scopes: list[str] | None) -> tuple[ApiKey, str]:
    checked = _check_scopes(scopes)
    for _ in range(5):  # a prefix collision is ~1 in 2.8e12 per pair; retry a few times
        prefix, raw = key_generate()
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    tenant=tenant, name=name, prefix=prefix, key_hash=key_hash(raw), scopes=checked
                )
            return key, raw
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate a unique key prefix")


@transaction.atomic
def api_key_create(
    *,
    tenant: Tenant,
    name: str = "",
    scopes: list[str] | None = None,
    actor: AbstractBaseUser | None = None,
    origin: str = "system",
) -> tuple[ApiKey, str]:
    """Create a key. Returns (key, raw key); the raw key is not recoverable afterwards."""
    key, raw = _create(tenant=tenant, name=name, scopes=scopes)
    _audit(
        key=key,
        action=ApiKeyAuditAction.CREATED,
        actor=actor,
        origin=origin,
        details={"name": name, "scopes": list(key.scopes)},
    )
    return key, raw


def _revoke(*, key: ApiKey, moment: timezone.datetime) -> bool:
    if key.revoked_at is None or key.revoked_at > moment:
        key.revoked_at = moment
        key.save(update_fields=["revoked_at"])
        return True
    return False


@transaction.atomic
def api_key_revoke(
    *,
    key: ApiKey,
    at: timezone.datetime | None = None,
    actor: AbstractBaseUser | None = None,
    origin: str = "system",
) -> ApiKey:
    """Revoke now (or at `at`). Effective on the next request: auth reads the row every time.

    Revoking an already revoked key changes nothing and writes no audit entry.
    """
    moment = at or timezone.now()
    if _revoke(key=key, moment=moment):
        _audit(
            key=key,
            action=ApiKeyAuditAction.REVOKED,
            actor=actor,
            origin=origin,
            details={"effective_at": moment.isoformat()},
        )
    return key


@transaction.atomic
def api_key_rotate(
    *,
    key: ApiKey,
    grace: timedelta = timedelta(0),
    actor: AbstractBaseUser | None = None,
    origin: str = "system",
) -> tuple[ApiKey, str]:
    """Issue a new key with the same tenant, name and scopes; revoke the old one after `grace`.

    Precondition: the key is still active (a revoked key has nothing left to rotate).
    """
    if not key.is_active():
        raise InvalidRequest("This key is already revoked; create a new key instead.")
    if grace < timedelta(0):
        raise InvalidRequest("The grace period cannot be negative.")
    new_key, raw = _create(tenant=key.tenant, name=key.name, scopes=list(key.scopes))
    moment = timezone.now() + grace
    _revoke(key=key, moment=moment)
    key.replaced_by = new_key
    key.save(update_fields=["replaced_by"])
    _audit(
        key=new_key,
        action=ApiKeyAuditAction.CREATED,
        actor=actor,
        origin=origin,
        details={"name": key.name, "scopes": list(new_key.scopes), "rotated_from": key.prefix},
    )
    _audit(
        key=key,
        action=ApiKeyAuditAction.ROTATED,
        actor=actor,
        origin=origin,
        details={
            "new_key": new_key.prefix,
            "grace_seconds": int(grace.total_seconds()),
            "old_key_revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        },
    )
    return new_key, raw


def api_key_touch(*, key: ApiKey) -> None:
    """Record use, writing at most once per LAST_USED_RESOLUTION."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
