"""LoCoMo recall in-process: the engine (`retrieve` → `blocks_from` → `pack`) called
directly against the database the HTTP benchmark left behind, without HTTP, cache or
writes. For tuning and profiling the recall engine quickly; the reported benchmark is
`bench.locomo`, which goes through the API.

    .venv/bin/python -m bench.locomo_inprocess --conversations 0-3 --budgets 500,2000
    .venv/bin/python -m bench.locomo_inprocess --conversations 4-9 --profile recall.prof
    .venv/bin/python -m bench.locomo_inprocess --variant session/concurrent/v6 --dump v6.jsonl

A v6 variant (or `--api v6`) recalls through `memory_recall_v6` and scores what its text
quotes (`bench.locomo_feeding.TextCitations`), as `bench.locomo` does over `/v6/recall`;
its `--dump` diagnosis reads the v1 path's retrieval of the same question. Every dump row
lists the evidence turns cited (`cited`), so two variants' dumps compare question by
question.

Needs `python -m bench.locomo` to have run once (its stack under bench/.cache/locomo-stack
holds the ingested, enriched conversations). `--copy` works on a copy of that database so
several of these can run at once (an embedded Postgres data directory has one server).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "bench" / ".cache" / "locomo-stack"


def _indices(spec: str, total: int) -> list[int]:
    chosen: list[int] = []
    for part in spec.split(","):
        if "-" in part:
            low, high = part.split("-")
            chosen.extend(range(int(low), int(high) + 1))
        elif part:
            chosen.append(int(part))
    return [i for i in chosen if 0 <= i < total]


def start_database(stack: Path, copy: Path | None) -> object:
    """Start the stack's Postgres (or a copy of it) and point Django at it."""
    from claiv.embedded import postgres_start

    data = stack / "postgres"
    if copy is not None:
        if not copy.exists():
            shutil.copytree(data, copy, ignore=shutil.ignore_patterns("postmaster.pid"))
            # copytree does not keep owners: run as root, the copy would belong to root
            # and the server (which runs as the data directory's owner) could not read it.
            owner = data.stat()
            for path in [copy, *copy.rglob("*")]:
                os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)
        data = copy
    postgres = postgres_start(data_dir=data)
    os.environ["DATABASE_URL"] = postgres.url  # type: ignore[attr-defined]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    return postgres


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", default="0-9", help="indices, e.g. 0-3 or 4-9")
    parser.add_argument("--budgets", default="500,2000")
    parser.add_argument("--categories", default="1,2,3,4")
    parser.add_argument("--stack", type=Path, default=STACK)
    parser.add_argument(
        "--copy",
        type=Path,
        default=None,
        help="work on a copy of the stack's database made at this path",
    )
    parser.add_argument(
        "--variant",
        default="conversation/sequential/v1",
        help="the feeding variant's users (bench/locomo_feeding.py), e.g. session/sequential/v1",
    )
    parser.add_argument(
        "--stacked",
        action="store_true",
        help="relabel the chosen conversations' (enriched) users as one user, on the --copy, "
        "and recall for that user (an approximation of a stacked ingest: facts are not "
        "re-resolved across conversations)",
    )
    parser.add_argument(
        "--ingested-stacked",
        action="store_true",
        help="recall for the user `bench.locomo --stacked` ingested over HTTP (every "
        "conversation under one user_id; use --stack on that run's --data-dir)",
    )
    parser.add_argument(
        "--stop-at-session-break",
        action="store_true",
        help="neighbours stop at a session break (memory.recall.locality), for comparison",
    )
    parser.add_argument(
        "--keep-interleaved",
        action="store_true",
        help="neighbours include turns of concurrent threads (memory.recall.locality), for "
        "comparison",
    )
    parser.add_argument(
        "--api",
        default=None,
        help="v6: recall through memory_recall_v6 and score what its text quotes, as "
        "bench.locomo does over /v6/recall (default: the variant's api for v1 users, v1 "
        "scoring by citations)",
    )
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats")
    parser.add_argument("--limit", type=int, default=None, help="questions per conversation")
    parser.add_argument(
        "--dump",
        type=Path,
        default=None,
        help="write one JSON line per question and budget: recall, and for "
        "each missed evidence turn where it was lost (see _diagnose)",
    )
    args = parser.parse_args(argv)

    postgres = start_database(args.stack, args.copy)
    try:
        return _run(args)
    finally:
        postgres.stop()  # type: ignore[attr-defined]


