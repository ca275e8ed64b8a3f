"""Extract: the extractor's propositions become the event's candidates; time notes too."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.conf import settings

from enrichment.extractors import extractor
from enrichment.pipeline.contract import Stage, batch_size_default
from enrichment.propositions import ExtractionInput, Proposition
from memory.models import Candidate, EnrichmentStatus, Event
from memory.passages import bounded_prefix
from memory.time_notes import time_notes_compute


def extract_prepare(events: list[Event]) -> dict[Any, Any]:
    """Per event: (extraction result, or None for stored but never extracted; time notes).

    The extractor reads an event's first WHOLE_TEXT_CHARS characters, cut at a sentence
    (memory.passages.bounded_prefix): the offline extractor took ~60 s on 1 MiB of prose
    (superlinear; ~2 s on 32,000 characters) and an LLM's context would not hold it.
    A prefix rather than a sample of passages: offsets stay offsets into the content
    (`source_text` is a verbatim slice), what the writer says first (the question, the
    instruction, the decision) is where the facts of a long message are, and everything
    accepted before (at most 32,000 characters) is extracted exactly as before. The rest
    of a long event is recalled through its passages."""
    results: dict[Any, Any] = {}
    for event in events:
        result = (
            None
            if event.role == "system"
            else extractor().extract(
                ExtractionInput(
                    content=bounded_prefix(event.content),
                    event_type=event.type,
                    role=event.role or None,
                    event_time=event.event_time,
                )
            )
        )
        results[event.pk] = (
            result,
            time_notes_compute(content=event.content, role=event.role, event_time=event.event_time),
        )
    return results


def _temporal_json(proposition: Proposition) -> list[dict[str, str]]:
    return [
        {
            "ts_start": t.ts_start.astimezone(UTC).isoformat(),
            "ts_end": t.ts_end.astimezone(UTC).isoformat(),
            "raw_expression": t.raw_expression,
            "granularity": t.granularity,
        }
        for t in proposition.temporal
    ]


def extract_apply(events: list[Event], results: dict[Any, Any]) -> list[str]:
    # Cannot find rows on a first run (they would have committed with the marker); it makes
    # a run after an operator reset the stage replace rather than add.
    Candidate.objects.filter(event__in=events).delete()
    candidates = []
    for event in events:
        result, event.time_notes = results[event.pk]
        if result is None:
            event.status = EnrichmentStatus.SKIPPED
            event.stage = "extract"
            continue
        candidates += [
            Candidate(
                event=event,
                ordinal=i,
                subject=p.subject[:255],
                relation_phrase=p.relation_phrase[:255],
                object_text=p.object_text,
                source_text=p.source_text,
                source_start=p.start,
                source_end=p.end,
                predicate=p.predicate or "",
                negated=p.negated,
                confidence=p.confidence,
                temporal=_temporal_json(p),
            )
            for i, p in enumerate(result.propositions)
        ]
        event.extractor = result.extractor
        event.tokens_used = result.tokens_used
        event.candidate_count = len(result.propositions)
    if candidates:
        Candidate.objects.bulk_create(candidates)
    return ["time_notes"]


def extract_batch_size() -> int:
    """One LLM call per task: a batch would only queue calls behind each other."""
    if settings.EXTRACTOR == "llm":
        return 1
    return batch_size_default()


STAGE = Stage(extract_prepare, extract_apply, batch_size=extract_batch_size)
