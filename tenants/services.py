"""Tenant writes. Reads live in `tenants.selectors`."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from claiv.errors import InvalidRequest
from tenants.models import Tenant, slug_validator


def tenant_ensure(*, slug: str, name: str | None = None) -> tuple[Tenant, bool]:
    """Return the tenant with `slug`, creating it if missing (idempotent). -> (tenant, created)."""
    try:
        slug_validator(slug)
    except ValidationError as exc:
        raise InvalidRequest(f"Invalid tenant slug {slug!r}: {exc.messages[0]}") from exc
    return Tenant.objects.get_or_create(slug=slug, defaults={"name": name or slug})
