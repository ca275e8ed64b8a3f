"""Every statement of real recalls, as the recall ran it: time, buffers found in shared
buffers and buffers read from outside them, per channel.

    .venv/bin/python -m bench.recall_statements --size 100000 --queries 30

`bench.long_history`'s plans are `EXPLAIN (ANALYZE, BUFFERS)` of one recall's statements
run again right after it: warm, every page just read. Here `auto_explain` runs inside the
recall's own session (`log_min_duration = 0`, with buffers and I/O timing), so the figures
are those of the pipelined statements as recall sends them, each query's pages as cold or
warm as the mix of questions leaves them. The plans go to the embedded server's log (its
data directory's `postgres/log`); this reads the part the run wrote and groups it by
statement. Users and data: `bench.long_history` (same data directory, `--data-dir`).
"""

from __future__ import annotations

import argparse
import gc
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from bench import long_history

_ENTRY = re.compile(r"^\S+ \S+ \S+ \[\d+\] LOG:  duration: ([\d.]+) ms  plan:")
_KIND = re.compile(r"kind = '(\w+)'")


def statement_kind(text: str) -> str:
    """A recall statement's channel, from its text (the plan's 'Query Text')."""
    text = " ".join(text.split())
    if text.startswith("WITH small"):
        found = _KIND.search(text)
        return f"vector {found.group(1) if found else '?'}"
    if text.startswith("SELECT p.event_id, p.id, s.score"):
        return "keyword passage"
    if "WITH terms" in text[:40] or text.startswith("WITH few"):
        found = _KIND.search(text)
        return f"keyword {found.group(1) if found else '?'}"
    for prefix, name in (
        ("SELECT EXISTS (SELECT 1 FROM memory_event", "any visible event"),
        ("SELECT f.id FROM unnest", "predicate"),
        ("SELECT r.id, r.event_time >=", "temporal"),
        ("SELECT * FROM ((SELECT r.id, true AS inside", "temporal"),
        ("SELECT c.id, c.micros", "locality (neighbours)"),
        ("SELECT r.id, (extract(epoch", "timeline (whole)"),
        ('SELECT r."id", r."conversation_id"', "hydrate events"),
        ('SELECT r."id", r."tenant_id", r."user_id", r."subject"', "hydrate facts / instructions"),
        ('SELECT r."id", r."tenant_id", r."user_id", r."conversation_id"', "hydrate episodes"),
    ):
        if text.startswith(prefix):
            return name
    return text[:40]


def parse(log: str) -> dict[str, list[tuple[float, int, int, float]]]:
    """auto_explain entries of `log` -> {statement kind: [(ms, shared hit, shared read,
    read I/O ms)]}, the buffers and I/O of each plan's top node."""
    entries: list[tuple[float, list[str]]] = []
    current: list[str] | None = None
    for line in log.split("\n"):
        found = _ENTRY.match(line)
        if found:
            current = []
            entries.append((float(found.group(1)), current))
        elif re.match(r"\d{4}-", line):
            current = None
        elif current is not None:
            current.append(line)
    grouped: dict[str, list[tuple[float, int, int, float]]] = defaultdict(list)
    for ms, lines in entries:
        text = " ".join(lines)
        query = text.split("Query Text:", 1)[1] if "Query Text:" in text else ""
        buffers = next((line for line in lines if "Buffers: shared" in line), "")
        io = next((line for line in lines if "I/O Timings:" in line), "")
        hit = re.search(r"hit=(\d+)", buffers)
        read = re.search(r"read=(\d+)", buffers)
        io_read = re.search(r"read=([\d.]+)", io)
        grouped[statement_kind(query.strip())].append(
            (
                ms,
                int(hit.group(1)) if hit else 0,
                int(read.group(1)) if read else 0,
                float(io_read.group(1)) if io_read else 0.0,
            )
        )
    return grouped


def run(
    size: int,
    queries: list[str],
    warm: int,
    budget: int,
    log_path: Path,
    warm_with: Sequence[str] = (),
) -> str:
    """The server log written while `queries` were recalled for user lh-`size` (after
    `warm_with` and the first `warm` of them, not logged)."""
    from django.db import connection

    recall = long_history.recaller(size, budget)
    for query in [*warm_with, *queries[:warm]]:
        recall(query)
    gc.collect()
    gc.freeze()
    start = log_path.stat().st_size
    with connection.cursor() as cursor:
        cursor.execute("LOAD 'auto_explain'")
        for setting in (
            "auto_explain.log_min_duration = 0",
            "auto_explain.log_analyze = on",
            "auto_explain.log_buffers = on",
            "auto_explain.log_timing = on",
            "track_io_timing = on",
        ):
            cursor.execute(f"SET {setting}")
    try:
        for query in queries[warm:]:
            recall(query)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET auto_explain.log_min_duration = -1")
    with log_path.open() as log:
        log.seek(start)
        return log.read()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument(
        "--warm-other", type=int, default=0, help="warm up with this many other questions too"
    )
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--data-dir", type=Path, default=long_history.CACHE)
    args = parser.parse_args(argv)
    postgres = long_history.start(args.data_dir)
    try:
        # The questions of bench.long_history (its 60, then more if asked for).
        chosen = long_history.questions(max(60, args.warm + args.queries))
        chosen = chosen[: args.warm + args.queries]
        warm_with = long_history.other_questions(args.warm_other, chosen) if args.warm_other else []
        written = run(
            args.size,
            chosen,
            args.warm,
            args.budget,
            args.data_dir / "postgres" / "log",
            warm_with,
        )
    finally:
        postgres.stop()  # type: ignore[attr-defined]
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    print(f"lh-{args.size}, {args.queries} recalls at {args.budget} tokens (load {load}):")
    print("statement | n | ms p50 / p90 | buffers hit p50 | read p50 | read I/O ms p50")
    grouped = parse(written)
    for kind, rows in sorted(grouped.items(), key=lambda item: -sum(r[0] for r in item[1])):
        if len(rows) < max(2, args.queries // 10):
            continue
        ms = sorted(r[0] for r in rows)
        print(
            f"{kind} | {len(rows)} | {statistics.median(ms):.2f} / {ms[int(len(ms) * 0.9)]:.2f} | "
            f"{statistics.median(r[1] for r in rows):.0f} | "
            f"{statistics.median(r[2] for r in rows):.0f} | "
            f"{statistics.median(r[3] for r in rows):.2f}"
        )
    every = [r for rows in grouped.values() for r in rows]
    print(
        f"per recall, every statement: {sum(r[0] for r in every) / args.queries:.1f} ms, "
        f"{sum(r[1] for r in every) / args.queries:.0f} buffers hit, "
        f"{sum(r[2] for r in every) / args.queries:.0f} read "
        f"({sum(r[3] for r in every) / args.queries:.1f} ms of read I/O)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
