"""Upload time of a Markdown manual (issue #18): parse, embed and store, in-process.

    .venv/bin/python -m bench.document_upload [--kb 200] [--repeats 5]
        [--variants torch:1,torch:2,onnx:1,onnx:2,onnx8:2]

Starts an embedded Postgres in a temporary directory (migrated), builds a Markdown manual
of `--kb` kilobytes (`tests.support.manual.long_manual`: chapters of sections of prose),
and uploads it `--repeats` times per variant as the same document id (each upload after
the first is a replace), through `memory.documents.store.document_upload` — what
`POST /v6/documents` does apart from HTTP, JSON parsing and enqueuing the distil stage.

A variant is `runtime:threads`: `torch` is `LocalEmbedder` (torch bfloat16; a Celery worker
or a process started without EMBEDDING_RUNTIME=onnx), `onnx` is `OnnxEmbedder` (ONNX
Runtime float32 alone: the web processes, which serve `POST /v6/documents`); `onnx8` and
`torch8` are the same embedders with `EMBEDDING_SPAN_PRECISION=int8` (spans through the
int8 graph, `memory.embedding.SPAN_PRECISION`; `onnx` and `torch` run with `float32`);
`threads` is `memory.embedding.PASSAGE_THREADS` (spans embedded by that many threads at
once). The
variants run interleaved (variant A, B, C, … then again), so a change in the machine's
load hits them alike. Prints, per variant, each upload's wall and CPU seconds (the
process's, all threads), the medians and the ratio of medians to the first variant, the
spans and word pieces embedded, and the load average before and after.
The embedders are warmed first (model load is a process's start-up cost, not an upload's).
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
    parser.add_argument("--variants", default="onnx:2,onnx8:2,torch:2,torch8:2")
    args = parser.parse_args()
    variants = [(v.split(":")[0], int(v.split(":")[1])) for v in args.variants.split(",")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from claiv.embedded import postgres_start

    scratch = Path(tempfile.mkdtemp(prefix="claiv-bench-docs-"))
    postgres = postgres_start(data_dir=scratch)
    os.environ["DATABASE_URL"] = postgres.url  # type: ignore[attr-defined]
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from memory import embedding
        from memory.documents import parse, store
        from tenants.services import tenant_ensure
        from tests.support.manual import long_manual

        tenant = tenant_ensure(slug="bench-docs")[0]
        content = long_manual(args.kb * 1000)
        # Both embedders from one exported graph (exported into the scratch directory if
        # the cache has none: nothing is downloaded).
        local = embedding.LocalEmbedder()
        onnx_only = embedding.OnnxEmbedder.load(cache_dir=local._onnx.path.parent)  # type: ignore[union-attr]
        models = {"torch": local, "onnx": onnx_only, "torch8": local, "onnx8": onnx_only}
        for runtime, _ in variants:
            if models[runtime] is None:
                raise SystemExit(f"no {runtime} embedder")
            embedding.SPAN_PRECISION = "int8" if runtime.endswith("8") else "float32"
            models[runtime].warm()  # type: ignore[union-attr]
            models[runtime].embed_passages(["warm up " * 200] * 16)  # type: ignore[union-attr]

        tree = parse.sections_of(content)
        cuts = parse.spans_of(content, tree)
        texts = [
            store.span_embedding_text(tree[c.section].path, content[c.start : c.end]) for c in cuts
        ]
        pieces = sum(len(row) for row in local._token_ids(texts))
        load_before = Path("/proc/loadavg").read_text().split()[:3]
        walls: dict[str, list[float]] = {f"{r}:{t}": [] for r, t in variants}
        cpus: dict[str, list[float]] = {f"{r}:{t}": [] for r, t in variants}
        spans = 0
        for _ in range(args.repeats):
            for runtime, threads in variants:
                name = f"{runtime}:{threads}"
                # The upload path as the view runs it, with this variant's embedder.
                store.embedder = lambda runtime=runtime: models[runtime]  # type: ignore[assignment]
                embedding.PASSAGE_THREADS = threads
                embedding.SPAN_PRECISION = "int8" if runtime.endswith("8") else "float32"
                started, cpu = time.perf_counter(), time.process_time()
                result = store.document_upload(
                    tenant=tenant,
                    user_id="bench",
                    project_id="p",
                    name="Large Appliance Manual",
                    content=content,
                    document_id="manual",
                )
                walls[name].append(time.perf_counter() - started)
                cpus[name].append(time.process_time() - cpu)
                spans = result.document.spans_created
                print(
                    f"{name:8s} wall {walls[name][-1]:6.2f} s  CPU {cpus[name][-1]:6.2f} s  "
                    f"load {Path('/proc/loadavg').read_text().split()[0]}",
                    flush=True,
                )
        load_after = Path("/proc/loadavg").read_text().split()[:3]
        size = len(content.encode()) / 1000
        print(
            f"document: {size:.0f} KB, {len(tree)} sections, {spans} spans, "
            f"{pieces} word pieces embedded (at most 256 a span)"
        )
        base = statistics.median(walls[f"{variants[0][0]}:{variants[0][1]}"])
        for name in walls:
            wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
            print(
                f"{name:8s} upload wall median {wall:6.2f} s (min {min(walls[name]):.2f}), "
                f"CPU median {cpu:6.2f} s, wall / first variant {wall / base:.2f}; "
                f"each: "
                + ", ".join(
                    f"{w:.2f}/{c:.2f}" for w, c in zip(walls[name], cpus[name], strict=True)
                )
            )
        print(f"load average before {' '.join(load_before)}, after {' '.join(load_after)}")
    finally:
        from django.db import connections

        connections.close_all()
        postgres.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
