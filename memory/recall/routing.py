"""Query understanding for recall: which predicates and which time window a query is about.

The predicate catalog and the temporal parser are pure modules of the enrichment app (no
models, no Celery, no I/O), shared so that Map and recall agree on what a phrase means.
This adapter is the one place where memory reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
