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
from memory.recall.locality import Around, smooth
from memory.recall.packing import pack
from tenants.models import Tenant
from tests.factories import BASE_TIME as BASE
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


def turns_around(
    scope: RecallScope, event_ids: list[uuid.UUID], **kwargs: object
) -> dict[uuid.UUID, Around]:
    """`locality.turns_around` both ways: by the per-candidate lookup (long histories) and
    from the whole timeline (short ones, `timeline_send`); they must agree."""
    looked_up = locality.turns_around(scope, event_ids, **kwargs)  # type: ignore[arg-type]
    timeline = locality.timeline_send(scope)()
    from_timeline = locality.turns_around(scope, event_ids, timeline=timeline, **kwargs)  # type: ignore[arg-type]
    assert from_timeline == looked_up
    return looked_up


@pytest.mark.django_db
def test_the_timeline_is_the_visible_turns_in_time_then_id_order(tenant: Tenant) -> None:
    late = ingest(tenant, "late", minutes=10)
    twins = sorted(
        [ingest(tenant, "twin a", minutes=5), ingest(tenant, "twin b", minutes=5)],
        key=lambda e: e.id,
    )
    gone = ingest(tenant, "forgotten", minutes=7)
    Event.objects.filter(pk=gone.pk).update(forgotten_at=timezone.now())
    ingest(tenant, "another user", minutes=6, user_id="u2")

    rows = locality.timeline_send(RecallScope(tenant=tenant, user_id="u1"))()

    assert [row[0] for row in rows] == [twins[0].id, twins[1].id, late.id]
    # Times in microseconds since the epoch, exact.
    assert rows[2][1] - rows[0][1] == 5 * 60 * 1_000_000
    assert rows[2][1] == int(late.event_time.timestamp()) * 1_000_000 + late.event_time.microsecond


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

    # c1 goes on past c2's turn: for turn 2 that turn is a concurrent thread's, skipped.
    assert found[turns[2].id] == Around(
        before=(turns[1].id, turns[0].id), after=(turns[3].id, loose.id)
    )
    # c2 does not go on past c1's turns: they are its neighbours.
    assert found[other.id] == Around(
        before=(turns[1].id, turns[0].id), after=(turns[2].id, turns[3].id)
    )
    assert set(found) == {turns[2].id, other.id}  # forgotten and unknown ids: nothing
    assert turns_around(scope, []) == {}
    # With the skip off, the timeline alone decides.
    locality.SKIP_INTERLEAVED_THREADS = False
    try:
        found = turns_around(scope, [turns[2].id], reach=2)
    finally:
        locality.SKIP_INTERLEAVED_THREADS = True
    assert found[turns[2].id].before == (other.id, turns[1].id)


@pytest.mark.django_db
def test_threads_one_after_the_other_are_neighbours_interleaved_ones_are_not(
    tenant: Tenant,
) -> None:
    """A thread per visit (one after the other) gives the same neighbours as one id or
    none; two threads at once (their turns alternating) are two conversations."""
    visit_a = [ingest(tenant, f"a {i}", minutes=i, conversation_id="visit-a") for i in range(3)]
    visit_b = [ingest(tenant, f"b {i}", minutes=5 + i, conversation_id="visit-b") for i in range(3)]
    tab_x = [
        ingest(tenant, f"x {i}", minutes=20 + 2 * i, conversation_id="tab-x") for i in range(3)
    ]
    tab_y = [
        ingest(tenant, f"y {i}", minutes=21 + 2 * i, conversation_id="tab-y") for i in range(3)
    ]
    scope = RecallScope(tenant=tenant, user_id="u1")

    found = turns_around(scope, [visit_a[2].id, visit_b[0].id, tab_x[1].id, tab_y[1].id], reach=2)

    assert found[visit_a[2].id].after == (visit_b[0].id, visit_b[1].id)
    assert found[visit_b[0].id].before == (visit_a[2].id, visit_a[1].id)
    assert found[tab_x[1].id] == Around(before=(tab_x[0].id, visit_b[2].id), after=(tab_x[2].id,))
    assert found[tab_y[1].id] == Around(before=(tab_y[0].id, visit_b[2].id), after=(tab_y[2].id,))


