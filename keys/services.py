"""API key writes: create, revoke, rotate, record use. Reads live in `keys.selectors`."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from claiv.errors import InvalidRequest
from keys.hashing import key_generate, key_hash
from keys.models import ALL_SCOPES, ApiKey
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


def api_key_create(*, tenant: Tenant, name: str = "",
                   scopes: list[str] | None = None) -> tuple[ApiKey, str]:
    """Create a key. Returns (key, raw key); the raw key is not recoverable afterwards."""
    checked = _check_scopes(scopes)
    for _ in range(5):  # a prefix collision is ~1 in 2.8e12 per pair; retry a few times
        prefix, raw = key_generate()
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(tenant=tenant, name=name, prefix=prefix,
                                            key_hash=key_hash(raw), scopes=checked)
            return key, raw
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate a unique key prefix")


def api_key_revoke(*, key: ApiKey, at: timezone.datetime | None = None) -> ApiKey:
    """Revoke now (or at `at`). Effective on the next request: auth reads the row every time."""
    moment = at or timezone.now()
    if key.revoked_at is None or key.revoked_at > moment:
        key.revoked_at = moment
        key.save(update_fields=["revoked_at"])
    return key


@transaction.atomic
def api_key_rotate(*, key: ApiKey, grace: timedelta = timedelta(0)) -> tuple[ApiKey, str]:
    """Issue a new key with the same tenant, name and scopes; revoke the old one after `grace`."""
    new_key, raw = api_key_create(tenant=key.tenant, name=key.name, scopes=list(key.scopes))
    api_key_revoke(key=key, at=timezone.now() + grace)
    key.replaced_by = new_key
    key.save(update_fields=["replaced_by"])
    return new_key, raw


def api_key_touch(*, key: ApiKey) -> None:
    """Record use, writing at most once per LAST_USED_RESOLUTION."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
