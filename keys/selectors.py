"""API key reads, including the lookup that authenticates a request."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from django.db import InterfaceError, OperationalError, connection
from django.db.models import QuerySet
from django.utils import timezone

from claiv.errors import NotFound
from keys.hashing import key_matches, key_parse_prefix
from keys.models import ApiKey
from tenants.models import Tenant

logger = logging.getLogger("claiv.auth")


def api_key_authenticate(*, raw: str) -> ApiKey | None:
    """The active key matching `raw`, or None (malformed, unknown, wrong secret, revoked)."""
    prefix = key_parse_prefix(raw)
    if prefix is None:
        return None
    key = _key_with_tenant(prefix)
    if key is None or not key_matches(raw, key.key_hash) or not key.is_active(timezone.now()):
        return None
    return key


@lru_cache(maxsize=1)
def _lookup_sql() -> tuple[str, list[str], list[str]]:
    key_cols = [f.attname for f in ApiKey._meta.concrete_fields]
    tenant_cols = [f.attname for f in Tenant._meta.concrete_fields]
    select = ", ".join(
        [
            *(f"k.{connection.ops.quote_name(c)}" for c in key_cols),
            *(f"t.{connection.ops.quote_name(c)}" for c in tenant_cols),
        ]
    )
    sql = (
        f"SELECT {select} FROM {ApiKey._meta.db_table} k "
        f"JOIN {Tenant._meta.db_table} t ON t.id = k.tenant_id WHERE k.prefix = %s"
    )
    return sql, key_cols, tenant_cols


def _fetchone(sql: str, params: list[str]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()  # type: ignore[no-any-return]


def _fetchone_first_of_request(sql: str, params: list[str]) -> tuple[Any, ...] | None:
    """Run a read-only statement as the request's first use of a reused connection,
    standing in for Django's health check of it.

    With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first statement of each
    request on a persistent connection: a round trip (~0.12 ms) on every API request,
    a tenth of a cached recall's server time. Here the lookup itself is the check: if the
    connection turns out dead (the server restarted, an idle timeout), it is closed and
    the statement runs once more on a new one, as Django's check would have arranged.
    Retrying is safe because the statement only reads.
    """
    if (
        connection.connection is None
        or connection.in_atomic_block
        or not connection.health_check_enabled
        or connection.health_check_done
    ):
        return _fetchone(sql, params)
    connection.health_check_done = True
    try:
        return _fetchone(sql, params)
    except (InterfaceError, OperationalError):
        logger.info("reused database connection was dead; reconnecting")
        connection.close()
        return _fetchone(sql, params)


def _key_with_tenant(prefix: str) -> ApiKey | None:
    """The key with this prefix and its tenant, in one statement. Runs on every request:
    a fixed SQL string instead of ORM compilation (~0.5 ms of a ~4 ms cached recall)."""
    sql, key_cols, tenant_cols = _lookup_sql()
    row = _fetchone_first_of_request(sql, [prefix])
    if row is None:
        return None
    key = ApiKey.from_db(connection.alias, key_cols, row[: len(key_cols)])
    key.tenant = Tenant.from_db(connection.alias, tenant_cols, row[len(key_cols) :])
    return key


def api_key_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant).order_by("-created_at")


def api_key_get(*, tenant: Tenant, prefix: str) -> ApiKey:
    """A tenant's key by its public prefix (or the full raw key)."""
    wanted = key_parse_prefix(prefix) or prefix
    key = ApiKey.objects.filter(tenant=tenant, prefix=wanted).first()
    if key is None:
        raise NotFound(f"No API key with prefix {wanted!r} in this tenant.")
    return key
