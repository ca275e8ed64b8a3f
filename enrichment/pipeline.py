"""Enrichment stage logic: Extract → Map → Gate → Embed → Tier.

Plain functions over the database; no Celery and no DRF here (`tasks` wraps them).
Every stage is idempotent: the event row records the last stage done, and a stage's writes
commit in the same transaction as that marker, under the event's row lock. Slow work (an
LLM call, extraction, embedding) happens before the lock is taken (`prepare`), and its
result is written only if the stage is still undone (`apply`), so a re-run, a duplicate
message or a crash at any point leaves no duplicates. Asking for a stage runs any earlier
stage still undone.

Batching: a stage task takes on, besides its own event, up to ENRICH_BATCH - 1 other events
of the tenant that wait for the same stage (a backlog), locking those it can without
waiting (SKIP LOCKED) and marking their stage done in the same transaction; their own tasks
then find nothing to do. With no backlog a task does one event, so batching adds no lag;
under a backlog, per-event work becomes a few set-based statements per batch and one model
call per batch. Writes for several events are ordered by event time. A process remembers
for a minute which events it took along in a batch, so their own tasks return without a
query (`_batch_memo_skip`).

Map semantics (`_Resolver`): a statement is compared with the user's facts of the same
subject and predicate in the same visibility (scope, and project or conversation for scoped
facts):
- same object and polarity: duplicate; the fact is reinforced (one mention per event).
- a conflict (a reversed negation, "likes" against "dislikes" of the same object, or a new
  value of a single-valued predicate) is settled by authority, then time:
  an assistant statement never replaces a user's own (it is stored `contradicted`, linked
  to the fact it contradicts; a user's statement older than an assistant's fact overrules
  it the same way, so arrival order does not matter); otherwise the later statement
  supersedes the earlier one (which keeps its history: `valid_to`, `superseded_by`), a
  statement older than the current fact is stored as already superseded ("outdated"), and
  two statements of the same moment that disagree are a true contradiction.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from enrichment import episodes
from enrichment.catalog import Predicate, predicate_get, predicate_map
from enrichment.extractors import extractor
from enrichment.gate import DEFAULT_GATE_THRESHOLD, utility_score
from enrichment.propositions import ExtractionInput, Proposition
from memory.embedding import embedder
from memory.models import (
    Candidate,
    EnrichmentStatus,
    Event,
    Fact,
    FactSource,
    FactStatus,
    Scope,
    Tier,
)
from memory.time_notes import time_notes_compute
from memory.versioning import users_memory_changed

logger = logging.getLogger("claiv.enrichment")

STAGES = ("extract", "map", "gate", "embed", "tier")

# Event columns a stage reads: the generated tsvector and the vector are never needed, and
# the time notes are only written (by Extract).
_EVENT_DEFERRED = ("search", "embedding", "metadata", "time_notes")
# Event columns a stage may change (saved with the stage marker).
_EVENT_STATE_FIELDS = ["stage", "status", "error", "state_changed_at", "enriched_at",
                       "extractor", "tokens_used", "candidate_count", "gated_count"]


@dataclass(frozen=True)
class StageOutcome:
    event_id: str
    stage: str
    ran: bool  # False when the stage was already done, or the event is gone/forgotten/skipped


def _stages_done(event: Event) -> int:
    return STAGES.index(event.stage) + 1 if event.stage else 0


def _finished(event: Event | None) -> bool:
    return (event is None or event.forgotten_at is not None
            or event.status in (EnrichmentStatus.SKIPPED, EnrichmentStatus.ENRICHED))


def _event_columns() -> str:
    return ", ".join(f.column for f in Event._meta.concrete_fields
                     if f.name not in _EVENT_DEFERRED)


def _event_get(event_id: str, *, lock: bool = False) -> Event | None:
    # Raw SQL: compiling the equivalent queryset cost ~1 ms a call, five or more per event.
    sql = (f"SELECT {_event_columns()} FROM {Event._meta.db_table} WHERE id = %s"
           + (" FOR UPDATE" if lock else ""))
    found = list(Event.objects.raw(sql, [str(event_id)]))
    return found[0] if found else None


def _commit_asynchronously() -> None:
    """Let this transaction's COMMIT return before its WAL reaches the disk.

    Safe here because everything a stage writes is derived from the event, which ingest
    committed durably: a crash can only lose the last fraction of a second of stage
    commits, and since a stage's writes and its marker commit together, the event is then
    simply at an earlier stage, which reconciliation re-runs. Saves a WAL flush per stage:
    1-3 ms each on this machine's disk under load (5 per event), measured with
    `bench.enrichment_throughput profile`.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


def _nothing(events: list[Event]) -> None:
    """The `prepare` of a stage with no slow part: its apply runs on the first locked read."""
    return None


