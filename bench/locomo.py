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
`system_context`; tokens; client-side latency. A second pass over a sample measures cached
latency. Results: bench/results/locomo.md (the table in BENCHMARKS.md comes from there).
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
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.locomo_data import Conversation, load_locomo  # noqa: E402
from bench.locomo_metrics import Scoreboard, percentile  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
RESULTS = Path(__file__).resolve().parent / "results" / "locomo.md"
SYSTEM = "claiv"


class Client:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}",
                        "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers=self.headers)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = json.loads(response.read())
                status = response.status
        except urllib.error.HTTPError as exc:
            payload, status = json.loads(exc.read() or b"{}"), exc.code
        return status, payload, (time.perf_counter() - started) * 1000


def user_of(conv: Conversation) -> str:
    return f"locomo-{conv.sample_id}"


def ingest(client: Client, conversations: Sequence[Conversation],
           mapping_file: Path) -> dict[str, dict[str, str]]:
    """-> {user_id: {event_id: dia_id}}; skips conversations ingested by an earlier run."""
    mapping: dict[str, dict[str, str]] = (json.loads(mapping_file.read_text())
                                          if mapping_file.exists() else {})
    for conv in conversations:
        user = user_of(conv)
        if user in mapping and len(mapping[user]) == len(conv.turns):
            continue
        events: dict[str, str] = {}
        started = time.perf_counter()
        for turn in conv.turns:
            status, body, _ = client.call("POST", "/v1/ingest", {
                "user_id": user, "type": "message", "role": "user",
                "conversation_id": conv.sample_id, "content": turn.content,
                "event_time": turn.time.isoformat(),
                "idempotency_key": f"{conv.sample_id}:{turn.dia_id}"})
            if status != 200:
                raise RuntimeError(f"ingest failed: {status} {body}")
            events[body["event_id"]] = turn.dia_id
        mapping[user] = events
        mapping_file.write_text(json.dumps(mapping))
        print(f"ingested {conv.sample_id}: {len(events)} turns in "
              f"{time.perf_counter() - started:.1f}s", flush=True)
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


def run_recalls(client: Client, conversations: Sequence[Conversation],
                mapping: dict[str, dict[str, str]], budgets: Sequence[int],
                board: Scoreboard) -> list[float]:
    latencies: list[float] = []
    for conv in conversations:
        dia_of = mapping[user_of(conv)]
        for q in conv.questions:
            for budget in budgets:
                status, body, ms = client.call("POST", "/v1/recall", {
                    "user_id": user_of(conv), "task": q.question, "token_budget": budget})
                if status != 200:
                    raise RuntimeError(f"recall failed: {status} {body}")
                latencies.append(ms)
                board.add(system=SYSTEM, budget=budget, category=q.category, answer=q.answer,
                          evidence=q.evidence,
                          cited=[dia_of[c] for c in body["citations"] if c in dia_of],
                          context=body["system_context"], tokens=body["token_estimate"],
                          latency_ms=ms, adversarial_answer=q.adversarial_answer)
    return latencies


def cached_latencies(client: Client, conversations: Sequence[Conversation],
                     budgets: Sequence[int], sample: int = 400) -> list[float]:
    """A random sample of recalls, each asked twice in a row: the second answer comes
    from the cache (the first pass over all questions outlasts the cache's lifetime)."""
    rng = random.Random(7)
    pairs = [(conv, q.question, b) for conv in conversations for q in conv.questions
             for b in budgets]
    latencies = []
    for conv, question, budget in rng.sample(pairs, min(sample, len(pairs))):
        body = {"user_id": user_of(conv), "task": question, "token_budget": budget}
        client.call("POST", "/v1/recall", body)
        _, _, ms = client.call("POST", "/v1/recall", body)
        latencies.append(ms)
    return latencies


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
            stats = _run(client, conversations, budgets, board,
                         CACHE / "locomo-stack" / "mapping.json")
    if not args.skip_baselines:
        from bench.locomo_baselines import run as run_baselines

        baseline_board = run_baselines(conversations, budgets)
        board.merge(baseline_board)
    report = _report(board, conversations, budgets, stats, time.perf_counter() - wall)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(report)
    return 0


def _run(client: Client, conversations: Sequence[Conversation], budgets: Sequence[int],
         board: Scoreboard, mapping_file: Path) -> dict[str, float]:
    mapping_file.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    mapping = ingest(client, conversations, mapping_file)
    ingest_s = time.perf_counter() - started
    enrich_wait_s = wait_enriched(client, mapping)
    uncached = run_recalls(client, conversations, mapping, budgets, board)
    cached = cached_latencies(client, conversations, budgets)
    return {"ingest_s": ingest_s, "enrich_wait_s": enrich_wait_s,
            "uncached_p50": percentile(uncached, 50), "uncached_p95": percentile(uncached, 95),
            "cached_p50": percentile(cached, 50), "cached_p95": percentile(cached, 95),
            "recalls": len(uncached)}


def _report(board: Scoreboard, conversations: Sequence[Conversation], budgets: Sequence[int],
            stats: dict[str, float], wall: float) -> str:
    turns = sum(len(c.turns) for c in conversations)
    questions = sum(len(c.questions) for c in conversations)
    return "\n".join([
        "# LoCoMo: Claiv recall vs raw-turn baselines",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m bench.locomo "
        f"--budgets {','.join(map(str, budgets))}`: {len(conversations)} conversations, "
        f"{turns} turns, {questions} questions; wall time {wall:.0f} s.",
        "",
        f"Claiv through HTTP: {stats['recalls']} uncached recalls p50 "
        f"{stats['uncached_p50']:.1f} ms / p95 {stats['uncached_p95']:.1f} ms; cached p50 "
        f"{stats['cached_p50']:.1f} ms / p95 {stats['cached_p95']:.1f} ms (client-side, "
        f"loopback). Ingest {stats['ingest_s']:.0f} s; waited {stats['enrich_wait_s']:.0f} s "
        "for enrichment after the last ingest.",
        "",
        "## Categories 1–4",
        "",
        board.render_answerable(),
        "",
        "## Adversarial (category 5)",
        "",
        board.render_adversarial(),
        "",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
