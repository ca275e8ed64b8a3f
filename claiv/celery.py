"""The Celery application. Configuration comes from Django settings (CELERY_* names)."""

import gc
import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")

app = Celery("claiv")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _warm_models(**kwargs: Any) -> None:
    """Load the embedding model (and its ONNX graph, exported on first use) in each pool
    process and run it once before the process takes a task."""
    from memory.embedding import embedder_warm

    embedder_warm()
    # As in the web workers (claiv.gunicorn_conf): the loaded model and libraries are
    # ~600k long-lived objects that every full collection would walk again.
    gc.collect()
    gc.freeze()


@task_postrun.connect
def _recycle_db_connections(**kwargs: Any) -> None:
    """After a task, drop a connection that saw an error or is older than CONN_MAX_AGE,
    keep it otherwise (settings.CELERY_DB_REUSE_MAX turns off Celery's own close-around-
    every-task behaviour). Unlike close_old_connections() this does not re-arm Django's
    health check, which would add a `SELECT 1` round trip to every task."""
    import time

    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        expired = connection.close_at is not None and time.monotonic() >= connection.close_at
        if connection.errors_occurred or expired:
            connection.close_if_unusable_or_obsolete()