def _batch_size(stage: str) -> int:
    if stage == "extract" and settings.EXTRACTOR == "llm":
        return 1  # one LLM call per task: a batch would only queue calls behind each other
    return max(settings.ENRICH_BATCH, 1)


def _waiting(event: Event, stage: str, *, batch: bool) -> list[Event]:
    """Up to the batch size - 1 other events of the tenant waiting for `stage`, oldest
    first (index event_stage_waiting)."""
    limit = _batch_size(stage) - 1 if batch else 0
    if limit <= 0:
        return []
    index = STAGES.index(stage)
    rows = (Event.objects.defer(*_EVENT_DEFERRED)
            .filter(tenant_id=event.tenant_id, stage=STAGES[index - 1] if index else "",
                    status=(EnrichmentStatus.PROCESSING if index
                            else EnrichmentStatus.PENDING), forgotten_at__isnull=True)
            .exclude(pk=event.pk).order_by("created_at"))
    if stage == "embed":
        rows = rows.annotate(unembedded=ExpressionWrapper(Q(embedding__isnull=True),
                                                          output_field=BooleanField()))
    return list(rows[:limit])


def _lock_waiting(others: list[Event], stage: str) -> list[Event]:
    """The given events still waiting for `stage` whose row lock is free right now (SKIP
    LOCKED: never wait on, or deadlock with, a worker busy with one of them), locked."""
    if not others:
        return []
    index = STAGES.index(stage)
    taken = set(Event.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk__in=[e.pk for e in others],
                        stage=STAGES[index - 1] if index else "",
                        status=(EnrichmentStatus.PROCESSING if index
                                else EnrichmentStatus.PENDING), forgotten_at__isnull=True)
                .values_list("id", flat=True))
    return [e for e in others if e.pk in taken]


def _mark_done(events: list[Event], stage: str, extra: Iterable[str]) -> None:
    now = timezone.now()
    for event in events:
        if event.status != EnrichmentStatus.SKIPPED:
            event.stage = stage
            event.status = (EnrichmentStatus.ENRICHED if stage == STAGES[-1]
                            else EnrichmentStatus.PROCESSING)
        event.error = None
        event.state_changed_at = now
        if event.status == EnrichmentStatus.ENRICHED:
            event.enriched_at = now
    _events_write(events, [*_EVENT_STATE_FIELDS, *extra])


_SQL_TYPES = {"stage": "varchar", "status": "varchar", "error": "text",
              "state_changed_at": "timestamptz", "enriched_at": "timestamptz",
              "extractor": "varchar", "tokens_used": "integer", "candidate_count": "integer",
              "gated_count": "integer", "embedding": "vector", "time_notes": "jsonb"}


def _events_write(events: list[Event], fields: list[str]) -> None:
    """Write the fields of several events in one UPDATE ... FROM (VALUES ...). Django's
    bulk_update builds a CASE per field and row: 89 ms of Python for 32 events."""
    columns = [Event._meta.get_field(name) for name in fields]
    values = ", ".join("(" + ", ".join(["%s::uuid"] + [f"%s::{_SQL_TYPES[name]}"
                                                      for name in fields]) + ")"
                       for _ in events)
    params: list[Any] = []
    for event in events:
        params.append(str(event.pk))
        params += [column.get_db_prep_save(getattr(event, column.attname), connection)
                   for column in columns]
    assignments = ", ".join(f"{c.column} = v.{c.column}" for c in columns)
    names = ", ".join(["id", *(c.column for c in columns)])
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Event._meta.db_table} AS e SET {assignments} "
                       f"FROM (VALUES {values}) AS v({names}) WHERE e.id = v.id", params)


# Events whose stages this process did as part of another event's batch: event id ->
# (stages done, when). Under a backlog ~31 of 32 stage tasks find their stage done by a
# batch, and the unlocked look that tells them so cost ~0.75 ms of worker CPU each (raw
# SQL round trip and model building; 3.7 ms per event over its five tasks, py-spy on a
# 2,000-event drain). A stage, once committed, stays done except when an operator resets
# the event for re-enrichment (memory.console), so entries are dropped once used for the
# last stage they cover, and trusted for BATCH_MEMO_SECONDS only: a batch member's own
# task normally arrives within seconds. Should a reset event's task still be skipped,
# its next stage task runs every undone earlier stage anyway (see `stage_run`), and
# reconciliation re-sends a chain whose last stage was skipped.
_done_in_batch: dict[str, tuple[int, float]] = {}
BATCH_MEMO_SECONDS = 60.0
_BATCH_MEMO_MAX = 20_000


