"""`make dev`: run the whole system on one machine with nothing but Python.

Starts (unless DATABASE_URL / REDIS_URL point elsewhere) an embedded PostgreSQL with
pgvector and an embedded Valkey under `.data/`, migrates, ensures a `demo` tenant, prints
a fresh API key with working curl lines, then runs the API (gunicorn), a Celery worker and
Celery beat. Ctrl-C stops everything it started. Secrets for development are generated
once into `.data/dev.env` (git-ignored); `manage.py` in another terminal reads that file.
"""

from __future__ import annotations

import base64
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CLAIV_DATA_DIR", ROOT / ".data"))
ENV_FILE = DATA / "dev.env"
PORT = int(os.environ.get("PORT", "8000"))


def _read_env_file() -> dict[str, str]:
    values: dict[str, str] = {}
    if ENV_FILE.exists():
        for line in ENV_FILE.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.startswith("#"):
                values[name.strip()] = value.strip()
    return values


def _dev_secrets(previous: dict[str, str]) -> dict[str, str]:
    """Generated once and kept, so keys and receipts stay valid across restarts."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw,
                                                      NoEncryption())
    return {
        "SECRET_KEY": previous.get("SECRET_KEY") or secrets.token_urlsafe(48),
        "CLAIV_KEY_PEPPER": previous.get("CLAIV_KEY_PEPPER") or secrets.token_urlsafe(48),
        "CLAIV_RECEIPT_SIGNING_KEY": previous.get("CLAIV_RECEIPT_SIGNING_KEY")
        or base64.b64encode(seed).decode(),
    }


def _die_with_parent() -> None:
    """Children get SIGTERM if this launcher dies, even by SIGKILL: no orphans."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    print(f"[dev] starting {name}: {' '.join(args)}", flush=True)
    return subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True,
                            preexec_fn=_die_with_parent)


def _manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"[dev] manage.py {args[0]} failed")
    return out.stdout


def _wait_ready(url: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def main() -> int:
    DATA.mkdir(parents=True, exist_ok=True)
    previous = _read_env_file()
    env = dict(os.environ)
    stoppers: list[Any] = []
    children: list[subprocess.Popen[bytes]] = []
    generated = _dev_secrets(previous)
    for name, value in generated.items():
        env.setdefault(name, value)

    try:
        if "DATABASE_URL" not in os.environ:
            from claiv.embedded import postgres_start

            print("[dev] starting embedded PostgreSQL + pgvector in .data/postgres", flush=True)
            postgres = postgres_start(data_dir=DATA / "postgres")
            stoppers.append(postgres.stop)
            env["DATABASE_URL"] = postgres.url
        if "REDIS_URL" not in os.environ:
            from claiv.embedded import valkey_start

            print("[dev] starting embedded Valkey in .data/valkey", flush=True)
            valkey = valkey_start(data_dir=DATA / "valkey", persist=True)
            stoppers.append(valkey.stop)
            env["REDIS_URL"] = f"{valkey.connection_url}/0"
        file_values = {**generated, "DATABASE_URL": env["DATABASE_URL"],
                       "REDIS_URL": env["REDIS_URL"]}
        ENV_FILE.write_text("# written by `make dev`; development secrets, never commit\n"
                            + "".join(f"{k}={v}\n" for k, v in file_values.items()))
        ENV_FILE.chmod(0o600)

        print("[dev] migrating", flush=True)
        _manage(env, "migrate", "--noinput")
        _manage(env, "backfill_time_notes")  # events enriched by an older build
        _manage(env, "create_tenant", "demo", "--name", "Demo")
        raw_key = _manage(env, "api_key", "create", "--tenant", "demo",
                          "--name", "make dev").strip().splitlines()[-1]

        python = sys.executable
        children.append(_spawn("api", [python, "-m", "gunicorn", "claiv.wsgi:application",
                                       "--config", "python:claiv.gunicorn_conf",
                                       "--bind", f"127.0.0.1:{PORT}", "--workers", "2"], env))
        children.append(_spawn("worker", [python, "-m", "celery", "-A", "claiv", "worker",
                                          "-Q", "enrichment", "--concurrency", "2",
                                          "--loglevel", "INFO"], env))
        children.append(_spawn("beat", [python, "-m", "celery", "-A", "claiv", "beat",
                                        "--loglevel", "INFO", "--schedule",
                                        str(DATA / "celerybeat-schedule")], env))
        base = f"http://127.0.0.1:{PORT}"
        if not _wait_ready(f"{base}/readyz"):
            print("[dev] the API did not become ready; see the log above", flush=True)
            return 1
        print(_banner(base, raw_key), flush=True)

        stop = {"now": False}

        def _on_signal(signum: int, frame: Any) -> None:
            stop["now"] = True

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        while not stop["now"]:
            if any(child.poll() is not None for child in children):
                print("[dev] a process exited; stopping everything", flush=True)
                break
            time.sleep(0.5)
        return 0
    finally:
        print("[dev] stopping", flush=True)
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        for stopper in reversed(stoppers):
            stopper()


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
