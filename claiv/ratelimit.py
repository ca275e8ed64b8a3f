"""Per-API-key request rate limits (API.md §1), counted in Redis through django-ratelimit.

A fixed one-minute window per key; django-ratelimit staggers each key's window start, so
all keys do not reset in the same second. The limit is the key's tenant's
`rate_limit_per_minute` (0 = unlimited). The counter key holds the tenant and the key id,
so no tenant's traffic can use up another's budget.

When Redis cannot be reached the request is allowed and the failure logged: an outage of
the counter store must not become an outage of the whole API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django_ratelimit.core import get_usage

from tenants.models import Tenant

logger = logging.getLogger("claiv.ratelimit")

GROUP = "claiv.api"


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_seconds: int  # seconds until the current window ends
    limited: bool

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset_seconds)}


def rate_limit_hit(*, tenant: Tenant, api_key_id: str) -> RateLimitState | None:
    """Count one request for the key. None when the tenant is unlimited or Redis is down."""
    limit = tenant.rate_limit_per_minute
    if limit == 0:
        return None
    counter = f"{tenant.pk}:{api_key_id}"

    def key(group: str, request: Any) -> str:
        return counter

    try:
        usage = get_usage(None, group=GROUP, key=key, rate=f"{limit}/m", increment=True)
    except Exception:  # any cache failure: serve the request unmetered rather than fail it
        logger.warning("rate limit store unavailable; allowing request tenant=%s", tenant.pk,
                       exc_info=True)
        return None
    # django-ratelimit signals a cache that answered nothing with time_left -1.
    if usage is None or usage["time_left"] < 0:
        logger.warning("rate limit store gave no count; allowing request tenant=%s", tenant.pk)
        return None
    count = int(usage["count"])
    return RateLimitState(limit=limit, remaining=max(0, limit - count),
                          reset_seconds=max(1, int(usage["time_left"])),
                          limited=count > limit)
