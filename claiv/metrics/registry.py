"""Every metric Claiv exports, and the small functions other code calls to record one.

Multiprocess mode: with `PROMETHEUS_MULTIPROC_DIR` set (the dev stack, the tests and the
Kubernetes manifests set it), each process writes its samples to memory-mapped files in that
directory and a scrape sums them, so every gunicorn worker and every Celery pool process
counts. Without it, values live in this process only (fine for `manage.py` commands).

This module imports no Django: the gunicorn master imports it for `metrics_process_dead`.
Names are the contract with `deploy/prometheus/alerts.yml` and `deploy/grafana/claiv.json`
(tests/claiv/test_deploy_monitoring.py checks it); rename one and change those too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROC_DIR:
    # prometheus_client opens its files there on the first sample; a missing directory would
    # turn that first sample into an exception in whatever request or task recorded it.
    os.makedirs(MULTIPROC_DIR, exist_ok=True)

# Imported after the directory exists (and so after any os.environ change above).
from prometheus_client import Counter, Gauge, Histogram, multiprocess  # noqa: E402

# Request latencies of this API run from ~2 ms (cached recall) to seconds (a 500-event batch).
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Enrichment lag: seconds when the workers keep up, minutes behind a backlog; the alert's SLO
# (deploy/prometheus/alerts.yml) sits at 60 s, inside these buckets.
_LAG_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
_STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_DURATION = Histogram(
    "claiv_http_request_duration_seconds",
    "Time from the request entering the middleware stack to the response leaving it.",
    ["method", "route", "status_class"],
    buckets=_REQUEST_BUCKETS,
)
RECALL_CACHE = Counter(
    "claiv_recall_cache",
    "Recall answers served from the cache (hit) or computed (miss).",
    ["result"],
)
RECALL_CHANNEL_DURATION = Histogram(
    "claiv_recall_channel_duration_seconds",
    "Time one part of a recall took: embed_query, channels (the pipelined channel "
    "statements, first sent to last read), fuse, hydrate.",
    ["channel"],
    buckets=_REQUEST_BUCKETS,
)
ENRICHMENT_LAG = Histogram(
    "claiv_enrichment_lag_seconds",
    "Time from an event's creation to its enrichment.",
    buckets=_LAG_BUCKETS,
)
ENRICHMENT_STAGE_DURATION = Histogram(
    "claiv_enrichment_stage_duration_seconds",
    "Time one enrichment stage run took.",
    ["stage"],
    buckets=_STAGE_BUCKETS,
)
ENRICHMENT_EVENTS_FAILED = Counter(
    "claiv_enrichment_events_failed", "Events whose enrichment failed for good.", ["stage"]
)
RECONCILE_RESENT = Counter(
    "claiv_reconcile_resent_events", "Stuck events re-sent to the workers by reconciliation."
)
EMBEDDING_CALLS = Counter(
    "claiv_embedding_calls", "Calls to the embedding model or provider.", ["provider", "outcome"]
)
EMBEDDING_TEXTS = Counter(
    "claiv_embedding_texts", "Texts embedded (a call may carry many).", ["provider"]
)
LLM_CALLS = Counter("claiv_llm_calls", "Calls to the LLM provider.", ["outcome"])
LLM_TOKENS = Counter("claiv_llm_tokens", "Tokens the LLM provider reported.", ["kind"])
# livesum: a process's share disappears when it is marked dead (metrics_process_dead).
DB_POOL_CONNECTIONS = Gauge(
    "claiv_db_pool_connections",
    "Database pool connections per state, over live processes.",
    ["state"],
    multiprocess_mode="livesum",
)
WORKER_PROCESSES = Gauge(
    "claiv_worker_processes",
    "Celery pool processes alive and ready to take tasks.",
    multiprocess_mode="livesum",
)

# Exported at scrape time by claiv.metrics.queues (named here so the names live in one place).
QUEUE_DEPTH_NAME = "claiv_queue_depth"
BROKER_UP_NAME = "claiv_broker_up"


def status_class(status: int) -> str:
    """`2xx`, `4xx`, …: a bounded label, unlike the raw code."""
    return f"{status // 100}xx"


def request_observe(*, method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_DURATION.labels(method, route, status_class(status)).observe(seconds)


def recall_cache_record(*, hit: bool) -> None:
    RECALL_CACHE.labels("hit" if hit else "miss").inc()


def recall_channel_observe(*, channel: str, seconds: float) -> None:
    RECALL_CHANNEL_DURATION.labels(channel).observe(seconds)


def enrichment_lag_observe(*, created_at: datetime, enriched_at: datetime | None = None) -> None:
    """Record one event's lag; call once per event, when it becomes `enriched`.
    Both datetimes must be timezone-aware (Django's with USE_TZ)."""
    end = enriched_at or datetime.now(UTC)
    ENRICHMENT_LAG.observe(max(0.0, (end - created_at).total_seconds()))


@contextmanager
def enrichment_stage_timer(stage: str) -> Iterator[None]:
    """Time one run of a stage (`extract`, `map`, `gate`, `embed`, `tier`, …), failed or not."""
    started = time.perf_counter()
    try:
        yield
    finally:
        ENRICHMENT_STAGE_DURATION.labels(stage).observe(time.perf_counter() - started)


def enrichment_failed_record(*, stage: str, count: int = 1) -> None:
    ENRICHMENT_EVENTS_FAILED.labels(stage).inc(count)


def reconcile_resent_record(*, count: int) -> None:
    RECONCILE_RESENT.inc(count)


def embedding_call_record(*, provider: str, texts: int, ok: bool = True) -> None:
    EMBEDDING_CALLS.labels(provider, "ok" if ok else "error").inc()
    if ok:
        EMBEDDING_TEXTS.labels(provider).inc(texts)


def llm_call_record(*, ok: bool, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
    LLM_CALLS.labels("ok" if ok else "error").inc()
    if prompt_tokens:
        LLM_TOKENS.labels("prompt").inc(prompt_tokens)
    if completion_tokens:
        LLM_TOKENS.labels("completion").inc(completion_tokens)


def metrics_process_dead(pid: int) -> None:
    """Drop a dead process's live gauges (its counters and histograms stay in the sums).
    Called by gunicorn's `child_exit` hook and Celery's `worker_process_shutdown`."""
    if MULTIPROC_DIR:
        multiprocess.mark_process_dead(pid, MULTIPROC_DIR)
