"""Scale of one tenant: a bulk loader that fills a tenant with up to a million facts and
as many events, then uncached recall latency for a small and a large user, filtered
top-k counts, and the plan of every recall statement.

    nice -n 10 .venv/bin/python -m bench.scale --facts 1000000 --big 100000 --index hnsw \
        --maintenance-work-mem 2500MB --no-measure
    .venv/bin/python -m bench.scale --queries 60 --plans bench/results/plans-1m-hnsw-postings.txt
    .venv/bin/python -m bench.scale --http --queries 60
    .venv/bin/python -m bench.scale --facts 100000 --big 100000 --index hnsw \
        --data-dir bench/.cache/scale-100k

Data (say it when quoting a figure): the first `--pool` distinct LoCoMo turns
(`bench.locomo_data`) embedded once with the real MiniLM (the cache of
`bench.long_history`), each turned into `--variants` variants: the text with one word
swapped for another word of the pool, the vector the turn's MiniLM vector plus Gaussian
noise (sigma 0.01 per dimension, re-normalised; cosine ~0.98 to the original). So the
tenant holds pool x variants distinct (text, vector) pairs (96,000 by default); row g
takes variant hash(g) mod that, so at 1M rows each pair occurs ~10 times (its fact and
its event share the vector). User `big` holds the first `--big` rows, users `s00000`,
`s00001`, ... `--small` rows each, up to `--facts` rows in all: every row is one event
and one fact stating a clause of it (plus its FactSource), events spread over two years
per user, 200 to a conversation, one extractive episode per conversation. Everything is
generated inside Postgres (INSERT ... SELECT from a variants table loaded with COPY),
with the vector and keyword indexes dropped for the load and built afterwards (timed).

Keyword postings and BM25 statistics (`KeywordPosting`, `KeywordTerm`, `KeywordCorpus`):
their statement-level insert triggers are disabled for the load, and afterwards each kind's
are built in one pass over the tenant's rows by the triggers' own insert branch (the SQL of
migrations 0011_recall_keyword_corpus and 0018_keyword_postings with the transition table
`new_rows` standing for all of the tenant's rows), with the postings' two btree indexes
dropped meanwhile and rebuilt after. So a posting has one definition, the migration's, and
tests/bench/test_scale_load.py checks the bulk path against a load with the triggers on.

`--index hnsw|ivfflat` builds that vector index (`memory.vector_index`, the same code as
`manage.py vector_index`); on a loaded database the loader only switches the index.

Measurement: in-process through the v1 recall engine as `memory_recall` composes it
(`retrieve` -> documents -> `blocks_from` -> instructions -> `pack`, as `bench.long_history`
does: no HTTP, no recall cache, no access counting, heap frozen after the warm-up),
2,000 tokens, LoCoMo questions, for the big user and for a small one, with the blocks the
recalls found in shared_buffers and read from the kernel; or, with `--http`, through
POST /v1/recall of a `bench.stack` on the same database; then the number of
rows each vector channel statement returns for k = 100 against the user's own count
(filtered top-k), and `EXPLAIN (ANALYZE, BUFFERS)` of every statement of one recall.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import random
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from bench import long_history

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache" / "scale"
TENANT = "scale"
NOISE = 0.01
TABLES = ("memory_event", "memory_fact", "memory_episode")
KINDS = {"event": "memory_event", "fact": "memory_fact", "episode": "memory_episode"}
# The keyword statistics' triggers (their definitions are the migrations'; see keywords_build).
_corpus = importlib.import_module("memory.migrations.0011_recall_keyword_corpus")
_postings = importlib.import_module("memory.migrations.0018_keyword_postings")
KEYWORD_TRIGGERS = ("keyword_corpus_insert", "keyword_postings_insert")


def _variants(texts: list[str], vectors: object, per_text: int) -> io.StringIO:
    """COPY text of (id, content, vector): `per_text` perturbed variants of each turn."""
    import numpy as np

    rng = np.random.default_rng(16)
    pick = random.Random(16)
    words = sorted({w for t in texts for w in t.split() if w.isalpha() and len(w) > 3})
    buffer = io.StringIO()
    base = np.asarray(vectors, dtype=np.float32)
    n = 0
    for r in range(per_text):
        noisy = base + rng.normal(0.0, NOISE, size=base.shape).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        for j, text in enumerate(texts):
            tokens = text.split()
            if r and len(tokens) > 2:
                tokens[pick.randrange(1, len(tokens))] = pick.choice(words)
            content = long_history._tsv(" ".join(tokens))
            vector = "[" + ",".join(f"{x:.5f}" for x in noisy[j].tolist()) + "]"
            buffer.write(f"{n}\t{content}\t{vector}\n")
            n += 1
    return buffer


# Row g (0-based) of the tenant: its user, its place in that user's history, and so its
# conversation and time. `{big}` rows go to user "big", then `{small}` per small user.
_USER = "CASE WHEN g < {big} THEN 'big' ELSE 's' || lpad(((g - {big}) / {small})::text, 5, '0') END"
_INDEX = "CASE WHEN g < {big} THEN g ELSE (g - {big}) %% {small} END"
_SIZE = "CASE WHEN g < {big} THEN {big} ELSE {small} END"

_EVENTS = """
INSERT INTO memory_event (id, tenant_id, user_id, conversation_id, project_id, type, role,
    content, event_time, metadata, scope, body_hash, created_at, status, stage, attempts,
    state_changed_at, extractor, tokens_used, candidate_count, gated_count, enriched_at,
    time_notes, embedding)
