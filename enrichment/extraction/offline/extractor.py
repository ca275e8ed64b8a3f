"""`OfflineExtractor`: events → sentences → clauses → propositions."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from enrichment.extraction.offline.attributes import (
    _CONTACT_EMAIL_RE,
    _CONTACT_PHONE_RE,
    _MY_RELATION_RE,
    _REACH_ME_RE,
    _attribute,
)
from enrichment.extraction.offline.canonical import canonical
from enrichment.extraction.offline.clause import (
    _clean_object,
    _conjuncts,
    _Context,
    _Found,
    _named,
    _normalise,
    _phrase_end,
    _place_cut,
    _usable,
)
from enrichment.extraction.offline.instructions import confirmed, instruction
from enrichment.extraction.offline.introductions import introduced
from enrichment.extraction.offline.kinds import PAST_FRAME_KEEPS, PAST_FRAME_RE, reclassify
from enrichment.extraction.offline.news import news_clause
from enrichment.extraction.offline.structured import (
    _app_event,
    _tool_call,
)
from enrichment.extraction.offline.subjects import (
    _FIRST_PERSON_RE,
    _IMPLICIT_START_RE,
    _NAME_SUBJECT_RE,
    _REPORT_FRAME_RE,
    _SECOND_PERSON_RE,
    _THIRD_PRONOUN_RE,
    _not_a_name,
    _relation_subject,
)
from enrichment.extraction.offline.verb_phrases import _predicate_rules
from enrichment.extraction.offline.words import (
    _BOT_SPEAKERS,
    _CONDITIONAL_RE,
    _HEDGE_RE,
    _INTERJECTION_RE,
    _LEADING_ADJUNCT_RE,
    _NAME_STOPWORDS,
    _NOT_SPEAKERS,
    _QUESTION_START_RE,
    _RELATION_ALT,
    _RELATION_MODIFIERS,
    _RELATION_NOUNS,
    _SPEAKER_RE,
    _USER_SPEAKERS,
)
from enrichment.extraction.sentences import clauses as _clauses
from enrichment.extraction.sentences import lines as _lines
from enrichment.extraction.sentences import sentences as _sentences
from enrichment.propositions import (
    CHANGE_FROM,
    CHANGE_TO,
    USER_SUBJECT,
    ExtractionInput,
    ExtractionResult,
    Proposition,
)
from memory.vocabulary.temporal import temporal_resolve

_HOME_IS_RE = re.compile(
    r"^home(?:\s+for\s+(?:me|us))?\s+(?:is|has been)\s+(?:now\s+)?(?P<obj>(?-i:[A-Z])[\w.'-]*"
    r"(?:\s+(?-i:[A-Z])[\w.'-]*)*)(?:\s+for\s+(?:me|us))?(?:\s+(?:these days|now|nowadays))?\s*$",
    re.IGNORECASE,
)
# "Tom and I split up": the named one is the partner no longer.
_SPLIT_UP_RE = re.compile(
    r"^(?P<name>(?-i:[A-Z][a-z][\w-]*))\s+and\s+i\s+(?:have\s+)?(?:broke up|split up|separated|"
    r"got divorced|divorced|split|called it quits|are not together|are no longer together|"
    r"are not a couple|are done)\b",
    re.IGNORECASE,
)
# "Omar dumped me": the partner, no longer. A name, not a pronoun ("She dumped me" names
# nobody), and "left me" only where the clause ends or says when or why: "She left me her
# number" and "Tom left me a voicemail" are no break-up.
_DUMPED_RE = re.compile(
    r"^(?P<name>(?!(?:she|he|they|it|this|that)\b)(?-i:[A-Z][a-z][\w-]*))\s+(?:has\s+)?"
    r"(?:(?:dumped|ditched|broke up with)\s+me\b"
    r"|left\s+me(?=\s*(?:$|[.,;!?]|for\b|after\b|last\b|this\b|in\b|on\b|when\b|because\b)))",
    re.IGNORECASE,
)

# A place named after a preposition: what a later "there" in the sentence points to.
_PLACE_RE = re.compile(r"\b(?:to|in|at|from)\s+((?-i:[A-Z])[\w.'-]*(?:\s+(?-i:[A-Z])[\w.'-]*)*)")

# "Obsidian instead of Notion", "Linux now rather than Windows": a value that replaced another.
_SWAP_RE = re.compile(
    r"^(?P<new>\S.*?)\s+(?:now\s+|these days\s+)?(?:instead of|rather than|in place of)\s+"
    r"(?:the\s+|my\s+|our\s+)?(?P<old>\S.*)$",
    re.IGNORECASE,
)

_LEFT_THEN_RE = re.compile(
    r"(?P<head>\b(?:i|(?P<we>we))\s+(?:(?:have|just|finally|recently)\s+)*(?:left|quit|"
    r"gave up(?:\s+on)?|sold|dropped|ditched|stopped)\s+[^,;.!?]+?)(?:\s*,\s*(?:and\s+)?|"
    r"\s+and\s+)(?:(?:now|so)\s+)?(?:i|we)(?:'m|\s+am|'re|\s+are)\s+(?:now\s+)?(?=\w+ing\b)",
    re.IGNORECASE,
)

# Predicates whose object may be a list ("peanuts and shellfish"): one fact per item.
_LISTS = frozenset(
    "likes dislikes allergy speaks_language owns visited_place skill hobby uses_tool "
    "prefers_programming_language health_condition medication learning exercise "
    "studies_subject has_pet has_child has_sibling".split()
)

# An activity is a verb and a short object ("painting the fence", "volunteered at the food
# bank"); chosen on the dev parts of both fact-eval batches (5 and 6 equal on batch 1 dev, 5
# one wrong fact fewer on batch 2 dev).
_ACTIVITY_WORDS = 5

# Predicates whose object is a named thing: "a startup called Kite" is stored as Kite.
_NAMED_OBJECTS = frozenset({"works_at", "studies_at", "uses_tool", "visited_place", "lives_in"})


# "Favourite film of all time?" asked of oneself, answered by the next sentence.
_OWN_FAVOURITE_RE = re.compile(
    r"(?:my\s+)?(?:all-time\s+)?(?:favou?rite|fave?|favrite)\s+(?P<what>[a-z][a-z -]{1,30}?)"
    r"(?:\s+(?:of all time|ever|these days|right now|at the moment))?\s*\?+",
    re.IGNORECASE,
)
_ANSWER_HEDGE = re.compile(
    r"^(?:(?:oh|hmm+|ok|well|probably|easily|definitely|honestly|maybe|still|hands down|"
    r"has to be|gotta be|it's|it is|that'd be|that would be|i'd say|i would say)\b[\s,:-]*)+",
    re.IGNORECASE,
)


class OfflineExtractor:
    """Rule-based extractor; see the module docstring for the decisions it makes."""

    name = "offline"

    def extract(self, item: ExtractionInput) -> ExtractionResult:
        if item.role == "system":
            return ExtractionResult(propositions=[], extractor=self.name)
        if item.event_type == "tool_call":
            propositions = _tool_call(item)
        elif item.event_type == "app_event":
            propositions = _app_event(item, message=self._message)
        else:
            propositions = self._message(item)
        return ExtractionResult(propositions=_dedupe(propositions), extractor=self.name)

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
            asked: tuple[int, str] | None = None  # a favourite asked of oneself, its start
            for start, end in _sentences(content, body_start, line_end):
                context.role = line_role
                if asked is not None:
                    # "Favourite book of all time? Probably Dune.": the answer to one's own
                    # question, read as "My favourite book is Dune", quoting both sentences.
                    answer = re.sub(_ANSWER_HEDGE, "", content[start:end]).strip(" .!")
                    said = f"My favourite {asked[1]} is {answer}."
                    propositions.extend(
                        replace(p, source_text=content[asked[0] : end], start=asked[0], end=end)
                        for p in self._statements(said, 0, len(said), item.event_time, context)
                    )
                    asked = None
                    continue
                question = _OWN_FAVOURITE_RE.match(content, start, end)
                if question and line_role == "user" and question.end() == end:
                    asked = (start, question.group("what"))
                    continue
                propositions.extend(self._sentence(content, start, end, item.event_time, context))
        return propositions

    def _sentence(
        self, content: str, start: int, end: int, event_time: datetime, context: _Context
    ) -> list[Proposition]:
        sentence = content[start:end]
        told = (
            instruction(sentence)
            if context.role == "user" and not context.speaker
            else confirmed(sentence)
            if context.role == "assistant"
            else None
        )
        called = re.match(
            r"^(?:please\s+)?(?:just\s+)?call me\s+"
            r"(?P<name>(?-i:[A-Z])[\w'-]+(?:\s+(?-i:[A-Z])[\w'-]+)?)",
            told or "",
            re.IGNORECASE,
        )
        if told is None:
            return self._statements(content, start, end, event_time, context)
        instructed = Proposition(
            subject=USER_SUBJECT,
            relation_phrase="instruct",
            object_text=told,
            source_text=sentence,
            start=start,
            end=end,
            predicate="assistant_instruction",
            confidence=0.8,
        )
        if called and called.group("name").lower() not in _NAME_STOPWORDS:
            # "Call me Kate from now on": an instruction, and the name the user goes by.
            named = Proposition(
                subject=USER_SUBJECT,
                relation_phrase="call me",
                object_text=called.group("name"),
                source_text=sentence,
                start=start,
                end=end,
                predicate="name",
                confidence=0.8,
            )
            return [named, instructed]
        # A standing instruction to the assistant; the rest of the sentence is still read
        # ("don't suggest gym workouts, I have a bad knee").
        return [instructed, *self._statements(content, start, end, event_time, context)]

    def _statements(
        self, content: str, start: int, end: int, event_time: datetime, context: _Context
    ) -> list[Proposition]:
        sentence = content[start:end]
        # A closing "if you need it" / "if that matters" is politeness, not a condition.
        sentence = re.sub(
            r",?\s+if\s+(?:you|that|it)\s+(?:need|want|care|matter|help|believe|ask|like|"
            r"are interested|were wondering)\w*\b[^.!?]*(?=[.!]?$)",
            "",
            sentence,
        )
        if sentence.rstrip().endswith("?"):
            # "Since I'm vegan, what should I cook?": the reason given is still a statement.
            premise = _PREMISE_RE.match(sentence)
            if premise is None or _CONDITIONAL_RE.search(premise.group("premise")):
                return []
            sentence = premise.group("premise")
        if _CONDITIONAL_RE.search(sentence):
            return []
        if not re.search(r"[A-Za-z]", sentence):
            return []
        context.temporal = tuple(temporal_resolve(sentence, reference=event_time))
        found: list[Proposition] = []
        place: str | None = None  # the last place named, for a later "there"
        # "I gave up Spanish and I'm learning Italian": one subject, so one clause whose
        # leaving phrase takes the kind the other phrase finds (`_predicate_rules`).
        joined = _LEFT_THEN_RE.sub(
            lambda m: f"{m.group('head')} and {'are' if m.group('we') else 'am'} ", sentence
        )
        for clause_text in _relative_clauses(
            [c for part in _named_pair(joined) for c in _clauses(_apposition(part))]
        ):
            named_places = _PLACE_RE.findall(clause_text)
            past_frame = PAST_FRAME_RE.search(clause_text)
            for subject, result, confidence in self._clause(clause_text, context):
                judged = reclassify(result.predicate, result.obj)
                if judged is None:
                    continue
                result.predicate, result.obj = judged
                if past_frame and not result.negated and result.predicate not in PAST_FRAME_KEEPS:
                    continue  # "When I was a kid I had a hamster": not a current fact
                if result.obj.lower() in ("there", "here"):
                    if place is None or result.obj.lower() == "here":
                        continue
                    result.obj = place
                temporal = () if result.predicate == "birthday" else context.temporal
                keep_commas = result.predicate in (
                    "lives_in",
                    "from_location",
                    "visited_place",
                    "birthday",
                )
                # A birthday's object *is* the date; elsewhere a time expression is
                # not part of the object.
                obj = (
                    # An opinion is its whole clause, up to a comma ("…, obviously").
                    re.split(r"\s*[,;:!?]|\s[-–—]\s", result.obj.strip(), maxsplit=1)[0].strip(" .")
                    if result.predicate == "opinion"
                    else _clean_object(result.obj, temporal=temporal, keep_commas=keep_commas)
                )
                if result.predicate in _NAMED_OBJECTS:
                    obj = _named(obj)
                if result.predicate in _NAMED_OBJECTS and obj[:1].isupper():
                    obj = _place_cut(obj)
                if result.predicate == "works_at" and re.match(
                    r"^(?:myself|ourselves|home|from home)$", obj, re.IGNORECASE
                ):
                    continue  # "I work for myself": self-employed, no employer
                if (
                    result.predicate == "works_at"
                    and re.match(r"^\s*(?:an?|some|one)\s", result.obj, re.IGNORECASE)
                    and not re.search(r"(?-i:[A-Z])", re.split(r"\s+in\s+", obj, maxsplit=1)[0])
                    and not re.search(r"\b(?:called|named)\b", result.obj)
                ):
                    continue  # "at a dental practice": no employer named, nothing to recall
                if result.predicate in ("works_at", "studies_at") and obj[:1].isupper():
                    # "a Walgreens in Ohio": the employer, not its town.
                    obj = re.split(r"\s+in\s+(?=(?-i:[A-Z]))", obj, maxsplit=1)[0]
                obj = _trim_for(result.predicate, obj)
                swap = _SWAP_RE.match(obj)
                if swap and not result.negated and result.predicate not in _KEEPS_CLAUSES:
                    # "I use Obsidian instead of Notion": the new value, and the old one
                    # ended; which held fact that was, the Map stage finds (`CHANGE_FROM`).
                    obj = swap.group("new")
                    found.append(
                        Proposition(
                            subject=result.subject or subject,
                            relation_phrase=CHANGE_FROM,
                            object_text=swap.group("old"),
                            source_text=sentence,
                            start=start,
                            end=end,
                            predicate=None,
                            negated=True,
                            confidence=confidence,
                            temporal=context.temporal,
                        )
                    )
                if result.predicate in ("lives_in", "from_location"):
                    obj = _settlement(result.obj, obj)
                elif result.predicate == "address":
                    obj = _address(result.obj)
                if result.predicate == "works_at" and (
                    role := re.match(r"^(?P<place>.+?)\s+as\s+(?:an?\s+)?(?P<title>\S.*)$", obj)
                ):  # "a job at the hospital as a night porter": the place, and the role
                    obj = role.group("place")
                    found.append(
                        Proposition(
                            subject=result.subject or subject,
                            relation_phrase="work as",
                            object_text=role.group("title"),
                            source_text=sentence,
                            start=start,
                            end=end,
                            predicate="job_title",
                            negated=result.negated,
                            confidence=confidence,
                            temporal=context.temporal,
                        )
                    )
                phrase = result.predicate in _PHRASE_KINDS or (result.predicate or "").startswith(
                    "favorite"
                )
                if phrase:
                    obj = _phrase_end(obj, keep_commas=keep_commas)
                objects = (
                    _conjuncts(
                        result.obj,
                        obj,
                        temporal=temporal,
                        keep_commas=keep_commas,
                        phrase=phrase,
                        proficiency=result.predicate != "health_condition",
                    )
                    if result.predicate in _LISTS
                    else [obj]
                )
                predicate = result.predicate
                if predicate == "owns" and _CAR_MAKES_RE.search(obj):
                    predicate = "vehicle"  # a car or a scooter owned is the vehicle one has
                if not predicate and result.relation not in (CHANGE_FROM, CHANGE_TO):
                    continue  # a neighbour or a roommate: no relation fact of their own
                if _PLURAL_SUBJECT_RE.search(result.subject or subject) and predicate == "age":
                    continue  # "our kids are 4, 7 and 11": no one age is theirs
                if predicate == "did_activity" and result.negated:
                    continue  # what one did not do is not an activity
                for obj in objects:
                    if not _usable(obj) or (result.predicate == "did_activity" and " " not in obj):
                        continue  # a bare verb ("read", "meeting") is not an activity
                    if result.predicate == "did_activity" and len(obj.split()) > _ACTIVITY_WORDS:
                        continue  # a longer span carries a clause: a story, not one activity
                    if result.predicate == "did_activity" and re.match(
                        r"^(?:been\s+)?\w+\s+(?:(?:it|them|so)\b|(?:this|that)\s*$)",
                        obj,
                        re.IGNORECASE,
                    ):
                        continue  # "been doing it twelve years": what "it" is, is said elsewhere
                    if result.predicate == "did_activity" and re.match(
                        r"^packed\b", obj, re.IGNORECASE
                    ):
                        continue  # "packed everything up and moved …": the move is the fact
                    found.append(
                        Proposition(
                            subject=result.subject or subject,
                            relation_phrase=result.relation,
                            object_text=obj,
                            source_text=sentence,
                            start=start,
                            end=end,
                            predicate=predicate,
                            negated=result.negated,
                            confidence=result.confidence
                            if result.confidence is not None
                            else confidence,
                            temporal=context.temporal,
                        )
                    )
            if named_places:
                place = named_places[-1]
        if context.role == "user" and not context.speaker:
            found += _named_relations(sentence, start, end, context)
            found += _workplace_named(sentence, start, end, context)
        if context.role == "user":
            # "meet Toby, my puppy": the clauses cut it at the comma; read it whole, under
            # a speaker prefix too (a transcript's speaker introduces their own).
            found += [
                Proposition(
                    subject=subject,
                    relation_phrase=phrase,
                    object_text=name,
                    source_text=sentence,
                    start=start,
                    end=end,
                    predicate=predicate,
                    confidence=0.7,
                )
                for subject, predicate, phrase, name in introduced(sentence, context)
            ]
        return found

    def _clause(self, text: str, context: _Context) -> list[tuple[str, _Found, float]]:
        """One clause → (subject, found, confidence) triples, in named steps: read the clause
        from the speaker's side, contact details, "my X …" statements, then subject + verb."""
        prepared = _clause_prepare(text, context)
        if prepared is None:
            return []
        text, pastime, base_confidence = prepared
        lowered = text.lower()
        contact = _contact(text, lowered, context, base_confidence)
        if contact is not None:
            return contact
        opinion = re.match(
            r"^(?:(?:in\s+)?my (?:honest |humble )?opinion|personally|if you ask me|to me)\s*,?\s+"
            r"(?P<obj>(?!i\b)\S.{8,})$",
            text,
            re.IGNORECASE,
        )
        if opinion:
            return [(context.me, _Found("opinion", "in my opinion", opinion.group("obj")), 0.7)]
        detail = _NEW_DETAIL_RE.match(text)
        if detail:  # "New number: 555-9876"
            attr = detail.group("attr").lower()
            name = "email" if "mail" in attr else "address" if attr == "address" else "phone"
            return [(context.me, _Found(name, "new", detail.group("obj")), base_confidence)]
        home = _HOME_IS_RE.match(text)
        if home:  # "Home is Glasgow for me", "Home for me is Nairobi these days"
            return [(context.me, _Found("lives_in", "home is", home.group("obj")), base_confidence)]
        news = news_clause(text)
        if news:  # "Galway is home now", "My new place is in Boulder", "Adidas hired me"
            return [(context.me, found, base_confidence) for found in news]
        if lowered.startswith("my ") or lowered.startswith("our "):
            pair = _COORDINATED_RELATIVES_RE.match(text)
            if pair and pair.group("second").lower() in _RELATION_NOUNS:
                # "My mom and dad live in Florida": the same facts for each of them.
                rest = pair.group("rest")
                return [
                    *_possessive(f"my {pair.group('first')} {rest}", context, base_confidence),
                    *_possessive(f"my {pair.group('second')} {rest}", context, base_confidence),
                ]
            if pair and pair.group("second").lower() in ("i", "me"):
                # "My husband and I own a vineyard": we do.
                return _subject_and_verb(
                    f"we {pair.group('rest')}", context, base_confidence, pastime=pastime
                )
            if pair and not re.match(r"^(?:i|me)\b", pair.group("rest"), re.I):
                # "My sister and her husband live in Denver": at least the first one does.
                text = f"my {pair.group('first')} {pair.group('rest')}"
            return _possessive(text, context, base_confidence)
        return _subject_and_verb(text, context, base_confidence, pastime=pastime)


