"""Liveness and readiness probes (no auth)."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

READINESS_TIMEOUT_SECONDS = 1.0


def healthz(request: HttpRequest) -> JsonResponse:
    """The process serves; touches no dependency."""
    return JsonResponse({"ok": True})


def _check_postgres() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure means "not ready"; the reason is shown, not raised
        return f"error: {type(exc).__name__}"


def _check_redis() -> str:
    from claiv.redis_client import redis_connect

    try:
        client = redis_connect(
            settings.REDIS_URL,
            socket_connect_timeout=READINESS_TIMEOUT_SECONDS,
            socket_timeout=READINESS_TIMEOUT_SECONDS,
        )
        try:
            client.ping()
        finally:
            client.close()
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"postgres": _check_postgres(), "redis": _check_redis()}
    ok = all(value == "ok" for value in checks.values())
    return JsonResponse({"ok": ok, "checks": checks}, status=200 if ok else 503)
