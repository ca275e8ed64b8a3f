"""Cost of the metric call sites on the hot paths, in multiprocess mode (as deployed).

    .venv/bin/python -m bench.metrics_call_sites [--calls 50000] [--rounds 5]

A recall records four observations (query embedding, channels, fusion, hydration) and one
embedding call; an enrichment stage run one timer and, per enriched event, one lag.
Prints the median cost of each call and of one recall's worth of them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time


def _per_call(function: object, calls: int, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            function()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) / calls)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="claiv-bench-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        from claiv.metrics import registry

        def stage() -> None:
            with registry.enrichment_stage_timer("extract"):
                pass

        costs = {
            "recall_channel_observe": _per_call(
                lambda: registry.recall_channel_observe(channel="vector_events", seconds=0.001),
                args.calls,
                args.rounds,
            ),
            "embedding_call_record": _per_call(
                lambda: registry.embedding_call_record(provider="local", texts=1),
                args.calls,
                args.rounds,
            ),
            "enrichment_stage_timer": _per_call(stage, args.calls, args.rounds),
            "llm_call_record (2 token counters)": _per_call(
                lambda: registry.llm_call_record(ok=True, prompt_tokens=10, completion_tokens=5),
                args.calls,
                args.rounds,
            ),
        }
        for name, seconds in costs.items():
            print(f"{name}: {seconds * 1e6:.2f} µs")
        recall = 4 * costs["recall_channel_observe"] + costs["embedding_call_record"]
        print(f"one recall's metrics: {recall * 1e6:.1f} µs")
        # The request middleware's cost in the same run, for a ratio against its quiet figure.
        print(f"loadavg {open('/proc/loadavg').read().strip()}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
