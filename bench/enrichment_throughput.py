"""Enrichment throughput and lag: the whole system on this machine, driven over HTTP.

Usage::

    python -m bench.enrichment_throughput run [--rates 20,40] [--duration 60] [--drain 2000]
                                              [--drain-batch 500]
                                              [--prefetch 4] [--pg-stats]
                                              [--worker-processes 1]
    python -m bench.enrichment_throughput profile [--events 400] [--order event|fifo|message]
                                                  [--cprofile FILE]

`run` starts everything a deployment runs, each in its own process: an embedded PostgreSQL
with pgvector and an embedded Valkey (claiv.embedded) in a fresh temporary directory, a
migrated database with one tenant and one API key, the API under gunicorn, and ONE Celery
worker process (`celery -A claiv worker --pool prefork --concurrency 1`). Once the worker
has enriched a warm-up event:

1. drain: the worker stops consuming (Celery `cancel_consumer`), `--drain` events are
   ingested through `POST /v6/ingest`, the worker resumes; throughput = events / (resume to
   the last `enriched_at`). This is the worker's throughput on a backlog.
2. for each rate in `--rates`: events are sent open-loop at that fixed rate for `--duration`
   seconds (a send is scheduled at t0 + i/rate whatever the previous answers took), then the
   bench waits for every one of them to be enriched. Lag = `enriched_at - created_at`.
Each phase also prints mean task times from the worker log and CPU ms per event of the
worker, gunicorn and Postgres process trees (`--pg-stats`: Postgres time per statement).

Messages are LoCoMo turns (`../shared/data/locomo10.json` or `$LOCOMO_PATH`, read from
outside the repo): one user and one conversation per LoCoMo conversation, conversations
interleaved round-robin as independent users' traffic would be, turns in order with their
own times.

`profile` runs the stage functions in-process (no Celery, no HTTP) over `--events` events
and reports time and SQL queries per stage: `event` one at a time without batching (the
cost with no backlog), `fifo` each stage over all events in turn (a backlog, batched),
`message` as the `enrichment.events` task runs a backlog: every stage of each message's
ENRICH_MESSAGE_EVENTS events together (per-stage figures are then not separable: the
message's total is shown). `--cprofile FILE` writes a cProfile of the whole run.

Everything runs on the same 2 cores: the sender, gunicorn, Postgres and Valkey share them
with the worker, as they would on a small single-machine deployment.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Two cores: keep tokenizers and torch from spawning competing thread pools.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.locomo_data import load_locomo  # noqa: E402
from bench.stack import gunicorn_command  # noqa: E402


@dataclass(frozen=True)
class Message:
    user_id: str
    conversation_id: str
    content: str
    event_time: str


def locomo_messages() -> list[Message]:
    """Every LoCoMo turn, conversations interleaved round-robin (5,882 messages)."""
    conversations = load_locomo()
    streams = [
        [
            Message(
                user_id=f"locomo-{c.sample_id}",
                conversation_id=c.sample_id,
                content=t.content,
                event_time=t.time.isoformat(),
            )
            for t in c.turns
        ]
        for c in conversations
    ]
    out: list[Message] = []
    for index in range(max(len(s) for s in streams)):
        out.extend(stream[index] for stream in streams if index < len(stream))
    return out


def _process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds used so far), for every process on the machine."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        # After the command: state, ppid, ..., utime (11th), stime (12th), cutime, cstime.
        used = sum(int(v) for v in fields[11:15]) / tick
        table[int(entry)] = (int(fields[1]), used)
    return table


def tree_cpu(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named process and all its descendants."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    out = {}
    for name, root in roots.items():
        total, stack = 0.0, [root]
        while stack:
            pid = stack.pop()
            total += table.get(pid, (0, 0.0))[1]
            stack.extend(children.get(pid, []))
        out[name] = total
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


# --- the system under test ----------------------------------------------------------------


class System:
    """Embedded Postgres + Valkey, migrated, with a tenant and key; gunicorn; one worker."""

    def __init__(
        self,
        *,
        port: int,
        web_workers: int,
        prefetch: int,
        pg_stats: bool = False,
        worker_processes: int = 1,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="claiv-bench-"))
        self.pg_stats = pg_stats
        self.port = port
        self.web_workers = web_workers
        self.prefetch = prefetch
        self.worker_processes = worker_processes
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stoppers: list[Any] = []
        self.env: dict[str, str] = {}
        self.raw_key = ""

    def start(self) -> None:
        from claiv.embedded import postgres_start, valkey_start

        postgres = postgres_start(data_dir=self.root / "postgres")
        if self.pg_stats:
            import psycopg

            with psycopg.connect(postgres.url, autocommit=True) as conn:
                conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            postgres.stop()
            postgres = postgres_start(data_dir=self.root / "postgres")
            with psycopg.connect(postgres.url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        pid_file = self.root / "postgres" / "postmaster.pid"
        self.postgres_pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else 0
        self.stoppers.append(postgres.stop)
        valkey = valkey_start(data_dir=self.root / "valkey", persist=False)
        self.stoppers.append(valkey.stop)
        self.database_url = postgres.url
        self.env = dict(
            os.environ,
            DATABASE_URL=postgres.url,
            REDIS_URL=f"{valkey.connection_url}/0",
            CLAIV_ENV="development",
            CLAIV_DATA_DIR=str(self.root),
            SECRET_KEY="bench-" + "x" * 40,
            CLAIV_KEY_PEPPER="bench-" + "p" * 40,
            LOG_LEVEL="WARNING",
            DJANGO_SETTINGS_MODULE="claiv.settings",
            CELERY_PREFETCH=str(self.prefetch),
            PYTHONPATH=str(ROOT),
        )
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        from keys.services import api_key_create
        from tenants.models import Tenant
        from tenants.services import tenant_ensure

        call_command("migrate", verbosity=0)
        tenant = tenant_ensure(slug="bench")[0]
        # The default 600 requests/min per key would throttle the sender, not the worker.
        Tenant.objects.filter(pk=tenant.pk).update(rate_limit_per_minute=0)
        self.raw_key = api_key_create(tenant=tenant, name="bench")[1]
        connections.close_all()

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.root / f"{name}.log").open("wb")
        self.children[name] = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env or self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def web_start(self) -> None:
        self._spawn(
            "web",
            args=gunicorn_command(self.port, self.web_workers),
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/readyz", timeout=2
                ) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"gunicorn did not get ready; see {self.root}/web.log")

    def worker_start(self) -> None:
        level = os.environ.get("WORKER_LOG_LEVEL", "INFO")
        self._spawn(
            "worker",
            env=dict(self.env, LOG_LEVEL=level),
            args=[
                sys.executable,
                "-m",
                "celery",
                "-A",
                "claiv",
                "worker",
                "-Q",
                "enrichment",
                "--pool",
                "prefork",
                "--concurrency",
                str(self.worker_processes),
                "--prefetch-multiplier",
                str(self.prefetch),
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                level,
            ],
        )

    def statements(self, *, per: int, top: int = 25) -> str:
        """The statements Postgres spent most time on (pg_stat_statements), per event."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT total_exec_time, calls, left(regexp_replace(query, '\\s+', ' ', 'g'), "
                "110) FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT %s",
                [top],
            ).fetchall()
            conn.execute("SELECT pg_stat_statements_reset()")
        return "\n".join(
            f"    {ms / per:7.3f} ms {calls / per:6.2f}x  {query}" for ms, calls, query in rows
        )

    def cpu(self) -> dict[str, float]:
        roots = {name: child.pid for name, child in self.children.items()}
        roots["postgres"] = self.postgres_pid
        used = tree_cpu(roots)
        if "worker" in self.children:
            # The worker's main process alone (consuming, acks, dispatch to the pool
            # process); "worker" is the whole tree.
            used["worker-main"] = _process_table().get(self.children["worker"].pid, (0, 0.0))[1]
        return used

    def task_times(self) -> str:
        """Mean time per task name from the worker log ("succeeded in 0.01s") since the
        last call."""
        import re

        text = (self.root / "worker.log").read_text(errors="replace")
        log, self._log_seen = text[getattr(self, "_log_seen", 0) :], len(text)
        seen: dict[str, list[float]] = {}
        for name, seconds in re.findall(
            r"Task (enrichment\.\w+)\[[^\]]+\] succeeded in "
            r"([0-9.]+)s",
            log,
        ):
            seen.setdefault(name, []).append(float(seconds))
        return "  ".join(
            f"{name.split('.')[1]} {statistics.mean(v) * 1000:.1f} ms x{len(v)}"
            for name, v in seen.items()
        )

    def worker_wait_ready(self, sender: Sender) -> None:
        """Block until the worker has loaded its model and enriched a first event."""
        sender.ids.clear()
        sender.send(
            [
                Message(
                    user_id="warm-up",
                    conversation_id="warm-up",
                    content="I live in Lisbon.",
                    event_time="2024-01-01T00:00:00Z",
                )
            ],
            rate=None,
        )
        rows = _wait_enriched(self.database_url, list(sender.ids), timeout=180)
        if not rows or rows[0][2] != "enriched":
            raise SystemExit(f"the worker did not enrich a first event; see {self.root}")
        sender.ids.clear()

    def worker_consume(self, on: bool) -> None:
        """Stop or resume the worker's consumption of the enrichment queue."""
        from claiv.celery import app

        if on:
            app.control.add_consumer("enrichment", reply=True, timeout=10)
        else:
            app.control.cancel_consumer("enrichment", reply=True, timeout=10)

    def stop(self) -> None:
        if os.environ.get("BENCH_KEEP_LOGS"):
            for name in self.children:
                shutil.copy(self.root / f"{name}.log", f"/tmp/bench-{name}.log")
        for child in self.children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children.values():
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        for stopper in reversed(self.stoppers):
            stopper()
        shutil.rmtree(self.root, ignore_errors=True)


