"""API keys as MCP bearer tokens: the package's `TokenVerifier` hook over the same lookup the
REST API uses (keys.selectors.api_key_authenticate), so a revoked key is refused on its next
request here too."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError, InterfaceError, connections
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from psycopg_pool import PoolTimeout
from pydantic import ConfigDict, Field

from keys.models import ApiKey
from keys.selectors import api_key_authenticate
from keys.services import api_key_touch

# What a database outage looks like from a request: no connection from the pool in time,
# or a connection that fails.
DATABASE_DOWN = (DatabaseError, InterfaceError, PoolTimeout)


class DatabaseUnavailable(Exception):
    """Postgres did not answer; the request cannot be authenticated (-> HTTP 503)."""


class KeyAccessToken(AccessToken):
    """An access token that carries the authenticated key (with its tenant) for the tools;
    never serialized."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    api_key: Any = Field(default=None, exclude=True, repr=False)


def connections_release() -> None:
    """Give this thread's database connections back (to the pool, under the server), as
    Django does at the end of a request: nothing is held between MCP requests."""
    for conn in connections.all(initialized_only=True):
        conn.close()


def _key_verify(raw: str) -> ApiKey | None:
    try:
        key = api_key_authenticate(raw=raw)
        if key is not None:
            api_key_touch(key=key)
        return key
    finally:
        connections_release()


class ApiKeyVerifier:
    """`TokenVerifier`: the raw key -> an AccessToken with the key's scopes, or None (401)."""

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            key = await sync_to_async(_key_verify, thread_sensitive=True)(token.strip())
        except DATABASE_DOWN as exc:
            raise DatabaseUnavailable from exc
        if key is None:
            return None
        # client_id is the public prefix: the package may log it; the secret never.
        return KeyAccessToken(
            token=token,
            client_id=key.prefix,
            scopes=list(key.scopes),
            subject=str(key.tenant_id),
            api_key=key,
        )


def current_key() -> ApiKey:
    """The key that authenticated the current MCP request (set by the package's auth
    middleware; the tools run only behind it)."""
    token = get_access_token()
    if not isinstance(token, KeyAccessToken) or token.api_key is None:
        raise LookupError("no authenticated API key for this MCP request")
    key: ApiKey = token.api_key
    return key
