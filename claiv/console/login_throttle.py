"""Console login throttle: failures counted per (username, client IP) in the cache.

After `CLAIV_CONSOLE_LOGIN_MAX_FAILURES` failures within the lockout window the pair is
locked out for `CLAIV_CONSOLE_LOGIN_LOCKOUT_SECONDS`, whatever password is tried meanwhile.
Counting per pair (not per username alone) keeps an attacker from locking a real operator
out from elsewhere. If the cache is unreachable the throttle fails open and logs it: the
console stays usable for the operator fixing the outage.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger("claiv.console")


def _key(kind: str, username: str, ip: str) -> str:
    # Hashed: usernames are personal data and must not sit in Redis in clear.
    digest = hashlib.sha256(f"{username.strip().lower()}\x1f{ip}".encode()).hexdigest()[:32]
    return f"console-login:{kind}:{digest}"


def login_lock_remaining(*, username: str, ip: str) -> int:
    """Seconds the (username, ip) pair is still locked out; 0 when it may try."""
    try:
        until = cache.get(_key("lock", username, ip))
    except Exception:
        logger.warning("login throttle unavailable (cache down); allowing the attempt")
        return 0
    return max(0, int(until - time.time())) if until else 0


def login_failed(*, username: str, ip: str) -> None:
    window = settings.CLAIV_CONSOLE_LOGIN_LOCKOUT_SECONDS
    try:
        key = _key("fail", username, ip)
        cache.add(key, 0, timeout=window)
        failures = cache.incr(key)
        if failures >= settings.CLAIV_CONSOLE_LOGIN_MAX_FAILURES:
            cache.set(_key("lock", username, ip), time.time() + window, timeout=window)
            cache.delete(key)
            logger.warning("console login locked out for %ss ip=%s", window, ip)
    except Exception:
        logger.warning("login throttle unavailable (cache down); failure not counted")


def login_succeeded(*, username: str, ip: str) -> None:
    try:
        cache.delete(_key("fail", username, ip))
    except Exception:
        logger.warning("login throttle unavailable (cache down)")