def _batch_memo_skip(event_id: str, target: int) -> bool:
    """Whether this process did stage `target` for the event in a batch, recently."""
    entry = _done_in_batch.get(event_id)
    if entry is None:
        return False
    done, when = entry
    expired = time.monotonic() - when > BATCH_MEMO_SECONDS
    if expired or done <= target + 1:  # untrusted, useless from here on, or used up now
        del _done_in_batch[event_id]
    return not expired and done > target


def _batch_memo_record(events: list[Event], done: int) -> None:
    """Remember that `done` stages of these events are done (called after the commit)."""
    now = time.monotonic()
    if len(_done_in_batch) + len(events) > _BATCH_MEMO_MAX:
        for key in [k for k, (_, when) in _done_in_batch.items()
                    if now - when > BATCH_MEMO_SECONDS]:
            del _done_in_batch[key]
        for key in list(_done_in_batch)[: len(_done_in_batch) // 2]:
            del _done_in_batch[key]  # the oldest half: a flood of batches nobody revisits
    for event in events:
        finished = event.status in (EnrichmentStatus.SKIPPED, EnrichmentStatus.ENRICHED)
        _done_in_batch[str(event.pk)] = (len(STAGES) if finished else done, now)


def stage_run(event_id: str, stage: str, *, batch: bool = True) -> StageOutcome:
    """Run `stage` (and any earlier undone stage) for the event, and, with `batch`, for
    other events waiting for the same stage when there is a backlog. Idempotent.

    A retry runs without `batch`: one event that makes a stage fail must fail alone, not
    take the events batched with it down too.
    """
    target = STAGES.index(stage)
    ran = False
    if batch and _batch_memo_skip(str(event_id), target):
        return StageOutcome(str(event_id), stage, ran)
    prepared: tuple[str, list[Event], Any] | None = None
    # A first look without a lock: under a backlog most tasks find their stage already done
    # by another task's batch, and return after this one query.
    event = _event_get(event_id)
    if _finished(event) or _stages_done(event) > target:  # type: ignore[arg-type]
        return StageOutcome(str(event_id), stage, ran)
    assert event is not None
    current = STAGES[_stages_done(event)]
    if _STAGE_FUNCTIONS[current][0] is not _nothing:
        # Do the next stage's slow part before taking the lock.
        group = [event, *_waiting(event, current, batch=batch)]
        prepared = (current, group, _STAGE_FUNCTIONS[current][0](group))
    while True:
        with transaction.atomic():
            _commit_asynchronously()
            event = _event_get(event_id, lock=True)
            if _finished(event) or _stages_done(event) > target:  # type: ignore[arg-type]
                return StageOutcome(str(event_id), stage, ran)
            assert event is not None
            current = STAGES[_stages_done(event)]
            prepare, apply = _STAGE_FUNCTIONS[current]
            if prepare is _nothing:
                group, payload = [event, *_waiting(event, current, batch=batch)], None
            elif prepared is not None and prepared[0] == current:
                group, payload = prepared[1], prepared[2]
            else:
                group = []
            if group:
                members = [event, *_lock_waiting(group[1:], current)]
                extra = apply(members, payload) or []
                _mark_done(members, current, extra)
                if len(members) > 1:
                    transaction.on_commit(partial(_batch_memo_record, members[1:],
                                                  STAGES.index(current) + 1))
                ran, prepared = True, None
                logger.debug("stage done event=%s stage=%s batch=%d", event_id, current,
                             len(members))
                if _finished(event) or _stages_done(event) > target:
                    return StageOutcome(str(event_id), stage, ran)
                continue
        # The next undone stage has a slow part: run it outside the lock (the transaction
        # above wrote nothing), then look again.
        group = [event, *_waiting(event, current, batch=batch)]
        prepared = (current, group, prepare(group))


# --- Extract ------------------------------------------------------------------------------

def _extract_prepare(events: list[Event]) -> dict[Any, Any]:
    """Per event: (extraction result, or None for stored but never extracted; time notes)."""
    results: dict[Any, Any] = {}
    for event in events:
        result = None if event.role == "system" else extractor().extract(
            ExtractionInput(content=event.content, event_type=event.type,
                            role=event.role or None, event_time=event.event_time))
        results[event.pk] = (result, time_notes_compute(
            content=event.content, role=event.role, event_time=event.event_time))
    return results


def _temporal_json(proposition: Proposition) -> list[dict[str, str]]:
    return [{"ts_start": t.ts_start.astimezone(UTC).isoformat(),
             "ts_end": t.ts_end.astimezone(UTC).isoformat(),
             "raw_expression": t.raw_expression, "granularity": t.granularity}
            for t in proposition.temporal]


def _extract_apply(events: list[Event], results: dict[Any, Any]) -> list[str]:
    # Cannot find rows on a first run (they would have committed with the marker); it makes
    # a run after an operator reset the stage replace rather than add.
    Candidate.objects.filter(event__in=events).delete()
    candidates = []
    for event in events:
        result, event.time_notes = results[event.pk]
        if result is None:
            event.status = EnrichmentStatus.SKIPPED
            event.stage = "extract"
            continue
        candidates += [
            Candidate(event=event, ordinal=i, subject=p.subject[:255],
                      relation_phrase=p.relation_phrase[:255], object_text=p.object_text,
                      source_text=p.source_text, source_start=p.start, source_end=p.end,
                      predicate=p.predicate or "", negated=p.negated, confidence=p.confidence,
                      temporal=_temporal_json(p))
            for i, p in enumerate(result.propositions)]
        event.extractor = result.extractor
        event.tokens_used = result.tokens_used
        event.candidate_count = len(result.propositions)
    if candidates:
        Candidate.objects.bulk_create(candidates)
    return ["time_notes"]


# --- Map ----------------------------------------------------------------------------------

# Predicates whose positive statements deny each other for the same object.
_ANTONYMS = {"likes": "dislikes", "dislikes": "likes"}
_ARTICLES = ("the ", "a ", "an ")


def _normalise(text: str) -> str:
    words = " ".join(text.lower().replace(".", " ").replace(",", " ").split())
    for article in _ARTICLES:
        if words.startswith(article):
            return words[len(article):]
    return words


def _user_key(tenant_id: Any, user_id: str) -> int:
    digest = hashlib.sha256(f"{tenant_id}\x1f{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _users_lock(users: set[tuple[str, str]]) -> None:
    """Serialise fact and episode writes per user (events of one user enriched at once).
    Several users' locks are taken in one statement in key order, so that two
    transactions locking overlapping sets cannot deadlock."""
    keys = sorted({_user_key(t, u) for t, u in users})
    if keys:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k "
                           "ORDER BY k", [keys])


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


def _mapped_predicate(candidate: Candidate) -> Predicate:
    if candidate.predicate:
        try:
            return predicate_get(candidate.predicate)
        except KeyError:  # an extractor named a predicate the catalog lacks
            pass
    return predicate_map(relation_phrase=candidate.relation_phrase,
                         object_text=candidate.object_text)


@dataclass
class Resolution:
    kind: str  # new | duplicate | supersede | contradiction | overrule | outdated
    target: Fact | None = None


@dataclass
class _Resolver:
    """One user's facts for the subjects and predicates in play, held in memory while
    candidates are resolved in order (a later candidate, of the same event or a later one,
    sees what an earlier one did); `flush` writes the result with set-based statements."""

    facts: list[Fact]
    created: list[Fact] = field(default_factory=list)
    changed: dict[Any, Fact] = field(default_factory=dict)
    sources: dict[tuple[Any, Any], tuple[Event, str]] = field(default_factory=dict)

    @staticmethod
    def load(candidates: list[Candidate], events: dict[Any, Event]) -> dict[tuple[str, str],
                                                                             _Resolver]:
        """Resolvers for the users of the candidates' events, keyed (tenant id, user id)."""
        users = {(str(events[c.event_id].tenant_id), events[c.event_id].user_id)
                 for c in candidates}
        resolvers = {user: _Resolver(facts=[]) for user in users}
        if candidates:
            predicates = {c.predicate for c in candidates}
            predicates |= {_ANTONYMS[p] for p in predicates if p in _ANTONYMS}
            rows = Fact.objects.defer("search", "embedding").filter(
                tenant_id=events[candidates[0].event_id].tenant_id,
                user_id__in={u for _, u in users}, subject__in={c.subject for c in candidates},
                predicate__in=predicates,
                status__in=[FactStatus.CURRENT, FactStatus.CONTRADICTED])
            for fact in rows:
                resolvers[(str(fact.tenant_id), fact.user_id)].facts.append(fact)
        return resolvers

    def _related(self, event: Event, candidate: Candidate, status: str) -> list[Fact]:
        names = {candidate.predicate, _ANTONYMS.get(candidate.predicate, "")}
        return [f for f in self.facts if f.subject == candidate.subject
                and f.predicate in names and f.status == status and _visible_to(event, f)]

    def resolve(self, event: Event, candidate: Candidate) -> Resolution:
        predicate = predicate_get(candidate.predicate)
        wanted = _normalise(candidate.object_text)
        current = self._related(event, candidate, FactStatus.CURRENT)
        for fact in current:
            if _normalise(fact.object_text) != wanted:
                continue
            same_sense = ((fact.predicate == candidate.predicate)
                          == (fact.negated == candidate.negated))
            if same_sense and fact.predicate == candidate.predicate:
                return Resolution("duplicate", fact)
            if same_sense:  # likes X vs not dislikes X: compatible, a new statement
                continue
            return self._conflict(event, candidate, fact)
        if (predicate.cardinality == "single" and predicate.conflict == "supersede"
                and not candidate.negated):
            holding = [f for f in current if f.predicate == candidate.predicate
                       and not f.negated]
            if holding:
                return self._conflict(event, candidate,
                                      max(holding, key=lambda f: f.valid_from))
        return Resolution("new")

    def _conflict(self, event: Event, candidate: Candidate, fact: Fact) -> Resolution:
        speaker_is_assistant = event.role == "assistant"
        fact_by_assistant = fact.source_role == "assistant"
        if speaker_is_assistant and not fact_by_assistant:
            # The user's own word stays current; the same claim repeated reinforces the
            # contradiction already recorded instead of adding another.
            for earlier in self._related(event, candidate, FactStatus.CONTRADICTED):
                if (earlier.contradicts_id == fact.id and earlier.negated == candidate.negated
                        and earlier.predicate == candidate.predicate
                        and _normalise(earlier.object_text)
                        == _normalise(candidate.object_text)):
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
                    1 - (1 - target.confidence) * (1 - candidate.confidence / 2), 4)
                target.importance = max(target.importance, candidate.utility or 0.0)
                self._touch(target)
                self.sources[(target.id, event.pk)] = (event, candidate.source_text)
            return target
        status = {"contradiction": FactStatus.CONTRADICTED,
                  "outdated": FactStatus.SUPERSEDED}.get(resolution.kind, FactStatus.CURRENT)
        fact = Fact(
            tenant_id=event.tenant_id, user_id=event.user_id, subject=candidate.subject,
            kind=candidate.kind, predicate=candidate.predicate,
            relation_phrase=candidate.relation_phrase, object_text=candidate.object_text,
            negated=candidate.negated, source_text=candidate.source_text, source_event=event,
            source_start=candidate.source_start, source_end=candidate.source_end,
            source_role=event.role, event_time=event.event_time, temporal=candidate.temporal,
            conversation_id=event.conversation_id, project_id=event.project_id,
            scope=event.scope, confidence=candidate.confidence,
            importance=candidate.utility or 0.5, valid_from=event.event_time, status=status,
        )
        self.created.append(fact)
        self.facts.append(fact)
        self.sources[(fact.id, event.pk)] = (event, candidate.source_text)
        if target is None:
            return fact
        if resolution.kind == "supersede":
            target.status, target.valid_to, target.superseded_by = (
                FactStatus.SUPERSEDED, event.event_time, fact)
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
        older = [f for f in self.facts if f.status == FactStatus.SUPERSEDED
                 and f.subject == candidate.subject and f.predicate == candidate.predicate
                 and f is not fact and f.valid_to is not None
                 and f.valid_from < fact.valid_from < f.valid_to and _visible_to(event, f)]
        if not older:
            older = [f for f in Fact.objects.defer("search", "embedding").filter(
                tenant_id=event.tenant_id, user_id=event.user_id, subject=candidate.subject,
                predicate=candidate.predicate, status=FactStatus.SUPERSEDED,
                valid_from__lt=fact.valid_from, valid_to__gt=fact.valid_from)
                if _visible_to(event, f)]
            self.facts += older
        if older:
            cut = max(older, key=lambda f: f.valid_from)
            cut.valid_to, cut.superseded_by = fact.valid_from, fact
            self._touch(cut)

    def _touch(self, fact: Fact) -> None:
        fact.updated_at = timezone.now()
        if not any(fact is c for c in self.created):
            self.changed[fact.pk] = fact


