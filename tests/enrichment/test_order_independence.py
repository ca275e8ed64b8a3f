"""The same memories, ingested in another order and with other conversation ids, give the
same facts (supersede included) and the same session episodes: enrichment works on the
user's timeline (event time), not on arrival order or the client's ids."""

from __future__ import annotations

import random
from typing import Any

import pytest

from memory.models import Episode, Fact
from tenants.models import Tenant
from tests.factories import ingest_enriched

pytestmark = pytest.mark.django_db

# (minutes, text): two sittings, a move that supersedes, the same fact said twice.
HISTORY = [
    (0, "I live in Paris."),
    (5, "I have a dog named Rex."),
    (10, "I work at Acme Robotics."),
    (600, "I moved to Berlin."),
    (610, "I live in Berlin."),
    (615, "My sister Anna lives in Rome."),
    (2000, "I live in Berlin."),
    (2005, "I have a cat named Tom."),
]


def feed(tenant: Tenant, user_id: str, order: list[int], ids: str) -> None:
    for index in order:
        minutes, text = HISTORY[index]
        conversation = {"one": "c1", "per-sitting": f"s{minutes // 500}", "none": ""}[ids]
        ingest_enriched(
            tenant, text, user_id=user_id, minutes=minutes, conversation_id=conversation
        )


def facts_of(tenant: Tenant, user_id: str) -> list[tuple[Any, ...]]:
    rows = Fact.objects.filter(tenant=tenant, user_id=user_id).select_related(
        "source_event", "superseded_by"
    )
    return sorted(
        (
            f.subject,
            f.predicate,
            f.object_text,
            f.negated,
            f.status,
            f.valid_from,
            f.valid_to,
            f.mention_count,
            f.source_event.event_time,
            f.superseded_by.object_text if f.superseded_by else None,
        )
        for f in rows
    )


def sessions_of(tenant: Tenant, user_id: str) -> list[tuple[Any, ...]]:
    rows = Episode.objects.filter(tenant=tenant, user_id=user_id).exclude(session_key="")
    return sorted(
        (
            e.first_event_time,
            e.last_event_time,
            e.event_count,
            e.summary,
            tuple(sorted(e.events.values_list("content", flat=True))),
        )
        for e in rows
    )


@pytest.mark.parametrize(("seed", "ids"), [(1, "one"), (2, "per-sitting"), (3, "none")])
def test_shuffled_ingest_with_other_ids_gives_the_same_facts_and_sessions(
    tenant: Tenant, seed: int, ids: str
) -> None:
    feed(tenant, "in-order", list(range(len(HISTORY))), "one")
    shuffled = list(range(len(HISTORY)))
    random.Random(seed).shuffle(shuffled)
    assert shuffled != sorted(shuffled)
    feed(tenant, "shuffled", shuffled, ids)

    expected = facts_of(tenant, "in-order")
    assert expected == facts_of(tenant, "shuffled")
    # The test is about something: a move superseded the old city, and a repeated fact
    # kept its first mention as its start.
    by_object = {(row[1], row[2]): row for row in expected}
    assert by_object[("lives_in", "Paris")][4] == "superseded"
    assert by_object[("lives_in", "Berlin")][7] >= 2
    assert sessions_of(tenant, "in-order") == sessions_of(tenant, "shuffled")
    assert len(sessions_of(tenant, "in-order")) == 3


def test_a_late_earlier_mention_becomes_the_facts_start(tenant: Tenant) -> None:
    # Berlin said at 610 and 2000 arrives late for 610: the fact starts at 610, and Paris,
    # which it superseded, ends there, as if the events had come in order.
    feed(tenant, "u1", [0, 6, 4], "one")
    facts = {f.object_text: f for f in Fact.objects.filter(tenant=tenant, predicate="lives_in")}
    berlin, paris = facts["Berlin"], facts["Paris"]
    assert (berlin.status, berlin.mention_count) == ("current", 2)
    assert berlin.valid_from == berlin.event_time == berlin.source_event.event_time
    assert berlin.source_event.content == "I live in Berlin."
    assert (paris.status, paris.valid_to) == ("superseded", berlin.valid_from)
    assert berlin.valid_from.hour == 19  # 09:00 + 610 minutes
