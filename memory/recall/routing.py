"""Query understanding for recall: which predicates and which time window a query is about.

The predicate catalog and the temporal parser are pure modules of the enrichment app (no
models, no Celery, no I/O), shared so that Map and recall agree on what a phrase means.
This adapter is the one place where memory reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache


@dataclass(frozen=True)
class TemporalIntent:
    expression: str
    start: datetime
    end: datetime
    granularity: str


@dataclass(frozen=True)
class Routing:
    predicates: list[str]
    kinds: list[str]
    temporal: TemporalIntent | None


def route_query(query: str, *, reference: datetime) -> Routing:
    from enrichment.catalog import predicates_route
    from enrichment.extraction.temporal import temporal_resolve

    predicates = predicates_route(query)[:4]
    kinds: list[str] = []
    for predicate in predicates:
        if predicate.kind not in kinds:
            kinds.append(predicate.kind)
    matches = temporal_resolve(query, reference=reference)
    temporal = None
    if matches:
        temporal = TemporalIntent(
            expression=", ".join(m.raw_expression for m in matches),
            start=min(m.ts_start for m in matches), end=max(m.ts_end for m in matches),
            granularity=matches[0].granularity)
    return Routing(predicates=[p.name for p in predicates], kinds=kinds, temporal=temporal)


def routing_warm() -> None:
    """Route one query with a time expression (web process start-up): dateparser's first
    call loads its language data, ~100 ms that would otherwise land on the first recall
    whose query names a time."""
    route_query("What did I do yesterday?", reference=datetime.now(UTC))


# An expression that already names its date needs no note; one relative to the moment of
# speaking ("yesterday", "last week", "two years ago") does.
_RELATIVE = re.compile(r"\b(yesterday|today|tonight|tomorrow|ago|last|next|this|past|coming|"
                       r"weekend|previous)\b", re.IGNORECASE)
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
    re.IGNORECASE)


def _label(start: datetime, end: datetime, granularity: str) -> str:
    start, last = start.astimezone(UTC), (end - timedelta(seconds=1)).astimezone(UTC)
    if granularity in ("hour", "day"):
        return start.strftime("%-d %B %Y")
    if granularity == "month":
        return start.strftime("%B %Y")
    if granularity == "year":
        return start.strftime("%Y")
    return f"{start:%-d %B %Y} – {last:%-d %B %Y}"


def relative_dates_uncached(text: str, reference: datetime) -> tuple[tuple[str, str], ...]:
    """(expression, resolved date) for each relative time expression in `text` spoken at
    `reference`, in text order, e.g. ("yesterday", "7 May 2023"). An expression that names
    its year ("last May 2022") gets none."""
    from enrichment.extraction.temporal import temporal_resolve

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
