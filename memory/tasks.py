"""Celery tasks of the memory app: thin, explicitly named wrappers over its services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from memory.access import fact_accesses_flush
from memory.audit import audit_flush, audit_prune
from memory.metering import usage_flush
from memory.portability_jobs import (
    portability_job_mark_failed,
    portability_job_run,
    portability_jobs_reconcile,
)

logger = logging.getLogger("claiv.portability")


@shared_task(name="memory.usage_flush", ignore_result=True)
def usage_flush_task() -> int:
    """Beat, every minute: move request counters from Redis into Postgres."""
    return usage_flush()


@shared_task(name="memory.fact_accesses_flush", ignore_result=True)
def fact_accesses_flush_task() -> int:
    """Beat, every minute: move recall's fact access counts from Redis into the facts."""
    return fact_accesses_flush()


@shared_task(name="memory.audit_flush", ignore_result=True)
def audit_flush_task() -> int:
    """Beat, every minute: move buffered audit entries from Redis into Postgres."""
    return audit_flush()


@shared_task(name="memory.audit_prune", ignore_result=True)
def audit_prune_task() -> int:
    """Beat, hourly: delete audit entries older than CLAIV_AUDIT_RETENTION_DAYS."""
    return audit_prune()


@shared_task(name="memory.portability_job_run", ignore_result=True)
def portability_job_run_task(job_id: str) -> str | None:
    """Run an export or import job of the API (memory.portability_jobs). A database outage
    leaves the job to reconciliation; anything else unexpected fails it (class only)."""
    try:
        return portability_job_run(job_id)
    except (OperationalError, InterfaceError):
        logger.warning("portability job interrupted job=%s; reconciliation will retry", job_id)
        raise
    except Exception as exc:
        logger.error("portability job failed job=%s error=%s", job_id, type(exc).__name__)
        portability_job_mark_failed(job_id=job_id, error_class=type(exc).__name__)
        return None


@shared_task(name="memory.portability_jobs_reconcile", ignore_result=True)
def portability_jobs_reconcile_task() -> int:
    """Beat, every minute: re-send jobs whose message was lost or whose worker died."""
    return portability_jobs_reconcile()