def _resolvers_flush(resolvers: Iterable[_Resolver]) -> set[tuple[str, str]]:
    """Write what the resolvers recorded; returns the users whose facts changed."""
    created, changed, sources, users = [], [], [], set()
    for resolver in resolvers:
        created += resolver.created
        changed += list(resolver.changed.values())
        sources += [FactSource(fact_id=fact_id, event=event, source_text=text)
                    for (fact_id, _), (event, text) in resolver.sources.items()]
        users |= {(str(f.tenant_id), f.user_id)
                  for f in [*resolver.created, *resolver.changed.values()]}
        users |= {(str(e.tenant_id), e.user_id) for e, _ in resolver.sources.values()}
    if created:
        Fact.objects.bulk_create(created)
    if changed:
        Fact.objects.bulk_update(changed, ["status", "valid_to", "superseded_by", "contradicts",
                                           "mention_count", "confidence", "importance",
                                           "updated_at"])
    if sources:
        FactSource.objects.bulk_create(sources, ignore_conflicts=True)
    return users


def _in_order(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.event_time, e.created_at, str(e.pk)))


def _candidates_of(events: list[Event], **filters: Any) -> dict[Any, list[Candidate]]:
    with_candidates = [e.pk for e in events if e.candidate_count]
    out: dict[Any, list[Candidate]] = {}
    if with_candidates:
        for candidate in (Candidate.objects.filter(event_id__in=with_candidates, **filters)
                          .order_by("event_id", "ordinal")):
            out.setdefault(candidate.event_id, []).append(candidate)
    return out


