"""The proposition card: what an extractor produces from one event.

Extractors (offline rules, LLM) return `Proposition`s; the Map stage turns them into
facts. Nothing here touches the database, Celery or DRF.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from memory.vocabulary.temporal import TemporalMatch

USER_SUBJECT = "user"

# A change statement whose fact kind the sentence does not say ("I switched from VS Code
# to Neovim"): two propositions with no predicate, the old value negated under
# CHANGE_FROM and the new one under CHANGE_TO. The Map stage names both with the
# predicate of the user's current fact that holds the old value, so the change
# supersedes it; with no such fact, as it would any other proposition.
CHANGE_FROM = "switched from"
CHANGE_TO = "switched to"


@dataclass(frozen=True)
class Proposition:
    """One candidate fact: subject, relation, object, and where it came from.

    `source_text` is a verbatim slice `content[start:end]` of the event content.
    `subject` is `USER_SUBJECT` for the event's own user, otherwise the name of the
    person or thing the statement is about (e.g. "Alice", "my sister").
    `predicate` is a catalog predicate name when the extractor already knows it;
    None lets the Map stage decide.
    """

    subject: str
    relation_phrase: str
    object_text: str
    source_text: str
    start: int
    end: int
    predicate: str | None = None
    negated: bool = False
    confidence: float = 0.8
    temporal: tuple[TemporalMatch, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ExtractionInput:
    """What an extractor sees of an event."""

    content: str
    event_type: str  # "message" | "tool_call" | "app_event"
    role: str | None  # "user" | "assistant" | "system" | "tool" | None
    event_time: datetime


@dataclass
class ExtractionResult:
    propositions: list[Proposition]
    extractor: str  # "offline" | "llm"
    tokens_used: int = 0


class Extractor(Protocol):
    name: str

    def extract(self, item: ExtractionInput) -> ExtractionResult: ...
