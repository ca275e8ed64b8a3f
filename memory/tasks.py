"""Celery tasks of the memory app: thin, explicitly named wrappers over its services."""

from __future__ import annotations

from celery import shared_task

from memory.access import fact_accesses_flush
from memory.metering import usage_flush


@shared_task(name="memory.usage_flush", ignore_result=True)
def usage_flush_task() -> int:
    """Beat, every minute: move request counters from Redis into Postgres."""
    return usage_flush()


@shared_task(name="memory.fact_accesses_flush", ignore_result=True)
def fact_accesses_flush_task() -> int:
    """Beat, every minute: move recall's fact access counts from Redis into the facts."""
    return fact_accesses_flush()
