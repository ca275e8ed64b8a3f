"""API key reads, including the lookup that authenticates a request."""

from __future__ import annotations

from functools import lru_cache

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from claiv.errors import NotFound
from keys.hashing import key_matches, key_parse_prefix
from keys.models import ApiKey
from tenants.models import Tenant


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
    select = ", ".join([*(f"k.{connection.ops.quote_name(c)}" for c in key_cols),
                        *(f"t.{connection.ops.quote_name(c)}" for c in tenant_cols)])
    sql = (f"SELECT {select} FROM {ApiKey._meta.db_table} k "
           f"JOIN {Tenant._meta.db_table} t ON t.id = k.tenant_id WHERE k.prefix = %s")
    return sql, key_cols, tenant_cols


def _key_with_tenant(prefix: str) -> ApiKey | None:
    """The key with this prefix and its tenant, in one statement. Runs on every request:
    a fixed SQL string instead of ORM compilation (~0.5 ms of a ~4 ms cached recall)."""
    sql, key_cols, tenant_cols = _lookup_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    key = ApiKey.from_db(connection.alias, key_cols, row[: len(key_cols)])
    key.tenant = Tenant.from_db(connection.alias, tenant_cols, row[len(key_cols):])
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
