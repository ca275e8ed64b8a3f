"""Retrieval shared by both recall generations, and the v1 token-budgeted recall.

`retrieve` runs the channels for one user and fuses them with weighted reciprocal rank;
`memory_recall` (v1, API.md §4) hydrates the winners into blocks and packs them. The v6
shape is built from the same retrieval in `memory.recall.v6`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from time import perf_counter

from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from claiv.metrics.registry import recall_channel_observe
from memory.access import facts_accessed
from memory.embedding import embed_query
from memory.models import Episode, Event, Fact
from memory.recall import bm25, channels, documents, hydration, locality, replica
from memory.recall.channels import ItemKey, RecallScope
from memory.recall.fusion import rrf_fuse
from memory.recall.packing import Block, pack
from memory.recall.routing import Routing, route_query
from memory.time_notes import notes_for
from memory.tokens import count_tokens, truncate_to_tokens
from tenants.models import Tenant

# Channel weights for RRF. Keyword (BM25) is the strongest single channel on
# conversational memory (LoCoMo evidence recall at 500 tokens: BM25 59 %, MiniLM 46 %);
# see BENCHMARKS.md for the runs that chose these.
CHANNEL_WEIGHTS: dict[str, float] = {
    "keyword_events": 1.0,
    "vector_events": 0.9,
    "keyword_facts": 0.5,
    "vector_facts": 0.5,
    "predicate": 0.6,
    "temporal": 0.6,
    "conversation": 0.4,
    "keyword_episodes": 0.3,
    "vector_episodes": 0.3,
    # Passages of long events (memory.passages) rank their events like the event channels.
    "keyword_passages": 1.0,
    "vector_passages": 0.9,
}
# From WIDE_FACTS_MIN_BUDGET tokens on, the fact channels weigh WIDE_FACT_WEIGHT: a large
# context has room for the facts that name what a list question asks for beside the turns.
# LoCoMo, all ten conversations, in-process, evidence recall at 2000 tokens:
# conversation/sequential 88.9 -> 89.2 %, session/concurrent 88.8 -> 88.9; at 500 the same
# weight cost 0.1 and 0.5 points of strict containment, so small contexts keep 0.5
# (BENCHMARKS.md, "LoCoMo all ten: candidate generation from episodes ...").
WIDE_FACTS_MIN_BUDGET = 1000
WIDE_FACT_WEIGHT = 0.6
WIDE_CHANNEL_WEIGHTS: dict[str, float] = {
    **CHANNEL_WEIGHTS,
    "keyword_facts": WIDE_FACT_WEIGHT,
    "vector_facts": WIDE_FACT_WEIGHT,
}
# An event and its passages (memory.passages) are the same text read by the same model:
# within each pair of channels an event takes its best rank's share, not the sum, so a
# long event found through both does not outrank a short one found as well through one.
# Assistant development set (long), projects ledger and rover, in-process: 48.0 / 61.9 ->
# 53.8 / 64.4 % evidence recall at 500 / 2000 tokens; LoCoMo 0-2 unchanged (81.1 / 91.4).
CHANNEL_GROUPS: dict[str, str] = {
    "keyword_events": "keyword_events",
    "keyword_passages": "keyword_events",
    "vector_events": "vector_events",
    "vector_passages": "vector_events",
}
# Tokens per extra event looked at per channel (a packed turn costs ~25 tokens).
EVENT_DEPTH_TOKENS = 20
# RRF constant: smaller values trust each channel's head more. On LoCoMo conversations
# 1-4, evidence recall at 500 tokens was 66.3 % with k=60, 70.8 % with 20, 73.2 % with 5
# and 73.1 % with 2 (BENCHMARKS.md).
FUSION_K = 5
# Strong event hits pull in the turn that follows them (answers often sit in the reply),
# and at larger budgets the one before (the question a reply answers, or what "that"
# refers to). A neighbour scores NEIGHBOUR_SHARE of its anchor, or its own fused score if
# higher: before, a neighbour some channel had ranked low was left at that low score, and
# raising it was worth +1.3 / +2.2 points of evidence recall at 500 / 2000 tokens
# (LoCoMo conversations 1-4). Anchors: max(8, budget / 160) strongest event hits (8 vs 12
# at 2000 tokens: +0.2); the previous turn from PREVIOUS_TURN_MIN_BUDGET on (at 2000
# tokens +0.6, at 500 tokens −0.5: a small context has no room for both sides). With
# locality smoothing on top, this step is still worth +1.1 / +1.4; the previous turn then
# adds no evidence recall at 2000 tokens but +0.5 strict answer containment.
NEIGHBOUR_ANCHORS = 8
NEIGHBOUR_ANCHOR_TOKENS = 160
NEIGHBOUR_SHARE = 0.5
PREVIOUS_TURN_MIN_BUDGET = 1000
# Event hits re-scored by locality smoothing at most. LoCoMo, all 10 conversations,
# evidence recall at 2000 / 4000 tokens: all of the first budget/8 88.5 / 92.1 %; the
# first 200 88.5 / 92.2; 150 88.4 at 2000; 120 88.2.
SMOOTHED_HITS = 200
# Items hydrated (and rendered) per recall: max(40, budget / HYDRATE_TOKENS), ~1.3x the
# deepest item a packed context reached (see `retrieve`). LoCoMo, all 10 conversations,
# evidence recall at 2000 / 4000 tokens: 16 88.5 / 92.2 %, 24 the same, 32 88.4 / 92.0.
HYDRATE_TOKENS = 24
# Fact scores are scaled by tier before packing, so hot facts come first at small budgets.
TIER_WEIGHT = {"hot": 1.25, "warm": 1.0, "cold": 0.8}
# A turn longer than max(EXCERPT_MIN_TOKENS, budget / EXCERPT_SHARE) is shown as an excerpt.
EXCERPT_MIN_TOKENS = 40
EXCERPT_SHARE = 12
_QUESTION_WORDS = {
    "what",
    "when",
    "where",
    "who",
    "why",
    "how",
    "which",
    "did",
    "does",
    "do",
    "is",
    "was",
    "are",
    "were",
    "the",
    "a",
    "an",
    "of",
    "to",
    "in",
    "on",
    "for",
}


@dataclass
class Retrieval:
    scope: RecallScope
    query: str
    reference_time: datetime
    anchor_source: str
    routing: Routing | None
    fused: list[tuple[ItemKey, float]] = field(default_factory=list)
    ranks: Mapping[str, Mapping[ItemKey, int]] = field(default_factory=dict)
    facts: dict[uuid.UUID, Fact] = field(default_factory=dict)
    events: dict[uuid.UUID, Event] = field(default_factory=dict)
    episodes: dict[uuid.UUID, Episode] = field(default_factory=dict)
    # Long events found through a passage: event id -> that passage's id, and once
    # hydrated, its text (the event is shown as an excerpt of it).
    passages: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    passage_texts: dict[uuid.UUID, str] = field(default_factory=dict)
    # Read with the channels (one round trip): the user's pinned instructions
    # (`with_instructions`), whether the user has document spans (`documents.joined_hits`)
    # and events tagged with a document (`documents.document_tags`); None when not read.
    instructions: list[Fact] | None = None
    has_documents: bool | None = None
    has_document_tags: bool | None = None
    # The query's vector, for the document spans' vector rank (`documents.joined_hits`):
    # embedding it again cost ~15 ms for users with documents.
    query_vector: list[float] | None = None


class Ranks(Mapping[str, dict[ItemKey, int]]):
    """Each channel's ranking as item -> rank (from 1), a channel's built when first
    read. Only explanations and debug output read them; building all of them on every
    recall hashed every ranked item once more (hundreds for a long history)."""

    def __init__(self, rankings: Mapping[str, Sequence[ItemKey]]) -> None:
        self._rankings = rankings
        self._built: dict[str, dict[ItemKey, int]] = {}

    def __getitem__(self, name: str) -> dict[ItemKey, int]:
        built = self._built.get(name)
        if built is None:
            ranked = self._rankings[name]
            built = self._built[name] = {key: i for i, key in enumerate(ranked, start=1)}
        return built

    def __iter__(self) -> Iterator[str]:
        return iter(self._rankings)

    def __len__(self) -> int:
        return len(self._rankings)


def _reference(scope: RecallScope, given: datetime | None) -> tuple[datetime, str]:
    if given is not None:
        return given, "request"
    if scope.conversation_id:
        latest = (
            channels.events_visible(scope)
            .filter(conversation_id=scope.conversation_id)
            .order_by("-event_time")
            .values_list("event_time", flat=True)
            .first()
        )
        if latest is not None:
            return latest, "conversation_event"
    return timezone.now(), "server_now"


def retrieve(
    scope: RecallScope,
    query: str,
    *,
    reference_time: datetime | None = None,
    weights: dict[str, float] | None = None,
    budget: int = 8000,
) -> Retrieval:
    """Run every channel, fuse, add neighbours, and hydrate the items a context of
    `budget` tokens could hold (hydrating more is wasted work on the hot path)."""
    reference, anchor = _reference(scope, reference_time)
    events, facts = channels.visible("event", scope), channels.visible("fact", scope)
    episodes = channels.visible("episode", scope)
    # Larger budgets hold more turns, so the event channels look deeper.
    depth = max(channels.CHANNEL_DEPTH, budget // EVENT_DEPTH_TOKENS)
    # Every channel's statement goes out in one pipeline: Postgres ranks by keyword while
    # this process routes and embeds the query (~5 ms of a recall on another core), and
    # the answers come back together. The transaction holds the vector index settings.
    channels_started = perf_counter()
    sizes = channels.corpus_sizes(scope)

    def few(kind: str) -> bool:
        return sizes.get(kind, 0) <= bm25.few_rows(kind)

    # A short history is read whole for locality (memory.recall.locality.TIMELINE_ROWS);
    # without a corpus row the size is unknown and the per-candidate lookup is used.
    event_rows = sizes.get("event")
    whole_timeline = event_rows is not None and event_rows <= locality.TIMELINE_ROWS

    # The second connection first: whether the caller holds a transaction is asked
    # before this one opens its own.
    with (
        replica.beside(max(sizes.values(), default=0)) as second,
        transaction.atomic(using=replica.alias()),
        channels.pipeline(),
    ):
        channels.iterative_scan(depth)  # first: it also keeps every statement serial
        if second is not None:
            channels.iterative_scan(depth, on=second)
        any_event = channels.any_visible(events)
        keyword_events = channels.keyword_send("event", events, query, depth, few=few("event"))
        # Only event scores are used beyond the ranking (the temporal channel's order).
        keyword_facts = channels.keyword_send(
            "fact", facts, query, all_scores=False, few=few("fact")
        )
        keyword_episodes = channels.keyword_send(
            "episode", episodes, query, 10, all_scores=False, few=few("episode")
        )
        keyword_passages = channels.keyword_passages_send(scope, query, depth, few=few("passage"))
        conversation = channels.conversation_recent_send(scope)
        timeline = locality.timeline_send(scope) if whole_timeline else None
        instructions = hydration.instructions_send(scope, INSTRUCTION_KIND, INSTRUCTIONS_PINNED)
        # Documents are read from the primary (memory.recall.documents): the answer read
        # here counts only when recall reads from it too.
        has_documents = (
            documents.spans_exist_send(scope.tenant.pk, scope.user_id)
            if replica.alias() == DEFAULT_DB_ALIAS
            else None
        )
        routing = route_query(query, reference=reference)
        predicate = channels.predicate_facts_send(scope, routing.predicates)
        temporal = (
            channels.temporal_events_send(scope, routing.temporal.start, routing.temporal.end)
            if routing.temporal is not None
            else None
        )
        embed_started = perf_counter()
        query_vector = embed_query(query)
        _channel_observe("embed_query", embed_started)
        # Formatted once for the four vector statements (not once per statement).
        vector_text = channels.vector_literal(query_vector)
        # On a second connection when there is one: its backend starts on them now, while
        # the first may still be ranking by keyword (replica.beside).
        vector_events = channels.vector_send("event", events, vector_text, depth, on=second)
        vector_facts = channels.vector_send("fact", facts, vector_text, on=second)
        vector_episodes = channels.vector_send("episode", episodes, vector_text, 10, on=second)
        vector_passages = channels.vector_passages_send(scope, vector_text, depth, on=second)
        if not any_event():
            return Retrieval(
                scope=scope,
                query=query,
                reference_time=reference,
                anchor_source=anchor,
                routing=None,
                query_vector=query_vector,
            )
        # Insertion order is fusion's tie order.
        rankings: dict[str, list[ItemKey]] = {
            "vector_events": vector_events(),
            "vector_facts": vector_facts(),
            "vector_episodes": vector_episodes(),
        }
        rankings["keyword_events"], event_scores = keyword_events()
        rankings["keyword_facts"], _ = keyword_facts()
        rankings["keyword_episodes"], _ = keyword_episodes()
        rankings["vector_passages"], passages = vector_passages()
        rankings["keyword_passages"], keyword_passage = keyword_passages()
        passages.update(keyword_passage)  # the keyword match is the better excerpt
        rankings["predicate"] = predicate()
        if temporal is not None:
            rankings["temporal"] = temporal(event_scores)
        rankings["conversation"] = conversation()
        timeline_rows = timeline() if timeline is not None else None
        pinned = instructions()
        documents_found, tags_found = has_documents() if has_documents is not None else (None, None)
    # The channels' statements are pipelined (one round trip, the database ranking while
    # this process embeds the query), so their times are recorded as one: from the first
    # statement sent to the last result read. Four observations per recall (query
    # embedding, channels, fusion, hydration): each costs a few µs in multiprocess mode
    # (bench/metrics_call_sites.py); a dozen per-channel waits would mostly time the first.
    _channel_observe("channels", channels_started)
    fuse_started = perf_counter()
    fused: list[tuple[ItemKey, float]] = rrf_fuse(  # type: ignore[assignment]
        rankings,
        weights or channel_weights(budget),
        k=FUSION_K,
        groups=CHANNEL_GROUPS,
    )
    # Even short items cost ~12 tokens with their line overhead; keep a margin for skips.
    cut = max(40, budget // 8)
    # Turns near relevant turns are relevant (memory.recall.locality). The first `cut`
    # event hits (at most SMOOTHED_HITS) are re-scored before the cut, so a turn ranked
    # just below it can still make it; deeper ones rarely reach the context and each
    # costs ~20 µs of lookup.
    hits = [key[1] for key, _ in fused if key[0] == "event"]
    anchors = max(NEIGHBOUR_ANCHORS, budget // NEIGHBOUR_ANCHOR_TOKENS)
    # A long history's read leaves out the hits no other hit is near, except the first
    # `anchors` (the only ones of them that can be `_add_neighbours`' anchors).
    around = locality.turns_around(
        scope,
        hits[: min(cut, SMOOTHED_HITS)],
        timeline=timeline_rows,
        scored=hits,
        anchors=anchors,
    )
    fused = locality.smooth(fused, around)[:cut]
    result = Retrieval(
        scope=scope,
        query=query,
        reference_time=reference,
        anchor_source=anchor,
        routing=routing,
        fused=fused,
        passages=passages,
        instructions=pinned,
        has_documents=documents_found,
        has_document_tags=tags_found,
        ranks=Ranks(rankings),
        query_vector=query_vector,
    )
    _add_neighbours(result, around, anchors, previous=budget >= PREVIOUS_TURN_MIN_BUDGET)
    # The budget fills long before the end of the list (LoCoMo, 80 questions: the deepest
    # packed item was at rank 20 / 67 / 120 of 66 / 233 / 340 at 500 / 2000 / 4000
    # tokens), and hydrating and rendering the rest was a third of a recall's time.
    _channel_observe("fuse", fuse_started)
    hydrate_started = perf_counter()
    _hydrate(result, limit=max(40, budget // HYDRATE_TOKENS))
    _channel_observe("hydrate", hydrate_started)
    return result


def channel_weights(budget: int) -> dict[str, float]:
    """The fusion weights for a context of `budget` tokens (see WIDE_FACTS_MIN_BUDGET)."""
    return WIDE_CHANNEL_WEIGHTS if budget >= WIDE_FACTS_MIN_BUDGET else CHANNEL_WEIGHTS


def _channel_observe(channel: str, started: float) -> None:
    recall_channel_observe(channel=channel, seconds=perf_counter() - started)


def _add_neighbours(
    result: Retrieval,
    around: dict[uuid.UUID, locality.Around],
    anchors_wanted: int,
    *,
    previous: bool,
) -> None:
    """Give the turn after each of the `anchors_wanted` strongest event hits (and with
    `previous`, the turn before) NEIGHBOUR_SHARE of the hit's score, unless it already
    scores higher. Neighbours are turns of the same conversation, adjacent in time."""
    scores = dict(result.fused)
    anchors = [(key, score) for key, score in result.fused if key[0] == "event"]
    for key, score in anchors[:anchors_wanted]:
        turns = around.get(key[1])
        if turns is None:
            continue
        for neighbour in (turns.after[:1] + turns.before[:1]) if previous else turns.after[:1]:
            boosted = score * NEIGHBOUR_SHARE
            if scores.get(("event", neighbour), 0.0) < boosted:
                scores[("event", neighbour)] = boosted
    result.fused = sorted(scores.items(), key=lambda pair: pair[1], reverse=True)


def _hydrate(result: Retrieval, limit: int | None = None) -> None:
    """Load the first `limit` fused items (all without a limit); the rest stay unloaded
    and are left out of blocks."""
    ids: dict[str, list[uuid.UUID]] = {"fact": [], "event": [], "episode": []}
    for (kind, item_id), _ in result.fused[:limit]:
        ids[kind].append(item_id)
    # One round trip: the passages are asked for every event about to be read, and
    # kept for the events that turn out visible.
    with channels.pipeline():
        facts = hydration.facts_send(result.scope, ids["fact"])
        events = hydration.events_send(result.scope, ids["event"])
        episodes = hydration.episodes_send(result.scope, ids["episode"])
        passage_texts = hydration.passage_texts_send(
            {
                event_id: result.passages[event_id]
                for event_id in ids["event"]
                if event_id in result.passages
            }
        )
        result.facts, result.events, result.episodes = facts(), events(), episodes()
        texts = passage_texts()
    result.passage_texts = {
        event_id: text for event_id, text in texts.items() if event_id in result.events
    }


# --- Rendering ----------------------------------------------------------------------------


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%-d %B %Y")


def fact_sources(fact: Fact) -> list[str]:
    """The events that stated `fact` (hydration reads them with the fact)."""
    loaded = getattr(fact, "source_event_ids", None)
    if loaded is None:
        loaded = [str(s.event_id) for s in fact.sources.all()]
    return loaded or [str(fact.source_event_id)]


def fact_line(fact: Fact) -> str:
    subject = "User" if fact.subject == "user" else fact.subject
    negation = "not " if fact.negated else ""
    when = _day(fact.event_time)
    if fact.temporal:
        when = _day(datetime.fromisoformat(fact.temporal[0]["ts_start"]))
    return f"{subject}: {negation}{fact.relation_phrase} {fact.object_text} ({when})"


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s+(?=\[shares a photo)")
_SPEAKER = re.compile(r"^([A-Z][\w .'-]{0,40}):\s")
_WORD = re.compile(r"[a-z0-9]+")


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


# Excerpts split the same long turns into sentences recall after recall (~9 a recall at
# 2,000 tokens, the split regex ~0.2 ms each): texts up to SENTENCES_CACHED_CHARS are
# memoised with their sentences' word stems (4,096 of them: at most ~16 MB).
SENTENCES_CACHED_CHARS = 4000


def _sentences(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """`text`'s sentences, each with the stems of its words."""
    if len(text) <= SENTENCES_CACHED_CHARS:
        return _sentences_cached(text)
    return _split_sentences(text)


