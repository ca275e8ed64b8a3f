"""Test Connection: call /healthz and /readyz (and, with a stored key, one authenticated
endpoint) of the API base URL a tenant's console points at, and say in plain words what
answered and what is down.

Reads only. Outbound requests go through `claiv.ssrf_guard`: the server's own public URL
is trusted, any other URL is checked again here (DNS may have changed since it was saved).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from claiv.secret_box import secret_decrypt
from claiv.ssrf_guard import UrlRefused, http_get
from tenants.models import Tenant
from tenants.selectors import connection_get
from tenants.services import connection_url_trusted

# Readiness check names in /readyz, as an operator would say them.
DEPENDENCY_NAMES = {
    "postgres": "PostgreSQL (the database)",
    "redis": "Redis/Valkey (task queue, rate limits, cache)",
}
# Any event id: an accepted key gets 404 for it, a rejected one 401.
PROBE_EVENT_ID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class ProbeResult:
    name: str
    url: str
    ok: bool
    status: int | None
    latency_ms: float | None
    summary: str
    down: list[str] = field(default_factory=list)
    refused: bool = False  # the URL failed the SSRF check; nothing was sent


@dataclass(frozen=True)
class ConnectionReport:
    base_url: str
    trusted: bool
    probes: list[ProbeResult]
    refused: str = ""  # why the URL itself was refused (nothing was called)

    @property
    def ok(self) -> bool:
        return not self.refused and all(p.ok for p in self.probes)


def _unreachable(exc: BaseException, url: str, timeout: float) -> str:
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    if isinstance(exc, ConnectionRefusedError):
        return f"Connection refused: nothing is listening at {where}."
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"No answer from {where} within {timeout:g} s."
    if isinstance(exc, socket.gaierror):
        return f"The host name {parts.hostname!r} could not be resolved."
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {where} failed ({exc.__class__.__name__})."
    if isinstance(exc, http.client.HTTPException | ConnectionError):
        return f"{where} closed the connection without a valid HTTP answer."
    return f"Could not reach {where} ({exc.__class__.__name__})."


def _json(body: bytes) -> dict[str, object]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _probe(
    name: str, url: str, *, trusted: bool, headers: dict[str, str] | None = None
) -> tuple[ProbeResult | None, int | None, bytes, float | None]:
    timeout = settings.CLAIV_CONSOLE_HTTP_TIMEOUT
    try:
        result = http_get(
            url,
            trusted=trusted,
            timeout=timeout,
            headers=headers,
            allow_private=settings.CLAIV_CONSOLE_ALLOW_PRIVATE_URLS,
        )
    except UrlRefused as exc:
        return (
            ProbeResult(name, url, False, None, None, exc.reason, refused=True),
            None,
            b"",
            None,
        )
    except (OSError, http.client.HTTPException) as exc:
        return (
            ProbeResult(name, url, False, None, None, _unreachable(exc, url, timeout)),
            None,
            b"",
            None,
        )
    return None, result.status, result.body, round(result.elapsed_ms, 1)


def _liveness(base: str, trusted: bool) -> ProbeResult:
    url = f"{base}/healthz"
    failed, status, body, ms = _probe("Liveness (/healthz)", url, trusted=trusted)
    if failed:
        return failed
    if status == 200 and _json(body).get("ok") is True:
        return ProbeResult("Liveness (/healthz)", url, True, status, ms, "The API process serves.")
    return ProbeResult(
        "Liveness (/healthz)",
        url,
        False,
        status,
        ms,
        f"Unexpected answer: HTTP {status} (is this a Claiv Memory server?).",
    )


def _readiness(base: str, trusted: bool) -> ProbeResult:
    url = f"{base}/readyz"
    name = "Readiness (/readyz)"
    failed, status, body, ms = _probe(name, url, trusted=trusted)
    if failed:
        return failed
    checks = _json(body).get("checks")
    checks = checks if isinstance(checks, dict) else {}
    down = [
        f"{DEPENDENCY_NAMES.get(k, k)} is down ({str(v).removeprefix('error: ')})"
        for k, v in sorted(checks.items())
        if v != "ok"
    ]
    if status == 200 and not down:
        names = " and ".join(DEPENDENCY_NAMES.get(k, k).split(" (")[0] for k in sorted(checks))
        return ProbeResult(name, url, True, status, ms, f"{names or 'All dependencies'} answer.")
    if down:
        summary = (
            f"Not ready: {len(down)} dependenc{'y is' if len(down) == 1 else 'ies are'} "
            "down. The API cannot serve requests until it is back:"
        )
    else:
        summary = f"Not ready: HTTP {status}."
    return ProbeResult(name, url, False, status, ms, summary, down=down)


def _authentication(base: str, trusted: bool, raw_key: str) -> ProbeResult:
    url = f"{base}/v1/events/{PROBE_EVENT_ID}"
    name = "API key (GET /v1/events/…)"
    failed, status, _, ms = _probe(
        name, url, trusted=trusted, headers={"Authorization": f"Bearer {raw_key}"}
    )
    if failed:
        return failed
    words = {
        404: (True, "The stored API key is accepted."),
        401: (False, "The stored API key is rejected (revoked, mistyped, or from another server)."),
        403: (False, "The stored API key is valid but lacks the memory:read scope."),
        429: (False, "The stored API key is rate limited right now."),
    }
    ok, summary = words.get(status or 0, (False, f"Unexpected answer: HTTP {status}."))
    return ProbeResult(name, url, ok, status, ms, summary)


def connection_test(*, tenant: Tenant) -> ConnectionReport:
    """Probe the tenant's configured API base URL (this server when none is set)."""
    connection = connection_get(tenant=tenant)
    base = (connection.api_base_url or settings.CLAIV_PUBLIC_BASE_URL).rstrip("/")
    trusted = not connection.api_base_url or connection_url_trusted(base)
    probes = [_liveness(base, trusted), _readiness(base, trusted)]
    refused = next((p.summary for p in probes if p.refused), "")
    if refused:
        return ConnectionReport(base_url=base, trusted=trusted, probes=[], refused=refused)
    if connection.api_key_ciphertext:
        raw = secret_decrypt(connection.api_key_ciphertext)
        if raw is None:
            probes.append(
                ProbeResult(
                    "API key",
                    "",
                    False,
                    None,
                    None,
                    "The stored API key cannot be decrypted (the console "
                    "encryption key changed); store it again.",
                )
            )
        else:
            probes.append(_authentication(base, trusted, raw))
    return ConnectionReport(base_url=base, trusted=trusted, probes=probes)
