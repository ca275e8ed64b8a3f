"""Tenants: one per console project. Everything tenant-owned points here."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

DEFAULT_RATE_LIMIT_PER_MINUTE = 600
slug_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]{0,62}$", "lowercase letters, digits, dashes")


class Tenant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    # Requests per API key per minute; 0 means unlimited.
    rate_limit_per_minute = models.PositiveIntegerField(default=DEFAULT_RATE_LIMIT_PER_MINUTE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = "project"  # what the console calls a tenant

    def __str__(self) -> str:
        return self.slug


class MemberRole(models.TextChoices):
    """Console roles, weakest first. Viewers read; admins also manage keys, memory and the
    connection; owners also rename the project, set its limits and manage its members."""

    VIEWER = "viewer"
    ADMIN = "admin"
    OWNER = "owner"


ROLE_RANK = {MemberRole.VIEWER: 0, MemberRole.ADMIN: 1, MemberRole.OWNER: 2}


class Membership(models.Model):
    """A console user's access to one tenant. Console pages show a user only the tenants
    they are a member of (superusers see all)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tenant_memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=MemberRole.choices, default=MemberRole.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant__slug", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} of {self.tenant_id}"


class ConsoleConnection(models.Model):
    """Where the console's Test Connection points for a tenant, and an optional backend API
    key stored encrypted (Fernet, CLAIV_CONSOLE_ENCRYPTION_KEY); only its mask is shown."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="console_connection"
    )
    # Blank: the server's own CLAIV_PUBLIC_BASE_URL (trusted). Anything else is SSRF-checked.
    api_base_url = models.CharField(max_length=500, blank=True, default="")
    api_key_ciphertext = models.TextField(blank=True, default="")
    api_key_mask = models.CharField(max_length=32, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"connection of {self.tenant_id}"
