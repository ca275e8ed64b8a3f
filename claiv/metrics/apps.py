"""Connects the Celery process hooks of the metrics (loaded in web and worker processes)."""

from __future__ import annotations

import os
from typing import Any

from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "claiv.metrics"
    label = "claiv_metrics"

    def ready(self) -> None:
        from celery.signals import worker_process_init, worker_process_shutdown

        # weak=False: the receivers are module functions, but say so; dispatch_uid keeps a
        # second ready() (tests) from connecting them twice.
        worker_process_init.connect(
            _worker_process_up, weak=False, dispatch_uid="claiv.metrics.worker_up"
        )
        worker_process_shutdown.connect(
            _worker_process_down, weak=False, dispatch_uid="claiv.metrics.worker_down"
        )


def _worker_process_up(**kwargs: Any) -> None:
    from claiv.metrics.registry import WORKER_PROCESSES

    WORKER_PROCESSES.set(1)


def _worker_process_down(pid: int | None = None, **kwargs: Any) -> None:
    """A pool process exiting cleanly takes its live gauges with it. One killed outright
    (SIGKILL, OOM) leaves them until the pod or the dev stack restarts with a fresh
    directory; its counters stay in the sums either way, as they should."""
    from claiv.metrics.registry import metrics_process_dead

    metrics_process_dead(pid or os.getpid())
