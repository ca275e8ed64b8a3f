"""Clause rewrites into the word order the rule table reads.

The rule table (`rules.py`) reads "<subject> <verb phrase>" with the fact's object after
the verb. Everyday phrasings often put things elsewhere: the object first ("Green has
always been my favourite colour"), a frequency before the subject ("Every Sunday I call my
mum"), a sentence adverb before it ("Currently I'm working as…"), a judgement on a thing
("Mushrooms are gross", "I find golf boring"), a contrast tail ("…, not me"). Each rewrite
below is one such construction, stated over the clause's structure (word classes and
positions), not over particular sentences; the result is read by the same rules as any
clause.
"""

from __future__ import annotations

import re

_SUBJECT = r"(?:i|i'm|i've|i'd|we|we're|we've|my|our)\b"

# "Currently, I…", "Honestly I…", "Right now I…": a sentence adverb says nothing of the fact.
# A frequency adverb moves after the subject, where the habit rules look for it.
_FREQUENCY_ADVERBS = frozenset(
    "usually normally typically generally regularly often always sometimes occasionally".split()
)
_SENTENCE_ADVERB_RE = re.compile(
    rf"^(?P<adverb>[a-z]+ly|right now|at the moment|at present|for now|these days|nowadays)"
    rf"\s*,?\s+(?=(?P<subject>{_SUBJECT}))",
    re.IGNORECASE,
)
# "Every Sunday I call my grandmother", "Most mornings, I cycle to work": a frequency
# adjunct before the subject is the habit's frequency; it moves to the end of the clause.
_LEADING_FREQUENCY_RE = re.compile(
    rf"^(?P<adjunct>(?:every|each)\s+(?:other\s+|single\s+)?[a-z]+|most\s+(?:days|mornings|"
    rf"evenings|nights|weekends|weeks)|on\s+(?:weekends|weekdays|[a-z]+days)|(?:once|twice|"
    rf"\w+\s+times)\s+a\s+(?:day|week|month|year))\s*,?\s+(?={_SUBJECT})",
    re.IGNORECASE,
)

