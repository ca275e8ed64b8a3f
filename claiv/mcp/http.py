"""The MCP Streamable HTTP endpoint, mounted at `/mcp` by claiv.asgi.

Stateless (any replica answers any request; no session is kept between requests) with JSON
responses. 2025-era clients (the initialize handshake, protocol 2024-11-05 to 2025-11-25)
and 2026-era clients (per-request envelope, 2026-07-28) are both served by the package.

Authentication is the package's bearer middleware with `ApiKeyVerifier`: no key, a bad or
a revoked key get 401 with `WWW-Authenticate: Bearer error="invalid_token", ...`. No
`resource_metadata` parameter and no RFC 9728 metadata document: keys are issued by an
operator, not by an OAuth authorization server, and pointing a client at one that does not
exist would send it into a discovery that cannot succeed. Postgres down while
authenticating: 503 in the API's error envelope.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings

from claiv.mcp.accounting import RequestAccounting, mcp_request_id
from claiv.mcp.auth import ApiKeyVerifier, DatabaseUnavailable
from claiv.mcp.services_backend import ServicesBackend
from claiv.mcp.tools import server_build

logger = logging.getLogger("claiv.mcp")
MOUNT_PATH = "/mcp"
RETRY_AFTER_S = 5  # the pool's wait for a connection (DB_POOL_TIMEOUT) is of this order


def _host_allowed(scope: dict[str, Any]) -> bool:
    """Django's ALLOWED_HOSTS rule, which the Django side applies to every other path."""
    from django.conf import settings
    from django.http.request import split_domain_port, validate_host

    host = next((bytes(v).decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


async def _send_json(
    send: Any, status: int, body: dict[str, Any], headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def _error(code: str, message: str) -> dict[str, Any]:
    return {
        "error": {"code": code, "message": message, "request_id": mcp_request_id(), "details": {}}
    }


async def _server_error(request: Any, exc: Exception) -> Any:
    from starlette.responses import JSONResponse

    if isinstance(exc, DatabaseUnavailable):
        return JSONResponse(
            _error("unavailable", "The database is unavailable; try again shortly."),
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    return JSONResponse(_error("internal_error", "Internal server error."), status_code=500)


class McpApp:
    """The ASGI app for `/mcp`; `lifespan()` must run around serving (the package's
    session manager keeps the task group requests run in)."""

    def __init__(self) -> None:
        from django.conf import settings

        self.server = server_build(
            ServicesBackend(),
            token_verifier=ApiKeyVerifier(),
            # issuer_url is required by the package's settings but used only for OAuth
            # metadata, which this server does not publish (see the module docstring).
            auth=AuthSettings(issuer_url=settings.CLAIV_PUBLIC_BASE_URL, resource_server_url=None),
        )
        self.app = self.server.streamable_http_app(
            streamable_http_path=MOUNT_PATH,
            stateless_http=True,
            json_response=True,
            max_request_body_size=settings.MAX_BODY_BYTES,
            # Hosts are checked against ALLOWED_HOSTS here, like the rest of the API.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        # The package's auth middleware sits outside Starlette's exception middleware: an
        # outage while verifying a key reaches only the server-error handler.
        self.app.add_exception_handler(Exception, _server_error)
        # X-Request-ID, request metrics and usage, as Django's middleware for REST.
        self.accounted = RequestAccounting(self._serve)

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        @asynccontextmanager
        async def run() -> AsyncIterator[None]:
            async with self.server.session_manager.run():
                yield

        return run()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if not _host_allowed(scope):
            await _send_json(send, 400, _error("invalid_request", "Host not allowed."))
            return
        # The package routes on the whole path: undo the mount's root_path.
        await self.accounted({**scope, "root_path": ""}, receive, send)

    async def _serve(self, scope: Any, receive: Any, send: Any) -> None:
        started = False

        async def tracked(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            # A thread of its own for this request's sync code, as Django's handler gives
            # each request: without it every MCP request of the process would queue on one.
            async with ThreadSensitiveContext():
                await self.app(scope, receive, tracked)
        except DatabaseUnavailable:
            # Answered 503 by _server_error (Starlette re-raises after answering).
            if not started:
                await _send_json(
                    send,
                    503,
                    _error("unavailable", "The database is unavailable; try again shortly."),
                    ((b"retry-after", str(RETRY_AFTER_S).encode()),),
                )
            logger.warning("mcp: database unavailable while authenticating")
