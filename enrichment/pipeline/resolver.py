"""The fact resolver: how a mapped candidate relates to the user's stored facts.

A statement is compared with the user's facts of the same subject and predicate in the
same visibility (scope, and project or conversation for scoped facts):
- same object and polarity: duplicate; the fact is reinforced (one mention per event).
- a conflict (a reversed negation, "likes" against "dislikes" of the same object, a new
  value of a single-valued predicate, or an instruction to the assistant that replaces a
  held one, `instruction_change`) is settled by authority, then time:
  an assistant statement never replaces a user's own (it is stored `contradicted`, linked
  to the fact it contradicts; a user's statement older than an assistant's fact overrules
  it the same way, so arrival order does not matter), unless it relays the user's own
  news ("Got it — you've moved to Leeds", `enrichment.pipeline.relayed`); otherwise the
  later statement supersedes the earlier one (which keeps its history: `valid_to`,
  `superseded_by`), a statement older than the current fact is stored as already
  superseded ("outdated"), and
  two statements of the same moment that disagree are a true contradiction.
- a duplicate stated earlier on the user's timeline than the fact's first known mention
  (it arrived late) becomes the fact's source and start, so the fact reads the same
  whatever order its mentions were ingested in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from enrichment.pipeline.instruction_change import instruction_replaces
from enrichment.pipeline.relayed import relays_user_news
from memory.models import Candidate, Event, Fact, FactSource, FactStatus, Scope
from memory.vocabulary.predicates import predicate_get

# Predicates whose positive statements deny each other for the same object.
_ANTONYMS = {"likes": "dislikes", "dislikes": "likes"}
_ARTICLES = ("the ", "a ", "an ")
# Relation phrases of a statement that one value replaced another ("changed my major to").
_REPLACING_RELATIONS = frozenset({"changed to"})


def normalise_object(text: str) -> str:
    """The form objects are compared in: lower case, no periods or commas, no article."""
    return _normalise(text)


def _normalise(text: str) -> str:
    words = " ".join(text.lower().replace(".", " ").replace(",", " ").split())
    for article in _ARTICLES:
        if words.startswith(article):
            return words[len(article) :]
    return words


def _visible_to(event: Event, fact: Fact) -> bool:
    """Whether a statement of this event can duplicate or conflict with the fact: same
    scope, and the same project or conversation when the scope narrows to one (a role-play
    conversation does not overwrite the user's global facts)."""
    if fact.scope != event.scope:
        return False
    if event.scope == Scope.PROJECT:
        return fact.project_id == event.project_id
    if event.scope == Scope.CONVERSATION:
        return fact.conversation_id == event.conversation_id
    return True


@dataclass
class Resolution:
    kind: str  # new | duplicate | supersede | contradiction | overrule | outdated
    target: Fact | None = None


@dataclass
class Resolver:
    """One user's facts for the subjects and predicates in play, held in memory while
    candidates are resolved in order (a later candidate, of the same event or a later one,
    sees what an earlier one did); `flush` writes the result with set-based statements."""

    facts: list[Fact]
    created: list[Fact] = field(default_factory=list)
    changed: dict[Any, Fact] = field(default_factory=dict)
    sources: dict[tuple[Any, Any], tuple[Event, str]] = field(default_factory=dict)
    # Facts whose start moved earlier (_restate_earlier): what they superseded ends there.
    restated: dict[Any, Fact] = field(default_factory=dict)

    @staticmethod
    def load(
        candidates: list[Candidate], events: dict[Any, Event]
    ) -> dict[tuple[str, str], Resolver]:
        """Resolvers for the users of the candidates' events, keyed (tenant id, user id)."""
        users = {
            (str(events[c.event_id].tenant_id), events[c.event_id].user_id) for c in candidates
        }
        resolvers = {user: Resolver(facts=[]) for user in users}
        if candidates:
            predicates = {c.predicate for c in candidates}
            predicates |= {_ANTONYMS[p] for p in predicates if p in _ANTONYMS}
            rows = Fact.objects.defer("search", "embedding").filter(
                tenant_id=events[candidates[0].event_id].tenant_id,
                user_id__in={u for _, u in users},
                subject__in={c.subject for c in candidates},
                predicate__in=predicates,
                status__in=[FactStatus.CURRENT, FactStatus.CONTRADICTED],
            )
            for fact in rows:
                resolvers[(str(fact.tenant_id), fact.user_id)].facts.append(fact)
        return resolvers

    def _related(self, event: Event, candidate: Candidate, status: str) -> list[Fact]:
        names = {candidate.predicate, _ANTONYMS.get(candidate.predicate, "")}
        return [
            f
            for f in self.facts
            if f.subject == candidate.subject
            and f.predicate in names
            and f.status == status
            and _visible_to(event, f)
        ]

    def resolve(self, event: Event, candidate: Candidate) -> Resolution:
        predicate = predicate_get(candidate.predicate)
        wanted = _normalise(candidate.object_text)
        current = self._related(event, candidate, FactStatus.CURRENT)
        for fact in current:
            if _normalise(fact.object_text) != wanted:
                continue
            same_sense = (fact.predicate == candidate.predicate) == (
                fact.negated == candidate.negated
            )
            if same_sense and fact.predicate == candidate.predicate:
                return Resolution("duplicate", fact)
            if same_sense:  # likes X vs not dislikes X: compatible, a new statement
                continue
            return self._conflict(event, candidate, fact)
        if (
            predicate.cardinality == "single"
            and predicate.conflict == "supersede"
            and not candidate.negated
        ):
            holding = [f for f in current if f.predicate == candidate.predicate and not f.negated]
            if holding:
                return self._conflict(event, candidate, max(holding, key=lambda f: f.valid_from))
        if (
            predicate.cardinality == "set"
            and candidate.relation_phrase in _REPLACING_RELATIONS
            and not candidate.negated
        ):
            # Set-valued, but "changed my major to economics" says the new value took the
            # held one's place: the latest held value is superseded.
            holding = [f for f in current if f.predicate == candidate.predicate and not f.negated]
            if holding:
                return self._conflict(event, candidate, max(holding, key=lambda f: f.valid_from))
        if candidate.predicate == "assistant_instruction" and not candidate.negated:
            # Set-valued, but a new instruction on the same dimension, or turning the same
            # thing off or on again, replaces the held one (`instruction_change`).
            replaced = [
                f
                for f in current
                if f.predicate == candidate.predicate
                and not f.negated
                and instruction_replaces(candidate.object_text, f.object_text)
            ]
            if replaced:
                return self._conflict(event, candidate, max(replaced, key=lambda f: f.valid_from))
        return Resolution("new")

    def _conflict(self, event: Event, candidate: Candidate, fact: Fact) -> Resolution:
        # An assistant acknowledging the user's news ("Got it — you've moved to Leeds") is
        # the user's word relayed: settled by time like the user's own (see `relayed`).
        speaker_is_assistant = event.role == "assistant" and not relays_user_news(
            candidate.source_text
        )
        fact_by_assistant = fact.source_role == "assistant"
        if speaker_is_assistant and not fact_by_assistant:
            # The user's own word stays current; the same claim repeated reinforces the
            # contradiction already recorded instead of adding another.
            for earlier in self._related(event, candidate, FactStatus.CONTRADICTED):
                if (
                    earlier.contradicts_id == fact.id
                    and earlier.negated == candidate.negated
                    and earlier.predicate == candidate.predicate
                    and _normalise(earlier.object_text) == _normalise(candidate.object_text)
                ):
                    return Resolution("duplicate", earlier)
            return Resolution("contradiction", fact)
        if fact_by_assistant and not speaker_is_assistant and event.event_time < fact.valid_from:
            return Resolution("overrule", fact)  # same outcome as if they came in order
        if event.event_time > fact.valid_from:
            return Resolution("supersede", fact)
        if event.event_time < fact.valid_from:
            return Resolution("outdated", fact)
        return Resolution("contradiction", fact)  # same moment, same authority

    def apply(self, event: Event, candidate: Candidate, resolution: Resolution) -> Fact:
        """Record the resolution in memory; returns the fact the candidate became."""
        target = resolution.target
        if resolution.kind == "duplicate" and target is not None:
            if (target.id, event.pk) not in self.sources:  # one mention per event
                target.mention_count += 1
                # Each independent mention makes the fact more certain, approaching 1.
                target.confidence = round(
                    1 - (1 - target.confidence) * (1 - candidate.confidence / 2), 4
                )
                target.importance = max(target.importance, candidate.utility or 0.0)
                if (
                    event.event_time < target.event_time
                    and target.source_role == event.role
                    and not self._succeeds_after(target, event)
                ):
                    self._restate_earlier(target, event, candidate)
                self._touch(target)
                self.sources[(target.id, event.pk)] = (event, candidate.source_text)
            return target
        status = {"contradiction": FactStatus.CONTRADICTED, "outdated": FactStatus.SUPERSEDED}.get(
            resolution.kind, FactStatus.CURRENT
        )
        fact = Fact(
            tenant_id=event.tenant_id,
            user_id=event.user_id,
            subject=candidate.subject,
            kind=candidate.kind,
            predicate=candidate.predicate,
            relation_phrase=candidate.relation_phrase,
            object_text=candidate.object_text,
            negated=candidate.negated,
            source_text=candidate.source_text,
            source_event=event,
            source_start=candidate.source_start,
            source_end=candidate.source_end,
            source_role=event.role,
            event_time=event.event_time,
            temporal=candidate.temporal,
            conversation_id=event.conversation_id,
            project_id=event.project_id,
            scope=event.scope,
            confidence=candidate.confidence,
            importance=candidate.utility or 0.5,
            valid_from=event.event_time,
            status=status,
        )
        self.created.append(fact)
        self.facts.append(fact)
        self.sources[(fact.id, event.pk)] = (event, candidate.source_text)
        if target is None:
            return fact
        if resolution.kind == "supersede":
            target.status, target.valid_to, target.superseded_by = (
                FactStatus.SUPERSEDED,
                event.event_time,
                fact,
            )
            self._touch(target)
        elif resolution.kind == "contradiction":
            fact.contradicts = target
        elif resolution.kind == "overrule":
            target.status, target.contradicts = FactStatus.CONTRADICTED, fact
            self._touch(target)
        elif resolution.kind == "outdated":
            fact.valid_to, fact.superseded_by = target.valid_from, target
            self._split_history(event, candidate, fact)
        return fact

    def _split_history(self, event: Event, candidate: Candidate, fact: Fact) -> None:
        """An outdated statement lands inside an older fact's validity: cut that short, so
        the history reads A until the statement, then the statement, then the current."""
        older = [
            f
            for f in self.facts
            if f.status == FactStatus.SUPERSEDED
            and f.subject == candidate.subject
            and f.predicate == candidate.predicate
            and f is not fact
            and f.valid_to is not None
            and f.valid_from < fact.valid_from < f.valid_to
            and _visible_to(event, f)
        ]
        if not older:
            older = [
                f
                for f in Fact.objects.defer("search", "embedding").filter(
                    tenant_id=event.tenant_id,
                    user_id=event.user_id,
                    subject=candidate.subject,
                    predicate=candidate.predicate,
                    status=FactStatus.SUPERSEDED,
                    valid_from__lt=fact.valid_from,
                    valid_to__gt=fact.valid_from,
                )
                if _visible_to(event, f)
            ]
            self.facts += older
        if older:
            cut = max(older, key=lambda f: f.valid_from)
            cut.valid_to, cut.superseded_by = fact.valid_from, fact
            self._touch(cut)

    def _succeeds_after(self, fact: Fact, event: Event) -> bool:
        """Whether a fact `fact` superseded started after `event`: then the mention does
        not move `fact`'s start (in time order it would have been superseded in between)."""
        if any(
            f.superseded_by is fact and f.valid_from >= event.event_time
            for f in self.facts
            if f.status == FactStatus.SUPERSEDED
        ):
            return True
        if fact.pk is None or any(fact is c for c in self.created):
            return False
        return Fact.objects.filter(
            superseded_by_id=fact.pk, valid_from__gte=event.event_time
        ).exists()

    def _restate_earlier(self, fact: Fact, event: Event, candidate: Candidate) -> None:
        """A mention earlier on the user's timeline than the fact's first known one
        arrived late (concurrent or shuffled ingest): it becomes the fact's source and
        start, as if the events had come in time order. Only for the same role, so an
        assistant's earlier echo does not take the user's authority over the fact."""
        fact.source_event = event
        fact.source_text = candidate.source_text
        fact.source_start, fact.source_end = candidate.source_start, candidate.source_end
        fact.event_time = event.event_time
        if fact.valid_from > event.event_time:
            fact.valid_from = event.event_time
        fact.temporal = candidate.temporal
        self.restated[fact.pk] = fact

    def _touch(self, fact: Fact) -> None:
        fact.updated_at = timezone.now()
        if not any(fact is c for c in self.created):
            self.changed[fact.pk] = fact


def resolvers_flush(resolvers: Iterable[Resolver]) -> set[tuple[str, str]]:
    """Write what the resolvers recorded; returns the users whose facts changed."""
    created, changed, sources, users = [], [], [], set()
    resolvers_list = list(resolvers)
    for resolver in resolvers_list:
        created += resolver.created
        changed += list(resolver.changed.values())
        sources += [
            FactSource(fact_id=fact_id, event=event, source_text=text)
            for (fact_id, _), (event, text) in resolver.sources.items()
        ]
        users |= {
            (str(f.tenant_id), f.user_id) for f in [*resolver.created, *resolver.changed.values()]
        }
        users |= {(str(e.tenant_id), e.user_id) for e, _ in resolver.sources.values()}
    if created:
        Fact.objects.bulk_create(created)
    if changed:
        Fact.objects.bulk_update(
            changed,
            [
                "status",
                "valid_to",
                "superseded_by",
                "contradicts",
                "mention_count",
                "confidence",
                "importance",
                "updated_at",
                # A late-arriving earlier mention (Resolver._restate_earlier).
                "source_event",
                "source_text",
                "source_start",
                "source_end",
                "event_time",
                "valid_from",
                "temporal",
            ],
        )
    for resolver in resolvers_list:
        for fact in resolver.restated.values():
            Fact.objects.filter(superseded_by_id=fact.pk, valid_to__gt=fact.valid_from).update(
                valid_to=fact.valid_from
            )
    if sources:
        FactSource.objects.bulk_create(sources, ignore_conflicts=True)
    return users


def resolve(*, event: Event, candidate: Candidate) -> tuple[str, Fact | None]:
    """How one mapped candidate relates to the user's stored facts (see the module doc):
    ("new" | "duplicate" | "supersede" | "contradiction" | "overrule" | "outdated", fact)."""
    resolver = Resolver.load([candidate], {event.pk: event})[(str(event.tenant_id), event.user_id)]
    resolution = resolver.resolve(event, candidate)
    return resolution.kind, resolution.target
