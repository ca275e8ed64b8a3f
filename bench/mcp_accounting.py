"""Per-request cost of the MCP request accounting (claiv.mcp.accounting), measured in-process.

    .venv/bin/python -m bench.mcp_accounting [--requests 3000]

Starts an embedded Valkey and sends the same small `tools/call` request to a trivial ASGI
app (it "authenticates" by setting `scope["user"]` as the MCP package does, and answers
200) bare and wrapped in `RequestAccounting`, alternating in rounds of 100 so both see
the same machine load. Prints mean and p50/p99 per request for each and the difference:
the request id, the metrics sample, the log line and the usage record (one Redis
pipeline, in a thread). No database is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

BODY = json.dumps(
    {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "memory_recall"}}
).encode()


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    scope["user"] = SimpleNamespace(access_token=SimpleNamespace(subject="bench-tenant"))
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b'{"ok":true}'})


async def _once(app: Any) -> float:
    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": []}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: Any) -> None:
        return None

    started = time.perf_counter()
    await app(scope, receive, send)
    return (time.perf_counter() - started) * 1000


async def _run(requests: int) -> dict[str, list[float]]:
    from claiv.mcp.accounting import RequestAccounting

    apps = {"bare": _app, "accounted": RequestAccounting(_app)}
    times: dict[str, list[float]] = {name: [] for name in apps}
    for app in apps.values():  # warm-up (thread pool, Redis connection)
        for _ in range(50):
            await _once(app)
    for _ in range(requests // 100):
        for name, app in apps.items():
            times[name] += [await _once(app) for _ in range(100)]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://bench@127.0.0.1:1/none")
    from claiv.embedded import valkey_start

    server: object = valkey_start(
        data_dir=Path(tempfile.mkdtemp(prefix="claiv-bench-mcp-")), persist=False
    )
    os.environ["REDIS_URL"] = server.connection_url  # type: ignore[attr-defined]
    try:
        import logging

        import django

        django.setup()
        logging.getLogger("claiv.request").setLevel(logging.WARNING)  # as no handler: no I/O
        times = asyncio.run(_run(args.requests))
        means = {}
        for name, values in times.items():
            values.sort()
            means[name] = statistics.mean(values)
            p50, p99 = values[len(values) // 2], values[int(len(values) * 0.99)]
            print(
                f"{name}: {len(values)} requests, mean {means[name]:.3f} ms, "
                f"p50 {p50:.3f} ms, p99 {p99:.3f} ms"
            )
        print(f"accounting adds {means['accounted'] - means['bare']:.3f} ms per request (mean)")
        with open("/proc/loadavg") as load:
            print(f"load average: {load.read().strip()}")
    finally:
        server.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
