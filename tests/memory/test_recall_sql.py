"""The SQL halves of recall against Postgres: BM25 computed in the database agrees with
the Python reference, and hydration loads exactly the visible rows with their sources."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from memory.models import Event, Fact, FactSource, Scope
from memory.recall import channels, hydration
from memory.recall.bm25 import bm25_rank
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


def _tsvectors(ids: list) -> list[tuple[object, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, search::text FROM memory_event WHERE id = ANY(%s)", [ids])
        return cursor.fetchall()


def test_sql_bm25_matches_the_python_reference(tenant: Tenant) -> None:
    events = [ingest(tenant, text, minutes=i) for i, text in enumerate(TURNS)]
    scope = RecallScope(tenant=tenant, user_id="u1")
    question = "When did Melanie paint the lake sunrise?"
    lexemes = channels.query_lexemes(question)
    ranking, scores = channels.keyword("event", channels.events_visible(scope), question)

    documents = _tsvectors([e.id for e in events])
    lengths = [len(channels.query_lexemes(text)) for text in TURNS]  # distinct lexemes
    reference = bm25_rank(
        terms=lexemes,
        documents=documents,
        total_docs=len(TURNS),
        avg_length=sum(lengths) / len(lengths),
    )
    assert [key[1] for key in ranking] == [doc_id for doc_id, _ in reference]
    for doc_id, score in reference:
        assert scores[doc_id] == pytest.approx(score, rel=1e-9)
    assert ranking[0] == ("event", events[0].id)  # the rare terms (sunrise, paint) win
    assert events[4].id not in scores  # no query term: not a candidate


def test_sql_bm25_counts_only_visible_rows(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = ingest(tenant, "Melanie painted a sunrise.")
    ingest(tenant, "Melanie painted a sunrise.", user_id="someone-else")
    ingest(other_tenant, "Melanie painted a sunrise.")
    ingest(tenant, "Melanie painted a sunrise.", scope="conversation", conversation_id="c9")
    scope = RecallScope(tenant=tenant, user_id="u1", conversation_id="c1")
    ranking, _ = channels.keyword("event", channels.events_visible(scope), "sunrise")
    assert ranking == [("event", mine.id)]


def test_keyword_matches_any_query_term_even_inside_compound_words(tenant: Tenant) -> None:
    # "part-time" is the lexemes part-tim, part and time; the rows need not hold them all.
    only_time = ingest(tenant, "I found a new time slot.")
    only_job = ingest(tenant, "The job was fun.", minutes=1)
    ingest(tenant, "We went hiking.", minutes=2)
    scope = RecallScope(tenant=tenant, user_id="u1")
    _, scores = channels.keyword("event", channels.visible("event", scope), "a part-time job?")
    assert set(scores) == {only_time.id, only_job.id}
    # Nothing but stop words: no candidate, no error.
    assert channels.keyword("event", channels.visible("event", scope), "what is the") == ([], {})


def test_pipelined_statements_answer_in_order_and_an_error_leaves_the_connection_usable(
    tenant: Tenant,
) -> None:
    with transaction.atomic(), channels.pipeline():
        first = channels.send("SELECT %s::int", [1])
        second = channels.send("SELECT %s::text", ["two"])
        assert (second(), first()) == ([("two",)], [(1,)])
    with pytest.raises(DatabaseError), transaction.atomic(), channels.pipeline():
        channels.send("SELECT 1 / 0", [])()
    assert channels.send("SELECT 3", [])() == [(3,)]


def test_hydration_loads_visible_rows_with_all_fact_sources(tenant: Tenant) -> None:
    first = ingest_enriched(tenant, "I live in Lisbon.")
    again = ingest_enriched(tenant, "I live in Lisbon.", minutes=5)
    hidden = ingest(tenant, "I live in Porto.", scope="conversation", conversation_id="c9")
    fact = Fact.objects.get(tenant=tenant, predicate="lives_in", object_text="Lisbon")
    assert set(FactSource.objects.filter(fact=fact).values_list("event_id", flat=True)) == {
        first.id,
        again.id,
    }
    scope = RecallScope(tenant=tenant, user_id="u1", conversation_id="c1")

    facts = hydration.load_facts(scope, [fact.id])
    assert facts[fact.id].source_event_ids == [str(first.id), str(again.id)]
    assert facts[fact.id].object_text == "Lisbon" and facts[fact.id].temporal == []
    events = hydration.load_events(scope, [first.id, hidden.id])
    assert list(events) == [first.id]  # another conversation's scoped event stays out
    assert events[first.id].content == "I live in Lisbon."
    with connection.execute_wrapper(_no_queries):
        # Everything recall reads is loaded: no lazy query per row.
        assert events[first.id].role == "user" and facts[fact.id].tier
    assert hydration.load_facts(RecallScope(tenant=tenant, user_id="other"), [fact.id]) == {}
    assert hydration.load_events(scope, []) == {}
    assert Event.objects.get(id=hidden.id).scope == Scope.CONVERSATION


def test_hydrated_times_are_the_orms_to_the_microsecond(tenant: Tenant) -> None:
    """Times travel as epoch microseconds: the same aware UTC datetimes as the ORM's,
    nulls kept, before 1970 too."""
    from datetime import UTC, datetime

    event = ingest_enriched(tenant, "I live in Lisbon.")
    fact = Fact.objects.get(tenant=tenant, predicate="lives_in", object_text="Lisbon")
    Fact.objects.filter(id=fact.id).update(
        valid_from=datetime(1969, 7, 20, 20, 17, 40, 123457, tzinfo=UTC), valid_to=None
    )
    Event.objects.filter(id=event.id).update(
        event_time=datetime(2023, 5, 8, 13, 56, 0, 999999, tzinfo=UTC)
    )
    scope = RecallScope(tenant=tenant, user_id="u1")

    loaded = hydration.load_facts(scope, [fact.id])[fact.id]
    stored = Fact.objects.get(id=fact.id)
    for name in ("event_time", "valid_from", "valid_to", "last_accessed_at", "created_at"):
        ours, orms = getattr(loaded, name), getattr(stored, name)
        assert ours == orms and repr(ours) == repr(orms), name
    assert loaded.valid_to is None and loaded.valid_from.tzinfo is UTC
    moment = hydration.load_events(scope, [event.id])[event.id].event_time
    assert repr(moment) == repr(Event.objects.get(id=event.id).event_time)
    assert moment.microsecond == 999999 and moment.tzinfo is UTC


def _no_queries(*args: object) -> None:
    raise AssertionError("a lazy query ran")


@pytest.mark.parametrize(
    "shape",
    [
        {},
        {"conversation_id": "c1"},
        {"project_id": "p1"},
        {"conversation_id": "c9", "project_id": "p1", "min_confidence": 0.7},
    ],
)
def test_raw_visibility_agrees_with_the_querysets(
    tenant: Tenant, other_tenant: Tenant, shape: dict
) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    ingest_enriched(tenant, "I work at Acme.", scope="conversation", conversation_id="c9")
    ingest_enriched(tenant, "I love jazz.", scope="project", project_id="p1")
    ingest_enriched(tenant, "I have a dog.", scope="project", project_id="p2")
    ingest_enriched(tenant, "I live in Porto.", user_id="u2")
    ingest_enriched(other_tenant, "I live in Rome.")
    ingest(tenant, "Be concise.", role="system")
    forgotten = ingest(tenant, "I am 40.")
    Event.objects.filter(id=forgotten.id).update(forgotten_at=forgotten.event_time)
    scope = RecallScope(tenant=tenant, user_id="u1", **shape)
    querysets = {
        "event": channels.events_visible(scope),
        "fact": channels.facts_visible(scope),
        "episode": channels.episodes_visible(scope),
    }
    for kind, rows in querysets.items():
        sql, params = channels.visible(kind, scope).select("r.id")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            raw = {row[0] for row in cursor.fetchall()}
        assert raw == set(rows.values_list("id", flat=True)), kind
        assert raw or kind == "episode"


def test_bm25_over_a_few_rows_read_whole_matches_the_gin_plan(tenant: Tenant) -> None:
    # A small user's rows are read once by the user index instead of the GIN index
    # (bm25_sql's `few`); the ranking and the scores must not change.
    for i, text in enumerate(TURNS * 3):
        ingest(tenant, text, minutes=i)
    ingest(tenant, "Melanie painted the lake again.", user_id="someone-else")
    scope = RecallScope(tenant=tenant, user_id="u1")
    assert channels.corpus_sizes(scope)["event"] == len(TURNS) * 3
    rows = channels.visible("event", scope)
    question = "When did Melanie paint the lake sunrise with the kids?"
    by_gin = channels.keyword_send("event", rows, question, few=False)()
    read_whole = channels.keyword_send("event", rows, question, few=True)()
    assert read_whole[0] and read_whole == by_gin
    for kind in ("fact", "episode"):
        gin = channels.keyword_send(kind, channels.visible(kind, scope), question, few=False)()
        assert (
            channels.keyword_send(kind, channels.visible(kind, scope), question, few=True)() == gin
        )


def test_predicate_channel_takes_the_best_facts_in_one_total_order(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    """The first predicate's facts first, then by confidence, event time, creation and id,
    `depth` of them, whatever order the rows were written in; invisible facts never."""
    from datetime import timedelta

    from memory.models import FactStatus

    event = ingest(tenant, "Ann likes tea and lives in Lisbon.")
    made: list[Fact] = []

    def fact(predicate: str, confidence: float, minutes: int = 0, **fields: object) -> Fact:
        fields.setdefault("tenant", tenant)
        fields.setdefault("user_id", "u1")
        made.append(
            Fact.objects.create(
                subject="user",
                kind="preference",
                predicate=predicate,
                relation_phrase=predicate,
                object_text=f"{predicate} {confidence} {minutes} {len(made)}",
                source_text="Ann likes tea and lives in Lisbon.",
                source_event=event,
                event_time=event.event_time + timedelta(minutes=minutes),
                valid_from=event.event_time,
                confidence=confidence,
                **fields,
            )
        )
        return made[-1]

    low = fact("likes", 0.5)
    older = fact("likes", 0.9, minutes=1)
    newer = fact("likes", 0.9, minutes=2)
    twins = [fact("likes", 0.7, minutes=3) for _ in range(2)]  # equal but for created_at
    lives = fact("lives_in", 0.99)
    fact("likes", 1.0, status=FactStatus.SUPERSEDED)
    fact("likes", 1.0, scope="conversation", conversation_id="c9")
    fact("likes", 1.0, user_id="u2")
    fact("likes", 1.0, tenant=other_tenant)
    scope = RecallScope(tenant=tenant, user_id="u1")

    def ranked(predicates: list[str], depth: int = 60, **shape: object) -> list[Fact]:
        with transaction.atomic(), channels.pipeline():
            keys = channels.predicate_facts_send(
                RecallScope(tenant=tenant, user_id="u1", **shape), predicates, depth
            )()
        assert all(kind == "fact" for kind, _ in keys)
        return [next(f for f in made if f.id == fact_id) for _, fact_id in keys]

    # Within a confidence and an event time the first-written fact comes first.
    assert ranked(["likes", "lives_in"]) == [newer, older, twins[0], twins[1], low, lives]
    assert ranked(["lives_in", "likes"], depth=3) == [lives, newer, older]
    # The first predicate's fact even when the other's come first in the table.
    assert ranked(["lives_in", "likes"], depth=1) == [lives]
    assert ranked(["lives_in", "likes"], depth=3, min_confidence=0.95) == [lives]
    assert channels.predicate_facts_send(scope, [])() == []
    # The conversation's scoped fact is visible inside that conversation.
    assert ranked(["likes"], depth=1, conversation_id="c9")[0].conversation_id == "c9"
