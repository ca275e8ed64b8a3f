"""Gate: score each candidate; the admitted ones become facts, resolved under user locks."""

from __future__ import annotations

from enrichment.gate import DEFAULT_GATE_THRESHOLD, utility_score
from enrichment.pipeline.contract import Stage, nothing
from enrichment.pipeline.resolver import Resolver, resolvers_flush
from enrichment.pipeline.rows import candidates_of, events_in_order, rows_write
from enrichment.propositions import Proposition
from memory.locks import users_lock
from memory.models import Candidate, Event
from memory.versioning import users_memory_changed
from memory.vocabulary.predicates import predicate_get


def _as_proposition(candidate: Candidate) -> Proposition:
    return Proposition(
        subject=candidate.subject,
        relation_phrase=candidate.relation_phrase,
        object_text=candidate.object_text,
        source_text=candidate.source_text,
        start=candidate.source_start,
        end=candidate.source_end,
        predicate=candidate.predicate,
        negated=candidate.negated,
        confidence=candidate.confidence,
    )


def gate_apply(events: list[Event], _: None, threshold: float = DEFAULT_GATE_THRESHOLD) -> None:
    """Score each candidate; write the admitted ones as facts, count the dropped ones."""
    by_event = candidates_of(events, fact__isnull=True)
    candidates = [c for found in by_event.values() for c in found]
    for event in events:
        event.gated_count = 0
    if not candidates:
        return
    lookup = {e.pk: e for e in events}
    for candidate in candidates:
        candidate.utility = utility_score(
            proposition=_as_proposition(candidate), predicate=predicate_get(candidate.predicate)
        )
        candidate.admitted = candidate.utility >= threshold
        if not candidate.admitted:
            lookup[candidate.event_id].gated_count += 1
    admitted = [c for c in candidates if c.admitted]
    if admitted:
        # Re-resolve under the users' locks: other events may have changed facts since Map.
        users_lock(
            {(str(lookup[c.event_id].tenant_id), lookup[c.event_id].user_id) for c in admitted}
        )
        resolvers = Resolver.load(admitted, lookup)
        for event in events_in_order(events):
            for candidate in by_event.get(event.pk, []):
                if not candidate.admitted:
                    continue
                resolver = resolvers[(str(event.tenant_id), event.user_id)]
                resolution = resolver.resolve(event, candidate)
                candidate.resolution = resolution.kind
                candidate.fact = resolver.apply(event, candidate, resolution)
        users_memory_changed(users=resolvers_flush(resolvers.values()))
    rows_write(Candidate, candidates, ["utility", "admitted", "resolution", "fact"])


STAGE = Stage(nothing, gate_apply)