def _run(args: argparse.Namespace) -> int:
    from bench.locomo_data import load_locomo
    from bench.locomo_feeding import TextCitations, Variant
    from bench.locomo_metrics import answer_contained, answer_part_contained, evidence_recall
    from memory.recall.channels import RecallScope
    from memory.recall.engine import blocks_from, citations_of, retrieve
    from memory.recall.packing import pack
    from memory.recall.v6 import memory_recall_v6
    from tenants.models import Tenant

    mapping: dict[str, dict[str, str]] = json.loads((args.stack / "mapping.json").read_text())
    conversations = load_locomo()
    chosen = [conversations[i] for i in _indices(args.conversations, len(conversations))]
    budgets = [int(b) for b in args.budgets.split(",")]
    categories = {int(c) for c in args.categories.split(",")}
    tenant = Tenant.objects.get(slug="locomo")
    variant = Variant(*args.variant.split("/"))
    v6 = (args.api or variant.api) == "v6"
    if v6:
        from memory.recall import v6 as v6_module

        # No writes: the access counts a v6 recall keeps are left alone.
        v6_module.facts_accessed = lambda *_, **__: None  # type: ignore[assignment]
    if args.stop_at_session_break:
        from memory.recall import locality

        locality.STOP_AT_SESSION_BREAK = True
    if args.keep_interleaved:
        from memory.recall import locality

        locality.SKIP_INTERLEAVED_THREADS = False
    if args.stacked:
        if args.copy is None:
            raise SystemExit("--stacked rewrites user ids: use it with --copy")
        _relabel(tenant, [variant.user_of(conv) for conv in chosen], STACKED_USER)
    scores: dict[int, dict[str, list[float]]] = {
        b: {"recall": [], "contained": [], "part": [], "ms": []} for b in budgets
    }
    by_category: dict[tuple[int, int], list[float]] = {}
    profiler = cProfile.Profile() if args.profile else None
    dump = args.dump.open("w") if args.dump else None
    for conv in chosen:
        if args.ingested_stacked:
            user = variant.user_of(conv, stacked=True)
            dia_of = mapping[f"{user}|{conv.sample_id}"]
        else:
            user = variant.user_of(conv)
            dia_of = mapping[user]
        scope = RecallScope(tenant=tenant, user_id=STACKED_USER if args.stacked else user)
        questions = [q for q in conv.questions if q.category in categories and q.evidence]
        quoted = TextCitations(conv.turns, dia_of) if v6 else None
        for q in questions[: args.limit]:
            for budget in budgets:
                started = time.perf_counter()
                if profiler:
                    profiler.enable()
                if quoted is not None:
                    body = memory_recall_v6(
                        tenant=tenant, user_id=scope.user_id, query=q.question, token_budget=budget
                    )
                else:
                    result = retrieve(scope, q.question, budget=budget)
                    text, admitted, _ = pack(blocks_from(result, budget), budget)
                if profiler:
                    profiler.disable()
                cell = scores[budget]
                cell["ms"].append((time.perf_counter() - started) * 1000)
                if quoted is not None:
                    text = body["llm_context"]["text"]
                    cited = quoted.cited(body, dia_of)
                    if dump:
                        # The diagnosis reads the v1 path's retrieval of the same question.
                        result = retrieve(scope, q.question, budget=budget)
                        _, admitted, _ = pack(blocks_from(result, budget), budget)
                else:
                    cited = [dia_of[c] for c in citations_of(admitted) if c in dia_of]
                cell["recall"].append(evidence_recall(q.evidence, cited))
                by_category.setdefault((budget, q.category), []).append(cell["recall"][-1])
                cell["contained"].append(float(answer_contained(q.answer, text)))
                cell["part"].append(float(answer_part_contained(q.answer, text)))
                if dump:
                    row = _diagnose(result, admitted, text, dia_of, q.evidence, budget)
                    row.update(
                        conversation=conv.sample_id,
                        question=q.question,
                        category=q.category,
                        budget=budget,
                        answer=q.answer,
                        recall=cell["recall"][-1],
                        contained=cell["contained"][-1],
                        cited=sorted(set(cited)),
                    )
                    dump.write(json.dumps(row) + "\n")
    for budget, cell in scores.items():
        ms = sorted(cell["ms"])
        print(
            f"budget {budget}: evidence recall {100 * statistics.mean(cell['recall']):.1f} % "
            f"contained {100 * statistics.mean(cell['contained']):.1f} % "
            f"any part {100 * statistics.mean(cell['part']):.1f} % "
            f"(n={len(ms)}) latency p50 {ms[len(ms) // 2]:.1f} ms "
            f"p95 {ms[int(len(ms) * 0.95)]:.1f} ms"
        )
        print(
            f"budget {budget} by category: "
            + ", ".join(
                f"{c}: {100 * statistics.mean(by_category[(budget, c)]):.1f}"
                for c in sorted(categories)
                if by_category.get((budget, c))
            )
        )
    if profiler:
        profiler.dump_stats(args.profile)
    if dump:
        dump.close()
    return 0