def _split_sentences(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    return tuple(
        (sentence, frozenset(_stem(w) for w in _WORD.findall(sentence.lower())))
        for sentence in _SENTENCE_END.split(text)
        if sentence
    )


_sentences_cached = lru_cache(maxsize=4096)(_split_sentences)


def excerpt(text: str, *, focus: set[str], max_tokens: int) -> str:
    """`text`, or when it is longer than `max_tokens`, its sentences that share the most
    words with the query (in their original order, gaps marked "…"), keeping a leading
    "Speaker:" so the line still says who spoke. Long turns otherwise crowd out evidence."""
    if count_tokens(text) <= max_tokens:
        return text
    speaker = ""
    if match := _SPEAKER.match(text):
        speaker, text = match.group(0), text[match.end() :]
    split = _sentences(text)
    sentences = [sentence for sentence, _ in split]
    scored = sorted(range(len(sentences)), key=lambda i: (-len(split[i][1] & focus), i))
    chosen: list[int] = []
    used = count_tokens(speaker)
    for index in scored:
        cost = count_tokens(sentences[index]) + 1
        if chosen and used + cost > max_tokens:
            continue
        chosen.append(index)
        used += cost
    parts, previous = [], -1
    for index in sorted(chosen):
        if index != previous + 1:
            parts.append("…")
        parts.append(sentences[index])
        previous = index
    if previous != len(sentences) - 1:
        parts.append("…")
    cut = speaker + " ".join(parts)
    # A first sentence longer than the limit is taken whole above (a log line, a table
    # without full stops): cut it to the limit so the line still fits a budget.
    if count_tokens(cut) > max_tokens:
        cut = truncate_to_tokens(cut, max(1, max_tokens - 1)) + "…"
    return cut


def event_line(
    event: Event,
    *,
    focus: set[str] | None = None,
    max_tokens: int | None = None,
    passage: str | None = None,
) -> str:
    """The event as a context line; a long event found through one of its passages is
    shown as (an excerpt of) that passage."""
    text = " ".join((passage if passage is not None else event.content).split())
    if max_tokens is not None:
        text = excerpt(text, focus=focus or set(), max_tokens=max_tokens)
    # "yesterday" means little to the reader of a memory: say which day it was.
    notes = notes_for(text, event.event_time, event.time_notes)
    if notes:
        text += " [" + "; ".join(f"{expr} = {date}" for expr, date in notes) + "]"
    if event.role in ("assistant", "tool"):
        return f"({event.role}) {text}"
    return text


def blocks_from(result: Retrieval, budget: int | None = None) -> list[Block]:
    """Hydrated items in fused order as blocks, facts whose source turns rank above them
    skipped (the turn already carries the fact). With a budget, long turns are cut to
    their most relevant sentences (at most budget/EXCERPT_SHARE tokens each)."""
    if not result.fused:
        return []
    top = result.fused[0][1]
    max_tokens = max(EXCERPT_MIN_TOKENS, budget // EXCERPT_SHARE) if budget else None
    focus = {_stem(w) for w in _WORD.findall(result.query.lower())} - _QUESTION_WORDS
    taken_events: set[str] = set()
    blocks: list[Block] = []
    for (kind, item_id), score in result.fused:
        norm = round(score / top, 4)
        if kind == "event" and item_id in result.events:
            event = result.events[item_id]
            taken_events.add(str(event.id))
            blocks.append(
                Block(
                    type="event",
                    content=event_line(
                        event,
                        focus=focus,
                        max_tokens=max_tokens,
                        passage=result.passage_texts.get(item_id),
                    ),
                    source_ids=[str(event.id)],
                    score=norm,
                    event_time=event.event_time,
                    item_id=str(event.id),
                )
            )
        elif kind == "fact" and item_id in result.facts:
            fact = result.facts[item_id]
            sources = fact_sources(fact)
            if set(sources) <= taken_events:
                continue
            blocks.append(
                Block(
                    type="fact",
                    content=fact_line(fact),
                    source_ids=sources,
                    score=round(norm * TIER_WEIGHT.get(fact.tier, 1.0), 4),
                    event_time=fact.event_time,
                    tier=fact.tier,
                    item_id=str(fact.id),
                )
            )
        elif kind == "episode" and item_id in result.episodes:
            episode = result.episodes[item_id]
            if not episode.summary:
                continue
            cited = episode_citations(episode)
            if cited and set(cited) <= taken_events:
                continue  # the turns it summarises are already in the context
            taken_events.update(cited)
            blocks.append(
                Block(
                    type="episode",
                    content=" ".join(episode.summary.split()),
                    source_ids=cited,
                    score=norm,
                    event_time=episode.last_event_time or timezone.now(),
                    item_id=str(episode.id),
                )
            )
    # Hot facts first: a small budget should spend itself on what matters most.
    blocks.sort(key=lambda block: block.score, reverse=True)
    return blocks


# How many standing instructions to the assistant every recall carries, newest first.
INSTRUCTIONS_PINNED = 5
INSTRUCTION_KIND = "instruction"


def with_instructions(
    scope: RecallScope, blocks: list[Block], facts: list[Fact] | None = None
) -> list[Block]:
    """`blocks` with the user's current instructions to the assistant ("answer in short
    bullet points") first, whatever the query: they apply to every answer, so a small
    budget spends itself on them before anything else (issue #15). `facts` are those
    instructions when already read (`Retrieval.instructions`), else one indexed query."""
    if facts is None:
        facts = hydration.instructions_send(scope, INSTRUCTION_KIND, INSTRUCTIONS_PINNED)()
    if not facts:
        return blocks
    pinned = [
        Block(
            type="fact",
            content=fact_line(fact),
            source_ids=fact_sources(fact),
            score=2.0,
            event_time=fact.event_time,
            tier=fact.tier,
            item_id=str(fact.id),
        )
        for fact in facts
    ]
    ids = {b.item_id for b in pinned}
    return pinned + [b for b in blocks if not (b.type == "fact" and b.item_id in ids)]


def episode_citations(episode: Episode) -> list[str]:
    """The events an episode summary draws on: for an extractive summary, those whose
    highlight sentences it quotes; an abstractive one is derived from all its highlights."""
    summary = " ".join(episode.summary.split())
    cited: list[str] = []
    for highlight in episode.highlights:
        quoted = " ".join(str(highlight.get("text", "")).split()) in summary
        if (quoted or episode.summarizer == "llm") and highlight["event"] not in cited:
            cited.append(str(highlight["event"]))
    return cited


@dataclass
class RecallResult:
    system_context: str
    blocks: list[Block]
    citations: list[str]
    token_estimate: int
    # The query named a time ("last week") and it was resolved from the server's clock,
    # not from a conversation's latest event: the same request may answer differently later.
    clock_dependent: bool = False


def citations_of(blocks: list[Block]) -> list[str]:
    citations: list[str] = []
    for block in blocks:
        for source in block.source_ids:
            if source not in citations:
                citations.append(source)
    return citations


def memory_recall(
    *,
    tenant: Tenant,
    user_id: str,
    query: str,
    token_budget: int,
    conversation_id: str | None = None,
    min_confidence: float | None = None,
) -> RecallResult:
    """v1 recall: the most relevant memory packed into `token_budget` cl100k tokens."""
    scope = RecallScope(
        tenant=tenant,
        user_id=user_id,
        conversation_id=conversation_id,
        min_confidence=min_confidence,
    )
    result = retrieve(scope, query, budget=token_budget)
    # Spans of the user's documents that match the query join (memory.recall.documents);
    # the user's instructions to the assistant come first at any budget.
    joined = documents.joined_hits(
        tenant=tenant,
        user_id=user_id,
        query=query,
        has_spans=result.has_documents,
        query_vector=result.query_vector,
    )
    text, admitted, tokens = pack(
        with_instructions(
            scope,
            documents.with_memory(blocks_from(result, token_budget), joined),
            result.instructions,
        ),
        token_budget,
    )
    facts_accessed([b.item_id for b in admitted if b.type == "fact"])
    clock_dependent = (
        result.anchor_source == "server_now"
        and result.routing is not None
        and result.routing.temporal is not None
    )
    return RecallResult(
        system_context=text,
        blocks=admitted,
        citations=citations_of(admitted),
        token_estimate=tokens,
        clock_dependent=clock_dependent,
    )
