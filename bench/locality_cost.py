"""CPU of recall's locality step on a LoCoMo-sized timeline: the general path (each
candidate's 2 x reach chains filtered by `own_thread`, then cut at a session gap) against
the read by position (`locality._around_on_timeline`), the same neighbours asserted.

    .venv/bin/python -m bench.locality_cost [--rounds 5]

Synthetic timeline: 600 turns in 30 sittings under one conversation id (as a LoCoMo user
fed with one id per conversation), 200 candidates (a 2,000-token recall's smoothed hits)
and 62 (500 tokens). Thread CPU time, the two paths alternating within each round.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
django.setup()

from memory.recall import locality  # noqa: E402
from memory.recall.locality import Around  # noqa: E402


def _timeline(rng: random.Random) -> locality.TimelineRows:
    rows: locality.TimelineRows = []
    moment = 0
    for _ in range(30):
        moment += 10 * locality._GAP_MICROS
        for _ in range(20):
            moment += rng.randint(5, 120) * 1_000_000
            rows.append((uuid.uuid4(), moment, "locomo-conv"))
    return rows


def _general(
    timeline: locality.TimelineRows, ids: list[uuid.UUID], reach: int
) -> dict[uuid.UUID, Around]:
    around = {}
    for event_id, moment, thread, before, after in locality._around_in(timeline, ids, 2 * reach):
        sides = [
            locality._same_session(
                moment, [(i, t) for i, t, _ in locality.own_thread(thread, chain)][:reach]
            )
            for chain in (before, after)
        ]
        around[event_id] = Around(before=sides[0], after=sides[1])
    return around


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(7)
    reach = len(locality.KERNEL)
    for candidates in (62, 200):
        timeline = _timeline(rng)
        ids = rng.sample([row[0] for row in timeline], candidates)
        fast = locality._around_on_timeline(timeline, ids, reach, True, True)
        assert fast == _general(timeline, ids, reach)
        fused = [(("event", i), rng.random()) for i in ids]
        costs: dict[str, list[float]] = {"general": [], "by position": []}
        for _ in range(args.rounds):
            for name in costs:
                started = time.thread_time()
                for _ in range(args.repeat):
                    if name == "general":
                        around = _general(timeline, ids, reach)
                    else:
                        around = locality._around_on_timeline(timeline, ids, reach, True, True)  # type: ignore[assignment]
                    locality.smooth(fused, around)
                costs[name].append((time.thread_time() - started) * 1000 / args.repeat)
        cells = ", ".join(
            f"{name} {statistics.median(v):.3f} ms (min {min(v):.3f})" for name, v in costs.items()
        )
        load = " ".join(open("/proc/loadavg").read().split()[:3])
        print(f"{candidates} candidates, turns_around + smooth CPU: {cells}; load {load}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
