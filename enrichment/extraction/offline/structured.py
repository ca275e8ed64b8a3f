"""Tool calls and app events: structured payloads rather than sentences."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from enrichment.extraction.offline.clause import _Found, _normalise
from enrichment.extraction.sentences import trimmed as _trimmed
from enrichment.propositions import USER_SUBJECT, ExtractionInput, Proposition
from memory.vocabulary.predicates import FALLBACK_PREDICATE, PREDICATES, predicate_map, stems
from memory.vocabulary.temporal import temporal_resolve

# --- tool calls and app events ---------------------------------------------------------

_TITLE_KEYS = (
    "title",
    "summary",
    "name",
    "subject",
    "text",
    "description",
    "event",
    "what",
    "message",
)
_DATE_KEYS = (
    "date",
    "start",
    "start_time",
    "datetime",
    "when",
    "time",
    "due",
    "due_date",
    "at",
    "starts_at",
)
_PROFILE_KEYS: dict[str, str] = {
    "city": "lives_in",
    "location": "lives_in",
    "home": "lives_in",
    "home_city": "lives_in",
    "email": "email",
    "email_address": "email",
    "phone": "phone",
    "phone_number": "phone",
    "name": "name",
    "display_name": "name",
    "full_name": "name",
    "first_name": "name",
    "birthday": "birthday",
    "dob": "birthday",
    "date_of_birth": "birthday",
    "age": "age",
    "company": "works_at",
    "employer": "works_at",
    "job_title": "job_title",
    "title": "job_title",
    "occupation": "job_title",
    "diet": "diet",
    "allergies": "allergy",
    "allergy": "allergy",
    "language": "speaks_language",
    "hometown": "from_location",
    "plan": "has_plan",
    "pronouns": "gender_identity",
    "address": "address",
    "timezone": "",
    "tz": "",
}
_CALL_RE = re.compile(r"^\s*(?P<name>[\w.]+)\s*\((?P<args>.*)\)\s*;?\s*$", re.DOTALL)
_KWARG_RE = re.compile(
    r"(?P<key>\w+)\s*=\s*(?:'(?P<single>[^']*)'|\"(?P<double>[^\"]*)\"|(?P<bare>[^,)]+))"
)


def _schedule_predicate(title: str, *, tool: str) -> str:
    """The schedule predicate whose phrases the event title uses; reminders and
    anything unrecognised are `scheduled_event`."""
    words = set(stems(title))
    for predicate in PREDICATES:
        if predicate.kind == "schedule" and predicate.name != "scheduled_event":
            if any(set(stems(phrase)) <= words for phrase in predicate.phrases):
                return predicate.name
    return "scheduled_event"


def _parse_json(text: str) -> dict[str, object] | None:
    if not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _parse_call(content: str) -> tuple[str, dict[str, object]] | None:
    """(tool name, arguments) from a JSON payload or a Python-style call string."""
    payload = _parse_json(content)
    if payload is not None:
        name = next(
            (
                str(payload[key])
                for key in ("tool", "name", "function", "tool_name")
                if payload.get(key)
            ),
            "",
        )
        arguments: object = next(
            (
                payload[key]
                for key in ("arguments", "args", "parameters", "input", "params")
                if key in payload
            ),
            {},
        )
        if isinstance(arguments, str):
            arguments = _parse_json(arguments) or {}
        if not isinstance(arguments, dict):
            return None
        if not name:
            return None
        return name, {str(k): v for k, v in arguments.items() if v not in (None, "")}
    call = _CALL_RE.match(content)
    if not call:
        return None
    parsed: dict[str, object] = {}
    for match in _KWARG_RE.finditer(call.group("args")):
        value = (
            match.group("single") if match.group("single") is not None else match.group("double")
        )
        if value is None:
            value = match.group("bare").strip()
        parsed[match.group("key")] = value
    return call.group("name"), parsed


_APP_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], list[_Found]]], ...] = (
    (
        re.compile(
            r"\b(?P<verb>upgraded|downgraded|switched|changed|moved|subscribed)\s+(?:their\s+|"
            r"the\s+)?(?:plan\s+|subscription\s+)?to\s+(?:the\s+|a\s+)?(?P<obj>[\w+-]+)",
            re.IGNORECASE,
        ),
        lambda m: [_Found("has_plan", m.group("verb").lower(), m.group("obj"))],
    ),
    (
        re.compile(
            r"\b(?:started|began|activated)\s+(?:a|an|the|their)\s+(?:[\w-]+\s+)?trial\s+(?:of|"
            r"for)\s+(?:the\s+)?(?P<obj>[\w+-]+)",
            re.IGNORECASE,
        ),
        lambda m: [_Found("has_plan", "started a trial of", m.group("obj"))],
    ),
    (
        re.compile(
            r"\b(?:is|are)\s+(?:now\s+)?on\s+(?:the\s+)?(?P<obj>[\w+-]+)\s+(?:plan|tier)\b",
            re.IGNORECASE,
        ),
        lambda m: [_Found("has_plan", "on plan", m.group("obj"))],
    ),
    (
        re.compile(r"\b(?:signed up|registered|created (?:an|their) account)\b", re.IGNORECASE),
        lambda m: [_Found("account_event", "signed up", "signed up")],
    ),
    (
        re.compile(
            r"\b(?:cancell?ed|ended)\s+(?:their\s+|the\s+|a\s+)?(?P<obj>subscription|plan|account|"
            r"trial)\b",
            re.IGNORECASE,
        ),
        lambda m: [_Found("account_event", "cancelled", f"cancelled {m.group('obj').lower()}")],
    ),
    (
        re.compile(
            r"\b(?:set|changed|updated)\s+(?:their|the)\s+(?P<key>display name|name|email|e-mail|"
            r"phone(?: number)?|city|location|language|job title|"
            r"company)\s+to\s+\"?(?P<obj>[^\"]+?)\"?\s*\.?$",
            re.IGNORECASE,
        ),
        lambda m: [
            _Found(
                _PROFILE_KEYS.get(
                    m.group("key")
                    .lower()
                    .replace(" ", "_")
                    .replace("e-mail", "email")
                    .replace("phone_number", "phone"),
                    "",
                )
                or predicate_map(relation_phrase=m.group("key"), object_text="").name,
                m.group("key"),
                m.group("obj"),
            )
        ],
    ),
)


def _tool_call(item: ExtractionInput) -> list[Proposition]:
    """Calendar/reminder calls become schedule facts; profile updates become the
    facts they set; lookups (weather, search) are questions, not facts."""
    parsed = _parse_call(item.content)
    if parsed is None:
        return []
    name, arguments = parsed
    lowered = name.lower()
    found: list[_Found] = []
    when = next((str(arguments[key]) for key in _DATE_KEYS if arguments.get(key)), "")
    if re.search(
        r"calendar|event|schedule|appointment|booking|book|reminder|meeting|remind", lowered
    ):
        title = next((str(arguments[key]) for key in _TITLE_KEYS if arguments.get(key)), "")
        if title:
            found.append(_Found(_schedule_predicate(title, tool=lowered), name, title))
    elif re.search(r"profile|user|account|settings|preference|memory|remember", lowered):
        for key, value in arguments.items():
            if not isinstance(value, (str, int, float)) or not str(value).strip():
                continue
            predicate_name = _PROFILE_KEYS.get(key.lower())
            if predicate_name == "":
                continue  # known key that is not a fact (e.g. timezone)
            if predicate_name is None:
                mapped = predicate_map(relation_phrase=key.replace("_", " "), object_text="")
                if mapped is FALLBACK_PREDICATE:
                    continue
                predicate_name = mapped.name
            found.append(_Found(predicate_name, key, str(value)))
    return _structured(item, found, extra_time=when, confidence=0.9)


def _app_event(
    item: ExtractionInput, *, message: Callable[[ExtractionInput], list[Proposition]]
) -> list[Proposition]:
    """Product events about the user: plan changes, sign-ups, profile changes."""
    content = item.content.strip()
    found: list[_Found] = []
    payload = _parse_json(content)
    if payload is not None:
        event = str(
            payload.get("event") or payload.get("type") or payload.get("name") or ""
        ).lower()
        plan = next(
            (
                payload[key]
                for key in ("plan", "tier", "plan_name", "subscription_plan", "product")
                if payload.get(key)
            ),
            None,
        )
        if re.search(r"cancel", event):
            found.append(_Found("account_event", event, "cancelled subscription"))
        elif plan and re.search(r"subscri|plan|upgrade|downgrade|billing|trial|checkout", event):
            found.append(_Found("has_plan", event, str(plan)))
        elif re.search(r"sign(?:ed)?[_ .-]?up|register", event):
            found.append(_Found("account_event", event, "signed up"))
        return _structured(item, found, confidence=0.9)
    text = _normalise(content)
    for pattern, handler in _APP_RULES:
        match = pattern.search(text)
        if match:
            found.extend(handler(match))
            break
    if found:
        return _structured(item, found, confidence=0.9)
    # Anything else reads like a sentence about the user ("User moved to Oslo").
    rewritten = ExtractionInput(
        content=item.content, event_type="message", role="user", event_time=item.event_time
    )
    return [
        proposition for proposition in message(rewritten) if proposition.subject == USER_SUBJECT
    ]


def _structured(
    item: ExtractionInput, found: list[_Found], *, extra_time: str = "", confidence: float
) -> list[Proposition]:
    if not found:
        return []
    start, end = next(_trimmed(item.content, 0, len(item.content)), (0, 0))
    source = item.content[start:end]
    temporal = tuple(temporal_resolve(extra_time or source, reference=item.event_time))
    return [
        Proposition(
            subject=USER_SUBJECT,
            relation_phrase=result.relation,
            object_text=result.obj.strip(),
            source_text=source,
            start=start,
            end=end,
            predicate=result.predicate,
            negated=result.negated,
            confidence=confidence,
            temporal=temporal,
        )
        for result in found
        if result.obj.strip()
    ]
