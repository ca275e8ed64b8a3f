"""The pipeline's raw access to memory's rows: the one module that knows their columns.

Stages and the runner read and write events through these functions; anything set-based
or in raw SQL on memory's tables that more than one stage needs lives here. The raw SQL
paths exist for speed (figures in each docstring) and do what the ORM twin would.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Model

from enrichment.pipeline.contract import STAGES
from memory.models import Candidate, EnrichmentStatus, Event

# Event columns a stage reads: the generated tsvector and the vector are never needed, and
# the time notes are only written (by Extract).
EVENT_DEFERRED = ("search", "embedding", "metadata", "time_notes")
# Event columns a stage may change (saved with the stage marker).
EVENT_STATE_FIELDS = [
    "stage",
    "status",
    "error",
    "state_changed_at",
    "enriched_at",
    "extractor",
    "tokens_used",
    "candidate_count",
    "gated_count",
]


def stages_done(event: Event) -> int:
    return STAGES.index(event.stage) + 1 if event.stage else 0


def event_finished(event: Event | None) -> bool:
    return (
        event is None
        or event.forgotten_at is not None
        or event.status in (EnrichmentStatus.SKIPPED, EnrichmentStatus.ENRICHED)
    )


def _event_columns() -> str:
    return ", ".join(f.column for f in Event._meta.concrete_fields if f.name not in EVENT_DEFERRED)


def event_get(event_id: str, *, lock: bool = False) -> Event | None:
    # Raw SQL: compiling the equivalent queryset cost ~1 ms a call, five or more per event.
    sql = f"SELECT {_event_columns()} FROM {Event._meta.db_table} WHERE id = %s" + (
        " FOR UPDATE" if lock else ""
    )
    found = list(Event.objects.raw(sql, [str(event_id)]))
    return found[0] if found else None


def commit_asynchronously() -> None:
    """Let this transaction's COMMIT return before its WAL reaches the disk.

    Safe here because everything a stage writes is derived from the event, which ingest
    committed durably: a crash can only lose the last fraction of a second of stage
    commits, and since a stage's writes and its marker commit together, the event is then
    simply at an earlier stage, which reconciliation re-runs. Saves a WAL flush per stage:
    1-3 ms each on this machine's disk under load (5 per event), measured with
    `bench.enrichment_throughput profile`.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


_SQL_TYPES = {
    "stage": "varchar",
    "status": "varchar",
    "error": "text",
    "state_changed_at": "timestamptz",
    "enriched_at": "timestamptz",
    "extractor": "varchar",
    "tokens_used": "integer",
    "candidate_count": "integer",
    "gated_count": "integer",
    "embedding": "vector",
    "time_notes": "jsonb",
}


def events_write(events: list[Event], fields: list[str]) -> None:
    """Write the fields of several events in one UPDATE ... FROM (VALUES ...). Django's
    bulk_update builds a CASE per field and row: 89 ms of Python for 32 events."""
    columns = [Event._meta.get_field(name) for name in fields]
    values = ", ".join(
        "(" + ", ".join(["%s::uuid"] + [f"%s::{_SQL_TYPES[name]}" for name in fields]) + ")"
        for _ in events
    )
    params: list[Any] = []
    for event in events:
        params.append(str(event.pk))
        params += [
            column.get_db_prep_save(getattr(event, column.attname), connection)
            for column in columns
        ]
    assignments = ", ".join(f"{c.column} = v.{c.column}" for c in columns)
    names = ", ".join(["id", *(c.column for c in columns)])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Event._meta.db_table} AS e SET {assignments} "
            f"FROM (VALUES {values}) AS v({names}) WHERE e.id = v.id",
            params,
        )


def rows_write(model: type[Model], rows: list[Any], fields: list[str], where: str = "") -> None:
    """Write these fields of the rows (by primary key) in one UPDATE ... FROM (VALUES ...):
    what `bulk_update` does, without its CASE per field and row, whose Python cost grows
    with rows x fields (a message's candidates in Map and Gate: ~2 ms of CPU per event
    under cProfile, `bench.enrichment_throughput profile --order message --cprofile`).
    `where` narrows the rows written (SQL on the table's alias `t`)."""
    if not rows:
        return
    meta = model._meta
    key: Any = meta.pk
    columns: list[Any] = [meta.get_field(name) for name in fields]
    casts = [
        f"%s::{field.db_type(connection) or field.rel_db_type(connection)}"
        for field in [key, *columns]
    ]
    values = ", ".join("(" + ", ".join(casts) + ")" for _ in rows)
    params: list[Any] = []
    for row in rows:
        params.append(key.get_db_prep_save(row.pk, connection))
        params += [
            column.get_db_prep_save(getattr(row, column.attname), connection) for column in columns
        ]
    pk: str = key.column
    assignments = ", ".join(f"{c.column} = v.{c.column}" for c in columns)
    names = ", ".join([pk, *(c.column for c in columns)])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {meta.db_table} AS t SET {assignments} "
            f"FROM (VALUES {values}) AS v({names}) WHERE t.{pk} = v.{pk}"
            + (f" AND {where}" if where else ""),
            params,
        )


def events_in_order(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.event_time, e.created_at, str(e.pk)))


def candidates_of(events: list[Event], **filters: Any) -> dict[Any, list[Candidate]]:
    with_candidates = [e.pk for e in events if e.candidate_count]
    out: dict[Any, list[Candidate]] = {}
    if with_candidates:
        for candidate in Candidate.objects.filter(event_id__in=with_candidates, **filters).order_by(
            "event_id", "ordinal"
        ):
            out.setdefault(candidate.event_id, []).append(candidate)
    return out
