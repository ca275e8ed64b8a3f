"""API keys: a public prefix, a keyed hash of the whole key, scopes and usage times."""

from __future__ import annotations

import uuid

from django.conf import settings
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
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.mask} ({self.tenant_id})"

    @property
    def mask(self) -> str:
        return f"ck_{self.prefix}_…"

    def is_active(self, now: object | None = None) -> bool:
        moment = now or timezone.now()
        return self.revoked_at is None or self.revoked_at > moment


class ApiKeyAuditAction(models.TextChoices):
    CREATED = "created"
    REVOKED = "revoked"
    ROTATED = "rotated"


class ApiKeyAuditEntry(models.Model):
    """One key action (create, revoke, rotate) by whom, from where. Written by the key
    services in the same transaction as the change; read-only everywhere else."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_key_audit")
    key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    # Kept in clear so the entry stays readable if the key row ever goes away.
    key_prefix = models.CharField(max_length=8)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who acted, as text: the username at the time, or the interface ("manage.py", "system").
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=16, choices=ApiKeyAuditAction.choices)
    at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "API key audit entry"
        verbose_name_plural = "API key audit log"
        indexes = [models.Index(fields=["tenant", "-at"], name="api_key_audit_tenant_at")]

    def __str__(self) -> str:
        return f"{self.action} {self.key_prefix} by {self.actor_label}"
