"""Offline extractor and temporal resolver speed: CPU milliseconds per typical chat message.

A benchmark, not a test (speed is never asserted in the suite). The extractor's target is
≤ 2 ms per message; both measured ~0.5 ms on this project's 2-core machine.

    .venv/bin/python -m bench.extractor_speed [--rounds 40] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

MESSAGES = [
    "I live in Oslo and I work at Equinor.",
    "Caroline: I went to a LGBTQ support group yesterday and it was so powerful.",
    "Thanks! My sister Anna lives in Rome. She is a nurse.",
    "I'm thinking about moving, but I love my job as a teacher.",
    "ok sounds good",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
    import django

    django.setup()
    from enrichment.extraction.offline import OfflineExtractor
    from enrichment.propositions import ExtractionInput
    from memory.vocabulary.temporal import temporal_resolve

    extractor = OfflineExtractor()
    when = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    items = [
        ExtractionInput(content=m, event_type="message", role="user", event_time=when)
        for m in MESSAGES
    ]
    extractor.extract(items[0])  # dateparser loads its language data on first use
    _report("offline extractor", lambda: [extractor.extract(item) for item in items], args)
    _report(
        "temporal resolver",
        lambda: [temporal_resolve(m, reference=when) for m in MESSAGES],
        args,
    )


def _report(name: str, one_round: Callable[[], object], args: argparse.Namespace) -> None:
    results = []
    for _ in range(args.repeats):
        started = time.process_time()
        for _ in range(args.rounds):
            one_round()
        results.append((time.process_time() - started) * 1000 / (args.rounds * len(MESSAGES)))
    print(
        f"{name}: best {min(results):.3f} ms, median "
        f"{sorted(results)[len(results) // 2]:.3f} ms CPU per message "
        f"({args.repeats} x {args.rounds} rounds of {len(MESSAGES)}; "
        f"load {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