# --- the steps of a clause ---------------------------------------------------------------


def _clause_prepare(text: str, context: _Context) -> tuple[str, bool, float] | None:
    """The clause as the user's own statement: (text, said of spare time, confidence),
    or None when it yields nothing (hedged, a question, the assistant about itself)."""
    text = canonical(_normalise(text))
    premise = re.match(
        r"^(?P<premise>(?:since|because|as|given that|now that)\s+[^,]+),\s", text, re.I
    )
    if premise and _HEDGE_RE.search(text) and not _HEDGE_RE.search(premise.group("premise")):
        # "Since you have two kids, a minivan might work": the premise is said as fact.
        text = premise.group("premise")
    if _HEDGE_RE.search(text) or _QUESTION_START_RE.match(text):
        return None
    # A headline before a colon ("Big news: I moved…", "Update on me: we…").
    text = re.sub(
        r"^(?:[\w']+\s+){0,3}[\w']+\s*:\s+(?=(?:i|we|my|our|me)\b)", "", text, flags=re.IGNORECASE
    )
    # "ok so a little about me: I'm 45", "some background on me - i live …": an
    # introduction's headline, however long.
    text = re.sub(
        r"^(?:[\w',]+\s+){0,6}(?:about|on)\s+(?:me|myself|us)\s*[:\-–—]+\s+(?=(?:i|we|my|our)\b)",
        "",
        text,
        flags=re.IGNORECASE,
    )
    # "So the big news is (that) we moved…", "The update is I got the job": a headline too.
    text = re.sub(
        r"^(?:so\s+)?(?:the\s+)?(?:big\s+|good\s+|exciting\s+|sad\s+|latest\s+)?(?:news|update|"
        r"thing|plot twist)\s+(?:is|was)\s+(?:that\s+)?(?=(?:i|we|my|our)\b)",
        "",
        text,
        flags=re.IGNORECASE,
    )
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
        # "Congrats on the new job at Stripe!": the news congratulated on is the user's.
        text = re.sub(
            r"^(?:congrat\w*|well done|good luck)\s+on\s+(?:the|your)\s+new\s+(?=(?:job|role|"
            r"position)\s+(?:at|with)\b)",
            "you started a new ",
            text,
            flags=re.IGNORECASE,
        )
        # "Noted, you're…", "Since you prefer Python, …", "As you're vegan, …": the user's
        # fact restated as an acknowledgement or a premise.
        text = re.sub(
            r"^(?:(?:noted|got it|understood|gotcha|right|ah|oh|so|ok|okay|sure|of course|"
            r"since|because|as|given that|now that|seeing as)\b[,!.:]?\s+)+(?=you\b)",
            "",
            text,
            flags=re.IGNORECASE,
        )
        # "Congratulations on getting engaged to Sophie!", "Congrats on moving to Berlin": the
        # news congratulated on is the user's, in the past tense.
        text = re.sub(
            r"^(?:congrat\w*|well done|good luck|so happy for you|happy for you)\s+(?:on|about)\s+"
            r"(?:finally\s+)?(?P<verb>\w+ing)\b",
            lambda m: f"you {_PAST.get(m.group('verb').lower(), m.group(0))}",
            text,
            flags=re.IGNORECASE,
        )
        framed = _REPORT_FRAME_RE.sub("", text, count=1)
        if re.match(r"^(?:i|we|let me|let's|me)\b", framed, re.IGNORECASE):
            return None  # the assistant speaking about itself
        if not re.match(r"^(?:you|your)\b", framed, re.IGNORECASE):
            return None
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
    return text, pastime, base_confidence


