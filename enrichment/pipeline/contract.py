"""The stage contract: what the runner knows about a stage, and nothing of its content.

A stage is two functions over a group of events (the asking event first, then the events
of the same tenant batched with it):

- `prepare(events) -> payload` does the slow part (an LLM call, extraction, embedding)
  before any lock is taken; `nothing` when the stage has no slow part.
- `apply(events, payload) -> extra fields | None` writes the result, under the events' row
  locks, in the transaction that also records the stage as done. It returns the names of
  further Event fields it changed, which the runner saves with the stage marker.

Both must be idempotent in effect: the runner applies a stage only while it is undone.
Stage modules import neither Celery nor DRF (checked by the import contract).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import QuerySet

from memory.models import Event

# The order of the pipeline; an event's `stage` is the last one done.
STAGES = ("extract", "map", "gate", "embed", "tier")


def nothing(events: list[Event]) -> None:
    """The `prepare` of a stage with no slow part: its apply runs on the first locked read."""
    return None


def batch_size_default() -> int:
    """ENRICH_BATCH events per stage run under a backlog (at least one)."""
    return max(settings.ENRICH_BATCH, 1)


class Stage(NamedTuple):
    """One stage of the pipeline, registered by name in `enrichment.pipeline.stages`."""

    prepare: Callable[[list[Event]], Any]
    apply: Callable[[list[Event], Any], Iterable[str] | None]
    # How many events one run takes on under a backlog.
    batch_size: Callable[[], int] = batch_size_default
    # Narrows the query of batched events (e.g. annotates what `prepare` needs to know).
    narrow: Callable[[QuerySet[Event]], QuerySet[Event]] | None = None
