"""Query understanding for recall: which predicates and which time window a query is about.

The predicate catalog and the temporal parser are memory's vocabulary (`memory.vocabulary`),
shared with enrichment's Map stage so that both agree on what a phrase means. Relative
dates in rendered turns are `memory.time_notes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from memory.vocabulary.predicates import predicates_route
from memory.vocabulary.temporal import temporal_resolve


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
            start=min(m.ts_start for m in matches),
            end=max(m.ts_end for m in matches),
            granularity=matches[0].granularity,
        )
    return Routing(predicates=[p.name for p in predicates], kinds=kinds, temporal=temporal)


def routing_warm() -> None:
    """Route one query with a time expression (web process start-up): dateparser's first
    call loads its language data, ~100 ms that would otherwise land on the first recall
    whose query names a time."""
    route_query("What did I do yesterday?", reference=datetime.now(UTC))
