"""The approximate-nearest-neighbour index of the vector columns: HNSW or IVFFlat.

HNSW (the default, built by the migrations) answers a filtered top-k in ~1 ms at 100k
rows; its build needs ~2.25 KB of maintenance memory per vector to run in memory (1M
vectors: 210 s at 2.5 GB on two loaded cores; several times slower when it spills) and
every insert walks the graph. IVFFlat builds with far less memory (1M vectors: 138 s at
1 GB) and inserts cheaply; its queries scan the `probes` nearest lists. The
deployment guide this product follows switches to IVFFlat beyond a million facts;
`settings.VECTOR_INDEX` says which one a deployment wants and `build` (run by
`manage.py vector_index`) makes the database match: it builds the wanted index on every
vector column (CONCURRENTLY by default, so ingest and recall go on) and then drops the
other one. Recall sets both methods' query settings (memory.recall.channels), so either
index serves it, with iterative scans returning k rows under the tenant/user filter.

The indexes are not declared in the models' Meta (migration 0013 took them out of
Django's state, not out of the database): which one exists is this module's business.
IVFFlat's lists are chosen from the row count at build time (rows / 1000, at least 10;
sqrt(rows) beyond a million, pgvector's advice); rebuild (`--rebuild`) after the data
has grown several times over, and build it once data is there, not on an empty table.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from django.db import connection

METHODS = ("hnsw", "ivfflat")
# kind -> table of each vector column recall searches.
TABLES = {
    "event": "memory_event",
    "fact": "memory_fact",
    "episode": "memory_episode",
    "passage": "memory_passage",
    "docspan": "memory_documentspan",  # document spans (memory.documents)
}
# The HNSW parameters of the indexes the migrations created (m, ef_construction).
HNSW_OPTIONS = "m = 16, ef_construction = 64"


def index_name(kind: str, method: str) -> str:
    return f"{kind}_embedding_{method}"


def lists_for(rows: int) -> int:
    """IVFFlat lists for a table of `rows` rows (pgvector's README: rows / 1000 up to a
    million rows, sqrt(rows) beyond)."""
    if rows > 1_000_000:
        return int(math.sqrt(rows))
    return max(10, rows // 1000)


def present() -> dict[str, list[str]]:
    """kind -> the vector index methods that have a valid index on its column."""
    found: dict[str, list[str]] = {kind: [] for kind in TABLES}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.relname, a.amname FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_am a ON a.oid = c.relam "
            "WHERE t.relname = ANY(%s) AND a.amname = ANY(%s) AND i.indisvalid "
            "AND pg_get_indexdef(i.indexrelid) ~ '\\(embedding '",
            [list(TABLES.values()), list(METHODS)],
        )
        by_table = {table: kind for kind, table in TABLES.items()}
        for table, method in cursor.fetchall():
            found[by_table[table]].append(method)
    return found


def _definition(kind: str, method: str, *, concurrently: bool) -> str:
    table = TABLES[kind]
    if method == "hnsw":
        options = HNSW_OPTIONS
    else:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE embedding IS NOT NULL")
            options = f"lists = {lists_for(cursor.fetchone()[0])}"
    how = "CONCURRENTLY " if concurrently else ""
    return (
        f"CREATE INDEX {how}{index_name(kind, method)} ON {table} "
        f"USING {method} (embedding vector_cosine_ops) WITH ({options})"
    )


def build(
    method: str,
    *,
    concurrently: bool = True,
    rebuild: bool = False,
    maintenance_work_mem: str | None = None,
    log: Callable[[str], object] = lambda line: None,
) -> dict[str, float]:
    """Make `method` the vector index of every vector column: build it where it is
    missing (or, with `rebuild`, again), then drop the other method's index. -> seconds
    spent building per kind. CONCURRENTLY needs autocommit (no surrounding transaction).
    `maintenance_work_mem` (e.g. "1GB") is set for this session first: IVFFlat's k-means
    at a million rows needs ~273 MB, HNSW ~2.25 KB per vector to build in memory."""
    if method not in METHODS:
        raise ValueError(f"vector index must be one of {', '.join(METHODS)}, not {method!r}")
    how = "CONCURRENTLY " if concurrently else ""
    spent: dict[str, float] = {}
    have = present()
    if maintenance_work_mem:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('maintenance_work_mem', %s, false)", [maintenance_work_mem]
            )
    for kind in TABLES:
        name = index_name(kind, method)
        with connection.cursor() as cursor:
            if rebuild or method not in have[kind]:
                # An invalid leftover of an interrupted CONCURRENTLY build goes first.
                cursor.execute(f"DROP INDEX {how}IF EXISTS {name}")
                started = time.perf_counter()
                cursor.execute(_definition(kind, method, concurrently=concurrently))
                spent[kind] = time.perf_counter() - started
                log(f"{name}: built in {spent[kind]:.1f} s")
            for other in METHODS:
                if other != method:
                    cursor.execute(f"DROP INDEX {how}IF EXISTS {index_name(kind, other)}")
    return spent
