"""Where a one-hop request's wall time goes, measured inside the web worker.

For every request served by `claiv.asgi.OneHopHandler` (the ingest paths), the request
thread's wall time is split with the kernel's per-thread scheduler statistics
(`/proc/thread-self/schedstat`: time on a CPU, time runnable but waiting for one) into
- **on-CPU**: the thread ran;
- **run queue**: it could run but the machine had no free core for it (load);
- **blocked**: it slept, waiting for a socket (a round trip to Postgres or Valkey) or for
  the GIL held by another thread of the process (a thread back from a socket must take it
  again before running any Python);
and the same three are kept for each kind of round trip (Postgres statements, the pool's
checkout, Redis commands and pipelines, the Celery publish). Round trips are measured at
their outermost call (the Celery publish includes its LPUSH; `enrichment.publish`'s
pipeline, record and LPUSH, counts as the publish). Records are appended as JSON
lines to `<CLAIV_WAIT_PROBE>.<pid>.jsonl`; `summary()` averages them.

Used by `bench.ingest_inflight --wait-probe`, which starts gunicorn with this module's
`gunicorn_conf` (the product's `claiv.gunicorn_conf`, plus the probe installed in each
worker). Benchmark tooling only: the product never imports it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_local = threading.local()
_records: list[dict[str, float]] = []
_lock = threading.Lock()
KINDS = ("pgpool", "pg", "redis", "celery")
KEYS = ("wall", "cpu", "runq")


def _sched() -> tuple[int, int]:
    """This thread's nanoseconds on a CPU and waiting on a run queue."""
    with open("/proc/thread-self/schedstat") as f:
        on_cpu, waiting, _ = f.read().split()
    return int(on_cpu), int(waiting)


def _flush() -> None:
    with open(f"{os.environ['CLAIV_WAIT_PROBE']}.{os.getpid()}.jsonl", "a") as f:
        f.writelines(json.dumps(r) + "\n" for r in _records)
    _records.clear()


def _wrap(owner: Any, name: str, kind: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    def measured(*args: Any, **kwargs: Any) -> Any:
        acc = getattr(_local, "acc", None)
        if acc is None or getattr(_local, "inside", False):
            return original(*args, **kwargs)
        _local.inside = True
        cpu0, queue0 = _sched()
        t0 = time.perf_counter_ns()
        try:
            return original(*args, **kwargs)
        finally:
            t1 = time.perf_counter_ns()
            cpu1, queue1 = _sched()
            _local.inside = False
            acc[f"{kind}.wall"] += t1 - t0
            acc[f"{kind}.cpu"] += cpu1 - cpu0
            acc[f"{kind}.runq"] += queue1 - queue0
            acc[f"{kind}.n"] += 1

    setattr(owner, name, measured)


def install() -> None:
    """Wrap the one-hop request and the round trips it makes (this process only)."""
    import celery.app.base
    import psycopg
    import psycopg_pool
    import redis.client

    from claiv import asgi

    serve = asgi.OneHopHandler._serve

    def measured_serve(self: Any, scope: Any, body: bytes) -> Any:
        _local.acc = defaultdict(float)
        cpu0, queue0 = _sched()
        t0 = time.perf_counter_ns()
        try:
            return serve(self, scope, body)
        finally:
            t1 = time.perf_counter_ns()
            cpu1, queue1 = _sched()
            record = dict(_local.acc, wall=t1 - t0, cpu=cpu1 - cpu0, runq=queue1 - queue0)
            _local.acc = None
            with _lock:
                _records.append(record)
                if len(_records) >= 50:
                    _flush()

    asgi.OneHopHandler._serve = measured_serve  # type: ignore[method-assign]
    _wrap(celery.app.base.Celery, "send_task", "celery")
    # The single ingest's publish written straight to the broker (its outstanding record
    # rides in the same pipeline, so "celery" then counts the record too).
    from enrichment import publish

    _wrap(publish, "events_publish", "celery")
    _wrap(psycopg.Cursor, "execute", "pg")
    _wrap(psycopg.Connection, "commit", "pg")
    _wrap(psycopg_pool.ConnectionPool, "getconn", "pgpool")
    _wrap(redis.client.Redis, "execute_command", "redis")
    _wrap(redis.client.Pipeline, "execute", "redis")


def _load(paths: Iterable[Path], skip_fraction: float) -> list[dict[str, float]]:
    records = [json.loads(line) for path in paths for line in path.read_text().splitlines()]
    return records[int(len(records) * skip_fraction) :]


def summary(paths: Iterable[Path], skip_fraction: float = 0.1) -> list[str]:
    """Mean milliseconds per request: wall = on-CPU + run queue + blocked, overall and per
    kind of round trip, then per web worker (one file each: its pid ends the name); the
    first `skip_fraction` of the records (warm-up) left out. Within one run the workers
    share the machine's load, so the difference of their blocked times is what holding
    more connections (more threads taking turns at one GIL) costs."""
    paths = list(paths)
    records = _load(paths, skip_fraction)
    if not records:
        return ["wait probe: no records"]
    n = len(records)

    def mean(key: str) -> float:
        return sum(r.get(key, 0.0) for r in records) / n / 1e6

    def split(wall: float, cpu: float, queue: float) -> str:
        return (
            f"{wall:6.2f} ms = on-CPU {cpu:5.2f} + run queue {queue:6.2f} "
            f"+ blocked {wall - cpu - queue:5.2f}"
        )

    lines = [f"wait probe, {n} requests, mean per request:"]
    lines.append("  request " + split(mean("wall"), mean("cpu"), mean("runq")))
    rest = [mean("wall"), mean("cpu"), mean("runq")]
    for kind in KINDS:
        wall, cpu, queue = mean(f"{kind}.wall"), mean(f"{kind}.cpu"), mean(f"{kind}.runq")
        rest = [rest[0] - wall, rest[1] - cpu, rest[2] - queue]
        calls = sum(r.get(f"{kind}.n", 0.0) for r in records) / n
        lines.append(f"  {kind:7s} x{calls:.1f} " + split(wall, cpu, queue))
    lines.append("  rest       " + split(*rest))
    for path in paths:
        own = _load([path], skip_fraction)
        if own:
            wall, cpu, queue = (sum(r[k] for r in own) / len(own) / 1e6 for k in KEYS)
            pid = path.name.split(".")[-2]
            lines.append(f"  worker {pid} ({len(own)} requests) " + split(wall, cpu, queue))
    return lines
