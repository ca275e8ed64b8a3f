"""Load the winners of a retrieval as model instances, cheaply.

Recall hydrates ~150-250 rows per request at a 2,000-token budget. Through the ORM that
cost 18-29 ms (compiling an `IN` list of a few hundred UUIDs and building instances with
deferred fields) against ~0.4 ms of Postgres work. Here the channels' own visibility
querysets (so the rules live in one place) are narrowed by one array parameter, the SQL
is executed directly and rows become instances through `Model.from_db`: ~2-3 ms. Every
concrete field but the vector and the tsvector is loaded, so nothing downstream triggers
a lazy query. A fact also gets `source_event_ids`: the events that stated it
(FactSource), read in the same statement instead of a prefetch query.
"""

from __future__ import annotations

import json
import uuid
from typing import TypeVar

from django.db import connection, models
from django.db.models.expressions import RawSQL

from memory.models import Episode, Event, Fact, FactSource
from memory.recall import channels
from memory.recall.channels import RecallScope

M = TypeVar("M", bound=models.Model)
_HEAVY = {"embedding", "search"}
_EVENT_FIELDS = ("id", "content", "role", "event_time", "conversation_id")


def _load(rows: models.QuerySet[M], ids: list[uuid.UUID], names: list[str],
          sources: bool = False) -> dict[uuid.UUID, M]:
    model = rows.model
    table = model._meta.db_table
    rows = rows.extra(where=[f'"{table}"."id" = ANY(%s)'], params=[ids])  # one parameter
    if sources:
        rows = rows.annotate(source_event_ids=RawSQL(
            f'ARRAY(SELECT s.event_id FROM "{FactSource._meta.db_table}" s '
            f'WHERE s.fact_id = "{table}"."id" ORDER BY s.id)', ()))
    # In model order: that is the column order of the SQL Django compiles (values_list
    # reorders only the rows it builds itself); annotations come after the fields.
    fields = [f for f in model._meta.concrete_fields if f.name in names]
    attnames = [field.attname for field in fields]
    json_at = [i for i, field in enumerate(fields) if isinstance(field, models.JSONField)]
    sql, params = rows.values_list(*attnames, *(["source_event_ids"] if sources else []))\
        .query.sql_with_params()
    loaded: dict[uuid.UUID, M] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            values = list(row[: len(attnames)])
            for i in json_at:  # without the ORM's converters jsonb arrives as text
                if isinstance(values[i], str):
                    values[i] = json.loads(values[i])
            instance = model.from_db(connection.alias, attnames, values)
            if sources:
                instance.source_event_ids = [str(e) for e in row[-1] or []]  # type: ignore[attr-defined]
            loaded[instance.pk] = instance
    return loaded


def _light(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if f.name not in _HEAVY]


def load_events(scope: RecallScope, ids: list[uuid.UUID]) -> dict[uuid.UUID, Event]:
    return _load(channels.events_visible(scope), ids, list(_EVENT_FIELDS)) if ids else {}


def load_facts(scope: RecallScope, ids: list[uuid.UUID]) -> dict[uuid.UUID, Fact]:
    """Visible current facts, each with `source_event_ids` (its FactSource events)."""
    if not ids:
        return {}
    return _load(channels.facts_visible(scope), ids, _light(Fact), sources=True)


def load_episodes(scope: RecallScope, ids: list[uuid.UUID]) -> dict[uuid.UUID, Episode]:
    return _load(channels.episodes_visible(scope), ids, _light(Episode)) if ids else {}
