"""Ingest at rate: how many events/s the API stores, one by one and in batches, and the
latency of single ingests at a fixed open-loop rate, with the enrichment workers running.

Starts a stack (bench/stack.py: embedded Postgres + Valkey, gunicorn's ASGI workers, a
Celery worker draining the enrichment queue meanwhile), then, `--repeat` times in turn:

1. *single*: `--clients` closed-loop clients, each on its own keep-alive connection
   (http.client, reused), `--per-client` POST /v1/ingest each; events/s = stored / wall.
2. *batch N* for each N of `--batch-sizes`: one client posts `--batches` batches of N to
   POST /v1/ingest/batch; events/s = stored / wall.
3. *open loop*: POST /v1/ingest scheduled at a fixed `--rate` for `--seconds` (bounded),
   sent by a pool of keep-alive connections; latency counted from the scheduled send time
   (no coordinated omission), p50/p95/p99.

Refusals by admission control (503, `CLAIV_ADMISSION_INGEST` per web process) are counted
apart and not in events/s; the limits the run used are printed. Every event has unique
content (no dedupe). Everything talks to 127.0.0.1. Measured, never asserted.

    .venv/bin/python -m bench.ingest_rate --label after
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.stack import ROOT, Stack, running_stack

_SEQ = itertools.count()
_SEQ_LOCK = threading.Lock()
USERS = 20


def _event(run: str) -> dict[str, object]:
    with _SEQ_LOCK:
        n = next(_SEQ)
    return {
        "user_id": f"rate-{n % USERS}",
        "type": "message",
        "role": "user",
        "conversation_id": f"c{n % 7}",
        "content": f"[{run} #{n}] I moved to Lisbon last spring and I work as a nurse.",
    }


class Client:
    """One keep-alive connection (reconnects only if the server closed it)."""

    def __init__(self, stack: Stack) -> None:
        parts = urlsplit(stack.base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port
        self.headers = {
            "Authorization": f"Bearer {stack.api_key}",
            "Content-Type": "application/json",
        }
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.reconnects = 0

    def post(self, path: str, body: object) -> tuple[int, bytes]:
        payload = json.dumps(body)
        for attempt in (0, 1):
            try:
                self.conn.request("POST", path, payload, self.headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self._reconnect()
                return response.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if attempt:
                    raise
                self._reconnect()
        raise AssertionError("unreachable")

    def _reconnect(self) -> None:
        self.conn.close()
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.reconnects += 1


@dataclass
class Tally:
    stored: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    reconnects: int = 0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def single(stack: Stack, *, clients: int, per_client: int, run: str) -> tuple[Tally, float]:
    def one() -> Tally:
        client, tally = Client(stack), Tally()
        for _ in range(per_client):
            status, _ = client.post("/v1/ingest", _event(run))
            tally.statuses[status] += 1
            tally.stored += status == 200
        tally.reconnects = client.reconnects
        return tally

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        tallies = list(pool.map(lambda _: one(), range(clients)))
    wall = time.perf_counter() - started
    total = Tally()
    for t in tallies:
        total.stored += t.stored
        total.statuses += t.statuses
        total.reconnects += t.reconnects
    return total, wall


def batch(stack: Stack, *, size: int, batches: int, run: str) -> tuple[Tally, float]:
    client, tally = Client(stack), Tally()
    started = time.perf_counter()
    for _ in range(batches):
        t0 = time.perf_counter()
        status, body = client.post(
            "/v1/ingest/batch", {"events": [_event(run) for _ in range(size)]}
        )
        tally.latencies_ms.append((time.perf_counter() - t0) * 1000)
        tally.statuses[status] += 1
        if status == 200:
            tally.stored += sum(1 for r in json.loads(body)["results"] if r.get("deduped") is False)
    return tally, time.perf_counter() - started


def open_loop(
    stack: Stack, *, rate: float, seconds: float, pool: int, run: str
) -> tuple[Tally, float]:
    count = int(rate * seconds)
    start = time.perf_counter() + 0.2
    slots = iter(range(count))
    lock = threading.Lock()
    tally = Tally()

    def sender() -> None:
        client = Client(stack)
        while True:
            with lock:
                i = next(slots, None)
            if i is None:
                break
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # pacing the open loop, not waiting for readiness
            status, _ = client.post("/v1/ingest", _event(run))
            done = time.perf_counter()
            with lock:
                tally.statuses[status] += 1
                tally.stored += status == 200
                if status == 200:
                    tally.latencies_ms.append((done - due) * 1000)
        with lock:
            tally.reconnects += client.reconnects

    threads = [threading.Thread(target=sender) for _ in range(pool)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally, time.perf_counter() - start


def _refused(tally: Tally) -> str:
    other = {s: n for s, n in tally.statuses.items() if s not in (200, 503)}
    return f"503={tally.statuses.get(503, 0)}" + (f" other={other}" if other else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--label", default="run")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=1)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=150)
    parser.add_argument("--batch-sizes", default="100,500")
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pool", type=int, default=8, help="open-loop connections")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    data_dir = args.data_dir or ROOT / f"bench/.cache/ingest-rate-{args.label}"
    limit = os.environ.get("CLAIV_ADMISSION_INGEST", "8 (default)")
    print(
        f"[{args.label}] web workers {args.web_workers}, admission ingest limit {limit} "
        f"per process, celery worker concurrency {args.worker_concurrency}",
        flush=True,
    )
    with running_stack(
        data_dir=data_dir, web_workers=args.web_workers, worker_concurrency=args.worker_concurrency
    ) as stack:
        single(stack, clients=2, per_client=10, run="warm")  # each process's first requests
        for rep in range(args.repeat):
            run = f"{args.label}-{rep}-{time.time_ns()}"
            tally, wall = single(stack, clients=args.clients, per_client=args.per_client, run=run)
            print(
                f"[{args.label}] rep {rep} single x{args.clients}: {tally.stored / wall:.0f} "
                f"events/s ({tally.stored} in {wall:.2f} s; {_refused(tally)}; "
                f"reconnects {tally.reconnects})",
                flush=True,
            )
            for size in (int(s) for s in args.batch_sizes.split(",") if s):
                tally, wall = batch(stack, size=size, batches=args.batches, run=run)
                print(
                    f"[{args.label}] rep {rep} batch {size}: {tally.stored / wall:.0f} "
                    f"events/s ({tally.stored} in {wall:.2f} s; per batch p50 "
                    f"{_pct(tally.latencies_ms, 0.5):.0f} ms; {_refused(tally)})",
                    flush=True,
                )
            tally, wall = open_loop(
                stack, rate=args.rate, seconds=args.seconds, pool=args.pool, run=run
            )
            lat = tally.latencies_ms
            print(
                f"[{args.label}] rep {rep} open loop {args.rate:.0f}/s for {args.seconds:.0f} s:"
                f" p50 {_pct(lat, 0.5):.1f} ms, p95 {_pct(lat, 0.95):.1f} ms, "
                f"p99 {_pct(lat, 0.99):.1f} ms ({tally.stored} stored; {_refused(tally)})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
