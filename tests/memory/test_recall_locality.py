"""Conversational locality in recall: adjacency read from Postgres, score smoothing, and
the reply turn that shares no word with the query reaching the context."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from memory.models import Event
from memory.recall import locality
from memory.recall.channels import RecallScope
from memory.recall.engine import blocks_from, retrieve
from memory.recall.locality import Around, smooth, turns_around
from memory.recall.packing import pack
from tenants.models import Tenant
from tests.factories import ingest


def test_smooth_adds_kernel_shares_of_the_neighbours_scores() -> None:
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    fact = ("fact", uuid.uuid4())
    fused = [(("event", a), 1.0), (fact, 0.9), (("event", c), 0.5), (("event", d), 0.1)]
    around = {
        a: Around(before=(), after=(b, c)),
        c: Around(before=(b, a), after=(d,)),
        d: Around(before=(c, b, a), after=()),
    }
    smoothed = dict(smooth(fused, around, kernel=(0.5, 0.25)))
    assert smoothed[("event", a)] == pytest.approx(1.0 + 0.25 * 0.5)  # b is not a candidate
    assert smoothed[("event", c)] == pytest.approx(0.5 + 0.25 * 1.0 + 0.5 * 0.1)
    # Gains come from the input scores (c's own gain does not flow on to d), and only
    # `kernel` places away: a, three places before d, gives it nothing.
    assert smoothed[("event", d)] == pytest.approx(0.1 + 0.5 * 0.5)
    assert smoothed[fact] == 0.9
    assert ("event", b) not in smoothed  # smoothing re-scores candidates, adds none
    assert [key for key, _ in smooth(fused, around, kernel=(0.5, 0.25))] == [
        ("event", a),
        fact,
        ("event", c),
        ("event", d),
    ]


@pytest.mark.django_db
def test_turns_around_is_on_the_users_timeline_visible_and_nearest_first(tenant: Tenant) -> None:
    turns = [ingest(tenant, f"turn {i}", minutes=2 * i) for i in range(6)]
    # Another thread's turn between turns 1 and 2, and one with no thread id at all: the
    # user's timeline runs through both, whatever the ids.
    other = ingest(tenant, "another conversation", minutes=3, conversation_id="c2")
    loose = ingest(tenant, "no conversation id", minutes=7, conversation_id="")
    ingest(tenant, "another user", minutes=3, user_id="u2")
    Event.objects.filter(pk=turns[4].pk).update(forgotten_at=timezone.now())
    scope = RecallScope(tenant=tenant, user_id="u1")

    found = turns_around(scope, [turns[2].id, turns[4].id, other.id, uuid.uuid4()], reach=2)

    assert found[turns[2].id] == Around(
        before=(other.id, turns[1].id), after=(turns[3].id, loose.id)
    )
    assert found[other.id] == Around(
        before=(turns[1].id, turns[0].id), after=(turns[2].id, turns[3].id)
    )
    assert set(found) == {turns[2].id, other.id}  # forgotten and unknown ids: nothing
    assert turns_around(scope, []) == {}


@pytest.mark.django_db
def test_turns_around_orders_ties_by_id_and_can_stop_at_a_session_break(tenant: Tenant) -> None:
    first = ingest(tenant, "morning", minutes=0)
    twins = sorted(
        [ingest(tenant, "same time a", minutes=10), ingest(tenant, "same time b", minutes=10)],
        key=lambda e: e.id,
    )
    evening = ingest(tenant, "evening, hours later", minutes=300)
    scope = RecallScope(tenant=tenant, user_id="u1")

    found = turns_around(scope, [twins[0].id], reach=3, stop_at_session_break=False)
    assert found[twins[0].id] == Around(before=(first.id,), after=(twins[1].id, evening.id))
    # Stopping at a session break (30 minutes or more without a turn, the default) keeps
    # the sitting.
    assert locality.STOP_AT_SESSION_BREAK
    found = turns_around(scope, [twins[0].id], reach=3)
    assert found[twins[0].id] == Around(before=(first.id,), after=(twins[1].id,))


@pytest.mark.django_db
def test_the_reply_to_a_matching_question_is_recalled(tenant: Tenant) -> None:
    # The answer shares no word with the query; only its place after the question finds it.
    for i in range(30):
        ingest(tenant, f"Filler turn number {i} on weather, gardens and trains.", minutes=i)
    ingest(tenant, "Is that your third screenplay?", minutes=40)
    answer = ingest(tenant, "Yep! It's about loss, identity and connection.", minutes=41)
    for i in range(30):
        ingest(tenant, f"Later filler turn {i} on trains and gardens.", minutes=50 + i)
    scope = RecallScope(tenant=tenant, user_id="u1")

    result = retrieve(scope, "What is the third screenplay about?", budget=200)
    text, admitted, _ = pack(blocks_from(result, 200), 200)

    assert str(answer.id) in {block.item_id for block in admitted}
    assert "loss, identity and connection" in text
    assert locality.KERNEL[0] > locality.KERNEL[-1] > 0  # nearer turns weigh more
