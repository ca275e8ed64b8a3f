"""CPU cost of `memory.recall.packing.pack` on LoCoMo turns, counted two ways.

Ranked lists of 300 blocks (LoCoMo turns, three in four as excerpts, the rest as facts,
spread over ~10 months) are packed at 500 and 2,000 tokens, with each context's exact
count taken either by encoding the whole text (`whole`, the earlier code) or as the sum of
its memoised line counts (`lines`, `memory.tokens.count_tokens_by_lines`). Rounds
alternate the two; the contexts are checked to be identical.

    .venv/bin/python -m bench.pack_cost --rounds 4
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.locomo_data import load_locomo
from memory import tokens
from memory.recall import packing
from memory.recall.packing import Block, pack


def _turns(path: Path | None) -> list[str]:
    return [turn.content for conversation in load_locomo(path) for turn in conversation.turns]


def _ranked_lists(turns: list[str], count: int, seed: int) -> list[list[Block]]:
    rng = random.Random(seed)
    start = datetime(2023, 5, 8, tzinfo=UTC)
    return [
        [
            Block(
                type=rng.choice(["fact", "event", "event", "event"]),
                content=rng.choice(turns),
                source_ids=[str(i)],
                score=1 - i / 300,
                event_time=start + timedelta(hours=rng.randint(0, 24 * 300)),
            )
            for i in range(300)
        ]
        for _ in range(count)
    ]


def _run(lists: list[list[Block]], budget: int) -> tuple[float, list[str]]:
    texts = []
    began = time.process_time()
    for ranked in lists:
        texts.append(pack([replace(block, tokens=0) for block in ranked], budget)[0])
    return (time.process_time() - began) / len(lists) * 1000, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="locomo10.json")
    parser.add_argument("--lists", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    lists = _ranked_lists(_turns(args.data), args.lists, seed=3)
    counters = {"whole": tokens.count_tokens, "lines": tokens.count_tokens_by_lines}
    results: dict[tuple[str, int], list[float]] = {}
    for budget in (500, 2000):
        contexts: dict[str, list[str]] = {}
        for _round in range(args.rounds):
            for name, counter in counters.items():
                packing.count_tokens_by_lines = counter  # type: ignore[assignment]
                _run(lists, budget)  # warm the memo and the day headers
                cost, contexts[name] = _run(lists, budget)
                results.setdefault((name, budget), []).append(cost)
        assert contexts["whole"] == contexts["lines"], "the two counts packed differently"
    packing.count_tokens_by_lines = tokens.count_tokens_by_lines
    print("| count | budget | CPU ms per pack, median (min–max) |")
    print("|---|---|---|")
    for (name, budget), costs in results.items():
        print(
            f"| {name} | {budget} | {statistics.median(costs):.2f} "
            f"({min(costs):.2f}–{max(costs):.2f}) |"
        )


if __name__ == "__main__":
    main()
