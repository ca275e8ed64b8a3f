"""Keyword postings and term frequencies kept by triggers (migration 0018_keyword_postings):
they equal what the counted rows say after inserts, updates and deletes, and the postings
plan of memory.recall.bm25 ranks like the aggregate twin, reading a bounded number of
postings per query term."""

from __future__ import annotations

import math

import pytest
from django.db import connection
from django.utils import timezone

from memory.ingest import events_ingest
from memory.models import (
    Episode,
    Event,
    Fact,
    FactStatus,
    KeywordCorpus,
    KeywordPosting,
    KeywordTerm,
)
from memory.recall import bm25, channels
from memory.recall.channels import RecallScope
from tenants.models import Tenant
from tests.factories import ingest, ingest_enriched

pytestmark = pytest.mark.django_db

TURNS = [
    "Melanie painted a sunrise over the lake last summer.",
    "Melanie said the lake was cold.",
    "Caroline went to the support group on Tuesday.",
    "We talked about painting, painting and more painting with Melanie.",
    "The weather was lovely.",
    "Caroline and Melanie went camping near the lake with the kids.",
]
COUNTED = {
    "event": ("memory_event", "r.forgotten_at IS NULL AND r.role <> 'system'"),
    "fact": ("memory_fact", f"r.status = '{FactStatus.CURRENT.value}'"),
    "episode": ("memory_episode", "TRUE"),
}


def _expected(tenant: Tenant, kind: str) -> tuple[set[tuple[str, str, str]], dict]:
    """(user, row id, lexeme) of every counted row's lexemes, and {(user, lexeme): rows}."""
    table, counted = COUNTED[kind]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.user_id, r.id::text, u.lexeme FROM {table} r "
            f"CROSS JOIN LATERAL unnest(r.search) u WHERE r.tenant_id = %s AND {counted}",
            [tenant.pk],
        )
        postings = {(user, row, lexeme) for user, row, lexeme in cursor.fetchall()}
    terms: dict[tuple[str, str], int] = {}
    for user, _, lexeme in postings:
        terms[(user, lexeme)] = terms.get((user, lexeme), 0) + 1
    return postings, terms


def _maintained(tenant: Tenant, kind: str) -> tuple[set[tuple[str, str, str]], dict]:
    postings = {
        (user, str(row), lexeme)
        for user, row, lexeme in KeywordPosting.objects.filter(
            tenant=tenant, kind=kind
        ).values_list("user_id", "row_id", "lexeme")
    }
    terms = {
        (user, lexeme): documents
        for user, lexeme, documents in KeywordTerm.objects.filter(
            tenant=tenant, kind=kind
        ).values_list("user_id", "lexeme", "documents")
    }
    return postings, terms


def test_event_postings_follow_inserts_forget_and_deletes(tenant: Tenant) -> None:
    events = [ingest(tenant, text, minutes=i) for i, text in enumerate(TURNS)]
    ingest(tenant, "System prompt about lakes.", role="system", minutes=9)
    ingest(tenant, "Someone else's lake.", user_id="u2")
    assert _maintained(tenant, "event") == _expected(tenant, "event")
    assert _maintained(tenant, "event")[1][("u1", "lake")] == 3

    Event.objects.filter(pk=events[0].pk).update(forgotten_at=timezone.now())
    Event.objects.filter(pk=events[1].pk).delete()
    Event.objects.filter(pk=events[2].pk).update(status="enriched")  # postings unchanged
    maintained = _maintained(tenant, "event")
    assert maintained == _expected(tenant, "event")
    assert maintained[1][("u1", "lake")] == 1
    assert not {p for p in maintained[0] if p[1] in (str(events[0].id), str(events[1].id))}
    # A term no counted row holds any more leaves no row behind.
    assert ("u1", "sunris") not in maintained[1]
    Event.objects.filter(tenant=tenant).delete()
    assert _maintained(tenant, "event") == (set(), {})


