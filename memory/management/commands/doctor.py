"""`manage.py doctor`: what is wrong with this deployment, and what to do about it.

One line per check, `ok` / `warn` / `fail`, then what to do; exit status 1 when any check
fails. Every check has a short bound (1 s for Redis and the broker, 1 s for the worker
ping) so a dead dependency is reported, not waited for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from memory.models import EnrichmentStatus, Event

TIMEOUT_SECONDS = 1.0
# About a minute of one worker's drain: 41.7 events/s measured (BENCHMARKS.md, enrichment
# throughput, drain of 2000 events) x 60 s. Deeper, the workers are falling behind.
QUEUE_DEPTH_WARN = 2500
Result = tuple[str, str]  # (ok | warn | fail, message with what to do)


def check_settings() -> Result:
    """The production guard of claiv/settings.py: production would not have booted with a
    problem; in other modes, say what production would refuse."""
    from cryptography.fernet import Fernet

    problems = []
    if settings.DEBUG:
        problems.append("DEBUG is on")
    if settings.SECRET_KEY.startswith("insecure") or len(settings.SECRET_KEY) < 32:
        problems.append("SECRET_KEY is default or short")
    if not getattr(settings, "RECEIPT_SIGNING_KEY", ""):
        problems.append("CLAIV_RECEIPT_SIGNING_KEY is missing")
    if settings.CELERY_TASK_ALWAYS_EAGER:
        problems.append("CELERY_TASK_ALWAYS_EAGER is on")
    try:
        Fernet(settings.CLAIV_CONSOLE_ENCRYPTION_KEY)
    except ValueError:
        problems.append("CLAIV_CONSOLE_ENCRYPTION_KEY is not a Fernet key")
    mode = settings.CLAIV_ENV
    if not problems:
        return "ok", f"{mode} mode; the production guard passes"
    return "warn", (
        f"{mode} mode; production would refuse to start: {'; '.join(problems)}. "
        "Set them in the environment before CLAIV_ENV=production"
    )


def check_postgres() -> Result:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    if row is None:
        return "fail", (
            f"PostgreSQL {server}, pgvector not installed: "
            "CREATE EXTENSION vector (or run migrate as a superuser)"
        )
    return "ok", f"PostgreSQL {server}, pgvector {row[0]}"


def check_migrations() -> Result:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:3])
        return "fail", f"{len(plan)} migration(s) not applied ({names}): run manage.py migrate"
    return "ok", "all migrations applied"


def _redis(url: str, master_name: str | None = None) -> Any:
    from claiv.redis_client import redis_connect

    return redis_connect(
        url,
        master_name=master_name,
        socket_connect_timeout=TIMEOUT_SECONDS,
        socket_timeout=TIMEOUT_SECONDS,
    )


def check_redis() -> Result:
    client = _redis(settings.REDIS_URL)
    try:
        client.ping()
    finally:
        client.close()
    return "ok", "answers"


def check_broker() -> Result:
    from claiv.celery import app
    from claiv.metrics.queues import priority_list_names, queues_configured

    options = app.conf.broker_transport_options or {}
    steps = options.get("priority_steps", [0, 3, 6, 9])
    client = _redis(app.conf.broker_url, options.get("master_name"))
    try:
        depths = {
            queue: sum(client.llen(name) for name in priority_list_names(queue, steps))
            for queue in queues_configured(app.conf)
        }
    finally:
        client.close()
    text = ", ".join(f"{queue} {depth}" for queue, depth in depths.items())
    if max(depths.values(), default=0) > QUEUE_DEPTH_WARN:
        return "warn", (
            f"queue depth {text} (over {QUEUE_DEPTH_WARN}): the workers fall "
            "behind; add worker processes"
        )
    return "ok", f"queue depth {text}"


def check_workers() -> Result:
    from claiv.celery import app

    replies = app.control.ping(timeout=TIMEOUT_SECONDS) or []
    if not replies:
        return "fail", (
            "no worker answered a ping: start one "
            "(celery -A claiv worker); events wait as pending until then"
        )
    return "ok", f"{len(replies)} worker(s) answered"


def check_beat() -> Result:
    from claiv.beat_leader import LOCK_KEY

    # A bigint advisory lock shows in pg_locks as classid (high 32 bits), objid (low 32
    # bits) and objsubid 1.
    unsigned = LOCK_KEY & 0xFFFFFFFFFFFFFFFF
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s AND objid = %s AND objsubid = 1",
            [unsigned >> 32, unsigned & 0xFFFFFFFF],
        )
        leaders = cursor.fetchone()[0]
    if not leaders:
        return "fail", (
            "no beat holds the leader lock: start one (celery -A claiv beat "
            "--scheduler claiv.beat_leader:LeaderScheduler); without it no "
            "reconcile, flush or prune runs"
        )
    return "ok", "a beat leader holds the lock"


def check_embedding() -> Result:
    """The dimension of the vector columns in the database against the settings."""
    from memory.portability import embedding_model_name

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, a.atttypmod FROM pg_attribute a JOIN pg_class c "
            "ON c.oid = a.attrelid WHERE c.relname = ANY(%s) "
            "AND a.attname = 'embedding' AND NOT a.attisdropped",
            [["memory_event", "memory_fact", "memory_episode"]],
        )
        columns = dict(cursor.fetchall())
    wrong = {table: dim for table, dim in columns.items() if dim != settings.EMBEDDING_DIM}
    model = embedding_model_name()
    if settings.EMBEDDING_PROVIDER == "local" and settings.EMBEDDING_DIM != 384:
        return "fail", (
            f"{model} gives 384 dimensions, EMBEDDING_DIM is "
            f"{settings.EMBEDDING_DIM}: set EMBEDDING_DIM=384"
        )
    if wrong:
        found = ", ".join(f"{table} {dim}" for table, dim in sorted(wrong.items()))
        return "fail", (
            f"{model}, EMBEDDING_DIM {settings.EMBEDDING_DIM} but the vector "
            f"columns have {found}: restore the setting, or export, recreate "
            "the database and import (vectors are recomputed)"
        )
    return "ok", f"{model}, {settings.EMBEDDING_DIM} dimensions, as the stored vectors"


def check_events() -> Result:
    grace = timedelta(seconds=settings.ENRICH_RECONCILE_GRACE_SECONDS)
    waiting = Event.objects.filter(
        status__in=[EnrichmentStatus.PENDING, EnrichmentStatus.PROCESSING]
    )
    stuck = waiting.filter(state_changed_at__lt=timezone.now() - grace).count()
    failed = Event.objects.filter(status=EnrichmentStatus.FAILED).count()
    if failed:
        return "fail", (
            f"{failed} event(s) failed enrichment ({stuck} stuck): see their "
            "error in the console's Events page and re-run enrichment there"
        )
    if stuck:
        return "warn", (
            f"{stuck} event(s) pending or processing for over {grace.seconds} s: "
            "check the workers and the beat (its reconcile re-sends them)"
        )
    return "ok", "none stuck or failed"


CHECKS: list[tuple[str, Callable[[], Result]]] = [
    ("settings", check_settings),
    ("postgres", check_postgres),
    ("migrations", check_migrations),
    ("redis", check_redis),
    ("broker", check_broker),
    ("workers", check_workers),
    ("beat", check_beat),
    ("embedding", check_embedding),
    ("events", check_events),
]


class Command(BaseCommand):
    help = "Check this deployment and say what to do; exit status 1 when something fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--skip",
            action="append",
            default=[],
            choices=[name for name, _ in CHECKS],
            help="leave out a check",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        failed = False
        for name, check in CHECKS:
            if name in options["skip"]:
                continue
            try:
                level, message = check()
            except Exception as exc:  # a check that cannot run is a failing check
                level, message = "fail", f"{type(exc).__name__}: is it running and reachable?"
            failed |= level == "fail"
            self.stdout.write(f"{level:<4}  {name:<10}  {message}")
        if failed:
            raise SystemExit(1)
