"""LLM extractor: proposition cards from any OpenAI-compatible chat endpoint.

What is in here: `LLMExtractor`, which asks the model for JSON, validates it against a schema,
anchors every proposition to a verbatim slice of the event content, and degrades to a
fallback `Extractor` (normally the offline one) when the provider misbehaves.

Failure policy, per event:
- malformed output (not JSON, schema violation, empty choice): one more attempt, then fallback;
- timeout, connection error, 408/409/429, 5xx: retry up to `max_retries` times with
  exponential backoff (Retry-After honoured, every wait capped), then fallback;
- any other 4xx (bad key, unknown model): fallback at once, retrying cannot help.
Tokens reported by the provider are summed over every attempt, including failed ones,
because they are billed either way.

What is not in here: mapping relation phrases to catalog predicates (the Map stage does it),
database access, Celery. Nothing from the event content is logged.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import jsonschema
import openai

from claiv.metrics.registry import llm_call_record
from enrichment.propositions import (
    USER_SUBJECT,
    ExtractionInput,
    ExtractionResult,
    Extractor,
    Proposition,
    TemporalMatch,
)
from memory.endpoint_pool import DEFAULT_COOLDOWN_S, EndpointPool, endpoints_parse

logger = logging.getLogger(__name__)

# Subject words that mean "the event's own user", by the role of the speaker. In a user
# (or tool / app) event "I" is the user; in an assistant turn "I" is the assistant and the
# user is "you".
_SELF_WORDS = frozenset({"i", "me", "myself", "my", "mine"})
_USER_WORDS = frozenset({"user", "the user", USER_SUBJECT})
_SECOND_PERSON = frozenset({"you", "yourself", "your"})
ASSISTANT_SUBJECT = "assistant"

PROPOSITIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["propositions"],
    "properties": {
        "propositions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["subject", "relation_phrase", "object_text", "source_text"],
                "properties": {
                    "subject": {"type": "string", "minLength": 1},
                    "relation_phrase": {"type": "string", "minLength": 1},
                    "object_text": {"type": "string", "minLength": 1},
                    "source_text": {"type": "string", "minLength": 1},
                    "predicate": {"type": ["string", "null"]},
                    "negated": {"type": "boolean"},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
        }
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(PROPOSITIONS_SCHEMA)

_SYSTEM_PROMPT = """\
You extract durable facts from one event of a conversation between a user and an AI assistant.
Return a JSON object {"propositions": [...]} and nothing else. Each proposition is an object:
  "subject": who or what the fact is about. Use "user" for the end user (the person the
             assistant talks to); otherwise the name or description used in the text
             (e.g. "Alice", "my sister").
  "relation_phrase": the verb phrase as written (e.g. "lives in", "is allergic to").
  "object_text": the object as written (e.g. "Berlin", "peanuts").
  "source_text": the shortest span of the event text that states the fact, copied EXACTLY,
                 character for character (same case, punctuation and spacing).
  "predicate": optional, one of the known predicates below when one fits, else omit it.
  "negated": true when the text says the relation does NOT hold (e.g. "I don't eat meat").
  "confidence": 0..1, how clearly the text states the fact.