SELECT md5('e' || g)::uuid, %(tenant)s, {user}, 'c' || (({index}) / 200), '', 'message',
       CASE WHEN g %% 2 = 0 THEN 'user' ELSE 'assistant' END, v.content,
       timestamptz '2023-01-01' + interval '730 days' * ({index})::float8 / ({size}),
       '{{}}', 'global', md5('e' || g) || md5('e' || g), now(), 'enriched', '', 0, now(),
       'offline', 0, 1, 0, now(), '[]', v.embedding
FROM generate_series(%(start)s, %(stop)s - 1) g
JOIN bench_variant v ON v.id = (hashint8(g) & 2147483647) %% %(variants)s
"""
_FACTS = """
INSERT INTO memory_fact (id, tenant_id, user_id, subject, kind, predicate, relation_phrase,
    object_text, negated, source_text, source_event_id, source_start, source_end,
    source_role, event_time, temporal, conversation_id, project_id, scope, confidence,
    importance, mention_count, tier, status, valid_from, access_count, created_at,
    updated_at, embedding)
SELECT md5('f' || g)::uuid, e.tenant_id, e.user_id, 'user', 'preference', p.predicate,
       replace(p.predicate, '_', ' '),
       array_to_string((string_to_array(e.content, ' '))[1:8], ' '), false, e.content, e.id,
       0, length(e.content), e.role, e.event_time, '[]', e.conversation_id, '', 'global',
       0.8, 0.5, 1, 'warm', 'current', e.event_time, 0, now(), now(), e.embedding
FROM generate_series(%(start)s, %(stop)s - 1) g
JOIN memory_event e ON e.id = md5('e' || g)::uuid
JOIN (SELECT * FROM unnest(%(predicates)s::text[]) WITH ORDINALITY AS x(predicate, k)) p
  ON p.k = g %% {predicates} + 1
"""
_SOURCES = """
INSERT INTO memory_factsource (fact_id, event_id, source_text)
SELECT md5('f' || g)::uuid, md5('e' || g)::uuid, ''
FROM generate_series(%(start)s, %(stop)s - 1) g
"""
# One episode per conversation: the conversation's first three turns as its summary.
_EPISODES = """
INSERT INTO memory_episode (id, tenant_id, user_id, conversation_id, session_key, summary,
    event_count, highlights, summarizer, updated_at, embedding, embedding_stale)
