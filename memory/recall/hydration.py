"""Load the winners of a retrieval as model instances, cheaply.

Recall hydrates ~125 rows per request at a 2,000-token budget. Through the ORM that cost
18-29 ms for 250 rows (compiling an `IN` list of a few hundred UUIDs and building
instances with deferred fields) against ~0.4 ms of Postgres work. Here the visible rows
(`channels.Visible`) are narrowed by one array parameter, the SQL is executed directly
and rows become instances without `Model.__init__` (`_instance`): ~5 ms in all. Every
concrete field but the vector and the tsvector is loaded, so nothing downstream triggers
a lazy query. A fact also gets `source_event_ids`: the events that stated it
(FactSource), read in the same statement instead of a prefetch query.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db import models
from django.db.models.base import ModelState

from memory.models import Episode, Event, Fact, FactSource, Passage
from memory.passages import WHOLE_TEXT_CHARS
from memory.recall import channels, replica
from memory.recall.channels import RecallScope

M = TypeVar("M", bound=models.Model)
_HEAVY = {"embedding", "search"}
_EVENT_FIELDS = ("id", "content", "role", "event_time", "conversation_id", "time_notes")


def _load(
    rows: channels.Visible, ids: list[uuid.UUID], names: list[str], sources: bool = False
) -> Callable[[], dict[uuid.UUID, M]]:
    """Send the statement that reads `ids` among `rows` (`channels.send`: inside
    `channels.pipeline()` the statements of one hydration go out together, one round trip
    instead of three or four); returns the fetch."""
    if not ids:
        return dict
    columns, build = _reader(rows, names, sources)
    sql, params = rows.select(columns, "r.id = ANY(%s)")  # one array parameter
    fetch = channels.send(sql, [*params, ids])
    return lambda: {instance.pk: instance for instance in map(build, fetch())}


def _reader(
    rows: channels.Visible, names: list[str], sources: bool
) -> tuple[str, Callable[[tuple[Any, ...]], Any]]:
    """The select list for fields `names` of `rows`' model (and with `sources`, a fact's
    source events) and the function that makes a read row an instance."""
    model = channels.MODELS[rows.kind]
    fields = [f for f in model._meta.concrete_fields if f.name in names]
    attnames = [field.attname for field in fields]
    json_at = [i for i, field in enumerate(fields) if isinstance(field, models.JSONField)]
    times_at = [i for i, field in enumerate(fields) if isinstance(field, models.DateTimeField)]
    columns = ", ".join(_column(model, field) for field in fields)
    if sources:
        columns += (
            f', ARRAY(SELECT s.event_id FROM "{FactSource._meta.db_table}" s '
            f"WHERE s.fact_id = r.id ORDER BY s.id)"
        )

    def build(row: tuple[Any, ...]) -> Any:
        values = list(row[: len(attnames)])
        for i in json_at:  # without the ORM's converters jsonb arrives as text
            if isinstance(values[i], str):
                values[i] = json.loads(values[i])
        for i in times_at:
            if values[i] is not None:
                values[i] = _EPOCH + timedelta(microseconds=values[i])
        instance = _instance(model, attnames, values)
        if sources:
            instance.source_event_ids = [str(e) for e in row[-1] or []]
        return instance

    return columns, build


def _column(model: type[models.Model], field: models.Field) -> str:
    # An event's text is read up to WHOLE_TEXT_CHARS (+1, to tell a cut one): recall
    # shows an excerpt of it or of the passage that matched, never 1 MiB.
    if model is Event and field.name == "content":
        return f'left(r."content", {WHOLE_TEXT_CHARS + 1})'
    # Times travel as integer microseconds since the epoch (exact, loaded by psycopg in
    # C) and become the aware UTC datetimes Django's loader makes: its timestamptz loader
    # parses each one's text in Python (~150 per 2,000-token recall, a fact has five).
    if isinstance(field, models.DateTimeField):
        return f'(extract(epoch FROM r."{field.column}") * 1000000)::bigint'
    return f'r."{field.column}"'


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _instance(model: type[M], attnames: list[str], values: list[object]) -> M:
    """What `Model.from_db` builds for a row with some fields deferred, without running
    `Model.__init__` per field (~20 µs a row; ~2 ms of a 2,000-token recall): the loaded
    values go straight into the instance dict, and an unloaded field still loads lazily
    through its descriptor. Nothing here is saved: the instances are read-only views."""
    instance = model.__new__(model)
    instance.__dict__.update(zip(attnames, values, strict=True))
    instance._state = ModelState()
    instance._state.adding = False
    instance._state.db = replica.alias()
    return instance


def _light(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if f.name not in _HEAVY]


def load_events(scope: RecallScope, ids: list[uuid.UUID]) -> dict[uuid.UUID, Event]:
    """Visible events, each with at most the first WHOLE_TEXT_CHARS characters of its
    content and `content_cut` (True when there is more: a long event, shown through a
    passage)."""
    return events_send(scope, ids)()


def events_send(scope: RecallScope, ids: list[uuid.UUID]) -> Callable[[], dict[uuid.UUID, Event]]:
    """`load_events` sent (see `_load`); returns the fetch."""
    fetch: Callable[[], dict[uuid.UUID, Event]] = _load(
        channels.visible("event", scope), ids, list(_EVENT_FIELDS)
    )

    def events() -> dict[uuid.UUID, Event]:
        loaded = fetch()
        for event in loaded.values():
            event.content_cut = len(event.content) > WHOLE_TEXT_CHARS  # type: ignore[attr-defined]
            event.content = event.content[:WHOLE_TEXT_CHARS]
        return loaded

    return events


def load_facts(scope: RecallScope, ids: list[uuid.UUID]) -> dict[uuid.UUID, Fact]:
    """Visible current facts, each with `source_event_ids` (its FactSource events)."""
    return facts_send(scope, ids)()


def facts_send(scope: RecallScope, ids: list[uuid.UUID]) -> Callable[[], dict[uuid.UUID, Fact]]:
    """`load_facts` sent (see `_load`); returns the fetch."""
    return _load(channels.visible("fact", scope), ids, _light(Fact), sources=True)


def instructions_send(scope: RecallScope, kind: str, limit: int) -> Callable[[], list[Fact]]:
    """Send the statement that reads the scope's `limit` newest current facts of `kind`
    (with `source_event_ids`, as `load_facts`); returns the fetch. Recall sends it with its
    channels, so the pinned instructions cost no round trip of their own."""
    columns, build = _reader(channels.visible("fact", scope), _light(Fact), sources=True)
    sql, params = channels.visible("fact", scope).select(columns, "r.kind = %s")
    fetch = channels.send(
        f"{sql} ORDER BY r.event_time DESC, r.created_at DESC LIMIT %s", [*params, kind, limit]
    )
    return lambda: [build(row) for row in fetch()]


def facts_where_send(
    scope: RecallScope, where: str, params: list[object], order: str, limit: int
) -> Callable[[], list[Fact]]:
    """Send the statement that reads the scope's visible current facts matching `where`
    (on alias r), ordered by `order`, at most `limit` (with `source_event_ids`, as
    `load_facts`); returns the fetch."""
    rows = channels.visible("fact", scope)
    columns, build = _reader(rows, _light(Fact), sources=True)
    sql, visible_params = rows.select(columns, where)
    fetch = channels.send(f"{sql} ORDER BY {order} LIMIT %s", [*visible_params, *params, limit])
    return lambda: [build(row) for row in fetch()]


def load_episodes(scope: RecallScope, ids: list[uuid.UUID]) -> dict[uuid.UUID, Episode]:
    return episodes_send(scope, ids)()


def episodes_send(
    scope: RecallScope, ids: list[uuid.UUID]
) -> Callable[[], dict[uuid.UUID, Episode]]:
    """`load_episodes` sent (see `_load`); returns the fetch."""
    return _load(channels.visible("episode", scope), ids, _light(Episode))


def load_passage_texts(passages: dict[uuid.UUID, uuid.UUID]) -> dict[uuid.UUID, str]:
    """{event id: passage id} -> {event id: passage text}. The passages were found among
    the visible events' passages and their events were hydrated as visible."""
    return passage_texts_send(passages)()


def passage_texts_send(
    passages: dict[uuid.UUID, uuid.UUID],
) -> Callable[[], dict[uuid.UUID, str]]:
    """`load_passage_texts` sent (see `_load`); returns the fetch."""
    if not passages:
        return dict
    fetch = channels.send(
        f"SELECT event_id, text FROM {Passage._meta.db_table} WHERE id = ANY(%s)",
        [list(passages.values())],
    )
    return lambda: {
        event_id: text for event_id, text in fetch() if passages.get(event_id) is not None
    }
