"""Django's ASGI handler against `claiv.asgi.SyncChainHandler` and `OneHopHandler` (what
serves the ingest paths), in one process, interleaved.

Both handlers serve the same in-process API (bench/inprocess_api.py: embedded Postgres and
Valkey, DB_POOL on as under the server) on one event loop, in a thread of its own, with
`--concurrency` requests in flight (POST /v1/ingest, unique content). Phases rotate
(A, B, C; B, C, A; ...) so load from the rest of the machine falls on both alike. Per phase:
requests/s, the process's CPU time per request (less sensitive to a loaded machine than
wall time) and the voluntary context switches per request (each thread↔loop crossing is
some). Measured, never asserted.

    .venv/bin/python -m bench.asgi_handler_ab --rounds 6 --requests 400
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.inprocess_api import inprocess_api


def _scope(auth: bytes, body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/ingest",
        "raw_path": b"/v1/ingest",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", auth),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


async def _one(app: Callable[..., Any], auth: bytes, n: int) -> int:
    body = json.dumps(
        {
            "user_id": f"ab-{n % 20}",
            "type": "message",
            "role": "user",
            "conversation_id": f"c{n % 7}",
            "content": f"[ab #{n} {time.time_ns()}] I moved to Lisbon last spring.",
        }
    ).encode()
    sent = {"body": False}
    status = 0
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not sent["body"]:
            sent["body"] = True
            return {"type": "http.request", "body": body, "more_body": False}
        await never.wait()  # Django's disconnect listener; cancelled once the response is out
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(auth, body), receive, send)
    return status


def _phase(
    app: Callable[..., Any], auth: bytes, requests: int, concurrency: int
) -> dict[str, float]:
    counter = iter(range(requests))
    statuses: dict[int, int] = {}

    async def worker() -> None:
        for n in counter:
            status = await _one(app, auth, n)
            statuses[status] = statuses.get(status, 0) + 1

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(concurrency)))

    out: dict[str, float] = {}

    def run() -> None:
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        asyncio.run(main())
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        ok = statuses.get(200, 0)
        out.update(
            rate=ok / wall,
            cpu_ms=cpu / max(ok, 1) * 1000,
            switches=(usage1.ru_nvcsw - usage0.ru_nvcsw) / max(ok, 1),
            failed=requests - ok,
        )

    # Its own thread: an earlier loop may be running in the main thread's.
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=400, help="per phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--switch-ms",
        type=float,
        default=0,
        help="also run SyncChainHandler with sys.setswitchinterval at this many ms",
    )
    parser.add_argument(
        "--one-hop",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run claiv.asgi.OneHopHandler (what serves the ingest paths)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DB_POOL", "true")  # as claiv.asgi sets it for the server
    # Admission control counts in the middleware here (no AdmissionGuard in front): room
    # for every request in flight, as the HTTP benchmarks give it.
    os.environ.setdefault("CLAIV_ADMISSION_INGEST", str(2 * args.concurrency))
    with inprocess_api(prefix="asgi-ab-", tenant_slug="asgi-ab") as api:
        from django.core.handlers.asgi import ASGIHandler

        from claiv.asgi import OneHopHandler, SyncChainHandler

        auth = api.client.defaults["HTTP_AUTHORIZATION"].encode()
        apps: dict[str, Any] = {"django": ASGIHandler(), "sync-chain": SyncChainHandler()}
        if args.one_hop:
            apps["one-hop"] = OneHopHandler(frozenset({"/v1/ingest"}), threads=2 * args.concurrency)
        default_interval = sys.getswitchinterval()
        intervals = dict.fromkeys(apps, default_interval)
        if args.switch_ms:
            name = f"sync-chain, switch {args.switch_ms:g} ms"
            apps[name] = apps["sync-chain"]
            intervals[name] = args.switch_ms / 1000
        for app in apps.values():
            _phase(app, auth, 40, args.concurrency)  # warm
        results: dict[str, list[dict[str, float]]] = {name: [] for name in apps}
        names = list(apps)
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                load = open("/proc/loadavg").read().split()[0]
                sys.setswitchinterval(intervals[name])
                res = _phase(apps[name], auth, args.requests, args.concurrency)
                results[name].append(res)
                print(
                    f"round {r} {name}: {res['rate']:.0f} req/s, {res['cpu_ms']:.2f} ms CPU "
                    f"and {res['switches']:.1f} voluntary switches per request "
                    f"(failed {res['failed']:.0f}; load {load})",
                    flush=True,
                )
        for name, rows in results.items():
            print(
                f"{name}: median {statistics.median(r['rate'] for r in rows):.0f} req/s, "
                f"{statistics.median(r['cpu_ms'] for r in rows):.2f} ms CPU, "
                f"{statistics.median(r['switches'] for r in rows):.1f} switches per request"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
