"""Map: name each candidate's predicate and preview its resolution against the facts."""

from __future__ import annotations

from enrichment.pipeline.contract import Stage, nothing
from enrichment.pipeline.resolver import Resolver, normalise_object
from enrichment.pipeline.rows import candidates_of, events_in_order
from enrichment.propositions import CHANGE_FROM, CHANGE_TO
from memory.models import Candidate, Event, Fact, FactStatus
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


def _changes_name(events: list[Event], by_event: dict[object, list[Candidate]]) -> None:
    """Name a change statement ("switched from X to Y", `CHANGE_FROM`/`CHANGE_TO`) with the
    predicate of the user's current fact that holds the old value X, so that the new value
    supersedes it (or joins it, retiring X, for a set-valued predicate). One query per
    event that has such a statement; candidates with no stored old value keep theirs."""
    for event in events:
        found = by_event.get(event.pk, [])
        olds = [c for c in found if c.relation_phrase == CHANGE_FROM]
        if not olds:
            continue
        held: dict[tuple[str, str], str] = {}
        for subject, predicate, obj in (
            Fact.objects.filter(
                tenant_id=event.tenant_id,
                user_id=event.user_id,
                subject__in={c.subject for c in olds},
                status=FactStatus.CURRENT,
                negated=False,
            )
            .order_by("valid_from")
            .values_list("subject", "predicate", "object_text")
        ):
            held[(subject, normalise_object(obj))] = predicate
        for old in olds:
            predicate = held.get((old.subject, normalise_object(old.object_text)))
            if predicate is None:
                continue
            for candidate in found:
                if (
                    candidate.relation_phrase in (CHANGE_FROM, CHANGE_TO)
                    and candidate.source_start == old.source_start
                    and candidate.subject == old.subject
                ):
                    candidate.predicate = predicate


def map_apply(events: list[Event], _: None) -> None:
    """Name each candidate's predicate and preview its resolution (Gate decides for real,
    under the user lock, because other events may change the facts in between)."""
    by_event = candidates_of(events)
    candidates = [c for found in by_event.values() for c in found]
    if not candidates:
        return
    _changes_name(events, by_event)
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
