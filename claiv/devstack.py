"""`make dev`: run the whole system on one machine with nothing but Python.

Starts (unless DATABASE_URL / REDIS_URL point elsewhere) an embedded PostgreSQL with
pgvector and an embedded Valkey under `.data/`, migrates, ensures a `demo` tenant, then runs
the API (gunicorn), a Celery worker and Celery beat under a small supervisor:

- it waits for the system to be up as long as its processes are alive (a progress line
  while it waits; a failure naming the process and its last lines if one exits, or after
  `READY_LIMIT` seconds), and only then prints a fresh API key with working curl lines;
- after that, a process that exits is restarted with backoff instead of stopping the stack;
- Ctrl-C (or SIGTERM) stops everything it started, embedded servers included.

Secrets for development are generated once into `.data/dev.env` (git-ignored); `manage.py`
in another terminal reads that file.
"""

from __future__ import annotations

import base64
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The gunicorn master and the Celery main process load the model once before they fork
# (claiv.gunicorn_conf, claiv.celery): 40-150 s to ready on a busy 2-core machine. While
# every process is alive the wait goes on up to this.
READY_LIMIT = float(os.environ.get("CLAIV_DEV_READY_LIMIT", "900"))
PROGRESS_EVERY = 15.0
LAST_LINES = 30


def data_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("CLAIV_DATA_DIR", ROOT / ".data"))


def dev_port(environ: Mapping[str, str]) -> int:
    return int(environ.get("PORT", "8000"))


def public_base_url(environ: Mapping[str, str]) -> str:
    """Where the console's Test Connection finds "this server": the user's
    CLAIV_PUBLIC_BASE_URL if set, else the address the API started here listens on."""
    return environ.get("CLAIV_PUBLIC_BASE_URL") or f"http://127.0.0.1:{dev_port(environ)}"


