"""BM25 at any history length: the corpus statistics kept by triggers equal the aggregate
over the rows, the raw channel (maintained statistics) agrees with its QuerySet twin
(aggregated statistics), and candidates are bounded by the rarest terms."""

from __future__ import annotations

import functools

import pytest
from django.db import connection
from django.utils import timezone

from memory.models import Event, Fact, FactStatus, KeywordCorpus
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


def _aggregate(table: str, where: str, tenant: Tenant, user_id: str) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), coalesce(sum(length(search)), 0) FROM {table} r "
            f"WHERE r.tenant_id = %s AND r.user_id = %s AND {where}",
            [tenant.pk, user_id],
        )
        count, length = cursor.fetchone()
    return int(count), int(length)


def _corpus(tenant: Tenant, user_id: str, kind: str) -> tuple[int, int]:
    row = KeywordCorpus.objects.filter(tenant=tenant, user_id=user_id, kind=kind).first()
    return (row.documents, row.total_length) if row else (0, 0)


def test_corpus_statistics_follow_inserts_updates_and_deletes(tenant: Tenant) -> None:
    events = [ingest(tenant, text, minutes=i) for i, text in enumerate(TURNS)]
    ingest(tenant, "System prompt about lakes.", role="system", minutes=9)
    ingest(tenant, "Someone else's lake.", user_id="u2")
    visible = "r.forgotten_at IS NULL AND r.role <> 'system'"
    assert _corpus(tenant, "u1", "event") == _aggregate("memory_event", visible, tenant, "u1")
    assert _corpus(tenant, "u1", "event")[0] == 6
    assert _corpus(tenant, "u2", "event")[0] == 1

    Event.objects.filter(pk=events[0].pk).update(forgotten_at=timezone.now())
    Event.objects.filter(pk=events[1].pk).delete()
    Event.objects.filter(pk=events[2].pk).update(status="enriched")  # no change in counts
    assert _corpus(tenant, "u1", "event") == _aggregate("memory_event", visible, tenant, "u1")
    assert _corpus(tenant, "u1", "event")[0] == 4


def test_fact_statistics_count_current_facts_only(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I love hiking in the mountains.")
    ingest_enriched(tenant, "My sister lives in Boston.", minutes=1)
    current = f"r.status = '{FactStatus.CURRENT.value}'"
    counted = _aggregate("memory_fact", current, tenant, "u1")
    assert counted[0] >= 1
    assert _corpus(tenant, "u1", "fact") == counted
    fact = Fact.objects.filter(tenant=tenant, user_id="u1").first()
    assert fact is not None
    Fact.objects.filter(pk=fact.pk).update(status=FactStatus.SUPERSEDED)
    assert _corpus(tenant, "u1", "fact") == (
        counted[0] - 1,
        _aggregate("memory_fact", current, tenant, "u1")[1],
    )


def test_maintained_statistics_rank_exactly_like_the_aggregate_twin(tenant: Tenant) -> None:
    for i, text in enumerate(TURNS):
        ingest(tenant, text, minutes=i)
    scope = RecallScope(tenant=tenant, user_id="u1")
    for question in (
        "When did Melanie paint the lake sunrise?",
        "Caroline support group",
        "a part-time job?",
        "painting",
    ):
        raw_ranking, raw_scores = channels.keyword(
            "event", channels.visible("event", scope), question
        )
        orm_ranking, orm_scores = channels.keyword(
            "event", channels.events_visible(scope), question
        )
        assert raw_ranking == orm_ranking
        assert raw_scores.keys() == orm_scores.keys()
        for doc_id, score in orm_scores.items():
            assert raw_scores[doc_id] == pytest.approx(score, rel=1e-9)


def test_candidates_come_from_the_rarest_terms(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The GIN plan (documents' spans use it; user rows go through the postings).
    events = [ingest(tenant, text, minutes=i) for i, text in enumerate(TURNS)]
    scope = RecallScope(tenant=tenant, user_id="u1")
    monkeypatch.setattr(channels, "keyword", functools.partial(channels.keyword, postings=False))
    query = "Melanie lake sunrise"
    _, unbounded = channels.keyword("event", channels.visible("event", scope), query)
    # melanie: 4 rows, lake: 3, sunrise: 1 — all candidates.
    assert set(unbounded) == {events[i].id for i in (0, 1, 3, 5)}
    # Frequencies capped at 2 and at most 2 postings: sunrise (1), then lake (capped at 2,
    # running total 3) is left out, and so is melanie; the rare term's row is the answer.
    monkeypatch.setattr(bm25, "DF_CAP", 2)
    monkeypatch.setattr(bm25, "CANDIDATE_POSTINGS", 2)
    ranking, bounded = channels.keyword("event", channels.visible("event", scope), query)
    assert set(bounded) == {events[0].id}
    assert ranking == [("event", events[0].id)]
    # Only common terms: the rarest still yields candidates, at most postings + cap of them.
    _, common = channels.keyword("event", channels.visible("event", scope), "Melanie")
    assert len(common) == 4 and set(common) <= {events[i].id for i in (0, 1, 3, 5)}
    monkeypatch.setattr(bm25, "DF_CAP", 1)
    monkeypatch.setattr(bm25, "CANDIDATE_POSTINGS", 1)
    _, common = channels.keyword("event", channels.visible("event", scope), "Melanie")
    assert len(common) == 2 and set(common) <= {events[i].id for i in (0, 1, 3, 5)}


def test_query_lexemes_with_quotes_and_backslashes_are_searched_literally(tenant: Tenant) -> None:
    odd = ingest(tenant, r"O'Brien's path is C:\temp\notes and it's fine.")
    ingest(tenant, "Nothing to see here.", minutes=1)
    scope = RecallScope(tenant=tenant, user_id="u1")
    for query in (r"O'Brien's C:\temp\notes?", "it's", "'''", "\\\\", "a:* & b | !c"):
        ranking, _ = channels.keyword("event", channels.visible("event", scope), query)
        twin, _ = channels.keyword("event", channels.events_visible(scope), query)
        assert ranking == twin
    ranking, _ = channels.keyword(
        "event", channels.visible("event", scope), r"O'Brien's C:\temp\notes?"
    )
    assert ranking == [("event", odd.id)]
