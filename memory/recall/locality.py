"""Conversational locality: a turn next to relevant turns is likely relevant itself.

A conversation stays on a topic for several turns, and the turn that answers a question
is often worded unlike the question ("Is that your third one?" / "Yep! It's about loss,
identity and connection"). So after fusion each candidate turn gains a share of the fused
scores of the turns around it on the user's timeline (`smooth`), and the turns adjacent to
the strongest hits are pulled into the context by the engine even when no channel ranked
them. `turns_around` reads the adjacency of the candidates in one round trip.

Adjacency is on the user's own timeline (memory.timeline), not inside a client's
conversation id: the same turns fed as one conversation, one thread per visit or with no
id at all have the same neighbours (before, a turn fed with a thread per session had
none across its session's edges, and the first and last turns of every session lost
their context).

What is not here: ranking (channels), fusion (fusion.rrf_fuse) and hydration.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from memory import timeline
from memory.recall import channels, replica
from memory.recall.channels import ItemKey, RecallScope

# Share of a turn's fused score given to the turns 1, 2, 3, 4 places before and after it
# in its conversation. LoCoMo evidence recall at 500 / 2000 tokens, conversations 1-4:
# no smoothing 75.6 / 88.1; (0.5) 77.4 / 88.6; (0.5, 0.2) 78.4 / 89.0; (0.5, 0.3, 0.1)
# 79.4 / 89.7; (0.5, 0.3, 0.2, 0.1) 79.1 / 90.1; one more place at 0.05 79.1 / 89.9;
# (1.0) 76.0 / 88.0. Held out (5-10): 72.7 / 85.3 without, 76.6 / 87.6 with this kernel.
# Which hits are re-scored (the engine passes those that can survive its cut): all ~65 /
# ~245 event hits 79.1 / 90.1; the first budget/8 79.5 / 90.1; 60 / 120 79.6 / 90.1 (held
# out 76.2 / 87.0); 40 / 80 78.5 / 89.3.
KERNEL: tuple[float, ...] = (0.5, 0.3, 0.2, 0.1)
# Neighbours stop at a session break (a gap of timeline.SESSION_GAP or more): a new sitting
# is usually a new topic. LoCoMo conversations 0-2, evidence recall at 500 / 2000 tokens,
# fed with one id per conversation / no id: 80.9 / 91.6 and 80.9 / 91.3 without the stop,
# 81.1 / 91.6 and 81.1 / 91.6 with it (BENCHMARKS.md, issue #14).
STOP_AT_SESSION_BREAK = True
# A turn of another conversation id that sits between turns of the anchor's own id is a
# concurrent thread (two tabs, two chats at once), not the anchor's context: it is skipped
# and the next turn taken. Ids only separate threads that interleave: threads one after the
# other (a thread per visit, per question) stay each other's neighbours, and turns without
# an id are everyone's, so feeding with one id, one per sitting or none is unchanged.
SKIP_INTERLEAVED_THREADS = True


@dataclass(frozen=True)
class Around:
    """The visible turns of the user just before (nearest first) and just after (nearest
    first) one turn on the timeline, at most `reach` of each."""

    before: tuple[uuid.UUID, ...]
    after: tuple[uuid.UUID, ...]


# Up to this many visible events, the user's whole timeline is read in the channels'
# round trip (`timeline_send`) and adjacency found in Python: for a LoCoMo user (~600
# turns) reading ~600 short rows cost less than the per-candidate index probes of ~250
# candidates (~4,000 neighbour rows, each timestamp parsed in Python; BENCHMARKS.md,
# "The fixed floor of a recall"). Both give the same neighbours. The bound is not a
# measured break-even: 3,000 short rows are still read in a few ms. With the pruned read
# (PRUNE_LONELY) both paths were within noise at 3,000 events on a loaded machine.
TIMELINE_ROWS = 3000
# Longer histories read the neighbours of only the candidates that can gain from them
# (`turns_around(scored=...)`): an event whose nearest other scored event is `reach`
# session gaps or more away has none of them among its neighbours, so its smoothed
# score is its own, and unless it is one of the first `anchors` hits it cannot become
# one of the engine's neighbour anchors either (smoothing only raises scores, and the
# sort is stable). The same output from fewer index scans: lh-100000 (bench.long_history)
# reads 41 of 126 candidates on average over 500 and 2,000 tokens (BENCHMARKS.md,
# "Locality at 100k").
PRUNE_LONELY = True
# Times travel as integer microseconds since the epoch: exact, and loaded by psycopg in C,
# where each timestamptz goes through Django's loader in Python (an aware datetime apiece).
_MICROS = "(extract(epoch FROM {col}) * 1000000)::bigint"
_GAP_MICROS = int(timeline.SESSION_GAP.total_seconds() * 1_000_000)

# (id, event time in µs, conversation id), the user's visible events in timeline order.
TimelineRows = list[tuple[uuid.UUID, int, str]]


def timeline_send(scope: RecallScope) -> Callable[[], TimelineRows]:
    """Send the statement that reads the scope's visible events in timeline order (event
    time, then id), for `turns_around(timeline=...)`; returns the fetch."""
    rows = channels.visible("event", scope)
    sql, params = rows.select(
        f"r.id, {_MICROS.format(col='r.event_time')}, r.conversation_id",
    )
    return channels.send(f"{sql} ORDER BY r.event_time, r.id", params)  # type: ignore[return-value]


def turns_around(
    scope: RecallScope,
    event_ids: Sequence[uuid.UUID],
    reach: int = len(KERNEL),
    *,
    stop_at_session_break: bool | None = None,
    timeline: TimelineRows | None = None,
    scored: Sequence[uuid.UUID] | None = None,
    anchors: int = 0,
) -> dict[uuid.UUID, Around]:
    """-> {event id: Around} for the visible events among `event_ids`, in one query, or
    from `timeline` (`timeline_send`'s rows) without one.

    Adjacency is by (event time, id) on the user's timeline, whatever conversation the
    turns were given (the index on tenant, user, event time serves each lookup); the id
    orders turns with the same time, so neither arrival order nor ids change it. Only
    visible turns count, so a forgotten turn is skipped rather than hiding the one behind
    it. With `stop_at_session_break` the neighbours end at a session break.

    With `scored` (the events whose scores `smooth` reads) and stopping at session
    breaks, the query leaves out an event that no other event of `scored` is near enough
    in time to be one of its neighbours (each step of a neighbour chain is shorter than
    a session gap, so a neighbour `reach` places away is less than `reach` gaps away),
    unless it is one of the first `anchors` of `event_ids`: its neighbours would add
    nothing to any score (see PRUNE_LONELY). The timeline path returns every event."""
    if not event_ids:
        return {}
    if stop_at_session_break is None:
        stop_at_session_break = STOP_AT_SESSION_BREAK
    skip_interleaved = SKIP_INTERLEAVED_THREADS
    # Skipped turns are replaced by the next ones: read twice the reach.
    depth = 2 * reach if skip_interleaved else reach
    if timeline is not None:
        direct = _around_on_timeline(
            timeline, event_ids, reach, stop_at_session_break, skip_interleaved
        )
        if direct is not None:
            return direct
        found = _around_in(timeline, event_ids, depth)
    elif scored is not None and stop_at_session_break and PRUNE_LONELY:
        found = _around_read(
            scope, event_ids, depth, near=(scored, event_ids[:anchors], reach * _GAP_MICROS)
        )
    else:
        found = _around_read(scope, event_ids, depth)
    around: dict[uuid.UUID, Around] = {}
    for event_id, moment, thread, before, after in found:
        chains = [before, after]
        if skip_interleaved:
            chains = [own_thread(thread, chain) for chain in chains]
        timed = [[(i, t) for i, t, _ in chain][:reach] for chain in chains]
        if stop_at_session_break:
            sides = [_same_session(moment, chain) for chain in timed]
        else:
            sides = [tuple(i for i, _ in chain) for chain in timed]
        around[event_id] = Around(before=sides[0], after=sides[1])
    return around


# (event id, its time, its conversation id, the turns before it nearest first, after it)
_Found = list[tuple[uuid.UUID, int, str, list["Step"], list["Step"]]]


def _around_read(
    scope: RecallScope,
    event_ids: Sequence[uuid.UUID],
    depth: int,
    near: tuple[Sequence[uuid.UUID], Sequence[uuid.UUID], int] | None = None,
) -> _Found:
    """Each candidate's `depth` neighbours on either side, read by the (tenant, user,
    event time) index: one statement whatever the user's history.

    With `near` = (scored, kept, window µs), only the candidates in `kept` and those with
    another event of `scored` (or of `event_ids`) less than `window` away in time are
    read: the events' times come from the primary key, the nearest other event of each
    from one sort of those few rows, and the two index scans run for the rest only."""
    rows = channels.visible("event", scope)
    where, params = rows.where()
    # Raw SQL: compiling this through the ORM took ~2 ms of the ~7 ms. The plain time
    # bound lets the index range scan; the row comparison orders ties.
    around = (
        "LEFT JOIN LATERAL (SELECT array_agg(n.id ORDER BY n.event_time {order}, n.id {order}) "
        f"AS ids, array_agg({_MICROS.format(col='n.event_time')} "
        "ORDER BY n.event_time {order}, n.id {order}) AS times, "
        "array_agg(n.conversation_id ORDER BY n.event_time {order}, n.id {order}) AS threads "
        f"FROM (SELECT r.id, r.event_time, r.conversation_id FROM {rows.table} r WHERE {where} "
        "AND r.event_time {op}= c.event_time AND (r.event_time, r.id) {op} (c.event_time, c.id) "
        "ORDER BY r.event_time {order}, r.id {order} LIMIT %s) n) {alias} ON true"
    )
    columns = (
        f"r.id, r.event_time, {_MICROS.format(col='r.event_time')} AS micros, r.conversation_id"
    )
    if near is None:
        candidates, _ = rows.select(columns, "r.id = ANY(%s::uuid[])")
        candidate_params = [*params, channels.uuid_array(event_ids)]
    else:
        scored, kept, window = near
        timed, _ = rows.select(columns, "r.id = ANY(%s::uuid[])")
        # The nearest other event in time is the one before or after in time order.
        candidates = (
            "SELECT id, event_time, micros, conversation_id FROM (SELECT t.*, "
            "t.micros - lag(t.micros) OVER w AS since, lead(t.micros) OVER w - t.micros AS till "
            f"FROM ({timed}) t WINDOW w AS (ORDER BY t.event_time, t.id)) s "
            "WHERE s.id = ANY(%s::uuid[]) AND (s.id = ANY(%s::uuid[]) OR s.since < %s "
            "OR s.till < %s)"
        )
        candidate_params = [
            *params,
            channels.uuid_array(dict.fromkeys([*event_ids, *scored])),
            channels.uuid_array(event_ids),
            channels.uuid_array(kept),
            window,
            window,
        ]
    sql = (
        "SELECT c.id, c.micros, c.conversation_id, b.ids, b.times, b.threads, a.ids, "
        "a.times, a.threads "
        f"FROM ({candidates}) c "
        f"{around.format(op='<', order='DESC', alias='b')} "
        f"{around.format(op='>', order='ASC', alias='a')}"
    )
    arguments: list[Any] = [*candidate_params, *params, depth, *params, depth]
    with replica.reads().cursor() as cursor:
        cursor.execute(sql, arguments)
        read = cursor.fetchall()
    return [
        (
            event_id,
            moment,
            thread,
            list(zip(b_ids or (), b_times or (), b_threads or (), strict=True)),
            list(zip(a_ids or (), a_times or (), a_threads or (), strict=True)),
        )
        for event_id, moment, thread, b_ids, b_times, b_threads, a_ids, a_times, a_threads in read
    ]


def _around_in(timeline: TimelineRows, event_ids: Sequence[uuid.UUID], depth: int) -> _Found:
    """`_around_read` from the whole timeline: the same rows, by position."""
    place = {row[0]: i for i, row in enumerate(timeline)}
    found: _Found = []
    for event_id in dict.fromkeys(event_ids):
        i = place.get(event_id)
        if i is None:
            continue  # not visible (or not the user's)
        _, moment, thread = timeline[i]
        before = timeline[max(0, i - depth) : i][::-1]
        found.append((event_id, moment, thread, before, timeline[i + 1 : i + 1 + depth]))
    return found


def _around_on_timeline(
    timeline: TimelineRows,
    event_ids: Sequence[uuid.UUID],
    reach: int,
    stop_at_session_break: bool,
    skip_interleaved: bool,
) -> dict[uuid.UUID, Around] | None:
    """`turns_around`'s answer from the whole timeline when no two threads interleave on
    it (each conversation id's turns one run, turns without an id anywhere) or
    `skip_interleaved` is off, else None.

    Then `own_thread` drops nothing from any chain (a turn of another id can only come
    after the last turn of the anchor's own id, going outwards), so each side is the
    `reach` nearest turns, cut at the first session gap: read by position, without
    building and filtering the 2 x reach chains per candidate. A user fed with one id,
    one per sitting or none takes this path; ids that interleave take `_around_in`.
    Positions are found by the UUIDs' integers: `UUID.__hash__` is a Python call, and a
    2,000-token recall hashed ~600 timeline ids and ~200 candidates here."""
    last = ""
    seen: set[str] = set()
    for _, _, thread in timeline if skip_interleaved else ():
        if thread and thread != last:
            if thread in seen:
                return None  # this id's turns come in two runs: something interleaves
            seen.add(thread)
            last = thread
    place = {row[0].int: i for i, row in enumerate(timeline)}
    gap = _GAP_MICROS if stop_at_session_break else None
    around: dict[uuid.UUID, Around] = {}
    for event_id in event_ids:
        i = place.get(event_id.int)
        if i is None:
            continue  # not visible (or not the user's); one asked twice gets the same
        around[event_id] = Around(
            before=_walk(timeline, i, -1, reach, gap), after=_walk(timeline, i, 1, reach, gap)
        )
    return around


def _walk(
    timeline: TimelineRows, start: int, step: int, reach: int, gap: int | None
) -> tuple[uuid.UUID, ...]:
    """Up to `reach` turns from position `start` in direction `step` (nearest first),
    stopping before the first step of `gap` µs or more (None: no stop)."""
    found: list[uuid.UUID] = []
    previous, j = timeline[start][1], start + step
    while 0 <= j < len(timeline) and len(found) < reach:
        moment = timeline[j][1]
        if gap is not None and abs(moment - previous) >= gap:
            break
        found.append(timeline[j][0])
        previous, j = moment, j + step
    return tuple(found)


def _same_session(anchor: int, chain: Sequence[tuple[uuid.UUID, int]]) -> tuple[uuid.UUID, ...]:
    """`timeline.same_session` on times in µs: the prefix of `chain` (nearest first) that
    stops at the first step of a session gap or more."""
    kept: list[uuid.UUID] = []
    previous = anchor
    for value, moment in chain:
        if abs(moment - previous) >= _GAP_MICROS:
            break
        kept.append(value)
        previous = moment
    return tuple(kept)


Step = tuple[uuid.UUID, int, str]  # id, time in µs, conversation id


def own_thread(thread: str, chain: Sequence[Step]) -> list[Step]:
    """`chain` (an anchor's neighbours on one side, nearest first, with their times and
    conversation ids) without the turns of threads that interleave with the anchor's
    thread `thread`: those with a turn the anchor's thread goes on past (see
    SKIP_INTERLEAVED_THREADS). Turns without an id are kept."""
    if not thread:
        return list(chain)
    last_own = max((i for i, (_, _, other) in enumerate(chain) if other == thread), default=0)
    interleaved = {other for _, _, other in chain[:last_own] if other and other != thread}
    return [step for step in chain if step[2] not in interleaved]


def smooth(
    fused: Sequence[tuple[ItemKey, float]],
    around: dict[uuid.UUID, Around],
    kernel: Sequence[float] = KERNEL,
) -> list[tuple[ItemKey, float]]:
    """`fused` re-scored: each event gains kernel[d-1] × the fused score of the event d
    places before and after it (turns outside `fused` score 0), re-sorted. Facts and
    episodes keep their score. Scores are read from the input, so gains do not chain."""
    # Only events' scores are read, by id: no (kind, id) tuple built and hashed per item
    # and per neighbour (a UUID hashes in Python; a long history fuses hundreds of items).
    # Keyed by the UUIDs' integers: `UUID.__hash__` is a Python call (~8 per candidate).
    scores = {key[1].int: score for key, score in fused if key[0] == "event"}
    smoothed: list[tuple[ItemKey, float]] = []
    for key, score in fused:
        if key[0] == "event" and (turns := around.get(key[1])) is not None:
            for side in (turns.before, turns.after):
                for weight, neighbour in zip(kernel, side, strict=False):
                    score += weight * scores.get(neighbour.int, 0.0)
        smoothed.append((key, score))
    smoothed.sort(key=itemgetter(1), reverse=True)
    return smoothed
