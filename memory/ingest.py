"""Ingest: store events durably, one by one or a batch at a time.

Contains the retry/idempotency rules of API.md §3. Does not parse HTTP (the API layer
validates shapes) and does not enrich: callers enter through
`enrichment.services.event_ingest_and_enqueue` / `events_ingest_and_enqueue`, which
schedule enrichment after commit.

Both paths take the same transaction-scoped advisory lock per logical request (tenant +
idempotency key, or tenant + body hash), so a single ingest and a batch carrying the same
request serialise, and a batch behaves exactly as its items ingested one after another.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.utils import timezone

from claiv.errors import Conflict
from memory.documents.tags import document_tags_insert
from memory.models import Event, Scope, UserMemoryVersion
from memory.versioning import VERSION_SEQUENCE, user_memory_changed, users_memory_changed
from tenants.models import Tenant

logger = logging.getLogger("claiv.memory")

IDEMPOTENCY_WINDOW = timedelta(hours=24)
# An identical event within this window without an idempotency key is a client retry.
RETRY_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True)
class IngestResult:
    event: Event
    deduped: bool


def _body_hash(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lock_key(*parts: str) -> int:
    return int.from_bytes(
        hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big", signed=True
    )


def _request_lock_key(event: Event) -> int:
    """The advisory lock of the logical request `event` carries."""
    if event.idempotency_key is not None:
        return _lock_key(str(event.tenant_id), "idem", event.idempotency_key)
    return _lock_key(str(event.tenant_id), "body", event.body_hash)


def _advisory_locks(keys: Sequence[int]) -> None:
    """Serialise concurrent ingests of the same logical requests (transaction-scoped), in
    one statement. Taken in ascending order, so two batches never deadlock on each other
    (a single ingest takes one lock)."""
    with connection.cursor() as cursor:
        if len(keys) == 1:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [keys[0]])
        else:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k",
                [sorted(set(keys))],
            )


def _event_build(
    *,
    tenant: Tenant,
    now: datetime,
    user_id: str,
    type: str,
    content: str,
    conversation_id: str = "",
    role: str = "",
    event_time: datetime | None = None,
    idempotency_key: str | None = None,
    metadata: dict[str, Any] | None = None,
    project_id: str = "",
    scope: str = Scope.GLOBAL,
) -> Event:
    """The unsaved Event of one request, its body hash set."""
    metadata = metadata or {}
    body_hash = _body_hash(
        {
            "user_id": user_id,
            "conversation_id": conversation_id,
            "type": type,
            "role": role,
            "content": content,
            "event_time": event_time.isoformat() if event_time else None,
            "metadata": metadata,
            "project_id": project_id,
            "scope": scope,
        }
    )
    return Event(
        tenant=tenant,
        user_id=user_id,
        conversation_id=conversation_id,
        project_id=project_id,
        type=type,
        role=role,
        content=content,
        event_time=event_time or now,
        metadata=metadata,
        scope=scope,
        idempotency_key=idempotency_key,
        body_hash=body_hash,
    )


def _repeat_sql(*, by_key: bool) -> str:
    """The earlier event an ingest repeats: the latest with the same idempotency key within
    24 h, or (no key) the first with the same body within 60 s. Params: tenant, key or
    hash, window start."""
    table = Event._meta.db_table
    if by_key:
        return (
            f"SELECT id, body_hash FROM {table} WHERE tenant_id = %s "
            "AND idempotency_key = %s AND created_at >= %s ORDER BY created_at DESC LIMIT 1"
        )
    return (
        f"SELECT id, body_hash FROM {table} WHERE tenant_id = %s "
        "AND body_hash = %s AND created_at >= %s ORDER BY created_at LIMIT 1"
    )


_INSERT_FIELDS = [f for f in Event._meta.concrete_fields if not f.generated]
_COPY_SQL = "COPY {} ({}) FROM STDIN".format(
    connection.ops.quote_name(Event._meta.db_table),
    ", ".join(connection.ops.quote_name(str(f.column)) for f in _INSERT_FIELDS),
)


def _one_round_trip_possible() -> bool:
    """Whether the single-event ingest may be its own transaction in one round trip: only
    in autocommit, outside any `transaction.atomic` (a caller's transaction, or a test's),
    where nothing else belongs in the same transaction; and with client-side binding (the
    default), whose simple-protocol queries may hold two statements."""
    return (
        connection.get_autocommit()
        and not connection.in_atomic_block
        and not connection.settings_dict["OPTIONS"].get("server_side_binding")
    )


@functools.cache
def _insert_sql(*, by_key: bool) -> str:
    """`_insert_unless_repeat`'s statement. Built once per kind, like `_COPY_SQL`: asking
    every field for its column type on each single ingest was ~2 % of a web worker's CPU.
    Params: `_repeat_sql`'s, then one per `_INSERT_FIELDS`."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in _INSERT_FIELDS)
    # Casts: INSERT ... SELECT does not type bare parameters from the target columns.
    values = ", ".join(f"%s::{f.db_type(connection)}" for f in _INSERT_FIELDS)
    versions = UserMemoryVersion._meta.db_table
    return (
        f"WITH previous AS ({_repeat_sql(by_key=by_key)}), "
        f"inserted AS (INSERT INTO {Event._meta.db_table} ({columns}) SELECT {values} "
        "WHERE NOT EXISTS (SELECT 1 FROM previous) RETURNING tenant_id, user_id), "
        # The version as memory.versioning.user_memory_changed sets it: from the one
        # sequence, so a version is never handed out twice (see that module).
        f"bumped AS (INSERT INTO {versions} (tenant_id, user_id, version) "
        f"SELECT tenant_id, user_id, nextval('{VERSION_SEQUENCE}') FROM inserted "
        "ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = EXCLUDED.version) "
        "SELECT id::text, body_hash FROM previous"
    )