STACKED_USER = "locomo-stacked-relabelled"


def _relabel(tenant: object, users: list[str], into: str) -> None:
    """Move every row of `users` to user `into`. The keyword corpus follows by trigger; the
    keyword postings and term counts (migration 0018) follow a row's text and status, not
    its user_id, so they are moved here too (without it the stacked user had no postings and
    its keyword channels found nothing once it had more than `bm25.FEW_ROWS` rows)."""
    from django.db import connection, transaction

    tables = ["memory_event", "memory_fact", "memory_episode", "memory_passage"]
    tenant_id = tenant.pk  # type: ignore[attr-defined]
    with transaction.atomic(), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"UPDATE {table} SET user_id = %s WHERE tenant_id = %s AND user_id = ANY(%s)",
                [into, tenant_id, users],
            )
        cursor.execute(
            "UPDATE memory_keywordposting SET user_id = %s "
            "WHERE tenant_id = %s AND user_id = ANY(%s)",
            [into, tenant_id, users],
        )
        cursor.execute(
            "INSERT INTO memory_keywordterm (tenant_id, user_id, kind, lexeme, documents) "
            "SELECT tenant_id, %s, kind, lexeme, sum(documents) FROM memory_keywordterm "
            "WHERE tenant_id = %s AND user_id = ANY(%s) GROUP BY 1, 2, 3, 4 "
            "ON CONFLICT (tenant_id, user_id, kind, lexeme) DO UPDATE "
            "SET documents = memory_keywordterm.documents + EXCLUDED.documents",
            [into, tenant_id, users],
        )
        cursor.execute(
            "DELETE FROM memory_keywordterm WHERE tenant_id = %s AND user_id = ANY(%s)",
            [tenant_id, users],
        )


def _diagnose(
    result: object,
    admitted: list,
    text: str,
    dia_of: dict[str, str],
    evidence: list[str],
    budget: int,
) -> dict[str, object]:
    """Where each evidence turn was lost: "none" (in no channel's ranking), "fusion" (ranked
    by a channel but cut when the fused list was truncated), "pack" (hydrated but not
    admitted by the packer), or "cited" (recalled). Also the packed tokens per block type."""
    from memory.recall.engine import CHANNEL_GROUPS, FUSION_K, channel_weights
    from memory.recall.fusion import rrf_fuse
    from memory.tokens import count_tokens

    event_of = {dia: event for event, dia in dia_of.items()}
    full = rrf_fuse(
        result.ranks,  # type: ignore[attr-defined]
        channel_weights(budget),  # the weights recall used at this budget
        k=FUSION_K,
        groups=CHANNEL_GROUPS,
    )
    position = {key[1]: i for i, (key, _) in enumerate(full, start=1) if key[0] == "event"}
    fused = {str(key[1]) for key, _ in result.fused}  # type: ignore[attr-defined]
    cited: set[str] = set()
    for block in admitted:
        cited.update(block.source_ids)
    where: dict[str, object] = {}
    for dia in evidence:
        event = event_of.get(dia)
        if event is None:
            where[dia] = {"stage": "unknown"}
            continue
        ranks = {
            name: r[next(k for k in r if str(k[1]) == event)]
            for name, r in result.ranks.items()  # type: ignore[attr-defined]
            if any(str(k[1]) == event for k in r)
        }
        by = next((b.type for b in admitted if event in b.source_ids), None)
        stage = (
            "cited"
            if event in cited
            else "pack"
            if event in fused
            else "fusion"
            if ranks
            else "none"
        )
        where[dia] = {
            "stage": stage,
            "ranks": ranks,
            "by": by,
            "rrf_at": next((i for e, i in position.items() if str(e) == event), None),
        }
    tokens: dict[str, int] = {}
    for block in admitted:
        tokens[block.type] = tokens.get(block.type, 0) + block.tokens
    return {
        "evidence": where,
        "tokens": tokens,
        "blocks": len(admitted),
        "fused": len(result.fused),
        "context_tokens": count_tokens(text),
    }  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
