"""LoCoMo recall benchmark through the HTTP API, with raw-turn baselines in the same run.

    python -m bench.locomo [--budgets 500,1000,2000,4000] [--limit-conversations N]
                           [--base-url URL --api-key KEY] [--skip-baselines]
    python -m bench.locomo --matrix --conversations 0-2 --budgets 500,2000
    python -m bench.locomo --stacked --budgets 500,2000

`--feed`, `--order` and `--api` (each a comma list; `--matrix` = all of them) choose how
the turns are sent (bench/locomo_feeding.py: one conversation id per conversation, one per
session or none; in order, by 8 concurrent clients or in shuffled batches; v1 or v6). Each
variant has users of its own, so the variants sit side by side in one stack; the result
is one table of evidence recall per variant, written to bench/results/locomo_feeding.md
and, with `--benchmarks-md`, between the feeding-matrix markers of BENCHMARKS.md.
`--stacked` puts every conversation under one user_id (questions unchanged) and scores
the raw-turn baselines over all the conversations' turns together.

Without --base-url it starts its own stack (bench/stack.py: embedded Postgres + Valkey,
gunicorn, a Celery worker) under bench/.cache/locomo-stack and keeps it between runs; an
already ingested conversation is not ingested again. As an integrator would: one user_id per
conversation, one event per turn (speaker prefix, image captions, event_time from the
session date) via POST /v1/ingest, wait for enrichment via GET /v1/events/{id}, then every
question through POST /v1/recall at each budget. Scores (bench/locomo_metrics.py): evidence
recall = share of a question's evidence turns whose events are cited; answer containment in
`system_context`; tokens; client-side latency, and the server's own from its Server-Timing
header. An owned stack's recall cache is cleared before the uncached pass; a second pass over
a sample measures cached latency (each request right after the same one), and both passes
count the hits and misses the server reports. Results: bench/results/locomo.md (the table
in BENCHMARKS.md comes from there).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.locomo_data import Conversation, load_locomo  # noqa: E402
from bench.locomo_feeding import (  # noqa: E402
    DEFAULT,
    RETRIES,
    TextCitations,
    Variant,
    feed,
    variants_of,
)
from bench.locomo_metrics import (  # noqa: E402
    ANSWERABLE_CATEGORIES,
    CATEGORY_LABELS,
    Scoreboard,
    percentile,
)

CACHE = Path(__file__).resolve().parent / ".cache"
RESULTS = Path(__file__).resolve().parent / "results" / "locomo.md"
FEEDING_RESULTS = Path(__file__).resolve().parent / "results" / "locomo_feeding.md"
BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
MATRIX_START, MATRIX_END = "<!-- feeding-matrix -->", "<!-- /feeding-matrix -->"
STACKED_START, STACKED_END = "<!-- stacked-run -->", "<!-- /stacked-run -->"
HYBRID = "hybrid-rrf"
SYSTEM = "claiv"
# Cached recalls measured per run; each costs a second, uncached recall first.
CACHED_SAMPLE = 1000


class Client:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        status, payload, ms, _ = self.call_timed(method, path, body)
        return status, payload, ms

    def call_timed(
        self, method: str, path: str, body: Any = None
    ) -> tuple[int, Any, float, ServerTiming]:
        """(status, JSON body, client-side ms, the server's Server-Timing)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=self.headers
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = json.loads(response.read())
                status = response.status
                timing = ServerTiming.parse(response.headers.get("Server-Timing", ""))
        except urllib.error.HTTPError as exc:
            payload, status = json.loads(exc.read() or b"{}"), exc.code
            timing = ServerTiming.parse(exc.headers.get("Server-Timing", ""))
        return status, payload, (time.perf_counter() - started) * 1000, timing


@dataclass(frozen=True)
class ServerTiming:
    """What the server says of a response: its own duration and, on recall, the cache."""

    app_ms: float | None
    cache: str | None  # "hit" / "miss"

    @classmethod
    def parse(cls, header: str) -> ServerTiming:
        app_ms, cache = None, None
        for metric in header.split(","):
            name, _, params = metric.strip().partition(";")
            values = dict(p.strip().partition("=")[::2] for p in params.split(";") if p)
            if name == "app" and "dur" in values:
                app_ms = float(values["dur"])
            elif name == "cache":
                cache = values.get("desc")
        return cls(app_ms=app_ms, cache=cache)


@dataclass
class Pass:
    """Latencies of one pass over recalls, client-side and server-side, of the answers the
    server reports as `expected` ("hit" or "miss"); the others are only counted (LoCoMo
    asks a few questions twice, so even a cold pass has some hits)."""

    expected: str
    client_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    caches: Counter[str] = field(default_factory=Counter)

    def add(self, client_ms: float, timing: ServerTiming) -> None:
        self.caches[timing.cache or "unknown"] += 1
        if timing.cache != self.expected:
            return
        self.client_ms.append(client_ms)
        if timing.app_ms is not None:
            self.server_ms.append(timing.app_ms)


def user_of(conv: Conversation) -> str:
    return f"locomo-{conv.sample_id}"


def mapping_key(variant: Variant, conv: Conversation, stacked: bool = False) -> str:
    user = variant.user_of(conv, stacked)
    # Historical mapping files are keyed by user; a stacked user holds every conversation.
    return f"{user}|{conv.sample_id}" if stacked else user


def ingest(
    client: Client,
    conversations: Sequence[Conversation],
    mapping_file: Path,
    variant: Variant = DEFAULT,
    stacked: bool = False,
) -> dict[str, dict[str, str]]:
    """-> {mapping key: {event_id: dia_id}}; skips conversations ingested by an earlier run."""
    mapping: dict[str, dict[str, str]] = (
        json.loads(mapping_file.read_text()) if mapping_file.exists() else {}
    )
    for conv in conversations:
        key = mapping_key(variant, conv, stacked)
        if key in mapping and len(mapping[key]) == len(conv.turns):
            continue
        started = time.perf_counter()
        events = feed(client.call, variant, conv, variant.user_of(conv, stacked))
        mapping[key] = events
        mapping_file.write_text(json.dumps(mapping))
        print(
            f"ingested {conv.sample_id} ({variant.name}{' stacked' if stacked else ''}): "
            f"{len(events)} turns in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
    return mapping


class EnrichmentStalled(RuntimeError):
    """No event finished enrichment for the stall bound: the run stops instead of waiting on.
    Its ingest is kept (the stack's data dir and mapping), so the same command resumes."""


# Waiting ends when no event has finished for this long, not at a fixed deadline: on a
# loaded machine enrichment is slow but moving, and a long wait that still makes progress
# is worth finishing. Override with --stall-seconds.
STALL_SECONDS = 600.0


@dataclass
class Progress:
    """When the count of unfinished events last went down (the stall clock)."""

    left: int
    moved_at: float
    reported_at: float = 0.0

    def update(self, left: int, now: float, stall_s: float) -> None:
        if left < self.left:
            self.left, self.moved_at = left, now
        if now - self.moved_at > stall_s:
            raise EnrichmentStalled(
                f"no event finished enrichment in {stall_s:.0f} s ({left} left); the "
                "ingest is kept: run the same command again to resume the wait"
            )
        if now - self.reported_at > 30:
            print(f"waiting for enrichment: {left} events left", flush=True)
            self.reported_at = now


def pending_in_db(database_url: str, event_ids: Sequence[str]) -> Callable[[], int]:
    """-> a counter of these events still pending/processing, read from an owned stack's
    database: one statement per poll whatever their number."""
    return _db_counter(
        database_url,
        "SELECT count(*) FROM memory_event WHERE id = ANY(%s::uuid[]) "
        "AND status IN ('pending', 'processing')",
        event_ids,
    )


def stale_episodes_in_db(database_url: str, event_ids: Sequence[str]) -> Callable[[], int]:
    """-> a counter of the episodes of these events' users whose summary vector is stale:
    left for beat's sweep while a backlog drained. Recalling before the sweep would search
    old vectors, more of them the bigger the backlog, so the feeding would change the
    result."""
    return _db_counter(
        database_url,
        "SELECT count(*) FROM memory_episode e JOIN (SELECT DISTINCT tenant_id, user_id "
        "FROM memory_event WHERE id = ANY(%s::uuid[])) u "
        "ON e.tenant_id = u.tenant_id AND e.user_id = u.user_id WHERE e.embedding_stale",
        event_ids,
    )


def _db_counter(database_url: str, sql: str, event_ids: Sequence[str]) -> Callable[[], int]:
    import psycopg

    def count() -> int:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute(sql, (list(event_ids),)).fetchone()
        return int(row[0]) if row else 0

    return count


def wait_enriched(
    client: Client,
    mapping: dict[str, dict[str, str]],
    stall_s: float = STALL_SECONDS,
    database_url: str | None = None,
    clock: Callable[[], float] = time.perf_counter,
    pause: Callable[[float], None] = time.sleep,
) -> float:
    """Wait until every event of `mapping` is enriched (or failed), for as long as some
    event finishes at least every `stall_s` seconds; raise EnrichmentStalled otherwise.

    With an owned stack's database the unfinished events are counted there; through HTTP
    alone the events are walked in ingest order (the queue is roughly FIFO), waiting at the
    first one still pending: one status request per poll instead of one per event."""
    started = clock()
    pending = [event_id for events in mapping.values() for event_id in events]
    progress = Progress(left=len(pending) + 1, moved_at=started)
    if database_url is not None:
        left = pending_in_db(database_url, pending)
        while (count := left()) > 0:
            progress.update(count, clock(), stall_s)
            pause(5)
        stale = stale_episodes_in_db(database_url, pending)
        episodes = Progress(left=stale() + 1, moved_at=clock())
        try:
            while (count := stale()) > 0:
                episodes.update(count, clock(), stall_s)
                pause(5)
        except EnrichmentStalled:
            # Beat's sweep is not running (a stack of another make): recall anyway.
            print(f"{count} episode vectors still stale; recalling anyway", flush=True)
        return clock() - started
    while pending:
        _, body, _ = client.call("GET", f"/v1/events/{pending[0]}")
        status = body.get("status")
        if status in ("pending", "processing"):
            progress.update(len(pending), clock(), stall_s)
            pause(1)
            continue
        if status == "failed":
            print(f"event {pending[0]} failed: {body.get('error')}", flush=True)
        pending.pop(0)
    return clock() - started


def run_recalls(
    client: Client,
    conversations: Sequence[Conversation],
    mapping: dict[str, dict[str, str]],
    budgets: Sequence[int],
    board: Scoreboard,
    variant: Variant = DEFAULT,
    stacked: bool = False,
    system: str = SYSTEM,
    categories: Sequence[int] | None = None,
    clients: int = 1,
) -> Pass:
    """Every question of `categories` (all without) at every budget, by `clients` parallel
    clients (the scores do not depend on it; the latencies then include the queueing)."""
    recalls = Pass(expected="miss")
    lock = threading.Lock()
    work = []
    for conv in conversations:
        dia_of = mapping[mapping_key(variant, conv, stacked)]
        user = variant.user_of(conv, stacked)
        quoted = TextCitations(conv.turns, dia_of) if variant.api == "v6" else None
        for q in conv.questions:
            if categories is None or q.category in categories:
                work += [(dia_of, user, quoted, q, budget) for budget in budgets]

    def one(item: tuple[Any, ...]) -> None:
        dia_of, user, quoted, q, budget = item
        if quoted is None:
            request = {"user_id": user, "task": q.question, "token_budget": budget}
        else:
            request = {"user_id": user, "query": q.question, "token_budget": budget}
        for _ in range(RETRIES):
            status, body, ms, timing = client.call_timed("POST", f"/{variant.api}/recall", request)
            if status not in (429, 503):
                break
            # Turned away at the door (admission control): retry as a client would.
            retry_after = (body.get("error", {}).get("details") or {}).get("retry_after", 1)
            time.sleep(min(float(retry_after), 5.0))
        if status != 200:
            raise RuntimeError(f"recall failed: {status} {body}")
        if quoted is None:
            cited = [dia_of[c] for c in body["citations"] if c in dia_of]
            context, tokens = body["system_context"], body["token_estimate"]
        else:
            cited = quoted.cited(body, dia_of)
            context, tokens = body["llm_context"]["text"], body["token_estimate"]
        with lock:
            recalls.add(ms, timing)
            board.add(
                system=system,
                budget=budget,
                category=q.category,
                answer=q.answer,
                evidence=q.evidence,
                cited=cited,
                context=context,
                tokens=tokens,
                latency_ms=ms,
                adversarial_answer=q.adversarial_answer,
            )

    if clients <= 1:
        for item in work:
            one(item)
    else:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(one, work))
    return recalls


def cached_latencies(
    client: Client,
    conversations: Sequence[Conversation],
    budgets: Sequence[int],
    sample: int = CACHED_SAMPLE,
) -> Pass:
    """A random sample of recalls, each asked twice in a row: the second answer comes
    from the cache (the first pass over all questions outlasts the cache's lifetime)."""
    rng = random.Random(7)
    pairs = [
        (conv, q.question, b) for conv in conversations for q in conv.questions for b in budgets
    ]
    cached = Pass(expected="hit")
    for conv, question, budget in rng.sample(pairs, min(sample, len(pairs))):
        body = {"user_id": user_of(conv), "task": question, "token_budget": budget}
        client.call("POST", "/v1/recall", body)
        _, _, ms, timing = client.call_timed("POST", "/v1/recall", body)
        cached.add(ms, timing)
    return cached


def recall_cache_clear(redis_url: str) -> int:
    """Delete every cached recall of a stack the benchmark owns, so that the uncached pass
    is uncached even when a previous run ended less than the cache's lifetime ago."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match="claiv:recall:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    return len(keys)


def _indices(spec: str, total: int) -> list[int]:
    chosen: list[int] = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        chosen.extend(range(int(low), int(high or low) + 1))
    return [i for i in chosen if 0 <= i < total]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="500,1000,2000,4000")
    parser.add_argument("--limit-conversations", type=int, default=None)
    parser.add_argument("--conversations", default=None, help="indices, e.g. 0-2 or 0,4,7")
    parser.add_argument("--feed", default="conversation", help="conversation,session,none")
    parser.add_argument("--order", default="sequential", help="sequential,concurrent,batch")
    parser.add_argument("--api", default="v1", help="v1,v6")
    parser.add_argument("--matrix", action="store_true", help="every feed, order and api")
    parser.add_argument(
        "--variants", default=None, help="explicit feed/order/api list, e.g. none/batch/v1,..."
    )
    parser.add_argument("--stacked", action="store_true", help="all conversations, one user")
    parser.add_argument("--benchmarks-md", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--base-url")
    parser.add_argument("--api-key")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=STALL_SECONDS,
        help="stop waiting for enrichment when no event finished for this long",
    )
    parser.add_argument(
        "--recall-clients",
        type=int,
        default=1,
        help="parallel recall clients (scores unchanged; latencies then include queueing)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=CACHE / "locomo-stack",
        help="the owned stack's data dir (kept between runs: ingest and enrichment resume)",
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the stack's finally block stops what it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    budgets = [int(b) for b in args.budgets.split(",")]
    conversations = load_locomo()
    if args.conversations:
        conversations = [conversations[i] for i in _indices(args.conversations, len(conversations))]
    conversations = conversations[: args.limit_conversations]
    if args.matrix:
        variants = variants_of("conversation,session,none", "sequential,concurrent,batch", "v1,v6")
    elif args.variants:
        variants = [v for name in args.variants.split(",") for v in variants_of(*name.split("/"))]
    else:
        variants = variants_of(args.feed, args.order, args.api)
    classic = variants == [DEFAULT] and not args.stacked
    wall = time.perf_counter()

    board = Scoreboard()
    if args.base_url:
        client = Client(args.base_url, args.api_key)
        stats = _run(
            client,
            conversations,
            budgets,
            board,
            CACHE / "locomo-remote.json",
            variants=variants,
            stacked=args.stacked,
            stall_s=args.stall_seconds,
            recall_clients=args.recall_clients,
        )
    else:
        from bench.stack import running_stack

        with running_stack(data_dir=args.data_dir, tenant="locomo", beat=True) as stack:
            client = Client(stack.base_url, stack.api_key)
            stats = _run(
                client,
                conversations,
                budgets,
                board,
                args.data_dir / "mapping.json",
                redis_url=stack.env["REDIS_URL"],
                variants=variants,
                stacked=args.stacked,
                database_url=stack.env["DATABASE_URL"],
                stall_s=args.stall_seconds,
                recall_clients=args.recall_clients,
            )
    if not args.skip_baselines:
        from bench.locomo_baselines import run as run_baselines

        baseline_board = run_baselines(conversations, budgets, stacked=args.stacked)
        board.merge(baseline_board)
    if classic:
        report = _report(board, conversations, budgets, stats, time.perf_counter() - wall)
        output = args.output or RESULTS
    else:
        report = _feeding_report(
            board,
            conversations,
            budgets,
            variants,
            stats,
            time.perf_counter() - wall,
            argv,
            stacked=args.stacked,
        )
        output = args.output or FEEDING_RESULTS
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
    if args.benchmarks_md and not classic:
        _benchmarks_md_update(report, stacked=args.stacked)
    print(report)
    return 0


def _run(
    client: Client,
    conversations: Sequence[Conversation],
    budgets: Sequence[int],
    board: Scoreboard,
    mapping_file: Path,
    redis_url: str | None = None,
    variants: Sequence[Variant] = (DEFAULT,),
    stacked: bool = False,
    database_url: str | None = None,
    stall_s: float = STALL_SECONDS,
    recall_clients: int = 1,
) -> dict[str, Any]:
    mapping_file.parent.mkdir(parents=True, exist_ok=True)
    classic = list(variants) == [DEFAULT] and not stacked
    started = time.perf_counter()
    mapping: dict[str, dict[str, str]] = {}
    ingest_s: dict[str, float] = {}
    for variant in variants:
        began = time.perf_counter()
        mapping = ingest(client, conversations, mapping_file, variant, stacked)
        ingest_s[variant.name] = time.perf_counter() - began
    total_ingest_s = time.perf_counter() - started
    keys = {mapping_key(v, c, stacked) for v in variants for c in conversations}
    enrich_wait_s = wait_enriched(
        client, {key: mapping[key] for key in keys}, stall_s=stall_s, database_url=database_url
    )
    if redis_url:
        print(f"cleared {recall_cache_clear(redis_url)} cached recalls", flush=True)
    passes: dict[str, Pass] = {}
    for variant in variants:
        name = SYSTEM if classic else f"{SYSTEM} {variant.name}"
        passes[variant.name] = run_recalls(
            client,
            conversations,
            mapping,
            budgets,
            board,
            variant,
            stacked,
            name,
            # The feeding table scores categories 1-4 only; adversarial questions cost a
            # quarter of the recalls for nothing there.
            categories=None if classic else ANSWERABLE_CATEGORIES,
            clients=recall_clients,
        )
        print(f"recalled {variant.name}", flush=True)
    uncached = passes[variants[0].name]
    cached = cached_latencies(client, conversations, budgets) if classic else Pass("hit")
    return {
        "ingest_s": total_ingest_s,
        "ingest_by_variant": ingest_s,
        "enrich_wait_s": enrich_wait_s,
        "recalls": sum(uncached.caches.values()),
        "uncached": uncached,
        "passes": passes,
        "cached": cached,
    }


def _feeding_report(
    board: Scoreboard,
    conversations: Sequence[Conversation],
    budgets: Sequence[int],
    variants: Sequence[Variant],
    stats: dict[str, Any],
    wall: float,
    argv: Sequence[str] | None,
    stacked: bool = False,
) -> str:
    """One table: evidence recall (categories 1–4) per variant and budget, the spread
    between variants, and the baselines of the same run."""
    command = " ".join(argv if argv is not None else sys.argv[1:])
    header = ["variant (feed/order/api)"]
    for budget in budgets:
        header += [f"{budget}: recall %"]
        header += [f"{budget}: {CATEGORY_LABELS[c]}" for c in ANSWERABLE_CATEGORIES]
    header += ["uncached p95 ms"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    per_budget: dict[int, list[float]] = {b: [] for b in budgets}
    below: list[str] = []

    def category(system: str, budget: int, c: int) -> float:
        return float(board.summary(system, budget, (c,))["evidence_recall"])

    def row(label: str, system: str, p95: str) -> None:
        cells = [label]
        for budget in budgets:
            recall = board.summary(system, budget)["evidence_recall"]
            cells.append(f"{recall:.1f}")
            for c in ANSWERABLE_CATEGORIES:
                value = category(system, budget, c)
                cells.append(f"{value:.1f}")
                if system.startswith(SYSTEM) and HYBRID in systems:
                    if value < category(HYBRID, budget, c):
                        below.append(f"{label.strip('*')} {budget} {CATEGORY_LABELS[c]}")
            if system.startswith(SYSTEM):
                per_budget[budget].append(recall)
        lines.append("| " + " | ".join(cells + [p95]) + " |")

    systems = {s for s, _ in board.rows()}
    for variant in variants:
        recalls = stats["passes"][variant.name]
        row(
            f"**{variant.name}**",
            f"{SYSTEM} {variant.name}",
            f"{percentile(recalls.client_ms, 95):.0f}",
        )
    for system in (HYBRID, "bm25", "dense-minilm"):
        if system in systems:
            row(system, system, "–")
    spread = ", ".join(f"{b}: {max(v) - min(v):.1f}" for b, v in per_budget.items() if v)
    margin = "–"
    if HYBRID in systems:
        margin = ", ".join(
            f"{b}: {min(v) - board.summary(HYBRID, b)['evidence_recall']:+.1f}"
            for b, v in per_budget.items()
            if v
        )
    turns = sum(len(c.turns) for c in conversations)
    questions = sum(len(c.questions) for c in conversations)
    ingest = ", ".join(f"{k} {v:.0f} s" for k, v in stats["ingest_by_variant"].items())
    return "\n".join(
        [
            "# LoCoMo stacked: every conversation under one user_id"
            if stacked
            else "# LoCoMo: recall by feeding variant",
            "",
            f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m bench.locomo "
            f"{command}`: conversations {', '.join(c.sample_id for c in conversations)} "
            f"({turns} turns, {questions} questions); wall time {wall:.0f} s; load average "
            f"{Path('/proc/loadavg').read_text().split()[0]} at the end. Evidence recall %, "
            "categories 1–4 (all, then each).",
            "",
            *lines,
            "",
            f"Spread between variants (points): {spread}. Lowest variant minus the hybrid "
            f"(points): {margin}. Categories below the hybrid: "
            f"{', '.join(below) or 'none'}. Ingest: {ingest}; waited "
            f"{stats['enrich_wait_s']:.0f} s for enrichment after the last ingest.",
            "",
        ]
    )


def _benchmarks_md_update(report: str, stacked: bool = False) -> None:
    """Put the report (without its title) between the markers of its kind in BENCHMARKS.md:
    the matrix and the stacked run each have their own, so neither overwrites the other."""
    start, end = (STACKED_START, STACKED_END) if stacked else (MATRIX_START, MATRIX_END)
    text = BENCHMARKS_MD.read_text()
    if start not in text:
        print(f"BENCHMARKS.md has no {start} marker; not updated", flush=True)
        return
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    body = report.split("\n", 2)[2]  # without the title
    BENCHMARKS_MD.write_text(f"{head}{start}\n{body}{end}{tail}")


def _pass_line(name: str, recalls: Pass) -> str:
    caches = ", ".join(f"{n} {kind}" for kind, n in sorted(recalls.caches.items()))
    answers = "misses" if recalls.expected == "miss" else "hits"
    return (
        f"{name}: {sum(recalls.caches.values())} recalls ({caches}); of the "
        f"{len(recalls.client_ms)} {answers}: client-side p50 "
        f"{percentile(recalls.client_ms, 50):.1f} / p95 {percentile(recalls.client_ms, 95):.1f}"
        f" ms, server-side p50 {percentile(recalls.server_ms, 50):.1f} / p95 "
        f"{percentile(recalls.server_ms, 95):.1f} ms"
    )


def _report(
    board: Scoreboard,
    conversations: Sequence[Conversation],
    budgets: Sequence[int],
    stats: dict[str, float],
    wall: float,
) -> str:
    turns = sum(len(c.turns) for c in conversations)
    questions = sum(len(c.questions) for c in conversations)
    return "\n".join(
        [
            "# LoCoMo: Claiv recall vs raw-turn baselines",
            "",
            f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m bench.locomo "
            f"--budgets {','.join(map(str, budgets))}`: {len(conversations)} conversations, "
            f"{turns} turns, {questions} questions; wall time {wall:.0f} s.",
            "",
            f"Claiv through HTTP: {stats['recalls']} recalls; the "
            f"{len(stats['uncached'].client_ms)} uncached ones p50 "
            f"{percentile(stats['uncached'].client_ms, 50):.1f} ms / p95 "
            f"{percentile(stats['uncached'].client_ms, 95):.1f} ms; cached p50 "
            f"{percentile(stats['cached'].client_ms, 50):.1f} ms / p95 "
            f"{percentile(stats['cached'].client_ms, 95):.1f} ms (client-side, loopback). Ingest "
            f"{stats['ingest_s']:.0f} s; waited {stats['enrich_wait_s']:.0f} s for enrichment "
            "after the last ingest.",
            "",
            "- " + _pass_line("uncached pass", stats["uncached"]),
            "- " + _pass_line("cached pass (each right after the same request)", stats["cached"]),
            "",
            "Client-side latency is what the benchmark's urllib client measured (a new loopback "
            "connection per request, JSON parsing included); server-side is the server's own "
            "`Server-Timing: app;dur`, from the first middleware in to the response out. The "
            "uncached figures cover the misses only (a repeated question is a hit); the table's "
            "per-budget latencies cover every recall of the uncached pass.",
            "",
            "## Categories 1–4",
            "",
            board.render_answerable(),
            "",
            "## Adversarial (category 5)",
            "",
            board.render_adversarial(),
            "",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
