"""A/B of the API server setups on one machine: the ASGI worker (claiv.gunicorn_conf) and the
former sync WSGI workers, side by side on one Postgres and one Valkey.

    .venv/bin/python -m bench.server_ab [--rounds 2000]

Both servers get one worker. Requests alternate between them (A, B, B, A, ...) so load
from the rest of the machine falls on both alike. Measured per server: `GET /healthz` and a
cached `POST /v6/recall` (same body every time: after the first call it is a cache hit),
client-side wall time and the server's own `Server-Timing: app;dur=`. The ASGI server is
measured on a new connection per request (as the sync worker needs) and on keep-alive.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.stack import ROOT, gunicorn_command, running_stack
from claiv.embedded import free_port

_APP_DUR = re.compile(r"app;dur=([0-9.]+)")


def _server(env: dict[str, str], port: int, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(
        gunicorn_command(port, 1, *extra),
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=out,
        start_new_session=True,
    )


def _wait(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"server on {port} did not start")


def _timed(
    conn_for: Callable[[], http.client.HTTPConnection],
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
) -> tuple[float, float]:
    """(client ms, server ms) of one request."""
    started = time.perf_counter()
    conn = conn_for()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    client_ms = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise SystemExit(f"{method} {path}: {response.status}")
    match = _APP_DUR.search(response.getheader("Server-Timing", ""))
    return client_ms, float(match.group(1)) if match else float("nan")


def _summary(samples: list[tuple[float, float]]) -> str:
    client = sorted(s[0] for s in samples)
    server = sorted(s[1] for s in samples)

    def p(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    return (
        f"client p50 {p(client, 0.5):.2f} p95 {p(client, 0.95):.2f} p99 {p(client, 0.99):.2f}"
        f" | server p50 {p(server, 0.5):.2f} p95 {p(server, 0.95):.2f}"
        f" mean {statistics.fmean(server):.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(data_dir=Path(tmp), web_workers=1) as stack,
    ):
        log = Path(tmp) / "ab.log"
        ports = {"asgi": free_port(), "sync": free_port()}
        procs = [
            _server({**stack.env, "DB_CONN_MAX_AGE": "60"}, ports["asgi"], log),
            _server(
                {**stack.env, "DB_CONN_MAX_AGE": "60"},
                ports["sync"],
                log,
                "claiv.wsgi:application",
                "--worker-class",
                "sync",
            ),
        ]
        try:
            for name, proc in zip(ports, procs, strict=True):
                _wait(ports[name], proc)
            auth = {"Authorization": f"Bearer {stack.api_key}", "Content-Type": "application/json"}
            ingest = json.dumps(
                {
                    "user_id": "ab",
                    "type": "message",
                    "conversation_id": "c",
                    "content": "I moved to Lisbon in March.",
                }
            ).encode()
            _timed(
                lambda: http.client.HTTPConnection("127.0.0.1", ports["asgi"]),
                "POST",
                "/v6/ingest",
                ingest,
                auth,
            )
            recall = json.dumps({"user_id": "ab", "query": "Where do I live?"}).encode()
            kept = http.client.HTTPConnection("127.0.0.1", ports["asgi"], timeout=30)
            cases: dict[str, Callable[[], http.client.HTTPConnection]] = {
                "sync": lambda: http.client.HTTPConnection("127.0.0.1", ports["sync"]),
                "asgi": lambda: http.client.HTTPConnection("127.0.0.1", ports["asgi"]),
                "asgi keep-alive": lambda: kept,
            }
            results: dict[tuple[str, str], list[tuple[float, float]]] = {}
            for what, method, path, body in (
                ("healthz", "GET", "/healthz", None),
                ("cached recall", "POST", "/v6/recall", recall),
            ):
                names = list(cases)
                for name in names:  # warm: the first recall fills the cache
                    for _ in range(20):
                        _timed(cases[name], method, path, body, auth)
                for i in range(args.rounds):
                    order = names if i % 2 == 0 else names[::-1]
                    for name in order:
                        results.setdefault((what, name), []).append(
                            _timed(cases[name], method, path, body, auth)
                        )
            for (what, name), samples in results.items():
                print(f"{what:14} {name:16} n={len(samples)}  {_summary(samples)}")
        finally:
            for proc in procs:
                os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)


if __name__ == "__main__":
    main()