# The past tense of the news verbs an assistant congratulates on ("on getting engaged").
_PAST = {
    "getting": "got",
    "moving": "moved",
    "starting": "started",
    "joining": "joined",
    "buying": "bought",
    "landing": "landed",
    "passing": "passed",
    "graduating": "graduated",
    "finishing": "finished",
    "completing": "completed",
    "winning": "won",
    "adopting": "adopted",
    "becoming": "became",
    "retiring": "retired",
    "switching": "switched",
    "running": "ran",
    "publishing": "published",
    "opening": "opened",
    "launching": "launched",
    "selling": "sold",
    "leaving": "left",
    "quitting": "quit",
    "marrying": "married",
    "earning": "earned",
    "having": "had",
    "welcoming": "welcomed",
}


def _contact(
    text: str, lowered: str, context: _Context, base_confidence: float
) -> list[tuple[str, _Found, float]] | None:
    """Contact details in a first-person statement; None when the clause gives none."""
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
    return None


def _possessive(
    text: str, context: _Context, base_confidence: float
) -> list[tuple[str, _Found, float]]:
    """ "My X is Y" attributes, else "my sister Anna …" relations; nothing else."""
    attribute = _attribute(text, context)
    if attribute:
        return [(context.me, found, base_confidence) for found in attribute]
    relation = _MY_RELATION_RE.match(text)
    if relation:
        return _relation_subject(text, relation, context, base_confidence)
    return []