def test_a_batch_copy_keeps_postings_and_counts(tenant: Tenant) -> None:
    """One COPY of many rows (memory.ingest's batch) fires the INSERT branch once: every
    counted row's postings, each term counted once per row and per user, a system row
    left out, and impacts as a single insert gives them."""
    single = ingest(tenant, "painting, painting and more painting with Melanie", user_id="u0")
    items = [
        {"user_id": user, "type": "message", "role": "user", "content": text}
        for user in ("u1", "u2")
        for text in [*TURNS, "painting, painting and more painting with Melanie"]
    ]
    items.append({"user_id": "u1", "type": "message", "role": "system", "content": "Lake rules."})
    results = events_ingest(tenant=tenant, items=items)
    assert all(not r.deduped for r in results if not isinstance(r, Exception))
    maintained = _maintained(tenant, "event")
    assert maintained == _expected(tenant, "event")
    assert maintained[1][("u1", "lake")] == maintained[1][("u2", "lake")] == 3
    assert ("u1", "rule") not in maintained[1]
    same_text = Event.objects.filter(tenant=tenant, content=single.content).exclude(pk=single.pk)
    assert same_text.count() == 2
    impacts = set(
        KeywordPosting.objects.filter(
            row_id__in=same_text.values("id"), lexeme="paint"
        ).values_list("impact", flat=True)
    )
    assert impacts == {KeywordPosting.objects.get(row_id=single.id, lexeme="paint").impact}


