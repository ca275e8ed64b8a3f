"""Time notes on turns: "yesterday" in a turn spoken on 8 May 2023 means 7 May 2023.

In this module: `time_notes_compute` (what Extract stores in `Event.time_notes`),
`notes_for` (what recall shows after a rendered turn) and `time_notes_backfill` (fills
events enriched before the field existed; `manage.py backfill_time_notes`).

Resolving the expressions runs dateparser, 1-3 ms for a turn with time words; turns are
immutable, so it is done once, at enrichment, rather than on every cold recall. The
resolution itself is `memory.recall.routing.relative_dates`.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from memory.models import Event
from memory.recall.routing import relative_dates, relative_dates_uncached

BACKFILL_BATCH = 500


def time_notes_compute(*, content: str, role: str, event_time: datetime) -> list[list[str]]:
    """The `time_notes` to store for an event: [expression, resolved date] pairs of its whole
    content, whitespace collapsed as recall renders it. A system event is never shown by
    recall, so it gets none without running the resolver."""
    if role == "system":
        return []
    text = " ".join(content.split())
    return [list(pair) for pair in relative_dates_uncached(text, event_time)]


def _occurs(text: str, expression: str, start: int) -> int:
    """Where `expression` occurs in `text` at or after `start` as whole words, or -1:
    "this week" must not be found inside "this weekend"."""
    at = text.find(expression, start)
    while at >= 0:
        end = at + len(expression)
        before_ok = at == 0 or not (text[at - 1].isalnum() and expression[0].isalnum())
        after_ok = end == len(text) or not (text[end].isalnum() and expression[-1].isalnum())
        if before_ok and after_ok:
            return at
        at = text.find(expression, at + 1)
    return -1


def notes_for(text: str, event_time: datetime,
              stored: list[list[str]] | None) -> tuple[tuple[str, str], ...]:
    """The (expression, resolved date) notes to show after `text`, a rendering of an event's
    content: the whole of it, or an excerpt of its sentences.

    `stored` is the event's `time_notes`. When it is not None, the result is the stored
    pairs whose expression occurs in `text` as whole words, in stored (text) order, each
    occurrence used once: a note whose sentence the excerpt cut away is left out. No
    dateparser. When it is None (enriched before the field existed, not yet backfilled),
    the notes are resolved now: `relative_dates(text, event_time)`.
    """
    if stored is None:
        return relative_dates(text, event_time)
    if not stored:
        return ()
    text = " ".join(text.split())  # stored expressions come from the collapsed content
    notes: list[tuple[str, str]] = []
    cursor: dict[str, int] = {}
    for expression, label in stored:
        at = _occurs(text, expression, cursor.get(expression, 0))
        if at >= 0:
            cursor[expression] = at + len(expression)
            notes.append((expression, label))
    return tuple(notes)


def time_notes_backfill(*, batch: int = BACKFILL_BATCH) -> int:
    """Compute `time_notes` for every event that has none yet (null), `batch` events at a
    time in id order (keyset). Idempotent: a row is written only while still null and not
    forgotten, so a concurrent Extract or forget is never overwritten. Returns how many
    events were filled."""
    filled = 0
    last_id = None
    while True:
        rows = Event.objects.filter(time_notes__isnull=True, forgotten_at__isnull=True)
        if last_id is not None:
            rows = rows.filter(id__gt=last_id)
        page = list(rows.order_by("id").values_list("id", "content", "role", "event_time")
                    [:batch])
        if not page:
            return filled
        last_id = page[-1][0]
        notes = [Event._meta.get_field("time_notes").get_db_prep_save(
                    time_notes_compute(content=content, role=role, event_time=event_time),
                    connection)
                 for _, content, role, event_time in page]
        values = ", ".join(["(%s::uuid, %s::jsonb)"] * len(page))
        params: list[object] = []
        for (event_id, *_), value in zip(page, notes, strict=True):
            params += [str(event_id), value]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Event._meta.db_table} AS e SET time_notes = v.notes "
                f"FROM (VALUES {values}) AS v(id, notes) "
                "WHERE e.id = v.id AND e.time_notes IS NULL AND e.forgotten_at IS NULL",
                params)
            filled += cursor.rowcount