def _subject_and_verb(
    text: str, context: _Context, base_confidence: float, *, pastime: bool
) -> list[tuple[str, _Found, float]]:
    """Resolve who the clause is about, then read its verb phrase."""
    subject: str | None = None
    rest = text
    split_up = _SPLIT_UP_RE.match(text) or _DUMPED_RE.match(text)
    if split_up:
        return [
            (
                context.me,
                _Found("partner", "broke up with", split_up.group("name"), negated=True),
                base_confidence,
            )
        ]
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
        return _named_subject(text, named, context, base_confidence - 0.1)
    if subject is None:
        return []
    results = [
        (subject, found, base_confidence) for found in _predicate_rules(rest, context, subject)
    ]
    if pastime:
        return _pastime_hobby(results, rest, subject, base_confidence)
    return results


def _named_subject(
    text: str, named: re.Match[str], context: _Context, confidence: float
) -> list[tuple[str, _Found, float]]:
    """A clause that starts with a capitalised name ("Alice moved to Rome")."""
    subject = named.group("name")
    if subject.lower() in ("user", "the user"):
        subject = USER_SUBJECT
    else:
        context.last_third_party = subject
    rest = text[named.end() :]
    kin = re.match(
        rf"^(?:is|was)\s+(?:my|our)\s+{_RELATION_MODIFIERS}(?P<noun>{_RELATION_ALT})\b", rest, re.I
    )
    if kin and _RELATION_NOUNS.get(kin.group("noun").lower()) and not _not_a_name(subject):
        # "Sam is my brother", "Maya is my daughter": the relation, named.
        noun = kin.group("noun").lower()
        return [(context.me, _Found(_RELATION_NOUNS[noun], f"my {noun}", subject), confidence)]
    if re.match(
        r"^(?:has\s+)?(?:passed away|died|passed|was put down|was put to sleep|did not make it|"
        r"was rehomed)\b",
        rest,
    ):
        # "Rufus passed away": whatever the user had in Rufus (a pet, a partner) ended;
        # the Map stage finds which among the user's current facts (`CHANGE_FROM`).
        return [(context.me, _Found(None, CHANGE_FROM, subject, negated=True), confidence)]
    # A capitalised word before a verb may be a place or a thing ("Fox Hollow
    # is a great trail"): keep only the person-shaped predicates.
    return [
        (subject, found, confidence)
        for found in _predicate_rules(rest, context, subject)
        if found.predicate not in ("is_a", "routine", "did_activity")
    ]