def _insert_unless_repeat(
    *, event: Event, now: datetime, lock: int | None = None
) -> tuple[str, str] | None:
    """In one statement: look for the event this one repeats and, only when there is none,
    insert it and bump its user's memory version. Returns the repeated event's (id,
    body_hash), or None when `event` was inserted (and is then a saved instance).

    Runs under the request's advisory lock, so its snapshot sees every committed ingest of
    the same request. Without `lock`, the caller's transaction took it in an earlier
    statement. With `lock` (autocommit only, see `_one_round_trip_possible`), the lock and
    the statement go in one simple-protocol query of two statements: PostgreSQL runs them
    as one implicit transaction, committed when the second ends (the lock is held until
    then), and the second takes its snapshot only after the first has the lock (read
    committed: a snapshot per statement). So BEGIN, the lock, the statement and COMMIT are
    one round trip instead of four, with the same guarantees. Replaces a duplicate read,
    the INSERT and the version bump by one statement; the ORM twin is `event_ingest_orm`,
    compared in tests/memory/test_ingest_batch.py.
    """
    by_key = event.idempotency_key is not None
    window = IDEMPOTENCY_WINDOW if by_key else RETRY_WINDOW
    sql = _insert_sql(by_key=by_key)
    params: list[Any] = [
        str(event.tenant_id),
        event.idempotency_key if by_key else event.body_hash,
        now - window,
    ]
    # The values `get_db_prep_save` gives, as the COPY computes them (`_row_values`: the
    # conversions that return their input unchanged are skipped), ~0.1 ms of CPU less.
    params += _row_values(connections[DEFAULT_DB_ALIAS])(event)
    with connection.cursor() as cursor:
        if lock is None:
            cursor.execute(sql, params)
        else:
            # Django's psycopg cursor binds parameters on the client and sends the query
            # with the simple protocol, which takes several statements.
            cursor.execute(f"SELECT pg_advisory_xact_lock(%s); {sql}", [lock, *params])
            cursor.nextset()
        row = cursor.fetchone()
    if row is not None:
        return str(row[0]), str(row[1])
    event._state.adding = False
    event._state.db = connection.alias
    return None


# Value types each field's `get_db_prep_save` returns unchanged on PostgreSQL (by internal
# type; exact types, so a str subclass such as a TextChoices member still goes through it).
# Aware datetimes pass too (see `_row_values`); JSON and vectors always go through it.
_PASSTHROUGH: dict[str, tuple[type, ...]] = {
    "CharField": (str,),
    "TextField": (str,),
    "PositiveIntegerField": (int,),
    "IntegerField": (int,),
    "UUIDField": (uuid.UUID,),
    "ForeignKey": (uuid.UUID,),
    "DateTimeField": (),
}