# --- driving ingest -----------------------------------------------------------------------


class Sender:
    """Open-loop ingest over keep-alive connections from a few threads."""

    def __init__(self, *, port: int, raw_key: str, threads: int = 8) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}
        self.jobs: queue.Queue[tuple[float, Message] | None] = queue.Queue()
        self.ids: list[str] = []
        self.late: list[float] = []  # how far behind schedule each send started
        self.errors = 0
        self.error_samples: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while (job := self.jobs.get()) is not None:
            due, message = job
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            body = json.dumps(
                {
                    "user_id": message.user_id,
                    "type": "message",
                    "role": "user",
                    "conversation_id": message.conversation_id,
                    "content": message.content,
                    "event_time": message.event_time,
                }
            )
            started = time.monotonic()
            for attempt in (1, 2):
                try:
                    connection.request("POST", "/v6/ingest", body, self.headers)
                    response = connection.getresponse()
                    payload = json.loads(response.read())
                    ok = response.status == 200
                    problem = f"HTTP {response.status} {payload}"[:200]
                    break
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    # gunicorn closes keep-alive connections idle for 2 s; the request was
                    # not taken, so sending it again on a new connection is safe.
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    ok, payload, problem = False, {}, repr(exc)[:200]
                    if attempt == 2 or not isinstance(
                        exc, (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)
                    ):
                        break
            with self._lock:
                self.late.append(started - due)
                if ok:
                    self.ids.append(payload["event_id"])
                else:
                    self.errors += 1
                    if len(self.error_samples) < 3:
                        self.error_samples.append(problem)

    def send(self, messages: list[Message], *, rate: float | None) -> float:
        """Queue the messages at `rate`/s (None: as fast as possible); wait; return seconds."""
        t0 = time.monotonic() + 0.2
        for index, message in enumerate(messages):
            self.jobs.put((t0 + index / rate if rate else 0.0, message))
        while True:
            with self._lock:
                done = len(self.ids) + self.errors
            if done >= len(messages):
                return time.monotonic() - t0
            time.sleep(0.05)

    def send_batches(self, messages: list[Message], *, size: int) -> float:
        """POST the messages to /v1/ingest/batch, `size` per request, from this thread (the
        ids of the stored events go to `ids`); return seconds."""
        t0 = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        for start in range(0, len(messages), size):
            body = json.dumps(
                {
                    "events": [
                        {
                            "user_id": m.user_id,
                            "type": "message",
                            "role": "user",
                            "conversation_id": m.conversation_id,
                            "content": m.content,
                            "event_time": m.event_time,
                        }
                        for m in messages[start : start + size]
                    ]
                }
            )
            connection.request("POST", "/v1/ingest/batch", body, self.headers)
            response = connection.getresponse()
            payload = json.loads(response.read())
            if response.status != 200:
                raise SystemExit(f"batch ingest failed: HTTP {response.status} {payload}"[:300])
            for result in payload["results"]:
                if "event_id" in result:
                    self.ids.append(result["event_id"])
                else:
                    self.errors += 1
        connection.close()
        return time.monotonic() - t0

    def close(self) -> None:
        for _ in self._threads:
            self.jobs.put(None)


