"""`manage.py vector_index [--method hnsw|ivfflat] [--rebuild] [--blocking]`: make the
vector index of every vector column the one `CLAIV_VECTOR_INDEX` names (or `--method`),
built CONCURRENTLY while ingest and recall go on, then drop the other one
(memory.vector_index). Running it again with the same method does nothing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from memory.vector_index import METHODS, build, present


class Command(BaseCommand):
    help = "Build the configured vector index (HNSW or IVFFlat) and drop the other one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--method",
            choices=METHODS,
            default=None,
            help="hnsw or ivfflat (default: the CLAIV_VECTOR_INDEX setting)",
        )
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="build again even where it exists (IVFFlat after the data has grown)",
        )
        parser.add_argument(
            "--maintenance-work-mem",
            default=None,
            help="for this build's session, e.g. 1GB (IVFFlat at 1M rows needs ~273 MB)",
        )
        parser.add_argument(
            "--blocking",
            action="store_true",
            help="plain CREATE INDEX (faster, blocks writes): for an offline load",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        method = options["method"] or settings.VECTOR_INDEX
        if method not in METHODS:
            raise CommandError(f"CLAIV_VECTOR_INDEX must be one of {', '.join(METHODS)}")
        spent = build(
            method,
            concurrently=not options["blocking"],
            rebuild=options["rebuild"],
            maintenance_work_mem=options["maintenance_work_mem"],
            log=self.stdout.write,
        )
        if not spent:
            self.stdout.write(f"{method}: nothing to do")
        for kind, methods in present().items():
            self.stdout.write(f"{kind}: {', '.join(methods) or 'no vector index'}")