@functools.cache
def _row_plan() -> list[tuple[Callable[..., Any], Callable[..., Any], tuple[type, ...], bool]]:
    """Per `_INSERT_FIELDS` field: its `pre_save`, its `get_db_prep_save`, the value types
    that conversion returns unchanged, and whether it has such types."""
    plan: list[tuple[Callable[..., Any], Callable[..., Any], tuple[type, ...], bool]] = []
    for field in _INSERT_FIELDS:
        kind = field.get_internal_type()
        plan.append(
            (
                field.pre_save,
                field.get_db_prep_save,
                _PASSTHROUGH.get(kind, ()),
                kind in _PASSTHROUGH,
            )
        )
    return plan


def _row_values(db: Any) -> Callable[[Event], list[Any]]:
    """A function giving an event's COPY row: each field's `pre_save` (defaults,
    `auto_now_add`) then `get_db_prep_save`, skipped for values it would return unchanged
    (None, and the `_PASSTHROUGH` types): ~13 of 26 fields' conversion per row was half of
    a batch's Python time. `db` is the real connection, not the proxy (each proxy lookup
    goes through a context-local)."""
    plan = _row_plan()

    def values(event: Event) -> list[Any]:
        row = []
        for pre, prep, passthrough, fast in plan:
            value = pre(event, True)
            if fast and (
                value is None
                or type(value) in passthrough
                or (type(value) is datetime and value.tzinfo is not None)
            ):
                row.append(value)
            else:
                row.append(prep(value, db))
        return row

    return values


def _events_insert(events: Sequence[Event]) -> None:
    """INSERT `events` (unsaved, built by `_event_build`) with one COPY, in the caller's
    transaction; afterwards they are saved instances.

    The row values are the ones `Model.save` / `bulk_create` send (each field's `pre_save`
    and `get_db_prep_save`: defaults, `auto_now_add`, JSON adaptation), but without the ORM's
    statement compiler, which cost ~1 s of Python per 500 events; psycopg dumps the values
    in C. Same columns as `_insert_unless_repeat`; the generated `search` column is filled
    by Postgres. Compared field for field with the single-event path in
    tests/memory/test_ingest_batch.py.
    """
    if not events:
        return
    db = connections[DEFAULT_DB_ALIAS]
    row = _row_values(db)
    started = time.monotonic()
    with db.cursor() as cursor, db.wrap_database_errors:
        # The psycopg cursor under Django's wrapper: COPY is not part of the DB-API.
        with cursor.cursor.copy(_COPY_SQL) as copy:
            for event in events:
                copy.write_row(row(event))
    if db.queries_logged:
        # Django logs only what goes through its cursor; keep the COPY visible to
        # CaptureQueriesContext and DEBUG query logs like any other statement.
        db.queries_log.append(
            {
                "sql": f"{_COPY_SQL} -- {len(events)} rows",
                "time": f"{time.monotonic() - started:.3f}",
            }
        )
    for event in events:
        event._state.adding = False
        event._state.db = db.alias


def event_ingest(*, tenant: Tenant, now: datetime | None = None, **fields: Any) -> IngestResult:
    """Store an event, or return the one this request repeats.

    Same idempotency key within 24 h: same body → the original event (`deduped`); different
    body → Conflict. Without a key, an identical event within 60 s is a retry. Keywords as
    for `_event_build` (the validated ingest body).

    Round trips: one, outside a transaction (`_insert_unless_repeat` with `lock`); inside
    one, the advisory lock and the statement (repeat check + insert + version bump). A
    repeat reads the original once more.
    """
    now = now or timezone.now()
    fields, tag = _document_tag_split(fields)
    event = _event_build(tenant=tenant, now=now, **fields)
    if tag is None and _one_round_trip_possible():
        previous = _insert_unless_repeat(event=event, now=now, lock=_request_lock_key(event))
    else:
        # A document tag is written in the event's own transaction: the one-round-trip
        # statement would commit the event before its tag.
        with transaction.atomic():
            _advisory_locks([_request_lock_key(event)])
            previous = _insert_unless_repeat(event=event, now=now)
            if previous is None and tag is not None:
                _document_tags_insert([IngestResult(event=event, deduped=False)], [tag])
    if previous is None:
        return IngestResult(event=event, deduped=False)
    previous_id, previous_hash = previous
    if previous_hash != event.body_hash:
        raise Conflict(
            "This idempotency_key was used with a different body.",
            details={"event_id": previous_id},
        )
    return IngestResult(event=Event.objects.get(pk=previous_id), deduped=True)


