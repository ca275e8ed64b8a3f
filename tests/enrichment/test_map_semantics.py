"""Map semantics end to end through the stage functions and the database: dedup, supersede,
user over assistant, true contradictions, negation reversal, arrival order, visibility."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest

from enrichment import pipeline
from memory.models import Candidate, Fact, FactSource
from tenants.models import Tenant
from tests.factories import BASE_TIME, ingest, ingest_enriched

pytestmark = pytest.mark.django_db


def at(minutes: int):  # noqa: ANN201
    return BASE_TIME + timedelta(minutes=minutes)


def lives_in(tenant: Tenant, user_id: str = "u1") -> dict[str, Fact]:
    return {
        f.object_text + (" (not)" if f.negated else ""): f
        for f in Fact.objects.filter(tenant=tenant, user_id=user_id, predicate="lives_in")
    }


def test_the_same_statement_twice_is_one_fact_reinforced_with_both_sources(tenant: Tenant) -> None:
    first = ingest_enriched(tenant, "I live in Paris.")
    second = ingest_enriched(tenant, "I live in Paris.", minutes=5, conversation_id="c2")

    fact = Fact.objects.get(tenant=tenant, predicate="lives_in")
    assert (fact.object_text, fact.status, fact.mention_count) == ("Paris", "current", 2)
    # 1 - (1 - 0.8) * (1 - 0.8 / 2)
    assert fact.confidence == 0.88
    assert fact.source_event_id == first.id
    assert sorted(
        FactSource.objects.filter(fact=fact).values_list("event_id", flat=True)
    ) == sorted([first.id, second.id])
    assert Candidate.objects.get(event=second).resolution == "duplicate"
    assert Candidate.objects.get(event=second).fact_id == fact.id


def test_a_statement_repeated_within_one_event_counts_once(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Paris.")
    ingest_enriched(tenant, "I live in Paris. Yes, I live in Paris.", minutes=5)
    fact = Fact.objects.get(tenant=tenant, predicate="lives_in")
    assert (fact.mention_count, fact.confidence) == (2, 0.88)


def test_a_new_value_of_a_single_valued_predicate_supersedes_the_old(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Paris.")
    moved = ingest_enriched(tenant, "I moved to Berlin.", minutes=10)

    facts = lives_in(tenant)
    assert set(facts) == {"Paris", "Berlin"}
    paris, berlin = facts["Paris"], facts["Berlin"]
    assert (berlin.status, berlin.valid_from, berlin.valid_to) == ("current", at(10), None)
    assert (paris.status, paris.valid_from, paris.valid_to) == ("superseded", at(0), at(10))
    assert paris.superseded_by_id == berlin.id
    assert Candidate.objects.get(event=moved).resolution == "supersede"


def test_set_valued_predicates_accumulate(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I have a dog named Rex.")
    ingest_enriched(tenant, "I have a cat named Tom.", minutes=1)
    assert sorted(
        Fact.objects.filter(tenant=tenant, predicate="has_pet").values_list("object_text", "status")
    ) == [("Rex", "current"), ("Tom", "current")]


def test_an_assistant_statement_never_replaces_the_users_own(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Paris.")
    claim = ingest_enriched(tenant, "You live in Madrid.", role="assistant", minutes=10)
    again = ingest_enriched(tenant, "You live in Madrid.", role="assistant", minutes=20)

    facts = lives_in(tenant)
    assert set(facts) == {"Paris", "Madrid"}
    paris, madrid = facts["Paris"], facts["Madrid"]
    assert (paris.status, paris.valid_to) == ("current", None)
    assert (madrid.status, madrid.contradicts_id, madrid.source_role) == (
        "contradicted",
        paris.id,
        "assistant",
    )
    # Repeating the claim reinforces the recorded contradiction instead of adding rows:
    # 1 - (1 - 0.6) * (1 - 0.6 / 2)
    assert (madrid.mention_count, madrid.confidence) == (2, 0.72)
    assert Candidate.objects.get(event=claim).resolution == "contradiction"
    assert Candidate.objects.get(event=again).resolution == "duplicate"


def test_a_user_statement_updates_an_assistant_sourced_fact(tenant: Tenant) -> None:
    ingest_enriched(tenant, "You live in Madrid.", role="assistant")
    ingest_enriched(tenant, "I live in Paris.", minutes=10)
    facts = lives_in(tenant)
    assert (facts["Paris"].status, facts["Madrid"].status) == ("current", "superseded")
    assert facts["Madrid"].superseded_by_id == facts["Paris"].id


def test_user_over_assistant_does_not_depend_on_arrival_order(tenant: Tenant) -> None:
    # The assistant's later claim is enriched first; the user's earlier statement arrives
    # late and still wins, with the same records as in order.
    ingest_enriched(tenant, "You live in Madrid.", role="assistant", minutes=10)
    ingest_enriched(tenant, "I live in Paris.", minutes=0)
    facts = lives_in(tenant)
    assert (facts["Paris"].status, facts["Paris"].valid_to) == ("current", None)
    assert (facts["Madrid"].status, facts["Madrid"].contradicts_id) == (
        "contradicted",
        facts["Paris"].id,
    )


def test_disagreeing_statements_of_the_same_moment_are_a_true_contradiction(tenant: Tenant) -> None:
    event = ingest_enriched(tenant, "I live in Paris. I live in Berlin.")
    facts = lives_in(tenant)
    assert (facts["Paris"].status, facts["Berlin"].status) == ("current", "contradicted")
    assert facts["Berlin"].contradicts_id == facts["Paris"].id
    assert list(
        Candidate.objects.filter(event=event)
        .order_by("ordinal")
        .values_list("resolution", flat=True)
    ) == ["new", "contradiction"]


def test_a_reversed_negation_supersedes_and_a_new_value_does_not_touch_it(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Paris.")
    ingest_enriched(tenant, "I don't live in Paris anymore.", minutes=10)
    ingest_enriched(tenant, "I live in Berlin.", minutes=20)

    facts = lives_in(tenant)
    assert set(facts) == {"Paris", "Paris (not)", "Berlin"}
    assert (facts["Paris"].status, facts["Paris"].valid_to) == ("superseded", at(10))
    assert facts["Paris"].superseded_by_id == facts["Paris (not)"].id
    # "Not in Paris" and "in Berlin" are both true: neither replaces the other.
    assert (facts["Paris (not)"].status, facts["Berlin"].status) == ("current", "current")


def test_a_negated_statement_about_another_value_is_a_new_fact(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Paris.")
    ingest_enriched(tenant, "I don't live in Rome.", minutes=10)
    facts = lives_in(tenant)
    assert (facts["Paris"].status, facts["Rome (not)"].status) == ("current", "current")


def test_dislikes_reverses_likes_of_the_same_thing(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I like sushi.")
    ingest_enriched(tenant, "I don't like sushi.", minutes=10)
    rows = {f.predicate: f for f in Fact.objects.filter(tenant=tenant, object_text="sushi")}
    assert (rows["likes"].status, rows["likes"].superseded_by_id) == (
        "superseded",
        rows["dislikes"].id,
    )
    assert rows["dislikes"].status == "current"


def test_an_older_statement_arriving_late_is_stored_as_history(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Paris.", minutes=0)
    ingest_enriched(tenant, "I live in Rome.", minutes=20)
    late = ingest_enriched(tenant, "I moved to Berlin.", minutes=10)  # said between the two

    facts = lives_in(tenant)
    paris, berlin, rome = facts["Paris"], facts["Berlin"], facts["Rome"]
    assert Candidate.objects.get(event=late).resolution == "outdated"
    assert [
        (f.status, f.valid_from, f.valid_to, f.superseded_by_id) for f in (paris, berlin, rome)
    ] == [
        ("superseded", at(0), at(10), berlin.id),
        ("superseded", at(10), at(20), rome.id),
        ("current", at(20), None, None),
    ]


def test_scoped_statements_do_not_overwrite_global_facts(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Paris.")
    ingest_enriched(
        tenant, "I live in Rome.", scope="conversation", conversation_id="roleplay", minutes=10
    )
    ingest_enriched(tenant, "I live in Oslo.", scope="project", project_id="p1", minutes=20)
    facts = lives_in(tenant)
    assert {name: (f.status, f.scope) for name, f in facts.items()} == {
        "Paris": ("current", "global"),
        "Rome": ("current", "conversation"),
        "Oslo": ("current", "project"),
    }


def test_another_tenants_facts_are_never_matched(tenant: Tenant, other_tenant: Tenant) -> None:
    ingest_enriched(other_tenant, "I live in Paris.")
    ingest_enriched(tenant, "I live in Paris.", minutes=5)
    ingest_enriched(tenant, "I moved to Berlin.", minutes=10)
    other = Fact.objects.get(tenant=other_tenant)
    assert (other.object_text, other.status, other.mention_count) == ("Paris", "current", 1)
    assert lives_in(tenant)["Paris"].mention_count == 1


def test_a_backlog_resolved_in_one_batch_matches_one_by_one(tenant: Tenant) -> None:
    """Events waiting together are enriched by one task per stage, in event-time order,
    whatever order they arrived in."""
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        berlin = ingest(tenant, "I moved to Berlin.", minutes=10)
        paris = ingest(tenant, "I live in Paris.", minutes=0)
        ingest(tenant, "You live in Madrid.", role="assistant", minutes=20)
        ingest(tenant, "I live in Paris.", minutes=30, user_id="u2")
    outcome = pipeline.stage_run(str(paris.id), "tier")
    assert outcome.ran is True
    assert set(tenant.events.values_list("status", flat=True)) == {"enriched"}
    # The other events' tasks find their stages done.
    assert pipeline.stage_run(str(berlin.id), "tier").ran is False

    facts = lives_in(tenant)
    assert {name: f.status for name, f in facts.items()} == {
        "Paris": "superseded",
        "Berlin": "current",
        "Madrid": "contradicted",
    }
    assert facts["Paris"].superseded_by_id == facts["Berlin"].id
    assert facts["Madrid"].contradicts_id == facts["Berlin"].id
    assert lives_in(tenant, "u2")["Paris"].status == "current"


def test_resolve_reports_without_writing(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Paris.")
    event = ingest(tenant, "I moved to Berlin.", minutes=10)
    pipeline.stage_run(str(event.id), "map")
    candidate = Candidate.objects.get(event=event)
    kind, target = pipeline.resolve(event=event, candidate=candidate)
    assert (kind, target.object_text if target else None) == ("supersede", "Paris")
    assert candidate.resolution == "supersede"  # Map's preview
    assert lives_in(tenant)["Paris"].status == "current"  # nothing written before Gate