def _event_times(database_url: str, ids: list[str]) -> list[tuple[Any, Any, str]]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return list(
            conn.execute(
                "SELECT created_at, enriched_at, status FROM memory_event "
                "WHERE id = ANY(%s::uuid[])",
                [ids],
            ).fetchall()
        )


def _wait_enriched(database_url: str, ids: list[str], timeout: float) -> list[tuple[Any, Any, str]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = _event_times(database_url, ids)
        open_rows = [r for r in rows if r[2] in ("pending", "processing")]
        if not open_rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def bench_run(args: argparse.Namespace) -> None:
    messages = locomo_messages()
    system = System(
        port=args.port,
        web_workers=args.web_workers,
        prefetch=args.prefetch,
        pg_stats=args.pg_stats,
        worker_processes=args.worker_processes,
    )
    cursor = 0

    def take(count: int) -> list[Message]:
        nonlocal cursor
        chunk = [messages[(cursor + i) % len(messages)] for i in range(count)]
        cursor += count
        return chunk

    try:
        system.start()
        system.web_start()
        sender = Sender(port=args.port, raw_key=system.raw_key)
        report: list[str] = []
        system.worker_start()
        system.worker_wait_ready(sender)
        if args.drain:
            # The worker stops consuming while the backlog is ingested, then drains it; the
            # clock runs from the moment it resumes to the last event enriched.
            system.worker_consume(False)
            backlog = take(args.drain)
            if args.drain_batch:
                sender.send_batches(backlog, size=args.drain_batch)
            else:
                sender.send(backlog, rate=None)
            ids = list(sender.ids)
            cpu_before = system.cpu()
            resumed = time.time()
            system.worker_consume(True)
            rows = _wait_enriched(system.database_url, ids, timeout=args.drain * 0.5 + 120)
            cpu_used = {k: v - cpu_before.get(k, 0.0) for k, v in system.cpu().items()}
            done = sorted(r[1].timestamp() for r in rows if r[1] is not None)
            span = done[-1] - resumed if done else float("nan")
            statuses = {s: sum(1 for r in rows if r[2] == s) for s in {r[2] for r in rows}}
            line = (
                f"drain: {len(done)} of {len(ids)} events enriched in {span:.1f} s "
                f"-> {len(done) / span:.1f} events/s  statuses={statuses}  load average "
                f"{os.getloadavg()[0]:.2f} (1 min)"
            )
            print(line, flush=True)
            print("  worker task times:", system.task_times(), flush=True)
            print(
                "  CPU ms per event: "
                + "  ".join(f"{k} {v / max(len(ids), 1) * 1000:.1f}" for k, v in cpu_used.items()),
                flush=True,
            )
            report.append(line)
        for rate in args.rates:
            sender.ids.clear()
            sender.late.clear()
            sender.errors = 0
            batch = take(int(rate * args.duration))
            cpu_before = system.cpu()
            took = sender.send(batch, rate=rate)
            ids = list(sender.ids)
            rows = _wait_enriched(system.database_url, ids, timeout=600)
            cpu_used = {k: v - cpu_before.get(k, 0.0) for k, v in system.cpu().items()}
            lags = [(e - c).total_seconds() for c, e, _ in rows if e is not None]
            done = sorted(e for _, e, _ in rows if e is not None)
            span = (done[-1] - done[0]).total_seconds() if len(done) > 1 else float("nan")
            line = (
                f"rate {rate:g}/s for {args.duration:g} s: sent {len(ids)} "
                f"(errors {sender.errors}) in {took:.1f} s, send late p95 "
                f"{percentile(sender.late, 95) * 1000:.0f} ms; enriched {len(lags)}; lag "
                f"p50 {percentile(lags, 50):.2f} s p95 {percentile(lags, 95):.2f} s "
                f"p99 {percentile(lags, 99):.2f} s max {max(lags):.2f} s; completion rate "
                f"{(len(done) - 1) / span:.1f} events/s; load average "
                f"{os.getloadavg()[0]:.2f} (1 min)"
            )
            print(line, flush=True)
            report.append(line)
            print("  worker task times:", system.task_times(), flush=True)
            print(
                "  CPU ms per event: "
                + "  ".join(f"{k} {v / max(len(ids), 1) * 1000:.1f}" for k, v in cpu_used.items()),
                flush=True,
            )
            if system.pg_stats:
                print("  Postgres time per event by statement:", flush=True)
                print(system.statements(per=max(len(ids), 1)), flush=True)
            if sender.error_samples:
                print("  send errors, e.g.:", *sender.error_samples, sep="\n    ")
        sender.close()
        print("\n".join(["", "summary:", *report]))
    finally:
        system.stop()


# --- in-process profile -------------------------------------------------------------------


def bench_profile(args: argparse.Namespace) -> None:
    from unittest import mock

    system = System(port=0, web_workers=0, prefetch=1)
    try:
        system.start()
        from django.db import connection, reset_queries
        from django.test.utils import CaptureQueriesContext

        from enrichment import pipeline
        from enrichment.pipeline.contract import nothing as pipeline_nothing
        from memory.embedding import embedder
        from memory.ingest import event_ingest
        from tenants.models import Tenant

        tenant = Tenant.objects.get(slug="bench")
        embedder()
        messages = locomo_messages()[: args.events]
        from datetime import datetime

        with mock.patch("enrichment.workflows.enrichment_enqueue"):
            events = [
                event_ingest(
                    tenant=tenant,
                    user_id=m.user_id,
                    type="message",
                    role="user",
                    conversation_id=m.conversation_id,
                    content=m.content,
                    event_time=datetime.fromisoformat(m.event_time),
                ).event
                for m in messages
            ]
        times: dict[str, list[float]] = {s: [] for s in pipeline.STAGES}
        queries: dict[str, list[int]] = {s: [] for s in pipeline.STAGES}
        db_time: dict[str, list[float]] = {s: [] for s in pipeline.STAGES}
        model = embedder()
        real_embed = model.embed
        embedded = {"calls": 0, "texts": 0, "chars": 0, "seconds": 0.0}

        def counting_embed(texts: list[str]) -> list[list[float]]:
            started = time.perf_counter()
            out = real_embed(texts)
            embedded["seconds"] += time.perf_counter() - started
            embedded["calls"] += 1
            embedded["texts"] += len(texts)
            embedded["chars"] += sum(len(t) for t in texts)
            return out

        model.embed = counting_embed  # type: ignore[method-assign]

        def run(event_ids: list[str], stage: str) -> None:
            for event_id in event_ids:
                t = time.perf_counter()
                with CaptureQueriesContext(connection) as captured:
                    pipeline.stage_run(event_id, stage, batch=args.order == "fifo")
                times[stage].append(time.perf_counter() - t)
                queries[stage].append(len(captured.captured_queries))
                db_time[stage].append(sum(float(q["time"]) for q in captured.captured_queries))
                reset_queries()

        ids = [str(e.id) for e in events]
        profiler = None
        if args.cprofile:
            import cProfile

            # CPU time, not wall: the machine is shared and a wall profile shows its load.
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
        started, cpu_started = time.perf_counter(), time.process_time()
        stage_cpu: dict[str, float] = {}
        by_statement: dict[str, tuple[int, float]] = {}
        if args.order == "message":  # as enrichment.events runs its messages' events
            from enrichment.pipeline.stages import STAGE_FUNCTIONS
            from enrichment.workflows import message_parts

            def cpu_counted(name: str, function: Any) -> Any:
                def counted(*a: Any) -> Any:
                    started = time.process_time()
                    try:
                        return function(*a)
                    finally:
                        stage_cpu[name] = stage_cpu.get(name, 0.0) + time.process_time() - started

                return counted

            for name, stage in list(STAGE_FUNCTIONS.items()):
                STAGE_FUNCTIONS[name] = stage._replace(
                    prepare=cpu_counted(f"{name} prepare", stage.prepare)
                    if stage.prepare is not pipeline_nothing
                    else stage.prepare,
                    apply=cpu_counted(f"{name} apply", stage.apply),
                )
            for part in message_parts(ids):
                t = time.perf_counter()
                with CaptureQueriesContext(connection) as captured:
                    for event_id in part:
                        pipeline.stage_run(
                            event_id, pipeline.STAGES[-1], among=part if len(part) > 1 else None
                        )
                times[pipeline.STAGES[-1]].append(time.perf_counter() - t)
                queries[pipeline.STAGES[-1]].append(len(captured.captured_queries))
                for q in captured.captured_queries:
                    shape = " ".join(q["sql"].split())[:90]
                    count, spent = by_statement.get(shape, (0, 0.0))
                    by_statement[shape] = (count + 1, spent + float(q["time"]))
                db_time[pipeline.STAGES[-1]].append(
                    sum(float(q["time"]) for q in captured.captured_queries)
                )
                reset_queries()
        elif args.order == "event":  # one event at a time, no batching: the no-backlog cost
            for event_id in ids:
                for stage in pipeline.STAGES:
                    run([event_id], stage)
        else:  # as a FIFO queue drains a backlog: every extract, then every map, ...
            for stage in pipeline.STAGES:
                run(ids, stage)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.cprofile)
        n = len(ids)
        print(
            f"in-process, {n} LoCoMo events, order={args.order}: {wall / n * 1000:.1f} ms "
            f"per event ({n / wall:.1f} events/s), this process' CPU {cpu / n * 1000:.1f} ms "
            f"per event; load average {os.getloadavg()[0]:.2f}"
        )
        if args.order == "message":
            print("  (the line below is per message, not per stage)")
        for stage in pipeline.STAGES:
            if not times[stage]:
                continue
            print(
                f"  {stage:8s} {statistics.mean(times[stage]) * 1000:7.2f} ms  "
                f"{statistics.mean(queries[stage]):5.1f} queries "
                f"({statistics.mean(db_time[stage]) * 1000:6.2f} ms in SQL)"
            )
        print(
            f"  {'total':8s} {sum(sum(v) for v in times.values()) / n * 1000:7.2f} ms  "
            f"{sum(sum(v) for v in queries.values()) / n:5.1f} queries"
        )
        if stage_cpu:
            print(
                "  CPU ms per event in the stages' functions (the rest is the runner): "
                + "  ".join(f"{k} {v / n * 1000:.2f}" for k, v in stage_cpu.items())
            )
        if by_statement:
            print("  SQL by statement (client-side ms per event, calls per event):")
            for shape, (count, spent) in sorted(by_statement.items(), key=lambda kv: -kv[1][1])[
                :20
            ]:
                print(f"    {spent / n * 1000:7.3f} ms {count / n:5.2f}x  {shape}")
        if args.facts:
            from memory.models import Fact

            columns = [
                "user_id", "subject", "predicate", "relation_phrase", "object_text", "negated",
                "status", "kind", "tier", "source_text", "source_start", "valid_from",
                "valid_to", "event_time", "mention_count", "confidence", "importance",
                "temporal", "scope", "source_role",
            ]  # fmt: skip
            rows = sorted(
                json.dumps(row, default=str, sort_keys=True)
                for row in Fact.objects.filter(tenant=tenant).values(*columns)
            )
            Path(args.facts).write_text("\n".join(rows) + "\n")
            print(f"  {len(rows)} facts written to {args.facts}")
        print(
            f"  embedding: {embedded['calls'] / n:.2f} calls, {embedded['texts'] / n:.2f} "
            f"texts, {embedded['chars'] / n:.0f} characters, "
            f"{embedded['seconds'] / n * 1000:.1f} ms per event"
        )
    finally:
        from django.db import connections

        connections.close_all()
        system.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    run = sub.add_parser("run")
    run.add_argument(
        "--rates", type=lambda s: [float(x) for x in s.split(",") if x], default=[20.0, 40.0]
    )
    run.add_argument("--duration", type=float, default=60.0)
    run.add_argument("--drain", type=int, default=2000)
    run.add_argument(
        "--drain-batch",
        type=int,
        default=0,
        help="ingest the drain through /v1/ingest/batch, this many per request (0: one by one)",
    )
    run.add_argument("--port", type=int, default=8765)
    run.add_argument("--web-workers", type=int, default=1)
    run.add_argument("--prefetch", type=int, default=4)
    run.add_argument(
        "--worker-processes",
        type=int,
        default=1,
        help="enrichment worker processes (Celery prefork --concurrency); default 1",
    )
    run.add_argument(
        "--pg-stats",
        action="store_true",
        help="load pg_stat_statements and print Postgres time per statement",
    )
    profile = sub.add_parser("profile")
    profile.add_argument("--events", type=int, default=400)
    profile.add_argument("--order", choices=["event", "fifo", "message"], default="event")
    profile.add_argument("--cprofile", default="", help="write a cProfile of the run here")
    profile.add_argument(
        "--facts", default="", help="write the facts produced here (sorted JSON lines), to diff"
    )
    args = parser.parse_args(argv)
    if args.mode == "run":
        bench_run(args)
    else:
        bench_profile(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
