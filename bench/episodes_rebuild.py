"""Rebuild every episode of a benchmark stack's database from its enriched events, with the
current episode code (enrichment.episodes), then embed them: to measure a change to how
episodes are built without enriching again.

    .venv/bin/python -m bench.episodes_rebuild --stack bench/.cache/assistant-long-stack

Deletes the database's episodes first: run it on a copy to keep the original. The events go
through `episodes_plan` / `episodes_apply` as the Embed stage sends them (batches of 32, in
event time order, vectors deferred), and `episodes_refresh` embeds the summaries.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path

BATCH = 32


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", type=Path, required=True)
    args = parser.parse_args(argv)
    from bench.locomo_inprocess import start_database

    os.environ.setdefault("LOG_LEVEL", "WARNING")
    postgres = start_database(args.stack, None)
    try:
        return _rebuild()
    finally:
        postgres.stop()  # type: ignore[attr-defined]


def _rebuild() -> int:
    from django.db import transaction

    from enrichment import episodes
    from enrichment.pipeline.stages.embed import episodes_refresh
    from memory.models import Episode, Event

    started = time.perf_counter()
    Episode.objects.all().delete()
    users = Event.objects.values_list("tenant_id", "user_id").distinct()
    for tenant_id, user_id in list(users):
        rows = Event.objects.filter(tenant_id=tenant_id, user_id=user_id, status="enriched")
        events = [e for e in rows.order_by("event_time", "id") if episodes.episodes_for(e)]
        for start in range(0, len(events), BATCH):
            batch = events[start : start + BATCH]
            plan = episodes.episodes_plan(events=batch, defer=True)
            with transaction.atomic():
                episodes.episodes_apply(events=batch, plan=plan, embed=lambda texts: [])
    embedded = episodes_refresh(limit=10**9)
    print(
        f"{Episode.objects.count()} episodes, {embedded} embedded, "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