def event_ingest_orm(
    *,
    tenant: Tenant,
    user_id: str,
    type: str,
    content: str,
    conversation_id: str = "",
    role: str = "",
    event_time: datetime | None = None,
    idempotency_key: str | None = None,
    metadata: dict[str, Any] | None = None,
    project_id: str = "",
    scope: str = Scope.GLOBAL,
) -> IngestResult:
    """The ORM twin of `event_ingest` (same rules, a statement per step); kept for the test
    that compares the two."""
    now = timezone.now()
    event = _event_build(
        tenant=tenant,
        now=now,
        user_id=user_id,
        type=type,
        content=content,
        conversation_id=conversation_id,
        role=role,
        event_time=event_time,
        idempotency_key=idempotency_key,
        metadata=metadata,
        project_id=project_id,
        scope=scope,
    )
    with transaction.atomic():
        tenant_events = Event.objects.filter(tenant=tenant)
        _advisory_locks([_request_lock_key(event)])
        if idempotency_key is not None:
            previous = (
                tenant_events.filter(
                    idempotency_key=idempotency_key, created_at__gte=now - IDEMPOTENCY_WINDOW
                )
                .order_by("-created_at")
                .first()
            )
            if previous is not None:
                if previous.body_hash != event.body_hash:
                    raise Conflict(
                        "This idempotency_key was used with a different body.",
                        details={"event_id": str(previous.id)},
                    )
                return IngestResult(event=previous, deduped=True)
        else:
            previous = (
                tenant_events.filter(body_hash=event.body_hash, created_at__gte=now - RETRY_WINDOW)
                .order_by("created_at")
                .first()
            )
            if previous is not None:
                return IngestResult(event=previous, deduped=True)
        event.save(force_insert=True)
        # A stored event is recallable before it is enriched (conversation recency, v6
        # history), so cached recalls of this user must not outlive it.
        user_memory_changed(tenant_id=tenant.pk, user_id=user_id)
    return IngestResult(event=event, deduped=False)


def _repeats_find(
    *, tenant: Tenant, keys: Sequence[str], hashes: Sequence[str], now: datetime
) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """Every duplicate check of a batch in one statement: for each idempotency key the
    latest event within 24 h (id, body_hash), for each body hash the first within 60 s."""
    table = Event._meta.db_table
    sql = (
        f"(SELECT DISTINCT ON (idempotency_key) 'key', idempotency_key, id::text, body_hash "
        f"FROM {table} WHERE tenant_id = %s AND idempotency_key = ANY(%s) "
        "AND created_at >= %s ORDER BY idempotency_key, created_at DESC) UNION ALL "
        f"(SELECT DISTINCT ON (body_hash) 'body', body_hash, id::text, body_hash "
        f"FROM {table} WHERE tenant_id = %s AND body_hash = ANY(%s) "
        "AND created_at >= %s ORDER BY body_hash, created_at)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                str(tenant.pk),
                list(keys),
                now - IDEMPOTENCY_WINDOW,
                str(tenant.pk),
                list(hashes),
                now - RETRY_WINDOW,
            ],
        )
        rows = cursor.fetchall()
    by_key = {row[1]: (row[2], row[3]) for row in rows if row[0] == "key"}
    by_hash = {row[1]: row[2] for row in rows if row[0] == "body"}
    return by_key, by_hash


