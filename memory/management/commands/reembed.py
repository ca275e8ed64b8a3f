"""`manage.py reembed`: move every stored vector to the configured embedding model."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from memory.reembed import DEFAULT_BATCH, reembed_run


class Command(BaseCommand):
    help = (
        "Re-embed events, facts and episodes with the configured embedding model "
        "(EMBEDDING_PROVIDER / EMBEDDING_MODEL / EMBEDDING_DIM). Online and resumable: "
        "run it again after an interruption and it continues where it stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch",
            type=int,
            default=DEFAULT_BATCH,
            help=f"texts per embedding call (default {DEFAULT_BATCH})",
        )
        parser.add_argument(
            "--no-swap",
            action="store_true",
            help="fill the new vectors but leave the live column in place",
        )

    def handle(self, *args: Any, batch: int, no_swap: bool, **options: Any) -> None:
        def progress(table: str, done: int, total: int) -> None:
            self.stdout.write(f"{table}: {done}/{total}")

        report = reembed_run(batch=batch, swap=not no_swap, progress=progress)
        if not report.embedded and not report.swapped:
            self.stdout.write(
                f"The stored vectors are already {report.model} "
                f"({report.dimension}); nothing to do."
            )
            return
        done = ", ".join(f"{table} {count}" for table, count in report.embedded.items())
        state = "now in use" if report.swapped else "filled, not swapped (--no-swap)"
        self.stdout.write(f"Re-embedded with {report.model} ({report.dimension}): {done}; {state}.")
