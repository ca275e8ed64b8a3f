"""Time notes on turns: "yesterday" in a turn spoken on 8 May 2023 means 7 May 2023.

In this module: `time_notes_compute` (what Extract stores in `Event.time_notes`),
`notes_for` (what recall shows after a rendered turn) and `time_notes_backfill` (fills
events enriched before the field existed; `manage.py backfill_time_notes`).

Resolving the expressions runs dateparser, 1-3 ms for a turn with time words; turns are
immutable, so it is done once, at enrichment, rather than on every cold recall. The
resolution itself is `relative_dates` (the one place relative dates are resolved).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.db import connection

from memory.models import Event
from memory.vocabulary.temporal import temporal_resolve

BACKFILL_BATCH = 500


# An expression that already names its date needs no note; one relative to the moment of
# speaking ("yesterday", "last week", "two years ago") does.
_RELATIVE = re.compile(
    r"\b(yesterday|today|tonight|tomorrow|ago|last|next|this|past|coming|"
    r"weekend|previous)\b",
    re.IGNORECASE,
)
_ABSOLUTE = re.compile(r"\b(1[89]|20)\d\d\b")
# Cheap gate before dateparser (1-3 ms a turn): a text with no relative expression gets
# no note. A note's expression is a slice of the text matching _RELATIVE, and
# temporal_resolve only finds "last/next/this…" followed by a unit, a weekday or a part of
# day ("last week", "next fri", "this morning"); the gate also lets through what it does
# not resolve today (numbers in between, seasons, months), so that it stays a superset.
# Over the 5,882 LoCoMo turns it changes no note; dateparser then runs for 512 turns
# instead of 540 (434 get a note).
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_RELATIVE_GATE = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|ago|weekend"
    r"|(?:last|next|this|past|coming|previous)\s+"
    r"(?:(?:a|an|the|few|couple|of|several|\d+|one|two|three|four|five|six|seven|eight|nine"
    r"|ten|eleven|twelve)\s+)*"
    r"(?:seconds?|minutes?|hours?|days?|weeks?|fortnights?|months?|years?|decades?"
    r"|morning|afternoon|evening|night|spring|summer|fall|autumn|winter"
    rf"|{_WEEKDAYS}|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|{_MONTHS}"
    r"|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec))",
    re.IGNORECASE,
)


def _label(start: datetime, end: datetime, granularity: str) -> str:
    start, last = start.astimezone(UTC), (end - timedelta(seconds=1)).astimezone(UTC)
    if granularity in ("hour", "day"):
        return start.strftime("%-d %B %Y")
    if granularity == "month":
        return start.strftime("%B %Y")
    if granularity == "year":
        return start.strftime("%Y")
    return f"{start:%-d %B %Y} – {last:%-d %B %Y}"


def note_span(label: str) -> tuple[datetime, datetime] | None:
    """The [start, end) in UTC that a stored note's label (`_label`) names: "7 May 2023",
    "May 2023", "2023" or "1 May 2023 – 7 May 2023"; None for a label it cannot read."""
    label = label.strip()
    try:
        if " – " in label:
            first, last = label.split(" – ", 1)
            start = datetime.strptime(first, "%d %B %Y").replace(tzinfo=UTC)
            end = datetime.strptime(last, "%d %B %Y").replace(tzinfo=UTC) + timedelta(days=1)
            return start, end
        if label.isdigit():
            start = datetime(int(label), 1, 1, tzinfo=UTC)
            return start, start.replace(year=start.year + 1)
        if label[:1].isdigit():
            start = datetime.strptime(label, "%d %B %Y").replace(tzinfo=UTC)
            return start, start + timedelta(days=1)
        start = datetime.strptime(label, "%B %Y").replace(tzinfo=UTC)
        following = start.replace(day=28) + timedelta(days=4)
        return start, following.replace(day=1)
    except ValueError:
        return None


def relative_dates_uncached(text: str, reference: datetime) -> tuple[tuple[str, str], ...]:
    """(expression, resolved date) for each relative time expression in `text` spoken at
    `reference`, in text order, e.g. ("yesterday", "7 May 2023"). An expression that names
    its year ("last May 2022") gets none."""
    if not _RELATIVE_GATE.search(text):
        return ()
    notes = []
    for match in temporal_resolve(text, reference=reference):
        expression = match.raw_expression
        if _RELATIVE.search(expression) and not _ABSOLUTE.search(expression):
            notes.append((expression, _label(match.ts_start, match.ts_end, match.granularity)))
    return tuple(notes)


@lru_cache(maxsize=50_000)
def relative_dates(text: str, reference: datetime) -> tuple[tuple[str, str], ...]:
    """`relative_dates_uncached`, cached: turns are immutable and the same turns are packed
    again and again. Enrichment, which sees each turn once, calls the uncached one."""
    return relative_dates_uncached(text, reference)


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


def notes_for(
    text: str, event_time: datetime, stored: list[list[str]] | None
) -> tuple[tuple[str, str], ...]:
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
        page = list(rows.order_by("id").values_list("id", "content", "role", "event_time")[:batch])
        if not page:
            return filled
        last_id = page[-1][0]
        notes = [
            Event._meta.get_field("time_notes").get_db_prep_save(
                time_notes_compute(content=content, role=role, event_time=event_time), connection
            )
            for _, content, role, event_time in page
        ]
        values = ", ".join(["(%s::uuid, %s::jsonb)"] * len(page))
        params: list[object] = []
        for (event_id, *_), value in zip(page, notes, strict=True):
            params += [str(event_id), value]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Event._meta.db_table} AS e SET time_notes = v.notes "
                f"FROM (VALUES {values}) AS v(id, notes) "
                "WHERE e.id = v.id AND e.time_notes IS NULL AND e.forgotten_at IS NULL",
                params,
            )
            filled += cursor.rowcount
