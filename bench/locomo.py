"""LoCoMo recall benchmark through the HTTP API, with raw-turn baselines in the same run.

    python -m bench.locomo [--budgets 500,1000,2000,4000] [--limit-conversations N]
                           [--base-url URL --api-key KEY] [--skip-baselines]

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
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.locomo_data import Conversation, load_locomo  # noqa: E402
from bench.locomo_metrics import Scoreboard, percentile  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
RESULTS = Path(__file__).resolve().parent / "results" / "locomo.md"
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


def ingest(
    client: Client, conversations: Sequence[Conversation], mapping_file: Path
) -> dict[str, dict[str, str]]:
    """-> {user_id: {event_id: dia_id}}; skips conversations ingested by an earlier run."""
    mapping: dict[str, dict[str, str]] = (
        json.loads(mapping_file.read_text()) if mapping_file.exists() else {}
    )
    for conv in conversations:
        user = user_of(conv)
        if user in mapping and len(mapping[user]) == len(conv.turns):
            continue
        events: dict[str, str] = {}
        started = time.perf_counter()
        for turn in conv.turns:
            status, body, _ = client.call(
                "POST",
                "/v1/ingest",
                {
                    "user_id": user,
                    "type": "message",
                    "role": "user",
                    "conversation_id": conv.sample_id,
                    "content": turn.content,
                    "event_time": turn.time.isoformat(),
                    "idempotency_key": f"{conv.sample_id}:{turn.dia_id}",
                },
            )
            if status != 200:
                raise RuntimeError(f"ingest failed: {status} {body}")
            events[body["event_id"]] = turn.dia_id
        mapping[user] = events
        mapping_file.write_text(json.dumps(mapping))
        print(
            f"ingested {conv.sample_id}: {len(events)} turns in "
            f"{time.perf_counter() - started:.1f}s",
            flush=True,
        )
    return mapping


def wait_enriched(client: Client, mapping: dict[str, dict[str, str]]) -> float:
    """Walk the events in ingest order (the queue is roughly FIFO), waiting at the first
    one still pending: one status request per poll instead of one per event."""
    started = time.perf_counter()
    pending = [event_id for events in mapping.values() for event_id in events]
    last_report = 0.0
    while pending:
        _, body, _ = client.call("GET", f"/v1/events/{pending[0]}")
        status = body.get("status")
        if status in ("pending", "processing"):
            if time.perf_counter() - last_report > 30:
                print(f"waiting for enrichment: {len(pending)} events left", flush=True)
                last_report = time.perf_counter()
            time.sleep(1)
            continue
        if status == "failed":
            print(f"event {pending[0]} failed: {body.get('error')}", flush=True)
        pending.pop(0)
    return time.perf_counter() - started


def run_recalls(
    client: Client,
    conversations: Sequence[Conversation],
    mapping: dict[str, dict[str, str]],
    budgets: Sequence[int],
    board: Scoreboard,
) -> Pass:
    recalls = Pass(expected="miss")
    for conv in conversations:
        dia_of = mapping[user_of(conv)]
        for q in conv.questions:
            for budget in budgets:
                status, body, ms, timing = client.call_timed(
                    "POST",
                    "/v1/recall",
                    {"user_id": user_of(conv), "task": q.question, "token_budget": budget},
                )
                if status != 200:
                    raise RuntimeError(f"recall failed: {status} {body}")
                recalls.add(ms, timing)
                board.add(
                    system=SYSTEM,
                    budget=budget,
                    category=q.category,
                    answer=q.answer,
                    evidence=q.evidence,
                    cited=[dia_of[c] for c in body["citations"] if c in dia_of],
                    context=body["system_context"],
                    tokens=body["token_estimate"],
                    latency_ms=ms,
                    adversarial_answer=q.adversarial_answer,
                )
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="500,1000,2000,4000")
    parser.add_argument("--limit-conversations", type=int, default=None)
    parser.add_argument("--base-url")
    parser.add_argument("--api-key")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the stack's finally block stops what it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    budgets = [int(b) for b in args.budgets.split(",")]
    conversations = load_locomo()[: args.limit_conversations]
    wall = time.perf_counter()

    board = Scoreboard()
    if args.base_url:
        client = Client(args.base_url, args.api_key)
        stats = _run(client, conversations, budgets, board, CACHE / "locomo-remote.json")
    else:
        from bench.stack import running_stack

        with running_stack(data_dir=CACHE / "locomo-stack", tenant="locomo") as stack:
            client = Client(stack.base_url, stack.api_key)
            stats = _run(
                client,
                conversations,
                budgets,
                board,
                CACHE / "locomo-stack" / "mapping.json",
                redis_url=stack.env["REDIS_URL"],
            )
    if not args.skip_baselines:
        from bench.locomo_baselines import run as run_baselines

        baseline_board = run_baselines(conversations, budgets)
        board.merge(baseline_board)
    report = _report(board, conversations, budgets, stats, time.perf_counter() - wall)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(report)
    return 0


def _run(
    client: Client,
    conversations: Sequence[Conversation],
    budgets: Sequence[int],
    board: Scoreboard,
    mapping_file: Path,
    redis_url: str | None = None,
) -> dict[str, Any]:
    mapping_file.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    mapping = ingest(client, conversations, mapping_file)
    ingest_s = time.perf_counter() - started
    enrich_wait_s = wait_enriched(
        client, {user_of(conv): mapping[user_of(conv)] for conv in conversations}
    )
    if redis_url:
        print(f"cleared {recall_cache_clear(redis_url)} cached recalls", flush=True)
    uncached = run_recalls(client, conversations, mapping, budgets, board)
    cached = cached_latencies(client, conversations, budgets)
    return {
        "ingest_s": ingest_s,
        "enrich_wait_s": enrich_wait_s,
        "recalls": sum(uncached.caches.values()),
        "uncached": uncached,
        "cached": cached,
    }


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