Only facts stated in the text; no guesses, no questions, no greetings, no instructions.
Return {"propositions": []} when there is nothing worth remembering.
"""

_CATALOG_LINE = "Known predicates: {names}."

MAX_BACKOFF_S = 8.0
# Ask again once on malformed output: a second sample usually parses, a third rarely helps.
MALFORMED_RETRIES = 1


class _MalformedOutput(Exception):
    """The model answered, but not with valid propositions JSON."""


class LLMExtractor:
    """Extractor backed by an OpenAI-compatible `/chat/completions` endpoint."""

    name = "llm"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        fallback: Extractor,
        timeout: float = 20.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = MAX_BACKOFF_S,
        sleep: Callable[[float], None] = time.sleep,
        cooldown: float = DEFAULT_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.model = model
        self.fallback = fallback
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        # The client's own retries are off: this class owns the retry budget, so that token
        # accounting, backoff and the fallback decision live in one place. `base_url` and
        # `api_key` may hold `;`-separated lists: each attempt goes to the next endpoint that
        # is not cooling down (memory.endpoint_pool).
        self.pool = EndpointPool(
            endpoints_parse(base_url, api_key),
            cooldown=cooldown,
            clock=clock,
            make_client=lambda url, key: openai.OpenAI(
                base_url=url, api_key=key, timeout=timeout, max_retries=0
            ),
        )

    # -- public --------------------------------------------------------------------------

    def extract(self, item: ExtractionInput) -> ExtractionResult:
        # System prompts are configuration, not statements about the user (API.md, ingest).
        if item.role == "system" or not item.content.strip():
            return ExtractionResult(propositions=[], extractor=self.name, tokens_used=0)

        messages = self._messages(item)
        tokens = 0
        transient_failures = 0
        malformed = 0
        while True:
            endpoint = self.pool.pick()
            try:
                response = endpoint.client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    # No temperature: reasoning models reject anything but the default.
                    response_format={"type": "json_object"},
                )
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                llm_call_record(ok=False)
                self.pool.failed(endpoint, exc)
                transient_failures += 1
                if transient_failures > self.max_retries:
                    return self._fall_back(item, tokens, f"{type(exc).__name__} after retries")
                if not self.pool.any_available():  # else the next endpoint is the retry
                    self._sleep(self._backoff(transient_failures, None))
                continue
            except openai.APIStatusError as exc:
                llm_call_record(ok=False)
                if not _is_retryable_status(exc.status_code):
                    return self._fall_back(item, tokens, f"HTTP {exc.status_code}")
                self.pool.failed(endpoint, exc)
                transient_failures += 1
                if transient_failures > self.max_retries:
                    return self._fall_back(item, tokens, f"HTTP {exc.status_code} after retries")
                if not self.pool.any_available():
                    self._sleep(self._backoff(transient_failures, exc.response.headers))
                continue
            except ValueError:
                # The HTTP body itself was not JSON (the openai package raises JSONDecodeError).
                llm_call_record(ok=False)
                malformed += 1
                if malformed > MALFORMED_RETRIES:
                    return self._fall_back(item, tokens, "unparseable HTTP body")
                continue

            usage = getattr(response, "usage", None)
            llm_call_record(
                ok=True,
                prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
                completion_tokens=(usage.completion_tokens or 0) if usage else 0,
            )
            if usage is not None:
                tokens += (usage.prompt_tokens or 0) + (usage.completion_tokens or 0)
            try:
                raw_items = _parse_output(response)
            except _MalformedOutput as exc:
                malformed += 1
                logger.info("llm extractor: malformed output (%s), attempt %d", exc, malformed)
                if malformed > MALFORMED_RETRIES:
                    return self._fall_back(item, tokens, "malformed output twice")
                continue
            propositions = self._anchor(raw_items, item)
            return ExtractionResult(
                propositions=propositions, extractor=self.name, tokens_used=tokens
            )

    # -- prompt ----------------------------------------------------------------------------

    def _messages(self, item: ExtractionInput) -> list[dict[str, str]]:
        system = _SYSTEM_PROMPT
        names = _catalog_predicate_names()
        if names:
            system += _CATALOG_LINE.format(names=", ".join(names))
        speaker = {
            "user": 'the user (so "I" is the user)',
            "assistant": 'the assistant (so "I" is the assistant and "you" is the user)',
            "tool": "a tool the assistant called",
        }.get(item.role or "", "the application, about the user")
        user = (
            f"Event type: {item.event_type}. Written by {speaker}. "
            f"Event time: {item.event_time.isoformat()}.\n"
            f"Event text:\n<<<\n{item.content}\n>>>"
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    # -- retries and fallback --------------------------------------------------------------

    def _backoff(self, failure_number: int, headers: Any) -> float:
        """Seconds before retry number `failure_number` (1-based): Retry-After, else exponential."""
        retry_after = _retry_after_seconds(headers)
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.backoff_cap)
        delay = self.backoff_base * 2 ** (failure_number - 1)
        # Up to 25% jitter so workers that failed together do not retry together.
        return min(delay * (1 - 0.25 * random.random()), self.backoff_cap)

    def _fall_back(self, item: ExtractionInput, tokens: int, reason: str) -> ExtractionResult:
        logger.warning(
            "llm extractor: falling back to %s (%s)",
            getattr(self.fallback, "name", "?"),
            reason,
        )
        result = self.fallback.extract(item)
        return ExtractionResult(
            propositions=result.propositions,
            extractor=result.extractor,
            tokens_used=result.tokens_used + tokens,
        )

    # -- anchoring -------------------------------------------------------------------------

    def _anchor(self, raw_items: list[dict[str, Any]], item: ExtractionInput) -> list[Proposition]:
        """Turn validated items into propositions anchored to verbatim spans of the content."""
        content = item.content
        resolve = _temporal_resolver()
        known = _catalog_predicate_names()
        out: list[Proposition] = []
        seen: set[tuple[str, str, str, int, int, bool]] = set()
        cursor = 0
        for raw in raw_items:
            span = _locate(content, raw["source_text"], cursor)
            if span is None:
                logger.info("llm extractor: dropped an item whose source_text is not in the event")
                continue
            start, end = span
            cursor = end
            source_text = content[start:end]
            subject = _normalise_subject(raw["subject"], item.role)
            negated = bool(raw.get("negated", False))
            relation = raw["relation_phrase"].strip()
            object_text = raw["object_text"].strip()
            key = (subject, relation, object_text, start, end, negated)
            if key in seen:
                continue
            seen.add(key)
            predicate = raw.get("predicate") or None
            if predicate is not None and known and predicate not in known:
                # An invented predicate name would bypass the Map stage's catalog lookup.
                predicate = None
            temporal: tuple[TemporalMatch, ...] = ()
            if resolve is not None:
                temporal = tuple(resolve(source_text, reference=item.event_time))
            out.append(
                Proposition(
                    subject=subject,
                    relation_phrase=relation,
                    object_text=object_text,
                    source_text=source_text,
                    start=start,
                    end=end,
                    predicate=predicate,
                    negated=negated,
                    confidence=float(raw.get("confidence", 0.8)),
                    temporal=temporal,
                )
            )
        return out


# -- helpers -------------------------------------------------------------------------------


def _is_retryable_status(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def _parse_output(response: Any) -> list[dict[str, Any]]:
    choices = getattr(response, "choices", None) or []
    if not choices or not choices[0].message or not choices[0].message.content:
        raise _MalformedOutput("no message content")
    text = choices[0].message.content.strip()
    # Some OpenAI-compatible servers ignore response_format and wrap JSON in a code fence.
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, flags=re.DOTALL)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _MalformedOutput("not JSON") from exc
    if isinstance(data, list):
        # Providers without json_object mode may return the bare list.
        data = {"propositions": data}
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(data))
    if error is not None:
        raise _MalformedOutput(f"schema: {error.message}")
    return list(data["propositions"])


def _locate(content: str, source_text: str, cursor: int) -> tuple[int, int] | None:
    """Where `source_text` sits in `content`: exact first, then a near-miss, else None.

    Exact matches are searched from `cursor` (the end of the previous item) first, so a
    sentence the user repeated is attributed to successive occurrences in order.
    The near-miss pass forgives case and whitespace runs only, the two things models most
    often change when copying; anything else is a paraphrase and is dropped.
    """
    needle = source_text.strip()
    if not needle:
        return None
    for origin in (cursor, 0):
        index = content.find(needle, origin)
        if index >= 0:
            return index, index + len(needle)
    pattern = r"\s+".join(re.escape(part) for part in needle.split())
    for origin in (cursor, 0):
        match = re.compile(pattern, flags=re.IGNORECASE).search(content, origin)
        if match:
            return match.start(), match.end()
    return None


def _normalise_subject(subject: str, role: str | None) -> str:
    word = subject.strip()
    lowered = word.lower()
    if lowered in _USER_WORDS:
        return USER_SUBJECT
    if role == "assistant":
        if lowered in _SECOND_PERSON:
            return USER_SUBJECT
        if lowered in _SELF_WORDS:
            return ASSISTANT_SUBJECT
        return word
    if lowered in _SELF_WORDS:
        return USER_SUBJECT
    return word


def _retry_after_seconds(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` / `retry-after` (number or HTTP date), else None."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            if name != "retry-after":
                continue
            try:
                parsed = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
            seconds = parsed.timestamp() - time.time()
        if math.isfinite(seconds):
            return seconds
    return None


def _catalog_predicate_names() -> tuple[str, ...]:
    """Predicate names from `memory.vocabulary.predicates`, or () should it not import."""
    try:
        from memory.vocabulary.predicates import PREDICATES
    except ImportError:
        return ()
    names: Iterable[Any] = PREDICATES.keys() if isinstance(PREDICATES, dict) else PREDICATES
    return tuple(sorted(n if isinstance(n, str) else str(getattr(n, "name", n)) for n in names))


TemporalResolver = Callable[..., Iterable[TemporalMatch]]


def _temporal_resolver() -> TemporalResolver | None:
    """`temporal_resolve(text, *, reference)` when the temporal module exists, else None."""
    try:
        from memory.vocabulary.temporal import temporal_resolve
    except ImportError:
        return None
    resolver: TemporalResolver = temporal_resolve
    return resolver


__all__ = ["ASSISTANT_SUBJECT", "LLMExtractor", "PROPOSITIONS_SCHEMA"]
