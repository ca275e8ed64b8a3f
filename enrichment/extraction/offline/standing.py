"""Standing rules for the assistant's work, read from the sentence's token structure.

`instructions.instruction` knows the short, fixed forms ("always answer me in …",
"call me …", "don't suggest …"). This module reads the general shape of a rule the user
sets for everything the assistant does from now on (issue #15):

- an imperative whose head is a verb of the assistant's work ("use", "put", "tell me",
  "ask me", "include" …) with a marker that makes it standing: "always"/"never"/"from now
  on"/"whenever"/"every time" (strong), or "every"/"any" over what is asked, a generic
  relative clause over the assistant's output ("in any documentation *you write for
  me*"), a leading or trailing "when you …"/"when comparing …" clause, "before
  proposing …" (medium: a deictic "this"/"here"/"today" makes them a one-off task);
- a norm on the assistant's output: "<things> should/must …" where the subject carries
  such a relative clause ("docs you draft should …"), or the norm says "always"/"never"
  of an artefact of the assistant's work ("timestamps in examples should always …");
  "kids should always …" and "coffee should always be hot" are opinions;
- a ban: "no <things> in anything you write";
- a distributive rule: "one command per code block".

A one-off task ("write a story about a nurse in Oslo", "fix this bug"), a question and a
hypothetical ("if you always replied in French, …") are not rules and yield None.
"""

from __future__ import annotations

import re

_TOKEN_RE = re.compile(r"[a-z][a-z'-]*|\d[\w.:-]*|[,;:]")

# The heads of an imperative about the assistant's work. Verbs of encouragement between
# people ("follow your dreams", "stop worrying", "be kind") are left out on purpose.
_WORK_VERBS = frozenset(
    """answer reply respond write draft explain talk speak address format summarise summarize
    translate keep use give tell show list include avoid skip add start begin end sign refer
    remind check ask double-check cite stick limit put mention note flag warn point quote link
    label mark name number spell wrap indent sort order group comment document describe
    assume treat default present split cap recommend suggest prioritise prioritize favour favor
    bold highlight capitalise capitalize round convert switch make leave drop omit attach
    provide offer confirm explain annotate type-annotate""".split()
)
# What the assistant produces, after "you": "any code you write", "docs you draft".
_OUTPUT_VERBS = frozenset(
    """write draft give show suggest recommend propose send produce generate create share
    make compare explain review add use pick choose paste offer provide mention""".split()
)
# "whenever you <verb>" is a marker only when the verb is the assistant's work ("add salt
# whenever you taste it" is cooking advice).
_STRONG = re.compile(
    r"\b(?:always|never|from now on|going forward|in (?:the )?future|do(?:n't| not) ever|"
    r"unless i|at all times|by default|(?:every time|each time|whenever|any ?time)"
    r"(?:\s+you\s+(?P<verb>[a-z']+))?)\b"
)
_QUANTIFIER = re.compile(r"\b(?:every|any|each|anything|everything)\b")
# A generic relative clause over the assistant's output ("anything you write for me"):
# "you" + a verb of producing, after a noun (not "what you suggest", "when you write").
_RELATIVE_RE = re.compile(
    rf"\b(?P<noun>[a-z-]+)\s+you\s+(?:{'|'.join(sorted(_OUTPUT_VERBS))})\b(?!\s+(?:it|this|that)\b)"
)
_NOT_NOUNS = frozenset(
    """what which who how if when whenever before after that so because do did does can could
    would will and or but as than until unless once where why whether thank thanks let""".split()
)


def _relative(text: str) -> bool:
    return any(m.group("noun") not in _NOT_NOUNS for m in _RELATIVE_RE.finditer(text))