def test_own_thread_skips_only_turns_the_thread_goes_on_past() -> None:
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    t = BASE
    chain = [(a, t, "y"), (b, t, "x"), (c, t, ""), (d, t, "y")]
    assert locality.own_thread("x", chain) == [(b, t, "x"), (c, t, "")]
    assert locality.own_thread("", chain) == chain
    assert locality.own_thread("z", chain) == chain


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
def test_a_long_history_reads_only_the_candidates_a_scored_turn_can_be_near(
    tenant: Tenant,
) -> None:
    """With `scored`, the lookup leaves out a candidate whose nearest other scored turn is
    `reach` session gaps or more away (its neighbours raise no score), unless it is one of
    the first `anchors`; every candidate it keeps has the neighbours of the full read."""
    gap = 30  # minutes: timeline.SESSION_GAP
    # A sitting every 3 hours (4 turns, a minute apart): 4 x 30 minutes = 2 hours apart is
    # the window for reach 4; sittings 3 hours apart are out of each other's reach.
    sittings = [
        [ingest(tenant, f"sitting {s} turn {t}", minutes=180 * s + t) for t in range(4)]
        for s in range(5)
    ]
    # A turn 119 minutes after the last sitting's last turn: inside reach x gap of it.
    close = ingest(tenant, "just inside the window", minutes=180 * 4 + 3 + 4 * gap - 1)
    scope = RecallScope(tenant=tenant, user_id="u1")
    alone = [sittings[1][2].id, sittings[2][0].id]  # 3 hours from any other scored turn
    beside_scored = sittings[0][1].id  # beside sittings[0][2], scored, no candidate
    paired = [sittings[3][0].id, sittings[3][3].id]  # each other's neighbours
    edge = [sittings[4][3].id, close.id]  # 119 minutes apart
    candidates = [alone[0], *paired, beside_scored, *edge, alone[1]]
    scored = [*candidates, sittings[0][2].id]

    full = locality.turns_around(scope, candidates)
    pruned = locality.turns_around(scope, candidates, scored=scored, anchors=1)

    # alone[0] is kept as the first candidate (an anchor), alone[1] is left out; the
    # others each have a scored turn less than 2 hours away.
    assert set(pruned) == {alone[0], *paired, beside_scored, *edge}
    assert {key: full[key] for key in pruned} == pruned
    assert set(full) == set(candidates)
    # Not stopping at session breaks, time bounds nothing: every candidate is read.
    unbounded = locality.turns_around(
        scope, candidates, scored=scored, anchors=1, stop_at_session_break=False
    )
    assert set(unbounded) == set(candidates)
    # From the whole timeline (short histories), every candidate, as before.
    timeline = locality.timeline_send(scope)()
    assert locality.turns_around(scope, candidates, timeline=timeline, scored=scored) == full


