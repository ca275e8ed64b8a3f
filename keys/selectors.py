"""API key reads, including the lookup that authenticates a request."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from claiv.errors import NotFound
from keys.hashing import key_matches, key_parse_prefix
from keys.models import ApiKey
from tenants.models import Tenant


def api_key_authenticate(*, raw: str) -> ApiKey | None:
    """The active key matching `raw`, or None (malformed, unknown, wrong secret, revoked)."""
    prefix = key_parse_prefix(raw)
    if prefix is None:
        return None
    key = ApiKey.objects.select_related("tenant").filter(prefix=prefix).first()
    if key is None or not key_matches(raw, key.key_hash) or not key.is_active(timezone.now()):
        return None
    return key


def api_key_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant).order_by("-created_at")


def api_key_get(*, tenant: Tenant, prefix: str) -> ApiKey:
    """A tenant's key by its public prefix (or the full raw key)."""
    wanted = key_parse_prefix(prefix) or prefix
    key = ApiKey.objects.filter(tenant=tenant, prefix=wanted).first()
    if key is None:
        raise NotFound(f"No API key with prefix {wanted!r} in this tenant.")
    return key
