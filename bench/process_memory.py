"""RSS / PSS / private memory of every process of the idle `make dev` stack.

Starts `python -m claiv.devstack` in a fresh data directory (embedded PostgreSQL and Valkey
included), waits for "[dev] up", lets it idle, then reads `/proc/<pid>/smaps_rollup` of the
supervisor and every descendant and prints a Markdown table (MB = 10^6 bytes):

    .venv/bin/python bench/process_memory.py [--idle 20] [--port 8765] [--exercise 60]

`--exercise N` first ingests N events through the API (the workers enrich them: torch runs
in every pool process) and asks 10 recalls (ONNX in the web workers), so the table shows
processes that have worked, not only freshly forked ones.

Private = Private_Clean + Private_Dirty: what the process would give back if it exited,
i.e. what one more web or worker process costs. PSS shares each page among the processes
mapping it, so the PSS column sums to the stack's real footprint.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def smaps_rollup(pid: int) -> dict[str, int]:
    """kB figures of /proc/<pid>/smaps_rollup (Rss, Pss, Private_Dirty, …)."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                values[parts[0].rstrip(":")] = int(parts[1])
    return values


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[tuple[int, int]]:
    """(pid, parent) of every process under `pid`, depth first."""
    out: list[tuple[int, int]] = []
    for child in children_of(pid):
        out.append((child, pid))
        out += descendants(child)
    return out


def role(pid: int, parent_role: str) -> str:
    """A short name for a stack process from its command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(a.decode(errors="replace") for a in argv if a)
    if "gunicorn" in text:
        return "web worker" if parent_role.startswith("web") else "web master (gunicorn)"
    if "celery" in text and " beat" in text:
        return "beat"
    if "celery" in text and " worker" in text:
        if parent_role.startswith("worker"):
            return "worker pool child"
        return "worker parent (celery)"
    if "postgres" in text:
        return "postgres"
    if "valkey" in text or "redis" in text:
        return "valkey"
    if "devstack" in text:
        return "supervisor"
    return Path(argv[0].decode(errors="replace")).name or "?"


def detached(data: str, known: set[int]) -> list[tuple[int, int]]:
    """Processes started for the stack that left its tree (pg_ctl daemonizes PostgreSQL):
    those whose command line names the stack's data directory, with their descendants."""
    found: list[tuple[int, int]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in known:
            continue
        try:
            if data.encode() in (entry / "cmdline").read_bytes():
                found.append((int(entry.name), 0))
                found += descendants(int(entry.name))
        except OSError:
            continue
    return found


def table(root: int, data: str) -> list[tuple[str, int, dict[str, int]]]:
    roles = {root: role(root, "")}
    rows = [(roles[root], root, smaps_rollup(root))]
    tree = descendants(root)
    tree += detached(data, {root, *(pid for pid, _ in tree)})
    for pid, parent in tree:
        roles[pid] = role(pid, roles.get(parent, ""))
        try:
            rows.append((roles[pid], pid, smaps_rollup(pid)))
        except OSError:
            continue
    return rows


def render(rows: list[tuple[str, int, dict[str, int]]]) -> str:
    def mb(kb: int) -> str:
        return f"{kb * 1024 / 1e6:,.0f}"

    lines = ["| process | RSS MB | PSS MB | private MB |", "|---|---:|---:|---:|"]
    totals = {"Rss": 0, "Pss": 0, "private": 0}
    grouped: dict[str, list[dict[str, int]]] = {}
    for name, _, values in rows:
        grouped.setdefault(name, []).append(values)
    for name, group in grouped.items():
        if name == "postgres":  # a dozen small server processes: one summed row
            keys = ("Rss", "Pss", "Private_Clean", "Private_Dirty")
            group = [{key: sum(v.get(key, 0) for v in group) for key in keys}]
            name = f"postgres (all {len(grouped['postgres'])} processes, summed)"
        for values in group:
            private = values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)
            totals["Rss"] += values["Rss"]
            totals["Pss"] += values["Pss"]
            totals["private"] += private
            lines.append(f"| {name} | {mb(values['Rss'])} | {mb(values['Pss'])} | {mb(private)} |")
    lines.append(f"| **stack ({len(rows)} processes)** | | **{mb(totals['Pss'])}** | |")
    return "\n".join(lines)


def exercise(base: str, key: str, events: int) -> None:
    """Ingest `events` events spread over the stack, then recall; wait for enrichment."""
    import json
    import urllib.request

    def post(path: str, body: dict[str, object]) -> dict[str, object]:
        request = urllib.request.Request(
            f"{base}{path}",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    texts = [
        "I moved to Berlin in 2021 with my two cats.",
        "My sister Ana works as a nurse in Madrid.",
        "Yesterday I ran a 10k charity race for mental health.",
        "I'm allergic to peanuts, so please never suggest Thai satay.",
    ]
    last = ""
    for i in range(events):
        last = str(
            post(
                "/v1/ingest",
                {
                    "user_id": f"mem-{i % 4}",
                    "type": "message",
                    "role": "user",
                    "thread_id": "t1",
                    "content": f"{texts[i % len(texts)]} (note {i})",
                },
            )["event_id"]
        )
    for i in range(10):
        post(
            "/v1/recall",
            {"user_id": f"mem-{i % 4}", "task": "Where do I live?", "token_budget": 500},
        )
    # Enrichment is asynchronous: poll the last event's status (bounded) before idling.
    deadline = time.monotonic() + 300
    while last and time.monotonic() < deadline:
        request = urllib.request.Request(
            f"{base}/v1/events/{last}", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            if json.loads(response.read()).get("status") in ("enriched", "skipped", "failed"):
                return
        time.sleep(2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=20.0, help="seconds idle before reading")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--exercise", type=int, default=0, help="events to ingest first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="claiv-mem-") as data:
        env = dict(os.environ)
        for name in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"):
            env.pop(name, None)
        env["CLAIV_DATA_DIR"] = data
        env["PORT"] = str(args.port)
        # The exported ONNX graph is a cache: reuse the user's instead of exporting again.
        cache = Path.home() / ".cache" / "claiv" / "models"
        if cache.is_dir():
            os.symlink(cache, Path(data) / "models")
        stack = subprocess.Popen(
            [sys.executable, "-m", "claiv.devstack"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert stack.stdout is not None
            started = time.monotonic()
            key = ""
            for line in stack.stdout:
                if line.strip().startswith("export CLAIV_KEY="):
                    key = line.strip().split("=", 1)[1]
                if key and line.startswith("===="):
                    break
                if "did not come up" in line:
                    print(line, file=sys.stderr)
                    return 1
            else:
                return 1
            up = time.monotonic() - started
            # Keep draining the output so the stack never blocks on a full pipe.
            import threading

            threading.Thread(target=lambda: [None for _ in stack.stdout], daemon=True).start()
            if args.exercise:
                exercise(f"http://127.0.0.1:{args.port}", key, args.exercise)
            time.sleep(args.idle)  # a benchmark's idle period, not a readiness wait
            rows = table(stack.pid, data)
            print(f"stack up in {up:.0f} s; loadavg {Path('/proc/loadavg').read_text().strip()}")
            print(render(rows))
        finally:
            stack.send_signal(signal.SIGTERM)
            stack.wait(timeout=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
