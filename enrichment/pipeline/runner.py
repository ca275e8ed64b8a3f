"""The stage runner: runs an event's undone stages in order, batching under a backlog.

It knows the stage contract (`contract.Stage`) and the registry of stages, never what a
stage does. Every stage is idempotent: the event row records the last stage done, and a
stage's writes commit in the same transaction as that marker, under the event's row lock.
Slow work (an LLM call, extraction, embedding) happens before the lock is taken
(`prepare`), and its result is written only if the stage is still undone (`apply`), so a
re-run, a duplicate message or a crash at any point leaves no duplicates. Asking for a
stage runs any earlier stage still undone.

Batching: a stage task takes on, besides its own event, up to ENRICH_BATCH - 1 other events
of the tenant that wait for the same stage (a backlog), locking those it can without
waiting (SKIP LOCKED) and marking their stage done in the same transaction; their own tasks
then find nothing to do. With no backlog a task does one event, so batching adds no lag;
under a backlog, per-event work becomes a few set-based statements per batch and one model
call per batch. Writes for several events are ordered by event time. A process remembers
for a minute which events it took along in a batch, so their own tasks return without a
query (`batch_memo`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from claiv.metrics.registry import enrichment_lag_observe, enrichment_stage_timer
from enrichment.pipeline.batch_memo import batch_memo_record, batch_memo_skip
from enrichment.pipeline.batching import events_lock_waiting, events_waiting
from enrichment.pipeline.contract import STAGES, Stage, nothing
from enrichment.pipeline.rows import (
    EVENT_STATE_FIELDS,
    commit_asynchronously,
    event_finished,
    event_get,
    events_write,
    stages_done,
)
from enrichment.pipeline.stages import STAGE_FUNCTIONS
from memory.models import EnrichmentStatus, Event

logger = logging.getLogger("claiv.enrichment")


@dataclass(frozen=True)
class StageOutcome:
    event_id: str
    stage: str
    ran: bool  # False when the stage was already done, or the event is gone/forgotten/skipped


def stage_get(name: str) -> Stage:
    """The registered stage; a plain (prepare, apply) pair (as a test may register) gets
    the contract's defaults."""
    return Stage(*STAGE_FUNCTIONS[name])


def _waiting(
    event: Event, stage: str, *, batch: bool, among: Sequence[str] | None = None
) -> list[Event]:
    """The events a run of `stage` takes on besides `event` (none without `batch`; only
    those of `among` when given)."""
    if not batch:
        return []
    found = stage_get(stage)
    return events_waiting(
        event, stage, limit=found.batch_size() - 1, narrow=found.narrow, among=among
    )


def _stage_done(events: list[Event], stage: str, now: datetime) -> None:
    """Record in memory that `stage` is done for the events (written by `_marks_write`)."""
    for event in events:
        if event.status != EnrichmentStatus.SKIPPED:
            event.stage = stage
            event.status = (
                EnrichmentStatus.ENRICHED if stage == STAGES[-1] else EnrichmentStatus.PROCESSING
            )
        event.error = None
        event.state_changed_at = now
        if event.status == EnrichmentStatus.ENRICHED:
            event.enriched_at = now


def _marks_write(events: list[Event], extra: Iterable[str], now: datetime) -> None:
    """Write the events' stage markers, and the `extra` fields the stages set on them, in
    one UPDATE per set of fields. A field is written for an event only when a stage set it
    (it is in the instance's `__dict__`): a deferred column, such as the vector of an event
    embedded before, is neither loaded nor written back."""
    extra = list(dict.fromkeys(extra))
    attnames = {name: getattr(Event._meta.get_field(name), "attname", name) for name in extra}
    by_fields: dict[tuple[str, ...], list[Event]] = {}
    for event in events:
        present = tuple(name for name in extra if attnames[name] in event.__dict__)
        by_fields.setdefault(present, []).append(event)
    for present, group in by_fields.items():
        events_write(group, [*EVENT_STATE_FIELDS, *present])
    enriched = [e.created_at for e in events if e.status == EnrichmentStatus.ENRICHED]
    if enriched:
        transaction.on_commit(partial(_lag_record, enriched, now))


def _memo_record(events: list[Event]) -> None:
    """After the commit: remember the batched events' progress (see `batch_memo`)."""
    by_done: dict[int, list[Event]] = {}
    for event in events:
        by_done.setdefault(stages_done(event), []).append(event)
    for done, group in by_done.items():
        batch_memo_record(group, done)