def _pastime_hobby(
    results: list[tuple[str, _Found, float]], rest: str, subject: str, confidence: float
) -> list[tuple[str, _Found, float]]:
    """ "In my spare time I build keyboards": whatever is done then is a hobby."""
    if any(found.predicate in ("hobby", "exercise", "likes") for _, found, _ in results):
        return results
    habit = re.match(r"^(?P<verb>[a-z]+)\s+(?P<obj>\S.*)$", rest.strip(), re.IGNORECASE)
    if habit:
        return [(subject, _Found("hobby", habit.group("verb"), habit.group("obj")), confidence)]
    return results


_TITLED_NAME = r"(?:(?:Mr|Mrs|Ms|Dr|Sir|Aunt|Uncle)\.?\s+)?[A-Z][a-z][\w-]*(?:\s+[A-Z][a-z][\w-]*)?"
_APPOSED_NAME_RE = re.compile(
    rf"\b(?P<owner>my|our)\s+(?P<noun>(?:[\w-]+\s+)?(?:{_RELATION_ALT}))\s*,?\s+"
    rf"(?-i:(?P<name>{_TITLED_NAME}))\b\s*,?",
    re.IGNORECASE,
)
_NAME_FIRST_RE = re.compile(
    rf"^(?P<name>{_TITLED_NAME})\s*,\s*(?P<owner>my|our)\s+(?P<noun>(?:[\w-]+\s+)?"
    rf"(?:{_RELATION_ALT}))\s*,\s*",
    re.IGNORECASE,
)


