"""The Celery application. Configuration comes from Django settings (CELERY_* names)."""

import gc
import logging
import os
import threading
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")

app = Celery("claiv")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger("claiv.celery")


@worker_init.connect
def _verify_embedding_space(sender: Any = None, **kwargs: Any) -> None:
    """A `celery worker` whose embedding model differs from the stored vectors' exits."""
    from celery.apps.worker import Worker

    if isinstance(sender, Worker):  # the CLI worker, not the test suite's in-process one
        from memory.embedding_space import embedding_space_verify_or_exit

        embedding_space_verify_or_exit()
        from django.conf import settings

        from claiv.worker_priority import worker_priority_lower

        # Before the pool forks: every pool process inherits it.
        worker_priority_lower(settings.WORKER_NICE)
        _models_load_before_fork()


def _models_load_before_fork() -> None:
    """Load the embedding model in the worker's main process, before the prefork pool forks
    its children: they inherit it and share its pages copy-on-write (one copy for the
    whole worker instead of ~550 MB private per pool process), and a replacement for a dead
    pool process has the model the moment it is forked. torch runs one intra-op thread
    (LocalEmbedder), so no OpenMP pool exists at fork time; children embed correctly
    (tests/enrichment/test_worker_heal.py). EMBEDDING_PRELOAD=0 loads per process instead."""
    if os.environ.get("EMBEDDING_PRELOAD", "1") == "0":
        return
    from memory.embedding import embedder_warm

    try:
        embedder_warm()
    except Exception:
        logger.exception("loading the embedding model before fork failed; pool processes will")
        return
    gc.collect()
    gc.freeze()


# Set while a pool process loads the model in the background; None elsewhere (the main
# process, the threads pool of the test suite, eager mode), where tasks never wait.
_models_loaded: threading.Event | None = None


@worker_process_init.connect
def _warm_models_in_background(**kwargs: Any) -> None:
    """Start loading the embedding model (and its ONNX graph) in a thread and return at once.

    Celery SIGKILLs a pool process that has not reported up `worker_proc_alive_timeout` after
    the fork, and this hook runs before that report. The load takes 13-16 s in a fresh
    process: done here inline, every replacement of a dead pool process was killed before it
    came up, forever. The first task waits for the load instead (`_wait_for_models`)."""
    global _models_loaded
    from memory.embedding import embedder_loaded

    if embedder_loaded():  # inherited from the main process (_models_load_before_fork)
        return
    _models_loaded = threading.Event()
    threading.Thread(
        target=_warm_models, args=(_models_loaded,), name="claiv-warm-models", daemon=True
    ).start()


def _warm_models(done: threading.Event) -> None:
    from memory.embedding import embedder_warm

    try:
        embedder_warm()
        # As in the web workers (claiv.gunicorn_conf): the loaded model and libraries are
        # ~600k long-lived objects that every full collection would walk again.
        gc.collect()
        gc.freeze()
    except Exception:
        # A task that needs the model then loads it itself and fails visibly if it cannot.
        logger.exception("loading the embedding model in the pool process failed")
    finally:
        done.set()


@task_prerun.connect
def _wait_for_models(**kwargs: Any) -> None:
    """A task waits until its pool process has loaded the model: two loads at once would
    double the memory and the time, and the embedder is not built under a lock."""
    if _models_loaded is not None:
        _models_loaded.wait()


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
