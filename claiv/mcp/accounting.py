"""Request accounting for `/mcp`, as the Django middleware does it for REST requests.

MCP requests reach the MCP app through claiv.asgi's PathRouter, not Django, so Django's
middleware never sees them. `RequestAccounting` wraps the MCP app and calls the same
services that middleware calls, once per HTTP request:
- `X-Request-ID`: the client's (when short and plain: `claiv.middleware.CLIENT_REQUEST_ID`)
  or a new one, on the response, and the log line (`claiv.request`, like REST's);
- request metrics: `claiv.metrics.registry.request_observe`, route `mcp`;
- usage (API.md §6): `memory.metering.usage_record` for the key's tenant, with the tokens
  a recall returned and the events an ingest stored (`mcp_meter`, called by the tools'
  backend). The endpoint is `MCP <tool>` for a tool call (so the usage totals count
  `memory_ingest`, `memory_recall` and `memory_forget` as ingest, recall and forget
  requests) and `POST /mcp` otherwise (handshake, tool list).
Rate limits per key are checked per tool call by the backend (claiv.mcp.services_backend,
the same `claiv.ratelimit.rate_limit_hit` as REST). Like REST's, bookkeeping never fails a
request.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async

from claiv.metrics import registry
from claiv.middleware import CLIENT_REQUEST_ID

logger = logging.getLogger("claiv.request")
ROUTE = "mcp"
# The JSON-RPC body is read for the tool's name only up to this size.
_PEEK_BYTES = 64 * 1024


@dataclass
class McpRequest:
    """What one MCP HTTP request accounts for; tools add to it through `mcp_meter`."""

    request_id: str
    tokens: int = 0
    ingest_events: int = 0


# Set around each request. Tools run in tasks and threads started from the request (they
# get a copy of the context), so they see the same object and add to it.
_current: ContextVar[McpRequest | None] = ContextVar("claiv_mcp_request", default=None)


def mcp_meter(*, tokens: int = 0, ingest_events: int = 0) -> None:
    """`claiv.api.meter` for MCP: this request's billable quantities."""
    account = _current.get()
    if account is not None:
        account.tokens += tokens
        account.ingest_events += ingest_events


def mcp_request_id() -> str:
    """The current MCP request's id ("" outside one)."""
    account = _current.get()
    return account.request_id if account is not None else ""


def _tool_of(body: bytes) -> str | None:
    """The tool a `tools/call` request names, for the usage endpoint."""
    if not body or len(body) > _PEEK_BYTES:
        return None
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if isinstance(message, dict) and message.get("method") == "tools/call":
        name = (message.get("params") or {}).get("name")
        if isinstance(name, str) and name.isidentifier() and len(name) <= 64:
            return name
    return None


def _tenant_of(scope: dict[str, Any]) -> str | None:
    """The authenticated key's tenant (the package's auth middleware sets `scope["user"]`)."""
    token = getattr(scope.get("user"), "access_token", None)
    subject = getattr(token, "subject", None)
    return str(subject) if subject else None


def _usage_record(**fields: Any) -> None:
    from memory.metering import usage_record

    try:
        usage_record(**fields)
    except Exception:  # bookkeeping must never turn a served request into a 500
        logger.exception("usage metering failed for an MCP request")


class RequestAccounting:
    """ASGI wrapper of the MCP app (see the module docstring). The app must mutate the
    scope it is given (Starlette's auth middleware does), not a copy."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        given = next(
            (bytes(v).decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), ""
        )
        request_id = given if CLIENT_REQUEST_ID.match(given) else str(uuid.uuid4())
        account = McpRequest(request_id=request_id)
        reset = _current.set(account)
        started = time.perf_counter()
        status = 500
        body = bytearray()
        sizes = {"request": 0, "response": 0}

        async def counted_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                sizes["request"] += len(chunk)
                if len(body) <= _PEEK_BYTES:
                    body.extend(chunk[: _PEEK_BYTES + 1 - len(body)])
            return message

        async def stamped(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            elif message["type"] == "http.response.body":
                sizes["response"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counted_receive, stamped)
        finally:
            _current.reset(reset)
            elapsed = time.perf_counter() - started
            method = scope.get("method", "")
            registry.request_observe(method=method, route=ROUTE, status=status, seconds=elapsed)
            tenant_id = _tenant_of(scope)
            logger.info(
                "request_id=%s method=%s path=%s status=%s ms=%.1f tenant=%s",
                request_id,
                method,
                scope.get("path", ""),
                status,
                elapsed * 1000,
                tenant_id or "-",
            )
            if tenant_id:
                tool = _tool_of(bytes(body))
                await sync_to_async(_usage_record, thread_sensitive=False)(
                    tenant_id=tenant_id,
                    endpoint=f"MCP {tool}" if tool else f"{method} /mcp",
                    status=status,
                    latency_ms=elapsed * 1000,
                    request_bytes=sizes["request"],
                    response_bytes=sizes["response"],
                    ingest_events=account.ingest_events,
                    tokens=account.tokens,
                )
