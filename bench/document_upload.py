"""Upload time of a Markdown manual (issue #18): parse, embed and store, in-process.

    .venv/bin/python -m bench.document_upload [--kb 200] [--repeats 5]

Starts an embedded Postgres in a temporary directory (migrated), builds a Markdown manual
of `--kb` kilobytes (`tests.support.manual.long_manual`: chapters of sections of prose),
and uploads it `--repeats` times as the same document id (each upload after the first is a
replace), through `memory.documents.store.document_upload` — what `POST /v6/documents`
does apart from HTTP, JSON parsing and enqueuing the distil stage. Prints each run's
total and its parts (parse; embed, measured alone on the same spans in the same run; the
rest: the database transaction), its CPU seconds (the embedder runs one thread, so on an
idle core the wall time is close to them), the spans made, and the load average before and
after.
The embedder is warmed first (model load is a process's start-up cost, not an upload's).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from claiv.embedded import postgres_start

    postgres = postgres_start(data_dir=Path(tempfile.mkdtemp(prefix="claiv-bench-docs-")))
    os.environ["DATABASE_URL"] = postgres.url  # type: ignore[attr-defined]
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from memory.documents import parse
        from memory.documents.store import document_upload, span_embedding_text
        from memory.embedding import embedder
        from tenants.services import tenant_ensure
        from tests.support.manual import long_manual

        tenant = tenant_ensure(slug="bench-docs")[0]
        content = long_manual(args.kb * 1000)
        model = embedder()
        model.embed(["warm up"])
        model.embed(["warm up"] * 8)
        load_before = Path("/proc/loadavg").read_text().split()[:3]
        totals, embeds, parses, cpus = [], [], [], []
        spans = 0
        for _ in range(args.repeats):
            started = time.perf_counter()
            tree = parse.sections_of(content)
            cuts = parse.spans_of(content, tree)
            parses.append(time.perf_counter() - started)
            started = time.perf_counter()
            # As the upload embeds them (memory.documents.store.document_upload).
            embed = getattr(model, "embed_passages", model.embed)
            embed(
                [span_embedding_text(tree[c.section].path, content[c.start : c.end]) for c in cuts]
            )
            embeds.append(time.perf_counter() - started)
            started = time.perf_counter()
            cpu = time.process_time()
            result = document_upload(
                tenant=tenant,
                user_id="bench",
                project_id="p",
                name="Large Appliance Manual",
                content=content,
                document_id="manual",
            )
            totals.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            spans = result.document.spans_created
        load_after = Path("/proc/loadavg").read_text().split()[:3]
        size = len(content.encode()) / 1000
        print(f"document: {size:.0f} KB, {len(tree)} sections, {spans} spans")
        print("upload s (each): " + ", ".join(f"{t:.2f}" for t in totals))
        # CPU seconds of this process (the embedder runs one thread): what the upload costs
        # whatever else the machine runs; on an idle core the wall time is close to it.
        print("upload CPU s (each): " + ", ".join(f"{t:.2f}" for t in cpus))
        print(
            f"upload s: median {statistics.median(totals):.2f}, min {min(totals):.2f}; "
            f"embedding alone median {statistics.median(embeds):.2f}; "
            f"parse median {statistics.median(parses) * 1000:.1f} ms; "
            f"database + rest ~{statistics.median(totals) - statistics.median(embeds):.2f}"
        )
        print(f"load average before {' '.join(load_before)}, after {' '.join(load_after)}")
    finally:
        from django.db import connections

        connections.close_all()
        postgres.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
