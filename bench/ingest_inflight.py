"""How single ingests are served: requests inside Django at once per web process, keep-alive
connections per process, and CPU per event of every process of the stack.

Starts a stack (bench/stack.py: 2 gunicorn ASGI workers, a Celery worker enriching), sends
POST /v1/ingest from `--clients` keep-alive clients for `--seconds`, and meanwhile:
- counts each web worker's established connections (`ss`, once, a second in);
- with `--py-spy`, dumps each worker's Python stacks repeatedly and counts the threads that
  are inside Django's request path (a frame of `get_response`) at that moment;
- reads the CPU time of every process of the stack (web workers, Celery, Postgres, Valkey)
  before and after, and divides by the events stored.
Also prints the client p50 and the server's own `Server-Timing: app;dur=` p50. Measured,
never asserted; `py-spy dump` costs CPU, so the rate of a `--py-spy` run is not a figure.

    CLAIV_ADMISSION_INGEST=16 .venv/bin/python -m bench.ingest_inflight --seconds 20 --py-spy

`--wait-probe` also splits each request's time inside the web worker into on-CPU, run queue
and blocked, per kind of round trip (bench/wait_probe.py). The client's own CPU (this
process: 8 threads building, sending and reading requests) is printed too: it shares the
machine's cores with the stack.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.ingest_rate import _event
from bench.stack import ROOT, running_stack
from bench.wait_probe import summary

_HZ = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _tree(pid: int) -> list[int]:
    return [pid, *(p for child in _children(pid) for p in _tree(child))]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _HZ


def _connections(port: int) -> dict[int, int]:
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
    ).stdout
    per: dict[int, int] = {}
    for line in out.splitlines():
        if "pid=" in line:
            pid = int(line.split("pid=")[1].split(",")[0])
            per[pid] = per.get(pid, 0) + 1
    return per


def _inside_django(py_spy: str, pid: int) -> int:
    dump = subprocess.run(
        [py_spy, "dump", "--pid", str(pid), "--nonblocking"], capture_output=True, text=True
    ).stdout
    return sum(1 for thread in dump.split("\nThread ") if "get_response" in thread)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--py-spy", action="store_true", help="sample threads inside Django")
    parser.add_argument(
        "--wait-probe", action="store_true", help="split the request's time in the web worker"
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench/.cache/ingest-inflight")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    probe = args.data_dir / "wait-probe" / str(os.getpid())
    if args.wait_probe:
        probe.parent.mkdir(parents=True, exist_ok=True)
    with running_stack(
        data_dir=args.data_dir,
        web_workers=2,
        worker_concurrency=1,
        gunicorn_args=("--config", "python:bench.wait_probe_conf") if args.wait_probe else (),
        extra_env={"CLAIV_WAIT_PROBE": str(probe)} if args.wait_probe else None,
    ) as stack:
        me = os.getpid()
        procs = [p for child in _children(me) for p in _tree(child)]
        data = str(args.data_dir).encode()
        for entry in Path("/proc").iterdir():  # Postgres runs detached from this process
            if entry.name.isdigit() and data in _cmdline(int(entry.name)):
                procs += _tree(int(entry.name))
        procs = sorted(set(procs))
        master = next(p for p in _children(me) if b"gunicorn" in _cmdline(p))
        workers = _children(master)
        parts = urlsplit(stack.base_url)
        headers = {"Authorization": f"Bearer {stack.api_key}", "Content-Type": "application/json"}
        stop = time.monotonic() + args.seconds
        # Unique per run: the event counter restarts at 0 in every run and the data
        # directory is reused, so a fixed label repeats the previous run's bodies; within
        # 60 s (memory.ingest.RETRY_WINDOW) those are answered as retries (deduplicated,
        # nothing inserted or published) and the run measures the wrong path.
        label = f"inflight-{time.time_ns()}"
        client_ms: list[float] = []
        app_ms: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()

        def client() -> None:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
            while time.monotonic() < stop:
                started = time.perf_counter()
                conn.request("POST", "/v1/ingest", json.dumps(_event(label)), headers)
                response = conn.getresponse()
                response.read()
                elapsed = (time.perf_counter() - started) * 1000
                timing = response.getheader("Server-Timing") or ""
                with lock:
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                    client_ms.append(elapsed)
                    if "app;dur=" in timing:
                        app_ms.append(float(timing.split("app;dur=")[1].split(",")[0]))
            conn.close()

        before = {p: _cpu_seconds(p) for p in procs}
        own_before = resource.getrusage(resource.RUSAGE_SELF)
        load = open("/proc/loadavg").read().split()[0]
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(1)  # let the clients connect before counting their connections
        per_worker = _connections(parts.port or 0)
        inside: dict[int, list[int]] = {w: [] for w in workers}
        while args.py_spy and time.monotonic() < stop - 1:
            for w in workers:
                inside[w].append(_inside_django(py_spy, w))
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        after = {p: _cpu_seconds(p) for p in procs}
        own_after = resource.getrusage(resource.RUSAGE_SELF)
        own_cpu = sum(
            getattr(own_after, f) - getattr(own_before, f) for f in ("ru_utime", "ru_stime")
        )
        stored = statuses.get(200, 0)
        print(
            f"x{args.clients}: {stored / wall:.0f} events/s {statuses}; client p50 "
            f"{statistics.median(client_ms):.1f} ms, server app p50 "
            f"{statistics.median(app_ms):.1f} ms; load {load} -> "
            f"{open('/proc/loadavg').read().split()[0]}"
        )
        for w in workers:
            samples = inside[w]
            spread = (
                f"; inside Django max {max(samples)}, mean {statistics.mean(samples):.1f}"
                if samples
                else ""
            )
            print(f"web worker {w}: {per_worker.get(w, 0)} connections{spread}")
        groups: dict[str, float] = {}
        for p in procs:
            line = _cmdline(p)
            if p in workers:
                group = f"web worker {p}"
            elif b"postgres" in line:
                group = "postgres"
            elif b"valkey" in line or b"redis" in line:
                group = "valkey"
            elif b"celery" in line:
                group = "celery"
            else:
                group = "other (gunicorn master, ...)"
            groups[group] = groups.get(group, 0.0) + after[p] - before[p]
        for group, cpu in sorted(groups.items(), key=lambda kv: -kv[1]):
            print(
                f"  {group}: {cpu / wall * 100:.0f} % of a core, "
                f"{cpu / max(stored, 1) * 1000:.2f} ms CPU per event"
            )
        print(
            f"  bench client (this process): {own_cpu / wall * 100:.0f} % of a core, "
            f"{own_cpu / max(stored, 1) * 1000:.2f} ms CPU per event"
        )
    if args.wait_probe:
        print("\n".join(summary(sorted(probe.parent.glob(f"{probe.name}.*.jsonl")))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
