"""Enrichment stage logic: Extract → Map → Gate → Embed → Tier, one event at a time.

Plain functions over the database; no Celery and no DRF here (`tasks` wraps them).
Every stage is idempotent: the event row records the last stage done, and a stage's writes
commit in the same transaction as that marker, under a row lock. Slow work (an LLM call,
embedding) happens before the lock is taken (`prepare`), and its result is written only if
the stage is still undone (`apply`), so a re-run, a duplicate message or a crash at any
point leaves no duplicates. Asking for a stage runs any earlier stage still undone.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from enrichment.catalog import predicate_get, predicate_map
from enrichment.extractors import extractor
from enrichment.gate import DEFAULT_GATE_THRESHOLD, utility_score
from enrichment.propositions import ExtractionInput, Proposition
from memory.embedding import embedder
from memory.models import Candidate, EnrichmentStatus, Event, Fact, FactSource, FactStatus, Tier
from memory.versioning import user_memory_changed

logger = logging.getLogger("claiv.enrichment")

STAGES = ("extract", "map", "gate", "embed", "tier")


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


def stage_run(event_id: str, stage: str) -> StageOutcome:
    """Run `stage` (and any earlier undone stage) for the event. Idempotent."""
    target = STAGES.index(stage)
    ran = False
    while True:
        event = Event.objects.filter(pk=event_id).first()
        if _finished(event) or _stages_done(event) > target:  # type: ignore[arg-type]
            return StageOutcome(str(event_id), stage, ran)
        current = STAGES[_stages_done(event)]  # type: ignore[arg-type]
        prepare, apply = _STAGE_FUNCTIONS[current]
        payload = prepare(event)  # outside the lock: may be slow
        with transaction.atomic():
            locked = Event.objects.select_for_update().filter(pk=event_id).first()
            if _finished(locked) or STAGES[_stages_done(locked)] != current:  # type: ignore[arg-type]
                continue  # someone else advanced (or forgot) it meanwhile; look again
            assert locked is not None
            apply(locked, payload)
            if locked.status != EnrichmentStatus.SKIPPED:
                locked.stage = current
                locked.status = (EnrichmentStatus.ENRICHED if current == STAGES[-1]
                                 else EnrichmentStatus.PROCESSING)
            locked.error = None
            locked.state_changed_at = timezone.now()
            locked.save()
            ran = True
        logger.info("stage done event=%s stage=%s", event_id, current)


# --- Extract ------------------------------------------------------------------------------

def _extract_prepare(event: Event) -> Any:
    if event.role == "system":
        return None  # stored, never extracted
    return extractor().extract(ExtractionInput(content=event.content, event_type=event.type,
                                               role=event.role or None,
                                               event_time=event.event_time))


def _temporal_json(proposition: Proposition) -> list[dict[str, str]]:
    return [{"ts_start": t.ts_start.astimezone(UTC).isoformat(),
             "ts_end": t.ts_end.astimezone(UTC).isoformat(),
             "raw_expression": t.raw_expression, "granularity": t.granularity}
            for t in proposition.temporal]


def _extract_apply(event: Event, result: Any) -> None:
    Candidate.objects.filter(event=event).delete()  # a re-run replaces, never adds
    if result is None:
        event.status = EnrichmentStatus.SKIPPED
        event.stage = "extract"
        return
    Candidate.objects.bulk_create([
        Candidate(event=event, ordinal=i, subject=p.subject[:255],
                  relation_phrase=p.relation_phrase[:255], object_text=p.object_text,
                  source_text=p.source_text, source_start=p.start, source_end=p.end,
                  predicate=p.predicate or "", negated=p.negated, confidence=p.confidence,
                  temporal=_temporal_json(p))
        for i, p in enumerate(result.propositions)
    ])
    event.extractor = result.extractor
    event.tokens_used = result.tokens_used
    event.candidate_count = len(result.propositions)


# --- Map ----------------------------------------------------------------------------------

def _normalise(text: str) -> str:
    return " ".join(text.lower().replace(".", " ").split()).removeprefix("the ").removeprefix("a ")


def _user_lock(event: Event) -> None:
    """Serialise fact resolution per user (two events of one user enriched at once)."""
    digest = hashlib.sha256(f"{event.tenant_id}\x1f{event.user_id}".encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)",
                       [int.from_bytes(digest[:8], "big", signed=True)])


def resolve(*, event: Event, candidate: Candidate) -> tuple[str, Fact | None]:
    """Decide how a mapped candidate relates to the user's current facts.

    -> ("duplicate", fact) same subject, predicate and object: reinforce it;
       ("supersede", fact) single-valued predicate with a new value, or a reversed
       negation: the new statement replaces the old one;
       ("contradiction", fact) an assistant statement against a user's own statement:
       recorded, but the user's statement stays current;
       ("new", None) otherwise.
    """
    predicate = predicate_get(candidate.predicate)
    current = list(Fact.objects.filter(tenant_id=event.tenant_id, user_id=event.user_id,
                                       subject=candidate.subject, predicate=candidate.predicate,
                                       status=FactStatus.CURRENT).order_by("-valid_from"))
    wanted = _normalise(candidate.object_text)
    for fact in current:
        if _normalise(fact.object_text) == wanted:
            if fact.negated == candidate.negated:
                return "duplicate", fact
            return _replace_or_contradict(event, fact)
    if predicate.cardinality == "single" and predicate.conflict == "supersede" and current:
        return _replace_or_contradict(event, current[0])
    return "new", None


def _replace_or_contradict(event: Event, fact: Fact) -> tuple[str, Fact]:
    if event.role == "assistant" and fact.source_role in ("user", ""):
        return "contradiction", fact  # the user's own word beats the assistant's
    return "supersede", fact


def _map_prepare(event: Event) -> None:
    return None


def _map_apply(event: Event, _: None) -> None:
    _user_lock(event)
    candidates = list(Candidate.objects.filter(event=event).order_by("ordinal"))
    for candidate in candidates:
        if not candidate.predicate:
            candidate.predicate = predicate_map(relation_phrase=candidate.relation_phrase,
                                                object_text=candidate.object_text).name
        try:
            candidate.kind = predicate_get(candidate.predicate).kind
        except KeyError:  # an extractor named a predicate the catalog lacks
            fallback = predicate_map(relation_phrase=candidate.relation_phrase,
                                     object_text=candidate.object_text)
            candidate.predicate, candidate.kind = fallback.name, fallback.kind
        candidate.resolution, _fact = resolve(event=event, candidate=candidate)
    Candidate.objects.bulk_update(candidates, ["predicate", "kind", "resolution"])


# --- Gate ---------------------------------------------------------------------------------

def _as_proposition(candidate: Candidate) -> Proposition:
    return Proposition(subject=candidate.subject, relation_phrase=candidate.relation_phrase,
                       object_text=candidate.object_text, source_text=candidate.source_text,
                       start=candidate.source_start, end=candidate.source_end,
                       predicate=candidate.predicate, negated=candidate.negated,
                       confidence=candidate.confidence)


def _gate_prepare(event: Event) -> None:
    return None


def _gate_apply(event: Event, _: None, threshold: float = DEFAULT_GATE_THRESHOLD) -> None:
    """Score each candidate; write the admitted ones as facts, count the dropped ones."""
    _user_lock(event)
    candidates = list(Candidate.objects.filter(event=event, fact__isnull=True)
                      .order_by("ordinal"))
    dropped = 0
    for candidate in candidates:
        predicate = predicate_get(candidate.predicate)
        candidate.utility = utility_score(proposition=_as_proposition(candidate),
                                          predicate=predicate)
        candidate.admitted = candidate.utility >= threshold
        if not candidate.admitted:
            dropped += 1
            continue
        # Re-resolve under the user lock: another event may have changed the facts since Map.
        candidate.resolution, target = resolve(event=event, candidate=candidate)
        candidate.fact = _apply_resolution(event, candidate, target)
    Candidate.objects.bulk_update(candidates, ["utility", "admitted", "resolution", "fact"])
    event.gated_count = dropped
    user_memory_changed(tenant_id=event.tenant_id, user_id=event.user_id)


def _apply_resolution(event: Event, candidate: Candidate, target: Fact | None) -> Fact:
    if candidate.resolution == "duplicate" and target is not None:
        target.mention_count += 1
        # Each independent mention makes the fact more certain, approaching 1.
        target.confidence = round(1 - (1 - target.confidence) * (1 - candidate.confidence / 2), 4)
        target.save(update_fields=["mention_count", "confidence", "updated_at"])
        FactSource.objects.get_or_create(fact=target, event=event,
                                         defaults={"source_text": candidate.source_text})
        return target
    fact = Fact.objects.create(
        tenant_id=event.tenant_id, user_id=event.user_id, subject=candidate.subject,
        kind=candidate.kind, predicate=candidate.predicate,
        relation_phrase=candidate.relation_phrase, object_text=candidate.object_text,
        negated=candidate.negated, source_text=candidate.source_text, source_event=event,
        source_start=candidate.source_start, source_end=candidate.source_end,
        source_role=event.role, event_time=event.event_time, temporal=candidate.temporal,
        conversation_id=event.conversation_id, project_id=event.project_id, scope=event.scope,
        confidence=candidate.confidence, importance=candidate.utility or 0.5,
        valid_from=event.event_time,
        status=(FactStatus.CONTRADICTED if candidate.resolution == "contradiction"
                else FactStatus.CURRENT),
    )
    FactSource.objects.create(fact=fact, event=event, source_text=candidate.source_text)
    if candidate.resolution == "supersede" and target is not None:
        target.status = FactStatus.SUPERSEDED
        target.valid_to = event.event_time
        target.superseded_by = fact
        target.save(update_fields=["status", "valid_to", "superseded_by", "updated_at"])
    return fact


# --- Embed --------------------------------------------------------------------------------

def fact_embedding_text(fact: Fact | Candidate) -> str:
    """Facts are embedded from their structured triple, which reads as a sentence."""
    subject = "I" if fact.subject == "user" else fact.subject
    negation = "not " if fact.negated else ""
    return f"{subject} {negation}{fact.relation_phrase} {fact.object_text}"


def _embed_prepare(event: Event) -> dict[str, list[float]]:
    facts = list(Fact.objects.filter(source_event=event, embedding__isnull=True))
    texts = [fact_embedding_text(f) for f in facts]
    want_event = event.embedding is None
    if want_event:
        texts.append(event.content)
    vectors = embedder().embed(texts)
    result = {str(f.id): v for f, v in zip(facts, vectors, strict=False)}
    if want_event:
        result["event"] = vectors[-1]
    return result


def _embed_apply(event: Event, vectors: dict[str, list[float]]) -> None:
    if "event" in vectors:
        event.embedding = vectors.pop("event")
    facts = list(Fact.objects.filter(id__in=list(vectors), embedding__isnull=True))
    for fact in facts:
        fact.embedding = vectors[str(fact.id)]
    Fact.objects.bulk_update(facts, ["embedding"])
    user_memory_changed(tenant_id=event.tenant_id, user_id=event.user_id)


# --- Tier ---------------------------------------------------------------------------------

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


def _tier_prepare(event: Event) -> None:
    return None


def _tier_apply(event: Event, _: None) -> None:
    now = timezone.now()
    facts = list(Fact.objects.filter(sources__event=event).distinct())
    for fact in facts:
        last_seen = max(fact.event_time, fact.last_accessed_at or fact.event_time)
        fact.tier = tier_for(importance=fact.importance, last_seen=last_seen,
                             access_count=fact.access_count, now=now)
    Fact.objects.bulk_update(facts, ["tier"])
    user_memory_changed(tenant_id=event.tenant_id, user_id=event.user_id)


_STAGE_FUNCTIONS: dict[str, tuple[Callable[[Event], Any], Callable[[Event, Any], None]]] = {
    "extract": (_extract_prepare, _extract_apply),
    "map": (_map_prepare, _map_apply),
    "gate": (_gate_prepare, _gate_apply),
    "embed": (_embed_prepare, _embed_apply),
    "tier": (_tier_prepare, _tier_apply),
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
        event = Event.objects.select_for_update().filter(pk=event_id).first()
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



def facts_retier(*, batch: int = 5000) -> int:
    """Re-tier current facts whose tier no longer matches their age and use."""
    now = timezone.now()
    changed = 0
    facts = Fact.objects.filter(status=FactStatus.CURRENT).only(
        "id", "tier", "importance", "event_time", "last_accessed_at", "access_count")
    for fact in facts.iterator(chunk_size=batch):
        last_seen = max(fact.event_time, fact.last_accessed_at or fact.event_time)
        tier = tier_for(importance=fact.importance, last_seen=last_seen,
                        access_count=fact.access_count, now=now)
        if tier != fact.tier:
            Fact.objects.filter(pk=fact.pk).update(tier=tier)
            changed += 1
    return changed
