"""Episodes: a running summary of each conversation and of each session in it, kept current
as events are enriched (the Embed stage calls this module; see `pipeline`).

- A session is a run of the user's events whose consecutive event times are less than
  `SESSION_GAP` apart (memory.timeline: the usual 30-minute rule of web analytics; it
  needs no signal from the client), whatever conversation or thread ids they carry, so
  one id per visit, one for everything or none give the same sessions. Arrival order does
  not matter: an event that closes the gap between two sessions merges them. An event
  with a conversation id also belongs to that conversation's episode (`session_key` "");
  events without one are in sessions only. Each episode cites every event it covers
  (`Episode.events`).
- A summary is drawn from a pool of at most `POOL_SIZE` scored highlight sentences kept on
  the row (`Episode.highlights`), so an arriving event updates it in O(pool) instead of
  re-reading the conversation. A sentence scores by the utility of the admitted facts
  stated in it, plus a little for names, numbers and length; assistant sentences count
  half (`enrichment/highlights.py`). The summary is "<date range>: <body>", the body
  bounded to `BODY_CHARS`: the best
  highlights in the order said (extractive), or an LLM's abstract of them (CLAIV_EXTRACTOR
  =llm, extractive on failure). Only the body is embedded, and only when it changed.
- Embedding a body costs several times an event's text, and under a backlog the same
  episodes change with nearly every event. So with a backlog waiting (`defer`), a changed
  body is marked `embedding_stale` (its previous vector stays searchable) and re-embedded
  later in bulk: a few per batched Embed call (`episodes_stale`) and by the periodic
  `episodes_refresh`; with no backlog it is embedded at once.

Work is split like a stage, for one event or a batch of them: `episodes_plan` reads
without locks and writes the summaries (maybe with an LLM call); `episodes_apply` runs in
the stage transaction under the users' locks, checks nothing moved since the plan (else
plans again, extractively, on the locked rows) and writes with a few set-based
statements. An event already cited by an episode is not counted twice.
Not in this module: embedding calls and stage bookkeeping (pipeline), forget (memory.forget
deletes every episode that cites a forgotten event).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q

from enrichment.extractors import summarizer
from enrichment.highlights import event_highlights
from enrichment.summaries import ExtractiveSummarizer, Highlight, Summarizer
from memory import timeline
from memory.models import Candidate, Episode, Event, Role, Scope

SESSION_GAP = timeline.SESSION_GAP
# The pool holds more sentences than a body shows, so that a later, better sentence can
# displace one and an abstractive summary sees some context.
POOL_SIZE = 8
# 600 characters of LoCoMo turns are 118-161 MiniLM word pieces (measured on the 272
# session summaries of the 10 conversations), inside the model's 256-piece window, so the
# whole body is embedded; about 130 cl100k tokens in a recall budget.
BODY_CHARS = 600
_VECTOR_NEEDED = ExpressionWrapper(
    Q(embedding__isnull=True) | Q(embedding_stale=True), output_field=BooleanField()
)


@dataclass(eq=False)
class EpisodeChange:
    """What one episode becomes once the events are in it."""

    episode: Episode | None  # None: a new session episode
    user_id: str
    conversation_id: str
    session_key: str
    absorbed: list[Episode]  # sessions the events join to this one (deleted on apply)
    highlights: list[dict[str, Any]]
    first: datetime
    last: datetime
    cited: list[Any]  # ids of the events to cite
    summary: str = ""
    body: str = ""
    summarizer: str = ""
    tokens_used: int = 0
    reembed: bool = False
    vector: list[float] | None = None


@dataclass
class EpisodePlan:
    snapshot: tuple[Any, ...]
    highlights: dict[Any, list[dict[str, Any]]]  # event id -> its highlight sentences
    defer: bool  # leave changed bodies stale instead of embedding them now
    changes: list[EpisodeChange] = field(default_factory=list)

    @property
    def to_embed(self) -> list[EpisodeChange]:
        return [] if self.defer else [c for c in self.changes if c.reembed]

    @property
    def texts(self) -> list[str]:
        """Bodies to embed now, in the order of `to_embed`."""
        return [c.body for c in self.to_embed]

    @property
    def tokens_used(self) -> int:
        return sum(c.tokens_used for c in self.changes)


def _merge(*pools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The best POOL_SIZE highlights of the pools with distinct texts, in the order said."""
    unique = {(h["event"], h["start"]): h for pool in pools for h in pool}
    best = sorted(unique.values(), key=lambda h: (-h["score"], h["time"], h["start"]))
    # A sentence said again (an assistant's stock advice, a pasted line) is one highlight:
    # its best-scored, earliest telling. On the long user-assistant set three copies of one
    # sentence could fill half a session's 600-character body.
    said: set[str] = set()
    distinct = []
    for highlight in best:
        text = " ".join(str(highlight["text"]).split()).lower()
        if text not in said:
            said.add(text)
            distinct.append(highlight)
    return sorted(distinct[:POOL_SIZE], key=lambda h: (h["time"], h["start"]))


