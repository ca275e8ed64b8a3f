"""API keys: a public prefix, a keyed hash of the whole key, scopes and usage times."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from tenants.models import Tenant

SCOPE_WRITE = "memory:write"
SCOPE_READ = "memory:read"
SCOPE_FORGET = "memory:forget"
ALL_SCOPES = (SCOPE_WRITE, SCOPE_READ, SCOPE_FORGET)


def _all_scopes() -> list[str]:
    return list(ALL_SCOPES)


class ApiKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=8, unique=True)
    # HMAC-SHA256(pepper, raw key), hex. The raw key is never stored.
    key_hash = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=32), default=_all_scopes)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Revocation time; a future value is a scheduled revocation (rotation grace period).
    revoked_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.mask} ({self.tenant_id})"

    @property
    def mask(self) -> str:
        return f"ck_{self.prefix}_…"

    def is_active(self, now: object | None = None) -> bool:
        moment = now or timezone.now()
        return self.revoked_at is None or self.revoked_at > moment
