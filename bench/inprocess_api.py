"""The API in-process for benchmarks: an embedded Postgres and Valkey in a temporary
directory under `bench/.cache`, Django set up against them and migrated, one tenant with a
rate limit high enough never to refuse (but still paid for: every request makes the
limiter's round trip), and a `django.test.Client` holding that tenant's key. Requests go
through the whole Django path (middleware, key, limiter, metering, validation, the
transaction) without an HTTP server. Everything is stopped and removed on exit.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stack import ROOT
from claiv.embedded import postgres_start, valkey_start

_BENCH_SECRET = "bench-secret-bench-secret-bench-secret-00"


@dataclass(frozen=True)
class InProcessApi:
    tenant: Any  # tenants.models.Tenant (imported only after django.setup())
    client: Any  # django.test.Client with the tenant's key
    data_dir: Path


@contextmanager
def inprocess_api(*, prefix: str, tenant_slug: str) -> Iterator[InProcessApi]:
    """Start the services, set Django up against them and yield the tenant and a client."""
    cache = ROOT / "bench" / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix=prefix, dir=cache))
    postgres = postgres_start(data_dir=data_dir / "postgres")
    valkey = valkey_start(data_dir=data_dir / "valkey", persist=False)
    try:
        os.environ.update(
            DATABASE_URL=postgres.url,
            REDIS_URL=f"{valkey.connection_url}/0",
            SECRET_KEY=_BENCH_SECRET,
            CLAIV_KEY_PEPPER=_BENCH_SECRET,
            CLAIV_DATA_DIR=str(data_dir),
            LOG_LEVEL="WARNING",
            DJANGO_SETTINGS_MODULE="claiv.settings",
        )
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client

        from keys.services import api_key_create
        from tenants.services import tenant_ensure, tenant_rate_limit_set

        call_command("migrate", "--noinput", verbosity=0)
        tenant = tenant_ensure(slug=tenant_slug)[0]
        tenant_rate_limit_set(tenant=tenant, per_minute=1_000_000)
        _, raw = api_key_create(tenant=tenant, name="bench", origin="bench")
        yield InProcessApi(
            tenant=tenant, client=Client(HTTP_AUTHORIZATION=f"Bearer {raw}"), data_dir=data_dir
        )
    finally:
        valkey.stop()
        postgres.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
