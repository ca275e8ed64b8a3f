"""Celery tasks of the memory app: thin, explicitly named wrappers over its services."""

from __future__ import annotations

from celery import shared_task

from memory.access import fact_accesses_flush
from memory.audit import audit_flush, audit_prune
from memory.metering import usage_flush


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
