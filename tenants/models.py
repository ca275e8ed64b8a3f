"""Tenants: one per console project. Everything tenant-owned points here."""

from __future__ import annotations

import uuid

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

    def __str__(self) -> str:
        return self.slug
