"""Re-embedding the stored vectors with the configured model (`manage.py reembed`).

How, per vector table (events, facts, episodes), while the API keeps serving:
1. add a shadow column `embedding_next vector(<new dimension>)` and a trigger that clears it
   whenever `embedding` changes (a worker re-embedding a changed episode body under the old
   model: the shadow value would be stale);
2. fill the shadow column in batches, keyset-ordered by id; a row is done when its shadow
   column is set, so the shadow columns are the recorded progress: a killed run starts again
   where it was (rows already done are skipped in one index walk);
3. build the column's indexes on the shadow column (same definitions, CONCURRENTLY);
4. swap: under a lock that blocks writes (reads go on), embed the last rows written since,
   rename `embedding` -> `embedding_prev` and `embedding_next` -> `embedding` (and their
   indexes), record the new model in `EmbeddingSpace`, commit; then drop the old column.

Recall reads `embedding` throughout, so until the swap it ranks the old vectors with the old
model's query vectors (the running fleet's), and after it the new ones. A dimension change is
the same path: the shadow column has the new type, and the swap changes the column's type.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction

from memory.embedding import embedder
from memory.embedding_space import embedding_configured, embedding_space_get
from memory.models import EmbeddingSpace
from memory.passages import WHOLE_TEXT_CHARS

logger = logging.getLogger("claiv.reembed")

SHADOW = "embedding_next"
PREVIOUS = "embedding_prev"


@dataclass(frozen=True)
class VectorTable:
    table: str
    # SQL giving the text each row's vector was made from (same as the writers embed).
    text_sql: str


# Facts: the writers' texts (enrichment.pipeline.stages.embed.fact_embedding_text for
# extracted facts; memory.memories embeds an explicit memory's event text = source_text).
# tests/enrichment/test_reembed_texts.py holds these SQL texts to the writers'.
FACT_TEXT_SQL = (
    "CASE WHEN origin = 'explicit' THEN source_text ELSE "
    "(CASE WHEN subject = 'user' THEN 'I' ELSE subject END) || ' ' || "
    "(CASE WHEN negated THEN 'not ' ELSE '' END) || relation_phrase || ' ' || "
    "object_text END"
)

# Episodes: the summary's body, after its "<date range>: " header (enrichment.episodes; a
# header holds no ": " of its own), else the whole summary.
EPISODE_TEXT_SQL = (
    "CASE WHEN first_event_time IS NOT NULL AND position(': ' in summary) > 0 "
    "THEN substr(summary, position(': ' in summary) + 2) ELSE summary END"
)

TABLES = (
    # Events: their first WHOLE_TEXT_CHARS characters (enrichment's embed stage).
    VectorTable("memory_event", f"left(content, {WHOLE_TEXT_CHARS})"),
    VectorTable("memory_fact", FACT_TEXT_SQL),
    VectorTable("memory_episode", EPISODE_TEXT_SQL),
    # Passages of long events (memory.passages): embedded from their own text.
    VectorTable("memory_passage", "text"),
    # Document spans (memory.documents.store.span_embedding_text): the section path, then text.
    VectorTable(
        "memory_documentspan",
        "CASE WHEN heading <> '' THEN heading || ': ' || text ELSE text END",
    ),
)

# Texts per embedder call and per UPDATE (one round trip each way per batch). Not measured
# yet: the local embedder sorts a call's texts by length and pads within TORCH_BATCH_TOKENS
# (memory.embedding), so a larger call costs no extra padding; OpenAI-compatible servers
# accept up to 2048 inputs per request.
DEFAULT_BATCH = 256

Progress = Callable[[str, int, int], None]  # (table, done, total)


def _trigger(table: str) -> str:
    return f"{table}_{SHADOW}_clear"


def _shadow_prepare(table: VectorTable, dimension: int) -> None:
    """Add the shadow column (or replace one of another dimension) and its clearing trigger."""
    name = table.table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname = %s AND NOT attisdropped",
            [name, SHADOW],
        )
        row = cursor.fetchone()
        if row is not None and row[0] != dimension:
            cursor.execute(f"ALTER TABLE {name} DROP COLUMN {SHADOW}")
            row = None
        if row is None:
            cursor.execute(f"ALTER TABLE {name} ADD COLUMN {SHADOW} vector({dimension})")
        cursor.execute(f"""
            CREATE OR REPLACE FUNCTION {_trigger(name)}() RETURNS trigger AS $$
            BEGIN NEW.{SHADOW} := NULL; RETURN NEW; END $$ LANGUAGE plpgsql""")
        cursor.execute(f"DROP TRIGGER IF EXISTS {_trigger(name)} ON {name}")
        cursor.execute(
            f"CREATE TRIGGER {_trigger(name)} BEFORE UPDATE OF embedding ON {name} "
            f"FOR EACH ROW WHEN (OLD.embedding IS DISTINCT FROM NEW.embedding) "
            f"EXECUTE FUNCTION {_trigger(name)}()"
        )


def _pending_count(table: VectorTable) -> tuple[int, int]:
    """(rows with a vector, of which still without a shadow vector)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {SHADOW} IS NULL) "
            f"FROM {table.table} WHERE embedding IS NOT NULL"
        )
        total, pending = cursor.fetchone()
    return int(total), int(pending)


