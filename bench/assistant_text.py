"""Text pools for the long user–assistant development set (bench/assistant_long.py).

Everything here was written for this project. Filler is assembled from sentence
templates with slots (components, tools, numbers) drawn per project, code and tool
output are generated from small grammars, so that two filler messages rarely share more
than their vocabulary: the evidence has to be found among texts that talk about the same
things in the same words.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Domain:
    """One technical project: its vocabulary and the language its code is written in."""

    key: str
    title: str  # "an invoicing web app for a small business"
    language: str  # python | typescript | go | rust
    components: tuple[str, ...]
    topics: tuple[str, ...]  # session themes ("pagination of the invoice list")
    tools: tuple[str, ...]
    entities: tuple[str, ...]  # table / type names used in code and SQL
    metrics: tuple[str, ...]


DOMAINS = (
    Domain(
        key="ledger",
        title="an invoicing and bookkeeping web app for a small business",
        language="python",
        components=(
            "invoice renderer",
            "payment webhook handler",
            "tax calculator",
            "customer portal",
            "PDF exporter",
            "reconciliation job",
            "reminder mailer",
            "audit log",
            "report builder",
            "auth middleware",
            "currency converter",
            "bank statement importer",
        ),
        topics=(
            "the invoice numbering scheme",
            "VAT rounding rules",
            "the bank statement import",
            "recurring invoices",
            "the customer portal login",
            "the monthly revenue report",
            "payment reminders",
            "multi-currency support",
            "the PDF layout",
            "the reconciliation matcher",
            "data retention for old invoices",
            "the accountant's export",
        ),
        tools=("Django", "Celery", "WeasyPrint", "pytest", "Redis", "gunicorn", "Sentry"),
        entities=("invoice", "customer", "payment", "line_item", "tax_rate", "statement"),
        metrics=("p95 latency", "queue depth", "error rate", "memory per worker"),
    ),
    Domain(
        key="rover",
        title="firmware and a ground-station app for a small agricultural rover",
        language="rust",
        components=(
            "motor controller",
            "GPS parser",
            "telemetry uplink",
            "battery monitor",
            "path planner",
            "IMU driver",
            "ground-station dashboard",
            "OTA updater",
            "obstacle detector",
            "watchdog task",
            "CAN bus bridge",
            "mission scheduler",
        ),
        topics=(
            "the wheel odometry drift",
            "the telemetry packet format",
            "battery state of charge estimation",
            "the OTA update rollback",
            "RTK GPS fixes",
            "the path planner's turning radius",
            "CAN bus error frames",
            "the dashboard map tiles",
            "IMU calibration",
            "the emergency stop",
            "logging to the SD card",
            "the mission file format",
        ),
        tools=("embassy", "probe-rs", "defmt", "Tauri", "MAVLink", "cargo", "serde"),
        entities=("Telemetry", "Waypoint", "MotorCmd", "BatteryState", "Mission", "Fix"),
        metrics=("loop jitter", "packet loss", "stack high-water mark", "current draw"),
    ),
    Domain(
        key="atlas",
        title="a data pipeline and dashboards for a field-ecology research lab",
        language="sql",
        components=(
            "ingestion DAG",
            "species lookup table",
            "sensor loader",
            "dbt staging models",
            "quality-check suite",
            "dashboard layer",
            "camera-trap classifier",
            "weather joiner",
            "export to the data portal",
            "deduplication step",
            "field-app sync",
            "archive job",
        ),
        topics=(
            "late-arriving sensor files",
            "the species taxonomy changes",
            "deduplicating camera-trap images",
            "the weather station join",
            "incremental dbt models",
            "the data portal export",
            "timezone handling in field logs",
            "backfilling 2019 data",
            "the quality-check thresholds",
            "partitioning the observations table",
            "the dashboard refresh schedule",
            "access for the new students",
        ),
        tools=("Airflow", "dbt", "DuckDB", "Metabase", "Parquet", "Great Expectations"),
        entities=("observations", "sites", "species", "sensor_readings", "deployments"),
        metrics=("DAG run time", "row count drift", "null rate", "freshness lag"),
    ),
    Domain(
        key="harbor",
        title="a Kubernetes platform and CI/CD setup for a mobile-app startup",
        language="typescript",
        components=(
            "ingress controller",
            "GitOps repo",
            "build pipeline",
            "secrets operator",
            "API gateway",
            "push-notification service",
            "metrics stack",
            "node pool autoscaler",
            "preview environments",
            "backup operator",
            "feature-flag service",
            "log shipper",
        ),
        topics=(
            "preview environments per pull request",
            "the cluster upgrade",
            "secret rotation",
            "the flaky end-to-end suite",
            "cost of the node pools",
            "the push-notification backlog",
            "canary releases",
            "alert fatigue",
            "the Helm chart layout",
            "build cache misses",
            "the database failover drill",
            "rate limiting at the gateway",
        ),
        tools=("Argo CD", "Helm", "Terraform", "k6", "Prometheus", "Loki", "cert-manager"),
        entities=("Deployment", "Release", "Tenant", "Notification", "FlagRule"),
        metrics=("pod restarts", "build minutes", "p99 latency", "monthly spend"),
    ),
    Domain(
        key="quill",
        title="a desktop note-taking app with sync, built by a solo developer",
        language="typescript",
        components=(
            "sync engine",
            "Markdown editor",
            "search index",
            "attachment store",
            "conflict resolver",
            "settings screen",
            "plugin loader",
            "export module",
            "encryption layer",
            "auto-updater",
            "tag sidebar",
            "backlink graph",
        ),
        topics=(
            "sync conflicts on two laptops",
            "full-text search speed",
            "end-to-end encryption keys",
            "the plugin API",
            "large attachments",
            "the auto-update channel",
            "undo history",
            "the backlink graph layout",
            "importing from other apps",
            "startup time",
            "the pricing page",
            "crash reports",
        ),
        tools=("Electron", "SQLite", "CRDTs", "Vite", "Playwright", "esbuild"),
        entities=("Note", "Vault", "Attachment", "SyncOp", "Tag", "Backlink"),
        metrics=("startup time", "sync lag", "index size", "crash-free sessions"),
    ),
)

# Sentence templates for the assistant's advice. Slots: {c} {c2} component, {t} tool,
# {m} metric, {n} a number, {topic} the session's theme.
ADVICE = (
    "The {c} should not know anything about the {c2}; pass it what it needs and let the "
    "caller decide what happens next.",
    "I would measure {m} before and after the change, otherwise we are guessing.",
    "If {topic} keeps coming back, it is usually a sign the boundary between the {c} and "
    "the {c2} is in the wrong place.",
    "{t} can do this for you, but only if the configuration is explicit; the defaults are "
    "tuned for a different workload.",
    "A small integration test around the {c} would have caught this, and it costs maybe {n} lines.",
    "Keep the first version boring: one code path, no flags, and a log line at each step.",
    "There are two ways to go here, and the trade-off is mostly about who has to "
    "maintain it in a year.",
    "I would not optimise the {c} yet; {m} is fine for the volumes you described.",
    "The error you pasted comes from the {c2}, not from the {c}, even though the stack "
    "trace ends there.",
    "Write down the invariant first: what must be true after the {c} runs, whatever "
    "order the inputs arrive in.",
    "Retries belong at the edge, in the {c}; deeper down they multiply and hide the real failure.",
    "It is worth adding a metric for {m} now, while the code is fresh in your head.",
    "If you change the {c}, bump a version in the payload so old readers can tell.",
    "I would put this behind a setting for a week, watch {m}, then delete the old path.",
    "Most of the complexity here comes from {topic}; isolate that and the rest is plain plumbing.",
    "The {t} documentation describes this case, but the example there skips error "
    "handling entirely.",
    "A queue between the {c} and the {c2} buys you back-pressure, at the cost of one "
    "more thing to monitor.",
    "I would keep the data model as it is and change only how the {c} reads it.",
    "Think about what happens when the {c2} is down for ten minutes; that decides the "
    "design more than the happy path does.",
    "You can test this without the real {c2} by recording a few responses and replaying them.",
    "The numbers you shared suggest the bottleneck is I/O, not CPU, so more workers will "
    "not help much.",
    "Name things after what they do: `{snake}` says more than a generic `process()`.",
    "The migration can run online if you add the column first, backfill in batches of "
    "{n}, and only then add the constraint.",
    "I'd log the identifiers, never the content, so the logs stay safe to share.",
    "If {m} goes up after the deploy, roll back first and investigate second.",
    "This is the kind of change that deserves a short design note, even a half page.",
    "Caching here is tempting, but invalidation around {topic} would be the hard part.",
    "The {c} is doing three jobs at once; splitting out the parsing would make it testable.",
    "Pin the {t} version; a minor release changed this behaviour once already.",
    "Checking this in CI is cheap: one job, a few seconds, and it stops the regression for good.",
    "I would keep a feature flag around the {c} until the next release is out.",
    "The simplest fix is a guard clause at the top of the function; the elegant fix can wait.",
    "Think of the {c2} as an external service even if it lives in the same repository.",
    "A timeout of a few seconds on every call to the {c2} is better than an infinite wait.",
    "The flaky behaviour you saw is almost certainly a race between the {c} and the {c2}.",
    "Batching the writes would cut the round trips by roughly a factor of {n}.",
    "I'd keep the old behaviour available for one release so nobody is surprised.",
    "Schema changes and code changes should ship in separate deploys here.",
    "The config file is the right place for this, not an environment variable, because "
    "it changes with the code.",
    "When you profile, look at {m} per request rather than totals; totals hide the tail.",
    "Document the decision in the repository, next to the code it affects.",
    "If the {c} fails halfway, the next run should pick up where it stopped, so make "
    "each step idempotent.",
    "There is no need for a framework here; a hundred lines of plain code will be easier to read.",
    "Start with the failing case as a test, then change the {c} until it passes.",
    "The warning in the log is harmless, but silence it properly rather than filtering it out.",
)

OPENERS = (
    "Good question.",
    "Let's untangle this step by step.",
    "Short version first, details below.",
    "I looked through what you pasted.",
    "This is a common trap, so here is how I'd approach it.",
    "There are a few moving parts here.",
    "Okay, here's my take.",
    "Thanks for the context, that helps.",
    "Right, so the core issue is about {topic}.",
    "I think we can make this simpler than it looks.",
    "Here is a plan that keeps the risk low.",
    "Let me answer in two parts.",
)

CLOSERS = (
    "Let me know how it behaves after the change.",
    "If you paste the output of the next run I can check it.",
    "Happy to go deeper into any of these.",
    "That should be enough to get you unblocked.",
    "Want me to sketch the tests for this as well?",
    "Ping me if the numbers look off.",
    "We can revisit this once the first version is live.",
    "",
    "",
)

ASKS = (
    "How should I structure the {c} so it is easier to test?",
    "Can you review this approach to {topic}?",
    "What's the cleanest way to handle errors in the {c}?",
    "Is {t} overkill for {topic}, or is it the right tool?",
    "The {c} is getting slow. Where would you start looking?",
    "Can you explain why the {c2} sometimes times out?",
    "What would a minimal first version of {topic} look like?",
    "Should the {c} and the {c2} share a database table or talk through an API?",
    "How do I write a migration for this without downtime?",
    "Can you write the function for the {c} we discussed?",
    "I keep getting this error from the {c}. Any idea?",
    "What's a sensible way to monitor {m} for the {c}?",
    "Could you compare two options for {topic}?",
    "How do I make the {c} idempotent?",
    "Can you help me write tests for the {c}?",
    "Is there a risk in upgrading {t} right now?",
    "How do I roll this out gradually?",
    "Why is {m} higher after yesterday's deploy?",
    "What should go in the design note for {topic}?",
    "Can you refactor this so the {c2} is not called twice?",
)

USER_LEADS = (
    "Back on {topic}.",
    "Quick one.",
    "Continuing from yesterday.",
    "Okay, next thing.",
    "New day, new problem.",
    "I tried what you suggested.",
    "Following up on the {c}.",
    "Sorry, long paste incoming.",
    "Another question about the {c}.",
    "",
    "",
)

BULLET_ITEMS = (
    "check {m} on the {c}",
    "add a test for the empty case",
    "log the request id at each step",
    "move the parsing out of the {c}",
    "pin {t} to the current version",
    "write the rollback steps down before deploying",
    "add a timeout to calls into the {c2}",
    "document the new setting in the README",
    "remove the dead code path in the {c2}",
    "ask the reviewer to look at the error handling",
    "run the migration on a copy of production data first",
    "compare {m} with last week's numbers",
    "make the {c} return early on invalid input",
    "split the commit so the refactor and the fix are separate",
)


def snake(text: str) -> str:
    return "_".join(w for w in text.lower().replace("-", " ").replace("'", "").split())


def camel(text: str) -> str:
    return "".join(w.capitalize() for w in text.replace("-", " ").replace("'", "").split())


def fill(rng: random.Random, template: str, domain: Domain, topic: str) -> str:
    c, c2 = rng.sample(domain.components, 2)
    return template.format(
        c=c,
        c2=c2,
        t=rng.choice(domain.tools),
        m=rng.choice(domain.metrics),
        n=rng.choice((3, 4, 5, 8, 10, 20, 50, 200, 500, 1000)),
        topic=topic,
        snake=f"{rng.choice(('load', 'sync', 'check', 'build', 'apply'))}_{snake(c)}",
    )


def paragraph(rng: random.Random, domain: Domain, topic: str, sentences: int) -> str:
    return " ".join(fill(rng, s, domain, topic) for s in rng.sample(ADVICE, sentences))


def bullets(rng: random.Random, domain: Domain, topic: str) -> str:
    items = rng.sample(BULLET_ITEMS, rng.randint(3, 6))
    lines = [f"{i}. {fill(rng, item, domain, topic)}" for i, item in enumerate(items, 1)]
    return "Concretely:\n\n" + "\n".join(lines)


# --- code and tool output -------------------------------------------------------------

_PY_STMTS = (
    "    {v} = {f}({a})",
    "    if not {v}:\n        return None",
    "    for item in {a}:\n        {v}.append(normalise(item))",
    '    logger.info("{f} done", extra={{"count": len({v})}})',
    "    {v} = {{k: w for k, w in {a}.items() if w is not None}}",
    "    try:\n        {v} = client.fetch({a}, timeout=5)\n    except TimeoutError:\n"
    "        raise RetryLater({a!r})",
    "    {v} = sorted({a}, key=lambda row: row.created_at)",
    '    assert {v} is not None, "{f} returned nothing"',
    '    with transaction.atomic():\n        {v}.save(update_fields=["status"])',
)
_RS_STMTS = (
    "    let {v} = {f}(&{a})?;",
    "    if {v}.is_empty() {{\n        return Ok(None);\n    }}",
    "    for item in {a}.iter() {{\n        {v}.push(item.normalise());\n    }}",
    '    defmt::info!("{f} done: {{}}", {v}.len());',
    "    let {v} = {a}.checked_mul(SCALE).ok_or(Error::Overflow)?;",
    "    match {v} {{\n        Some(x) => tx.send(x).await,\n"
    "        None => timer.tick().await,\n    }}",
    "    let {v} = with_timeout(Duration::from_millis(50), {f}(&{a})).await;",
)
_TS_STMTS = (
    "  const {v} = await {f}({a});",
    "  if (!{v}) {{\n    return undefined;\n  }}",
    "  for (const item of {a}) {{\n    {v}.push(normalise(item));\n  }}",
    '  logger.info({{ count: {v}.length }}, "{f} done");',
    "  const {v} = Object.fromEntries(Object.entries({a}).filter(([, w]) => w != null));",
    "  const {v} = await withTimeout({f}({a}), 5_000);",
    "  {v}.sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime());",
)
_SQL_STMTS = (
    "select {e}.id, count(*) as n\nfrom {e}\nwhere {e}.created_at >= now() - interval '{n} days'"
    "\ngroup by {e}.id\norder by n desc;",
    "create index concurrently if not exists {e}_site_time\n    on {e} (site_id, observed_at);",
    "with latest as (\n    select distinct on (site_id) *\n    from {e}\n    order by site_id, "
    "observed_at desc\n)\nselect * from latest where value is not null;",
    "update {e}\nset status = 'archived'\nwhere updated_at < now() - interval '{n} days'\n"
    "  and status = 'closed';",
    "select date_trunc('day', observed_at) as day, avg(value)\nfrom {e}\ngroup by 1\norder by 1;",
)
_VARS = ("rows", "result", "batch", "pending", "parsed", "items", "latest", "matches", "buf")
_ARGS = ("payload", "records", "config", "entries", "request", "frames", "chunk")


def code_block(rng: random.Random, domain: Domain, lines_hint: int) -> str:
    """A fenced snippet in the project's language, roughly `lines_hint` lines long."""
    name = (
        f"{rng.choice(('load', 'sync', 'check', 'build', 'apply', 'merge'))}_"
        + snake(rng.choice(domain.components)).replace("_", "")[:14]
    )
    body: list[str] = []
    lang = domain.language
    while sum(s.count("\n") + 1 for s in body) < lines_hint:
        v, a = rng.choice(_VARS), rng.choice(_ARGS)
        f = f"{rng.choice(('fetch', 'parse', 'validate', 'encode', 'resolve'))}_{rng.choice(_VARS)}"
        if lang == "python":
            body.append(rng.choice(_PY_STMTS).format(v=v, a=a, f=f))
        elif lang == "rust":
            body.append(rng.choice(_RS_STMTS).format(v=v, a=a, f=f))
        elif lang == "typescript":
            body.append(rng.choice(_TS_STMTS).format(v=v, a=a, f=f))
        else:
            body.append(
                rng.choice(_SQL_STMTS).format(e=rng.choice(domain.entities), n=rng.randint(2, 90))
            )
    if lang == "python":
        arg = rng.choice(_ARGS)
        doc = rng.choice(("Idempotent.", "Called by the worker.", "Safe to retry."))
        head = f'def {name}({arg}):\n    """{doc}"""'
        return f"```python\n{head}\n" + "\n".join(body) + "\n```"
    if lang == "rust":
        head = f"pub async fn {name}({rng.choice(_ARGS)}: &[u8]) -> Result<Option<u32>, Error> {{"
        return f"```rust\n{head}\n" + "\n".join(body) + "\n    Ok(None)\n}\n```"
    if lang == "typescript":
        fn = camel(name)[0].lower() + camel(name)[1:]
        head = f"export async function {fn}({rng.choice(_ARGS)}: Input) {{"
        return f"```ts\n{head}\n" + "\n".join(body) + "\n}\n```"
    return "```sql\n" + "\n\n".join(body) + "\n```"


