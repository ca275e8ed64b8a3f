"""The assistant development set's Claiv side in-process: the v1 recall path (`retrieve` →
`blocks_from` → instructions first → `pack`) called directly against the database that
`bench.assistant_bench` ingested and enriched, without HTTP or cache. For tuning the
recall engine quickly; the reported benchmark is `bench.assistant_bench`.

    .venv/bin/python -m bench.assistant_inprocess [--conversations ledger,rover]
        [--budgets 500,2000] [--dump misses.jsonl]

Attaches to the stack's Postgres (bench/.cache/assistant-long-stack) whether or not
the benchmark's stack is still running: the server is started when it is not, and then
stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "bench" / ".cache" / "assistant-long-stack"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", default="", help="project keys; default all")
    parser.add_argument("--budgets", default="500,2000")
    parser.add_argument("--stack", type=Path, default=STACK)
    parser.add_argument("--dump", type=Path, default=None, help="one JSON line per miss")
    args = parser.parse_args(argv)
    from bench.locomo_inprocess import start_database

    os.environ.setdefault("LOG_LEVEL", "WARNING")
    postgres = start_database(args.stack, None)
    try:
        return _run(args)
    finally:
        # Only stops the server when this process started it (the library counts users).
        postgres.stop()  # type: ignore[attr-defined]


def _run(args: argparse.Namespace) -> int:
    from bench.assistant_bench import user_of
    from bench.assistant_long import build
    from memory.models import Event
    from memory.recall.channels import RecallScope
    from memory.recall.engine import blocks_from, citations_of, retrieve, with_instructions
    from memory.recall.packing import pack
    from tenants.models import Tenant

    mapping: dict[str, dict[str, str]] = json.loads((args.stack / "mapping.json").read_text())
    wanted = {k for k in args.conversations.split(",") if k}
    conversations = [
        c
        for c in build()
        if (not wanted or c.conversation_id.removeprefix("long-") in wanted)
        and user_of(c) in mapping
    ]
    budgets = [int(b) for b in args.budgets.split(",")]
    tenant = Tenant.objects.get(slug="assistant")
    scores: dict[tuple[int, str], list[float]] = defaultdict(list)
    dump = args.dump.open("w") if args.dump else None
    for conv in conversations:
        dia_of = mapping[user_of(conv)]
        pending = Event.objects.filter(
            tenant=tenant, user_id=user_of(conv), status__in=("pending", "processing")
        ).count()
        if pending:
            print(f"{conv.conversation_id}: {pending} events not enriched yet, skipped")
            continue
        scope = RecallScope(tenant=tenant, user_id=user_of(conv))
        for q in conv.questions:
            for budget in budgets:
                result = retrieve(scope, q.question, budget=budget)
                text, admitted, _ = pack(
                    with_instructions(scope, blocks_from(result, budget)), budget
                )
                cited = {dia_of[c] for c in citations_of(admitted) if c in dia_of}
                recall = len(set(q.evidence) & cited) / len(q.evidence)
                scores[(budget, q.kind)].append(recall)
                scores[(budget, "all")].append(recall)
                if dump and recall < 1:
                    dump.write(
                        json.dumps(
                            {
                                "conversation": conv.conversation_id,
                                "kind": q.kind,
                                "question": q.question,
                                "budget": budget,
                                "recall": recall,
                                "missing": sorted(set(q.evidence) - cited),
                                "cited": sorted(cited),
                                "context": text,
                            }
                        )
                        + "\n"
                    )
    kinds = sorted({k for _, k in scores})
    print("budget | " + " | ".join(f"{k} (n={len(scores[(budgets[0], k)])})" for k in kinds))
    for budget in budgets:
        cells = [f"{100 * sum(scores[(budget, k)]) / len(scores[(budget, k)]):.1f}" for k in kinds]
        print(f"{budget} | " + " | ".join(cells))
    if dump:
        dump.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