def _fill_batch(table: VectorTable, *, after: str | None, size: int) -> tuple[str | None, int]:
    """Embed the next `size` pending rows after id `after`: (the last id read, None at the end;
    how many rows got their shadow vector)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id::text, {table.text_sql} FROM {table.table} "
            f"WHERE embedding IS NOT NULL AND {SHADOW} IS NULL "
            f"AND (%s::uuid IS NULL OR id > %s::uuid) ORDER BY id LIMIT %s",
            [after, after, size],
        )
        rows = cursor.fetchall()
    if not rows:
        return None, 0
    ids = [row[0] for row in rows]
    texts = [row[1] or "" for row in rows]
    vectors = embedder().embed(texts)
    with connection.cursor() as cursor:
        # Only where the text is still the one embedded: an episode body rewritten since the
        # read is left pending for the next pass (its old-model vector changes too).
        cursor.execute(
            f"UPDATE {table.table} SET {SHADOW} = v._vector::vector "
            f"FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS v(_id, _text, _vector) "
            f"WHERE id = v._id AND ({table.text_sql}) IS NOT DISTINCT FROM v._text",
            [ids, texts, [_literal(vector) for vector in vectors]],
        )
        written = cursor.rowcount
    return ids[-1], written


def _literal(vector: list[float]) -> str:
    return "[" + ",".join(repr(float(value)) for value in vector) + "]"


def _fill(table: VectorTable, *, batch: int, progress: Progress | None) -> int:
    """One keyset pass over the table's pending rows; returns how many it embedded."""
    total, pending = _pending_count(table)
    done = total - pending
    embedded = 0
    after: str | None = None
    while True:
        after, written = _fill_batch(table, after=after, size=batch)
        if after is None:
            return embedded
        embedded += written
        done += written
        if progress is not None:
            progress(table.table, min(done, total), total)