def _header(first: datetime, last: datetime, *, session: bool) -> str:
    # Day granularity past the session start: a header that changed with every event would
    # rewrite the summary's full-text index entry every time.
    if session:
        end = "" if first.date() == last.date() else f" to {last:%Y-%m-%d}"
        return f"Session {first:%Y-%m-%d %H:%M} UTC{end}"
    if first.date() == last.date():
        return f"Conversation on {first:%Y-%m-%d}"
    return f"Conversation {first:%Y-%m-%d} to {last:%Y-%m-%d}"


def _old_body(episode: Episode) -> str | None:
    if episode.first_event_time is None or episode.last_event_time is None:
        return None
    header = (
        _header(
            episode.first_event_time, episode.last_event_time, session=bool(episode.session_key)
        )
        + ": "
    )
    return episode.summary[len(header) :] if episode.summary.startswith(header) else None


def _write(change: EpisodeChange, writer: Summarizer) -> None:
    """Fill in the change's summary: the old body when its highlights did not move."""
    episode = change.episode
    old_body = _old_body(episode) if episode is not None and not change.absorbed else None
    if episode is not None and old_body is not None and change.highlights == episode.highlights:
        change.body, change.summarizer = old_body, episode.summarizer
        change.reembed = bool(getattr(episode, "vector_needed", True))
    else:
        result = writer.summarize(
            highlights=[Highlight(h["text"], h["score"]) for h in change.highlights],
            limit=BODY_CHARS,
        )
        change.body, change.summarizer = result.text, result.summarizer
        change.tokens_used, change.reembed = result.tokens_used, True
    header = _header(change.first, change.last, session=bool(change.session_key))
    change.summary = f"{header}: {change.body}" if change.body else ""
    change.reembed = change.reembed and bool(change.body)


def _load(events: list[Event], *, lock: bool) -> list[Episode]:
    """The episodes the events can touch: their conversations' episodes, and the sessions
    of their users' timelines within SESSION_GAP of the events' times."""
    if not events:
        return []
    near = Q()
    spans: dict[str, list[datetime]] = {}
    conversations: dict[str, set[str]] = {}
    for event in events:
        spans.setdefault(event.user_id, []).append(event.event_time)
        if event.conversation_id:
            conversations.setdefault(event.user_id, set()).add(event.conversation_id)
    for user_id, times in spans.items():
        near |= (
            Q(user_id=user_id)
            & ~Q(session_key="")
            & Q(
                first_event_time__lt=max(times) + SESSION_GAP,
                last_event_time__gt=min(times) - SESSION_GAP,
            )
        )
    for user_id, ids in conversations.items():
        near |= Q(user_id=user_id, session_key="", conversation_id__in=sorted(ids))
    rows = (
        Episode.objects.filter(near, tenant_id=events[0].tenant_id)
        .defer("search", "embedding")
        .annotate(vector_needed=_VECTOR_NEEDED)
        .order_by("first_event_time", "session_key", "id")
    )
    if lock:
        rows = rows.select_for_update(of=("self",))
    return list(rows)


def _snapshot(events: list[Event], rows: list[Episode]) -> tuple[Any, ...]:
    return (
        tuple(sorted(str(e.pk) for e in events)),
        tuple((r.id, r.event_count, r.first_event_time, r.last_event_time) for r in rows),
    )