_PREMISE_RE = re.compile(
    r"^(?P<premise>(?:since|because|as|given that|now that|i am|i'm|i have|i've|my|we are|"
    r"we're|we have)\b[^,;:?—–]{3,}?)\s*(?:,|;|:|\s[—–-]\s)\s*(?=\S)",
    re.IGNORECASE,
)
_NAME_LATER_RE = re.compile(
    rf"\b(?:a|an|my|our|new)\s+(?:new\s+|little\s+|baby\s+)?(?P<noun>{_RELATION_ALT})\b[^.!?]*?"
    rf"\b(?:his|her|its|their)\s+name\s+is\s+(?-i:(?P<name>[A-Z][a-z][\w-]*))",
    re.IGNORECASE,
)
_NEW_DETAIL_RE = re.compile(
    r"^(?:(?:please\s+)?(?:use|note|save|update to|here is|here's|that's|it's)\s+)?"
    r"(?:(?:my\s+)?new|updated|current)\s+(?P<attr>e-?mail(?: address)?|phone(?: number)?|"
    r"number|cell|mobile|address)\s*(?::|is|,|-)\s*(?P<obj>\S.*)$",
    re.IGNORECASE,
)


_CAR_MAKES_RE = re.compile(
    r"\b(?:Toyota|Honda|Subaru|Ford|Tesla|BMW|Audi|Volkswagen|VW|Mercedes|Kia|Hyundai|Nissan|"
    r"Mazda|Chevy|Chevrolet|Jeep|Volvo|Porsche|Fiat|Peugeot|Renault|Skoda|Lexus|Vespa|Harley|"
    r"Ducati|Yamaha|Kawasaki|Dodge|GMC|Buick|Cadillac|Rivian|Polestar|Prius|Civic|Corolla)\b"
)


# Kinds whose object is a thing: a place or an owner after it is not part of it ("a
# vineyard in Mendoza", "metformin for my diabetes", "a Vespa to work").
_THING_KINDS = frozenset(
    "met_person owns vehicle works_on medication health_condition allergy likes dislikes hobby "
    "exercise uses_tool learning skill has_plan favorite_food".split()
)
# Kinds whose object is one noun phrase: it ends at a preposition, a relative or a comma
# (`_phrase_end`), in each item of a list too ("Marrakech and Fez over Christmas"); and a
# favourite of any kind.
_PHRASE_KINDS = _THING_KINDS | frozenset(
    "visited_place attended_event is_a studies_subject lives_in works_at studies_at "
    "achievement".split()
)
_LOCATIVE_TAIL_RE = re.compile(
    r"\s+(?:in|on|at|near|outside|from|for|with|to|during|around)\s+"
    r"(?=(?:my|our|his|her|their|the|a|an|this|that|work|school|home|bed)\b|(?-i:[A-Z0-9]))",
    re.IGNORECASE,
)
# A relative clause without "that": "the camera I use for street photos".
_BARE_RELATIVE_RE = re.compile(r"\s+(?:that\s+|which\s+)?(?:(?-i:I)|we|he|she|they)\s+\w", re.I)
_KEEPS_CLAUSES = frozenset(
    {"opinion", "goal", "plans_to", "career_interest", "assistant_instruction", "did_activity"}
)
_PLURAL_SUBJECT_RE = re.compile(
    r"\b(?:kids|children|parents|twins|sons|daughters|boys|girls|siblings|grandkids|"
    r"grandparents|in-laws|cats|dogs)$",
    re.IGNORECASE,
)
# A settlement named after a lower-case noun phrase: "a small village near Bath", "the
# house I grew up in, in Cork", "a farm outside Des Moines".
_SETTLEMENT_RE = re.compile(
    r"\b(?:in|near|outside|of|by)\s+(?P<place>(?-i:[A-Z])[\w.'-]*(?:\s+(?-i:[A-Z])[\w.'-]*)*)"
)


def _settlement(raw: str, obj: str) -> str:
    """A home or origin is the named place when the object is a lower-case description."""
    if obj[:1].isupper() or not obj:
        return obj
    places = _SETTLEMENT_RE.findall(raw)
    return places[-1] if places else obj


