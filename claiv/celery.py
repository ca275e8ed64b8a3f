"""The Celery application. Configuration comes from Django settings (CELERY_* names)."""

import os

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")

app = Celery("claiv")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _warm_models(**kwargs: Any) -> None:
    """Load the embedding model in each pool process before it takes a task."""
    from memory.embedding import embedder

    embedder()