def _events_store(
    *, tenant: Tenant, events: list[Event], now: datetime
) -> list[IngestResult | Exception]:
    """The batch's one transaction (the caller's atomic block): locks, one duplicate check,
    one INSERT, one version bump per user. Items are decided in order, so a later item may
    repeat an earlier one of the same batch exactly as it would on its own."""
    _advisory_locks([_request_lock_key(event) for event in events])
    by_key, by_hash = _repeats_find(
        tenant=tenant,
        keys=sorted({e.idempotency_key for e in events if e.idempotency_key is not None}),
        hashes=sorted({e.body_hash for e in events if e.idempotency_key is None}),
        now=now,
    )
    decided: list[Event | str | Exception] = []  # new event, id repeated, or the error
    new: list[Event] = []
    for event in events:
        if event.idempotency_key is not None:
            previous = by_key.get(event.idempotency_key)
            if previous is not None:
                previous_id, previous_hash = previous
                decided.append(
                    previous_id
                    if previous_hash == event.body_hash
                    else Conflict(
                        "This idempotency_key was used with a different body.",
                        details={"event_id": previous_id},
                    )
                )
                continue
            by_key[event.idempotency_key] = (str(event.id), event.body_hash)
        elif event.body_hash in by_hash:
            decided.append(by_hash[event.body_hash])
            continue
        # Stored now, so within 60 s any identical key-less item is a retry of it.
        by_hash.setdefault(event.body_hash, str(event.id))
        new.append(event)
        decided.append(event)
    _events_insert(new)
    users_memory_changed(users={(str(tenant.pk), e.user_id) for e in new})
    repeated = {d for d in decided if isinstance(d, str)}
    originals = Event.objects.in_bulk(list(repeated)) if repeated else {}
    by_id = {str(pk): event for pk, event in originals.items()}
    by_id.update({str(e.id): e for e in new})
    results: list[IngestResult | Exception] = []
    for d in decided:
        if isinstance(d, Exception):
            results.append(d)
        elif isinstance(d, Event):
            results.append(IngestResult(event=d, deduped=False))
        else:
            results.append(IngestResult(event=by_id[d], deduped=True))
    return results


def events_ingest(
    *, tenant: Tenant, items: Sequence[Mapping[str, Any]]
) -> list[IngestResult | Exception]:
    """Store a batch of validated ingest bodies (keywords as for `event_ingest`) in one
    transaction; one result per item, in order: an IngestResult, or the error of that item
    (Conflict) — which does not stop the others.

    The same rules as `event_ingest` applied to the items one after another. Should the
    one transaction fail in the database (an item Postgres refuses), the items are stored
    one by one instead, so a bad item fails alone.
    """
    if not items:
        return []
    now = timezone.now()
    split = [_document_tag_split(item) for item in items]
    events = [_event_build(tenant=tenant, now=now, **fields) for fields, _ in split]
    try:
        with transaction.atomic():
            stored = _events_store(tenant=tenant, events=events, now=now)
            _document_tags_insert(stored, [tag for _, tag in split])
            return stored
    except DatabaseError as exc:
        # The class only: a database message may quote the row's content.
        logger.warning(
            "batch transaction failed (%d items, %s); storing them one by one",
            len(items),
            type(exc).__name__,
        )
    results: list[IngestResult | Exception] = []
    for item in items:
        try:
            results.append(event_ingest(tenant=tenant, **item))
        except (Conflict, DatabaseError) as exc:
            results.append(exc)
    return results


# --- Document tags -------------------------------------------------------------------------

_TAG_FIELDS = ("document_id", "document_name")


def _document_tag_split(
    fields: Mapping[str, Any],
) -> tuple[dict[str, Any], tuple[str, str] | None]:
    """An ingest body without its document tag (the SDK's `document_id` / `document_name`,
    which are not part of the event nor of its body hash) -> (the event's fields, the tag
    (document id, name) or None)."""
    event_fields = {k: v for k, v in fields.items() if k not in _TAG_FIELDS}
    document_id = fields.get("document_id")
    if not isinstance(document_id, str):
        return event_fields, None
    name = fields.get("document_name")
    return event_fields, (document_id, name if isinstance(name, str) else "")


def _document_tags_insert(
    results: Sequence[IngestResult | Exception], tags: Sequence[tuple[str, str] | None]
) -> None:
    """Tag the new events of `results` with the document their body named (`tags`, one per
    result, in order) in one INSERT inside the caller's transaction: an event is never
    committed without its tag, so forgetting the document always reaches its facts. A
    repeat keeps the original's tags (it stored nothing)."""
    document_tags_insert(
        tagged=[
            (result.event, tag[0], tag[1])
            for result, tag in zip(results, tags, strict=True)
            if tag is not None and isinstance(result, IngestResult) and not result.deduped
        ]
    )