def _address(raw: str) -> str:
    """An address keeps its commas and abbreviations ("22 Baker St., Apt. 4B, London")."""
    text = re.sub(r",?\s+(?:if|in case|just so|so that|so you)\b.*$", "", raw.strip())
    return text.strip(" .!;")


def _trim_for(predicate: str | None, obj: str) -> str:
    """What a kind's object is without its modifiers: a drug without its dose, a class
    without "lessons", a car without "beat-up old"."""
    if predicate not in _KEEPS_CLAUSES:
        relative = _BARE_RELATIVE_RE.search(obj)
        if relative and relative.start() > 0:
            obj = obj[: relative.start()]
    if predicate in _THING_KINDS:
        obj = _LOCATIVE_TAIL_RE.split(obj, maxsplit=1)[0]
    if predicate == "degree":
        obj = re.split(r"\s+(?:from|at)\s+", obj, maxsplit=1)[0]
    if predicate == "job_title":
        # "a barista in Leeds", "a nurse in Glasgow": the role, not its town.
        obj = re.split(r"\s+(?:in|near|outside)\s+(?=(?-i:[A-Z]))", obj, maxsplit=1)[0]
    if predicate == "medication":
        return re.sub(
            r"^\d+(?:\.\d+)?\s*(?:mg|mcg|g|ml|iu|units?)\s+(?:of\s+)?", "", obj, flags=re.I
        )
    if predicate == "learning":
        return re.sub(r"\s+(?:lessons|classes|class|courses?)$", "", obj, flags=re.I) or obj
    if predicate in ("vehicle", "owns") and _CAR_MAKES_RE.search(obj):
        return re.sub(r"^(?:[a-z][\w-]*\s+)+(?=[A-Z0-9])", "", obj)
    return obj


def _named_relations(sentence: str, start: int, end: int, context: _Context) -> list[Proposition]:
    """ "…walks with my dog, Pixel", "…dinner with my brother Tom": a named relative or pet
    mentioned inside a clause is still one (the clause itself is about something else)."""
    found = []
    later = _NAME_LATER_RE.search(sentence)
    if later and _RELATION_NOUNS.get(later.group("noun").lower()):
        # "I have a girlfriend now, her name is Mia", "got a puppy, his name is Milo".
        found.append(
            Proposition(
                subject=context.me,
                relation_phrase=f"my {later.group('noun').lower()}",
                object_text=later.group("name"),
                source_text=sentence,
                start=start,
                end=end,
                predicate=_RELATION_NOUNS[later.group("noun").lower()],
                confidence=0.7,
            )
        )
    for mention in _APPOSED_NAME_RE.finditer(_apposition(sentence)):
        noun = mention.group("noun").lower().split()[-1]
        if mention.start() == 0 or not _RELATION_NOUNS.get(noun):
            continue  # a clause that starts with it is read as its subject
        found.append(
            Proposition(
                subject=context.me,
                relation_phrase=f"my {noun}",
                object_text=mention.group("name"),
                source_text=sentence,
                start=start,
                end=end,
                predicate=_RELATION_NOUNS[noun],
                confidence=0.7,
            )
        )
    return found


# "My parents, Ramesh and Geeta, are visiting …": two named relatives in apposition.
_NAMED_PAIR_RE = re.compile(
    rf"^(?P<head>(?:my|our)\s+(?:[\w-]+\s+)?(?:{_RELATION_ALT}))\s*,\s*"
    r"(?-i:(?P<first>[A-Z][a-z][\w-]*))\s+and\s+(?-i:(?P<second>[A-Z][a-z][\w-]*))\s*,\s*"
    r"(?P<rest>\S.*)$",
    re.IGNORECASE,
)


def _named_pair(sentence: str) -> list[str]:
    """A sentence about two named relatives in apposition, as one sentence for each ("my
    parents Ramesh are visiting …", "my parents Geeta are visiting …"), as "My mom and
    dad live in Florida" is read; any other sentence as it is."""
    pair = _NAMED_PAIR_RE.match(sentence)
    if not pair:
        return [sentence]
    return [
        f"{pair.group('head')} {pair.group('first')} {pair.group('rest')}",
        f"{pair.group('head')} {pair.group('second')}",
    ]


# "The company I work for, Atlassian, …": the employer named in apposition.
# "my job at Google", "my new role at Deloitte", "my boss at Amazon": a named employer.
_MY_JOB_AT_RE = re.compile(
    r"\bmy\s+(?:new\s+|current\s+|first\s+)?(?:job|role|position|boss|manager|"
    r"team|office|colleagues|coworkers|co-workers)\s+at\s+(?P<name>(?-i:[A-Z])[\w&.'-]*"
    r"(?:\s+(?:of\s+)?(?-i:[A-Z])[\w&.'-]*)*)",
    re.IGNORECASE,
)
_LEFT_JOB_RE = re.compile(
    r"\b(?:quit|left|leaving|lost|fired from|laid off from|resigned from|"
    r"old|former|previous|used to)\b|\bmy\s+old\b",
    re.IGNORECASE,
)

_WORKPLACE_NAMED_RE = re.compile(
    r"\bthe\s+(?:company|firm|agency|startup|start-up|hospital|clinic|school|bank|studio|"
    r"practice|store|shop|restaurant|charity|lab|nonprofit|organisation|organization|"
    r"business|place|uni|university|college)\s+(?:that\s+|where\s+)?(?:I|we)\s+"
    r"(?P<verb>work|teach|study)"
    r"(?:\s+(?:for|at|in))?\s*,\s*(?-i:(?P<name>[A-Z][\w&.'-]*(?:\s+(?:of\s+)?[A-Z][\w&.'-]*)*))"
    r"\s*(?:,|$)",
    re.IGNORECASE,
)


