"""Time notes: stored by Extract, read by recall through `notes_for`, backfilled by command."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection

from enrichment import pipeline
from memory.forget import ForgetScope, memory_forget
from memory.models import Event
from memory.time_notes import notes_for, time_notes_compute
from tenants.models import Tenant
from tests.factories import ingest, ingest_enriched

SPOKEN = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)  # a Monday


def _stored_type(event: Event) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT jsonb_typeof(time_notes) FROM memory_event WHERE id = %s", [event.pk]
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_extract_stores_the_notes_of_every_event_of_a_batch(tenant: Tenant) -> None:
    # Ingested with no task sent, so that one extract run takes all three as a batch.
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        dated = ingest(tenant, "I went to a support group yesterday.\nIt helped a lot.")
        plain = ingest(tenant, "I live in Oslo.", minutes=1)
        system = ingest(tenant, "You are helpful. Today is Monday.", minutes=2, role="system")
    assert dated.time_notes is None

    assert pipeline.stage_run(str(dated.id), "extract").ran is True

    for event in (dated, plain, system):
        event.refresh_from_db()
        assert event.stage == "extract"
    assert dated.time_notes == [["yesterday", "30 April 2024"]]
    assert plain.time_notes == []
    assert system.time_notes == [] and system.status == "skipped"  # never shown by recall
    # Stored as a JSON array, not as a JSON string holding one.
    assert _stored_type(dated) == _stored_type(plain) == "array"
    assert not Event.objects.filter(tenant=tenant, time_notes__isnull=True).exists()


@pytest.mark.django_db
def test_a_fully_enriched_turn_keeps_its_notes(tenant: Tenant) -> None:
    event = ingest_enriched(tenant, "Last week I adopted a dog. We walk every day.")
    assert event.status == "enriched"
    assert event.time_notes == [["Last week", "22 April 2024 – 28 April 2024"]]


def test_compute_resolves_the_whole_content_with_whitespace_collapsed() -> None:
    content = "Melanie: I ran a charity race last\n Saturday. Next month we go camping."
    assert time_notes_compute(content=content, role="user", event_time=SPOKEN) == [
        ["last Saturday", "6 May 2023"],
        ["Next month", "June 2023"],
    ]
    assert time_notes_compute(content=content, role="system", event_time=SPOKEN) == []


STORED = [["yesterday", "7 May 2023"], ["this week", "8 May 2023 – 14 May 2023"]]


def test_notes_for_keeps_only_the_expressions_of_the_rendered_excerpt() -> None:
    whole = "Caroline: I went yesterday. It was great. I go again this week."
    assert notes_for(whole, SPOKEN, STORED) == (
        ("yesterday", "7 May 2023"),
        ("this week", "8 May 2023 – 14 May 2023"),
    )
    excerpt = "Caroline: … It was great. I go again this week."
    assert notes_for(excerpt, SPOKEN, STORED) == (("this week", "8 May 2023 – 14 May 2023"),)
    # Whole words only: "this week" is not inside "this weekend".
    assert notes_for("Caroline: … I go again this weekend.", SPOKEN, STORED) == ()
    assert notes_for(whole, SPOKEN, []) == ()


def test_notes_for_uses_each_occurrence_once() -> None:
    stored = [["yesterday", "7 May 2023"], ["yesterday", "7 May 2023"]]
    assert notes_for("Yes. … I saw her yesterday.", SPOKEN, stored) == (
        ("yesterday", "7 May 2023"),
    )


def test_notes_for_resolves_when_nothing_is_stored_yet() -> None:
    assert notes_for("I went to a support group yesterday.", SPOKEN, None) == (
        ("yesterday", "7 May 2023"),
    )
    with mock.patch("memory.time_notes.temporal_resolve") as resolve:
        assert notes_for("I went yesterday, and last week too.", SPOKEN, STORED) == (
            ("yesterday", "7 May 2023"),
        )
    resolve.assert_not_called()


@pytest.mark.django_db
def test_backfill_fills_null_rows_only_and_is_idempotent(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    old = ingest_enriched(tenant, "I went to a support group yesterday.")
    plain = ingest_enriched(tenant, "I live in Oslo.", minutes=1)
    theirs = ingest_enriched(other_tenant, "Tomorrow I fly to Rome.", minutes=2)
    computed = ingest_enriched(tenant, "We met yesterday.", minutes=3)
    forgotten = ingest_enriched(tenant, "Yesterday was rough.", user_id="gone")
    memory_forget(tenant=tenant, scope=ForgetScope(user_id="gone"))
    # As if enriched before the field existed; `computed` holds a value it must keep.
    Event.objects.filter(pk__in=[old.pk, plain.pk, theirs.pk]).update(time_notes=None)
    Event.objects.filter(pk=computed.pk).update(time_notes=[["kept", "as is"]])

    out = StringIO()
    call_command("backfill_time_notes", "--batch", "2", stdout=out)

    assert out.getvalue() == "3 events filled with time notes\n"
    notes = dict(Event.objects.values_list("id", "time_notes"))
    assert notes[old.pk] == [["yesterday", "30 April 2024"]]
    assert notes[plain.pk] == []
    assert notes[theirs.pk] == [["Tomorrow", "2 May 2024"]]
    assert notes[computed.pk] == [["kept", "as is"]]
    assert notes[forgotten.pk] is None
    assert _stored_type(old) == "array"

    out = StringIO()
    call_command("backfill_time_notes", stdout=out)
    assert out.getvalue() == "0 events filled with time notes\n"
    assert dict(Event.objects.values_list("id", "time_notes")) == notes


@pytest.mark.django_db
def test_forget_clears_the_notes_derived_from_the_content(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = ingest_enriched(tenant, "I went to a support group yesterday.")
    theirs = ingest_enriched(other_tenant, "I went to a support group yesterday.")

    memory_forget(tenant=tenant, scope=ForgetScope(user_id="u1"))

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.forgotten_at is not None and mine.time_notes is None
    assert mine.content == "I went to a support group yesterday."
    assert theirs.forgotten_at is None
    assert theirs.time_notes == [["yesterday", "30 April 2024"]]


def test_note_span_reads_every_label_shape() -> None:
    from memory.time_notes import note_span

    day = datetime(2023, 5, 7, tzinfo=UTC)
    assert note_span("7 May 2023") == (day, datetime(2023, 5, 8, tzinfo=UTC))
    assert note_span("May 2023") == (
        datetime(2023, 5, 1, tzinfo=UTC),
        datetime(2023, 6, 1, tzinfo=UTC),
    )
    assert note_span("December 2023") == (
        datetime(2023, 12, 1, tzinfo=UTC),
        datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert note_span("2023") == (datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
    assert note_span("1 May 2023 – 7 May 2023") == (
        datetime(2023, 5, 1, tzinfo=UTC),
        datetime(2023, 5, 8, tzinfo=UTC),
    )
    assert note_span("the other day") is None


@pytest.mark.django_db
def test_the_temporal_channel_holds_turns_whose_note_falls_in_the_window(tenant: Tenant) -> None:
    """A turn said the next day about "yesterday" is about the queried day; a turn said
    the next day with no such note is not, and one said that day is."""
    from datetime import timedelta

    from memory.recall import channels
    from memory.recall.channels import RecallScope
    from tests.factories import BASE_TIME

    said_that_day = ingest_enriched(tenant, "The weather was grey.")
    about_it = ingest_enriched(tenant, "Yesterday I hiked up the ridge.", minutes=24 * 60)
    next_day = ingest_enriched(tenant, "I repaired the bike.", minutes=24 * 60 + 1)
    # The note must come from enrichment (stored), not be computed at recall.
    assert about_it.time_notes and not next_day.time_notes
    day = BASE_TIME.replace(hour=0, minute=0)
    scope = RecallScope(tenant=tenant, user_id="u1")
    found = channels.temporal_events_send(scope, day, day + timedelta(days=1))({})
    assert {key[1] for key in found} == {said_that_day.id, about_it.id}


def test_turns_said_in_the_window_are_read_before_noted_turns_said_earlier(
    tenant: Tenant,
) -> None:
    """The statement's row limit keeps the turns said inside the window: turns said in
    the weeks before it with time notes (a user with many turns a day) cannot crowd
    them out."""
    from datetime import timedelta

    from memory.recall import channels
    from memory.recall.channels import RecallScope
    from tests.factories import BASE_TIME

    earlier = [
        ingest_enriched(tenant, f"Yesterday I walked the dog, walk {i}.", minutes=i)
        for i in range(4)
    ]
    assert all(event.time_notes for event in earlier)
    in_window = ingest_enriched(tenant, "I repaired the bike.", minutes=10 * 24 * 60)
    day = (BASE_TIME + timedelta(days=10)).replace(hour=0, minute=0)
    scope = RecallScope(tenant=tenant, user_id="u1")
    with mock.patch.object(channels, "TEMPORAL_ROWS", 3):
        found = channels.temporal_events_send(scope, day, day + timedelta(days=1))({})
    assert ("event", in_window.id) in found


# The temporal statement before it was split in two (inside the window / noted near it):
# one range around the window filtered on the notes. The reference the split is held to.
_ONE_RANGE = (
    "SELECT r.id, r.event_time >= %s AND r.event_time < %s, r.time_notes, r.event_time "
    "FROM memory_event r WHERE {where} AND r.event_time >= %s AND r.event_time < %s "
    "AND ((r.event_time >= %s AND r.event_time < %s) OR r.time_notes <> '[]'::jsonb) "
    "ORDER BY 2 DESC, r.event_time LIMIT %s"
)


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [1000, 3])
def test_the_temporal_statement_reads_the_rows_of_one_range_filtered_on_notes(
    tenant: Tenant, limit: int
) -> None:
    """Inside the window with or without notes, noted turns within the reach before and
    after it; not a turn near it without notes, nor a noted one beyond the reach, nor a
    forgotten one; inside turns first. Row for row what the single filtered range read,
    also when the row limit cuts."""
    from datetime import timedelta

    from memory.recall import channels
    from memory.recall.channels import RecallScope
    from tests.factories import BASE_TIME

    day = (BASE_TIME + timedelta(days=40)).replace(hour=0, minute=0)
    minutes = int((day - BASE_TIME).total_seconds() // 60)
    texts = [
        (-35 * 24 * 60, "Yesterday I painted the fence."),  # noted, beyond the reach
        (-10 * 24 * 60, "Yesterday I hiked up the ridge."),  # noted, near before
        (-10 * 24 * 60 + 1, "I repaired the bike."),  # near, no note
        (60, "The weather was grey."),  # inside
        (120, "Yesterday I baked bread."),  # inside, noted
        (180, "I sold the old car."),  # inside
        (24 * 60 + 5, "Yesterday was the concert."),  # noted, near after
        (40 * 24 * 60, "Yesterday I swam in the lake."),  # noted, beyond the reach
    ]
    events = [ingest_enriched(tenant, text, minutes=minutes + at) for at, text in texts]
    assert events[1].time_notes and not events[2].time_notes
    forgotten = ingest_enriched(tenant, "Yesterday I lost my keys.", minutes=minutes + 200)
    Event.objects.filter(pk=forgotten.pk).update(forgotten_at=forgotten.event_time)
    scope = RecallScope(tenant=tenant, user_id="u1")
    start, end = day, day + timedelta(days=1)

    sent: list[object] = []
    real_send = channels.send

    def spy(sql: str, params: list[object], **kwargs: object) -> object:
        fetch = real_send(sql, params, **kwargs)  # type: ignore[arg-type]

        def rows() -> object:
            got = fetch()
            sent.append(got)
            return got

        return rows

    with (
        mock.patch.object(channels, "send", spy),
        mock.patch.object(channels, "TEMPORAL_ROWS", limit),
    ):
        channels.temporal_events_send(scope, start, end)({})
    where, params = channels.visible("event", scope).where()
    reach = channels.TEMPORAL_NOTE_REACH
    with connection.cursor() as cursor:
        cursor.execute(
            _ONE_RANGE.format(where=where),
            [start, end, *params, start - reach, end + reach, start, end, limit],
        )
        expected = cursor.fetchall()
    (got,) = sent
    # The notes of a turn said inside the window are not read (it is about the window).
    assert [(r[0], r[1], r[3]) for r in got] == [(r[0], r[1], r[3]) for r in expected]
    assert [r[2] for r in got if not r[1]] == [r[2] for r in expected if not r[1]]
    if limit == 1000:
        assert {r[0] for r in got} == {events[i].id for i in (1, 3, 4, 5, 6)}
    else:
        assert [r[0] for r in got] == [events[i].id for i in (3, 4, 5)]
