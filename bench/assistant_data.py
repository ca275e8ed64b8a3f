"""A development set of long user–assistant conversations with known evidence (issue #14).

Written for this project (no outside material): four projects a user works through with
an assistant over several weeks. Each conversation has sessions days apart; most turns are
topical filler (the user's questions, the assistant's long answers with code and plans,
built deterministically from per-project sentence banks), and some are *evidence*: facts
the user states, instructions and preferences for the assistant, updates and
contradictions, events whose order is asked about, and the assistant's own
recommendations and plans. Questions name the evidence turns they need; the score is
evidence recall (bench/assistant_bench.py).

Question kinds: fact, update (the latest value; evidence is the update), instruction,
preference, ordering (both events), assistant (what the assistant recommended), summary
(several turns across sessions).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bench.locomo_data import Turn


@dataclass(frozen=True)
class DevQuestion:
    question: str
    kind: str
    evidence: list[str]  # turn ids


@dataclass
class DevConversation:
    conversation_id: str
    turns: list[Turn] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)  # turn id -> user | assistant
    questions: list[DevQuestion] = field(default_factory=list)


@dataclass(frozen=True)
class Project:
    key: str
    start: datetime
    user_asks: list[str]  # filler questions
    assistant_bank: list[str]  # filler sentences for long answers
    code: list[str]  # code snippets used in long answers
    # (session, exchange, role) -> evidence text, placed instead of filler
    evidence: dict[tuple[int, int, str], str]
    # questions over evidence keys
    questions: list[tuple[str, str, list[tuple[int, int, str]]]]


SESSIONS = 7
EXCHANGES = 7
U, A = "user", "assistant"

PROJECTS = [
    Project(
        key="station",
        start=datetime(2025, 3, 2, 18, 0, tzinfo=UTC),
        user_asks=[
            "How often should the readings be sampled so the graphs look smooth?",
            "Can you explain how to calibrate humidity readings against a reference?",
            "What is the cleanest way to structure the logging module?",
            "Should the collector run as a systemd service or a cron job?",
            "How do I keep the clock right when the network drops?",
            "What's a good way to test the parsing code without the hardware?",
            "How should I name the measurement columns?",
            "Is it worth adding a watchdog in case the script hangs?",
            "How do I back up the data without stopping the collector?",
            "Can you review how I handle I2C read errors?",
        ],
        assistant_bank=[
            "Sampling faster than the sensor settles only adds noise, so pick an interval "
            "that matches how quickly the air around it changes.",
            "A small ring buffer in memory lets you smooth spikes before anything is written.",
            "Keep the hardware access in one module and the storage in another, so each "
            "can be tested on its own.",
            "Systemd gives you restarts, logs through the journal and a clean dependency "
            "on the network being up.",
            "Timestamps should always be stored in UTC and converted only for display.",
            "If the network is down, the collector should keep writing locally and "
            "forward the backlog once it is back.",
            "A fake device class that returns recorded values makes the parser testable "
            "on any laptop.",
            "Column names with units in them, such as temperature_c, save a lot of "
            "confusion later.",
            "Transient bus errors are common on long wires; retry a read twice with a "
            "short pause before giving up on that sample.",
            "Log the reason a sample was dropped, not only the fact that it was.",
            "Keep configuration in a small TOML file rather than constants in the code.",
            "A health endpoint that reports the age of the last reading makes outages "
            "obvious at a glance.",
            "Back up with the database's own dump tool so the copy is consistent.",
            "Write the first version simply and measure before optimising anything.",
            "Document the wiring with a photo and a pin table in the repository.",
        ],
        code=[
            "```python\ndef read_sample(bus: SMBus, address: int) -> Sample:\n"
            "    raw = bus.read_i2c_block_data(address, 0xF7, 8)\n"
            "    return Sample.from_raw(raw, taken_at=datetime.now(UTC))\n```",
            "```ini\n[Unit]\nDescription=collector\nAfter=network-online.target\n\n"
            "[Service]\nExecStart=/usr/bin/python3 -m collector\nRestart=always\n```",
            "```python\nclass FakeDevice:\n    def __init__(self, samples: list[Sample]) -> None:\n"
            "        self.samples = iter(samples)\n\n    def read(self) -> Sample:\n"
            "        return next(self.samples)\n```",
        ],
        evidence={
            (0, 0, U): "I'm building a weather station on a Raspberry Pi 4 that sits in my "
            "garden shed; the sensor is a BME280 wired over I2C.",
            (0, 1, U): "One thing for all your answers: when you give me code, use Python "
            "with type hints and keep every function under 30 lines.",
            (0, 2, A): "Here is the plan I suggest. Step 1: read the BME280 every 60 "
            "seconds. Step 2: store every reading in SQLite on the Pi. Step 3: push hourly "
            "averages to a small web dashboard. We can revisit storage once data grows.",
            (1, 3, U): "Good news: I finished soldering the sensor header today and the "
            "first readings came through.",
            (2, 1, U): "Update on storage: I switched from SQLite to TimescaleDB on my home "
            "server, because the Pi kept corrupting its SD card.",
            (2, 2, A): "For TimescaleDB I recommend a retention policy that drops raw "
            "readings after 90 days, plus a continuous aggregate that keeps hourly "
            "averages forever.",
            (3, 0, U): "Last weekend I mounted the solar panel on the shed roof, so the "
            "station no longer needs the extension cable.",
            (4, 4, U): "I'd rather use Grafana than build my own dashboard. I really don't "
            "want to write frontend code.",
            (5, 2, U): "The rain gauge arrived: a tipping-bucket model that counts 0.2 mm "
            "of rain per tip.",
        },
        questions=[
            (
                "Which sensor does the weather station use and how is it connected?",
                "fact",
                [(0, 0, U)],
            ),
            ("Where are the sensor readings stored now?", "update", [(2, 1, U)]),
            ("How should code in answers be written for me?", "instruction", [(0, 1, U)]),
            (
                "What did I do first: mount the solar panel or solder the sensor header?",
                "ordering",
                [(1, 3, U), (3, 0, U)],
            ),
            ("What retention policy did you recommend for the readings?", "assistant", [(2, 2, A)]),
            (
                "Summarize the plan for the weather station's software and how it changed.",
                "summary",
                [(0, 2, A), (2, 1, U), (4, 4, U)],
            ),
            ("Which dashboard tool do I want to use?", "preference", [(4, 4, U)]),
            ("How much rain does one tip of the gauge measure?", "fact", [(5, 2, U)]),
            ("What hardware is my garden project running on?", "fact", [(0, 0, U)]),
            ("Why did I give up on keeping the data on the Pi itself?", "update", [(2, 1, U)]),
            ("How is the station powered these days?", "fact", [(3, 0, U)]),
            (
                "Put these in order: first readings, solar panel, rain gauge.",
                "ordering",
                [(1, 3, U), (3, 0, U), (5, 2, U)],
            ),
        ],
    ),
    Project(
        key="migration",
        start=datetime(2025, 5, 12, 9, 30, tzinfo=UTC),
        user_asks=[
            "How should I structure routers so the modules don't import each other?",
            "What's the best way to share the database session between endpoints?",
            "Can you explain dependency overrides for tests?",
            "How do I keep the OpenAPI schema stable while we migrate?",
            "Should validation errors keep the old response shape?",
            "How do I run the old and new apps side by side during the switch?",
            "What's a sensible way to paginate the list endpoints?",
            "How do I handle background jobs that used to run in request threads?",
            "Can you review this error handler?",
            "How should settings be loaded in the new app?",
        ],
        assistant_bank=[
            "Routers should depend on services, and services on repositories, never the "
            "other way round.",
            "A dependency that yields a session and closes it afterwards keeps every "
            "endpoint's transaction explicit.",
            "Dependency overrides let a test swap the real database for a fixture without "
            "touching the endpoint code.",
            "Snapshot the OpenAPI document in the repository and fail the build when it "
            "changes unexpectedly.",
            "Clients rarely read error bodies carefully, but they do parse them, so keep "
            "the old shape until every client has moved.",
            "A reverse proxy can route one path prefix at a time to the new service.",
            "Cursor pagination is stable under inserts, unlike offsets.",
            "Long work belongs in a queue with retries rather than in the request.",
            "An exception handler per error family keeps responses consistent.",
            "Settings objects validated at start-up fail fast on a missing variable.",
            "Type the response models explicitly so the schema documents itself.",
            "Move one endpoint, ship it, watch the error rate, then move the next.",
            "Contract tests against recorded responses catch subtle differences early.",
            "Keep the old app's URL layout so bookmarks and clients keep working.",
            "Log a request id on both apps so a request can be traced across the switch.",
        ],
        code=[
            "```python\nasync def get_session() -> AsyncIterator[AsyncSession]:\n"
            "    async with SessionLocal() as session:\n        yield session\n```",
            "```python\n@router.get('/orders', response_model=Page[OrderOut])\n"
            "async def list_orders(cursor: str | None = None) -> Page[OrderOut]:\n"
            "    return await orders.page(cursor=cursor, limit=50)\n```",
            "```python\napp.dependency_overrides[get_session] = lambda: test_session\n```",
        ],
        evidence={
            (0, 0, U): "We're moving our order service from Flask to FastAPI. It has 42 "
            "endpoints and runs on Python 3.11 with PostgreSQL 15.",
            (0, 3, U): "Our launch deadline for the new service is April 30.",
            (1, 1, A): "My recommendation for the cut-over: put Traefik in front of both "
            "apps and move endpoints in four waves, read-only endpoints first, payments "
            "last.",
            (1, 5, U): "Please keep your answers short: bullet points, no more than five "
            "of them, unless I ask for detail.",
            (2, 0, U): "The first wave went live this morning; all the read-only endpoints "
            "now run on FastAPI.",
            (3, 2, U): "Change of plan: management pushed the launch deadline to June 15 "
            "because of the payments audit.",
            (4, 1, U): "Correction to what I told you earlier: we are on PostgreSQL 16, "
            "not 15. Ops upgraded it in the spring.",
            (4, 3, U): "The payments endpoints finally moved over yesterday, after the "
            "audit signed off.",
            (5, 4, U): "I prefer pytest fixtures over unittest classes for all new tests.",
        },
        questions=[
            ("How many endpoints does the order service have?", "fact", [(0, 0, U)]),
            ("What is the launch deadline for the new service?", "update", [(3, 2, U)]),
            ("Which PostgreSQL version do we run?", "update", [(4, 1, U)]),
            ("How do I want your answers formatted?", "instruction", [(1, 5, U)]),
            (
                "Which moved to FastAPI first, the read-only endpoints or the payments endpoints?",
                "ordering",
                [(2, 0, U), (4, 3, U)],
            ),
            (
                "What cut-over approach did you recommend for the migration?",
                "assistant",
                [(1, 1, A)],
            ),
            (
                "Summarize how the migration went from the plan to the payments move.",
                "summary",
                [(1, 1, A), (2, 0, U), (4, 3, U)],
            ),
            ("What style of tests do I prefer?", "preference", [(5, 4, U)]),
            ("Which database server are we on?", "update", [(4, 1, U)]),
            ("Why was the go-live date moved?", "update", [(3, 2, U)]),
            ("What proxy did you suggest putting in front of both apps?", "assistant", [(1, 1, A)]),
            (
                "In what order did these happen: first wave live, deadline moved, payments moved?",
                "ordering",
                [(2, 0, U), (3, 2, U), (4, 3, U)],
            ),
        ],
    ),
    Project(
        key="marathon",
        start=datetime(2025, 1, 6, 6, 45, tzinfo=UTC),
        user_asks=[
            "How should I pace my long runs?",
            "What should I eat the evening before a hard session?",
            "How many rest days do I need per week?",
            "Is strength training worth it for a runner?",
            "How do I know if I'm overtraining?",
            "What should I do when it's icy outside?",
            "How do I break in new shoes?",
            "Can you explain tempo runs versus intervals?",
            "How should I taper before the race?",
            "What's a good warm-up routine?",
        ],
        assistant_bank=[
            "Most of your weekly distance should feel easy enough to hold a conversation.",
            "Long runs build endurance when they are slow; racing them defeats the point.",
            "A simple carbohydrate-rich dinner you have eaten before is the safest choice.",
            "Rest days are when adaptation happens, so treat them as part of the plan.",
            "Two short strength sessions a week reduce injury risk for most runners.",
            "A rising resting heart rate and poor sleep are early signs of overreaching.",
            "On ice, a treadmill session or a cross-training day beats a fall.",
            "Alternate new shoes with old ones for a couple of weeks.",
            "Tempo runs are sustained and comfortably hard; intervals are shorter and "
            "faster with recovery between.",
            "Cut volume by about a third in each of the last two weeks before a race.",
            "Start every session with ten minutes of easy jogging and a few drills.",
            "Increase weekly distance gradually, roughly ten percent at most.",
            "Write down how each run felt; patterns show up after a few weeks.",
            "Hydrate steadily through the day rather than all at once before running.",
            "Sleep is the cheapest performance enhancer there is.",
        ],
        code=[
            "Week plan:\n- Monday: rest\n- Tuesday: intervals 6 x 800 m\n- Wednesday: easy "
            "8 km\n- Thursday: tempo 5 km\n- Friday: rest\n- Saturday: easy 6 km\n- Sunday: "
            "long run",
            "Pace table:\n| run | pace per km |\n|---|---|\n| easy | 6:10 |\n| tempo | 5:05 "
            "|\n| interval | 4:40 |",
        ],
        evidence={
            (0, 0, U): "I've signed up for the Rotterdam marathon; it will be my first "
            "marathon, and my best half marathon so far is 1:52.",
            (0, 2, U): "Please never schedule runs before 7 am for me, I have a toddler "
            "and mornings are chaos.",
            (0, 4, A): "Here is your 16-week plan: four runs a week, one long run on "
            "Sundays building from 14 km to 32 km, one tempo run on Thursdays, one "
            "interval session on Tuesdays, and a three-week taper.",
            (2, 1, U): "I strained my left calf on Tuesday's interval session.",
            (2, 3, A): "For the calf, I suggest replacing running with cycling for ten "
            "days, then returning with easy runs only for a week before any intervals.",
            (3, 2, U): "I bought new shoes, the Saucony Endorphin Speed, after the calf "
            "strain healed.",
            (4, 0, U): "I ran my first 30 km long run today without stopping.",
            (5, 1, U): "I'd rather do my strength work at home with kettlebells than go to a gym.",
            (5, 5, U): "My goal time has changed: I'm now aiming for 3:59 instead of 4:15.",
        },
        questions=[
            ("What is my best half marathon time?", "fact", [(0, 0, U)]),
            ("When must runs never be scheduled for me?", "instruction", [(0, 2, U)]),
            ("What is my marathon goal time?", "update", [(5, 5, U)]),
            (
                "Which came first, the calf strain or the first 30 km long run?",
                "ordering",
                [(2, 1, U), (4, 0, U)],
            ),
            ("What did you suggest I do about the calf strain?", "assistant", [(2, 3, A)]),
            (
                "Summarize my training plan and the setbacks along the way.",
                "summary",
                [(0, 4, A), (2, 1, U), (4, 0, U)],
            ),
            ("Where do I prefer to do strength training?", "preference", [(5, 1, U)]),
            ("Which shoes did I buy and when?", "fact", [(3, 2, U)]),
            ("Is this my first race over 42 km?", "fact", [(0, 0, U)]),
            ("Why can't I train early in the day?", "instruction", [(0, 2, U)]),
            ("What injury did I pick up, and in which session?", "fact", [(2, 1, U)]),
            (
                "Put these in order: calf strain, new shoes, 30 km run, new goal time.",
                "ordering",
                [(2, 1, U), (3, 2, U), (4, 0, U), (5, 5, U)],
            ),
        ],
    ),
    Project(
        key="kitchen",
        start=datetime(2025, 8, 3, 19, 15, tzinfo=UTC),
        user_asks=[
            "What order do trades usually work in for a kitchen?",
            "How much contingency should a renovation budget keep?",
            "What should I ask a contractor before signing?",
            "Is quartz or laminate better for a worktop on a budget?",
            "How do I plan the lighting?",
            "What are common mistakes with kitchen layouts?",
            "How long does tiling usually take?",
            "Should the appliances be bought before the cabinets?",
            "How do I protect the floor during the work?",
            "What permits might I need?",
        ],
        assistant_bank=[
            "Plumbing and electrical first fix come before plastering, then cabinets, "
            "then worktops and second fix.",
            "A contingency of ten to fifteen percent covers most surprises behind old walls.",
            "Ask for references, insurance details and a written schedule of payments.",
            "Laminate has improved a lot; quartz costs more but resists heat and scratches.",
            "Layer the lighting: ceiling lights for the room, under-cabinet strips for "
            "work surfaces.",
            "Leave enough landing space beside the hob and the sink.",
            "Tiling a splashback is usually a day or two, plus grouting.",
            "Appliance dimensions decide cabinet sizes, so choose them early.",
            "Hardboard taped over the floor saves it from dropped tools.",
            "Structural changes or new gas lines usually need approval and certificates.",
            "Keep a single document with every quote, date and decision.",
            "Order long-lead items such as worktops as soon as measurements are final.",
            "Plan sockets for small appliances where they will actually sit.",
            "A temporary kitchen in another room makes the weeks of work bearable.",
            "Photograph the walls before they are closed to remember where pipes run.",
        ],
        code=[
            "Budget sheet:\n| item | estimate |\n|---|---|\n| cabinets | 6,500 |\n| worktop | "
            "2,200 |\n| appliances | 3,800 |\n| labour | 7,000 |",
            "Schedule:\n1. strip out\n2. first fix\n3. plaster\n4. cabinets\n5. worktops\n"
            "6. tiling\n7. second fix",
        ],
        evidence={
            (0, 0, U): "We're renovating our kitchen; the total budget is 24,000 euros, "
            "including appliances.",
            (0, 3, U): "The contractor we picked is Marta Kowalczyk's firm, Kowalczyk Bouw.",
            (1, 2, A): "I recommend an induction hob rather than gas, since you're "
            "rewiring anyway and it avoids a new gas certificate.",
            (1, 4, U): "Whenever you estimate costs for me, give them in euros and include VAT.",
            (2, 2, U): "The old cabinets were stripped out on Monday and the electrician "
            "starts first fix tomorrow.",
            (3, 3, U): "Bad news: they found rotten joists under the floor, so the budget "
            "is now 27,500 euros.",
            (4, 1, U): "The quartz worktop was installed today; it looks great.",
            (4, 5, U): "I prefer matte black taps and handles over brushed steel.",
            (5, 3, U): "The splashback tiling finished this afternoon, after the worktop went in.",
        },
        questions=[
            ("What is the kitchen renovation budget?", "update", [(3, 3, U)]),
            ("Which contractor is doing the kitchen?", "fact", [(0, 3, U)]),
            ("How should cost estimates be given to me?", "instruction", [(1, 4, U)]),
            ("What kind of hob did you recommend and why?", "assistant", [(1, 2, A)]),
            (
                "Which happened first: the worktop installation or the cabinet strip-out?",
                "ordering",
                [(2, 2, U), (4, 1, U)],
            ),
            (
                "Summarize the progress of the kitchen work so far.",
                "summary",
                [(2, 2, U), (4, 1, U), (5, 3, U)],
            ),
            ("What finish do I prefer for taps and handles?", "preference", [(4, 5, U)]),
            ("Why did the budget change?", "update", [(3, 3, U)]),
            ("Who is the builder we hired?", "fact", [(0, 3, U)]),
            ("What did they find under the floor?", "update", [(3, 3, U)]),
            (
                "Which currency and tax rules apply when you price things for me?",
                "instruction",
                [(1, 4, U)],
            ),
            (
                "Put these in order: strip-out, worktop, splashback tiling.",
                "ordering",
                [(2, 2, U), (4, 1, U), (5, 3, U)],
            ),
        ],
    ),
]


def _assistant_filler(rng: random.Random, project: Project, ask: str) -> str:
    """A long answer: an opening, 8-16 sentences of advice, sometimes code or a table."""
    count = rng.randint(8, 16)
    body = rng.sample(project.assistant_bank, min(count, len(project.assistant_bank)))
    parts = [f"Good question. {ask.rstrip('?')}: here is how I would think about it."]
    parts += body[: count // 2]
    if rng.random() < 0.5:
        parts.append("For example:\n\n" + rng.choice(project.code) + "\n")
    parts += body[count // 2 :]
    parts.append("Let me know if you want me to go deeper into any of these points.")
    return " ".join(parts)


def build(seed: int = 14) -> list[DevConversation]:
    conversations = []
    for project in PROJECTS:
        rng = random.Random(f"{seed}:{project.key}")
        conv = DevConversation(conversation_id=f"dev-{project.key}")
        ids: dict[tuple[int, int, str], str] = {}
        for session in range(SESSIONS):
            start = project.start + timedelta(days=5 * session + rng.randint(0, 2))
            for exchange in range(EXCHANGES):
                ask = rng.choice(project.user_asks)
                for offset, role in enumerate((U, A)):
                    key = (session, exchange, role)
                    text = project.evidence.get(key)
                    if text is None:
                        text = ask if role == U else _assistant_filler(rng, project, ask)
                    turn_id = f"{project.key}:{session}:{exchange}:{role[0]}"
                    ids[key] = turn_id
                    moment = start + timedelta(minutes=4 * exchange + 2 * offset)
                    conv.turns.append(
                        Turn(
                            dia_id=turn_id,
                            session=session + 1,
                            speaker=role,
                            text=text,
                            blip_caption=None,
                            time=moment,
                            content=text,
                        )
                    )
                    conv.roles[turn_id] = role
        conv.questions = [
            DevQuestion(question=q, kind=kind, evidence=[ids[k] for k in keys])
            for q, kind, keys in project.questions
        ]
        conversations.append(conv)
    return conversations
