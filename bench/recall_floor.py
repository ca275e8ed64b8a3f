"""The fixed floor of a recall: where the milliseconds of a small user's recall go when
every SQL statement takes < 2 ms, in-process and over HTTP.

    # in-process, on a copy of the LoCoMo stack's database (bench.locomo leaves it behind):
    .venv/bin/python -m bench.recall_floor inprocess --stack bench/.cache/locomo-stack \
        --copy bench/.cache/floor-db --spans --digest after.jsonl [--profile recall.prof]
    # over HTTP, interleaved: the code of --before (an export of the starting commit) and
    # this tree, each under its own gunicorn, against one database:
    .venv/bin/python -m bench.recall_floor http --stack bench/.cache/floor-db-stack \
        --before /tmp/floor-base

`inprocess` runs v1 (`memory_recall`) and v6 (`memory_recall_v6`) for the LoCoMo questions
(categories 1-4) of the chosen users at each budget, uncached (the engine is called
directly: no recall cache), and reports p50/p95 per API and budget. `--spans` times each
stage of a v1 recall (the engine's own stage observations plus the steps of
`memory_recall`); `--digest` writes one JSON line per recall (the v1 context, blocks,
citations and token count; the v6 body without its clock-dependent parts) so two runs can
be compared for identical output.

`http` starts Postgres on the stack's data directory and one Valkey, and gunicorn (2 sync
workers, as bench.stack) from each code tree: the "before" server uses Valkey database 1,
the "after" server database 0, so neither sees the other's cached answers, and each
(question, budget) pair is asked once per server: every recall is a cache miss (checked
from Server-Timing). Requests alternate between the servers, so both see the same load.
`--times FILE` writes one JSON line per request (question, API, budget, round, client and
server ms, load average): with `--rounds 2` it tells whether the slow requests are the same
questions every round. `--probe DIR` runs the servers with `bench.floor_probe_conf` (the
product's gunicorn settings plus per-stage timings of every recall, collector pauses
included), one JSON line per request in DIR/<server index>/<worker pid>.jsonl, matched to
the `--times` lines by X-Request-ID. The "before" tree needs a copy of
bench/floor_probe_conf.py for that.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TENANT = "locomo"


def _load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _questions(users: list[str], limit: int | None) -> list[tuple[str, str]]:
    """(user, question) for the LoCoMo conversations the users were fed from."""
    from bench.locomo_data import load_locomo

    by_sample = {conv.sample_id: conv for conv in load_locomo()}
    pairs: list[tuple[str, str]] = []
    for user in users:
        sample = next(s for s in by_sample if user.startswith(f"locomo-{s}"))
        found = [
            q.question
            for q in by_sample[sample].questions
            if q.category in (1, 2, 3, 4) and q.evidence
        ]
        seen: set[str] = set()
        unique = [q for q in found if not (q in seen or seen.add(q))]  # type: ignore[func-returns-value]
        pairs.extend((user, q) for q in unique[:limit])
    return pairs


# --- in-process ---------------------------------------------------------------------------


class Spans:
    """Per-stage times of the recalls run while `record` is on."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.current: dict[str, float] = defaultdict(float)
        self.record = False

    def add(self, name: str, seconds: float) -> None:
        if self.record:
            self.current[name] += seconds * 1000

    def close(self, total_ms: float) -> None:
        if not self.record:
            return
        for name, ms in self.current.items():
            self.times[name].append(ms)
        self.times["total"].append(total_ms)
        self.current = defaultdict(float)

    def timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        return wrapper


