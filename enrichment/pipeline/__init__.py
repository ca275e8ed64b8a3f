"""Enrichment stage logic: Extract → Map → Gate → Embed → Tier.

Plain functions over the database; no Celery and no DRF here (`enrichment.tasks` wraps
them). The package's layout:

- `contract`: the stage contract (`Stage`: prepare, apply) and the order of `STAGES`;
- `runner`: `stage_run`, which runs undone stages and batches a backlog, knowing no stage;
- `stages/`: one module per stage, registered in `stages.STAGE_FUNCTIONS`;
- `resolver`: how a statement relates to the user's stored facts (Map and Gate);
- `rows`: the raw-row access to memory's tables shared by the runner and the stages;
- `batching`, `batch_memo`: which events a run takes along, and what a process remembers;
- `reconciliation`: stuck events, attempts, failures.

What the tasks, the bench and the tests call is re-exported here.
"""

from enrichment.pipeline.contract import STAGES
from enrichment.pipeline.reconciliation import (
    TRANSIENT_PREFIX,
    event_claim_retry,
    event_mark_failed,
    event_note_transient,
    event_stage_undone,
    events_stuck,
)
from enrichment.pipeline.resolver import resolve
from enrichment.pipeline.runner import StageOutcome, stage_failed, stage_run
from enrichment.pipeline.stages.embed import episodes_refresh, fact_embedding_text
from enrichment.pipeline.stages.tier import facts_retier, tier_for

__all__ = [
    "STAGES",
    "TRANSIENT_PREFIX",
    "StageOutcome",
    "event_claim_retry",
    "event_mark_failed",
    "event_note_transient",
    "event_stage_undone",
    "episodes_refresh",
    "events_stuck",
    "fact_embedding_text",
    "facts_retier",
    "resolve",
    "stage_failed",
    "stage_run",
    "tier_for",
]