# A one-off: the request points at something here and now.
_DEICTIC = re.compile(
    r"\b(?:this|these|those|here|above|below|attached|today|tonight|tomorrow|yesterday|"
    r"right now|for now|this time|just once|again)\b|\bnow\b(?! on)"
)
# "When you get a chance / when you're done": a time for a one-off, not a condition of a rule.
_ONE_OFF_WHEN = re.compile(
    r"^(?:are|'re|were|get|got|have|'ve|find|finish|finished|can|could|will|'ll|see|wake|"
    r"come|return|feel|think|do|did|had)\b"
)
_PEOPLE = frozenset(
    """i we you he she they it there this that these those people kids children everyone
    everybody someone somebody nobody parents teachers students men women guys folks one
    my our his her their your mom mum dad""".split()
)
# What the assistant's work is made of: a norm's subject names one of these ("timestamps in
# examples should always be UTC"), or it is an opinion about the world ("coffee should
# always be hot").
_ARTEFACTS = re.compile(
    r"\b(?:answers?|repl(?:y|ies)|responses?|examples?|code|snippets?|samples?|docs?|"
    r"documentation|comments?|commits?|messages?|emails?|summar(?:y|ies)|tables?|lists?|"
    r"outputs?|tests?|functions?|variables?|names?|dates?|times?|timestamps?|numbers?|units?|"
    r"explanations?|drafts?|texts?|headings?|titles?|links?|citations?|sources?|queries|"
    r"commands?|scripts?|diagrams?|suggestions?|recommendations?|paragraphs?|sentences?|"
    r"lines?|blocks?|bullets?|points?|sections?|files?|steps?|ideas?|options?|signatures?|"
    r"hints?|annotations?|spelling|formatting|dependenc(?:y|ies)|librar(?:y|ies)|tools?|"
    r"refactors?|changes?|quotes?|prices?|figures?|measurements?)\b"
)
_MODAL = re.compile(r"\b(?:should|must|need to|needs to|has to|have to|are to|is to|ought to)\b")
_ENCOURAGEMENT = re.compile(r"\b(?:your|yourself|yourselves|others|family|give up|give in)\b")


def _works(verb: str) -> bool:
    """Whether `verb` is the assistant's work ("suggest", "write"), not the user's life."""
    return verb in _OUTPUT_VERBS or verb in _WORK_VERBS


def one_off(text: str) -> bool:
    """Whether `text` (lower case) points at something here and now ("this log")."""
    return bool(_DEICTIC.search(text))


def _imperative_head(text: str) -> str | None:
    """The verb heading an imperative clause ("always use …" → "use"), or None."""
    tokens = _TOKEN_RE.findall(text)
    i = 0
    while i < len(tokens) and tokens[i] in ("just", "also", "always", "never", "kindly", "ever"):
        i += 1
    if tokens[i : i + 1] in (["don't"], ["dont"]):
        i += 1
    elif tokens[i : i + 2] == ["do", "not"]:
        i += 2
    if i and tokens[i - 1] in ("don't", "dont", "not"):
        while i < len(tokens) and tokens[i] in ("ever", "just"):
            i += 1
    if i < len(tokens) and tokens[i] in _WORK_VERBS:
        return tokens[i]
    return None


def _lead_clause(text: str) -> tuple[str, str, bool] | None:
    """A leading condition and the clause after it: ("when you suggest a dependency",
    "always tell me its licence", strong). None when the sentence has no such lead."""
    lead = re.match(
        r"^(?P<lead>(?P<kind>whenever|when|every time|each time|any ?time|if you ever|"
        r"any|every|all)\b[^,;:]*)[,;:]\s*(?P<rest>.+)$",
        text,
    )
    if not lead:
        return None
    kind, body = lead.group("kind"), lead.group("lead")
    after = body[len(kind) :].strip()
    if kind in ("any", "every", "all"):
        # "Any library you recommend, mention the licence": a topic with a relative clause.
        return (body, lead.group("rest"), False) if _relative(body) else None
    if kind == "if you ever":
        verb = after
    elif after.startswith("you "):
        verb = after[4:]
    elif after.startswith("you'"):
        return None
    else:
        verb = after  # "when comparing approaches"
        if not re.match(r"^[a-z]+ing\b", verb):
            return None
    if _ONE_OFF_WHEN.match(verb):
        return None
    if after.startswith("you ") and not _works(verb.split()[0] if verb else ""):
        return None  # "when you visit Rome, …": the user's life, not the assistant's work
    strong = kind in ("whenever", "every time", "each time", "any time", "anytime", "if you ever")
    return body, lead.group("rest"), strong