@pytest.mark.django_db
def test_a_long_history_ranks_the_same_reading_fewer_neighbours(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sittings 3 hours apart. Twenty about trains, three turns each: hits near each
    # other. Ten about gardens, each answered "Yes." five minutes later, a turn that no
    # channel ranks: those hits are alone among the scored turns, and the first of them
    # are anchors whose reply the engine pulls in.
    for s in range(30):
        if s % 3 == 0:
            ingest(tenant, f"Sitting {s}: the gardens were lovely.", minutes=180 * s)
            ingest(tenant, "Yes.", minutes=180 * s + 5)
        else:
            for t in range(3):
                ingest(
                    tenant, f"Sitting {s}: we talked about trains, turn {t}.", minutes=180 * s + t
                )
    scope = RecallScope(tenant=tenant, user_id="u1")
    monkeypatch.setattr(locality, "TIMELINE_ROWS", 0)  # the per-candidate lookup
    read: list[tuple[int, int]] = []
    around_read = locality._around_read

    def counted(*args: object, **kwargs: object) -> object:
        found = around_read(*args, **kwargs)  # type: ignore[arg-type]
        read.append((len(args[1]), len(found)))  # type: ignore[arg-type]
        return found

    monkeypatch.setattr(locality, "_around_read", counted)
    for budget in (200, 1000):
        monkeypatch.setattr(locality, "PRUNE_LONELY", False)
        everything = retrieve(scope, "Which gardens did we talk about?", budget=budget)
        monkeypatch.setattr(locality, "PRUNE_LONELY", True)
        fewer = retrieve(scope, "Which gardens did we talk about?", budget=budget)
        assert fewer.fused == everything.fused
    (_, full_200), (candidates, pruned_200), (_, full_1000), (_, pruned_1000) = read
    assert full_200 == candidates
    assert pruned_200 < full_200 and pruned_1000 < full_1000
    replies = Event.objects.filter(content="Yes.").values_list("id", flat=True)
    assert {("event", i) for i in replies} & {key for key, _ in fewer.fused}


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


@pytest.mark.django_db
def test_a_short_history_is_read_whole_with_the_channels_and_ranks_the_same(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(12):
        ingest(tenant, f"We talked about trains and gardens, part {i}.", minutes=3 * i)
    ingest(tenant, "Which garden did you like?", minutes=60)
    ingest(tenant, "The rose garden by the station.", minutes=61)
    scope = RecallScope(tenant=tenant, user_id="u1")
    read: list[RecallScope] = []
    send = locality.timeline_send
    monkeypatch.setattr(locality, "timeline_send", lambda s: read.append(s) or send(s))

    whole = retrieve(scope, "Which garden was liked?", budget=500)
    assert read == [scope]  # 14 events: the whole timeline came with the channels
    monkeypatch.setattr(locality, "TIMELINE_ROWS", 0)
    looked_up = retrieve(scope, "Which garden was liked?", budget=500)

    assert read == [scope]  # not read again: each candidate's neighbours were looked up
    assert whole.fused == looked_up.fused
    assert len(whole.fused) > 10


def _around_general(
    timeline: locality.TimelineRows, event_ids: list[uuid.UUID], reach: int, stop: bool
) -> dict[uuid.UUID, Around]:
    """The general timeline path: each chain filtered by `own_thread`, then cut."""
    found = locality._around_in(timeline, event_ids, 2 * reach)
    around = {}
    for event_id, moment, thread, before, after in found:
        sides = []
        for chain in (before, after):
            timed = [(i, t) for i, t, _ in locality.own_thread(thread, chain)][:reach]
            sides.append(
                locality._same_session(moment, timed) if stop else tuple(i for i, _ in timed)
            )
        around[event_id] = Around(before=sides[0], after=sides[1])
    return around


@pytest.mark.parametrize("layout", ["one id", "no id", "one per sitting", "some without"])
def test_the_timeline_read_by_position_gives_the_general_paths_neighbours(layout: str) -> None:
    """Where no two ids interleave, the neighbours read by position are those of the
    chains `own_thread` filters (random timelines: gaps within and across sittings)."""
    import random

    rng = random.Random(layout)
    gap = locality._GAP_MICROS
    for _ in range(30):
        timeline: locality.TimelineRows = []
        moment = 0
        for sitting in range(rng.randint(1, 6)):
            moment += gap * rng.randint(1, 3)
            for _turn in range(rng.randint(1, 12)):
                moment += rng.choice([0, 1_000_000, 60_000_000, gap // 2, gap - 1, gap])
                thread = {
                    "one id": "c",
                    "no id": "",
                    "one per sitting": f"s{sitting}",
                    "some without": rng.choice([f"s{sitting}", ""]),
                }[layout]
                timeline.append((uuid.uuid4(), moment, thread))
        ids = [row[0] for row in timeline]
        asked = rng.sample(ids, k=min(len(ids), rng.randint(1, 10))) + [uuid.uuid4()]
        asked.append(asked[0])  # asked twice
        for reach in (1, 2, 4):
            for stop in (True, False):
                fast = locality._around_on_timeline(timeline, asked, reach, stop, True)
                assert fast == _around_general(timeline, asked, reach, stop)


def test_interleaved_ids_leave_the_timeline_to_the_general_path() -> None:
    a, b, c = (uuid.uuid4() for _ in range(3))
    interleaved = [(a, 0, "x"), (b, 1, "y"), (c, 2, "x")]
    assert locality._around_on_timeline(interleaved, [a], 2, True, True) is None
    # Without skipping interleaved threads no chain is filtered: read by position.
    assert locality._around_on_timeline(interleaved, [a], 2, True, False) == {
        a: Around(before=(), after=(b, c))
    }
