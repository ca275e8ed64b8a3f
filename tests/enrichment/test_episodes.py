"""Episodes: one per conversation and per session (30-minute gaps), summaries kept current
by the Embed stage, citing their events; deferred vectors under a backlog."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction

from enrichment import episodes, pipeline
from enrichment.episodes import BODY_CHARS, POOL_SIZE
from enrichment.highlights import sentence_score
from memory.models import Episode, Event
from tenants.models import Tenant
from tests.factories import BASE_TIME, ingest, ingest_enriched

pytestmark = pytest.mark.django_db


def at(minutes: int):  # noqa: ANN201
    return BASE_TIME + timedelta(minutes=minutes)


def cited(episode: Episode) -> set[str]:
    return set(episode.events.values_list("content", flat=True))


def test_a_conversation_and_its_sessions(tenant: Tenant) -> None:
    e1 = ingest_enriched(tenant, "I live in Lisbon and I work at Acme Robotics.")
    ingest_enriched(tenant, "My sister Anna lives in Rome.", minutes=10)
    ingest_enriched(tenant, "Thanks!", minutes=20)
    e4 = ingest_enriched(tenant, "I adopted a dog named Pixel last week.", minutes=120)

    rows = {e.session_key: e for e in Episode.objects.filter(tenant=tenant, user_id="u1")}
    first_key, second_key = f"20240501T090000-{e1.id.hex[:8]}", f"20240501T110000-{e4.id.hex[:8]}"
    assert set(rows) == {"", first_key, second_key}
    whole, first, second = rows[""], rows[first_key], rows[second_key]

    assert (first.event_count, first.first_event_time, first.last_event_time) == (3, at(0), at(20))
    assert cited(first) == {
        "I live in Lisbon and I work at Acme Robotics.",
        "My sister Anna lives in Rome.",
        "Thanks!",
    }
    # "Thanks!" is cited but too short to be worth a place in the summary.
    assert first.summary == (
        "Session 2024-05-01 09:00 UTC: I live in Lisbon and I work at "
        "Acme Robotics. My sister Anna lives in Rome."
    )
    assert (second.event_count, second.summary) == (
        1,
        "Session 2024-05-01 11:00 UTC: I adopted a dog named Pixel last week.",
    )
    assert (whole.event_count, whole.first_event_time, whole.last_event_time) == (4, at(0), at(120))
    assert whole.summary == (
        "Conversation on 2024-05-01: I live in Lisbon and I work at Acme "
        "Robotics. My sister Anna lives in Rome. I adopted a dog named "
        "Pixel last week."
    )
    for episode in (whole, first, second):
        assert episode.summarizer == "extractive"
        assert episode.embedding is not None and episode.embedding_stale is False


def test_an_event_that_closes_a_gap_joins_the_two_sessions(tenant: Tenant) -> None:
    e1 = ingest_enriched(tenant, "I live in Lisbon.")
    ingest_enriched(tenant, "I work at Acme Robotics.", minutes=50)
    assert Episode.objects.filter(tenant=tenant).exclude(session_key="").count() == 2

    ingest_enriched(tenant, "My sister Anna lives in Rome.", minutes=25)
    (session,) = Episode.objects.filter(tenant=tenant).exclude(session_key="")
    assert session.session_key == f"20240501T090000-{e1.id.hex[:8]}"
    assert (session.event_count, session.first_event_time, session.last_event_time) == (
        3,
        at(0),
        at(50),
    )
    assert session.summary == (
        "Session 2024-05-01 09:00 UTC: I live in Lisbon. My sister Anna "
        "lives in Rome. I work at Acme Robotics."
    )
    assert Episode.objects.get(tenant=tenant, session_key="").event_count == 3


def test_sessions_are_on_the_users_timeline_whatever_the_thread_ids(tenant: Tenant) -> None:
    # One sitting sent as two threads and a turn without any id: one session, and each
    # thread's own whole-conversation episode; the id-less turn is in the session only.
    e1 = ingest_enriched(tenant, "I live in Lisbon.", conversation_id="t1")
    ingest_enriched(tenant, "I work at Acme Robotics.", minutes=5, conversation_id="t2")
    ingest_enriched(tenant, "My sister Anna lives in Rome.", minutes=10, conversation_id="")

    (session,) = Episode.objects.filter(tenant=tenant).exclude(session_key="")
    assert (session.session_key, session.conversation_id, session.event_count) == (
        f"20240501T090000-{e1.id.hex[:8]}",
        "",
        3,
    )
    wholes = Episode.objects.filter(tenant=tenant, session_key="")
    assert sorted(wholes.values_list("conversation_id", "event_count")) == [("t1", 1), ("t2", 1)]


def test_the_summary_is_bounded_and_keeps_the_most_informative(tenant: Tenant) -> None:
    for i in range(12):
        ingest_enriched(
            tenant,
            # No named friend: since issue #15 "my friend Carla Mendes" is a fact of its
            # own (friend_of), which would make these notes the most informative.
            f"Note {i}: I visited the museum of modern art with a friend "
            f"from Porto and we talked for hours about her "
            f"plans for the summer of 202{i % 10}.",
            minutes=i,
        )
    ingest_enriched(
        tenant, "I live in Lisbon and I work at Acme Robotics as an engineer.", minutes=12
    )
    whole = Episode.objects.get(tenant=tenant, session_key="")
    header = "Conversation on 2024-05-01: "
    assert whole.summary.startswith(header)
    assert len(whole.summary) - len(header) <= BODY_CHARS
    assert len(whole.highlights) == POOL_SIZE
    assert "I live in Lisbon and I work at Acme Robotics as an engineer." in whole.summary
    assert whole.event_count == 13


def test_putting_an_event_in_twice_changes_nothing(tenant: Tenant) -> None:
    event = ingest_enriched(tenant, "I live in Lisbon.")
    before = list(
        Episode.objects.filter(tenant=tenant)
        .order_by("session_key")
        .values_list("event_count", "summary", "highlights")
    )
    event = Event.objects.get(pk=event.pk)
    with transaction.atomic():
        plan = episodes.episodes_plan(events=[event], defer=False)
        assert plan.texts == []  # nothing changed, nothing to embed
        episodes.episodes_apply(events=[event], plan=plan, embed=lambda texts: [])
    after = list(
        Episode.objects.filter(tenant=tenant)
        .order_by("session_key")
        .values_list("event_count", "summary", "highlights")
    )
    assert after == before
    assert all(e.events.count() == 1 for e in Episode.objects.filter(tenant=tenant))


def test_a_backlog_leaves_vectors_stale_until_the_refresh(tenant: Tenant) -> None:
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        first = ingest(tenant, "I live in Lisbon.")
        ingest(tenant, "I work at Acme Robotics.", minutes=1)
        ingest(tenant, "My sister Anna lives in Rome.", minutes=2)
    pipeline.stage_run(str(first.id), "tier")  # takes the other two along in every stage

    rows = Episode.objects.filter(tenant=tenant)
    assert [
        (e.event_count, e.embedding_stale, e.embedding is None)
        for e in rows.order_by("session_key")
    ] == [(3, True, True), (3, True, True)]
    assert pipeline.episodes_refresh() == 2
    assert [(e.embedding_stale, e.embedding is None) for e in rows.order_by("session_key")] == [
        (False, False),
        (False, False),
    ]
    assert pipeline.episodes_refresh() == 0


def test_scoped_and_system_events_stay_out_of_episodes(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Rome.", scope="conversation")
    ingest_enriched(tenant, "I prefer Vue.", scope="project", project_id="p1", minutes=1)
    ingest_enriched(tenant, "You are a helpful assistant.", role="system", minutes=2)
    assert Episode.objects.filter(tenant=tenant).count() == 0


def test_another_tenants_episodes_are_separate(tenant: Tenant, other_tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    ingest_enriched(other_tenant, "I live in Oslo.")
    ours = Episode.objects.get(tenant=tenant, session_key="")
    theirs = Episode.objects.get(tenant=other_tenant, session_key="")
    assert (cited(ours), cited(theirs)) == ({"I live in Lisbon."}, {"I live in Oslo."})
    assert ours.summary == "Conversation on 2024-05-01: I live in Lisbon."


def test_sentence_scores() -> None:
    text = "I moved to Lisbon in 2019 with Anna."
    # 0.8 facts + 0.1 x 2 names + 0.1 number + 0.02 x 8 words
    assert sentence_score(text=text, fact_utility=0.8, role="user") == 1.26
    assert sentence_score(text=text, fact_utility=0.8, role="assistant") == 0.63
    assert sentence_score(text="Wow, cool!", fact_utility=0.0, role="user") == 0.0
    assert (
        sentence_score(text="That sounds like a lot of fun", fact_utility=0.0, role="user") == 0.14
    )


def test_log_and_code_lines_are_no_summary_material() -> None:
    # They score well on numbers and capitals, but tell a summary nothing (on the long
    # user-assistant set they were 41 % of the sentences session summaries quoted).
    for line in (
        "21:29:27 INFO  species_lookup_table: processed batch size=855 in 2546ms",
        "const items = Object.fromEntries(Object.entries(entries).filter(([, w]) => w != null));",
        "pub async fn build_pathplanner(records: &[u8]) -> Result<Option<u32>, Error> {",
    ):
        assert sentence_score(text=line, fact_utility=0.0, role="user") == 0.0
    # Prose with numbers, acronyms and dates stays.
    for prose in (
        "The API gateway keeps growing in memory until it gets OOM-killed, every six hours.",
        "Hey Mel! Went to the LGBTQ support group on 7 May 2023 and it was so powerful.",
        "Memory has been flat at about 180 MB for eight hours, no OOM kills.",
    ):
        assert sentence_score(text=prose, fact_utility=0.0, role="user") > 0.0


def test_a_sentence_said_twice_is_one_highlight() -> None:
    def highlight(event: str, start: int, text: str, score: float) -> dict[str, object]:
        return {
            "event": event,
            "time": f"2025-01-0{event}T10:00:00+00:00",
            "start": start,
            "text": text,
            "score": score,
        }

    advice = "The numbers you shared suggest the bottleneck is I/O, not CPU."
    pool = episodes._merge(
        [highlight("1", 0, advice, 0.3), highlight("1", 80, "Deployed the LRU fix today.", 0.2)],
        [
            highlight(
                "2", 0, " the numbers you shared  suggest the bottleneck is I/O, not CPU.", 0.3
            )
        ],
        [highlight("3", 5, advice, 0.3)],
    )
    texts = [h["text"] for h in pool]
    assert texts == [advice, "Deployed the LRU fix today."]
    assert pool[0]["event"] == "1"  # the earliest telling