def _map_apply(events: list[Event], _: None) -> None:
    """Name each candidate's predicate and preview its resolution (Gate decides for real,
    under the user lock, because other events may change the facts in between)."""
    by_event = _candidates_of(events)
    candidates = [c for found in by_event.values() for c in found]
    if not candidates:
        return
    for candidate in candidates:
        predicate = _mapped_predicate(candidate)
        candidate.predicate, candidate.kind = predicate.name, predicate.kind
    lookup = {e.pk: e for e in events}
    resolvers = _Resolver.load(candidates, lookup)
    for event in _in_order(events):
        resolver = resolvers.get((str(event.tenant_id), event.user_id))
        for candidate in by_event.get(event.pk, []):
            assert resolver is not None
            resolution = resolver.resolve(event, candidate)
            candidate.resolution = resolution.kind
            resolver.apply(event, candidate, resolution)  # in memory only: never flushed
    Candidate.objects.bulk_update(candidates, ["predicate", "kind", "resolution"])


def resolve(*, event: Event, candidate: Candidate) -> tuple[str, Fact | None]:
    """How one mapped candidate relates to the user's stored facts (see the module doc):
    ("new" | "duplicate" | "supersede" | "contradiction" | "overrule" | "outdated", fact)."""
    resolver = _Resolver.load([candidate], {event.pk: event})[(str(event.tenant_id),
                                                                event.user_id)]
    resolution = resolver.resolve(event, candidate)
    return resolution.kind, resolution.target


