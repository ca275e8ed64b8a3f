"""Vectors are stored in their rows (migration 0023, storage MAIN), not out of line in
TOAST: the exact search over a user's rows and the distance of every row the vector index
returns read the vector from the row's own page; and a row up to half a page is left whole
(`toast_tuple_target`), so its tsvector stays in line as well (the keyword channels read it).
Without the migration, a row over TOAST's ~2 kB whose largest value is its vector had the
vector moved out; with storage MAIN alone, the tsvector went out instead."""

from __future__ import annotations

import pytest
from django.db import connection

from memory.models import Event, Fact
from tenants.models import Tenant
from tests.factories import ingest

pytestmark = pytest.mark.django_db

VECTOR_TABLES = (
    "memory_event",
    "memory_fact",
    "memory_episode",
    "memory_passage",
    "memory_documentspan",
)


def test_every_vector_table_keeps_vectors_and_half_page_rows_whole() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, a.attstorage, c.reloptions FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE a.attname = 'embedding' AND NOT a.attisdropped AND c.relname = ANY(%s)",
            [list(VECTOR_TABLES)],
        )
        storage = {table: (kind, options) for table, kind, options in cursor.fetchall()}
    assert storage == dict.fromkeys(VECTOR_TABLES, ("m", ["toast_tuple_target=4080"]))


def _out_of_line(table: str, row_id: object) -> tuple[bool, bool]:
    """(the row's vector is in TOAST, its tsvector is in TOAST)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_toast_chunk_id(embedding) IS NOT NULL, "
            f"pg_column_toast_chunk_id(search) IS NOT NULL FROM {table} WHERE id = %s",
            [row_id],
        )
        vector, search = cursor.fetchone()
        return bool(vector), bool(search)


def test_a_turn_and_its_fact_keep_vector_and_tsvector_in_the_row(tenant: Tenant) -> None:
    from datetime import timedelta

    vector = [0.05] * 384
    # A turn of ~700 characters: the row (text, tsvector, vector) is over TOAST's ~2 kB,
    # and the vector (1,544 bytes) its largest value, which TOAST moved out first.
    long_text = " ".join(f"word{i * 7919 % 100_003}" for i in range(70))
    event = ingest(tenant, long_text)
    Event.objects.filter(pk=event.pk).update(embedding=vector)
    fact = Fact.objects.create(
        tenant=tenant,
        user_id="u1",
        subject="user",
        kind="preference",
        predicate="likes",
        relation_phrase="likes",
        object_text="tea",
        source_text=long_text,
        source_event=event,
        event_time=event.event_time + timedelta(minutes=1),
        valid_from=event.event_time,
        embedding=vector,
    )
    for table, row_id in (("memory_event", event.pk), ("memory_fact", fact.pk)):
        # Neither: the vector (exact search, distances) nor the tsvector (the keyword
        # channels' rescoring) costs a TOAST read.
        assert _out_of_line(table, row_id) == (False, False), table
    # and the value read back is the one written
    assert list(Event.objects.get(pk=event.pk).embedding) == pytest.approx(vector)
