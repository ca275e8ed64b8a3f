"""Recall response cache in Redis, per (tenant, user, memory version, request).

The user's memory version (memory.versioning, kept in Postgres and bumped in the same
transaction as every enrichment commit and forget) is part of the key, so a change makes
every cached answer for that user unreachable at once; stale entries just expire. Redis
being down only disables the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

from memory.versioning import user_memory_version

logger = logging.getLogger("claiv.recall")
RECALL_CACHE_SECONDS = 600


def _key(tenant_id: uuid.UUID | str, user_id: str, version: int, kind: str,
         request: dict[str, Any]) -> str:
    material = json.dumps([str(tenant_id), user_id, version, kind, request], sort_keys=True,
                          default=str)
    return "recall:" + hashlib.sha256(material.encode()).hexdigest()


def recall_cached(*, tenant_id: uuid.UUID | str, user_id: str, kind: str,
                  request: dict[str, Any], compute: Callable[[], dict[str, Any]]
                  ) -> dict[str, Any]:
    """The cached response for this request, or `compute()` stored for next time."""
    key = _key(tenant_id, user_id, user_memory_version(tenant_id=tenant_id, user_id=user_id),
               kind, request)
    try:
        hit = cache.get(key)
    except Exception:  # Redis down: serve uncached
        logger.warning("recall cache unavailable")
        hit = None
    if hit is not None:
        return hit
    value = compute()
    try:
        cache.set(key, value, timeout=RECALL_CACHE_SECONDS)
    except Exception:
        logger.warning("recall cache unavailable")
    return value