SELECT md5('p' || %(tenant)s || '/' || e.user_id || '/' || e.conversation_id)::uuid,
       %(tenant)s, e.user_id, e.conversation_id, '',
       string_agg(e.content, ' ' ORDER BY e.event_time), 0, '[]', 'extractive', now(),
       (array_agg(e.embedding ORDER BY e.event_time))[1], false
FROM memory_event e
WHERE e.tenant_id = %(tenant)s AND e.id IN (
    SELECT md5('e' || g)::uuid FROM generate_series(%(start)s, %(stop)s - 1) g
    WHERE ({index}) %% 200 < 3)
GROUP BY e.user_id, e.conversation_id
"""


def _indexes(cursor: object, table: str, kind: str) -> list[tuple[str, str]]:
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexdef ~ %s",
        [table, kind],
    )
    return cursor.fetchall()  # type: ignore[attr-defined, no-any-return]


def keyword_statements(kind: str, tenant_id: object) -> str:
    """SQL that adds the postings, term counts and corpus statistics of every counted
    `kind` row of the tenant: the insert branch of that kind's triggers, verbatim from the
    migrations, with the statement's transition table `new_rows` being the tenant's rows.
    Run once on rows that have none yet (the triggers off while they were inserted)."""
    table, counted = _postings.KINDS[kind]
    # A UUID literal (parsed, so nothing but hex and dashes): the SQL holds several
    # statements, which the driver sends only without parameters.
    source = f"(SELECT * FROM {table} WHERE tenant_id = '{uuid.UUID(str(tenant_id))}')"
    postings = _postings.ADD.format(
        rows=f"SELECT * FROM {source} r WHERE {counted}", kind=kind, impact=_postings.IMPACT
    )
    delta = _corpus.INSERTED.format(counted=counted).replace("new_rows", source)
    return postings + _corpus.APPLY.format(delta=delta, kind=kind)


def keyword_triggers(cursor: object, enabled: bool) -> None:
    """Switch the keyword statistics' insert triggers of the loaded tables on or off."""
    verb = "ENABLE" if enabled else "DISABLE"
    for table in TABLES:
        for trigger in KEYWORD_TRIGGERS:
            cursor.execute(f"ALTER TABLE {table} {verb} TRIGGER {trigger}")  # type: ignore[attr-defined]


def keywords_build(cursor: object, tenant_id: object) -> dict[str, float]:
    """Postings, term counts and corpus statistics of the tenant's loaded rows, in bulk
    (the postings' btree indexes dropped for it and rebuilt); -> seconds per step."""
    timings: dict[str, float] = {}
    posting_indexes = [
        definition
        for name, definition in _indexes(cursor, "memory_keywordposting", "btree")
        if not name.endswith("_pkey")
    ]
    for name, definition in _indexes(cursor, "memory_keywordposting", "btree"):
        if definition in posting_indexes:
            cursor.execute(f"DROP INDEX {name}")  # type: ignore[attr-defined]
    for kind in KINDS:
        step = time.perf_counter()
        cursor.execute(keyword_statements(kind, tenant_id))  # type: ignore[attr-defined]
        timings[f"keywords_{kind}"] = time.perf_counter() - step
        print(f"  keyword postings of {kind}s: {timings[f'keywords_{kind}']:.0f} s", flush=True)
    step = time.perf_counter()
    for definition in posting_indexes:
        cursor.execute(definition)  # type: ignore[attr-defined]
    timings["posting_indexes"] = time.perf_counter() - step
    print(f"  posting indexes: {timings['posting_indexes']:.0f} s", flush=True)
    return timings