def _fold(
    events: list[Event], rows: list[Episode], highlights: dict[Any, list[dict[str, Any]]]
) -> list[EpisodeChange]:
    """Put the events, in time order, into the episodes (`rows`, as read): the changed
    episodes. Sessions are on the user's timeline, whatever conversation ids the events
    carry: a session an event lands within SESSION_GAP of takes it; two it bridges become
    one (the earlier keeps its key). An event with a conversation id also joins that
    conversation's whole episode."""
    sessions: dict[str, list[EpisodeChange]] = {}
    wholes: dict[tuple[str, str], EpisodeChange] = {}
    for row in rows:
        if row.first_event_time is None or row.last_event_time is None:
            continue
        change = EpisodeChange(
            episode=row,
            user_id=row.user_id,
            conversation_id=row.conversation_id,
            session_key=row.session_key,
            absorbed=[],
            highlights=list(row.highlights),
            first=row.first_event_time,
            last=row.last_event_time,
            cited=[],
        )
        if row.session_key:
            sessions.setdefault(row.user_id, []).append(change)
        else:
            wholes[(row.user_id, row.conversation_id)] = change
    touched: list[EpisodeChange] = []
    for event in sorted(events, key=lambda e: (e.event_time, e.created_at, str(e.pk))):
        t, mine = event.event_time, highlights.get(event.pk, [])
        user_sessions = sessions.setdefault(event.user_id, [])
        joined = [c for c in user_sessions if c.first - SESSION_GAP < t < c.last + SESSION_GAP]
        whole = None
        if event.conversation_id:
            whole = wholes.get((event.user_id, event.conversation_id))
            if whole is None:
                whole = wholes[(event.user_id, event.conversation_id)] = EpisodeChange(
                    episode=None,
                    user_id=event.user_id,
                    conversation_id=event.conversation_id,
                    session_key="",
                    absorbed=[],
                    highlights=[],
                    first=t,
                    last=t,
                    cited=[],
                )
        if joined:
            keep = min(joined, key=lambda c: (c.episode is None, c.first, c.session_key))
            for other in joined:
                if other is keep:
                    continue
                keep.absorbed += ([other.episode] if other.episode else []) + other.absorbed
                keep.highlights = _merge(keep.highlights, other.highlights)
                keep.first, keep.last = min(keep.first, other.first), max(keep.last, other.last)
                keep.cited += other.cited
                user_sessions.remove(other)
                if other in touched:
                    touched.remove(other)
        else:
            keep = EpisodeChange(
                episode=None,
                user_id=event.user_id,
                conversation_id="",  # a session of the timeline, not of one conversation
                session_key=f"{t:%Y%m%dT%H%M%S}-{event.pk.hex[:8]}",
                absorbed=[],
                highlights=[],
                first=t,
                last=t,
                cited=[],
            )
            user_sessions.append(keep)
        for target in (keep, whole):
            if target is None:
                continue
            target.highlights = _merge(target.highlights, mine)
            target.first, target.last = min(target.first, t), max(target.last, t)
            target.cited.append(event.pk)
            if target not in touched:
                touched.append(target)
    return touched


def _admitted_facts(events: list[Event]) -> dict[Any, list[tuple[int, int, float]]]:
    with_facts = [e.pk for e in events if e.candidate_count - e.gated_count > 0]
    out: dict[Any, list[tuple[int, int, float]]] = {}
    if with_facts:  # nothing admitted: no need to ask
        for event_id, start, end, utility in Candidate.objects.filter(
            event_id__in=with_facts, admitted=True
        ).values_list("event_id", "source_start", "source_end", "utility"):
            out.setdefault(event_id, []).append((start, end, utility or 0.0))
    return out


def episodes_for(event: Event) -> bool:
    """Whether the event belongs in episodes: global-scope events only. An episode is
    visible to every recall of its user, so a project- or conversation-scoped event in it
    would leak outside its scope (scoped episodes would need a scope on Episode)."""
    return event.scope == Scope.GLOBAL and event.role != Role.SYSTEM


def episodes_plan(*, events: list[Event], defer: bool) -> EpisodePlan:
    """Read the events' episodes and write their next summaries (no locks taken)."""
    facts = _admitted_facts(events)
    highlights = {e.pk: event_highlights(event=e, facts=facts.get(e.pk, [])) for e in events}
    rows = _load(events, lock=False)
    changes = _fold(events, rows, highlights)
    writer = summarizer()
    for change in changes:
        _write(change, writer)
    return EpisodePlan(
        snapshot=_snapshot(events, rows), highlights=highlights, defer=defer, changes=changes
    )


