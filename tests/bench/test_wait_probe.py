"""bench.wait_probe: round trips counted once at their outermost call and only inside a
request, and the summary's split adds up (wall = on-CPU + run queue + blocked)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from bench import wait_probe


class _Client:
    def outer(self) -> str:
        return self.inner()

    def inner(self) -> str:
        return "answer"


def test_round_trips_are_counted_once_and_only_inside_a_request() -> None:
    class Client(_Client):
        pass

    wait_probe._wrap(Client, "outer", "celery")
    wait_probe._wrap(Client, "inner", "redis")
    assert Client().inner() == "answer"  # outside a request: nothing to count into
    wait_probe._local.acc = defaultdict(float)
    try:
        assert Client().outer() == "answer"  # the publish and the LPUSH inside it
        assert Client().inner() == "answer"
        acc = dict(wait_probe._local.acc)
    finally:
        wait_probe._local.acc = None
    assert acc["celery.n"] == 1
    assert acc["redis.n"] == 1  # the nested call went to the outer kind
    assert acc["celery.wall"] >= acc["celery.cpu"] >= 0


def test_summary_splits_wall_time_per_request_and_per_worker(tmp_path: Path) -> None:
    def write(pid: int, records: list[dict[str, float]]) -> Path:
        path = tmp_path / f"probe.{pid}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        return path

    ms = 1_000_000
    busy = write(
        11,
        [
            {
                "wall": 30 * ms,
                "cpu": 4 * ms,
                "runq": 6 * ms,
                "pg.wall": 12 * ms,
                "pg.cpu": 1 * ms,
                "pg.runq": 2 * ms,
                "pg.n": 2,
            }
        ]
        * 3,
    )
    quiet = write(12, [{"wall": 18 * ms, "cpu": 4 * ms, "runq": 6 * ms}])
    lines = wait_probe.summary([busy, quiet], skip_fraction=0)
    assert lines[0] == "wait probe, 4 requests, mean per request:"
    assert lines[1] == "  request  27.00 ms = on-CPU  4.00 + run queue   6.00 + blocked 17.00"
    assert "pg      x1.5   9.00 ms = on-CPU  0.75 + run queue   1.50 + blocked  6.75" in lines[3]
    assert lines[-2].startswith("  worker 11 (3 requests)  30.00 ms")
    assert lines[-2].endswith("blocked 20.00")
    assert lines[-1].endswith("blocked  8.00")