def _workplace_named(sentence: str, start: int, end: int, context: _Context) -> list[Proposition]:
    """ "The company I work for, Atlassian, just announced layoffs": the user works there
    (studies there, for "the school I study at, …"), whatever the sentence goes on about."""
    named = _WORKPLACE_NAMED_RE.search(sentence)
    if not named:
        job = _MY_JOB_AT_RE.search(sentence)
        if job is None or _LEFT_JOB_RE.search(sentence[: job.start()]):
            return []  # "I quit my job at the bank": the verb phrase rules say it ended
        # "I love my job at Google", "my boss at Amazon is great": the user works there.
        return [
            Proposition(
                subject=context.me,
                relation_phrase="my job at",
                object_text=job.group("name").rstrip("."),
                source_text=sentence,
                start=start,
                end=end,
                predicate="works_at",
                confidence=0.7,
            )
        ]
    study = named.group("verb").lower() == "study"
    return [
        Proposition(
            subject=context.me,
            relation_phrase="study at" if study else "work for",
            object_text=named.group("name"),
            source_text=sentence,
            start=start,
            end=end,
            predicate="studies_at" if study else "works_at",
            confidence=0.7,
        )
    ]


def _apposition(sentence: str) -> str:
    """A name in apposition reads as the relation's name: "my mother-in-law, Gloria,
    lives…" and "Rosa, my mom, is…" become "my mother-in-law Gloria lives…" and "my mom
    Rosa is…" (the clause splitter would otherwise cut at the comma)."""
    first = _NAME_FIRST_RE.match(sentence)
    if first and first.group("name").split()[0].lower() not in _NAME_STOPWORDS:
        sentence = (
            f"{first.group('owner')} {first.group('noun')} {first.group('name')} "
            + sentence[first.end() :]
        )
    return _APPOSED_NAME_RE.sub(
        lambda m: (
            f"{m.group('owner')} {m.group('noun')} {m.group('name')}"
            + (" " if re.search(r"[\s,]$", m.group(0)) else "")
        ),
        sentence,
    )


_COORDINATED_RELATIVES_RE = re.compile(
    rf"^(?:my|our)\s+(?P<first>(?:{_RELATION_ALT}))\s+and\s+(?:(?:my|our)\s+)?"
    rf"(?P<second>(?:(?:his|her|their)\s+)?[\w-]+)\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
# A non-restrictive relative clause on the subject: "My mom, who is 70, lives in Lagos".
_RELATIVE_CLAUSE_RE = re.compile(
    r"^(?P<subject>(?:(?:my|our)\s+(?:[\w-]+\s+)?[\w-]+(?:\s+(?-i:[A-Z])[\w-]+)?)|"
    r"(?-i:[A-Z])[a-z]+)\s*,\s*(?:who|which)\s+(?P<relative>[^,]+?)\s*,\s*(?P<rest>\S.*)$",
    re.IGNORECASE,
)


def _relative_clauses(clauses: list[str]) -> list[str]:
    """Each clause, with a subject's non-restrictive relative clause read as a clause of
    its own about that subject ("my mom is 70", "my mom lives in Lagos")."""
    out: list[str] = []
    for clause in clauses:
        relative = _RELATIVE_CLAUSE_RE.match(clause)
        if relative:
            out.append(f"{relative.group('subject')} {relative.group('rest')}")
            out.append(f"{relative.group('subject')} {relative.group('relative')}")
        else:
            out.extend(_parenthetical(clause))
    return out


# A modifier in commas between a relative (or a name) and its verb: an age ("My nephew
# Kofi, 14, plays rugby"), a noun phrase in apposition ("My brother, a chef in Lyon, is …"),
# "who's …" or a relative clause after a name whose comma `_apposition` took off ("My
# friend Ines  who works at Airbus, is …").
_PARENTHETICAL_RE = re.compile(
    r"^(?P<subject>(?:my|our)\s+(?:[\w-]+\s+)?[\w-]+(?:\s+(?-i:[A-Z])[\w-]+)?|"
    r"(?-i:[A-Z])[a-z]+)(?:\s*,\s*|\s{2,})"
    r"(?:(?:aged\s+)?(?P<age>\d{1,3})(?:\s+years?\s+old)?|"
    r"(?P<np>(?:an?|the)\s+[^,]{2,40}?)|"
    r"(?:who|which)(?:'s|\s+is)\s+(?P<is>[^,]+?)|"
    r"(?:who|which)\s+(?P<relative>[^,]+?))"
    r"\s*,\s*(?P<rest>(?!and\b|or\b|but\b)\S.*)$",
    re.IGNORECASE,
)


def _parenthetical(clause: str) -> list[str]:
    """The clause without its parenthetical modifier, and the modifier as a clause of its
    own about the same subject ("my nephew Kofi is 14"); any other clause as it is."""
    found = _PARENTHETICAL_RE.match(clause)
    if not found:
        return [clause]
    subject = found.group("subject")
    named = re.match(
        r"^(?P<kind>.+?)\s+(?:called|named)\s+(?P<name>(?-i:[A-Z])[\w-]+)$", found.group("np") or ""
    )
    if named and re.match(r"^(?:my|our)\s", subject, re.I):
        # "My dog, a spaniel named Alfie, is 4": the name is the subject's ("my dog Alfie").
        subject = f"{subject} {named.group('name')}"
        return [f"{subject} {found.group('rest')}", f"{subject} is {named.group('kind')}"]
    said = (
        f"is {found.group('age')}"
        if found.group("age")
        else f"is {found.group('np') or found.group('is')}"
        if found.group("np") or found.group("is")
        else found.group("relative")
    )
    return [f"{subject} {found.group('rest')}", f"{subject} {said}"]


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
