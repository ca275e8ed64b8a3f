"""Database settings: the replica alias exists only with DATABASE_REPLICA_URL and is pooled
like the primary; the embedded Postgres runs with the workload's settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from claiv.embedded import POSTGRES_SETTINGS, SETTINGS_ENV, postgres_settings

ROOT = Path(__file__).resolve().parents[2]


def _databases(**env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_REPLICA_URL", "DB_POOL"}}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from django.conf import settings; "
            "print(json.dumps(settings.DATABASES, default=str))",
        ],
        cwd=ROOT,
        env=clean | {"DJANGO_SETTINGS_MODULE": "claiv.settings"} | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    databases: dict[str, Any] = json.loads(result.stdout)
    return databases


def test_no_replica_alias_without_the_setting() -> None:
    assert list(_databases()) == ["default"]


def test_replica_alias_is_pooled_like_the_primary() -> None:
    databases = _databases(
        DATABASE_REPLICA_URL="postgres://reader@replica.internal:5433/claiv",
        DB_POOL="1",
        DB_POOL_MAX_SIZE="7",
        CLAIV_INSTANCE_ID="claiv-api-7f9c-x2",
    )
    replica = databases["replica"]
    assert (replica["HOST"], replica["PORT"], replica["USER"], replica["NAME"]) == (
        "replica.internal",
        5433,
        "reader",
        "claiv",
    )
    assert replica["OPTIONS"] == {
        "connect_timeout": 3,
        # The instance id (the pod's name on Kubernetes) names the sessions in Postgres.
        "application_name": "claiv claiv-api-7f9c-x2",
        "pool": {"min_size": 2, "max_size": 7, "timeout": 5.0},
    }
    assert databases["default"]["OPTIONS"]["pool"] == replica["OPTIONS"]["pool"]
    assert replica["CONN_MAX_AGE"] == 0
    assert replica["TEST"] == {"MIRROR": "default"}


@pytest.mark.usefixtures("embedded_services")
def test_embedded_postgres_runs_with_the_workload_settings() -> None:
    from tests.plugins.services import postgres_server

    uri = postgres_server().server.get_uri("postgres")  # type: ignore[attr-defined]
    with psycopg.connect(uri) as conn:
        running = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in POSTGRES_SETTINGS
        }
    assert running == postgres_settings()


def test_embedded_settings_default_and_overrides() -> None:
    assert postgres_settings({}) == POSTGRES_SETTINGS
    # A long history's hot pages fit (BENCHMARKS.md), as in the compose file.
    assert POSTGRES_SETTINGS["shared_buffers"] == "1GB"
    chosen = postgres_settings({SETTINGS_ENV: " shared_buffers = 256MB ,effective_cache_size=1GB,"})
    assert chosen == POSTGRES_SETTINGS | {
        "shared_buffers": "256MB",
        "effective_cache_size": "1GB",
    }


@pytest.mark.parametrize(
    "raw, named",
    [
        ("fsync=off", "'fsync'"),
        ("shared_buffers", "'shared_buffers'"),
        ("shared_buffers=", "'shared_buffers='"),
    ],
)
def test_embedded_settings_refuse_other_names_and_malformed_items(raw: str, named: str) -> None:
    with pytest.raises(ValueError, match=SETTINGS_ENV) as refused:
        postgres_settings({SETTINGS_ENV: raw})
    assert named in str(refused.value)


def test_a_bad_override_starts_no_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from claiv.embedded import postgres_start

    monkeypatch.setenv(SETTINGS_ENV, "fsync=off")
    with pytest.raises(ValueError, match="fsync"):
        postgres_start(data_dir=tmp_path / "postgres")
    assert not (tmp_path / "postgres").exists()


def test_pooled_postgres_uses_the_backend_with_the_local_pool_check() -> None:
    assert _databases()["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert _databases(DB_POOL="1")["default"]["ENGINE"] == "claiv.postgres"
