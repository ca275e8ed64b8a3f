"""Long messages (issue #14): ingest and enrichment time of one event of 2 KB, 32 KB,
100 KB and ~1 MiB, in-process, stage by stage, and whether a recall finds a sentence
placed near the end.

    .venv/bin/python -m bench.long_content [--sizes 2,32,100,1023] [--repeats 3]

Starts an embedded Postgres and Valkey in a temporary directory (migrated). Each event is
ingested through the whole Django request path (`django.test.Client`, POST /v1/ingest:
middleware, key, limiter, metering, validation, the transaction), then enriched without
Celery, one stage after the other (`enrichment.pipeline.stage_run`, batch off), then
recalled once (POST /v1/recall, 500 tokens) with a question whose answer sits at 95 % of
the text. Sizes are in KiB of ASCII prose (`tests.enrichment.test_passages_worker`'s
generator); 1023 leaves room for the body's other fields under the 1 MiB limit. Prints
the median over the repeats of each part (seconds), the passages made, the CPU seconds
of the whole, and the load average before and after. The embedder is warmed first.
Measured, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.inprocess_api import inprocess_api

STAGE_NAMES = ("extract", "map", "gate", "embed", "tier")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,32,100,1023", help="KiB, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with inprocess_api(prefix="long-content-", tenant_slug="bench-long") as api:
        from enrichment.pipeline import stage_run
        from memory.embedding import embedder
        from memory.models import Event, Passage
        from tests.enrichment.test_passages_worker import DEEP, _long_message

        client = api.client
        model = embedder()
        model.embed(["warm up"])
        model.embed(["warm up"] * 8)

        load_before = Path("/proc/loadavg").read_text().split()[:3]
        print(f"load average at start: {' '.join(load_before)}")
        header = ["size", "ingest", *STAGE_NAMES, "enrich", "recall", "passages", "cpu", "found"]
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for n, kib in enumerate(int(s) for s in args.sizes.split(",")):
            length = kib * 1024
            parts: dict[str, list[float]] = {k: [] for k in ("ingest", *STAGE_NAMES, "recall")}
            cpus: list[float] = []
            passages, found = 0, 0
            for rep in range(args.repeats):
                user = f"u{n}-{rep}"
                content = _long_message(length, int(length * 0.95))
                cpu = time.process_time()
                started = time.perf_counter()
                response = client.post(
                    "/v1/ingest",
                    {"user_id": user, "type": "message", "role": "user", "content": content},
                    content_type="application/json",
                )
                assert response.status_code == 200, response.content[:200]
                parts["ingest"].append(time.perf_counter() - started)
                event_id = response.json()["event_id"]
                for stage in STAGE_NAMES:
                    started = time.perf_counter()
                    stage_run(event_id, stage, batch=False)
                    parts[stage].append(time.perf_counter() - started)
                assert Event.objects.get(pk=event_id).status == "enriched"
                started = time.perf_counter()
                recall = client.post(
                    "/v1/recall",
                    {
                        "user_id": user,
                        "task": "Who restored my grandmother's violin?",
                        "token_budget": 500,
                    },
                    content_type="application/json",
                ).json()
                parts["recall"].append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu)
                found += DEEP in recall["system_context"] and event_id in recall["citations"]
                passages = Passage.objects.filter(event_id=event_id).count()

            med = {name: statistics.median(values) for name, values in parts.items()}
            enrich = sum(med[s] for s in STAGE_NAMES)
            row = [
                f"{kib} KiB",
                f"{med['ingest']:.3f}",
                *(f"{med[s]:.2f}" for s in STAGE_NAMES),
                f"{enrich:.2f}",
                f"{med['recall']:.3f}",
                str(passages),
                f"{statistics.median(cpus):.2f}",
                f"{found}/{args.repeats}",
            ]
            print("| " + " | ".join(row) + " |", flush=True)
        load_after = Path("/proc/loadavg").read_text().split()[:3]
        print(f"load average at end: {' '.join(load_after)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