_LEVELS = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
_LOG_MSGS = (
    "{c}: processed batch size={n} in {ms}ms",
    "{c}: retrying after timeout attempt={k}",
    "{c}: connection reset by peer",
    "{c}: cache miss key={h}",
    "{c}: slow call to {c2} took {ms}ms",
    "{c}: healthcheck ok",
    "{c}: queue depth {n}",
    "{c}: skipped {k} duplicate records",
    "{c}: config reloaded (hash {h})",
)


def log_block(rng: random.Random, domain: Domain, lines: int, start_hour: int) -> str:
    out = []
    second = rng.randint(0, 3000)
    for _ in range(lines):
        second += rng.randint(0, 40)
        c, c2 = rng.sample(domain.components, 2)
        message = rng.choice(_LOG_MSGS).format(
            c=snake(c),
            c2=snake(c2),
            n=rng.randint(1, 5000),
            ms=rng.randint(2, 9000),
            k=rng.randint(1, 6),
            h=f"{rng.getrandbits(32):08x}",
        )
        stamp = f"{start_hour % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
        out.append(f"{stamp} {rng.choice(_LEVELS):5} {message}")
    return "```\n" + "\n".join(out) + "\n```"


def config_block(rng: random.Random, domain: Domain) -> str:
    lines = []
    for c in rng.sample(domain.components, rng.randint(3, 6)):
        lines.append(f"{snake(c)}:")
        lines.append(f"  enabled: {rng.choice(('true', 'false'))}")
        lines.append(f"  timeout_ms: {rng.choice((500, 1000, 2500, 5000, 30000))}")
        lines.append(f"  workers: {rng.randint(1, 16)}")
        if rng.random() < 0.5:
            lines.append(f"  retries: {rng.randint(0, 5)}")
    return "```yaml\n" + "\n".join(lines) + "\n```"


def table_block(rng: random.Random, domain: Domain) -> str:
    metric = rng.choice(domain.metrics)
    rows = [f"| option | {metric} | effort | risk |", "|---|---|---|---|"]
    for c in rng.sample(domain.components, rng.randint(2, 4)):
        rows.append(
            f"| change the {c} | {rng.randint(5, 95)} % better "
            f"| {rng.choice(('low', 'medium', 'high'))} "
            f"| {rng.choice(('low', 'medium', 'high'))} |"
        )
    return "\n".join(rows)
