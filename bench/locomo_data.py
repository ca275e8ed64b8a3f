"""Typed loader for the LoCoMo benchmark file (``locomo10.json``).

The dataset is read from outside the repository (it is CC BY-NC and must never be
shipped): ``$LOCOMO_PATH`` if set, else ``../shared/data/locomo10.json`` relative to
the repository root.

Quirks handled here (see the data README):

* sessions are the ``session_<n>`` keys; one conversation carries ``session_<n>_date_time``
  keys for sessions that do not exist, so date keys are never iterated;
* image turns carry a ``blip_caption`` which often holds the answer, so a turn's ``content``
  (what gets ingested and indexed) is ``"{speaker}: {text} [shares a photo: {caption}]"``;
* a few evidence strings are malformed (``"D8:6; D9:17"``, ``"D9:1 D4:4"``, ``"D"``,
  ``"D:11:26"``): they are split on ``;`` and whitespace and only ``D<n>:<n>`` pieces are
  kept; ``"D30:05"`` is canonicalised to ``"D30:5"``. Evidence that names a turn absent
  from the conversation cannot be retrieved by anyone, so it is dropped as well;
* some gold answers are JSON integers (years) and become strings; adversarial questions
  (category 5) have no ``answer`` (it becomes ``""``) but an ``adversarial_answer``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PATH = REPO_ROOT.parent / "shared" / "data" / "locomo10.json"

CATEGORY_NAMES: dict[int, str] = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}

_SESSION_KEY = re.compile(r"session_(\d+)")
_DIA_ID = re.compile(r"D(\d+):(\d+)")
_SESSION_TIME_FORMAT = "%I:%M %p on %d %B, %Y"


@dataclass(frozen=True)
class Turn:
    dia_id: str
    session: int
    speaker: str
    text: str
    blip_caption: str | None
    time: datetime
    content: str


@dataclass(frozen=True)
class Question:
    question: str
    answer: str
    category: int
    evidence: list[str]
    adversarial_answer: str | None = None


@dataclass
class Conversation:
    sample_id: str
    speaker_a: str
    speaker_b: str
    turns: list[Turn] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)

    def turn_by_id(self) -> dict[str, Turn]:
        return {turn.dia_id: turn for turn in self.turns}


def default_path() -> Path:
    env = os.environ.get("LOCOMO_PATH")
    return Path(env) if env else DEFAULT_PATH


def parse_session_time(value: str) -> datetime:
    """Parse ``"1:56 pm on 8 May, 2023"`` as a UTC datetime (the data has no time zone)."""
    # strptime matches case-insensitively, so "pm" satisfies %p.
    return datetime.strptime(value.strip(), _SESSION_TIME_FORMAT).replace(tzinfo=UTC)


def turn_content(speaker: str, text: str, blip_caption: str | None) -> str:
    """The string a turn is ingested as, identical for our server and the baselines."""
    content = f"{speaker}: {text}"
    if blip_caption:
        content += f" [shares a photo: {blip_caption}]"
    return content


def clean_evidence(raw: Iterable[str], known_ids: set[str] | None = None) -> list[str]:
    """Split malformed evidence strings, keep canonical ``D<n>:<n>`` ids, de-duplicate.

    With ``known_ids`` given, ids that name no turn of the conversation are dropped too.
    """
    cleaned: list[str] = []
    for item in raw:
        for piece in re.split(r"[;,\s]+", str(item)):
            match = _DIA_ID.fullmatch(piece.strip())
            if not match:
                continue
            # int() strips zero padding ("D30:05" is turn D30:5).
            dia_id = f"D{int(match.group(1))}:{int(match.group(2))}"
            if known_ids is not None and dia_id not in known_ids:
                continue
            if dia_id not in cleaned:
                cleaned.append(dia_id)
    return cleaned


def _parse_turns(conversation: dict) -> list[Turn]:
    sessions = sorted(
        (int(m.group(1)), key)
        for key in conversation
        if (m := _SESSION_KEY.fullmatch(key)) and isinstance(conversation[key], list)
    )
    turns: list[Turn] = []
    for number, key in sessions:
        start = parse_session_time(conversation[f"{key}_date_time"])
        for index, raw in enumerate(conversation[key]):
            caption = raw.get("blip_caption") or None
            turns.append(
                Turn(
                    dia_id=raw["dia_id"],
                    session=number,
                    speaker=raw["speaker"],
                    text=raw["text"],
                    blip_caption=caption,
                    # One minute per turn keeps a strict, stable order inside a session.
                    time=start + timedelta(minutes=index),
                    content=turn_content(raw["speaker"], raw["text"], caption),
                )
            )
    return turns


def _parse_question(raw: dict, known_ids: set[str]) -> Question:
    answer = raw.get("answer")
    adversarial = raw.get("adversarial_answer")
    return Question(
        question=raw["question"],
        answer="" if answer is None else str(answer),
        category=int(raw["category"]),
        evidence=clean_evidence(raw.get("evidence", []), known_ids),
        adversarial_answer=None if adversarial is None else str(adversarial),
    )


def parse_conversation(sample: dict) -> Conversation:
    conversation = sample["conversation"]
    turns = _parse_turns(conversation)
    known_ids = {turn.dia_id for turn in turns}
    return Conversation(
        sample_id=str(sample["sample_id"]),
        speaker_a=conversation["speaker_a"],
        speaker_b=conversation["speaker_b"],
        turns=turns,
        questions=[_parse_question(q, known_ids) for q in sample.get("qa", [])],
    )


def load_locomo(path: str | Path | None = None) -> list[Conversation]:
    """Load every conversation of the LoCoMo file at ``path`` (default: see module doc)."""
    source = Path(path) if path is not None else default_path()
    with source.open(encoding="utf-8") as handle:
        samples = json.load(handle)
    return [parse_conversation(sample) for sample in samples]