def _lag_record(created: list[datetime], enriched_at: datetime) -> None:
    for created_at in created:
        enrichment_lag_observe(created_at=created_at, enriched_at=enriched_at)


def stage_failed(exc: BaseException) -> str | None:
    """The stage whose `apply` raised `exc` in `stage_run`, if one did."""
    stage = getattr(exc, "enrichment_stage", None)
    return stage if isinstance(stage, str) else None


def stage_run(
    event_id: str, stage: str, *, batch: bool = True, among: Sequence[str] | None = None
) -> StageOutcome:
    """Run `stage` (and any earlier undone stage) for the event, and, with `batch`, for
    other events waiting for the same stage when there is a backlog (only those of
    `among` when given: the other events of the same message). Idempotent.

    A retry runs without `batch`: one event that makes a stage fail must fail alone, not
    take the events batched with it down too.
    """
    target = STAGES.index(stage)
    ran = False
    if batch and batch_memo_skip(str(event_id), target):
        return StageOutcome(str(event_id), stage, ran)
    prepared: tuple[str, list[Event], Any] | None = None
    # A first look without a lock: under a backlog most tasks find their stage already done
    # by another task's batch, and return after this one query.
    event = event_get(event_id)
    if event_finished(event) or stages_done(event) > target:  # type: ignore[arg-type]
        return StageOutcome(str(event_id), stage, ran)
    assert event is not None
    current = STAGES[stages_done(event)]
    if stage_get(current).prepare is not nothing:
        # Do the next stage's slow part before taking the lock.
        group = [event, *_waiting(event, current, batch=batch, among=among)]
        with enrichment_stage_timer(f"{current}_prepare"):
            prepared = (current, group, stage_get(current).prepare(group))
    while True:
        with transaction.atomic():
            commit_asynchronously()
            event = event_get(event_id, lock=True)
            if event_finished(event) or stages_done(event) > target:  # type: ignore[arg-type]
                return StageOutcome(str(event_id), stage, ran)
            assert event is not None
            current = STAGES[stages_done(event)]
            prepare, apply = stage_get(current)[:2]
            if prepare is nothing:
                group, payload = [event, *_waiting(event, current, batch=batch, among=among)], None
            elif prepared is not None and prepared[0] == current:
                group, payload = prepared[1], prepared[2]
            else:
                group = []
            if group:
                members = [event, *events_lock_waiting(group[1:], current)]
                touched = {str(m.pk): m for m in members}
                extra: list[str] = []
                now = timezone.now()
                while True:
                    try:
                        with enrichment_stage_timer(current):
                            extra += apply(members, payload) or []
                    except Exception as exc:
                        # The transaction rolls back to the stage before the first one it
                        # ran: the event's marker no longer says which stage failed.
                        exc.enrichment_stage = current  # type: ignore[attr-defined]
                        raise
                    _stage_done(members, current, now)
                    ran = True
                    logger.debug(
                        "stage done event=%s stage=%s batch=%d", event_id, current, len(members)
                    )
                    if event_finished(event) or stages_done(event) > target:
                        break
                    following = STAGES[stages_done(event)]
                    prepare, apply = stage_get(following)[:2]
                    if prepare is not nothing:
                        break
                    # The next stage has no slow part: it runs in this transaction, on the
                    # events already locked (and any other event waiting for it), and the
                    # markers are written once for both. Each event row is then rewritten
                    # once per transaction, not once per stage: every UPDATE of an event
                    # adds a version to each of its indexes (the vector's HNSW graph, the
                    # tsvector's GIN, six btrees), ~1 ms of Postgres per event and stage.
                    current, payload = following, None
                    members = [m for m in members if not event_finished(m)]
                    if batch and (among is None or any(a not in touched for a in among)):
                        members += [
                            other
                            for other in events_lock_waiting(
                                _waiting(event, current, batch=batch, among=among), current
                            )
                            if str(other.pk) not in touched
                        ]
                    touched.update((str(m.pk), m) for m in members)
                _marks_write(list(touched.values()), extra, now)
                if len(touched) > 1:
                    transaction.on_commit(partial(_memo_record, list(touched.values())[1:]))
                prepared = None
                if event_finished(event) or stages_done(event) > target:
                    return StageOutcome(str(event_id), stage, ran)
                continue
        # The next undone stage has a slow part: run it outside the lock (the transaction
        # above wrote nothing), then look again.
        group = [event, *_waiting(event, current, batch=batch, among=among)]
        with enrichment_stage_timer(f"{current}_prepare"):
            prepared = (current, group, prepare(group))
