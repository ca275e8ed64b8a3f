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


# An expression that already names its date needs no note; one relative to the moment of
# speaking ("yesterday", "last week", "two years ago") does.
_RELATIVE = re.compile(r"\b(yesterday|today|tonight|tomorrow|ago|last|next|this|past|coming|"
                       r"weekend|previous)\b", re.IGNORECASE)
_ABSOLUTE = re.compile(r"\b(1[89]|20)\d\d\b")


def _label(start: datetime, end: datetime, granularity: str) -> str:
    start, last = start.astimezone(UTC), (end - timedelta(seconds=1)).astimezone(UTC)
    if granularity in ("hour", "day"):
        return start.strftime("%-d %B %Y")
    if granularity == "month":
        return start.strftime("%B %Y")
    if granularity == "year":
        return start.strftime("%Y")
    return f"{start:%-d %B %Y} – {last:%-d %B %Y}"


@lru_cache(maxsize=50_000)
def relative_dates(text: str, reference: datetime) -> tuple[tuple[str, str], ...]:
    """(expression, resolved date) for each relative time expression in `text` spoken at
    `reference`, e.g. ("yesterday", "7 May 2023"). Cached: turns are immutable and the
    same turns are packed again and again."""
    from enrichment.extraction.temporal import temporal_resolve

    notes = []
    for match in temporal_resolve(text, reference=reference):
        expression = match.raw_expression
        if _RELATIVE.search(expression) and not _ABSOLUTE.search(expression):
            notes.append((expression, _label(match.ts_start, match.ts_end, match.granularity)))
    return tuple(notes)
