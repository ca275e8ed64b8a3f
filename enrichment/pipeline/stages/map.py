"""Map: name each candidate's predicate and preview its resolution against the facts."""

from __future__ import annotations

from typing import Any

from enrichment.pipeline.contract import Stage, nothing
from enrichment.pipeline.resolver import Resolver, normalise_object
from enrichment.pipeline.rows import candidates_of, events_in_order, rows_write
from enrichment.propositions import CHANGE_FROM, CHANGE_TO
from memory.models import Candidate, Event, Fact, FactStatus
from memory.vocabulary.predicates import (
    FALLBACK_PREDICATE,
    Predicate,
    predicate_get,
    predicate_map,
)


def _mapped_predicate(candidate: Candidate) -> Predicate:
    if candidate.predicate:
        try:
            return predicate_get(candidate.predicate)
        except KeyError:  # an extractor named a predicate the catalog lacks
            pass
    return predicate_map(
        relation_phrase=candidate.relation_phrase, object_text=candidate.object_text
    )


# Where a bare "I'm at X now" can be: the user's current one of these says which.
_PLACES_OF_ATTENDANCE = ("works_at", "studies_at")


def _changes_name(events: list[Event], by_event: dict[Any, list[Candidate]]) -> list[Candidate]:
    """Name a change statement (`CHANGE_FROM`/`CHANGE_TO`) from the user's current facts:
    "switched from X to Y" takes the predicate of the fact that holds X, so Y supersedes
    it (or joins it, X retired, for a set-valued predicate); a bare "I'm at Y now" with no
    kind of its own takes the kind of the user's latest workplace or school. One query per
    event that has such a statement; with no such fact, candidates keep what they had.
    An old value found by its head or last word takes the stored text ("the Canada plan"
    retires "move to Canada"); those candidates are returned, their object to be written."""
    renamed: list[Candidate] = []
    for event in events:
        found = [
            c for c in by_event.get(event.pk, []) if c.relation_phrase in (CHANGE_FROM, CHANGE_TO)
        ]
        if not found:
            continue
        held: dict[tuple[str, str], str] = {}
        texts: dict[tuple[str, str], str] = {}  # (subject, normalised) -> the stored text
        latest: dict[str, str] = {}  # subject -> latest place of attendance's predicate
        for subject, predicate, obj in (
            Fact.objects.filter(
                tenant_id=event.tenant_id,
                user_id=event.user_id,
                subject__in={c.subject for c in found},
                status=FactStatus.CURRENT,
                negated=False,
            )
            .order_by("valid_from")
            .values_list("subject", "predicate", "object_text")
        ):
            held[(subject, normalise_object(obj))] = predicate
            texts[(subject, normalise_object(obj))] = obj
            if predicate in _PLACES_OF_ATTENDANCE:
                latest[subject] = predicate
        for candidate in found:
            sentence = [
                c
                for c in found
                if c.source_start == candidate.source_start and c.subject == candidate.subject
            ]
            olds = [c for c in sentence if c.relation_phrase == CHANGE_FROM]
            named: str | None = None
            if olds:
                old = normalise_object(olds[0].object_text)
                key = (candidate.subject, old) if (candidate.subject, old) in held else None
                key = key or next(
                    # "from Team to Business" after "the Team plan": the held value's head;
                    # "dropped the Canada plan" after "move to Canada": its last word.
                    (
                        (s, o)
                        for (s, o) in held
                        if s == candidate.subject
                        and (o.startswith(old + " ") or o.endswith(" " + old))
                    ),
                    None,
                )
                named = held[key] if key else None
                if key and candidate.relation_phrase == CHANGE_FROM:
                    # The old value as stored, so its negation retires exactly that fact.
                    if candidate.object_text != texts[key]:
                        candidate.object_text = texts[key]
                        renamed.append(candidate)
            elif not candidate.predicate:
                named = latest.get(candidate.subject)
            if (
                named is None
                and candidate.relation_phrase == CHANGE_FROM
                and not candidate.predicate
            ):
                # A value said to have ended that no current fact holds names nothing; the
                # Gate writes no fact of it (whatever kind its words suggest).
                named = FALLBACK_PREDICATE.name
            if named is not None:
                candidate.predicate = named
    return renamed


def map_apply(events: list[Event], _: None) -> None:
    """Name each candidate's predicate and preview its resolution (Gate decides for real,
    under the user lock, because other events may change the facts in between)."""
    by_event = candidates_of(events)
    candidates = [c for found in by_event.values() for c in found]
    if not candidates:
        return
    renamed = _changes_name(events, by_event)
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
    rows_write(Candidate, candidates, ["predicate", "kind", "resolution"])
    rows_write(Candidate, renamed, ["object_text"])


STAGE = Stage(nothing, map_apply)