def env_file_read(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.startswith("#"):
                values[name.strip()] = value.strip()
    return values


def env_file_write(path: Path, values: Mapping[str, str]) -> None:
    path.write_text(
        "# written by `make dev`; development secrets, never commit\n"
        + "".join(f"{k}={v}\n" for k, v in values.items())
    )
    path.chmod(0o600)


def dev_secrets(previous: Mapping[str, str]) -> dict[str, str]:
    """Generated once and kept, so keys and receipts stay valid across restarts."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    seed = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    return {
        "SECRET_KEY": previous.get("SECRET_KEY") or secrets.token_urlsafe(48),
        "CLAIV_KEY_PEPPER": previous.get("CLAIV_KEY_PEPPER") or secrets.token_urlsafe(48),
        "CLAIV_RECEIPT_SIGNING_KEY": previous.get("CLAIV_RECEIPT_SIGNING_KEY")
        or base64.b64encode(seed).decode(),
    }


def _die_with_parent() -> None:
    """Children get SIGTERM if this launcher dies, even by SIGKILL: no orphans. (The signal
    follows the thread that spawned the child, so children are spawned from the main thread.)"""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class StackFailed(Exception):
    """The system did not come up; the message names the process and its last lines."""


@dataclass
class Child:
    """One supervised process: its output goes to the terminal, prefixed with its name, and
    its last lines are kept for failure messages. `ready` says whether it is up."""

    name: str
    args: list[str]
    env: Mapping[str, str]
    ready: Callable[[Child], bool] = lambda child: child.alive()
    popen: subprocess.Popen[bytes] | None = None
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=LAST_LINES))
    started_at: float = 0.0
    restarts: int = 0  # consecutive, reset once the process stayed up (see Supervisor)
    restart_at: float | None = None
    # Latched by Supervisor.wait_ready: once ready since its start, a child stays counted
    # ready. A log-line check looks at the last lines only, and a worker that answers tasks
    # (beat's sweeps, every few seconds) pushes its " ready." line out of them while a
    # slower child (the API master exporting and loading the model) is still coming up.
    was_ready: bool = False
    # Set by the output reader itself when a line holds the text `ready` waits for (a
    # `LogSays`): a worker that wakes to a backlog (beat queued a sweep every few seconds
    # while the model loaded) logs dozens of task lines in the same instant as " ready.",
    # pushing it out of the last lines before the next poll can look.
    announced: bool = False
    _reader: threading.Thread | None = None

    def start(self) -> None:
        print(f"[dev] starting {self.name}: {' '.join(self.args)}", flush=True)
        self.lines.clear()
        self.was_ready = False
        self.announced = False
        self.popen = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=dict(self.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.started_at = time.monotonic()
        self._reader = threading.Thread(
            target=self._copy_output,
            args=(self.popen,),
            name=f"dev-{self.name}-output",
            daemon=True,
        )
        self._reader.start()

    def _copy_output(self, popen: subprocess.Popen[bytes]) -> None:
        assert popen.stdout is not None
        announcement = self.ready.text if isinstance(self.ready, LogSays) else None
        for raw in popen.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if announcement is not None and announcement in line:
                self.announced = True
            sys.stdout.write(f"{self.name:>6} | {line}\n")
            sys.stdout.flush()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def exit_code(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def seen(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def last_lines(self) -> str:
        if self._reader is not None:
            self._reader.join(timeout=2)  # the output a dead process left in the pipe
        return "\n".join(f"    {line}" for line in list(self.lines)) or "    (no output)"

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM the process, SIGKILL its whole group if still there after `grace` seconds.

        Only the leader is asked: a gunicorn master or a Celery worker stops its own
        children in order (the worker's warm shutdown lets the task in hand finish). A
        SIGTERM to the whole group killed the pool processes under a running task
        (WorkerLostError); its message was only re-delivered on the next start."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Also grandchildren a process left behind in its group (pool processes).
        _killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()


def _killpg(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def restart_delay(restarts: int, *, base: float = 1.0, cap: float = 30.0) -> float:
    """Seconds before restart number `restarts + 1` of a process: 1, 2, 4, ... up to 30."""
    return min(cap, base * 2**restarts)


class Supervisor:
    """Starts, watches and stops the children. `wait_ready` before the system is up,
    `watch_once` (in a loop) after."""

    def __init__(
        self,
        children: list[Child],
        *,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        stable_after: float = 60.0,
        stop_grace: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.children = children
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.stable_after = stable_after  # up this long: the next crash restarts at once
        self.stop_grace = stop_grace  # after SIGTERM, before SIGKILL
        self.clock = clock
        self.stopping = threading.Event()

    def start_all(self) -> None:
        for child in self.children:
            child.start()

    def wait_ready(
        self,
        *,
        limit: float = READY_LIMIT,
        progress_every: float = PROGRESS_EVERY,
        poll: float = 0.5,
    ) -> bool:
        """Wait until every child is ready. Returns False if asked to stop meanwhile; raises
        StackFailed when a child exits, or after `limit` seconds."""
        started = self.clock()
        last_progress = started
        while not self.stopping.is_set():
            for child in self.children:
                if not child.alive():
                    raise StackFailed(
                        f"{child.name} exited with code {child.exit_code()} "
                        f"before the system was up; its last lines:\n"
                        f"{child.last_lines()}"
                    )
            for child in self.children:
                if not child.was_ready and child.ready(child):
                    child.was_ready = True
            waiting = [child.name for child in self.children if not child.was_ready]
            if not waiting:
                return True
            now = self.clock()
            if now - started > limit:
                raise StackFailed(
                    f"{', '.join(waiting)} not ready after {limit:.0f} s although running; "
                    "their last lines:\n"
                    + "\n".join(
                        f"  {c.name}:\n{c.last_lines()}" for c in self.children if c.name in waiting
                    )
                )
            if now - last_progress >= progress_every:
                last_progress = now
                print(
                    f"[dev] waiting for {', '.join(waiting)} ({now - started:.0f} s; "
                    f"{len(self.children)} processes running, loading the model takes "
                    "a minute on a busy machine)",
                    flush=True,
                )
            self.stopping.wait(poll)
        return False

    def watch_once(self) -> None:
        """Restart children that exited, each after its backoff delay."""
        now = self.clock()
        for child in self.children:
            if child.alive():
                if child.restarts and now - child.started_at >= self.stable_after:
                    child.restarts = 0
                continue
            if child.restart_at is None:
                child.stop()  # reaps it and what it left in its group (pool processes)
                delay = restart_delay(child.restarts, base=self.backoff_base, cap=self.backoff_cap)
                child.restart_at = now + delay
                print(
                    f"[dev] {child.name} exited with code {child.exit_code()}; restarting "
                    f"in {delay:.0f} s. Its last lines:\n{child.last_lines()}",
                    flush=True,
                )
            elif now >= child.restart_at:
                child.restart_at = None
                child.restarts += 1
                child.start()

    def run(self, poll: float = 0.5) -> None:
        """Keep the children running until `stopping` is set."""
        while not self.stopping.is_set():
            self.watch_once()
            self.stopping.wait(poll)

    def stop_all(self) -> None:
        self.stopping.set()
        for child in reversed(self.children):
            if child.alive():  # all asked at once; each leader stops its own children
                child.popen.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        for child in reversed(self.children):
            child.stop(self.stop_grace)


def http_ok(url: str) -> Callable[[Child], bool]:
    """Readiness of a child that serves `url`: it answers 200."""

    def ready(child: Child) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    return ready


@dataclass(frozen=True)
class LogSays:
    """Readiness of a child that announces it in its output (Celery: "… ready."): true once
    the child's output reader has read a line holding `text` since the child's start, even
    if later lines have pushed it out of the kept last lines."""

    text: str

    def __call__(self, child: Child) -> bool:
        return child.announced or child.seen(self.text)


def log_says(text: str) -> LogSays:
    """Readiness of a child that announces it in its output (see `LogSays`)."""
    return LogSays(text)


def gunicorn_argv(port: int, workers: int, *, python: str = sys.executable) -> list[str]:
    """The API server as the product runs it: gunicorn with `claiv.gunicorn_conf` on
    127.0.0.1:`port` (the dev stack, the benchmarks' stacks and the server tests)."""
    return [
        python,
        "-m",
        "gunicorn",
        "--config",
        "python:claiv.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]


def stack_children(env: Mapping[str, str], *, python: str = sys.executable) -> list[Child]:
    port = dev_port(env)
    data = data_dir(env)
    return [
        Child(
            "api",
            gunicorn_argv(port, 2, python=python),
            env,
            ready=http_ok(f"http://127.0.0.1:{port}/readyz"),
        ),
        Child(
            "worker",
            [
                python,
                "-m",
                "celery",
                "-A",
                "claiv",
                "worker",
                "-Q",
                "enrichment",
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
            ],
            env,
            ready=log_says(" ready."),
        ),
        # The leader lock lets a second beat (another `make dev`, a stray one) stand by.
        Child(
            "beat",
            [
                python,
                "-m",
                "celery",
                "-A",
                "claiv",
                "beat",
                "--loglevel",
                "INFO",
                "--scheduler",
                "claiv.beat_leader:LeaderScheduler",
                "--schedule",
                str(data / "celerybeat-schedule"),
            ],
            env,
        ),
    ]


def metrics_dir_fresh(environ: Mapping[str, str]) -> Path:
    """The Prometheus multiprocess directory of this run: PROMETHEUS_MULTIPROC_DIR as given
    (its owner may have live processes writing there), else `<data>/metrics`, emptied first
    since files of a previous run's processes would count forever."""
    given = environ.get("PROMETHEUS_MULTIPROC_DIR")
    path = Path(given) if given else data_dir(environ) / "metrics"
    if not given:
        shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _manage(env: Mapping[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise StackFailed(f"manage.py {args[0]} failed")
    return out.stdout


def demo_key_create(env: Mapping[str, str]) -> str:
    """A fresh full-scope key of the demo tenant (only once the system is up)."""
    return (
        _manage(env, "api_key", "create", "--tenant", "demo", "--name", "make dev")
        .strip()
        .splitlines()[-1]
    )


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    environ = dict(os.environ)
    data = data_dir(environ)
    data.mkdir(parents=True, exist_ok=True)
    env_file = data / "dev.env"
    env = dict(environ)
    generated = dev_secrets(env_file_read(env_file))
    for name, value in generated.items():
        env.setdefault(name, value)
    # Test Connection in the console checks "this server" at this address.
    env["CLAIV_PUBLIC_BASE_URL"] = public_base_url(environ)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir_fresh(environ))
    stoppers: list[Callable[[], None]] = []
    supervisor = Supervisor([])
    # Ctrl-C and SIGTERM stop through the `finally` below. SIGINT explicitly too: started in
    # the background by a script, Python inherits it ignored and Ctrl-C would do nothing.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)

    try:
        if "DATABASE_URL" not in environ:
            from claiv.embedded import postgres_start

            print(
                f"[dev] starting embedded PostgreSQL + pgvector in {data / 'postgres'}", flush=True
            )
            postgres = postgres_start(data_dir=data / "postgres")
            stoppers.append(postgres.stop)
            env["DATABASE_URL"] = postgres.url
        if "REDIS_URL" not in environ:
            from claiv.embedded import valkey_start

            print(f"[dev] starting embedded Valkey in {data / 'valkey'}", flush=True)
            valkey = valkey_start(data_dir=data / "valkey", persist=True)
            stoppers.append(valkey.stop)  # type: ignore[attr-defined]
            env["REDIS_URL"] = f"{valkey.connection_url}/0"  # type: ignore[attr-defined]
        env_file_write(
            env_file,
            {
                **generated,
                "DATABASE_URL": env["DATABASE_URL"],
                "REDIS_URL": env["REDIS_URL"],
                "CLAIV_PUBLIC_BASE_URL": env["CLAIV_PUBLIC_BASE_URL"],
            },
        )

        print("[dev] migrating", flush=True)
        _manage(env, "migrate", "--noinput")
        _manage(env, "backfill_time_notes")  # events enriched by an older build
        _manage(env, "create_tenant", "demo", "--name", "Demo")

        supervisor.children = stack_children(env)
        supervisor.start_all()
        print(
            "[dev] waiting for the API (/readyz) and the worker; they load the embedding "
            "model first",
            flush=True,
        )
        started = time.monotonic()
        if not supervisor.wait_ready():
            return 0
        raw_key = demo_key_create(env)
        base = f"http://127.0.0.1:{dev_port(environ)}"
        print(f"[dev] up in {time.monotonic() - started:.0f} s", flush=True)
        print(_banner(base, raw_key), flush=True)
        supervisor.run()
        return 0
    except StackFailed as failure:
        print(f"[dev] the system did not come up: {failure}", flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("[dev] stopping", flush=True)
        supervisor.stop_all()
        for stopper in reversed(stoppers):
            stopper()
        print("[dev] stopped", flush=True)


def _banner(base: str, key: str) -> str:
    return f"""
============================================================================
 Claiv Memory is running at {base}  (Ctrl-C stops everything)
 Demo tenant: demo
 API key (shown once):
   {key}

 Try it:
   export CLAIV_KEY={key}
   curl -s {base}/v1/ingest -H "Authorization: Bearer $CLAIV_KEY" \\
     -H 'Content-Type: application/json' \\
     -d '{{"user_id":"alice","type":"message","role":"user","thread_id":"t1","content":"I live in Berlin and I love hiking."}}'
   sleep 3
   curl -s {base}/v1/recall -H "Authorization: Bearer $CLAIV_KEY" \\
     -H 'Content-Type: application/json' \\
     -d '{{"user_id":"alice","task":"Where does the user live?","token_budget":500}}'
============================================================================
"""


if __name__ == "__main__":
    sys.exit(main())
