"""Tenant reads."""

from __future__ import annotations

from claiv.errors import NotFound
from tenants.models import Tenant


def tenant_get(*, slug: str) -> Tenant:
    try:
        return Tenant.objects.get(slug=slug)
    except Tenant.DoesNotExist as exc:
        raise NotFound(f"No tenant {slug!r}.") from exc