def standing_rule(text: str, *, standing: bool = False) -> bool:
    """Whether `text` (lower case, without "please" and sentence punctuation) sets a
    standing rule for the assistant's work; `standing` when a "from now on" was removed."""
    if not text or (
        text.startswith(("if ", "what ", "imagine ", "suppose "))
        and not text.startswith("if you ever ")
    ):
        return False
    # "I want you to always …": the rule is the clause after "you to".
    text = re.sub(r"^(?:i|we)(?:'d| would)?\s+(?:want|like|need)\s+you\s+to\s+", "", text)
    strong = standing or any(
        not (m.group("verb") and not _works(m.group("verb"))) for m in _STRONG.finditer(text)
    )
    oneoff = bool(_DEICTIC.search(text))
    relative = _relative(text)
    # A distributive rule: "one command per code block".
    if re.match(
        r"^(?:one|a single)\s+[a-z-]+(?:\s+[a-z-]+)?\s+per\s+[a-z-]+(?:\s+[a-z-]+)?$", text
    ):
        return not oneoff and bool(_ARTEFACTS.search(text))
    # A ban on something in everything the assistant writes.
    if re.match(r"^no\s+[a-z]", text) and not re.match(r"^no (?:worries|problem|way|idea)\b", text):
        return (relative or bool(_QUANTIFIER.search(text)) or strong) and not oneoff
    main, lead_strong, lead = text, False, _lead_clause(text)
    if lead is not None:
        _, main, lead_strong = lead
    head = _imperative_head(main)
    if head is None:
        return _norm(text, strong=strong, relative=relative, oneoff=oneoff)
    if head == "give" and re.match(r"^(?:\w+\s+)*?give (?:up|in|it a)\b", main):
        return False
    if _ENCOURAGEMENT.search(main):
        return False
    if strong or lead_strong:
        return True
    if oneoff:
        return False
    if lead is not None or relative:
        return True
    # A trailing condition: "explain trade-offs as a table when you compare options".
    trailing = re.search(r"\b(?:when|whenever|before)\s+(?:you\s+)?(?P<verb>[a-z']+)", main)
    if trailing and not _ONE_OFF_WHEN.match(trailing.group("verb")):
        verb = trailing.group("verb")
        if verb in _OUTPUT_VERBS or verb in _WORK_VERBS or verb.endswith("ing"):
            return True
    # "every"/"any" over an artefact of the assistant's work, unless it is a definite thing
    # ("every file in the repo"); "make sure every guest has a drink" is not a rule for it.
    quantified = re.search(r"\b(?:every|any|each)\s+(?P<np>(?:[a-z-]+\s+){0,2}[a-z-]+)", main)
    return (
        quantified is not None
        and bool(_ARTEFACTS.search(quantified.group("np")))
        and not re.search(r"\bthe\b", main)
    )


def _norm(text: str, *, strong: bool, relative: bool, oneoff: bool) -> bool:
    """ "<things> should always …", "docs you draft should …": a norm on the assistant's
    output, not on a person."""
    modal = _MODAL.search(text)
    if not modal or oneoff:
        return False
    subject = _TOKEN_RE.findall(text[: modal.start()])
    if not subject or len(subject) > 8 or subject[0] in _PEOPLE:
        return False
    if any(token in _PEOPLE - {"you"} for token in subject):
        return False
    if _relative(text[: modal.start()]):
        return True
    return strong and bool(_ARTEFACTS.search(text[: modal.start()]))
