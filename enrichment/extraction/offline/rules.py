"""The verb-phrase rule table: pattern → handler, first match wins."""

from __future__ import annotations

import re

from enrichment.extraction.offline.clause import _Clause, _Found
from enrichment.extraction.offline.handlers import (
    _BE,
    _CRAFT_VERBS,
    _NUMBER_WORDS,
    _O,
    Handler,
    _arrived,
    _attribute_change,
    _change,
    _craft,
    _did,
    _exercise,
    _fixed,
    _gerund,
    _have,
    _joined,
    _likes,
    _mapped,
    _moving,
    _opinion,
    _plan,
    _prefers,
    _switched_to,
    _take,
    _teach,
    _went,
    _without_frequency,
    _work_as,
)
from enrichment.extraction.offline.topic_rules import TOPIC_RULES
from enrichment.extraction.offline.words import _DIETS
from enrichment.propositions import CHANGE_FROM
from memory.vocabulary.predicates import predicate_map

_EXERCISE_PLACES = (
    r"(?:the\s+)?(?:gym|pool|yoga|pilates|spin|crossfit|zumba|boxing|karate|judo|parkrun|"
    r"climbing wall|bouldering|aerobics|swimming|the track)"
)


def _go_habit(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """A habit told with "go" and a frequency; nothing without one (the `_went` rule)."""
    if not clause.frequent:
        return []
    if match.group("noun"):
        noun = match.group("noun").split()[-1]
        return [_Found("exercise", "go for", _gerund(noun), negated=clause.negated)]
    if match.group("ing"):
        what = match.group("ing").lower()
        if what in ("shopping", "out", "home", "missing"):
            return [_Found("routine", "go", f"go {what}", negated=clause.negated)]
        sport = predicate_map(relation_phrase="go", object_text=what).name == "exercise"
        return [_Found("exercise" if sport else "hobby", "go", what, negated=clause.negated)]
    place = _without_frequency(match.group("to"))
    if place[:1].isupper():
        return []  # "go to Spain every summer": a place visited (the `_went` rule)
    exercise = re.fullmatch(_EXERCISE_PLACES, place, re.IGNORECASE)
    if exercise:
        what = re.sub(r"^the\s+", "", place, flags=re.IGNORECASE).lower()
        return [_Found("exercise", "go to", what, negated=clause.negated)]
    return [_Found("routine", "go to", f"go to {place}", negated=clause.negated)]


def _stopped(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """ "quit smoking", "stopped learning French": the event, and what it ended (read by
    the verb phrase rules, negated)."""
    obj = match.group("obj")
    found = [_Found("life_event", "quit", "quit " + obj)]
    stopped = _Clause(clause.subject, obj, True, clause.frequent, clause.confidence, clause.owner)
    for pattern, handler in _RULES:  # the table below, at call time
        inner = pattern.match(obj)
        if inner and (results := handler(inner, stopped)):
            found += [f for f in results if f.predicate not in ("did_activity", "life_event")]
            break
    return found


# Each rule is tried against the clause text after its subject; the first that matches
# (and returns something) wins. Order: specific constructions before general verbs.
_RULES: tuple[tuple[re.Pattern[str], Handler], ...] = TOPIC_RULES + tuple(
    (re.compile(pattern, re.IGNORECASE), handler)
    for pattern, handler in (
        # identity
        (
            r"^(?:am|was|is)\s+(?:(?:a\s+)?native\s+(?P<obj>\w+)\s+speaker)",
            _fixed("speaks_language", "native speaker"),
        ),
        (rf"^(?:go|goes|went)\s+by\s+{_O}", _fixed("name")),
        (
            rf"^(?:turned|turn|turns|am turning|is turning)\s+(?P<obj>\d{{1,3}}|"
            rf"{_NUMBER_WORDS})\b(?!\s*(?:%|percent|degrees|times|people|pages))",
            _fixed("age", "turned"),
        ),
        (
            rf"^{_BE}\s+(?P<obj>\d{{1,3}}|{_NUMBER_WORDS})\s+(?:years?|yrs?)\s+old\b",
            _fixed("age", "years old"),
        ),
        (
            # "I'm 29 and still…", "Arjun is 16, and…", "is fourteen and deaf".
            rf"^(?:am|is|are)\s+(?P<obj>\d{{1,3}}|{_NUMBER_WORDS})(?=\s*(?:,|and\b|now\b|$))",
            _fixed("age", "am"),
        ),
        (
            r"^(?:was\s+)?born\s+(?:on\s+)?(?P<obj>(?:\d{1,2}(?:st|nd|rd|th)?\s+)?(?:january|"
            r"february|march|april|may|june|july|august|september|october|november|december)\b.*|"
            r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}.*)",
            _fixed("birthday", "born on"),
        ),
        (
            r"^(?:was\s+)?born\s+(?:and\s+raised\s+)?in\s+(?P<obj>(?:19|20)\d\d)\b",
            _fixed("birthday", "born in"),
        ),
        (
            rf"^(?:was\s+)?(?:born\s+and\s+raised|born|raised|grew\s+up|grow\s+up)\s+in\s+{_O}",
            _fixed("from_location", "grew up in"),
        ),
        (
            # "grew up on a farm outside Des Moines", "raised near Cork": the named place.
            r"^(?:was\s+)?(?:born\s+and\s+raised|born|raised|grew\s+up)\s+(?:on|near|outside|by|"
            r"in)\s+(?:an?|the|my|our)\s+[\w\s'-]*?\b(?:in|near|outside|of|by)\s+"
            r"(?P<obj>(?-i:[A-Z])[\w.'-]*(?:\s+(?-i:[A-Z])[\w.'-]*)*)",
            _fixed("from_location", "grew up near"),
        ),
        (
            rf"^(?:am|is|are|was|were)\s+(?:from|originally\s+from)\s+{_O}",
            _fixed("from_location", "from"),
        ),
        (
            rf"^(?:identify|identifies|identified)\s+as\s+{_O}",
            _fixed("gender_identity", "identify as"),
        ),
        (rf"^(?:came|come|comes)\s+out\s+as\s+{_O}", _fixed("gender_identity", "came out as")),
        # diet / health
        (
            rf"^(?:am|is|are|was|been|went|gone|became|become|have been|turned)\s+(?:a\s+)?"
            rf"(?:strict\s+|full\s+|fully\s+|completely\s+|mostly\s+|100% )?(?P<obj>{_DIETS})\b",
            _fixed("diet", "am"),
        ),
        (
            rf"^(?:eat|eats|ate|eating|drink|drinks|drank|drinking)\s+{_O}",
            lambda m, c: [_Found("diet", "eat", m.group("obj"), negated=True)] if c.negated else [],
        ),
        (
            rf"^{_BE}\s+(?:severely\s+|mildly\s+|deathly\s+)?allergic\s+to\s+{_O}",
            _fixed("allergy", "allergic to"),
        ),
        (rf"^{_BE}\s+(?P<obj>\w+)\s+intolerant\b", _fixed("allergy", "intolerant")),
        (
            rf"^(?:{_BE}\s+|got\s+)?diagnosed\s+with\s+{_O}",
            _fixed("health_condition", "diagnosed with"),
        ),
        (
            rf"^(?:suffer|suffers|suffered|suffering|am suffering)\s+from\s+{_O}",
            _fixed("health_condition", "suffer from"),
        ),
        (rf"^(?:take|takes|took|taking|am taking|am on|is on)\s+{_O}", _take),
        # location
        (
            r"^(?:live|lives|lived|living|am living|is living|are living|reside|resides|resided|"
            r"residing)\s+at\s+(?P<obj>\d.+)",
            _fixed("address", "live at"),
        ),
        (
            rf"^(?:{_BE}\s+)?(?:live|lives|lived|living|reside|resides|resided|residing|based|"
            rf"staying|settled)\s+(?:with\s+(?:us|me|them|him|her|(?:my|our|his|her|their)\s+"
            rf"(?:[\w-]+\s+)?[\w-]+|(?-i:[A-Z])[a-z]+)\s+)?"
            rf"(?:in|on|(?:just\s+)?outside(?:\s+of)?|near|out of|close to)\s+{_O}",
            _fixed("lives_in", "live in"),
        ),
        (rf"^(?:{_BE}\s+)?(?:moving|relocating)\s+(?:back\s+)?to\s+{_O}", _moving),
        (
            # "a Chicago native", "a native of Lima": where one is from.
            r"^(?:am|is|are|was)\s+(?:an?\s+)?(?:proud\s+|born-and-bred\s+)?(?:(?P<obj>(?-i:[A-Z])"
            r"[\w.'-]*(?:\s+(?-i:[A-Z])[\w.'-]*)*)\s+native\b|native\s+of\s+(?P<obj2>.+))",
            lambda m, c: [_Found("from_location", "native of", m.group("obj") or m.group("obj2"))],
        ),
        (
            r"^spent\s+(?:my|our|his|her)\s+(?:whole\s+|entire\s+)?(?:childhood|early years|"
            r"youth|teens|teenage years|formative years)\s+in\s+{_O}".replace("{_O}", _O),
            _fixed("from_location", "spent childhood in"),
        ),
        (
            # "can get by in French", "know some basic Arabic".
            r"^(?:get|can get)\s+by\s+in\s+(?P<obj>.+)",
            _fixed("speaks_language", "get by in"),
        ),
        (
            r"^(?:know|knows|understand|understands|read|write)\s+(?:some|a little|a bit of|"
            r"basic|a few words of|enough)\s+(?P<obj>(?-i:[A-Z])\w+)\b",
            _fixed("speaks_language", "know some"),
        ),
        (
            # "listen to a lot of K-pop", "read everything by N. K. Jemisin": a liking.
            r"^(?:listen to|listens to|watch|watches|read|reads|eat|eats|play|plays|follow)\s+"
            r"(?:a lot of|lots of|tons of|loads of|so much|plenty of|everything by|anything by|"
            r"everything from|all things)\s+(?P<obj>.+)",
            _fixed("likes", "listen to a lot of"),
        ),
        (
            r"^(?:am|is|are)\s+(?:a\s+|an\s+)?(?:proud\s+|openly\s+)?(?P<obj>non-?binary|agender|"
            r"genderqueer|genderfluid|gender-?fluid|bisexual|pansexual|asexual|aromantic|gay|"
            r"lesbian|queer|trans|transgender)\b(?!\s+(?:woman|man|bar|rights|friend|community))",
            _fixed("gender_identity", "am"),
        ),
        (
            rf"^(?:have\s+|has\s+)?(?:moved|move|relocated|relocate)\s+(?:(?:back|over|up|down|"
            rf"out|across|away)\s+){{0,2}}(?:home\s+)?to\s+{_O}",
            _fixed("lives_in", "moved to"),
        ),
        (rf"^(?:call|calls)\s+{_O}\s+home\b", _fixed("lives_in", "call home")),
        (
            # "spent our honeymoon in Bali and Lombok": somewhere one has been.
            r"^spent\s+(?:(?:our|my|a|the|two|three|\w+)\s+)?(?:\w+\s+){0,2}(?:in|on|at)\s+"
            r"(?P<obj>(?-i:[A-Z]).*)",
            _fixed("visited_place", "spent time in"),
        ),
        (
            r"^(?:live|lives|living|am living|reside|resides|am based|am staying|am settled|"
            r"settled)\s+(?P<obj>there|here)\b",
            _fixed("lives_in", "live there"),
        ),
        (
            # "we (just / finally) moved in together": an event in the user's life.
            r"^(?:have\s+)?(?:just\s+|finally\s+|recently\s+|officially\s+)*"
            r"(?P<obj>moved\s+in\s+together)\b",
            _fixed("life_event", "moved in together"),
        ),
        (
            r"^(?:moved|move|moving)\s+into\s+(?:a|an|our|my|the)\s+(?:new\s+)?(?:place|house|"
            r"flat|apartment|condo|home)\s+in\s+(?P<obj>(?-i:[A-Z]).*)",
            _fixed("lives_in", "moved into"),
        ),
        # work / education
        (
            rf"^(?:{_BE}\s+)?(?:work|works|worked|working)\s+as\s+(?:an?\s+)?{_O}",
            _work_as,
        ),
        (
            rf"^(?:{_BE}\s+|have\s+|has\s+)?(?:work|works|worked|working)\s+(?:at|"
            rf"for)\s+(?P<obj>.+?)\s+as\s+(?:an?\s+)?(?P<title>.+)",
            lambda m, c: [
                _Found("works_at", "work at", m.group("obj"), negated=c.negated),
                _Found("job_title", "work as", m.group("title"), negated=c.negated),
            ],
        ),
        (
            rf"^(?:{_BE}\s+|have\s+|has\s+)?(?:work|works|worked|working)\s+(?:at|for)\s+{_O}",
            _fixed("works_at", "work at"),
        ),
        (rf"^(?:{_BE}\s+)?employed\s+(?:at|by)\s+{_O}", _fixed("works_at", "employed by")),
        (
            # "I work in HR at a law firm", "I'm in sales": the field is the job.
            rf"^(?:work|works|worked|am|is|are|{_BE}\s+working)\s+in\s+(?P<obj>(?-i:HR|IT|PR)|"
            rf"sales|marketing|finance|accounting|tech|retail|hospitality|healthcare|"
            rf"recruiting|recruitment|logistics|insurance|real estate|banking|consulting|"
            rf"advertising|publishing|construction|journalism|research|admin|customer service|"
            rf"customer support|operations|compliance|procurement)\b"
            rf"(?:\s+(?:at|for|with)\s+(?P<place>(?-i:[A-Z]).*))?",
            lambda m, c: [
                _Found("job_title", "work in", m.group("obj"), negated=c.negated),
                *(
                    [_Found("works_at", "work at", m.group("place"), negated=c.negated)]
                    if m.group("place")
                    else []
                ),
            ],
        ),
        (
            # "I've been at Google for five years": a duration at a named place is a job.
            r"^(?:am|have been|has been|'ve been)\s+at\s+(?P<obj>(?-i:[A-Z])[\w.'&-]*"
            r"(?:\s+(?-i:[A-Z])[\w.'&-]*)*)\s+(?:for|since)\s+(?:\w+\s+)?(?:\d+|a|an|one|two|three|"
            r"four|five|six|seven|eight|nine|ten|twenty|\w+teen|many|a few|several|over|almost|"
            r"nearly|years|months|(?:19|20)\d\d)\b",
            lambda m, c: [
                _Found(
                    "studies_at"
                    if re.search(r"\b(?:College|University|Uni|School|Academy)\b", m.group("obj"))
                    else "works_at",
                    "been at",
                    m.group("obj"),
                    negated=c.negated,
                )
            ],
        ),
        (
            # "are visiting from Pune", "is over from Dublin": where a visitor lives.
            rf"^(?:{_BE}\s+)?(?:visiting|over|down|up|here|in town|coming)\s+(?:\w+\s+)?from\s+"
            rf"(?P<obj>(?-i:[A-Z])[\w.'-]*(?:\s+(?-i:[A-Z])[\w.'-]*)*)",
            _fixed("lives_in", "visiting from"),
        ),
        (
            # "doing a degree in law at Exeter", "studying for a master's in nursing": the
            # subject under way, and the school when named.
            r"^(?:am\s+)?(?:doing|pursuing|studying for|working towards|working toward|taking)\s+"
            r"(?:a|an|my)\s+(?:[\w'-]+\s+){0,2}?(?:degree|master's|masters|bachelor's|phd|diploma|"
            r"course)\s+in\s+(?P<obj>[\w -]+?)(?:\s+at\s+(?P<school>(?-i:[A-Z]).*))?$",
            lambda m, c: [
                _Found("studies_subject", "degree in", m.group("obj"), negated=c.negated),
                *(
                    [_Found("studies_at", "study at", m.group("school"), negated=c.negated)]
                    if m.group("school")
                    else []
                ),
            ],
        ),
        (
            # "was laid off from Twitter", "got fired from my job at the bank", "handed in my
            # notice at Oracle": an employer left.
            rf"^(?:(?:{_BE}|got|get|have been|has been)\s+)?(?:laid off|let go|fired|sacked|"
            rf"made redundant|dismissed)\s+(?:from|by|at)\s+"
            rf"(?:my\s+(?:old\s+)?job\s+(?:at|with)\s+)?{_O}",
            _fixed("works_at", "laid off from", negate=True),
        ),
        (
            rf"^(?:handed in|gave|put in|turned in|submitted)\s+(?:my\s+)?(?:two weeks'?\s+)?"
            rf"(?:notice|resignation)\s+(?:at|to)\s+{_O}",
            _fixed("works_at", "handed in notice at", negate=True),
        ),
        (
            # "accepted an offer from Spotify", "took the job offer at Pfizer".
            rf"^(?:accepted|took|signed)\s+(?:an?\s+|the\s+|their\s+)?(?:job\s+)?offer\s+"
            rf"(?:from|at|with)\s+{_O}",
            _fixed("works_at", "accepted an offer from"),
        ),
        (
            # "started a new position as head of sales at Zendesk": the title, the employer.
            rf"^(?:started|start|starting|got|landed|accepted|took|began|am starting|have)\s+"
            rf"(?:a\s+|my\s+|the\s+)?(?:new\s+)?(?:job|position|role|post|gig)\s+as\s+(?:an?\s+)?{_O}",
            _work_as,
        ),
        (
            rf"^(?:started|start|starting|got|landed|accepted|took|begin|began|"
            rf"am starting)\s+(?:a\s+|my\s+|the\s+)?(?:new\s+)?(?:job|position|role|internship)"
            rf"\s+(?:at|with)\s+{_O}",
            _fixed("works_at", "job at"),
        ),
        (
            rf"^(?:got|was|been|have been)\s+promoted\s+to\s+(?:an?\s+)?{_O}",
            _fixed("job_title", "promoted to"),
        ),
        (
            rf"^(?:lost|quit|left)\s+(?:my|his|her|their)\s+job\s+as\s+(?:an?\s+)?{_O}",
            _fixed("job_title", "lost job as", negate=True),
        ),
        (
            rf"^(?:lost|quit|left)\s+(?:my|his|her|their)\s+job\s+at\s+{_O}",
            _fixed("works_at", "quit job at", negate=True),
        ),
        (
            # "retired from Boeing" leaves an employer; "retired from teaching" is an event.
            r"^(?:retired|resigned)\s+from\s+(?P<obj>(?-i:[A-Z]).*)",
            _fixed("works_at", "retired from", negate=True),
        ),
        (
            r"^(?P<verb>retired|resigned)\s+from\s+(?P<obj>.+)",
            lambda m, c: [
                _Found("life_event", "retired", f"{m.group('verb').lower()} from {m.group('obj')}")
            ],
        ),
        (
            # "drive for Uber", "deliver for DoorDash": the company one works for.
            r"^(?:drive|drives|driving|deliver|delivers|delivering|ride|rides|riding|freelance|"
            r"freelances|consult|consults)\s+for\s+(?P<obj>(?-i:[A-Z])[\w&.'-]*(?:\s+"
            r"(?-i:[A-Z])[\w&.'-]*)*)",
            _fixed("works_at", "drive for"),
        ),
        (
            # "joined Stripe this week / as a designer / in September": a named employer;
            # "joined a gym" (lower case) is not one.
            r"^(?:joined|join|joins|am joining|went to work for|got hired (?:by|at)|"
            r"was hired (?:by|at)|hired on at|got a job (?:at|with)|"
            r"started at|start at|starting at)\s+(?P<obj>(?-i:[A-Z][\w&.'-]*(?:\s+(?:of\s+)?"
            r"[A-Z][\w&.'-]*)*))(?:\s+as\s+(?:an?\s+)?(?P<title>[^,]+?))?"
            r"(?=\s*$|\s*[,.!;]|\s+(?:in|this|last|on|back|full|recently|a few|two|three|after|"
            r"earlier)\b)",
            _joined,
        ),
        (
            # "teach third grade at Lincoln", "teach piano in Bergen", "teach at Oakwood".
            r"^(?:teach|teaches|taught|am teaching|teaching)\s+(?:(?P<what>(?!at\b|in\b)"
            r"(?:(?!\bat\b)[\w -])+?)\s+)?(?P<prep>at|in)\s+(?P<obj>(?-i:[A-Z]).*|"
            r"(?:a|an|the)\s.*)",
            _teach,
        ),
        (rf"^(?:{_BE}\s+)?(?:working|work|works)\s+on\s+{_O}", _fixed("works_on", "working on")),
        (
            rf"^(?:{_BE}\s+)?(?:study|studies|studied|studying|major|majored|"
            rf"majoring)\s+(?:in\s+)?(?P<subj>.+?)\s+at\s+{_O}",
            lambda m, c: [
                _Found("studies_subject", "study", m.group("subj")),
                _Found("studies_at", "study at", m.group("obj")),
            ],
        ),
        (
            # "doing a master's at Oxford": the school, and the degree under way.
            r"^(?:am\s+)?(?:doing|pursuing|starting|finishing|working on|studying for)\s+"
            r"(?:a|an|my)\s+(?P<deg>(?:master|bachelor|phd|ph\.d|doctorate|mba|msc|bsc|ma|ba)\S*(?:\s+degree)?"
            r"(?:\s+in\s+[\w ]+?)?)\s+at\s+(?P<obj>(?-i:[A-Z]).*)",
            lambda m, c: [
                _Found("studies_at", "study at", m.group("obj"), negated=c.negated),
                _Found("degree", "doing a", m.group("deg"), negated=c.negated),
            ],
        ),
        (
            # "go to Riverside High", "attend Lincoln University": a school by its name.
            r"^(?:go|goes|going|attend|attends|attending|am attending|am at|is at)\s+(?:to\s+)?"
            r"(?P<obj>(?-i:[A-Z])[\w.'&-]*(?:\s+(?:of\s+)?(?-i:[A-Z])[\w.'&-]*)*\s+"
            r"(?:College|University|Uni|School|High|Academy|Institute|Polytechnic|Elementary|"
            r"Middle|Conservatory|Seminary|Primary|Secondary|Grammar|Prep|Nursery|Montessori)"
            r"(?:\s+(?:of\s+)?(?-i:[A-Z])[\w.'&-]*)*)",
            _fixed("studies_at", "go to"),
        ),
        (
            rf"^(?:{_BE}\s+)?(?:study|studies|studied|studying)\s+at\s+{_O}",
            _fixed("studies_at", "study at"),
        ),
        (rf"^(?:{_BE}\s+)?enrolled\s+(?:at|in)\s+{_O}", _fixed("studies_at", "enrolled at")),
        (
            rf"^(?:graduated|graduate)\s+(?:from\s+.+?\s+)?with\s+(?:an?\s+|my\s+)?{_O}",
            _fixed("degree", "graduated with"),
        ),
        (rf"^(?:graduated|graduate)\s+from\s+{_O}", _fixed("degree", "graduated from")),
        (
            r"^(?:have|has|hold|holds|got|earned|completed|finished)\s+(?:an?\s+|"
            r"my\s+)?(?P<obj>(?:bachelor|master|phd|ph\.d|doctorate|mba|"
            r"associate|b\.?sc|m\.?sc|b\.?eng|m\.?eng|b\.?ed|m\.?ed|llb|llm|mfa|bfa|mphil|"
            r"(?-i:BA|MA|BS|MS)\b)\S*\s*(?:degree\s*)?(?:in\s+.+)?|degree\s+in\s+.+)",
            _fixed("degree", "have a degree"),
        ),
        (
            rf"^(?:{_BE}\s+)?(?:study|studies|studied|studying|major|majoring|"
            rf"majored)\s+(?:in\s+)?{_O}",
            _fixed("studies_subject", "study"),
        ),
        # skills and languages
        (rf"^(?:speak|speaks|spoke|speaking|can speak)\s+{_O}", _fixed("speaks_language", "speak")),
        (
            rf"^{_BE}\s+(?:fluent|conversational|bilingual)\s+in\s+{_O}",
            _fixed("speaks_language", "fluent in"),
        ),
        (
            # "never learned to drive", "learnt to swim as a kid": a skill (had or not).
            rf"^(?:learnt|learned)\s+(?:how\s+)?to\s+{_O}",
            _fixed("skill", "learned to"),
        ),
        (
            # "I split my time between London and Malaga": a home in each.
            r"^(?:split|splits|divide|divides)\s+(?:my|our|his|her|their)\s+time\s+between\s+"
            r"(?P<obj>(?-i:[A-Z])[\w.' -]*?)\s+and\s+(?P<second>(?-i:[A-Z])[\w.'-]*"
            r"(?:\s+(?-i:[A-Z])[\w.'-]*)*)",
            lambda m, c: [
                _Found("lives_in", "split time between", m.group("obj")),
                _Found("lives_in", "split time between", m.group("second")),
            ],
        ),
        (
            rf"^(?:{_BE}\s+)?(?:learning|learn|learnt|learned|"
            rf"teaching myself)\s+(?:how\s+)?(?:to\s+)?{_O}",
            _fixed("learning", "learning"),
        ),
        (
            rf"^(?:{_BE}\s+)?(?:taking|take|takes|took)\s+(?P<obj>.+?\s+(?:lessons|classes|class|"
            rf"course|courses))\b",
            _fixed("learning", "taking lessons"),
        ),
        (
            rf"^{_BE}\s+(?:pretty\s+|quite\s+|very\s+|really\s+)?(?:good|great|skilled|"
            rf"experienced|proficient|an expert|expert)\s+(?:at|in|with)\s+{_O}",
            _fixed("skill", "good at"),
        ),
        (rf"^(?:know|knows)\s+how\s+to\s+{_O}", _fixed("skill", "know how to")),
        (
            rf"^(?:code|codes|coded|coding|program|programs|programming|write|"
            rf"writes)\s+(?:mostly\s+|mainly\s+)?(?:code\s+)?in\s+{_O}",
            _fixed("prefers_programming_language", "code in"),
        ),
        # relationships
        (
            rf"^(?:{_BE}\s+|got\s+)(?:happily\s+)?(?P<status>married|engaged)\s+to\s+{_O}",
            lambda m, c: [
                _Found(
                    "partner", f"{m.group('status').lower()} to", m.group("obj"), negated=c.negated
                ),
                _Found("relationship_status", "am", m.group("status").lower(), negated=c.negated),
            ],
        ),
        (
            # "dating Luis", "seeing a guy named Ben", "with someone called Sam".
            rf"^(?:{_BE}\s+)?(?:dating|seeing|with)\s+(?:(?:a|an|this)\s+(?:guy|girl|man|woman|"
            rf"boy|lady|person|nurse|doctor|teacher|\w+er)\s+|someone\s+)?(?:(?:named|called)\s+)?"
            rf"(?P<obj>(?-i:[A-Z][\w-]*(?:\s+[A-Z][\w-]*)?))",
            _fixed("partner", "dating"),
        ),
        (
            r"^(?:broke up|split up|separated|got divorced|divorced)\s+(?:with|from)?\s*"
            r"(?P<obj>(?-i:[A-Z][\w-]*(?:\s+[A-Z][\w-]*)?))",
            _fixed("partner", "broke up with", negate=True),
        ),
        (
            # "got married": an event, and the status it leaves.
            r"^got\s+(?P<obj>married|engaged|divorced)\b",
            lambda m, c: [
                _Found("relationship_status", "got", m.group("obj").lower(), negated=c.negated),
                _Found("life_event", "got", f"got {m.group('obj').lower()}", negated=c.negated),
            ],
        ),
        (
            # "expecting a baby", "having our second", "a third on the way": a life event.
            rf"^(?:{_BE}\s+)?(?:expecting|having)\s+(?:a|our|my|the)\s+(?:first\s+|second\s+|"
            rf"third\s+|fourth\s+)?(?:baby|child|kid)\b(?![\s-]+(?:shower|monitor|group|class|"
            rf"sitter|sitting|gym|scan|clothes|food|steps))|^(?:{_BE}\s+)?expecting\s+(?:twins|"
            rf"triplets)\b",
            lambda m, c: [] if c.negated else [_Found("life_event", "expecting", "expecting baby")],
        ),
        (
            # "I'm in a relationship now", "seeing someone": a status.
            r"^(?:am|is|are)\s+(?:now\s+|finally\s+)?(?:in\s+a\s+(?:new\s+|serious\s+)?"
            r"relationship|seeing\s+someone)\b(?!\s+with\b)",
            lambda m, c: [
                _Found("relationship_status", "am", "in a relationship", negated=c.negated)
            ],
        ),
        (
            # "freelancing as a consultant", "contracting as a data engineer": the role.
            rf"^(?:{_BE}\s+)?(?:now\s+)?(?:freelancing|contracting|temping|consulting)\s+as\s+"
            rf"(?:an?\s+)?{_O}",
            _fixed("job_title", "freelance as"),
        ),
        (
            # "I'm single and loving it": a status before "and" / a comma.
            r"^(?:am|is|are)\s+(?P<obj>single|married|divorced|engaged|widowed|separated)\b"
            r"(?=\s*(?:,|and\b|but\b|so\b|for\b|since\b|with\b|$))"
            r"(?:\s+with\s+(?P<kids>(?:a|one|two|three|four|five|\d+)\s+(?:kids?|children|"
            r"child|sons?|daughters?)))?",
            lambda m, c: [
                _Found("relationship_status", "am", m.group("obj").lower(), negated=c.negated),
                *([_Found("has_child", "with", m.group("kids"))] if m.group("kids") else []),
            ],
        ),
        (
            # "is getting married in June": a plan, not yet a status.
            r"^(?:am|is|are)\s+getting\s+(?P<obj>married|engaged|divorced)\b",
            lambda m, c: [_Found("plans_to", "getting", f"get {m.group('obj').lower()}")],
        ),
        (
            # "got my driver's license", "got his black belt": something earned.
            r"^(?:got|earned|passed|received|finally got)\s+(?:my|his|her|their|our)\s+"
            r"(?P<obj>(?:[\w'-]+\s+){0,2}(?:license|licence|permit|green card|citizenship|visa|"
            r"black belt|belt|diploma|certificate|certification|degree|promotion|tenure|"
            r"residency|passport))\b",
            _fixed("achievement", "got"),
        ),
        (
            # "teaches yoga", "teach piano": the teacher of it.
            r"^(?:teach|teaches|taught|am teaching|is teaching)\s+(?P<obj>(?!(?:my|our|his|her|"
            r"them|him|me|us|people|kids|children|the|a|an|at|in|how)\b)[\w-]+(?:\s+grade)?)\s*$",
            lambda m, c: [
                _Found("job_title", "teach", f"{m.group('obj')} teacher", negated=c.negated)
            ],
        ),
        # preferences
        (
            rf"^(?:{_BE}\s+)?(?:not\s+)?(?:a\s+)?(?:big\s+|huge\s+|massive\s+)?fan\s+of\s+{_O}",
            lambda m, c: [_Found("dislikes" if c.negated else "likes", "fan of", m.group("obj"))],
        ),
        (
            rf"^{_BE}\s+(?:really\s+)?(?:into|keen on|passionate about|obsessed with|fond of|"
            rf"interested in|crazy about|hooked on)\s+{_O}",
            _likes,
        ),
        (rf"^{_BE}\s+(?:drawn|attracted)\s+to\s+{_O}", _likes),
        (
            rf"^(?:love|loves|loved|loving|like|likes|liked|enjoy|enjoys|enjoyed|enjoying|adore|"
            rf"adores|adored|dig)\s+{_O}",
            _likes,
        ),
        (
            rf"^(?:hate|hates|hated|dislike|dislikes|disliked|detest|detests|loathe|loathes|"
            rf"can not stand|can not bear)\s+{_O}",
            _fixed("dislikes", "dislike"),
        ),
        (rf"^(?:prefer|prefers|preferred)\s+{_O}", _prefers),
        (
            rf"^(?:use|uses|used|using|{_BE}\s+using)\s+(?P<obj>(?-i:[A-Z]).*)",
            _fixed("uses_tool", "use"),
        ),
        # goals and plans
        (
            rf"^(?:want|wants)\s+to\s+(?!(?:tell|say|ask|let|thank|share|show|know|check|see|"
            rf"make sure|hear|talk|chat|give you|remind)\b){_O}",
            _fixed("goal", "want to"),
        ),
        (
            rf"^(?:hope|hopes|hoping|aim|aims|aiming|{_BE}\s+hoping|{_BE}\s+aiming)\s+to\s+{_O}",
            _fixed("goal", "hope to"),
        ),
        (
            rf"^(?:{_BE}\s+)?(?:training|saving up|saving)\s+for\s+{_O}",
            _fixed("goal", "training for"),
        ),
        (rf"^(?:dream|dreams)\s+(?:of|about)\s+{_O}", _fixed("goal", "dream of")),
        (
            # "planning a trip to Japan": the trip is the plan.
            r"^(?:am\s+|are\s+)?(?:planning|organising|organizing|booking)\s+(?:a|an|our|my)\s+"
            r"(?P<obj>(?:\w+\s+){0,2}(?:trip|visit|move|holiday|vacation|wedding|party|"
            r"honeymoon)\b.*)",
            _fixed("plans_to", "planning"),
        ),
        (
            rf"^(?:{_BE}\s+)?(?P<verb>planning\s+to|plan\s+to|plans\s+to|going\s+to|intend\s+to|"
            rf"intending\s+to|about\s+to|will)\s+{_O}",
            _plan,
        ),
        # possession, family, schedule (via "have")
        (
            rf"^(?P<verb>have|has|had|got|adopted|adopt|rescued|own|owns|owned|bought|buy|"
            rf"purchased|{_BE}\s+getting)\s+{_O}",
            _have,
        ),
        (
            # "I'm driving a Tesla now": a car (a model's capital, or a car noun), not a trip.
            rf"^{_BE}\s+driving\s+(?=(?:an?|my|the)\s+(?-i:[A-Z])|(?:an?\s+|my\s+|the\s+)?"
            rf"(?:[\w-]+\s+){{0,2}}(?:car|van|truck|pickup|hatchback|suv|estate|ev|hybrid|"
            rf"convertible)\b)(?:an?\s+|my\s+|the\s+)?{_O}",
            _fixed("vehicle", "drive"),
        ),
        (rf"^(?:drive|drives|drove|driving)\s+(?:an?\s+|my\s+)?{_O}", _fixed("vehicle", "drive")),
        # events and experiences
        (
            r"^(?:go|goes|went|going)\s+to\s+the\s+gym\b(?P<obj>)",
            lambda m, c: [_Found("exercise", "go to", "gym")],
        ),
        (rf"^(?:met|meet|meeting)\s+(?:up\s+)?(?:with\s+)?{_O}", _fixed("met_person", "met")),
        (
            rf"^(?:ran into|caught up with|hung out with|had lunch with|had dinner with|"
            rf"had coffee with)\s+{_O}",
            _fixed("met_person", "met"),
        ),
        (
            # "I go for a run every morning", "go swimming on Fridays", "go to church every
            # Sunday": a habit, not something done once.
            r"^(?:go|goes)\s+(?:(?P<for>for\s+an?\s+(?:\w+\s+)?(?P<noun>run|swim|walk|jog|hike|"
            r"ride|cycle|bike ride|paddle|row))|(?P<ing>\w+ing)|to\s+(?P<to>\S.*))",
            lambda m, c: _go_habit(m, c),
        ),
        (
            rf"^(?P<verb>went|go|goes|going|been|attended|attend|attends|attending|visited|visit|"
            rf"visiting|traveled|travelled|travel|flew|fly|took a trip|"
            rf"went on a trip)\s+(?P<prep>to\s+|back\s+to\s+|on\s+|for\s+|out\s+for\s+|"
            rf"into\s+)?{_O}",
            _went,
        ),
        (
            rf"^(?P<verb>signed up|sign up|enrolled|enroll|registered|joined|"
            rf"join)\s+(?P<prep>for\s+|in\s+)?{_O}",
            _went,
        ),
        (
            # "moved from Paris to Berlin": lives in Berlin now, came from Paris.
            rf"^(?:moved|emigrated|immigrated|relocated)\s+(?:here\s+|over\s+)?from\s+"
            rf"(?P<origin>[^,;]+?)\s+to\s+{_O}",
            lambda m, c: [
                _Found("from_location", "moved from", m.group("origin"), negated=c.negated),
                _Found("lives_in", "moved to", m.group("obj"), negated=c.negated),
            ],
        ),
        (
            rf"^(?:moved|came|emigrated|immigrated|relocated)\s+(?:here\s+|over\s+|"
            rf"to\s+\w+\s+)?from\s+{_O}",
            _fixed("from_location", "moved from"),
        ),
        (
            # A change whose kind only the old value tells (see `CHANGE_FROM`).
            rf"^(?:switched|switch|switching|changed|change|went|gone|converted|"
            rf"upgraded|downgraded|transferred|moved)\s+(?:us\s+|it\s+|me\s+|everything\s+|"
            rf"(?:my|our)\s+\w+\s+)?(?:over\s+|back\s+)?from\s+"
            rf"(?P<origin>[^,;]+?)\s+(?:to|over to|for)\s+{_O}",
            _change,
        ),
        (
            # "traded in my Prius for a Tesla": the old one retired, the new one held.
            rf"^(?:traded in|traded|swapped|exchanged|replaced)\s+(?:my|our|the)\s+"
            rf"(?P<origin>[^,;]+?)\s+(?:for|with)\s+(?:an?\s+|the\s+)?{_O}",
            _change,
        ),
        (
            r"^(?:retrained|re-trained|trained|qualified|requalified|started out|started working|"
            r"got certified|am training|have qualified|now work|started work)\s+as\s+(?:an?\s+)?"
            r"(?P<obj>.+)",
            _fixed("job_title", "retrained as"),
        ),
        (
            r"^(?:switched|switch|changed|moved over|went over|converted)\s+(?:over\s+)?to\s+"
            r"(?:an?\s+|the\s+)?(?P<obj>(?-i:[A-Z]|i[A-Z])[\w.'&+-]*(?:\s+(?-i:[A-Z0-9])[\w.'&+-]*)*)"
            r"(?=\s*$|\s*[,.!;]|\s+(?:this|last|in|on|a few|two|three|after|earlier|recently)\b)",
            _switched_to,
        ),
        (
            # "I'm at Initech now", "transferred to McGill": a new workplace or school; which
            # one the stored fact it replaces tells (see `CHANGE_TO`).
            r"^(?:am\s+(?:now\s+)?at|transferred\s+to|have transferred\s+to|moved\s+over\s+to)\s+"
            r"(?:the\s+)?(?P<obj>(?-i:[A-Z])[\w.'&-]*(?:\s+(?:of\s+)?(?-i:[A-Z])[\w.'&-]*)*)"
            r"(?=\s*$|\s+(?:this|last|in|on|at the|after|a few|two|three|earlier|since|for)\b)",
            _arrived,
        ),
        (
            # "changed my name to Jo Okafor": the attribute "my name" now has that value.
            rf"^(?:changed|change|changing|updated|update|switched|switch)\s+my\s+"
            rf"(?P<attr>[\w ]+?)\s+to\s+{_O}",
            lambda m, c: _attribute_change(m, c),
        ),
        (
            r"^(?:won|win|wins|finished|completed|complete|passed|achieved|published|ran|"
            r"run)\s+(?:my\s+|our\s+|his\s+|her\s+|the\s+|a\s+)?(?P<obj>(?:first\s+|second\s+|"
            r"third\s+)?.*?(?:marathon|race|tournament|competition|championship|award|prize|exam|"
            r"test|certification|degree|half|triathlon|ironman|medal|paper|book|game|contest|"
            r"match|trophy|title)\b.*)",
            _fixed("achievement", "won"),
        ),
        (rf"^(?:won|win|wins)\s+{_O}", _fixed("achievement", "won")),
        (
            r"^(?:quit|stopped|gave up)\s+(?P<obj>\w+ing\b.*)",
            _stopped,
        ),
        (
            # "decided not to move to Spain": the plan, negated; "decided to sell": a plan.
            rf"^(?:decided|have decided|chose|are going|am going)\s+(?:against\s+)?(?:to\s+)?{_O}",
            lambda m, c: [
                _Found(
                    "plans_to",
                    "decided to",
                    m.group("obj"),
                    negated=c.negated or "against" in m.group(0).lower(),
                )
            ],
        ),
        (r"^(?:retired)\s*$", lambda m, c: [_Found("life_event", "retired", "retired")]),
        (
            r"^(?:had|have had|welcomed)\s+(?:a|our|my)\s+(?:first\s+|second\s+)?baby\b(?P<obj>.*)",
            lambda m, c: [_Found("life_event", "had a baby", "had a baby" + m.group("obj"))],
        ),
        # opinions
        (
            rf"^(?P<verb>think|thinks|believe|believes|feel|feels|reckon|find|"
            rf"found)\s+(?:that\s+)?{_O}",
            _opinion,
        ),
        # habits and exercise
        (
            r"^(?:work out|works out|exercise|exercises|do yoga|does yoga|"
            r"practice yoga)\b(?P<obj>.*)",
            lambda m, c: [
                _Found(
                    "exercise",
                    "exercise",
                    "yoga"
                    if "yoga" in m.group(0).lower()
                    else "working out"
                    if "work" in m.group(0).lower()
                    else "exercise",
                )
            ],
        ),
        (
            rf"^(?P<verb>run|runs|jog|jogs|swim|swims|cycle|cycles|bike|bikes|hike|hikes|surf|"
            rf"surfs|climb|climbs|ski|skis|row|rows)\b\s*{_O}?",
            _exercise,
        ),
        (rf"^(?P<verb>play|plays|played|playing|{_BE}\s+playing)\s+{_O}", _mapped("hobby")),
        (
            # "I collect vintage fountain pens": a collection is a hobby.
            rf"^(?:collect|collects|{_BE}\s+collecting)\s+{_O}",
            lambda m, c: [_Found("hobby", "collect", m.group("obj"), negated=c.negated)],
        ),
        (
            # "did a pottery class on Saturday": one class done, not a subject studied.
            r"^did\s+(?:an?|my\s+first|our|one)\s+(?P<obj>(?:[\w-]+\s+){1,2}(?:class|workshop|"
            r"session))\b",
            lambda m, c: [] if c.negated else [_Found("did_activity", "did", m.group("obj"))],
        ),
        (
            rf"^(?P<verb>do|does|did|doing|{_BE}\s+doing|practice|practices|practicing)\s+{_O}",
            _mapped(None, avoid_kinds=("preference", "identity")),
        ),
        (rf"^(?:{_BE}\s+)?(?P<verb>{_CRAFT_VERBS})\b\s*{_O}?", _craft),
        (
            # "cancelled Plus", "dropped the Canada plan", "ditched Spotify": a held value
            # ended; which fact it is, the Map stage finds among the user's current ones
            # (`CHANGE_FROM`); with none held it says nothing.
            r"^(?:cancell?ed|dropped|ditched|scrapped|abandoned|ended|gave up on|got rid of|"
            r"stopped using|unsubscribed from)\s+(?:the\s+|my\s+|our\s+)?"
            r"(?P<obj>(?-i:[A-Z])[\w.'&+-]*(?:\s+(?-i:[A-Z])[\w.'&+-]*)*)"
            r"(?:\s+(?:plan|idea|subscription|membership|tier|account))?"
            r"(?=\s*$|\s*[,.!;]|\s+(?:this|last|in|on|after|earlier|recently|because|since|"
            r"for|and|altogether|completely)\b)",
            lambda m, c: (
                [] if c.negated else [_Found(None, CHANGE_FROM, m.group("obj"), negated=True)]
            ),
        ),
        # past actions nobody else claimed
        (
            rf"^(?P<verb>\w+ed|made|took|built|wrote|opened|drew|sang|gave|bought|found|began|"
            rf"began|threw|hosted|ran|read|saw|won|caught|grew|taught|held|sold|led|rode|swam|"
            rf"spent|left|brought|had)\s+{_O}",
            _did,
        ),
    )
)