def _indexes_on_embedding(table: str, column: str) -> list[tuple[str, str, bool]]:
    """(name, definition, valid) of each index over `column` of `table`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attname = %s "
            "WHERE i.indrelid = %s::regclass AND a.attnum = ANY(i.indkey)",
            [column, table],
        )
        return [(name, definition, valid) for name, definition, valid in cursor.fetchall()]


def _next_name(index: str) -> str:
    return f"{index[:58]}_next"


def _shadow_indexes(table: VectorTable) -> None:
    """Build, on the shadow column, each index the live column has (after the fill: one
    build is cheaper than maintaining HNSW on every update). CONCURRENTLY: writes go on."""
    existing = {name: valid for name, _, valid in _indexes_on_embedding(table.table, SHADOW)}
    with connection.cursor() as cursor:
        for name, definition, _ in _indexes_on_embedding(table.table, "embedding"):
            target = _next_name(name)
            if existing.get(target) is False:  # a build killed half-way leaves it invalid
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {target}")
            elif target in existing:
                continue
            _, _, tail = definition.partition(" ON ")
            tail = re.sub(r"\bembedding\b", SHADOW, tail)
            cursor.execute(f"CREATE INDEX CONCURRENTLY {target} ON {tail}")


def _swap(tables: tuple[VectorTable, ...], *, model: str, dimension: int, batch: int) -> int:
    """Embed what was written since the fill, swap the columns, record the model; returns the
    rows embedded under the lock."""
    names = ", ".join(table.table for table in tables)
    caught_up = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Blocks writers (an enrichment worker waits), not readers (recall goes on).
            cursor.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
        for table in tables:
            caught_up += _fill(table, batch=batch, progress=None)
        with connection.cursor() as cursor:
            for table in tables:
                name = table.table
                live = [index for index, _, _ in _indexes_on_embedding(name, "embedding")]
                cursor.execute(f"DROP TRIGGER IF EXISTS {_trigger(name)} ON {name}")
                cursor.execute(f"DROP FUNCTION IF EXISTS {_trigger(name)}()")
                cursor.execute(f"ALTER TABLE {name} RENAME COLUMN embedding TO {PREVIOUS}")
                cursor.execute(f"ALTER TABLE {name} RENAME COLUMN {SHADOW} TO embedding")
                for index in live:
                    cursor.execute(f"ALTER INDEX {index} RENAME TO {index[:58]}_prev")
                    cursor.execute(f"ALTER INDEX IF EXISTS {_next_name(index)} RENAME TO {index}")
        EmbeddingSpace.objects.filter(id=1).update(
            model=model, dimension=dimension, target_model="", target_dimension=None
        )
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ALTER TABLE {table.table} DROP COLUMN IF EXISTS {PREVIOUS}")
    return caught_up


def _shadow_drop(tables: tuple[VectorTable, ...]) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DROP TRIGGER IF EXISTS {_trigger(table.table)} ON {table.table}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {_trigger(table.table)}()")
            cursor.execute(f"ALTER TABLE {table.table} DROP COLUMN IF EXISTS {SHADOW}")


@dataclass(frozen=True)
class ReembedReport:
    model: str
    dimension: int
    embedded: dict[str, int]  # rows embedded per table by this run (resumed runs: the rest)
    swapped: bool


def reembed_run(
    *,
    batch: int = DEFAULT_BATCH,
    swap: bool = True,
    progress: Progress | None = None,
    tables: tuple[VectorTable, ...] = TABLES,
) -> ReembedReport:
    """Move every stored vector to the configured model (module docstring). Resumable: run it
    again after a kill and it continues; with the space already on the configured model it
    does nothing. Needs autocommit (no surrounding transaction): it builds indexes
    CONCURRENTLY."""
    if batch < 1:
        raise ValueError("batch must be >= 1")
    model, dimension = embedding_configured()
    space = embedding_space_get()
    if (space.model, space.dimension) == (model, dimension):
        if space.target_model:  # a run towards another model was abandoned: clean up
            _shadow_drop(tables)
            EmbeddingSpace.objects.filter(id=1).update(target_model="", target_dimension=None)
        return ReembedReport(model=model, dimension=dimension, embedded={}, swapped=False)
    if (space.target_model, space.target_dimension) != (model, dimension):
        # Shadow vectors made for another target are worth nothing for this one.
        _shadow_drop(tables)
        EmbeddingSpace.objects.filter(id=1).update(target_model=model, target_dimension=dimension)
    logger.info("reembed: %s (%d) -> %s (%d)", space.model, space.dimension, model, dimension)
    embedded: dict[str, int] = {}
    for table in tables:
        _shadow_prepare(table, dimension)
        embedded[table.table] = _fill(table, batch=batch, progress=progress)
    for table in tables:
        _shadow_indexes(table)
    if not swap:
        return ReembedReport(model=model, dimension=dimension, embedded=embedded, swapped=False)
    caught_up = _swap(tables, model=model, dimension=dimension, batch=batch)
    if caught_up:
        embedded["after the fill"] = caught_up
    return ReembedReport(model=model, dimension=dimension, embedded=embedded, swapped=True)
