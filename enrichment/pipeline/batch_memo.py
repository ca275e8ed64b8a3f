"""A process's memory of the events it took along in a batch, so that their own stage
tasks return without a query."""

from __future__ import annotations

import time

from enrichment.pipeline.contract import STAGES
from memory.models import EnrichmentStatus, Event

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


def batch_memo_skip(event_id: str, target: int) -> bool:
    """Whether this process did stage `target` for the event in a batch, recently."""
    entry = _done_in_batch.get(event_id)
    if entry is None:
        return False
    done, when = entry
    expired = time.monotonic() - when > BATCH_MEMO_SECONDS
    if expired or done <= target + 1:  # untrusted, useless from here on, or used up now
        del _done_in_batch[event_id]
    return not expired and done > target


def batch_memo_record(events: list[Event], done: int) -> None:
    """Remember that `done` stages of these events are done (called after the commit)."""
    now = time.monotonic()
    if len(_done_in_batch) + len(events) > _BATCH_MEMO_MAX:
        for key in [
            k for k, (_, when) in _done_in_batch.items() if now - when > BATCH_MEMO_SECONDS
        ]:
            del _done_in_batch[key]
        for key in list(_done_in_batch)[: len(_done_in_batch) // 2]:
            del _done_in_batch[key]  # the oldest half: a flood of batches nobody revisits
    for event in events:
        finished = event.status in (EnrichmentStatus.SKIPPED, EnrichmentStatus.ENRICHED)
        _done_in_batch[str(event.pk)] = (len(STAGES) if finished else done, now)