def _instrument(spans: Spans) -> None:
    """Wrap the steps of `memory_recall` and the engine's stage observations."""
    from memory.recall import channels, engine, locality

    observe = engine._channel_observe

    def observed(channel: str, started: float) -> None:
        spans.add(f"retrieve.{channel}", time.perf_counter() - started)
        observe(channel, started)

    engine._channel_observe = observed  # type: ignore[assignment]
    channels.corpus_sizes = spans.timed("retrieve.corpus_sizes", channels.corpus_sizes)  # type: ignore[assignment]
    locality.turns_around = spans.timed("retrieve.locality", locality.turns_around)  # type: ignore[assignment]
    engine._reference = spans.timed("retrieve.reference", engine._reference)  # type: ignore[assignment]
    engine.retrieve = spans.timed("retrieve", engine.retrieve)  # type: ignore[assignment]
    for name in ("blocks_from", "with_instructions", "pack", "facts_accessed"):
        setattr(engine, name, spans.timed(name, getattr(engine, name)))
    engine.documents.joined_hits = spans.timed(  # type: ignore[assignment]
        "documents.joined_hits", engine.documents.joined_hits
    )


def _digest_v6(body: dict[str, Any]) -> dict[str, Any]:
    """The v6 body without what depends on the clock (reference time from "now", fact
    access times)."""
    context = dict(body["llm_context"])
    if context.get("anchor_source") == "server_now":
        context.pop("reference_time", None)
    kept = dict(body, llm_context=context)
    for key in ("answer_facts", "supporting_facts", "background_context"):
        kept[key] = [
            {k: v for k, v in fact.items() if k not in ("last_accessed_at", "access_count")}
            for fact in body[key]
        ]
    return kept


def inprocess(args: argparse.Namespace) -> int:
    from bench.locomo_inprocess import start_database
    from claiv.embedded import valkey_start

    valkey = valkey_start(data_dir=Path(str(args.copy or args.stack) + "-valkey"), persist=False)
    os.environ["REDIS_URL"] = f"{valkey.connection_url}/0"  # type: ignore[attr-defined]
    postgres = start_database(args.stack, args.copy)
    try:
        return _inprocess(args)
    finally:
        valkey.stop()  # type: ignore[attr-defined]
        postgres.stop()  # type: ignore[attr-defined]


def _inprocess(args: argparse.Namespace) -> int:
    from memory.embedding import embedder
    from memory.recall import engine
    from memory.recall.v6 import memory_recall_v6
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=TENANT)
    from memory.recall.routing import routing_warm

    embedder().warm()  # type: ignore[attr-defined]
    routing_warm()  # as the gunicorn master does (claiv/gunicorn_conf.py)
    pairs = _questions(args.users.split(","), args.limit)
    budgets = [int(b) for b in args.budgets.split(",")]
    apis = args.apis.split(",")
    spans = Spans()
    if args.spans:
        _instrument(spans)
    digest = args.digest.open("w") if args.digest else None
    profiler = cProfile.Profile() if args.profile else None

    client = _client(tenant) if args.client else None

    def run(api: str, user: str, question: str, budget: int) -> Any:
        if client is not None:  # the whole Django request path, no HTTP server
            body = {"user_id": user, "token_budget": budget}
            body["task" if api == "v1" else "query"] = question
            response = client.post(
                f"/{api}/recall", data=json.dumps(body), content_type="application/json"
            )
            assert response.status_code == 200, response.content
            assert response["Server-Timing"].startswith("cache;desc=miss"), "a cache hit"
            return json.loads(response.content)
        if api == "v1":
            return engine.memory_recall(
                tenant=tenant, user_id=user, query=question, token_budget=budget
            )
        return memory_recall_v6(tenant=tenant, user_id=user, query=question, token_budget=budget)

    for user, question in pairs[: args.warm]:
        for api in apis:
            run(api, user, f"{question} (warm-up)", budgets[-1])
    times: dict[tuple[str, int], list[float]] = defaultdict(list)
    for user, question in pairs:
        for budget in budgets:
            for api in apis:
                spans.record = api == "v1"
                if profiler:
                    profiler.enable()
                started = time.perf_counter()
                result = run(api, user, question, budget)
                ms = (time.perf_counter() - started) * 1000
                if profiler:
                    profiler.disable()
                spans.close(ms)
                times[(api, budget)].append(ms)
                if digest and client is None:
                    if api == "v1":
                        body: Any = {
                            "context": result.system_context,
                            "citations": result.citations,
                            "tokens": result.token_estimate,
                            "blocks": [
                                [b.type, b.item_id, b.score, b.tokens, b.content]
                                for b in result.blocks
                            ],
                        }
                    else:
                        body = _digest_v6(result)
                    line = json.dumps(
                        {"api": api, "user": user, "q": question, "budget": budget, "out": body},
                        sort_keys=True,
                        default=str,
                    )
                    digest.write(line + "\n")
    print(f"load average {_load()}; {len(pairs)} questions", flush=True)
    for (api, budget), values in sorted(times.items()):
        print(
            f"{api} {budget:>5} tokens: p50 {statistics.median(values):.1f} ms "
            f"p95 {_pct(values, 0.95):.1f} ms (n={len(values)})"
        )
    if args.spans:
        print("v1 stages, all budgets (ms per recall: mean / p50 / p95):")
        for name, values in sorted(spans.times.items(), key=lambda kv: -statistics.mean(kv[1])):
            print(
                f"  {name:<34} {statistics.mean(values):6.2f} {statistics.median(values):6.2f} "
                f"{_pct(values, 0.95):6.2f}"
            )
    if digest:
        digest.close()
        lines = args.digest.read_text().encode()
        print(f"digest {hashlib.sha256(lines).hexdigest()[:16]} -> {args.digest}")
    if profiler:
        import pstats

        profiler.dump_stats(args.profile)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    return 0