def load(
    tenant: object,
    total: int,
    big: int,
    small: int,
    texts: list[str],
    vectors: object,
    per_text: int,
    *,
    bulk_keywords: bool = True,
    vacuum: bool = True,
    maintenance_work_mem: str = "1GB",
) -> dict[str, float]:
    """Fill `tenant`; -> seconds per step. Keyword (GIN) and vector indexes are dropped
    for the load; the GIN indexes are rebuilt here, the vector index by the caller. With
    `bulk_keywords` the keyword statistics' insert triggers are off for the load and the
    statistics built after it (`keywords_build`); without, the triggers keep them."""
    from django.db import connection

    tenant_id = tenant.pk  # type: ignore[attr-defined]
    timings: dict[str, float] = {}
    started = time.perf_counter()
    buffer = _variants(texts, vectors, per_text)
    timings["variants"] = time.perf_counter() - started
    variants = len(texts) * per_text
    fmt = {"big": big, "small": small}
    with connection.cursor() as cursor:
        # Sorts of the index builds and the term counts' aggregate: in memory, not spilled.
        cursor.execute(
            "SELECT set_config('maintenance_work_mem', %s, false)", [maintenance_work_mem]
        )
        cursor.execute("SET work_mem = '256MB'")
        gin = [
            definition
            for table in (*TABLES, "memory_passage")
            for _, definition in _indexes(cursor, table, "gin")
        ]
        for table in TABLES:
            for name, _ in _indexes(cursor, table, "hnsw|ivfflat|gin"):
                cursor.execute(f"DROP INDEX {name}")
        cursor.execute(
            "CREATE UNLOGGED TABLE IF NOT EXISTS bench_variant "
            "(id int PRIMARY KEY, content text, embedding vector(384))"
        )
        cursor.execute("TRUNCATE bench_variant")
        with cursor.cursor.copy("COPY bench_variant (id, content, embedding) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        params = {"tenant": tenant_id, "variants": variants}
        chunk = 100_000
        if bulk_keywords:
            keyword_triggers(cursor, enabled=False)
        try:
            for name, template in (
                ("events", _EVENTS),
                ("facts", _FACTS),
                ("sources", _SOURCES),
                ("episodes", _EPISODES),
            ):
                step = time.perf_counter()
                sql = template.format(
                    user=_USER.format(**fmt),
                    index=_INDEX.format(**fmt),
                    size=_SIZE.format(**fmt),
                    predicates=len(long_history.PREDICATES),
                )
                for first in range(0, total, chunk):
                    cursor.execute(
                        sql,
                        {
                            **params,
                            "start": first,
                            "stop": min(total, first + chunk),
                            "predicates": long_history.PREDICATES,
                        },
                    )
                timings[name] = time.perf_counter() - step
                print(f"  {name}: {timings[name]:.0f} s", flush=True)
        finally:
            if bulk_keywords:
                keyword_triggers(cursor, enabled=True)
        if bulk_keywords:
            timings.update(keywords_build(cursor, tenant_id))
        step = time.perf_counter()
        for definition in gin:
            cursor.execute(definition.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS"))
        timings["gin"] = time.perf_counter() - step
        print(f"  keyword (GIN) indexes: {timings['gin']:.0f} s", flush=True)
        cursor.execute("DROP TABLE bench_variant")
        if vacuum:
            for table in (*TABLES, "memory_keywordposting", "memory_keywordterm"):
                cursor.execute(f"VACUUM ANALYZE {table}")
    return timings


def users(tenant_slug: str = TENANT) -> dict[str, int]:
    """user -> facts, for the users measured: the big one and the first small one."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.user_id, c.documents FROM memory_keywordcorpus c "
            "JOIN tenants_tenant t ON t.id = c.tenant_id "
            "WHERE t.slug = %s AND c.kind = 'fact' AND c.user_id IN ('big', 's00000')",
            [tenant_slug],
        )
        return dict(cursor.fetchall())


def top_k(user: str, query_vector: list[float], k: int) -> dict[str, list[int]]:
    """Rows each vector channel returns for `k`, and the user's rows with a vector."""
    from django.db import connection, transaction

    from memory.recall import channels
    from memory.recall.channels import RecallScope
    from tenants.models import Tenant

    scope = RecallScope(tenant=Tenant.objects.get(slug=TENANT), user_id=user)
    counts: dict[str, list[int]] = {}
    for kind in ("event", "fact", "episode"):
        rows = channels.visible(kind, scope)
        with transaction.atomic():
            got = len(channels.vector(kind, rows, query_vector, k))
        sql, params = rows.select("count(*)", "r.embedding IS NOT NULL")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            available = cursor.fetchone()[0]
        counts[kind] = [got, min(k, available)]
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--pool", type=int, default=3000)
    parser.add_argument("--variants", type=int, default=32)
    parser.add_argument("--index", choices=("hnsw", "ivfflat", "keep"), default="keep")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--data-dir", type=Path, default=CACHE)
    parser.add_argument("--plans", type=Path, default=None, help="write full plans here")
    parser.add_argument("--no-measure", action="store_true")
    parser.add_argument(
        "--http",
        action="store_true",
        help="measure through POST /v1/recall of a bench.stack on the loaded database instead",
    )
    parser.add_argument(
        "--maintenance-work-mem",
        default="1GB",
        help="for the index build (HNSW fits in memory at ~2.25 KB per vector)",
    )
    args = parser.parse_args(argv)
    if args.http:
        report = measure_http(args.data_dir, args.queries, args.warm, args.budget)
        print(json.dumps(report))
        return 0
    postgres = long_history.start(args.data_dir)
    report: dict[str, object] = {"loadavg_start": open("/proc/loadavg").read().split()[:3]}
    try:
        if not users():
            from tenants.models import Tenant

            tenant, _ = Tenant.objects.get_or_create(slug=TENANT, defaults={"name": TENANT})
            texts, vectors = long_history.pool(args.pool)
            started = time.perf_counter()
            report["load"] = load(
                tenant,
                args.facts,
                args.big,
                args.small,
                texts,
                vectors,
                args.variants,
                maintenance_work_mem=args.maintenance_work_mem,
            )
            report["load_total_s"] = time.perf_counter() - started
        if args.index != "keep":
            from memory.vector_index import build

            started = time.perf_counter()
            report["index_build_s"] = build(
                args.index,
                concurrently=False,
                maintenance_work_mem=args.maintenance_work_mem,
                log=print,
            )
            report["index"] = args.index
            print(f"vector index {args.index}: {time.perf_counter() - started:.0f} s", flush=True)
        if args.no_measure:
            print(json.dumps(report))
            return 0
        from memory.embedding import embed_one

        chosen = long_history.questions(args.queries)
        full = []
        for user, size in sorted(users().items()):
            latency = measure(user, chosen, args.warm, args.budget)
            counts = top_k(user, embed_one(chosen[0]), 100)
            print(
                f"{user} ({size} facts): uncached recall at {args.budget} tokens over "
                f"{len(chosen)} queries p50 {latency['p50']:.1f} ms p95 {latency['p95']:.1f} ms "
                f"load {latency['loadavg']}; blocks hit/read {latency['blocks_hit_read']}; "
                f"top-100 returned/expected {counts}",
                flush=True,
            )
            plans = long_history.explain(user, chosen[0], args.budget, tenant_slug=TENANT)
            for ms, head, plan in plans:
                print(f"  {ms:8.2f} ms  {head}")
                full.append(f"-- {user}: {head}\n{plan}\n")
            report[user] = {
                **latency,
                "facts": size,
                "top_k": counts,
                "statements": [[ms, h] for ms, h, _ in plans],
            }
        if args.plans:
            args.plans.write_text("\n".join(full))
        print(json.dumps(report))
    finally:
        postgres.stop()  # type: ignore[attr-defined]
    return 0


def measure(user: str, queries: list[str], warm: int, budget: int) -> dict[str, object]:
    """Uncached recall as the v1 service composes it (`retrieve`, the documents' joined
    spans, `blocks_from`, instructions first, `pack`; as `bench.long_history.measure`,
    whose heap freeze after the warm-up this copies: the served process freezes its heap
    before fork, and without it full collections land inside measured recalls)."""
    import gc

    from memory.recall import documents
    from memory.recall.channels import RecallScope
    from memory.recall.engine import blocks_from, retrieve, with_instructions
    from memory.recall.packing import pack
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=TENANT)
    scope = RecallScope(tenant=tenant, user_id=user)

    def recall(query: str) -> None:
        result = retrieve(scope, query, budget=budget)
        joined = documents.joined_hits(
            tenant=tenant, user_id=user, query=query, has_spans=result.has_documents
        )
        blocks = documents.with_memory(blocks_from(result, budget), joined)
        pack(with_instructions(scope, blocks, result.instructions), budget)

    for query in queries[:warm]:
        recall(query)
    if not gc.get_freeze_count():
        gc.collect()
        gc.freeze()
    times = []
    before = _blocks()
    for query in queries:
        started = time.perf_counter()
        recall(query)
        times.append((time.perf_counter() - started) * 1000)
    after = _blocks()
    return {
        **_percentiles(times),
        "loadavg": " ".join(open("/proc/loadavg").read().split()[:3]),
        # Blocks the measured recalls found in shared_buffers and read from the kernel
        # (page cache or disk): whether a table bigger than shared_buffers costs reads.
        "blocks_hit_read": [after[0] - before[0], after[1] - before[1]],
    }


def _blocks() -> tuple[int, int]:
    """(hit, read) blocks of this database so far, this backend's counts included."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()"
        )
        hit, read = cursor.fetchone()
    return int(hit), int(read)


def measure_http(data_dir: Path, count: int, warm: int, budget: int) -> dict[str, object]:
    """Uncached recall over HTTP: a `bench.stack` (2 gunicorn workers, as `make dev`) on
    the loaded database, its recall cache cleared, each question asked once per user
    (`warm` other questions first); client-side and server (Server-Timing) p50 / p95."""
    from bench.locomo import Client, recall_cache_clear
    from bench.stack import running_stack

    asked = long_history.questions(count + warm)
    chosen, warming = asked[:count], asked[count:]
    report: dict[str, object] = {}
    with running_stack(data_dir=data_dir, tenant=TENANT, worker_concurrency=1) as stack:
        recall_cache_clear(stack.env["REDIS_URL"])
        client = Client(stack.base_url, stack.api_key)
        for user in ("s00000", "big"):
            for query in warming:
                client.call("POST", "/v1/recall", _body(user, query, budget))
            loadavg = open("/proc/loadavg").read().split()[:3]
            client_ms: list[float] = []
            server_ms: list[float] = []
            for query in chosen:
                status, _, ms, timing = client.call_timed(
                    "POST", "/v1/recall", _body(user, query, budget)
                )
                if status != 200 or timing.cache == "hit":
                    raise RuntimeError(f"recall {status} cache {timing.cache}")
                client_ms.append(ms)
                if timing.app_ms is not None:
                    server_ms.append(timing.app_ms)
            report[user] = {
                "client": _percentiles(client_ms),
                "server": _percentiles(server_ms),
                "loadavg": [loadavg, open("/proc/loadavg").read().split()[:3]],
            }
            print(f"{user} over HTTP: {report[user]}", flush=True)
    return report


def _body(user: str, query: str, budget: int) -> dict[str, object]:
    return {"user_id": user, "task": query, "token_budget": budget}


def _percentiles(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    if not times:
        return {}
    return {
        "p50": round(times[len(times) // 2], 1),
        "p95": round(times[int(len(times) * 0.95)], 1),
        "n": len(times),
    }


if __name__ == "__main__":
    raise SystemExit(main())
