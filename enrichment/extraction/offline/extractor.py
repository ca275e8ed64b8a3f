"""`OfflineExtractor`: events → sentences → clauses → propositions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from enrichment.extraction.offline.attributes import (
    _ATTRIBUTE_RULES,
    _CONTACT_EMAIL_RE,
    _CONTACT_PHONE_RE,
    _FAVORITE_RE,
    _MY_RELATION_RE,
    _REACH_ME_RE,
    _SCHEDULE_RE,
)
from enrichment.extraction.offline.clause import (
    _ADVERB_RE,
    _FREQUENCY_RE,
    _INNER_ADVERB_RE,
    _NEGATION_RE,
    _NEGATION_TAIL_RE,
    _Clause,
    _clean_object,
    _Found,
    _normalise,
    _usable,
)
from enrichment.extraction.offline.handlers import (
    _NOT_PROGRESSIVE_ACTIVITIES,
    _activity_frequency,
    _be_bare,
    _is_a,
)
from enrichment.extraction.offline.rules import _RULES
from enrichment.extraction.offline.structured import (
    _APP_RULES,
    _DATE_KEYS,
    _PROFILE_KEYS,
    _TITLE_KEYS,
    _parse_call,
    _parse_json,
    _schedule_predicate,
)
from enrichment.extraction.offline.subjects import (
    _FIRST_PERSON_RE,
    _IMPLICIT_START_RE,
    _NAME_SUBJECT_RE,
    _REPORT_FRAME_RE,
    _SECOND_PERSON_RE,
    _THIRD_PRONOUN_RE,
)
from enrichment.extraction.offline.words import (
    _BOT_SPEAKERS,
    _CONDITIONAL_RE,
    _HEDGE_RE,
    _INTERJECTION_RE,
    _LEADING_ADJUNCT_RE,
    _NAME_STOPWORDS,
    _NOT_SPEAKERS,
    _QUESTION_START_RE,
    _RELATION_NOUNS,
    _SPEAKER_RE,
    _USER_SPEAKERS,
)
from enrichment.extraction.sentences import clauses as _clauses
from enrichment.extraction.sentences import lines as _lines
from enrichment.extraction.sentences import sentences as _sentences
from enrichment.extraction.sentences import trimmed as _trimmed
from enrichment.propositions import (
    USER_SUBJECT,
    ExtractionInput,
    ExtractionResult,
    Proposition,
    TemporalMatch,
)
from memory.vocabulary.predicates import FALLBACK_PREDICATE, predicate_map
from memory.vocabulary.temporal import temporal_resolve

# --- the extractor -------------------------------------------------------------------


@dataclass
class _Context:
    role: str | None
    speaker: str | None  # who "I" is, when a speaker prefix named them
    last_third_party: str | None = None
    temporal: tuple[TemporalMatch, ...] = field(default_factory=tuple)

    @property
    def me(self) -> str:
        return self.speaker or USER_SUBJECT

    def owned(self, noun: str) -> str:
        return f"{self.speaker}'s {noun}" if self.speaker else f"my {noun}"


class OfflineExtractor:
    """Rule-based extractor; see the module docstring for the decisions it makes."""

    name = "offline"

    def extract(self, item: ExtractionInput) -> ExtractionResult:
        if item.role == "system":
            return ExtractionResult(propositions=[], extractor=self.name)
        if item.event_type == "tool_call":
            propositions = self._tool_call(item)
        elif item.event_type == "app_event":
            propositions = self._app_event(item)
        else:
            propositions = self._message(item)
        return ExtractionResult(propositions=_dedupe(propositions), extractor=self.name)

    # tool calls and app events ------------------------------------------------------

    def _tool_call(self, item: ExtractionInput) -> list[Proposition]:
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
        return self._structured(item, found, extra_time=when, confidence=0.9)

    def _app_event(self, item: ExtractionInput) -> list[Proposition]:
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
            elif plan and re.search(
                r"subscri|plan|upgrade|downgrade|billing|trial|checkout", event
            ):
                found.append(_Found("has_plan", event, str(plan)))
            elif re.search(r"sign(?:ed)?[_ .-]?up|register", event):
                found.append(_Found("account_event", event, "signed up"))
            return self._structured(item, found, confidence=0.9)
        text = _normalise(content)
        for pattern, handler in _APP_RULES:
            match = pattern.search(text)
            if match:
                found.extend(handler(match))
                break
        if found:
            return self._structured(item, found, confidence=0.9)
        # Anything else reads like a sentence about the user ("User moved to Oslo").
        rewritten = ExtractionInput(
            content=item.content, event_type="message", role="user", event_time=item.event_time
        )
        return [
            proposition
            for proposition in self._message(rewritten)
            if proposition.subject == USER_SUBJECT
        ]

    def _structured(
        self, item: ExtractionInput, found: list[_Found], *, extra_time: str = "", confidence: float
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

    # messages ----------------------------------------------------------------------

    def _message(self, item: ExtractionInput) -> list[Proposition]:
        content = item.content
        propositions: list[Proposition] = []
        role = item.role if item.role in ("user", "assistant") else "user"
        context = _Context(role=role, speaker=None)
        for line_start, line_end in _lines(content):
            body_start = line_start
            speaker = _SPEAKER_RE.match(content, line_start, line_end)
            line_role = role
            context.speaker = None
            if (
                speaker
                and role == "user"
                and speaker.group("name").lower().rstrip(".") not in _NOT_SPEAKERS
            ):
                name = speaker.group("name")
                body_start = speaker.end()
                if name.lower() in _BOT_SPEAKERS:
                    continue
                if name.lower() not in _USER_SPEAKERS:
                    context.speaker = name
            for start, end in _sentences(content, body_start, line_end):
                context.role = line_role
                propositions.extend(self._sentence(content, start, end, item.event_time, context))
        return propositions

    def _sentence(
        self, content: str, start: int, end: int, event_time: datetime, context: _Context
    ) -> list[Proposition]:
        sentence = content[start:end]
        if sentence.rstrip().endswith("?") or _CONDITIONAL_RE.search(sentence):
            return []
        if not re.search(r"[A-Za-z]", sentence):
            return []
        context.temporal = tuple(temporal_resolve(sentence, reference=event_time))
        found: list[Proposition] = []
        for clause_text in _clauses(sentence):
            for subject, result, confidence in self._clause(clause_text, context):
                obj = _clean_object(
                    result.obj,
                    # A birthday's object *is* the date; elsewhere a time expression is
                    # not part of the object.
                    temporal=() if result.predicate == "birthday" else context.temporal,
                    keep_commas=result.predicate
                    in ("lives_in", "from_location", "visited_place", "birthday"),
                )
                if not _usable(obj) or (result.predicate == "did_activity" and " " not in obj):
                    continue  # a bare verb ("read", "meeting") is not an activity worth keeping
                found.append(
                    Proposition(
                        subject=result.subject or subject,
                        relation_phrase=result.relation,
                        object_text=obj,
                        source_text=sentence,
                        start=start,
                        end=end,
                        predicate=result.predicate,
                        negated=result.negated,
                        confidence=result.confidence
                        if result.confidence is not None
                        else confidence,
                        temporal=context.temporal,
                    )
                )
        return found

    def _clause(self, text: str, context: _Context) -> list[tuple[str, _Found, float]]:
        text = _normalise(text)
        if _HEDGE_RE.search(text) or _QUESTION_START_RE.match(text):
            return []
        text = _INTERJECTION_RE.sub("", text)
        adjunct = _LEADING_ADJUNCT_RE.match(text)
        pastime = bool(
            adjunct
            and re.search(
                r"\b(?:free|spare|down)\s*time\b|\bfor fun\b",
                adjunct.group("adjunct"),
                re.IGNORECASE,
            )
        )
        text = _LEADING_ADJUNCT_RE.sub("", text)
        base_confidence = 0.8
        if context.role == "assistant":
            framed = _REPORT_FRAME_RE.sub("", text, count=1)
            if re.match(r"^(?:i|we|let me|let's|me)\b", framed, re.IGNORECASE):
                return []  # the assistant speaking about itself
            if not re.match(r"^(?:you|your)\b", framed, re.IGNORECASE):
                return []
            # Seen from the assistant, "you" is the user: read it as the user's "I".
            text = re.sub(r"\byour\b", "my", framed, flags=re.IGNORECASE)
            text = re.sub(r"\byou are\b", "I am", text, flags=re.IGNORECASE)
            text = re.sub(r"\byou were\b", "I was", text, flags=re.IGNORECASE)
            text = re.sub(r"\byourself\b", "myself", text, flags=re.IGNORECASE)
            text = re.sub(r"\byou\b", "I", text, flags=re.IGNORECASE)
            base_confidence = 0.6
        else:
            text = (
                _REPORT_FRAME_RE.sub("", text, count=1)
                if re.match(r"^(?:since|because|as|given|now that)\b", text, re.IGNORECASE)
                else text
            )
        results: list[tuple[str, _Found, float]] = []
        lowered = text.lower()

        # Contact details in a first-person statement.
        reach = _REACH_ME_RE.search(text)
        if reach or lowered.startswith("my ") or re.match(r"^(?:i|me)\b", lowered):
            email = _CONTACT_EMAIL_RE.search(text)
            if email and (reach or re.search(r"\be-?mail\b", lowered)):
                return [(context.me, _Found("email", "email", email.group(0)), base_confidence)]
            phone = _CONTACT_PHONE_RE.search(reach.group("obj")) if reach else None
            if phone:
                return [
                    (
                        context.me,
                        _Found("phone", "reach me at", phone.group(0).strip()),
                        base_confidence,
                    )
                ]

        # "My X is Y" attributes.
        if lowered.startswith("my ") or lowered.startswith("our "):
            attribute = self._attribute(text, context)
            if attribute:
                return [(context.me, found, base_confidence) for found in attribute]
            relation = _MY_RELATION_RE.match(text)
            if relation:
                return self._relation_subject(text, relation, context, base_confidence)
            return []

        subject: str | None = None
        rest = text
        first = _FIRST_PERSON_RE.match(text)
        if first:
            subject = context.me
            if first.group("pronoun").lower() == "we" or " and " in first.group("pronoun").lower():
                base_confidence -= 0.1
            rest = text[first.end() :]
        elif _SECOND_PERSON_RE.match(text):
            return []  # a user talking about the assistant, or one speaker about another
        elif context.role != "assistant" and (implicit := _IMPLICIT_START_RE.match(text)):
            # Chat drops the subject: "Went to the beach today" is the speaker's.
            subject = context.me
            rest = text[implicit.end() :]
            base_confidence -= 0.2
        elif (pronoun := _THIRD_PRONOUN_RE.match(text)) and context.last_third_party:
            subject = context.last_third_party
            rest = text[pronoun.end() :]
            base_confidence -= 0.1
        elif (named := _NAME_SUBJECT_RE.match(text)) and named.group("name").split()[
            0
        ].lower() not in _NAME_STOPWORDS:
            subject = named.group("name")
            if subject.lower() in ("user", "the user"):
                subject = USER_SUBJECT
            else:
                context.last_third_party = subject
            rest = text[named.end() :]
            base_confidence -= 0.1
            # A capitalised word before a verb may be a place or a thing ("Fox Hollow
            # is a great trail"): keep only the person-shaped predicates.
            return [
                (subject, found, base_confidence)
                for found in self._predicate_rules(rest, context, subject)
                if found.predicate not in ("is_a", "routine", "did_activity")
            ]
        if subject is None:
            return []
        for found in self._predicate_rules(rest, context, subject):
            results.append((subject, found, base_confidence))
        if pastime and not any(
            found.predicate in ("hobby", "exercise", "likes") for _, found, _ in results
        ):
            # "In my spare time I build keyboards": whatever is done then is a hobby.
            habit = re.match(r"^(?P<verb>[a-z]+)\s+(?P<obj>\S.*)$", rest.strip(), re.IGNORECASE)
            if habit:
                results = [
                    (
                        subject,
                        _Found("hobby", habit.group("verb"), habit.group("obj")),
                        base_confidence,
                    )
                ]
        return results

    def _attribute(self, text: str, context: _Context) -> list[_Found]:
        for pattern, predicate in _ATTRIBUTE_RULES:
            match = pattern.match(text)
            if match:
                return [
                    _Found(
                        predicate, match.group(0)[: match.start("obj")].strip(), match.group("obj")
                    )
                ]
        favorite = _FAVORITE_RE.match(text)
        if favorite:
            what = favorite.group("what").strip()
            mapped = predicate_map(relation_phrase=f"favorite {what}", object_text="")
            name = mapped.name if mapped.name.startswith("favorite_") else "likes"
            return [_Found(name, f"favorite {what}", favorite.group("obj"))]
        scheduled = _SCHEDULE_RE.match(text)
        if scheduled:
            what = scheduled.group("what").strip()
            return [_Found(_schedule_predicate(scheduled.group(0), tool=""), "is scheduled", what)]
        return []

    def _relation_subject(
        self, text: str, relation: re.Match[str], context: _Context, confidence: float
    ) -> list[tuple[str, _Found, float]]:
        """'My sister Anna lives in Rome', 'My husband's name is David', 'My boss is Karen'."""
        noun = relation.group("noun").lower()
        predicate = _RELATION_NOUNS[noun]
        name = relation.group("name")
        rest = text[relation.end() :].strip()
        results: list[tuple[str, _Found, float]] = []
        if name and name.lower() in _NAME_STOPWORDS | {"and", "is", "was"}:
            rest = f"{name} {rest}".strip()
            name = None
        if relation.group("possessive"):
            named = re.match(r"^name\s+is\s+(?P<name>[A-Z][\w-]*)", rest)
            if named:
                return [
                    (
                        context.me,
                        _Found(predicate, f"{noun}'s name is", named.group("name")),
                        confidence,
                    )
                ]
            return []
        if not name:
            named = re.match(
                r"^(?:is|was)\s+(?:called\s+|named\s+)?(?P<name>[A-Z][a-z][\w-]*)\s*$", rest
            )
            if named and named.group("name").lower() not in _NAME_STOPWORDS:
                return [
                    (
                        context.me,
                        _Found(predicate, f"my {noun} is", named.group("name")),
                        confidence,
                    )
                ]
            named = re.match(r"^(?:is\s+)?(?:called|named)\s+(?P<name>[A-Z][\w-]*)", rest)
            if named:
                return [
                    (
                        context.me,
                        _Found(predicate, f"{noun} named", named.group("name")),
                        confidence,
                    )
                ]
        if name:
            results.append((context.me, _Found(predicate, f"my {noun}", name), confidence - 0.05))
            subject = name
            context.last_third_party = name
        else:
            subject = context.owned(noun)
            if predicate == "has_pet":
                results.append(
                    (context.me, _Found("has_pet", f"my {noun}", noun), confidence - 0.2)
                )
        rest = re.sub(r"^and\s+I\b", "", rest)
        for found in self._predicate_rules(rest, context, subject):
            results.append((subject, found, confidence - 0.1))
        return results

    def _predicate_rules(self, rest: str, context: _Context, subject: str) -> list[_Found]:
        rest = rest.strip(" ,")
        # "can not stand" is a dislike, not a negated "stand".
        rest = re.sub(r"\bcan not (stand|bear)\b", r"can_not_\1", rest, flags=re.IGNORECASE)
        negated = bool(_NEGATION_RE.search(rest) or _NEGATION_TAIL_RE.search(rest))
        used_to = re.search(r"\bused to\s+", rest, re.IGNORECASE)
        frequent = bool(_FREQUENCY_RE.search(rest))
        # Keep the auxiliary ("am not married" → "am married"); drop do-support and adverbs.
        rest = _NEGATION_RE.sub(
            lambda m: (
                ""
                if m.group(0).split()[0].lower() in ("do", "does", "did", "no", "never", "not")
                else m.group(0).split()[0] + " "
            ),
            rest,
        )
        rest = _NEGATION_TAIL_RE.sub("", rest)
        rest = rest.replace("can_not_", "can not ")
        if used_to:
            rest = re.sub(r"\bused to\s+", "", rest, flags=re.IGNORECASE)
            negated = True
        # "have been working" → "working", "have been vegan" → "am vegan".
        rest = re.sub(r"^(?:have|has|had)\s+been\s+(?=\w+ing\b)", "", rest, flags=re.IGNORECASE)
        rest = re.sub(r"^(?:have|has|had)\s+been\s+", "am ", rest, flags=re.IGNORECASE)
        rest = re.sub(
            r"^(?:have|has|had)\s+(?=\w+ed\b|got\b|gotten|made|taken|done|been|gone|met\b|won\b|"
            r"run\b|bought|seen|known|had\b|given|found|left|lost|read\b|heard|taught|grown|"
            r"written|become|come\b|spent|begun|kept|felt|thought|brought|built|sold|told|said)",
            "",
            rest,
            flags=re.IGNORECASE,
        )
        rest = _INNER_ADVERB_RE.sub("", rest)
        # Aspect verbs add nothing to the fact: "started taking classes" → "taking classes".
        rest = re.sub(
            r"^(?:started|start|starting|began|begun|begin|keep|kept|continue|"
            r"continued)\s+(?=\w+ing\b)",
            "am ",
            rest,
            flags=re.IGNORECASE,
        )
        # Emphatic "do": "I do love jazz" is "I love jazz".
        rest = re.sub(
            r"^(?:do|does|did)\s+(?=(?:love|like|enjoy|hate|want|need|have|know|think|believe|"
            r"prefer|speak|live|work)\b)",
            "",
            rest,
            flags=re.IGNORECASE,
        )
        while True:
            stripped = _ADVERB_RE.sub("", rest, count=1) if _ADVERB_RE.match(rest) else rest
            stripped = re.sub(
                r"^(?:am|is|are)\s+(?:also|really|still|just|currently|now|actually|finally|so|"
                r"very|pretty)\s+",
                lambda m: m.group(0).split()[0] + " ",
                stripped,
                flags=re.IGNORECASE,
            )
            if stripped == rest:
                break
            rest = stripped
        clause = _Clause(
            subject=subject,
            text=rest,
            negated=negated,
            frequent=frequent,
            confidence=0.8,
            owner=context.me,
        )
        for pattern, handler in _RULES:
            match = pattern.match(rest)
            if not match:
                continue
            results = handler(match, clause)
            if results:
                return results
        if frequent:
            habit = re.match(r"^(?P<verb>[a-z]+)\b\s*(?P<obj>.*)$", rest)
            if habit and habit.group("verb").lower() not in (
                "am",
                "is",
                "are",
                "was",
                "were",
                "have",
                "has",
                "do",
                "did",
                "can",
                "will",
            ):
                return _activity_frequency(habit, clause)
        progressive = re.match(
            r"^(?:am|is|are|was|were)\s+(?P<verb>\w+ing)\s+(?P<obj>\S.*)", rest, re.IGNORECASE
        )
        if progressive and progressive.group("verb").lower() not in _NOT_PROGRESSIVE_ACTIVITIES:
            return [
                _Found(
                    "did_activity",
                    progressive.group("verb"),
                    f"{progressive.group('verb')} {progressive.group('obj')}",
                    negated=negated,
                )
            ]
        be = re.match(r"^(?:am|is|are|was|were)\s+(?:an?\s+)(?P<obj>.+)", rest, re.IGNORECASE)
        if be:
            return _is_a(be, clause)
        bare = re.match(
            r"^(?:am|is|are)\s+(?P<obj>[\w-]+(?: [A-Z][a-z]+)?)\s*$", rest, re.IGNORECASE
        )
        if bare:
            return _be_bare(bare, clause)
        return []


def _dedupe(propositions: list[Proposition]) -> list[Proposition]:
    seen: set[tuple[str, str | None, str, bool]] = set()
    unique: list[Proposition] = []
    for proposition in propositions:
        key = (
            proposition.subject.lower(),
            proposition.predicate,
            proposition.object_text.lower(),
            proposition.negated,
        )
        if key in seen:
            continue
        seen.add(key)
        unique.append(proposition)
    return unique
