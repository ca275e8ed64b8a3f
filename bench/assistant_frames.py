"""Evidence frames of the long user–assistant development set (bench/assistant_long.py).

A frame is one thing a question can be asked about: how it is said (several phrasings,
so each conversation words it differently), the values it can take (drawn per
conversation) and how it is asked (phrased apart from the statement: a real user asks
"where does staging live?", not "staging runs on"). `{c}` is a component of the
conversation's project, `{v}` the value, `{old}` / `{new}` the values of an update.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    key: str
    values: tuple[str, ...]
    say: tuple[str, ...]
    ask: tuple[str, ...]
    by: str = "user"  # who states it: user, or assistant (a recommendation, a plan)


@dataclass(frozen=True)
class Update:
    key: str
    values: tuple[str, ...]
    say: tuple[str, ...]  # the first statement
    change: tuple[str, ...]  # later statements of a new value
    ask: tuple[str, ...]


@dataclass(frozen=True)
class Contradiction:
    key: str
    values: tuple[str, ...]
    say: tuple[str, ...]  # two statements are drawn, with different values
    ask: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    say: str  # how the user reports it
    name: str  # how a question refers to it


@dataclass(frozen=True)
class Story:
    """A session spent on one problem: the report, the diagnosis, the fix, the outcome."""

    name: str  # "the memory leak in the {c}"
    problem: str
    diagnosis: str
    fix: str
    outcome: str


@dataclass(frozen=True)
class Guidance:
    """An instruction or a preference: how the user says it, a task it bears on, and a
    direct question about it."""

    say: tuple[str, ...]
    task: str
    direct: str


FACTS = (
    Fact(
        "staging",
        (
            "a Hetzner CX32 in Falkenstein",
            "a DigitalOcean droplet in Amsterdam",
            "an OVH machine in Gravelines",
            "a second-hand Dell R720 in my garage",
            "a Linode instance in Frankfurt",
        ),
        (
            "Staging runs on {v}, nothing fancy.",
            "For context, the staging environment is {v}.",
        ),
        ("Where is the staging environment hosted?", "What machine does staging live on?"),
    ),
    Fact(
        "database",
        ("PostgreSQL 15.4", "PostgreSQL 13.11", "MySQL 8.0.35", "MariaDB 10.11", "SQLite 3.45"),
        ("We're on {v} in production.", "Production uses {v}, managed by me."),
        ("Which database and version does production use?",),
    ),
    Fact(
        "ops_person",
        ("Tomasz", "Ifeoma", "Rasmus", "Lucía", "Dev"),
        (
            "{v} is our only ops person, so anything infra goes through them.",
            "If it touches servers, {v} has to sign off; they run operations.",
        ),
        ("Who handles operations and infrastructure on the team?",),
    ),
    Fact(
        "designer",
        ("Marisol", "Jun", "Oksana", "Kwame", "Hedda"),
        (
            "{v} does all our design work, and they hate modal dialogs.",
            "Our designer, {v}, sent new mockups this morning.",
        ),
        ("Who is the designer on the project?",),
    ),
    Fact(
        "demo",
        ("March 14th", "the 2nd of April", "May 21st", "June 9th", "the 30th of January"),
        (
            "The client demo is on {v}, so that's the hard date.",
            "We have to show a working build at the demo on {v}.",
        ),
        ("When is the demo for the client scheduled?",),
    ),
    Fact(
        "ci",
        ("GitHub Actions", "GitLab CI", "Buildkite", "Woodpecker CI", "Jenkins"),
        (
            "Our CI is {v} with two self-hosted runners.",
            "Everything builds on {v}; I set it up last year.",
        ),
        ("What CI system does the project build on?",),
    ),
    Fact(
        "laptop",
        (
            "a 14-inch MacBook Pro with an M3",
            "a ThinkPad X1 Carbon running Fedora",
            "a Framework 13 with Arch",
            "a Dell XPS 15 on Ubuntu 22.04",
            "a Mac mini M2 with two monitors",
        ),
        ("I develop on {v}, for what it's worth.", "My machine is {v}, if that matters."),
        ("What computer does the user develop on?",),
    ),
    Fact(
        "city",
        ("Lisbon", "Wellington", "Montréal", "Kraków", "Osaka"),
        (
            "I'm in {v}, so I'm usually online in the evening your time, I guess.",
            "Working from {v} this year.",
        ),
        ("Which city is the user based in?",),
    ),
    Fact(
        "slo",
        ("99.5 %", "99.9 %", "99.95 %", "99 %"),
        (
            "The SLA we signed promises {v} monthly availability.",
            "Contractually we owe them {v} uptime per month.",
        ),
        ("What availability target did they commit to in the contract?",),
    ),
    Fact(
        "backups",
        (
            "nightly at 02:30 to Backblaze B2",
            "every six hours to an S3 bucket in eu-west-1",
            "weekly to a Hetzner storage box",
            "hourly snapshots kept for two days",
        ),
        (
            "Backups currently run {v}.",
            "Right now the backup job goes {v}.",
        ),
        ("How and when are backups taken?",),
    ),
    Fact(
        "client",
        (
            "a chain of four bakeries",
            "a group of veterinary clinics",
            "a municipal library network",
            "a small freight broker",
            "a family-run dental practice",
        ),
        (
            "The paying customer is {v}, they found us through a friend.",
            "This is for {v}, which is why the budget is tight.",
        ),
        ("Who is the customer paying for this work?",),
    ),
    Fact(
        "standup",
        ("9:15 every weekday", "Tuesdays and Thursdays at 16:00", "Monday mornings at 10"),
        ("Our standup is {v}.", "We sync as a team {v}."),
        ("When does the team meet for standup?",),
    ),
    Fact(
        "monitoring",
        ("Grafana with Prometheus", "Datadog", "Sentry plus Uptime Kuma", "New Relic"),
        ("Monitoring is {v}.", "We watch production with {v}."),
        ("What do they use for monitoring production?",),
    ),
    Fact(
        "license",
        ("AGPL-3.0", "MIT", "Apache-2.0", "proprietary, no open-source release"),
        (
            "The code is licensed {v}; the client insisted.",
            "Licence is {v}, decided with the client.",
        ),
        ("Under what licence is the code released?",),
    ),
    # Recommendations and plans stated by the assistant.
    Fact(
        "pool",
        ("8", "12", "20", "30"),
        (
            "Given the traffic you described, I'd start with a pool of {v} connections per "
            "worker and watch the wait time before raising it.",
            "My recommendation is {v} pooled connections per process; more than that "
            "mostly adds contention.",
        ),
        ("What connection pool size did you recommend?",),
        by="assistant",
    ),
    Fact(
        "ttl",
        ("90 seconds", "5 minutes", "15 minutes", "one hour"),
        (
            "For the {c} I would set the cache TTL to {v}; shorter buys little and longer "
            "risks stale reads.",
            "Cache entries for the {c} should expire after {v}, that's the sweet spot here.",
        ),
        ("How long did you say cache entries for the {c} should live?",),
        by="assistant",
    ),
    Fact(
        "retries",
        ("3", "5", "4", "6"),
        (
            "Retry calls to the {c} up to {v} times with exponential backoff starting at "
            "200 ms, with jitter, and then give up loudly.",
            "I suggest {v} attempts at most for the {c}, doubling the delay each time.",
        ),
        ("What retry policy did you propose for the {c}?",),
        by="assistant",
    ),
    Fact(
        "index",
        (
            "(customer_id, created_at)",
            "(site_id, observed_at)",
            "(status, updated_at)",
            "(tenant_id, kind, id)",
        ),
        (
            "The query plan shows a sequential scan; a composite index on {v} should turn "
            "it into an index scan.",
            "Add an index on {v} and the slow query should drop to a few milliseconds.",
        ),
        ("Which index did you suggest for the slow query?",),
        by="assistant",
    ),
    Fact(
        "rollout",
        (
            "5 %, 25 %, then 100 %",
            "one internal tenant, then 10 %, then everyone",
            "10 % for a day, then all",
        ),
        (
            "For the rollout of the {c} I'd go in stages: {v}, checking the error rate at "
            "each step.",
            "Plan for the {c} release: {v}, and a rollback switch ready before the first stage.",
        ),
        ("What rollout plan did you suggest for the {c}?",),
        by="assistant",
    ),
    Fact(
        "queue",
        ("Redis Streams", "RabbitMQ", "a Postgres table with SKIP LOCKED", "NATS JetStream"),
        (
            "For the job queue I recommend {v}; it fits what you already run and needs no "
            "new service to babysit.",
            "Between the options, {v} is my pick for the background jobs.",
        ),
        ("Which queueing technology did you recommend for background jobs?",),
        by="assistant",
    ),
)

UPDATES = (
    Update(
        "deploy_day",
        ("Friday", "Tuesday", "Thursday", "Wednesday", "Monday"),
        ("We deploy on {v}s, usually after lunch.", "Deploys happen every {v}."),
        (
            "Heads-up: after the last incident we moved deploys to {new}s.",
            "Small process change: deploy day is {new} from now on.",
        ),
        ("Which day of the week are deploys?",),
    ),
    Update(
        "region",
        ("eu-central-1", "us-east-2", "eu-west-3", "ap-southeast-2", "ca-central-1"),
        ("All of production sits in {v}.", "Everything runs in the {v} region."),
        (
            "We finished moving production to {new} last night, latency is better already.",
            "Production is in {new} now, the old region is being drained.",
        ),
        ("Which region does production run in?",),
    ),
    Update(
        "team_size",
        ("three", "five", "six", "two", "four"),
        ("There are {v} of us working on this.", "The team is {v} people including me."),
        (
            "Two people joined this week, so we're {new} now.",
            "Team update: we are {new} people as of Monday.",
        ),
        ("How many people are on the team?",),
    ),
    Update(
        "rate_limit",
        (
            "100 requests per minute",
            "600 requests per minute",
            "50 requests per second",
            "20 requests per second",
        ),
        (
            "The partner API allows {v} per key.",
            "Their API caps us at {v}.",
        ),
        (
            "Good news, they raised our limit: it's {new} now.",
            "The partner changed our quota to {new} starting today.",
        ),
        ("What is the partner API's rate limit for us?",),
    ),
    Update(
        "launch",
        (
            "September 1st",
            "October 15th",
            "November 3rd",
            "the first week of December",
            "August 20th",
        ),
        ("Launch is planned for {v}.", "We're aiming to go live on {v}."),
        (
            "Launch slipped: the new date is {new}.",
            "We agreed with the client to move go-live to {new}.",
        ),
        ("When is the launch date?",),
    ),
    Update(
        "retention",
        ("14 days", "30 days", "90 days", "one year", "7 days"),
        ("Logs are kept for {v}.", "Log retention is {v} right now."),
        (
            "Compliance asked us to keep logs for {new} instead.",
            "We changed log retention to {new} this morning.",
        ),
        ("How long are logs retained?",),
    ),
    Update(
        "reviewer",
        ("Anneke", "Sipho", "Chen", "Bruno", "Farah"),
        ("{v} reviews all my pull requests.", "Code review is done by {v}."),
        (
            "{new} is taking over code review from now on.",
            "Reviews go to {new} now, the previous reviewer moved teams.",
        ),
        ("Who reviews the user's pull requests?",),
    ),
    Update(
        "upload_limit",
        ("10 MB", "25 MB", "50 MB", "100 MB", "5 MB"),
        ("Uploads are capped at {v}.", "Maximum file size is {v} for now."),
        (
            "We bumped the upload limit to {new} because of complaints.",
            "The file size cap is {new} now.",
        ),
        ("What is the maximum upload size?",),
    ),
    Update(
        "branching",
        (
            "trunk-based development",
            "git-flow with release branches",
            "one long-lived develop branch",
        ),
        ("We use {v}.", "Branching model: {v}."),
        (
            "We switched to {new}, the old model was slowing us down.",
            "From this sprint on it's {new}.",
        ),
        ("What branching model does the team follow?",),
    ),
    Update(
        "budget_hours",
        ("120 hours", "80 hours", "200 hours", "60 hours", "150 hours"),
        ("The client approved {v} for this phase.", "We have {v} budgeted for the phase."),
        (
            "The client approved more time: the phase is {new} in total now.",
            "Budget changed, we now have {new} for this phase.",
        ),
        ("How many hours are budgeted for the current phase?",),
    ),
)

CONTRADICTIONS = (
    Contradiction(
        "users",
        ("about 2,000", "roughly 12,000", "around 400", "nearly 50,000"),
        (
            "We have {v} active users, most of them on mobile.",
            "With {v} active users, I doubt load is the problem.",
        ),
        ("How many active users did the user say they have?",),
    ),
    Contradiction(
        "db_size",
        ("40 GB", "400 GB", "4 GB", "1.2 TB"),
        ("The production database is about {v}.", "Restoring our {v} database takes a while."),
        ("How big is the production database?",),
    ),
    Contradiction(
        "approver",
        (
            "the CTO",
            "the client's IT manager",
            "my co-founder",
            "nobody, I approve my own releases",
        ),
        (
            "Releases have to be approved by {v}.",
            "Release approval is {v}, which keeps things fast.",
        ),
        ("Who approves releases?",),
    ),
    Contradiction(
        "nightly",
        ("twenty minutes", "three hours", "about forty minutes", "under five minutes"),
        (
            "The nightly job takes {v} end to end.",
            "Since the nightly run only takes {v}, we could run it twice a day.",
        ),
        ("How long does the nightly job take?",),
    ),
    Contradiction(
        "tests",
        ("about 300", "over 2,000", "maybe 60", "around 900"),
        ("The suite has {v} tests.", "Running all {v} of our tests takes forever."),
        ("How many tests are in the suite?",),
    ),
    Contradiction(
        "stores",
        ("four", "eleven", "two", "seven"),
        (
            "The client operates {v} locations.",
            "They want the report split by location, all {v} of them.",
        ),
        ("How many locations does the client operate?",),
    ),
    Contradiction(
        "coverage",
        ("85 %", "40 %", "60 %", "95 %"),
        ("Test coverage is around {v}.", "With coverage at {v} I'm not too worried."),
        ("What test coverage did the user report?",),
    ),
)

EVENTS = (
    Event(
        "I finished migrating the {c} to the new schema yesterday.",
        "migrating the {c} to the new schema",
    ),
    Event(
        "The CI pipeline is finally green on every branch, took me all weekend.", "getting CI green"
    ),
    Event("We got our first paying customer today!", "landing the first paying customer"),
    Event(
        "I rewrote the auth layer over the last two days, all tests pass.",
        "rewriting the auth layer",
    ),
    Event("Load test done: k6 at 500 virtual users, nothing fell over.", "running the load test"),
    Event(
        "The security review came back clean apart from two minor findings.", "the security review"
    ),
    Event("Dark mode shipped this morning.", "shipping dark mode"),
    Event(
        "I upgraded all the dependencies, including the major versions.",
        "the big dependency upgrade",
    ),
    Event("We onboarded the new contractor this week.", "onboarding the contractor"),
    Event(
        "The {c} is now deployed behind a feature flag.", "putting the {c} behind a feature flag"
    ),
    Event(
        "I moved the docs to their own site over the weekend.", "moving the docs to their own site"
    ),
    Event("The beta went out to the first twenty testers.", "starting the beta with testers"),
    Event(
        "We had our first real outage last night, the {c} ran out of disk.",
        "the outage when the {c} ran out of disk",
    ),
    Event("I finished the accessibility pass on the main screens.", "the accessibility pass"),
)

STORIES = (
    Story(
        "the memory leak in the {c}",
        "The {c} keeps growing in memory until it gets OOM-killed, roughly every six hours. "
        "Here's the last run:",
        "Looking at the pattern, the leak is the per-request cache in the {c}: it is a "
        "module-level dict keyed by request id and nothing ever evicts entries, so memory "
        "grows linearly with traffic.",
        "Replace the dict with a bounded LRU of 1,000 entries and clear it at the end of "
        "each job; here is the change:",
        "Deployed the LRU fix for the {c} this morning. Memory has been flat at about "
        "180 MB for eight hours, no OOM kills.",
    ),
    Story(
        "the slow report query",
        "The monthly report takes 40 seconds to load now, it used to be instant. EXPLAIN "
        "output below:",
        "The plan shows the report query doing a nested loop over every row because the "
        "date filter is wrapped in a function, so the index on the timestamp is never "
        "used.",
        "Rewrite the filter as a plain range on the timestamp column so the planner can "
        "use the index:",
        "With the range filter the report loads in 300 ms. Thanks, the client noticed immediately.",
    ),
    Story(
        "the flaky end-to-end test",
        "One end-to-end test fails about one run in five in CI and never locally. Log from "
        "the last failure:",
        "The failure is a race: the test clicks save before the {c} has finished loading "
        "the form state, and CI machines are slower, so the click lands on a stale form.",
        "Wait for the explicit ready signal from the {c} instead of a fixed sleep; for example:",
        "Fifty CI runs in a row green since the ready-signal change. The flaky test is fixed.",
    ),
    Story(
        "the expired TLS certificate",
        "Users are getting certificate errors on the API since this morning. curl output:",
        "The certificate expired because renewal ran on the old host only; after the move "
        "nobody re-enabled the renewal timer on the new one.",
        "Re-issue the certificate now and put the renewal on the new host with an alert "
        "fourteen days before expiry:",
        "New certificate is live, and the expiry alert fired correctly in a dry run. "
        "Incident closed.",
    ),
    Story(
        "the timezone bug in scheduled jobs",
        "Scheduled jobs in the {c} ran an hour early after the clocks changed. Here are the "
        "timestamps:",
        "The scheduler stores naive local times and compares them with UTC, so every "
        "daylight-saving change shifts the jobs by an hour.",
        "Store schedules as UTC instants plus the user's IANA timezone, and compute the "
        "next run with the timezone database:",
        "Jobs ran at the right time across the clock change this weekend, the timezone fix holds.",
    ),
    Story(
        "the deadlock between two workers",
        "Two workers sometimes freeze each other when both touch the {c}. Database log:",
        "It is a lock-order deadlock: one worker locks the parent row and then the child, "
        "the other does the opposite, so under load they wait on each other.",
        "Take the locks in one fixed order everywhere, parent first, and retry the "
        "transaction once when the database reports a deadlock:",
        "No deadlocks in three days since the lock-ordering change. The workers are healthy.",
    ),
    Story(
        "the duplicated webhook deliveries",
        "Some customers got charged twice. The {c} processed the same webhook twice, see the log:",
        "The provider retries webhooks when we answer slowly, and the {c} has no "
        "idempotency check, so a slow response means a second delivery gets processed "
        "again.",
        "Store each delivery id in a table with a unique constraint and skip ids already "
        "seen; answer 200 before the slow work:",
        "Refunded the double charges, and the idempotency table has already rejected "
        "nine duplicate deliveries. Fixed.",
    ),
)

INSTRUCTIONS = (
    Guidance(
        (
            "From now on, write shell snippets for fish, not bash.",
            "Please give me shell commands in fish syntax going forward, I switched shells.",
        ),
        "Give me a one-liner to find the ten largest files in the repository.",
        "What shell syntax should commands be written in for this user?",
    ),
    Guidance(
        (
            "Always include type annotations in any code you write for me.",
            "Please make sure every function you give me is fully type-annotated.",
        ),
        "Write a helper that reads the settings file and returns the configuration.",
        "What did the user ask regarding type annotations?",
    ),
    Guidance(
        (
            "Keep your answers short please: bullet points, ten lines at most unless I ask "
            "for more.",
            "Going forward, answer briefly, a few bullets, no essays.",
        ),
        "Explain how the retry logic should work for outgoing calls.",
        "How long should answers to this user be?",
    ),
    Guidance(
        (
            "No emojis in anything you write for me, including commit messages.",
            "Please never use emoji in text you draft for me.",
        ),
        "Draft the release announcement for the changelog.",
        "What did the user say about emoji?",
    ),
    Guidance(
        (
            "Use British spelling in any documentation you write for me.",
            "Docs you draft should use British English spelling, colour not color.",
        ),
        "Write the README section that explains configuration.",
        "Which spelling convention should documentation follow?",
    ),
    Guidance(
        (
            "Timestamps in examples should always be UTC in ISO 8601.",
            "Whenever you show a time in an example, make it ISO 8601 in UTC.",
        ),
        "Show me an example log line for the new audit logger.",
        "How should timestamps be written in examples?",
    ),
    Guidance(
        (
            "When you suggest a dependency, always tell me its licence.",
            "Any library you recommend, mention the licence next to it please.",
        ),
        "Which library should I use to generate PDF files?",
        "What must the assistant mention when recommending a dependency?",
    ),
    Guidance(
        (
            "Always give me the tests together with the code, not as an afterthought.",
            "Every time you write a function for me, include its unit tests in the same answer.",
        ),
        "Write the function that validates the reference numbers.",
        "What did the user ask for whenever code is written?",
    ),
    Guidance(
        (
            "Ask me before proposing any refactor bigger than one file.",
            "Check with me first before you suggest restructuring more than a single file.",
        ),
        "The payments module has become a mess. What should we do about it?",
        "What should the assistant do before proposing a large refactor?",
    ),
    Guidance(
        (
            "Put every command in its own code block so I can copy them one at a time.",
            "One command per code block please, I copy-paste them individually.",
        ),
        "What are the steps to rotate the database password?",
        "How should commands be formatted for this user?",
    ),
    Guidance(
        (
            "Use pytest style for tests, never unittest classes.",
            "Tests you write for me should be plain pytest functions, no TestCase classes.",
        ),
        "Write tests for the date parsing function.",
        "Which test style did the user ask for?",
    ),
    Guidance(
        (
            "Start commit message suggestions with the ticket id, like OPS-123.",
            "Commit messages you suggest must begin with the ticket number.",
        ),
        "Suggest a commit message for the pagination fix.",
        "How should suggested commit messages start?",
    ),
    Guidance(
        (
            "Explain trade-offs as a table when you compare options.",
            "When comparing approaches, give me a table of pros and cons rather than prose.",
        ),
        "Should we use server-side sessions or JWTs for the login?",
        "How does the user want comparisons presented?",
    ),
    Guidance(
        (
            "Write code comments in German, the rest of the team reads German.",
            "Please write the comments inside code in German for the team.",
        ),
        "Write the function that converts the old export format to the new one.",
        "In which language should code comments be written?",
    ),
)

PREFERENCES = (
    Guidance(
        (
            "I much prefer pnpm over npm, it's faster with our monorepo.",
            "pnpm is my package manager of choice, npm annoys me.",
        ),
        "How do I add the charting library to the frontend?",
        "Which JavaScript package manager does the user prefer?",
    ),
    Guidance(
        (
            "I like httpx better than requests, mostly for the async support.",
            "For HTTP clients I'd rather use httpx than requests.",
        ),
        "What should I use to call the partner API from the sync script?",
        "Which HTTP client library does the user like?",
    ),
    Guidance(
        (
            "I live in Neovim, so anything editor-related should assume that.",
            "My editor is Neovim and I'm not switching.",
        ),
        "How can I get inline type errors while I edit?",
        "What editor does the user use?",
    ),
    Guidance(
        (
            "Honestly I'm not a fan of ORMs, I'd rather write SQL by hand.",
            "I prefer raw SQL over ORM magic, it's easier to reason about.",
        ),
        "How should I implement the query layer for the reporting service?",
        "What is the user's view on ORMs?",
    ),
    Guidance(
        (
            "I'd rather pay for a managed service than run it myself.",
            "Managed services over self-hosting for me, my time is the bottleneck.",
        ),
        "Where should we run the search cluster?",
        "Does the user prefer managed services or self-hosting?",
    ),
    Guidance(
        (
            "I like diagrams, Mermaid ones especially, they render in our wiki.",
            "A Mermaid diagram explains things to me better than paragraphs.",
        ),
        "Explain how a request flows through the system.",
        "How does the user like architecture explained?",
    ),
    Guidance(
        (
            "I prefer small pull requests, a few hundred lines at most.",
            "Big PRs stress me out, I like to keep each one small.",
        ),
        "How should I split up the work for the billing rewrite?",
        "What size of pull request does the user prefer?",
    ),
    Guidance(
        (
            "I prefer FastAPI to Flask for new services.",
            "FastAPI over Flask for anything new, I like the typing.",
        ),
        "What framework should the new internal API use?",
        "Which Python web framework does the user prefer for new services?",
    ),
    Guidance(
        (
            "SQLite for local development, please; I don't want Docker running all day.",
            "I like to develop against SQLite locally and keep Docker off.",
        ),
        "How should I set up my local development environment for the new service?",
        "What does the user like to use for local development databases?",
    ),
    Guidance(
        (
            "I'm a morning person, I do the hard thinking before 10.",
            "I do my deep work early in the morning, meetings after lunch.",
        ),
        "When should we schedule the architecture review?",
        "When does the user do their best work?",
    ),
    Guidance(
        (
            "Tabs, not spaces. I know, I know.",
            "I prefer tabs for indentation wherever the language allows it.",
        ),
        "Set up the formatter config for the new repository.",
        "Tabs or spaces: what does the user prefer?",
    ),
    Guidance(
        (
            "I prefer Makefiles as the entry point for every task.",
            "A Makefile with clear targets is how I like projects to be run.",
        ),
        "How should contributors run the linters and tests?",
        "How does the user like project tasks to be run?",
    ),
    Guidance(
        ("I'm a big fan of Tailwind for styling.", "For CSS I prefer Tailwind utility classes."),
        "How should we style the new settings page?",
        "What styling approach does the user prefer?",
    ),
    Guidance(
        (
            "I'd rather use Podman than Docker on my machine.",
            "Podman is what I use for containers, not Docker Desktop.",
        ),
        "How do I run the database container locally?",
        "Which container tool does the user prefer?",
    ),
)