def _client(tenant: Any) -> Any:
    """A django.test.Client with a new key of `tenant`, whose rate limit is high but paid
        for (as bench.stack). The bench's Valkey starts empty and each request is asked once
    (the warm-up asks other ones), so every recall is a cache miss (asserted)."""
    from django.test import Client

    from keys.services import api_key_create
    from tenants.services import tenant_rate_limit_set

    tenant_rate_limit_set(tenant=tenant, per_minute=1_000_000)
    _, raw = api_key_create(tenant=tenant, name="recall-floor", origin="bench")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


# --- over HTTP ----------------------------------------------------------------------------


@contextmanager
def _servers(
    stack: Path, trees: list[Path], probe: Path | None = None
) -> Iterator[tuple[list[str], str, str]]:
    """Postgres on `stack`, one Valkey, a gunicorn per code tree (Valkey database i for
    tree i). Yields (base URLs, API key, Valkey URL). With `probe`, the servers run
    `bench.floor_probe_conf` (the product's settings plus per-stage timings of each recall,
    written to `probe`/<worker pid>.jsonl)."""
    from bench.stack import gunicorn_command
    from claiv.embedded import free_port, postgres_start, valkey_start

    postgres = postgres_start(data_dir=stack / "postgres")
    # Every recall must be a cache miss: the embedded Valkey keeps its append-only file,
    # so a second run on the same stack found the first run's answers cached.
    shutil.rmtree(stack / "floor-valkey", ignore_errors=True)
    valkey = valkey_start(data_dir=stack / "floor-valkey", persist=False)
    secret = (stack / "secrets").read_text().strip()
    children: list[subprocess.Popen[bytes]] = []
    try:
        env = dict(
            os.environ,
            DATABASE_URL=postgres.url,  # type: ignore[attr-defined]
            SECRET_KEY=secret,
            CLAIV_KEY_PEPPER=secret,
            CLAIV_DATA_DIR=str(stack),
            LOG_LEVEL="WARNING",
            REDIS_URL=f"{valkey.connection_url}/0",  # type: ignore[attr-defined]
        )
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [*manage, "tenant_limits", TENANT, "--rate-limit", "1000000"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            [*manage, "api_key", "create", "--tenant", TENANT],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        key = out.stdout.strip().splitlines()[-1]
        urls = []
        log = open(stack / "floor-http.log", "ab")  # noqa: SIM115 - closed below
        for index, tree in enumerate(trees):
            port = free_port()
            metrics = stack / f"floor-metrics-{index}"
            metrics.mkdir(exist_ok=True)
            for stale in metrics.glob("*.db"):
                stale.unlink()
            tree_env = dict(
                env,
                REDIS_URL=f"{valkey.connection_url}/{index}",  # type: ignore[attr-defined]
                PROMETHEUS_MULTIPROC_DIR=str(metrics),
            )
            command = gunicorn_command(port, 2)
            if probe is not None:
                probe.mkdir(parents=True, exist_ok=True)
                tree_env["FLOOR_PROBE_DIR"] = str(probe.resolve() / str(index))
                (probe / str(index)).mkdir(exist_ok=True)
                command[command.index("python:claiv.gunicorn_conf")] = (
                    "python:bench.floor_probe_conf"
                )
            children.append(
                subprocess.Popen(
                    command,
                    cwd=tree,
                    env=tree_env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 600
        for url in urls:
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/readyz", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline or any(c.poll() is not None for c in children):
                        raise RuntimeError("a server did not start; see floor-http.log") from None
                    time.sleep(0.5)
        yield urls, key, valkey.connection_url  # type: ignore[attr-defined]
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        valkey.stop()  # type: ignore[attr-defined]
        postgres.stop()  # type: ignore[attr-defined]


def _post(
    url: str, key: str, body: dict[str, Any], request_id: str = ""
) -> tuple[float, float | None, str]:
    """(client ms, server ms from Server-Timing, cache hit/miss)."""
    data = json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if request_id:
        headers["X-Request-ID"] = request_id
    request = urllib.request.Request(url, data=data, headers=headers)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        timing = response.headers.get("Server-Timing", "")
    ms = (time.perf_counter() - started) * 1000
    app, cache = None, ""
    for part in timing.split(","):
        fields = dict(
            (f.split("=", 1) + [""])[:2] for f in (s.strip() for s in part.split(";")) if f
        )
        if "app" in fields and fields.get("dur"):
            app = float(fields["dur"])
        if "cache" in fields:
            cache = fields.get("desc", "")
    return ms, app, cache


def http(args: argparse.Namespace) -> int:
    trees = [args.before, ROOT] if args.before else [ROOT]
    names = ["before", "after"] if args.before else ["this tree"]
    pairs = _questions(args.users.split(","), args.limit)
    budgets = [int(b) for b in args.budgets.split(",")]
    apis = args.apis.split(",")
    with _servers(args.stack, trees, args.probe) as (urls, key, _):
        paths = {"v1": "/v1/recall", "v6": "/v6/recall"}
        # Warm-up: the first requests load models, open connections, fill Python caches.
        for user, question in pairs[: args.warm]:
            for url in urls:
                for api in apis:
                    body = {"user_id": user, "task": question, "token_budget": 2000}
                    if api == "v6":
                        body = {"user_id": user, "query": question, "token_budget": 2000}
                    _post(url + paths[api], key, body)
        client: dict[tuple[str, str, int], list[float]] = defaultdict(list)
        server: dict[tuple[str, str, int], list[float]] = defaultdict(list)
        hits = 0
        loads = [_load()]
        times = args.times.open("w") if args.times else None
        for round_ in range(args.rounds):
            for n, (user, question) in enumerate(pairs):
                for budget in budgets:
                    for api in apis:
                        # Uncached: a distinct request per round (the cache keys the
                        # request), and the order of the servers alternates.
                        task = question if round_ == 0 else f"{question} ({round_})"
                        body = {"user_id": user, "token_budget": budget}
                        body["task" if api == "v1" else "query"] = task
                        order = list(range(len(urls)))
                        if (n + round_) % 2:
                            order.reverse()
                        for index in order:
                            request_id = f"floor-{round_}-{n}-{budget}-{api}-{index}"
                            ms, app, cache = _post(urls[index] + paths[api], key, body, request_id)
                            if cache != "miss":
                                hits += 1
                                continue
                            if times is not None:
                                record = {
                                    "id": request_id,
                                    "server": names[index],
                                    "api": api,
                                    "budget": budget,
                                    "round": round_,
                                    "user": user,
                                    "q": question,
                                    "client_ms": round(ms, 2),
                                    "app_ms": app,
                                    "load": _load(),
                                }
                                times.write(json.dumps(record) + "\n")
                            client[(names[index], api, budget)].append(ms)
                            if app is not None:
                                server[(names[index], api, budget)].append(app)
            loads.append(_load())
        if times is not None:
            times.close()
    print(f"load averages {' | '.join(loads)}; cache hits skipped: {hits}")
    for (name, api, budget), values in sorted(client.items(), key=lambda kv: kv[0][1:]):
        served = server.get((name, api, budget), [])
        print(
            f"{api} {budget:>5} tokens {name:>9}: client p50 {statistics.median(values):.1f} "
            f"p95 {_pct(values, 0.95):.1f} ms; server p50 "
            f"{statistics.median(served) if served else float('nan'):.1f} "
            f"p95 {_pct(served, 0.95) if served else float('nan'):.1f} ms (n={len(values)})"
        )
    return 0


# --- through the ASGI app, in-process -----------------------------------------------------


def asgi(args: argparse.Namespace) -> int:
    """The server's whole request path (claiv.asgi.application: RequestGuard, admission,
    Django's handler, the middleware, DRF, the view) driven from an event loop in this
    process, one request at a time, without sockets. Reports wall and CPU time per request
    (CPU is what a quiet machine's latency is made of and moves less with the machine's
    load), the share of it spent in the engine and rendering (`compute`), and the rest: the
    request path."""
    from claiv.embedded import valkey_start

    valkey_dir = Path(str(args.stack) + "-asgi-valkey")
    valkey = valkey_start(data_dir=valkey_dir, persist=False)
    os.environ["REDIS_URL"] = f"{valkey.connection_url}/0"  # type: ignore[attr-defined]
    os.environ.setdefault("DB_POOL", "true")  # as claiv.asgi sets it for the server
    os.environ.setdefault("EMBEDDING_RUNTIME", "onnx")  # as the server's workers
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    secret = (args.stack / "secrets").read_text().strip()
    os.environ.update(SECRET_KEY=secret, CLAIV_KEY_PEPPER=secret, CLAIV_DATA_DIR=str(args.stack))
    from bench.locomo_inprocess import start_database

    postgres = start_database(args.stack, None)
    try:
        return _asgi(args)
    finally:
        valkey.stop()  # type: ignore[attr-defined]
        postgres.stop()  # type: ignore[attr-defined]
        import shutil

        shutil.rmtree(valkey_dir, ignore_errors=True)


def _asgi(args: argparse.Namespace) -> int:
    import asyncio
    import gc
    import threading

    from django.core.management import call_command

    from tenants.models import Tenant

    call_command("migrate", "--noinput", verbosity=0)
    tenant = Tenant.objects.get(slug=TENANT)
    auth = f"Bearer {_client(tenant).defaults['HTTP_AUTHORIZATION'].split()[-1]}".encode()
    from claiv.gunicorn_conf import _heap_freeze
    from memory.embedding import embedder_warm
    from memory.recall.routing import routing_warm
    from memory.tokens import encoding

    embedder_warm()
    encoding()
    routing_warm()
    # What a recall spends in the engine and its rendering, CPU of the request's thread.
    import memory.recall.cache as cache_module
    from claiv.asgi import application

    inner: dict[str, float] = {}
    profiler = cProfile.Profile() if args.profile else None
    reads = cache_module.recall_reads

    def timed_reads(**kwargs: Any) -> Any:
        cpu, wall = time.thread_time(), time.perf_counter()
        if profiler is not None and args.profile_path and inner.get("record"):
            profiler.disable()  # the request path only
        try:
            return reads(**kwargs)
        finally:
            if profiler is not None and args.profile_path and inner.get("record"):
                profiler.enable()
            inner["compute_cpu"] = (time.thread_time() - cpu) * 1000
            inner["compute_wall"] = (time.perf_counter() - wall) * 1000

    cache_module.recall_reads = timed_reads  # type: ignore[assignment]
    from claiv.asgi import SyncChainHandler

    chain = SyncChainHandler.get_response

    def timed_chain(self: Any, request: Any) -> Any:
        cpu, wall = time.thread_time(), time.perf_counter()
        if profiler is not None and inner.get("record"):
            profiler.enable()
        try:
            return chain(self, request)
        finally:
            if profiler is not None and inner.get("record"):
                profiler.disable()
            inner["chain_cpu"] = (time.thread_time() - cpu) * 1000
            inner["chain_wall"] = (time.perf_counter() - wall) * 1000

    SyncChainHandler.get_response = timed_chain  # type: ignore[method-assign]
    _heap_freeze()
    if args.gc_threshold:  # an experiment: the collector's thresholds after the freeze
        gc.set_threshold(*(int(t) for t in args.gc_threshold.split(",")))
    print(f"collector thresholds {gc.get_threshold()}", flush=True)

    async def one(path: str, body: bytes) -> tuple[int, bytes, dict[bytes, bytes]]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
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
        given = {"body": False}
        never = asyncio.Event()
        status = 0
        headers: dict[bytes, bytes] = {}
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            if not given["body"]:
                given["body"] = True
                return {"type": "http.request", "body": body, "more_body": False}
            await never.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.update((k.lower(), v) for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and "t0" in inner:
                    inner["sent_wall"] = (time.perf_counter() - inner["t0"]) * 1000

        await application(scope, receive, send)
        return status, b"".join(chunks), headers

    pairs = _questions(args.users.split(","), args.limit)
    budgets = [int(b) for b in args.budgets.split(",")]
    apis = args.apis.split(",")
    paths = {"v1": "/v1/recall", "v6": "/v6/recall"}
    rows: dict[tuple[str, int], list[dict[str, float]]] = defaultdict(list)
    bodies = args.bodies.open("w") if args.bodies else None
    times = args.times.open("w") if args.times else None
    gc_pauses: list[float] = []
    gc_started = [0.0]
    gc_by_generation: dict[int, list[float]] = defaultdict(list)

    def gc_callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            pause = (time.perf_counter() - gc_started[0]) * 1000
            gc_pauses.append(pause)
            gc_by_generation[info["generation"]].append(pause)

    async def run_all() -> None:
        for n, (user, question) in enumerate(pairs[: args.warm]):
            for api in apis:
                body = {"user_id": user, "token_budget": 2000}
                body["task" if api == "v1" else "query"] = f"{question} (warm-up {n})"
                await one(paths[api], json.dumps(body).encode())
        gc.callbacks.append(gc_callback)
        for round_ in range(args.rounds):
            for user, question in pairs:
                for budget in budgets:
                    for api in apis:
                        task = question if round_ == 0 else f"{question} ({round_})"
                        body = {"user_id": user, "token_budget": budget}
                        body["task" if api == "v1" else "query"] = task
                        raw = json.dumps(body).encode()
                        inner.clear()
                        inner["record"] = 1.0
                        del gc_pauses[:]
                        cpu, wall = time.process_time(), time.perf_counter()
                        inner["t0"] = wall
                        status, out, headers = await one(paths[api], raw)
                        done = (time.perf_counter() - wall) * 1000
                        assert status == 200, out[:300]
                        assert headers[b"server-timing"].startswith(b"cache;desc=miss"), "hit"
                        row = {
                            "wall": inner["sent_wall"],
                            "done": done,
                            "cpu": (time.process_time() - cpu) * 1000,
                            "gc": sum(gc_pauses),
                            **{k: v for k, v in inner.items() if k not in ("t0", "record")},
                        }
                        row["path_cpu"] = row["chain_cpu"] - row["compute_cpu"]
                        row["path_wall"] = row["chain_wall"] - row["compute_wall"]
                        rows[(api, budget)].append(row)
                        if times is not None:
                            meta = {"api": api, "budget": budget, "round": round_, "user": user}
                            times.write(json.dumps({**meta, "q": question, **row}) + "\n")
                        if bodies is not None:
                            record = {"api": api, "budget": budget, "body": body}
                            if api == "v1":
                                record["out"] = json.loads(out)
                            else:
                                record["out"] = _digest_v6(json.loads(out))
                            line = json.dumps(record, sort_keys=True)
                            bodies.write(line + "\n")
        gc.callbacks.remove(gc_callback)

    load_before = _load()
    thread = threading.Thread(target=lambda: asyncio.run(run_all()))
    thread.start()
    thread.join()
    print(f"load average {load_before} -> {_load()}; {len(pairs)} questions x {args.rounds}")
    fields = ("wall", "done", "cpu", "compute_cpu", "path_cpu", "path_wall", "gc")
    print("ms per request, p50 / p95 / mean: " + ", ".join(fields))
    for (api, budget), values in sorted(rows.items()):
        cells = []
        for field in fields:
            column = [v[field] for v in values]
            cells.append(
                f"{field} {statistics.median(column):.2f}/{_pct(column, 0.95):.2f}/"
                f"{statistics.mean(column):.2f}"
            )
        print(f"{api} {budget:>5}: " + "  ".join(cells) + f" (n={len(values)})")
    requests = sum(len(v) for v in rows.values())
    for generation, pauses in sorted(gc_by_generation.items()):
        print(
            f"collector generation {generation}: {len(pauses)} in {requests} requests, "
            f"pause p50 {statistics.median(pauses):.2f} max {max(pauses):.2f} "
            f"total {sum(pauses):.0f} ms"
        )
    if times is not None:
        times.close()
    if bodies is not None:
        bodies.close()
        text = args.bodies.read_text().encode()
        print(f"bodies {hashlib.sha256(text).hexdigest()[:16]} -> {args.bodies}")
    if profiler is not None:
        import pstats

        profiler.dump_stats(args.profile)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for name in ("inprocess", "http", "asgi"):
        p = sub.add_parser(name)
        p.add_argument("--stack", type=Path, required=True)
        p.add_argument(
            "--users",
            default="locomo-conv-26-conversation-concurrent-v1,locomo-conv-30-conversation-concurrent-v1",
        )
        p.add_argument("--budgets", default="500,2000")
        p.add_argument("--apis", default="v1,v6")
        p.add_argument("--limit", type=int, default=None, help="questions per user")
        p.add_argument("--warm", type=int, default=5)
    inp = sub.choices["inprocess"]
    inp.add_argument("--copy", type=Path, default=None)
    inp.add_argument("--spans", action="store_true")
    inp.add_argument("--digest", type=Path, default=None)
    inp.add_argument("--profile", type=Path, default=None)
    inp.add_argument(
        "--client", action="store_true", help="through django.test.Client (middleware, DRF)"
    )
    web = sub.choices["http"]
    web.add_argument("--before", type=Path, default=None, help="the starting code's tree")
    web.add_argument("--rounds", type=int, default=1)
    web.add_argument(
        "--probe",
        type=Path,
        default=None,
        help="run bench.floor_probe_conf: per-stage times of each recall in this folder",
    )
    web.add_argument(
        "--times", type=Path, default=None, help="one JSON line per request (per-question times)"
    )
    through = sub.choices["asgi"]
    through.add_argument("--rounds", type=int, default=1)
    through.add_argument("--profile", type=Path, default=None, help="cProfile of the chain")
    through.add_argument(
        "--profile-path", action="store_true", help="profile without the engine (compute)"
    )
    through.add_argument("--gc-threshold", default="", help="e.g. 700,10,10")
    through.add_argument("--times", type=Path, default=None, help="one JSON line per request")
    through.add_argument(
        "--bodies", type=Path, default=None, help="every response body (v6 without the clock)"
    )
    args = parser.parse_args(argv)
    modes = {"inprocess": inprocess, "http": http, "asgi": asgi}
    return modes[args.mode](args)


if __name__ == "__main__":
    raise SystemExit(main())
