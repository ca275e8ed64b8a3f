"""v6 recall at the service level: fact split, scopes, llm_context budget, working memory,
pending plans, routing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from memory.models import DocumentTag
from memory.recall.v6 import memory_recall_v6
from memory.tokens import count_tokens
from tenants.models import Tenant
from tests.factories import ingest, ingest_enriched

pytestmark = pytest.mark.django_db


def test_answer_facts_and_llm_context(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    ingest_enriched(tenant, "I work at Acme Robotics as a firmware engineer.", minutes=1)
    body = memory_recall_v6(
        tenant=tenant, user_id="u1", query="Where does the user live?", token_budget=300
    )
    assert body["answer_facts"][0]["object_text"] == "Lisbon"
    assert body["answer_facts"][0]["predicate"] == "lives_in"
    assert body["routing"]["predicates"][0] == "lives_in"
    assert body["token_estimate"] == count_tokens(body["llm_context"]["text"]) <= 300
    assert set(body["llm_context"]["fact_ids"]) <= {
        f["fact_id"] for f in body["answer_facts"] + body["supporting_facts"]
    }
    assert body["llm_context"]["anchor_source"] == "server_now"
    assert body["working_memory"] is None
    fact = body["answer_facts"][0]
    assert fact["source_text"] == "I live in Lisbon."
    assert set(fact) >= {
        "fact_id",
        "subject",
        "kind",
        "predicate",
        "object_text",
        "relation_phrase",
        "source_text",
        "confidence",
        "importance",
        "tier",
        "created_at",
        "valid_from",
        "valid_to",
        "source_event_id",
        "temporal_matches",
    }


def test_scope_visibility(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    ingest_enriched(
        tenant, "I prefer React for frontend work.", project_id="web", scope="project", minutes=1
    )
    ingest_enriched(
        tenant,
        "I prefer Vue for this prototype.",
        conversation_id="c9",
        scope="conversation",
        minutes=2,
    )

    def objects(**kwargs: str) -> set[str]:
        body = memory_recall_v6(
            tenant=tenant,
            user_id="u1",
            query="Which frontend framework does the user prefer?",
            **kwargs,
        )  # type: ignore[arg-type]
        facts = body["answer_facts"] + body["supporting_facts"] + body["background_context"]
        return {f["object_text"] for f in facts} | {body["llm_context"]["text"]}

    def mentions(found: set[str], word: str) -> bool:
        return any(word in item for item in found)

    plain = objects()
    assert not mentions(plain, "React") and not mentions(plain, "Vue")
    project = objects(project_id="web")
    assert mentions(project, "React") and not mentions(project, "Vue")
    conversation = objects(conversation_id="c9")
    assert mentions(conversation, "Vue") and not mentions(conversation, "React")


def test_reference_time_from_the_conversation_and_temporal_routing(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I went to the dentist yesterday.", conversation_id="c1")
    body = memory_recall_v6(
        tenant=tenant, user_id="u1", query="What did I do last week?", conversation_id="c1"
    )
    assert body["llm_context"]["anchor_source"] == "conversation_event"
    assert body["llm_context"]["reference_time"] == "2024-05-01T09:00:00+00:00"
    intent = body["routing"]["temporal_intent"]
    assert intent is not None and intent["ts_start"].startswith("2024-04-22")
    given = memory_recall_v6(
        tenant=tenant,
        user_id="u1",
        query="anything",
        reference_time=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert given["llm_context"]["anchor_source"] == "request"


def test_working_memory_and_pending_plan(tenant: Tenant) -> None:
    ingest(tenant, "I need a new laptop for Python work, my budget is $1,500, by Friday.")
    ingest(
        tenant,
        "Here is my plan:\n1. Compare the Dell XPS and the MacBook Air\n"
        "2. Check student discounts\n3. Order the winner\nShall I proceed?",
        role="assistant",
        minutes=1,
    )
    body = memory_recall_v6(tenant=tenant, user_id="u1", query="laptop", conversation_id="c1")
    focus = body["working_memory"]["focus"]
    assert focus["last_constraints"] == {"budget": "$1,500", "deadline": "Friday"}
    assert "Python" in focus["entities"] and "Dell XPS" in focus["entities"]
    assert body["pending_plan"]["steps"] == [
        "Compare the Dell XPS and the MacBook Air",
        "Check student discounts",
        "Order the winner",
    ]
    assert body["working_memory"]["turn_summary"].startswith("user: I need a new laptop")
    ingest(tenant, "Yes, go ahead.", minutes=2)
    after = memory_recall_v6(tenant=tenant, user_id="u1", query="laptop", conversation_id="c1")
    assert after["pending_plan"] is None


def test_other_tenant_sees_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    body = memory_recall_v6(tenant=other_tenant, user_id="u1", query="Where do I live?")
    assert body["answer_facts"] == [] and body["llm_context"]["text"] == ""


@pytest.mark.django_db
def test_supporting_facts_then_background_facts_neither_repeating_the_other(
    tenant: Tenant,
) -> None:
    """The two statements go out together: the background one cannot exclude the
    supporting facts it has not seen yet, so it reads more rows and those are dropped."""
    from memory.models import Fact, Tier
    from memory.recall.channels import RecallScope
    from memory.recall.v6 import _supporting_and_background

    event = ingest(tenant, "Ann likes tea and jazz.")

    def fact(subject: str, kind: str, importance: float, tier: str = Tier.WARM) -> Fact:
        return Fact.objects.create(
            tenant=tenant,
            user_id="u1",
            subject=subject,
            kind=kind,
            predicate="likes",
            relation_phrase="likes",
            object_text=f"{kind} {importance}",
            source_text="Ann likes tea and jazz.",
            source_event=event,
            event_time=event.event_time,
            valid_from=event.event_time,
            importance=importance,
            tier=tier,
        )

    answer = fact("Ann", "event", 0.5)
    # Ann's other facts: supporting by subject (most important first), and of a
    # background kind too.
    ann = [fact("Ann", "preference", importance) for importance in (0.9, 0.8, 0.7)]
    hot = fact("user", "identity", 0.1, tier=Tier.HOT)
    warm = fact("user", "preference", 0.5)
    fact("user", "event", 0.99)  # neither: another subject, not a background kind
    scope = RecallScope(tenant=tenant, user_id="u1")

    supporting, background = _supporting_and_background(scope, [answer], [answer], 2, 3)

    assert [f.id for f in supporting] == [ann[0].id, ann[1].id]
    # Hot first, then by importance; Ann's first two are supporting already.
    assert [f.id for f in background] == [hot.id, ann[2].id, warm.id]
    assert background[0].object_text == "identity 0.1"  # whole facts, as hydration builds them
    assert _supporting_and_background(scope, [answer], [answer], 2, 0)[1] == []
    assert _supporting_and_background(scope, [], [], 2, 1) == ([], [hot])


def test_document_tags_are_read_only_for_a_user_with_tagged_events(tenant: Tenant) -> None:
    """Whether the user has any tagged event is read with the channels: a user without one
    costs no tag statement, and a tagged event still names its document."""
    ingest_enriched(tenant, "I live in Lisbon.")
    ingest_enriched(
        tenant,
        "I live in Porto.",
        user_id="u2",
        document_id="manual",
        document_name="Skyline",
    )
    tag_reads = f'FROM "{DocumentTag._meta.db_table}"'
    with CaptureQueriesContext(connection) as untagged:
        body = memory_recall_v6(tenant=tenant, user_id="u1", query="Where does the user live?")
    assert body["answer_facts"][0]["object_text"] == "Lisbon"
    assert body["answer_facts"][0]["document_id"] is None
    assert not [q for q in untagged.captured_queries if tag_reads in q["sql"]]

    with CaptureQueriesContext(connection) as tagged:
        body = memory_recall_v6(tenant=tenant, user_id="u2", query="Where does the user live?")
    fact = body["answer_facts"][0]
    assert (fact["object_text"], fact["document_id"], fact["document_name"]) == (
        "Porto",
        "manual",
        "Skyline",
    )
    assert [q for q in tagged.captured_queries if tag_reads in q["sql"]]