# --- Gate ---------------------------------------------------------------------------------

def _as_proposition(candidate: Candidate) -> Proposition:
    return Proposition(subject=candidate.subject, relation_phrase=candidate.relation_phrase,
                       object_text=candidate.object_text, source_text=candidate.source_text,
                       start=candidate.source_start, end=candidate.source_end,
                       predicate=candidate.predicate, negated=candidate.negated,
                       confidence=candidate.confidence)


def _gate_apply(events: list[Event], _: None,
                threshold: float = DEFAULT_GATE_THRESHOLD) -> None:
    """Score each candidate; write the admitted ones as facts, count the dropped ones."""
    by_event = _candidates_of(events, fact__isnull=True)
    candidates = [c for found in by_event.values() for c in found]
    for event in events:
        event.gated_count = 0
    if not candidates:
        return
    lookup = {e.pk: e for e in events}
    for candidate in candidates:
        candidate.utility = utility_score(proposition=_as_proposition(candidate),
                                          predicate=predicate_get(candidate.predicate))
        candidate.admitted = candidate.utility >= threshold
        if not candidate.admitted:
            lookup[candidate.event_id].gated_count += 1
    admitted = [c for c in candidates if c.admitted]
    if admitted:
        # Re-resolve under the users' locks: other events may have changed facts since Map.
        _users_lock({(str(lookup[c.event_id].tenant_id), lookup[c.event_id].user_id)
                     for c in admitted})
        resolvers = _Resolver.load(admitted, lookup)
        for event in _in_order(events):
            for candidate in by_event.get(event.pk, []):
                if not candidate.admitted:
                    continue
                resolver = resolvers[(str(event.tenant_id), event.user_id)]
                resolution = resolver.resolve(event, candidate)
                candidate.resolution = resolution.kind
                candidate.fact = resolver.apply(event, candidate, resolution)
        users_memory_changed(users=_resolvers_flush(resolvers.values()))
    Candidate.objects.bulk_update(candidates, ["utility", "admitted", "resolution", "fact"])


# --- Embed --------------------------------------------------------------------------------

def fact_embedding_text(fact: Fact | Candidate) -> str:
    """Facts are embedded from their structured triple, which reads as a sentence."""
    subject = "I" if fact.subject == "user" else fact.subject
    negation = "not " if fact.negated else ""
    return f"{subject} {negation}{fact.relation_phrase} {fact.object_text}"


# A 600-character summary body costs ~4 event texts to embed (56 ms vs 13.6 ms for one
# LoCoMo turn on this machine). Under a backlog a batch refreshes one stale episode vector
# per 32 events it embeds (+~12% model time) and the beat's `episodes_refresh` sweeps the
# rest each minute; when idle a call embeds its own changed summaries and up to
# IDLE_EPISODE_REFRESH stale ones.
EVENTS_PER_EPISODE_REFRESH = 32
IDLE_EPISODE_REFRESH = 2


