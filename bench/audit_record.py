"""Per-recall cost of the audit write (memory.audit.audit_record), measured in-process.

    .venv/bin/python -m bench.audit_record [--calls 5000]

Starts an embedded Valkey, calls `audit_record` for a fake authenticated request the way
the recall view does (one RPUSH of one JSON line), and prints the mean and p50/p99 per
call. Flushing the buffer into Postgres runs in beat, off the request path, and is not
measured here. No database is touched.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://bench@127.0.0.1:1/none")
    from claiv.embedded import valkey_start

    server: object = valkey_start(
        data_dir=Path(tempfile.mkdtemp(prefix="claiv-bench-audit-")), persist=False
    )
    os.environ["REDIS_URL"] = server.connection_url  # type: ignore[attr-defined]
    try:
        import django

        django.setup()
        from memory.audit import BUFFER_KEY, audit_record
        from memory.metering import usage_redis

        key = SimpleNamespace(tenant_id="t", prefix="abcd1234")
        times = []
        for _ in range(args.calls):
            started = time.perf_counter()
            audit_record(
                key=key,
                action="recall",
                endpoint="POST /v1/recall",  # type: ignore[arg-type]
                request_id="bench",
                user_id="u1",
                counts={"tokens": 512, "cache_hit": 1},
            )
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        print(
            f"audit_record: {args.calls} calls, mean {statistics.mean(times):.3f} ms, "
            f"p50 {times[len(times) // 2]:.3f} ms, p99 {times[int(len(times) * 0.99)]:.3f} ms; "
            f"buffered {usage_redis().llen(BUFFER_KEY)}"
        )
    finally:
        server.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