def test_fact_and_episode_postings_follow_status_and_text(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I love hiking in the mountains.")
    ingest_enriched(tenant, "My sister lives in Boston.", minutes=1)
    assert _maintained(tenant, "fact") == _expected(tenant, "fact")
    fact = Fact.objects.filter(tenant=tenant, user_id="u1").first()
    assert fact is not None
    Fact.objects.filter(pk=fact.pk).update(status=FactStatus.SUPERSEDED)
    assert _maintained(tenant, "fact") == _expected(tenant, "fact")
    assert not [p for p in _maintained(tenant, "fact")[0] if p[1] == str(fact.id)]
    Fact.objects.filter(pk=fact.pk).update(status=FactStatus.CURRENT)
    assert [p for p in _maintained(tenant, "fact")[0] if p[1] == str(fact.id)]

    for episode in Episode.objects.filter(tenant=tenant):
        Episode.objects.filter(pk=episode.pk).update(summary="Kayaking on the river at dawn.")
    assert _maintained(tenant, "episode") == _expected(tenant, "episode")


def test_impact_is_the_term_weight_without_idf(tenant: Tenant) -> None:
    event = ingest(tenant, "painting, painting and more painting with Melanie")
    with connection.cursor() as cursor:
        cursor.execute("SELECT length(search) FROM memory_event WHERE id = %s", [event.id])
        length = cursor.fetchone()[0]
    impact = KeywordPosting.objects.get(row_id=event.id, lexeme="paint").impact
    tf = 3
    norm = bm25.K1 * (1 - bm25.B + bm25.B * length / bm25.IMPACT_AVGDL)
    assert impact == pytest.approx(tf * (bm25.K1 + 1) / (tf + norm))


def test_postings_plan_ranks_like_the_aggregate_twin(tenant: Tenant) -> None:
    for i, text in enumerate(TURNS * 2):
        ingest(tenant, text, minutes=i)
    ingest(tenant, "Melanie painted the lake again.", user_id="someone-else")
    scope = RecallScope(tenant=tenant, user_id="u1")
    rows = channels.visible("event", scope)
    for question in ("When did Melanie paint the lake sunrise?", "Caroline support", "zebra"):
        ranking, scores = channels.keyword("event", rows, question)
        twin, twin_scores = channels.keyword("event", channels.events_visible(scope), question)
        assert ranking == twin
        assert scores.keys() == twin_scores.keys()
        for doc_id, score in twin_scores.items():
            assert scores[doc_id] == pytest.approx(score, rel=1e-9)


def test_postings_plan_reads_the_top_postings_of_each_term_and_only_visible_rows(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [ingest(tenant, text, minutes=i) for i, text in enumerate(TURNS)]
    scope = RecallScope(tenant=tenant, user_id="u1")
    rows = channels.visible("event", scope)
    monkeypatch.setattr(bm25, "POSTINGS_PER_TERM", 1)
    # One posting per term: melanie's best-weighted row (the shortest holding it) and
    # lake's; every candidate keeps its exact BM25 score.
    ranking, scores = channels.keyword("event", rows, "Melanie lake")
    assert len(scores) <= 2
    assert events[1].id in scores  # "Melanie said the lake was cold.": short, holds both
    _, everything = channels.keyword("event", channels.events_visible(scope), "Melanie lake")
    for doc_id, score in scores.items():
        assert score == pytest.approx(everything[doc_id], rel=1e-9)
    # A forgotten row is no candidate, and another row takes its place.
    Event.objects.filter(pk=events[1].pk).update(forgotten_at=timezone.now())
    ranking, scores = channels.keyword("event", rows, "Melanie lake")
    assert scores and events[1].id not in scores
    # Conversation-scoped rows of another conversation are read but not visible.
    monkeypatch.setattr(bm25, "POSTINGS_PER_TERM", 200)
    hidden = ingest(tenant, "Melanie lake secret.", scope="conversation", conversation_id="c9")
    _, scores = channels.keyword("event", rows, "Melanie lake secret")
    assert hidden.id not in scores


def _rough(tenant: Tenant, user: str, kind: str, lexemes: list[str]) -> dict[str, float]:
    """{row id: sum over `lexemes` of idf x impact}: the postings' rough score (every
    posting of each term: below POSTINGS_PER_TERM)."""
    corpus = KeywordCorpus.objects.get(tenant=tenant, user_id=user, kind=kind)
    df = dict(
        KeywordTerm.objects.filter(
            tenant=tenant, user_id=user, kind=kind, lexeme__in=lexemes
        ).values_list("lexeme", "documents")
    )
    n = max(corpus.documents, *df.values())
    rough: dict[str, float] = {}
    for row_id, lexeme, impact in KeywordPosting.objects.filter(
        tenant=tenant, user_id=user, kind=kind, lexeme__in=lexemes
    ).values_list("row_id", "lexeme", "impact"):
        idf = math.log(1 + (n - df[lexeme] + 0.5) / (df[lexeme] + 0.5))
        rough[str(row_id)] = rough.get(str(row_id), 0.0) + idf * impact
    return rough


def test_postings_plan_scores_exactly_only_the_best_candidates_by_their_postings(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i, text in enumerate(TURNS * 2):
        ingest(tenant, text, minutes=i)
    scope = RecallScope(tenant=tenant, user_id="u1")
    rows = channels.visible("event", scope)
    question = "Melanie painting near the lake"
    lexemes = channels.query_lexemes(question)
    _, everything = channels.keyword("event", channels.events_visible(scope), question)
    assert len(everything) > 4

    monkeypatch.setattr(bm25, "RESCORE_PER_DEPTH", 2)
    ranking, scores = channels.keyword("event", rows, question, depth=2)
    # Four candidates (2 x depth) read and scored exactly: those the postings rank best.
    assert len(scores) == 4
    rough = _rough(tenant, "u1", "event", lexemes)
    best = sorted(rough.values(), reverse=True)
    assert all(rough[str(doc_id)] >= best[3] - 1e-12 for doc_id in scores)
    for doc_id, score in scores.items():
        assert score == pytest.approx(everything[doc_id], rel=1e-9)
    # Ranked by the exact score among them.
    assert [scores[i] for _, i in ranking] == sorted(scores.values(), reverse=True)[:2]

    monkeypatch.setattr(bm25, "RESCORE_PER_DEPTH", None)  # every candidate, as before
    _, scores = channels.keyword("event", rows, question, depth=2)
    assert scores.keys() == everything.keys()


def test_episodes_leave_the_read_whole_plan_sooner_and_never_above_few_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Episodes are long: a user's hundreds of summaries read whole cost more than their
    # postings plan, so their threshold is lower; the quality guard's FEW_ROWS = 0 still
    # sends every kind through the postings plan.
    assert bm25.few_rows("episode") < bm25.few_rows("event") == bm25.FEW_ROWS
    assert bm25.few_rows("fact") == bm25.few_rows("passage") == bm25.FEW_ROWS
    monkeypatch.setattr(bm25, "FEW_ROWS", 0)
    assert {kind: bm25.few_rows(kind) for kind in ("event", "fact", "episode", "passage")} == {
        "event": 0,
        "fact": 0,
        "episode": 0,
        "passage": 0,
    }


def test_postings_are_read_from_the_index_alone(tenant: Tenant) -> None:
    """keyword_posting_top includes row_id (migration 0024): a term's top postings come from
    an index-only scan, not one heap page of memory_keywordposting per posting."""
    for i, text in enumerate(TURNS):
        ingest(tenant, text, minutes=i)
    scope = RecallScope(tenant=tenant, user_id="u1")
    captured: list[tuple[str, object]] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        ranking, _ = channels.keyword("event", channels.visible("event", scope), "Melanie lake")
    assert ranking
    ((sql, params),) = [(s, p) for s, p in captured if "memory_keywordposting" in s]
    with connection.cursor() as cursor:
        # As on a table of millions of postings: no sequential or bitmap read of the table.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using keyword_posting_top" in plan, plan
