"""`manage.py backfill_time_notes [--batch N]`: store the time notes of events enriched
before `Event.time_notes` existed, so that recall stops resolving their dates itself.

Only events whose notes are null (not computed) and that are not forgotten are touched;
running it again fills nothing new.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from memory.time_notes import BACKFILL_BATCH, time_notes_backfill


class Command(BaseCommand):
    help = "Compute the time notes of events that have none yet (enriched before they existed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch",
            type=int,
            default=BACKFILL_BATCH,
            help=f"events per UPDATE (default {BACKFILL_BATCH})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        filled = time_notes_backfill(batch=options["batch"])
        self.stdout.write(f"{filled} events filled with time notes")
