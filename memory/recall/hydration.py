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
from typing import TypeVar

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
) -> dict[uuid.UUID, M]:
    model = channels.MODELS[rows.kind]
    fields = [f for f in model._meta.concrete_fields if f.name in names]
    attnames = [field.attname for field in fields]
    json_at = [i for i, field in enumerate(fields) if isinstance(field, models.JSONField)]
    columns = ", ".join(_column(model, field) for field in fields)
    if sources:
        columns += (
            f', ARRAY(SELECT s.event_id FROM "{FactSource._meta.db_table}" s '
            f"WHERE s.fact_id = r.id ORDER BY s.id)"
        )
    sql, params = rows.select(columns, "r.id = ANY(%s)")  # one array parameter
    loaded: dict[uuid.UUID, M] = {}
    with replica.reads().cursor() as cursor:
        cursor.execute(sql, [*params, ids])
        for row in cursor.fetchall():
            values = list(row[: len(attnames)])
            for i in json_at:  # without the ORM's converters jsonb arrives as text
                if isinstance(values[i], str):
                    values[i] = json.loads(values[i])
            instance = _instance(model, attnames, values)
            if sources:
                instance.source_event_ids = [str(e) for e in row[-1] or []]  # type: ignore[attr-defined]
            loaded[instance.pk] = instance  # type: ignore[assignment]
    return loaded


def _column(model: type[models.Model], field: models.Field) -> str:
    # An event's text is read up to WHOLE_TEXT_CHARS (+1, to tell a cut one): recall
    # shows an excerpt of it or of the passage that matched, never 1 MiB.
    if model is Event and field.name == "content":
        return f'left(r."content", {WHOLE_TEXT_CHARS + 1})'
    return f'r."{field.column}"'


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
    if not ids:
        return {}
    events: dict[uuid.UUID, Event] = _load(
        channels.visible("event", scope), ids, list(_EVENT_FIELDS)
    )
    for event in events.values():
        event.content_cut = len(event.content) > WHOLE_TEXT_CHARS  # type: ignore[attr-defined]
        event.content = event.content[:WHOLE_TEXT_CHARS]
    return events


def load_facts(scope: RecallScope, ids: list[uuid.UUID]) -> dict[uuid.UUID, Fact]:
    """Visible current facts, each with `source_event_ids` (its FactSource events)."""
    if not ids:
        return {}
    return _load(channels.visible("fact", scope), ids, _light(Fact), sources=True)


def load_episodes(scope: RecallScope, ids: list[uuid.UUID]) -> dict[uuid.UUID, Episode]:
    return _load(channels.visible("episode", scope), ids, _light(Episode)) if ids else {}


def load_passage_texts(passages: dict[uuid.UUID, uuid.UUID]) -> dict[uuid.UUID, str]:
    """{event id: passage id} -> {event id: passage text}. The passages were found among
    the visible events' passages and their events were hydrated as visible."""
    if not passages:
        return {}
    with replica.reads().cursor() as cursor:
        cursor.execute(
            f"SELECT event_id, text FROM {Passage._meta.db_table} WHERE id = ANY(%s)",
            [list(passages.values())],
        )
        return {
            event_id: text
            for event_id, text in cursor.fetchall()
            if passages.get(event_id) is not None
        }
