"""Ingest in-process: the whole Django request path (middleware, key, limiter, metering,
validation, the transaction, the publish after commit) through `django.test.Client`, no
HTTP server, against an embedded Postgres + Valkey. For A/B ratios on a shared machine:
the variants run interleaved, repetition by repetition, in the same process.

Variants of a batch: `copy` (what runs: memory.ingest._events_insert, and one
`enrichment.events` message per ENRICH_MESSAGE_EVENTS events), `orm` (Django's
bulk_create, what the COPY replaced) and `chains` (the COPY, but one five-task chain message
per event, what the per-part messages replaced), `prep` (every row value through
get_db_prep_save, what ingest._row_values replaced). Measured, never asserted.

    .venv/bin/python -m bench.ingest_inprocess --repeat 7
    .venv/bin/python -m bench.ingest_inprocess --profile single   # cProfile of /v6/ingest
    PROFILE_TIMER=cpu .venv/bin/python -m bench.ingest_inprocess --profile single  # CPU only

`--compare validate` instead runs, interleaved, a batch and `--singles` single ingests with
each item validated by the shortcut (`fast`, memory.api.ingest_items: what runs) or by
IngestSerializer (`drf`, what it replaced); `--compare postings` with the keyword postings
trigger of memory_event's INSERTs (0018_keyword_postings) on (what runs) and off (what
postings upkeep costs ingest; reference only: recall needs the postings); `--compare
publish` with a single ingest's enqueue written straight to the broker (`lean`,
enrichment.publish: what runs) or through Celery (`celery`, what it replaced). Each also
prints the CPU per single ingest of this process and of its Postgres backend.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import os
import pstats
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.inprocess_api import inprocess_api

_SEQ = itertools.count()


def _event(run: str) -> dict[str, object]:
    n = next(_SEQ)
    return {
        "user_id": f"rate-{n % 20}",
        "type": "message",
        "role": "user",
        "conversation_id": f"c{n % 7}",
        "content": f"[{run} #{n}] I moved to Lisbon last spring and I work as a nurse.",
    }


def _chains_publish(event_ids: Sequence[str]) -> None:
    """The former batch publish: one chain of the five stage tasks per event, in one
    pipelined round trip (as enrichment.workflows did before the per-part messages)."""
    from celery import current_app, signature

    from enrichment import outstanding, workflows

    outstanding.chain_sending(*event_ids)
    with (
        current_app.producer_or_acquire() as producer,
        producer.batch(max_size=workflows.PUBLISH_BATCH_COMMANDS),
    ):
        for event_id in event_ids:
            first, *rest = [
                signature(name, args=(event_id,), immutable=True) for name in workflows.STAGE_TASKS
            ]
            first.apply_async(producer=producer, chain=list(reversed(rest)))


def _variants() -> dict[str, tuple[Callable[[Sequence[Any]], None], Callable[..., None]]]:
    """Variant name -> (the batch's INSERT, the batch's publish)."""
    from enrichment import workflows
    from memory import ingest
    from memory.models import Event

    def orm(events: Sequence[Any]) -> None:
        Event.objects.bulk_create(list(events))

    def prep_all(events: Sequence[Any]) -> None:
        # The COPY with every value through get_db_prep_save (before ingest._row_values).
        from django.db import connection

        fields = [(f.pre_save, f.get_db_prep_save) for f in ingest._INSERT_FIELDS]
        with connection.cursor() as cursor, cursor.cursor.copy(ingest._COPY_SQL) as copy:
            for event in events:
                copy.write_row([prep(pre(event, True), connection) for pre, prep in fields])
        for event in events:
            event._state.adding = False

    insert, publish = ingest._events_insert, workflows.enrichment_enqueue_many
    return {
        "copy": (insert, publish),
        "orm": (orm, publish),
        "chains": (insert, _chains_publish),
        "prep": (prep_all, publish),
    }


def _compare_arms(what: str) -> dict[str, Callable[[], None]]:
    """Arm name -> what switches the process (or the database) to that arm."""
    from django.db import connection

    from memory.api import batch as batch_view
    from memory.api import ingest_items
    from memory.api import views as ingest_views

    if what == "validate":

        def shortcut(on: bool) -> Callable[[], None]:
            def switch() -> None:
                chosen = ingest_items.ingest_item_fast if on else (lambda *a, **k: None)
                batch_view.ingest_item_fast = chosen  # type: ignore[assignment]
                ingest_views.ingest_item_fast = chosen  # type: ignore[assignment]

            return switch

        return {"fast": shortcut(True), "drf": shortcut(False)}
    if what == "publish":
        from enrichment import publish

        lean_route = publish.lean_route

        def path(lean: bool) -> Callable[[], None]:
            def switch() -> None:
                publish.lean_route = lean_route if lean else (lambda: None)  # type: ignore[assignment]

            return switch

        return {"lean": path(True), "celery": path(False)}
    table = "memory_event"

    def triggers(arm: str) -> Callable[[], None]:
        def switch() -> None:
            state = "ENABLE" if arm == "on" else "DISABLE"
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER TABLE {table} {state} TRIGGER keyword_postings_insert")

        return switch

    return {arm: triggers(arm) for arm in ("on", "off")}


def _validation_cpu(size: int, rounds: int = 20) -> None:
    """CPU time (process time: independent of the machine's load) of validating `size`
    items by the shortcut and by the reused IngestSerializer, interleaved."""
    from claiv.api import ItemValidator
    from memory.api.ingest_items import ingest_item_fast
    from memory.api.serializers import IngestSerializer

    items = [_event("cpu") for _ in range(size)]
    serializer = ItemValidator(IngestSerializer)
    fast_s: list[float] = []
    drf_s: list[float] = []
    for _ in range(rounds):
        for validate, times in ((ingest_item_fast, fast_s), (serializer, drf_s)):
            started = time.process_time()
            for item in items:
                validate(item)
            times.append(time.process_time() - started)
    fast, drf = statistics.median(fast_s), statistics.median(drf_s)
    print(
        f"validation CPU per item: shortcut {fast / size * 1e6:.1f} us, IngestSerializer "
        f"{drf / size * 1e6:.1f} us ({drf / fast:.0f}x); per {size}-item batch "
        f"{fast * 1000:.1f} vs {drf * 1000:.1f} ms",
        flush=True,
    )


def _compare(
    what: str,
    *,
    repeat: int,
    batch: Callable[[str], None],
    single: Callable[[str], None],
    singles: int,
    batch_size: int,
) -> None:
    arms = _compare_arms(what)
    if what == "validate":
        _validation_cpu(batch_size)
    batch_ms: dict[str, list[float]] = {a: [] for a in arms}
    single_ms: dict[str, list[float]] = {a: [] for a in arms}
    # CPU per single ingest of this process and of its Postgres backend (its /proc stat:
    # the embedded server runs on this machine), which the load disturbs less than time.
    single_cpu: dict[str, list[tuple[float, float]]] = {a: [] for a in arms}
    backend = _backend_pid()
    print(f"load average at start: {open('/proc/loadavg').read().strip()}")
    for rep in range(repeat):
        # Rotate the order, so no arm always runs first (or right after the same other).
        names = list(arms)
        names = names[rep % len(names) :] + names[: rep % len(names)]
        for arm in names:
            arms[arm]()
            started = time.perf_counter()
            batch(f"{arm}{rep}")
            batch_ms[arm].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            cpu, pg = time.process_time(), _pid_cpu(backend)
            for _ in range(singles):
                single(f"{arm}s{rep}")
            single_ms[arm].append((time.perf_counter() - started) / singles * 1000)
            single_cpu[arm].append(
                (
                    (time.process_time() - cpu) / singles * 1000,
                    (_pid_cpu(backend) - pg) / singles * 1000,
                )
            )
    arms[next(iter(arms))]()  # back to what runs
    print(f"load average at end: {open('/proc/loadavg').read().strip()}")
    base = next(iter(arms))
    for arm in arms:
        b, s1 = statistics.median(batch_ms[arm]), statistics.median(single_ms[arm])
        line = (
            f"[{arm}] batch of {batch_size}: median {b:.0f} ms ({batch_size / b * 1000:.0f} "
            f"events/s); single: median {s1:.2f} ms"
        )
        if arm != base:
            rb = [x / y for x, y in zip(batch_ms[arm], batch_ms[base], strict=True)]
            rs = [x / y for x, y in zip(single_ms[arm], single_ms[base], strict=True)]
            line += (
                f"; {arm}/{base} per repetition: batch {statistics.median(rb):.2f}x, "
                f"single {statistics.median(rs):.2f}x"
            )
        web = statistics.median(c[0] for c in single_cpu[arm])
        pg = statistics.median(c[1] for c in single_cpu[arm])
        line += f"; single CPU ms: this process {web:.2f}, Postgres backend {pg:.2f}"
        print(line, flush=True)


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _pid_cpu(pid: int) -> float:
    """User + system CPU seconds of a process of this machine (clock ticks)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--singles", type=int, default=200, help="single ingests per repetition")
    parser.add_argument("--variants", default="copy,orm,chains")
    parser.add_argument("--profile", choices=["single", "batch"], default=None)
    parser.add_argument("--compare", choices=["validate", "postings", "publish"], default=None)
    args = parser.parse_args(argv)

    with inprocess_api(prefix="ingest-inprocess-", tenant_slug="bench") as api:
        from enrichment import workflows
        from memory import ingest

        client = api.client

        def single(run: str) -> None:
            r = client.post("/v6/ingest", _event(run), content_type="application/json")
            assert r.status_code in (200, 201), r.content

        def batch(run: str) -> None:
            events = [_event(run) for _ in range(args.batch_size)]
            r = client.post("/v1/ingest/batch", {"events": events}, content_type="application/json")
            assert r.status_code == 200, r.content

        for _ in range(3):  # warm-up: imports, connections, caches
            single("warm")
        batch("warm")
        if args.compare:
            _compare(
                args.compare,
                repeat=args.repeat,
                batch=batch,
                single=single,
                singles=args.singles,
                batch_size=args.batch_size,
            )
            return 0
        if args.profile:
            # PROFILE_TIMER=cpu: this process's CPU time only (waits on Postgres and Redis
            # drop out), which a loaded machine disturbs far less than wall time.
            timer = time.process_time if os.environ.get("PROFILE_TIMER") == "cpu" else None
            profile = cProfile.Profile(timer) if timer else cProfile.Profile()
            profile.enable()
            for _ in range(1 if args.profile == "batch" else 200):
                (batch if args.profile == "batch" else single)("profile")
            profile.disable()
            if os.environ.get("PROFILE_DUMP"):
                profile.dump_stats(os.environ["PROFILE_DUMP"])
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats(
                os.environ.get("PROFILE_SORT", "cumulative")
            ).print_stats(45)
            print(out.getvalue())
            return 0
        variants = _variants()
        chosen = args.variants.split(",")
        batch_s: dict[str, list[float]] = {v: [] for v in chosen}
        single_ms: list[float] = []
        # The single-event path in one round trip (what runs) and as four (BEGIN, lock,
        # statement, COMMIT: what it replaced), interleaved.
        one_trip = ingest._one_round_trip_possible
        atomic_ms: list[float] = []
        print(f"load average at start: {open('/proc/loadavg').read().strip()}")
        for rep in range(args.repeat):
            for variant in chosen:
                ingest._events_insert, workflows.enrichment_enqueue_many = variants[variant]  # type: ignore[assignment]
                started = time.perf_counter()
                batch(f"{variant}{rep}")
                batch_s[variant].append(time.perf_counter() - started)
            ingest._events_insert, workflows.enrichment_enqueue_many = variants["copy"]  # type: ignore[assignment]
            for path, times in ((one_trip, single_ms), (lambda: False, atomic_ms)):
                ingest._one_round_trip_possible = path  # type: ignore[assignment]
                started = time.perf_counter()
                for _ in range(args.singles):
                    single(f"s{rep}")
                times.append((time.perf_counter() - started) / args.singles * 1000)
            ingest._one_round_trip_possible = one_trip  # type: ignore[assignment]
        print(f"load average at end: {open('/proc/loadavg').read().strip()}")
        for variant, times in batch_s.items():
            median = statistics.median(times)
            print(
                f"batch of {args.batch_size} [{variant}]: median {median * 1000:.0f} ms "
                f"({args.batch_size / median:.0f} events/s); runs "
                + ", ".join(f"{t * 1000:.0f}" for t in times)
            )
        for other in ("orm", "chains", "prep"):
            if {"copy", other} <= set(chosen):
                ratios = [o / c for o, c in zip(batch_s[other], batch_s["copy"], strict=True)]
                print(f"{other}/copy per repetition: median {statistics.median(ratios):.2f}x")
        median = statistics.median(single_ms)
        print(
            f"single /v6/ingest, sequential: median {median:.2f} ms per request "
            f"({1000 / median:.0f} events/s one client); runs "
            + ", ".join(f"{t:.2f}" for t in single_ms)
        )
        ratios = [a / o for a, o in zip(atomic_ms, single_ms, strict=True)]
        print(
            f"single, four round trips (BEGIN, lock, statement, COMMIT): median "
            f"{statistics.median(atomic_ms):.2f} ms; atomic/one-trip per repetition: median "
            f"{statistics.median(ratios):.2f}x"
        )
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
