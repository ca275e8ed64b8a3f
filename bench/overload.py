"""Overload: a burst of ~10× what the API can serve, with and without admission control.

Starts a stack (bench/stack.py; `--gunicorn-args` picks the worker), seeds one user's
memory, then per configuration (admission on with the default limits, admission off):

1. *normal*: recalls at low load (`--normal-clients` closed-loop clients), p50/p95 latency;
   capacity = recalls/s those clients got.
2. *burst*: an open-loop burst at `--burst-factor` × capacity for `--burst-seconds`, from a
   pool of concurrent clients; admitted (200) recalls' p95 against normal, refused (503)
   requests' server time (`Server-Timing: app;dur=`), and what the client waited.
3. *ingest flood*: ingests at 10× capacity alongside low-load recalls; the recalls' p95 and
   how many were refused (the recall lane must not be starved).

Every loop is bounded (a fixed number of requests); everything talks to 127.0.0.1. Measured,
never asserted: the figures go to BENCHMARKS.md.

    .venv/bin/python -m bench.overload
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shlex
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.stack import ROOT, Stack, running_stack

_APP_DUR = re.compile(r"app;dur=([0-9.]+)")
USER = "overload-user"
SEED = [
    "I live in Lisbon and work as a nurse.",
    "My sister Ana is visiting in March.",
    "I prefer tea over coffee.",
    "I'm training for the Porto half-marathon.",
    "My dog is called Biscuit.",
    "I switched from React to Svelte last year.",
]


@dataclass(frozen=True)
class Outcome:
    status: int
    client_ms: float
    server_ms: float | None


def _call(stack: Stack, path: str, body: dict[str, object]) -> Outcome:
    parts = urlsplit(stack.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    started = time.perf_counter()
    try:
        conn.request(
            "POST",
            path,
            json.dumps(body),
            {"Authorization": f"Bearer {stack.api_key}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        response.read()
        timing = _APP_DUR.search(response.getheader("Server-Timing") or "")
        return Outcome(
            response.status,
            (time.perf_counter() - started) * 1000,
            float(timing.group(1)) if timing else None,
        )
    except OSError:
        return Outcome(0, (time.perf_counter() - started) * 1000, None)
    finally:
        conn.close()


_counter = iter(range(10**9))
_counter_lock = threading.Lock()


def _recall_body() -> dict[str, object]:
    # A new task every time: each recall is a cache miss, the expensive path.
    with _counter_lock:
        n = next(_counter)
    return {
        "user_id": USER,
        "task": f"what do you know about my plans, question {n}?",
        "token_budget": 1000,
    }


def _ingest_body() -> dict[str, object]:
    with _counter_lock:
        n = next(_counter)
    return {
        "user_id": f"flood-{n % 50}",
        "type": "message",
        "conversation_id": "flood",
        "content": f"Flood message number {n}: I had lunch at noon.",
    }


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def closed_loop(stack: Stack, clients: int, per_client: int) -> tuple[list[Outcome], float]:
    """`clients` clients, each sending `per_client` recalls back to back."""

    def client() -> list[Outcome]:
        return [_call(stack, "/v1/recall", _recall_body()) for _ in range(per_client)]

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [o for f in [pool.submit(client) for _ in range(clients)] for o in f.result()]
    return results, time.perf_counter() - started


def open_loop(
    stack: Stack,
    rate: float,
    seconds: float,
    path: str,
    body: Callable[[], dict[str, object]],
    pool_size: int,
) -> list[Outcome]:
    """Requests started at a fixed rate whatever the answers: a burst, not a polite client.
    Bounded: rate × seconds requests in all."""
    total = int(rate * seconds)
    start = time.perf_counter()
    with ThreadPoolExecutor(pool_size) as pool:
        futures = []
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # pacing the load generator, not waiting for readiness
            futures.append(pool.submit(_call, stack, path, body()))
        return [f.result() for f in futures]


def _seed(stack: Stack) -> None:
    for i, text in enumerate(SEED):
        _call(
            stack,
            "/v6/ingest",
            {
                "user_id": USER,
                "type": "message",
                "role": "user",
                "conversation_id": "seed",
                "content": text,
                "event_time": 1_700_000_000 + i * 60,
            },
        )


def _summary(
    name: str,
    outcomes: list[Outcome],
    normal_p95: float | None = None,
    normal_server_p95: float | None = None,
) -> dict:
    ok = [o.client_ms for o in outcomes if o.status == 200]
    # The server's own time of the admitted requests: the load generator shares the two
    # cores, so under a burst the client-side times also hold the generator's own waits.
    ok_server = [o.server_ms for o in outcomes if o.status == 200 and o.server_ms is not None]
    refused = [o for o in outcomes if o.status == 503]
    refused_server = [o.server_ms for o in refused if o.server_ms is not None]
    other = sorted({o.status for o in outcomes} - {200, 503})
    row = {
        "phase": name,
        "requests": len(outcomes),
        "ok": len(ok),
        "refused_503": len(refused),
        "other_statuses": other,
        "ok_p50_ms": round(_pct(ok, 0.5), 1),
        "ok_p95_ms": round(_pct(ok, 0.95), 1),
        "ok_max_ms": round(max(ok), 1) if ok else None,
        "ok_server_p95_ms": round(_pct(ok_server, 0.95), 1),
        "refused_server_p50_ms": round(_pct(refused_server, 0.5), 2),
        "refused_server_p95_ms": round(_pct(refused_server, 0.95), 2),
        "refused_server_max_ms": round(max(refused_server), 2) if refused_server else None,
        "refused_client_p95_ms": round(_pct([o.client_ms for o in refused], 0.95), 1),
    }
    if normal_p95:
        row["ok_p95_vs_normal"] = round(row["ok_p95_ms"] / normal_p95, 2)
    if normal_server_p95:
        row["ok_server_p95_vs_normal"] = round(row["ok_server_p95_ms"] / normal_server_p95, 2)
    return row


def run_config(args: argparse.Namespace, admission: bool) -> list[dict]:
    env = {
        "CLAIV_ADMISSION_RECALL": str(args.recall_limit),
        "CLAIV_ADMISSION_INGEST": str(args.ingest_limit),
    }
    if not admission:
        env = {f"CLAIV_ADMISSION_{lane}": "0" for lane in ("RECALL", "INGEST", "FORGET", "OTHER")}
    gunicorn_args = shlex.split(args.gunicorn_args)
    rows: list[dict] = []
    with running_stack(
        data_dir=args.data_dir,
        web_workers=args.web_workers,
        gunicorn_args=gunicorn_args,
        extra_env=env,
    ) as stack:
        _seed(stack)
        closed_loop(stack, args.normal_clients, 3)  # warm every worker's code paths
        normal, elapsed = closed_loop(stack, args.normal_clients, args.normal_per_client)
        normal_row = _summary("normal", normal)
        capacity = len(normal) / elapsed
        normal_row["capacity_rps"] = round(capacity, 1)
        rows.append(normal_row)
        normal_p95 = normal_row["ok_p95_ms"]
        rate = capacity * args.burst_factor
        burst = open_loop(stack, rate, args.burst_seconds, "/v1/recall", _recall_body, args.pool)
        burst_row = _summary("recall burst", burst, normal_p95, normal_row["ok_server_p95_ms"])
        burst_row["offered_rps"] = round(rate, 1)
        rows.append(burst_row)
        # An ingest flood at the same multiple, with low-load recalls alongside.
        flood_result: list[list[Outcome]] = []
        flood = threading.Thread(
            target=lambda: flood_result.append(
                open_loop(stack, rate, args.burst_seconds, "/v6/ingest", _ingest_body, args.pool)
            )
        )
        flood.start()
        recalls, _ = closed_loop(stack, args.normal_clients, args.normal_per_client // 2)
        flood.join()
        rows.append(
            _summary(
                "recalls during ingest flood", recalls, normal_p95, normal_row["ok_server_p95_ms"]
            )
        )
        rows.append(_summary("ingest flood", flood_result[0]))
    for row in rows:
        row["admission"] = "on" if admission else "off"
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench/.cache/overload-stack")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument(
        "--gunicorn-args",
        default="",
        help='appended to the server command, e.g. "-k gthread --threads 16" '
        "(default: the worker claiv.gunicorn_conf configures)",
    )
    parser.add_argument("--normal-clients", type=int, default=2)
    parser.add_argument("--normal-per-client", type=int, default=30)
    parser.add_argument("--burst-factor", type=float, default=10.0)
    parser.add_argument("--burst-seconds", type=float, default=10.0)
    parser.add_argument("--pool", type=int, default=200, help="concurrent burst clients")
    parser.add_argument("--only", choices=["on", "off"], default=None)
    parser.add_argument(
        "--recall-limit", type=int, default=2, help="CLAIV_ADMISSION_RECALL for the 'on' run"
    )
    parser.add_argument(
        "--ingest-limit", type=int, default=8, help="CLAIV_ADMISSION_INGEST for the 'on' run"
    )
    args = parser.parse_args(argv)
    rows: list[dict] = []
    for admission in (True, False):
        if args.only and args.only != ("on" if admission else "off"):
            continue
        rows += run_config(args, admission)
        for row in rows[-4:]:
            print(json.dumps(row), flush=True)
    print(
        "\n| admission | phase | requests | 200 | 503 | 200 p50 / p95 ms | p95 vs normal "
        "| 200 server p95 ms (vs normal) | refused: server p50 / p95 / max ms "
        "| refused: client p95 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['admission']} | {r['phase']} | {r['requests']} | {r['ok']} | "
            f"{r['refused_503']} | {r['ok_p50_ms']} / {r['ok_p95_ms']} | "
            f"{r.get('ok_p95_vs_normal', '–')} | {r['ok_server_p95_ms']} "
            f"({r.get('ok_server_p95_vs_normal', '–')}) | {r['refused_server_p50_ms']} / "
            f"{r['refused_server_p95_ms']} / {r['refused_server_max_ms']} | "
            f"{r['refused_client_p95_ms']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
