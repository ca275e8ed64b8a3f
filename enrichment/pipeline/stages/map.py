"""Map: name each candidate's predicate and preview its resolution against the facts."""

from __future__ import annotations

from enrichment.pipeline.contract import Stage, nothing
from enrichment.pipeline.resolver import Resolver
from enrichment.pipeline.rows import candidates_of, events_in_order
from memory.models import Candidate, Event
from memory.vocabulary.predicates import Predicate, predicate_get, predicate_map


def _mapped_predicate(candidate: Candidate) -> Predicate:
    if candidate.predicate:
        try:
            return predicate_get(candidate.predicate)
        except KeyError:  # an extractor named a predicate the catalog lacks
            pass
    return predicate_map(
        relation_phrase=candidate.relation_phrase, object_text=candidate.object_text
    )


def map_apply(events: list[Event], _: None) -> None:
    """Name each candidate's predicate and preview its resolution (Gate decides for real,
    under the user lock, because other events may change the facts in between)."""
    by_event = candidates_of(events)
    candidates = [c for found in by_event.values() for c in found]
    if not candidates:
        return
    for candidate in candidates:
        predicate = _mapped_predicate(candidate)
        candidate.predicate, candidate.kind = predicate.name, predicate.kind
    lookup = {e.pk: e for e in events}
    resolvers = Resolver.load(candidates, lookup)
    for event in events_in_order(events):
        resolver = resolvers.get((str(event.tenant_id), event.user_id))
        for candidate in by_event.get(event.pk, []):
            assert resolver is not None
            resolution = resolver.resolve(event, candidate)
            candidate.resolution = resolution.kind
            resolver.apply(event, candidate, resolution)  # in memory only: never flushed
    Candidate.objects.bulk_update(candidates, ["predicate", "kind", "resolution"])


STAGE = Stage(nothing, map_apply)
