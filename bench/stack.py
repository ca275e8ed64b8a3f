"""A whole Claiv stack for benchmarks: embedded Postgres + Valkey, migrated, a tenant and
key, the API under gunicorn and Celery worker processes — the same parts as `make dev`.

Used as a context manager; everything it starts is stopped on exit. The data directory
can be kept between runs (`reuse=True`) so a benchmark can skip re-ingesting.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from claiv.devstack import gunicorn_argv
from claiv.embedded import free_port, postgres_start, valkey_start

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Stack:
    base_url: str
    api_key: str
    env: dict[str, str]
    data_dir: Path


def gunicorn_command(port: int, workers: int, *extra: str) -> list[str]:
    """The API server as the product runs it (`claiv.gunicorn_conf`) on 127.0.0.1:`port`,
    without an access log (a benchmark's requests would fill it)."""
    return [*gunicorn_argv(port, workers), "--access-logfile", "/dev/null", *extra]


def _manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{out.stderr}")
    return out.stdout


@contextmanager
def running_stack(
    *,
    data_dir: Path,
    tenant: str = "bench",
    web_workers: int = 2,
    worker_concurrency: int = 2,
    gunicorn_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    beat: bool = False,
) -> Iterator[Stack]:
    """`gunicorn_args` are appended to the server's command line (e.g. `-k gthread --threads
    8`); `extra_env` is added to every process's environment. `beat` runs Celery beat too,
    as `make dev` does: its sweeps re-send stuck chains and embed the episode summaries
    left stale while a backlog drained, which a benchmark that recalls after a big ingest
    needs (without it those episodes keep an old vector, or none, for good)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    postgres = postgres_start(data_dir=data_dir / "postgres")
    valkey = valkey_start(data_dir=data_dir / "valkey", persist=True)
    secrets_file = data_dir / "secrets"
    if not secrets_file.exists():
        secrets_file.write_text(secrets.token_urlsafe(40))
    secret = secrets_file.read_text().strip()
    env = dict(
        os.environ,
        DATABASE_URL=postgres.url,
        REDIS_URL=f"{valkey.connection_url}/0",
        SECRET_KEY=secret,
        CLAIV_KEY_PEPPER=secret,
        CLAIV_DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        PROMETHEUS_MULTIPROC_DIR=str(data_dir / "metrics"),
        **(extra_env or {}),
    )
    shutil.rmtree(env["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True)
    children: list[subprocess.Popen[bytes]] = []
    try:
        _manage(env, "migrate", "--noinput")
        # A reused stack's events may predate Event.time_notes: upgrade as an operator does.
        _manage(env, "backfill_time_notes")
        _manage(env, "create_tenant", tenant)
        # A benchmark drives far more than the default 600 requests/min per key. A high
        # limit rather than none (0), so every request still pays the limiter's round trip,
        # as it does in a deployment.
        _manage(env, "tenant_limits", tenant, "--rate-limit", "1000000")
        key = _manage(env, "api_key", "create", "--tenant", tenant).strip().splitlines()[-1]
        port = free_port()
        log = open(data_dir / "stack.log", "ab")  # noqa: SIM115 - closed in finally
        children.append(
            subprocess.Popen(
                gunicorn_command(port, web_workers, *gunicorn_args),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        )
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "claiv",
                    "worker",
                    "-Q",
                    "enrichment",
                    "--concurrency",
                    str(worker_concurrency),
                    "--loglevel",
                    "WARNING",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        )
        if beat:
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "claiv",
                        "beat",
                        "--loglevel",
                        "WARNING",
                        "--scheduler",
                        "claiv.beat_leader:LeaderScheduler",
                        "--schedule",
                        str(data_dir / "celerybeat-schedule"),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
        base = f"http://127.0.0.1:{port}"
        # Each process loads the model first: a minute or more on a busy machine. Wait as
        # long as they live (the limit only guards against a hang).
        deadline = time.monotonic() + 900
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2):
                    break
            except OSError:
                dead = [c.args for c in children if c.poll() is not None]
                if dead or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"stack did not become ready (exited: {dead}); see {data_dir / 'stack.log'}"
                    ) from None
                time.sleep(0.5)
        yield Stack(base_url=base, api_key=key, env=env, data_dir=data_dir)
    finally:
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        valkey.stop()
        postgres.stop()
