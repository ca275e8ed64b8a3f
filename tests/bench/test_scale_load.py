"""bench/scale.py's bulk path for the keyword statistics: with the insert triggers off for
the load and the postings, term counts and corpus statistics built afterwards in one pass,
a tenant ends with exactly the rows the triggers would have written (migrations
0011_recall_keyword_corpus and 0018_keyword_postings), and the triggers are on again."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection

from bench import scale
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

TEXTS = [
    "Melanie painted a sunrise over the lake last summer.",
    "Caroline went to the support group on Tuesday evening.",
    "We talked about painting, painting and more painting with Melanie.",
    "The weather was lovely when they went camping near the lake.",
    "Caroline is researching adoption agencies and counseling programs.",
    "Melanie's kids loved the pottery workshop at the museum.",
    "They ran a charity race for mental health awareness in town.",
    "Caroline gave a speech at the school about her transition.",
    "Melanie plays the clarinet and started violin lessons recently.",
    "The family visited the beach and watched the meteor shower together.",
]
# 400 rows: user "big" with 200, users s00000..s00003 with 50 each; 40 distinct texts.
SIZE = {"total": 400, "big": 200, "small": 50}


def _load(tenant: Tenant, *, bulk_keywords: bool) -> None:
    vectors = np.random.default_rng(7).normal(size=(len(TEXTS), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # The test runs in a transaction: foreign keys checked per statement, else their
    # deferred checks are pending trigger events and the loader's CREATE INDEX refuses.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    scale.load(
        tenant,
        SIZE["total"],
        SIZE["big"],
        SIZE["small"],
        TEXTS,
        vectors,
        4,
        bulk_keywords=bulk_keywords,
        vacuum=False,
    )


def _snapshot(tenant: Tenant) -> dict[str, list[tuple]]:
    """Every keyword statistics row of the tenant, in a comparable order."""
    queries = {
        "postings": "SELECT user_id, kind, lexeme, impact, row_id::text "
        "FROM memory_keywordposting WHERE tenant_id = %s ORDER BY 1, 2, 3, 5",
        "terms": "SELECT user_id, kind, lexeme, documents "
        "FROM memory_keywordterm WHERE tenant_id = %s ORDER BY 1, 2, 3",
        "corpus": "SELECT user_id, kind, documents, total_length "
        "FROM memory_keywordcorpus WHERE tenant_id = %s ORDER BY 1, 2",
    }
    with connection.cursor() as cursor:
        snapshot = {}
        for name, sql in queries.items():
            cursor.execute(sql, [tenant.pk])
            snapshot[name] = cursor.fetchall()
    return snapshot


def _statistics_delete(tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        for table in ("memory_keywordposting", "memory_keywordterm", "memory_keywordcorpus"):
            cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant.pk])


def _rows_delete(tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM memory_factsource s USING memory_fact f "
            "WHERE s.fact_id = f.id AND f.tenant_id = %s",
            [tenant.pk],
        )
        for table in ("memory_fact", "memory_episode", "memory_event"):
            cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant.pk])
    _statistics_delete(tenant)


def _triggers_enabled() -> dict[tuple[str, str], str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = ANY(%s) "
            "AND c.relname = ANY(%s)",
            [list(scale.KEYWORD_TRIGGERS), list(scale.TABLES)],
        )
        return {(table, name): enabled for table, name, enabled in cursor.fetchall()}


def _kinds(snapshot: dict[str, list[tuple]]) -> set[str]:
    return {row[1] for row in snapshot["postings"]}


def test_bulk_load_writes_what_the_triggers_write(tenant: Tenant) -> None:
    _load(tenant, bulk_keywords=False)
    by_triggers = _snapshot(tenant)
    assert _kinds(by_triggers) == {"event", "fact", "episode"}
    assert len(by_triggers["postings"]) > 4 * SIZE["total"]
    # One corpus row per (user, kind): 5 users, 3 kinds.
    assert len(by_triggers["corpus"]) == 15

    _rows_delete(tenant)
    assert _snapshot(tenant) == {"postings": [], "terms": [], "corpus": []}
    _load(tenant, bulk_keywords=True)

    assert _snapshot(tenant) == by_triggers
    assert _triggers_enabled() == {
        (table, name): "O" for table in scale.TABLES for name in scale.KEYWORD_TRIGGERS
    }


def test_triggers_are_off_during_a_bulk_load(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []
    original = scale.keywords_build

    def spy(cursor: object, tenant_id: object) -> dict[str, float]:
        built.append(len(_snapshot(tenant)["postings"]))
        return original(cursor, tenant_id)

    monkeypatch.setattr(scale, "keywords_build", spy)
    _load(tenant, bulk_keywords=True)
    assert built == [0]
    assert _snapshot(tenant)["postings"]


def test_bulk_build_counts_only_the_rows_the_triggers_count(tenant: Tenant) -> None:
    """Forgotten and system events, facts no longer current, deleted episodes: the bulk
    build skips exactly the rows the triggers' update and delete branches took out."""
    _load(tenant, bulk_keywords=False)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE memory_event SET forgotten_at = now() "
            "WHERE tenant_id = %s AND event_time < '2023-03-01' AND user_id = 'big'",
            [tenant.pk],
        )
        cursor.execute(
            "UPDATE memory_event SET role = 'system' WHERE tenant_id = %s AND user_id = 's00001'",
            [tenant.pk],
        )
        cursor.execute(
            "UPDATE memory_fact SET status = 'superseded' "
            "WHERE tenant_id = %s AND predicate IN ('lives_in', 'owns')",
            [tenant.pk],
        )
        cursor.execute(
            "DELETE FROM memory_episode WHERE tenant_id = %s AND user_id = 's00002'", [tenant.pk]
        )
        assert cursor.rowcount == 1
    by_triggers = _snapshot(tenant)
    # The corpus triggers keep a (user, kind) row whose count fell to 0 (only a growing
    # count creates one); a row of 0 documents and one that is absent read the same.
    by_triggers["corpus"] = [row for row in by_triggers["corpus"] if row[2] != 0]
    assert ("s00001", "event") not in {row[:2] for row in by_triggers["corpus"]}
    assert ("s00001", "event") not in {row[:2] for row in by_triggers["postings"]}

    _statistics_delete(tenant)
    with connection.cursor() as cursor:
        scale.keywords_build(cursor, tenant.pk)

    assert _snapshot(tenant) == by_triggers