@dataclass
class _EmbedPayload:
    events: dict[Any, list[float]]  # event id -> vector, for those without one yet
    facts: dict[Any, tuple[Any, list[float]]]  # fact id -> (its event id, vector)
    episodes: episodes.EpisodePlan
    refreshed: list[tuple[episodes.StaleEpisode, list[float]]]


def _embed_prepare(events: list[Event]) -> _EmbedPayload:
    """Texts of the events, their facts and changed episode summaries, in one model call."""
    backlog = len(events) > 1
    needing = [e for e in events if e.__dict__.get("unembedded", True)]
    if needing and needing[0] is events[0]:
        # The asking event is read without the annotation: look its vector up.
        if Event.objects.filter(pk=events[0].pk, embedding__isnull=False).exists():
            needing = needing[1:]
    with_facts = [e.pk for e in needing if e.candidate_count > e.gated_count]
    facts = list(Fact.objects.filter(source_event_id__in=with_facts, embedding__isnull=True)
                 .only("id", "source_event_id", "subject", "relation_phrase", "object_text",
                       "negated")) if with_facts else []
    plan = episodes.episodes_plan(events=[e for e in events if episodes.episodes_for(e)],
                                  defer=backlog)
    texts = [e.content for e in needing] + [fact_embedding_text(f) for f in facts] + plan.texts
    refresh = (len(events) // EVENTS_PER_EPISODE_REFRESH if backlog else IDLE_EPISODE_REFRESH)
    stale = (episodes.episodes_stale(tenant_id=events[0].tenant_id, limit=refresh,
                                     exclude=[c.episode.pk for c in plan.changes
                                              if c.episode is not None])
             if texts and refresh else [])
    started = time.perf_counter()
    vectors = embedder().embed(texts + [s.body for s in stale]) if texts else []
    logger.debug("embed events=%d texts=%d facts=%d episodes=%d stale=%d ms=%.1f",
                 len(events), len(needing), len(facts), len(plan.texts), len(stale),
                 (time.perf_counter() - started) * 1000)
    cursor = len(needing) + len(facts)
    for change in plan.to_embed:
        change.vector, cursor = vectors[cursor], cursor + 1
    return _EmbedPayload(
        events={e.pk: v for e, v in zip(needing, vectors, strict=False)},
        facts={f.id: (f.source_event_id, v)
               for f, v in zip(facts, vectors[len(needing):], strict=False)},
        episodes=plan, refreshed=list(zip(stale, vectors[cursor:], strict=True)))


def _embed_apply(events: list[Event], payload: _EmbedPayload) -> list[str]:
    """Write the events' vectors, their facts' vectors and their episodes."""
    ids = {e.pk for e in events}
    for event in events:
        if event.pk in payload.events:
            event.embedding = payload.events[event.pk]
    with_vector = [e for e in events if e.pk in payload.events]
    if with_vector:  # the events are locked: nobody else writes their vectors meanwhile
        _events_write(with_vector, ["embedding"])
    facts = [Fact(pk=fact_id, embedding=vector)
             for fact_id, (owner, vector) in payload.facts.items() if owner in ids]
    if facts:
        Fact.objects.filter(embedding__isnull=True).bulk_update(facts, ["embedding"])
    users = {(str(e.tenant_id), e.user_id) for e in events}
    with_episodes = [e for e in events if episodes.episodes_for(e)]
    if with_episodes:
        _users_lock(users)  # episodes of one conversation change one transaction at a time
        events[0].tokens_used += episodes.episodes_apply(events=with_episodes,
                                                         plan=payload.episodes,
                                                         embed=embedder().embed)
    users |= episodes.episodes_vectors_write(vectors=payload.refreshed)
    users_memory_changed(users=users)
    return []


def episodes_refresh(*, limit: int = 256) -> int:
    """Embed stale episode summaries (the beat's sweep after a backlog). Returns how many."""
    from memory.models import Episode

    done = 0
    tenants = list(Episode.objects.filter(embedding_stale=True)
                   .values_list("tenant_id", flat=True).distinct())
    for tenant_id in tenants:
        while done < limit:
            stale = episodes.episodes_stale(tenant_id=tenant_id,
                                            limit=max(settings.ENRICH_BATCH, 1))
            if not stale:
                break
            vectors = embedder().embed([s.body for s in stale])
            with transaction.atomic():
                users = episodes.episodes_vectors_write(
                    vectors=list(zip(stale, vectors, strict=True)))
                users_memory_changed(users=users)
            done += len(stale)
            if not users:
                break  # all changed under us; the next sweep takes them
    return done


# --- Tier ---------------------------------------------------------------------------------

# Weights and cut-offs of `tier_for`: importance dominates (the gate's utility, 0.45-0.96
# for admitted facts), recency decays over COLD_AFTER, ten recalls make a fact hot.
HOT_IMPORTANCE = 0.7
COLD_AFTER = timedelta(days=90)


def tier_for(*, importance: float, last_seen: datetime, access_count: int,
             now: datetime) -> str:
    """hot: important, or recalled often; cold: unimportant and not seen for 90 days."""
    recency = math.exp(-max((now - last_seen).total_seconds(), 0) / COLD_AFTER.total_seconds())
    heat = 0.6 * importance + 0.25 * recency + 0.15 * min(access_count / 10, 1.0)
    if heat >= HOT_IMPORTANCE or access_count >= 10:
        return Tier.HOT
    if now - last_seen > COLD_AFTER and importance < 0.5 and access_count == 0:
        return Tier.COLD
    return Tier.WARM


def _fact_tier(fact: Fact, now: datetime) -> str:
    last_seen = max(fact.event_time, fact.last_accessed_at or fact.event_time)
    return tier_for(importance=fact.importance, last_seen=last_seen,
                    access_count=fact.access_count, now=now)


_TIER_FIELDS = ("id", "tier", "importance", "event_time", "last_accessed_at", "access_count")


def _tier_apply(events: list[Event], _: None) -> None:
    with_facts = [e.pk for e in events if e.candidate_count > e.gated_count]
    if not with_facts:
        return  # no fact came from these events
    now = timezone.now()
    changed = []
    for fact in (Fact.objects.filter(sources__event_id__in=with_facts).distinct()
                 .only(*_TIER_FIELDS, "tenant_id", "user_id")):
        tier = _fact_tier(fact, now)
        if tier != fact.tier:
            fact.tier = tier
            changed.append(fact)
    if changed:
        Fact.objects.bulk_update(changed, ["tier"])
        users_memory_changed(users={(str(f.tenant_id), f.user_id) for f in changed})


_STAGE_FUNCTIONS: dict[str, tuple[Callable[[list[Event]], Any],
                                  Callable[[list[Event], Any], Iterable[str] | None]]] = {
    "extract": (_extract_prepare, _extract_apply),
    "map": (_nothing, _map_apply),
    "gate": (_nothing, _gate_apply),
    "embed": (_embed_prepare, _embed_apply),
    "tier": (_nothing, _tier_apply),
}


# --- Reconciliation -----------------------------------------------------------------------

def events_stuck(*, grace: timedelta, now: datetime | None = None) -> list[str]:
    """Ids of events pending/processing with no progress for `grace`."""
    moment = now or timezone.now()
    return [str(i) for i in Event.objects.filter(
        status__in=[EnrichmentStatus.PENDING, EnrichmentStatus.PROCESSING],
        forgotten_at__isnull=True, state_changed_at__lt=moment - grace,
    ).order_by("state_changed_at").values_list("id", flat=True)[:1000]]


def event_claim_retry(*, event_id: str, max_attempts: int) -> bool:
    """Count an attempt and touch the event so the next sweep leaves it alone for a grace
    period. Returns False (and marks it failed) once attempts are used up."""
    with transaction.atomic():
        event = _event_get(event_id, lock=True)
        if event is None or _finished(event):
            return False
        event.attempts += 1
        event.state_changed_at = timezone.now()
        if event.attempts > max_attempts:
            event.status = EnrichmentStatus.FAILED
            event.error = f"gave up after {max_attempts} attempts"
            event.save(update_fields=["attempts", "state_changed_at", "status", "error"])
            return False
        event.save(update_fields=["attempts", "state_changed_at"])
        return True


def event_mark_failed(*, event_id: str, error: str) -> None:
    Event.objects.filter(pk=event_id).exclude(status=EnrichmentStatus.ENRICHED).update(
        status=EnrichmentStatus.FAILED, error=error[:500], state_changed_at=timezone.now())


def facts_retier(*, batch: int = 5000, now: datetime | None = None) -> int:
    """Re-tier current facts whose tier no longer matches their age and use; bumps the
    memory version of every user whose facts moved (tiers order recall results)."""
    moment = now or timezone.now()
    changed = 0
    pending: list[Fact] = []

    def flush() -> None:
        with transaction.atomic():
            Fact.objects.bulk_update(pending, ["tier"])
            users_memory_changed(users={(str(f.tenant_id), f.user_id) for f in pending})

    facts = Fact.objects.filter(status=FactStatus.CURRENT).only(*_TIER_FIELDS, "tenant_id",
                                                                "user_id")
    for fact in facts.iterator(chunk_size=batch):
        tier = _fact_tier(fact, moment)
        if tier != fact.tier:
            fact.tier = tier
            pending.append(fact)
        if len(pending) >= batch:
            flush()
            changed, pending = changed + len(pending), []
    if pending:
        flush()
        changed += len(pending)
    return changed
