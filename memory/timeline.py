"""The user's own timeline: every visible event of one user in event-time order, whatever
conversation or thread id the client gave it (or none) and whatever order it arrived in.

Mechanisms that need "the turns around this one" or "this sitting" read them here, so
that the same memories give the same context however a client fed them: one id for a
whole history, one per visit, none at all, in order or shuffled.

- Order: event time, then event id (two events with the same time still have a fixed
  order, independent of arrival).
- A session is a run of events whose consecutive event times are less than `SESSION_GAP`
  apart (the usual 30-minute rule of web analytics; it needs no signal from the client).
  A client's conversation id is not a session: a chat app may keep one thread for months,
  or open a thread per question.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar

SESSION_GAP = timedelta(minutes=30)

T = TypeVar("T")


def session_breaks(times: Sequence[datetime], gap: timedelta = SESSION_GAP) -> list[int]:
    """Indices i of `times` (sorted ascending) where a new session starts: the gap from
    times[i-1] to times[i] is `gap` or more. The first event always starts one (index 0
    is included when `times` is not empty)."""
    return [i for i, t in enumerate(times) if i == 0 or t - times[i - 1] >= gap]


def sessions(items: Sequence[tuple[datetime, T]], gap: timedelta = SESSION_GAP) -> list[list[T]]:
    """`items` (event time, value) split into sessions, in time order; input order is
    irrelevant (ties keep their input order, so pass ties in a fixed order)."""
    ordered = sorted(items, key=lambda pair: pair[0])
    times = [t for t, _ in ordered]
    starts = [*session_breaks(times, gap), len(ordered)]
    return [[v for _, v in ordered[a:b]] for a, b in zip(starts, starts[1:], strict=False)]


def same_session(
    anchor: datetime,
    chain: Sequence[tuple[T, datetime]],
    gap: timedelta = SESSION_GAP,
) -> tuple[T, ...]:
    """The prefix of `chain` (neighbours of an event at `anchor`, nearest first, each with
    its time) that stays in the anchor's session: it stops at the first step of `gap` or
    more between consecutive times."""
    kept: list[T] = []
    previous = anchor
    for value, moment in chain:
        if abs(moment - previous) >= gap:
            break
        kept.append(value)
        previous = moment
    return tuple(kept)
