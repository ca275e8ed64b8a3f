"""Embed: vectors of the events, their facts, their passages (long events, split by
memory.passages) and their episodes' summaries.

Also `episodes_refresh`, the beat's sweep of episode vectors left stale by a backlog.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from enrichment import episodes
from enrichment.pipeline.contract import Stage
from enrichment.pipeline.rows import rows_write
from memory.embedding import embedder
from memory.locks import users_lock
from memory.models import Candidate, Event, Fact, Passage
from memory.passages import WHOLE_TEXT_CHARS
from memory.versioning import users_memory_changed

logger = logging.getLogger("claiv.enrichment")


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


# Passages are embedded in calls of at most this many texts: a 1 MiB event has up to ~1,800, and
# an OpenAI-compatible endpoint takes at most 2,048 inputs (and ~300k tokens) per request.
# The local model batches within a call by tokens (memory.embedding), so this costs it
# nothing.
PASSAGES_PER_CALL = 256


def _embed_in_calls(texts: list[str]) -> list[list[float]]:
    vectors: list[list[float]] = []
    for at in range(0, len(texts), PASSAGES_PER_CALL):
        vectors += embedder().embed(texts[at : at + PASSAGES_PER_CALL])
    return vectors


@dataclass
class _EmbedPayload:
    events: dict[Any, list[float]]  # event id -> vector, for those without one yet
    facts: dict[Any, tuple[Any, list[float]]]  # fact id -> (its event id, vector)
    episodes: episodes.EpisodePlan
    refreshed: list[tuple[episodes.StaleEpisode, list[float]]]
    # Passages of the long events among them (memory.passages), with their vectors.
    passages: list[Passage]


def embed_prepare(events: list[Event]) -> _EmbedPayload:
    """Texts of the events, their facts and changed episode summaries, in one model call."""
    backlog = len(events) > 1
    needing = [e for e in events if e.__dict__.get("unembedded", True)]
    if needing and needing[0] is events[0]:
        # The asking event is read without the annotation: look its vector up.
        if Event.objects.filter(pk=events[0].pk, embedding__isnull=False).exists():
            needing = needing[1:]
    with_facts = [e.pk for e in needing if e.candidate_count > e.gated_count]
    facts = (
        list(
            Fact.objects.filter(source_event_id__in=with_facts, embedding__isnull=True).only(
                "id", "source_event_id", "subject", "relation_phrase", "object_text", "negated"
            )
        )
        if with_facts
        else []
    )
    plan = episodes.episodes_plan(
        events=[e for e in events if episodes.episodes_for(e)], defer=backlog
    )
    passages = Passage.of_events(needing)
    # An event's own vector is of its first WHOLE_TEXT_CHARS characters (MiniLM reads 256
    # word pieces; an embeddings endpoint refuses inputs over its context): a long event
    # is searched through its passages' vectors. A plain cut, so `manage.py reembed` can
    # state the same text in SQL (memory.reembed).
    texts = (
        [e.content[:WHOLE_TEXT_CHARS] for e in needing]
        + [fact_embedding_text(f) for f in facts]
        + plan.texts
    )
    refresh = len(events) // EVENTS_PER_EPISODE_REFRESH if backlog else IDLE_EPISODE_REFRESH
    stale = (
        episodes.episodes_stale(
            tenant_id=events[0].tenant_id,
            limit=refresh,
            exclude=[c.episode.pk for c in plan.changes if c.episode is not None],
        )
        if texts and refresh
        else []
    )
    started = time.perf_counter()
    vectors = embedder().embed(texts + [s.body for s in stale]) if texts else []
    passage_vectors = _embed_in_calls([p.text for p in passages])
    for passage, vector in zip(passages, passage_vectors, strict=True):
        passage.embedding = vector
    logger.debug(
        "embed events=%d texts=%d facts=%d episodes=%d stale=%d ms=%.1f",
        len(events),
        len(needing),
        len(facts),
        len(plan.texts),
        len(stale),
        (time.perf_counter() - started) * 1000,
    )
    cursor = len(needing) + len(facts)
    for change in plan.to_embed:
        change.vector, cursor = vectors[cursor], cursor + 1
    return _EmbedPayload(
        events={e.pk: v for e, v in zip(needing, vectors, strict=False)},
        facts={
            f.id: (f.source_event_id, v)
            for f, v in zip(facts, vectors[len(needing) :], strict=False)
        },
        episodes=plan,
        passages=passages,
        refreshed=list(zip(stale, vectors[cursor : len(texts) + len(stale)], strict=True)),
    )


def embed_apply(events: list[Event], payload: _EmbedPayload) -> list[str]:
    """Write their facts' vectors and their episodes; the events' own vectors are set on
    them and saved by the runner with the stage marker (one row version, one entry in the
    vector index, instead of two)."""
    ids = {e.pk for e in events}
    # The events are locked: nobody else writes their vectors meanwhile.
    for event in events:
        if event.pk in payload.events:
            event.embedding = payload.events[event.pk]
    facts = [
        Fact(pk=fact_id, embedding=vector)
        for fact_id, (owner, vector) in payload.facts.items()
        if owner in ids
    ]
    if facts:
        rows_write(Fact, facts, ["embedding"], where="t.embedding IS NULL")
    passages = [p for p in payload.passages if p.event_id in payload.events]
    if passages:  # a re-run after a crash finds them written: (event, ordinal) is unique
        Passage.objects.bulk_create(passages, ignore_conflicts=True)
    users = {(str(e.tenant_id), e.user_id) for e in events}
    with_episodes = [e for e in events if episodes.episodes_for(e)]
    if with_episodes:
        users_lock(users)  # episodes of one conversation change one transaction at a time
        events[0].tokens_used += episodes.episodes_apply(
            events=with_episodes, plan=payload.episodes, embed=embedder().embed
        )
    users |= episodes.episodes_vectors_write(vectors=payload.refreshed)
    users_memory_changed(users=users)
    return ["embedding"]


def episodes_refresh(*, limit: int = 256) -> int:
    """Embed stale episode summaries (the beat's sweep after a backlog). Returns how many."""
    from memory.models import Episode

    done = 0
    tenants = list(
        Episode.objects.filter(embedding_stale=True).values_list("tenant_id", flat=True).distinct()
    )
    for tenant_id in tenants:
        while done < limit:
            stale = episodes.episodes_stale(
                tenant_id=tenant_id, limit=max(settings.ENRICH_BATCH, 1)
            )
            if not stale:
                break
            vectors = embedder().embed([s.body for s in stale])
            with transaction.atomic():
                users = episodes.episodes_vectors_write(
                    vectors=list(zip(stale, vectors, strict=True))
                )
                users_memory_changed(users=users)
            done += len(stale)
            if not users:
                break  # all changed under us; the next sweep takes them
    return done


def embed_narrow(rows: QuerySet[Event]) -> QuerySet[Event]:
    """Batched events say whether they still lack a vector (read by `embed_prepare`)."""
    return rows.annotate(
        unembedded=ExpressionWrapper(Q(embedding__isnull=True), output_field=BooleanField())
    )


STAGE = Stage(embed_prepare, embed_apply, narrow=embed_narrow)