def episodes_apply(
    *, events: list[Event], plan: EpisodePlan, embed: Callable[[list[str]], list[list[float]]]
) -> int:
    """Put the events into their episodes; the caller holds the events' row locks and their
    users' locks. Returns the LLM tokens the summaries used. `plan.changes` to embed
    must carry their vectors."""
    rows = _load(events, lock=True)
    if _snapshot(events, rows) != plan.snapshot:
        # Rows moved since the plan (another event of these conversations got in first,
        # or not every planned event could be locked): plan again on the locked rows,
        # extractively (no network call while holding locks), and embed here.
        replan = EpisodePlan(
            snapshot=_snapshot(events, rows),
            highlights=plan.highlights,
            defer=plan.defer,
            changes=_fold(events, rows, plan.highlights),
        )
        for change in replan.changes:
            _write(change, ExtractiveSummarizer())
        for change, vector in zip(replan.to_embed, embed(replan.texts), strict=True):
            change.vector = vector
        plan = replan
    stale = plan.defer
    created = [
        Episode(
            tenant_id=events[0].tenant_id,
            user_id=c.user_id,
            conversation_id=c.conversation_id,
            session_key=c.session_key,
            summary=c.summary,
            highlights=c.highlights,
            summarizer=c.summarizer,
            first_event_time=c.first,
            last_event_time=c.last,
            embedding=c.vector,
            embedding_stale=stale and c.reembed,
            event_count=0,
        )
        for c in plan.changes
        if c.episode is None
    ]
    if created:
        Episode.objects.bulk_create(created)
    fresh = iter(created)
    targets = [c.episode or next(fresh) for c in plan.changes]
    for change, episode in zip(plan.changes, targets, strict=True):
        if change.absorbed:
            _absorb(episode, change.absorbed)
    added = _events_add(
        [
            (episode.pk, event_id)
            for change, episode in zip(plan.changes, targets, strict=True)
            for event_id in change.cited
        ]
    )
    for change, episode in zip(plan.changes, targets, strict=True):
        episode.event_count += added.get(episode.pk, 0)
        if change.episode is None:
            fields = ["event_count"]
        else:
            episode.summary, episode.highlights = change.summary, change.highlights
            episode.summarizer = change.summarizer
            episode.first_event_time, episode.last_event_time = change.first, change.last
            fields = [
                "summary",
                "highlights",
                "summarizer",
                "first_event_time",
                "last_event_time",
                "event_count",
                "updated_at",
            ]
            if change.reembed and stale:
                episode.embedding_stale = True
                fields.append("embedding_stale")
            elif change.reembed:
                episode.embedding, episode.embedding_stale = change.vector, False
                fields += ["embedding", "embedding_stale"]
        episode.save(update_fields=fields)
    return plan.tokens_used


def _events_add(pairs: list[tuple[Any, Any]]) -> dict[Any, int]:
    """Cite events from episodes; returns per episode how many it did not cite yet."""
    if not pairs:
        return {}
    through = Episode.events.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {through} (episode_id, event_id) "
            "SELECT * FROM unnest(%s::uuid[], %s::uuid[]) ON CONFLICT DO NOTHING "
            "RETURNING episode_id",
            [[str(e) for e, _ in pairs], [str(v) for _, v in pairs]],
        )
        counts: dict[Any, int] = {}
        for (episode_id,) in cursor.fetchall():
            counts[episode_id] = counts.get(episode_id, 0) + 1
        return counts


def _absorb(episode: Episode, absorbed: list[Episode]) -> None:
    """Move the absorbed sessions' citations to `episode` and delete them."""
    through = Episode.events.through._meta.db_table
    ids = [str(a.pk) for a in absorbed]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {through} (episode_id, event_id) SELECT %s, event_id FROM {through} "
            "WHERE episode_id = ANY(%s::uuid[]) ON CONFLICT DO NOTHING",
            [str(episode.pk), ids],
        )
    Episode.objects.filter(pk__in=ids).delete()
    episode.event_count = Episode.events.through.objects.filter(episode_id=episode.pk).count()


@dataclass(frozen=True)
class StaleEpisode:
    id: Any
    updated_at: datetime
    body: str


def episodes_stale(
    *, tenant_id: Any, limit: int, exclude: Iterable[Any] = ()
) -> list[StaleEpisode]:
    """Episodes of the tenant whose vector lags their summary, longest-waiting first."""
    rows = (
        Episode.objects.filter(tenant_id=tenant_id, embedding_stale=True)
        .exclude(pk__in=list(exclude))
        .order_by("updated_at")
        .only("id", "updated_at", "summary", "session_key", "first_event_time", "last_event_time")[
            :limit
        ]
    )
    return [
        StaleEpisode(r.id, r.updated_at, body) for r in rows if (body := _old_body(r) or r.summary)
    ]


def episodes_vectors_write(
    *, vectors: list[tuple[StaleEpisode, list[float]]]
) -> set[tuple[str, str]]:
    """Store refreshed vectors, each only if its episode did not change since it was read
    (same `updated_at`); a changed one stays stale for the next round. Returns the
    (tenant id, user id) whose episodes got a vector."""
    if not vectors:
        return set()
    table = Episode._meta.db_table
    values = ", ".join(["(%s::uuid, %s::timestamptz, %s::vector)"] * len(vectors))
    params: list[Any] = []
    for stale, vector in vectors:
        params += [str(stale.id), stale.updated_at, "[" + ",".join(map(str, vector)) + "]"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS e SET embedding = v.vec, embedding_stale = false "
            f"FROM (VALUES {values}) AS v(id, seen, vec) "
            "WHERE e.id = v.id AND e.updated_at = v.seen AND e.embedding_stale "
            "RETURNING e.tenant_id, e.user_id",
            params,
        )
        return {(str(t), u) for t, u in cursor.fetchall()}
