"""CPU time of one enrichment publish (the single ingest's, after commit), in-process against
an embedded Valkey: the message as Celery builds it with its own `saferepr` of the args
and with `argsrepr`/`kwargsrepr` given, interleaved repetition by repetition, plus a raw
LPUSH of a message-sized value for scale; and the single ingest's whole enqueue, the
outstanding record then Celery's publish (what ran) against `enrichment.publish` (both in
one pipeline, what runs now).
Process time, so a loaded machine disturbs it less than wall time. Measured, never asserted.
The messages stay in the throwaway Valkey (no worker runs).

    .venv/bin/python -m bench.publish_cpu --repeat 12 --publishes 300
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable

from bench.inprocess_api import inprocess_api


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=12)
    parser.add_argument("--publishes", type=int, default=300)
    args = parser.parse_args(argv)
    with inprocess_api(prefix="publish-cpu-", tenant_slug="publish"):
        from celery import current_app

        from enrichment import workflows

        def saferepr(eid: str) -> None:
            workflows.enrichment_signature([eid]).apply_async()

        def given(eid: str) -> None:
            workflows.enrichment_signature([eid]).apply_async(
                argsrepr=f"([{eid!r}],)", kwargsrepr="{}"
            )

        with current_app.producer_or_acquire() as producer:
            client = producer.channel.client

            def lpush(eid: str) -> None:
                client.lpush("publish-cpu-raw", eid * 16)

            from enrichment import outstanding, publish

            route = publish.lean_route()
            assert route is not None

            def record_then_given(eid: str) -> None:
                outstanding.chain_sending(eid)
                given(eid)

            def lean(eid: str) -> None:
                publish.events_publish(route, [eid])

            arms: dict[str, Callable[[str], None]] = {
                "celery saferepr": saferepr,
                "argsrepr given": given,
                "raw LPUSH": lpush,
                # The whole enqueue of a single ingest: the outstanding record, then the
                # message (what ran before enrichment.publish), and the lean publish of
                # both in one pipeline (what runs now).
                "record + argsrepr given": record_then_given,
                "lean record + message": lean,
            }
            for arm in arms.values():  # warm: imports, connections
                for _ in range(50):
                    arm(str(uuid.uuid4()))
            cpu: dict[str, list[float]] = {name: [] for name in arms}
            print(f"load average at start: {open('/proc/loadavg').read().strip()}")
            for rep in range(args.repeat):
                names = list(arms)
                names = names[rep % len(names) :] + names[: rep % len(names)]
                for name in names:
                    started = time.process_time()
                    for _ in range(args.publishes):
                        arms[name](str(uuid.uuid4()))
                    cpu[name].append((time.process_time() - started) / args.publishes * 1e6)
            print(f"load average at end: {open('/proc/loadavg').read().strip()}")
        base = cpu["celery saferepr"]
        for name, times in cpu.items():
            ratio = statistics.median(t / b for t, b in zip(times, base, strict=True))
            print(
                f"{name}: median {statistics.median(times):.0f} us CPU per publish "
                f"({ratio:.2f}x of celery saferepr, per repetition)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