# "Green has always been my favourite colour", "Pizza is probably my favorite food": the
# object stands before a copula whose complement is "my favourite Y".
_INVERTED_FAVOURITE_RE = re.compile(
    r"^(?P<obj>(?!(?:it|that|this|there|which|what|who|he|she|they|i|we|you|my|our)\b)"
    r"[^,;]+?)\s+(?:is|are|was|'s|has\s+(?:always\s+|long\s+)?been|have\s+(?:always\s+)?been|"
    r"will\s+always\s+be|remains|is\s+still|is\s+always)\s+"
    r"(?:(?:probably|definitely|easily|honestly|still|always|by far|hands down|"
    r"absolutely|undoubtedly|officially)\s+)*(?P<owner>my|our)\s+"
    r"(?P<attr>(?:all-time\s+|absolute\s+|new\s+)?favou?rite\s+[a-z][\w -]*?)"
    r"(?:\s+(?:ever|of all time|by far|hands down|in the world))?\s*$",
    re.IGNORECASE,
)
# "My favourite film is probably Amélie": a hedge on one's own favourite is no doubt
# about the fact.
_FAVOURITE_HEDGE_RE = re.compile(
    r"^(?P<head>(?:my|our)\s+(?:all-time\s+)?favou?rite\s+[\w -]+?\s+(?:is|are))\s+"
    r"(?:probably|maybe|possibly|perhaps)\s+",
    re.IGNORECASE,
)
# "My favourite author has always been Toni Morrison": the copula's aspect adds nothing.
_FAVOURITE_COPULA_RE = re.compile(
    r"^(?P<head>(?:my|our)\s+(?:all-time\s+)?favou?rite\s+[\w -]+?)\s+(?:has\s+(?:always\s+)?"
    r"been|will\s+always\s+be|remains|was\s+always|is\s+still|is\s+always)\s+",
    re.IGNORECASE,
)
# "Sushi is my go-to comfort food", "Crosswords are my guilty pleasure": a liking.
_MY_LIKING_RE = re.compile(
    r"^(?P<obj>(?!(?:it|that|this|there|which|what|who|he|she|they|i|we|you|my|our)\b)"
    r"[^,;]+?)\s+(?:is|are)\s+(?:(?:still|always|definitely)\s+)?(?:my|our)\s+"
    r"(?:(?:go-to|guilty pleasure|jam|happy place|comfort)\b[\w -]*|(?:absolute\s+)?"
    r"(?:weakness|thing|obsession|addiction|religion))"
    r"\s*(?:,.*)?$",
    re.IGNORECASE,
)
# "Django is my framework of choice", "Tea is my drink of choice": a favourite.
_OF_CHOICE_RE = re.compile(
    r"^(?P<obj>(?!(?:it|that|this|there|which|what|who|he|she|they|i|we|you|my|our)\b)"
    r"[^,;]+?)\s+(?:is|are|has\s+(?:always\s+)?been)\s+(?:(?:still|always|definitely|"
    r"probably)\s+)?(?P<owner>my|our)\s+(?P<attr>[a-z][\w -]*?)\s+of\s+choice\b.*$",
    re.IGNORECASE,
)
# "Mushrooms are gross", "Blue cheese is disgusting to me": a thing judged by the speaker.
_DISLIKED_ADJECTIVES = (
    r"gross|disgusting|revolting|nasty|vile|inedible|unbearable|insufferable|awful|"
    r"terrible|the worst|overrated|boring|tedious|dull|annoying|unwatchable"
)
_THING_JUDGED_RE = re.compile(
    r"^(?P<obj>(?!(?:it|that|this|there|which|what|who|he|she|they|i|we|you|my|our|his|her|"
    r"their|the weather|everything|everyone|nothing|life|today|work)\b)[^,;]+?)\s+"
    r"(?:is|are|taste|tastes|smell|smells)\s+(?:(?:so|just|really|absolutely|kind of|kinda|"
    r"pretty|totally|way|seriously)\s+)*(?P<adj>" + _DISLIKED_ADJECTIVES + r")"
    r"(?:\s+to\s+me|\s+in my opinion|\s+if you ask me)?\s*$",
    re.IGNORECASE,
)
# "I find golf boring", "I find knitting relaxing": the speaker's liking of a thing.
_LIKED_ADJECTIVES = (
    r"relaxing|calming|fun|fascinating|soothing|therapeutic|addictive|enjoyable|"
    r"satisfying|meditative|thrilling|exciting"
)
_FIND_RE = re.compile(
    r"^(?P<subject>i|we)\s+(?:really\s+|honestly\s+|actually\s+)?(?:find|found)\s+"
    r"(?P<obj>(?!(?:it|that|this|him|her|them|myself)\b)[^,;]+?)\s+(?:(?:so|really|incredibly|"
    r"super|very|pretty|extremely|quite|kind of|kinda|totally)\s+)*(?P<adj>"
    + _DISLIKED_ADJECTIVES
    + r"|"
    + _LIKED_ADJECTIVES
    + r")\s*$",
    re.IGNORECASE,
)
# Idioms of liking: "can't get enough of X", "have a soft spot for X", "have a thing for X".
_LIKING_IDIOM_RE = re.compile(
    r"^(?P<subject>i|we)\s+(?:(?:can't|cannot|can not)\s+get\s+enough\s+of|"
    r"(?:have|'ve got|have got)\s+(?:a\s+|such\s+a\s+)?(?:soft spot|weakness|thing|"
    r"real thing|sweet tooth)\s+for)\s+(?P<obj>\S.*)$",
    re.IGNORECASE,
)
# "…, not me", "…, not an engineer": a contrast tail denies something else; the clause
# before it is said as is (the tail's "not" must not negate it).
_CONTRAST_TAIL_RE = re.compile(
    r"^(?P<main>.+?\S)\s*,\s*(?:but\s+|and\s+)?not\s+(?:me|us|him|her|them|"
    r"(?:an?\s+|the\s+|my\s+)?[\w'-]+(?:\s+[\w'-]+){0,3})\s*[.!]?$",
    re.IGNORECASE,
)


# Chat drops "I'm" before a predicate adjective: "Allergic to latex, FYI", "Originally from
# Accra, but…", "Based in Leeds".
_SUBJECTLESS_STATE_RE = re.compile(
    r"^(?=(?:allergic|intolerant)\s+to\b|originally\s+from\b|based\s+(?:in|out of)\b|"
    r"married\s+to\b|engaged\s+to\b|fluent\s+in\b)",
    re.IGNORECASE,
)


# Chat drops the subject before a progressive or a perfect too: "Working as a barista in
# Leeds", "Studying law at Durham", "Been a nurse for ten years", "Not in Leeds anymore".
_SUBJECTLESS_PROGRESSIVE_RE = re.compile(
    r"^(?:(?:currently|still|now)\s+)?(?=(?:working\s+(?:as|at|for|in)|studying|living\s+in|"
    r"learning|taking\s+(?:an?\s+)?(?:[\w-]+\s+){0,2}(?:course|class|classes|lessons)|"
    r"training\s+(?:as|for|to)|doing\s+(?:an?\s+)?(?:phd|masters?|degree|"
    r"apprenticeship|internship|residency))\b|not\s+(?:in|at|with)\s+\S.*\b(?:anymore|any more)"
    r"\b|(?:currently\s+)?based\s+(?:in|out of)\b)",
    re.IGNORECASE,
)
_SUBJECTLESS_PERFECT_RE = re.compile(
    r"^(?=been\s+(?:an?\s+|\w+ing\b|at\s+(?-i:[A-Z])|in\s+(?-i:[A-Z])|with\s+(?-i:[A-Z])))",
    re.IGNORECASE,
)


# A diary entry without a verb: "Dentist appointment on Thursday", "Quarterly review with
# my manager on Monday": something the speaker has on that day.
_DIARY_FRAGMENT_RE = re.compile(
    r"^(?!(?:i|we|my|our|you|your|he|she|they|it|this|that|there|the)\b)(?:an?\s+|my\s+|our\s+)?"
    r"(?:[\w'-]+\s+){0,3}(?:appointment|interview|review|meeting|exam|test|check-?up|surgery|"
    r"operation|call|session|ceremony|flight|deadline|viva|presentation|recital|hearing|"
    r"scan|consultation|shift|audition|date)"
    r"(?:\s+(?:with|at|for|about|in|to)\s+[\w' .-]+?)?\s+(?:on\s+\w+day|on\s+(?:the\s+)?\d|"
    r"on\s+\d|next\s+\w+|this\s+\w+|tomorrow|tonight|today|later|at\s+\d|in\s+(?:\d+|a|an|two|"
    r"three)\s+\w+)\b[^,;]*$",
    re.IGNORECASE,
)


def canonical(text: str) -> str:
    """The clause in subject–verb–object order (see the module docstring)."""
    text = _SUBJECTLESS_STATE_RE.sub("I am ", text, count=1)
    # "We're off to Crete next week": going there.
    text = re.sub(
        r"\b(am|are|is)\s+off\s+to\b(?=\s+(?-i:[A-Z]))", r"\1 going to", text, count=1, flags=re.I
    )
    text = _SUBJECTLESS_PROGRESSIVE_RE.sub("I am ", text, count=1)
    text = _SUBJECTLESS_PERFECT_RE.sub("I have ", text, count=1)
    if _DIARY_FRAGMENT_RE.match(text.strip(" .!")):
        text = f"I have {text}"
    adverb = _SENTENCE_ADVERB_RE.match(text)
    if adverb:
        rest = text[adverb.end() :]
        word = adverb.group("adverb").lower()
        if word in _FREQUENCY_ADVERBS:
            subject = re.match(r"^(\S+)\s+", rest)
            text = f"{subject.group(1)} {word} {rest[subject.end() :]}" if subject else rest
        else:
            text = rest
    frequency = _LEADING_FREQUENCY_RE.match(text)
    if frequency:
        text = f"{text[frequency.end() :].rstrip(' .!')} {frequency.group('adjunct')}"
    contrast = _CONTRAST_TAIL_RE.match(text)
    if contrast and not re.search(r"\bnot\b|n't\b", contrast.group("main"), re.IGNORECASE):
        text = contrast.group("main")
    text = _FAVOURITE_HEDGE_RE.sub(lambda m: m.group("head") + " ", text)
    text = _FAVOURITE_COPULA_RE.sub(lambda m: m.group("head") + " is ", text)
    stripped = text.strip(" .!")
    inverted = _INVERTED_FAVOURITE_RE.match(stripped)
    if inverted:
        return f"{inverted.group('owner')} {inverted.group('attr')} is {inverted.group('obj')}"
    choice = _OF_CHOICE_RE.match(stripped)
    if choice:
        return f"{choice.group('owner')} favourite {choice.group('attr')} is {choice.group('obj')}"
    liking = _MY_LIKING_RE.match(stripped)
    if liking:
        return f"I love {liking.group('obj')}"
    judged = _THING_JUDGED_RE.match(stripped)
    if judged:
        return f"I dislike {judged.group('obj')}"
    found = _FIND_RE.match(stripped)
    if found:
        liked = re.fullmatch(_LIKED_ADJECTIVES, found.group("adj"), re.IGNORECASE)
        verb = "love" if liked else "dislike"
        return f"{found.group('subject')} {verb} {found.group('obj')}"
    idiom = _LIKING_IDIOM_RE.match(stripped)
    if idiom:
        return f"{idiom.group('subject')} love {idiom.group('obj')}"
    return text
