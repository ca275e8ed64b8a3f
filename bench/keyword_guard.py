"""The keyword channels' quality guard: LoCoMo in-process recall (`bench.locomo_inprocess`)
with `bm25.FEW_ROWS` forced to 0, so that every keyword channel of every LoCoMo user takes
the postings plan (`bm25_sql(postings=True)`) instead of reading the user's rows whole (all
LoCoMo users are below FEW_ROWS, so without this a change to the postings plan is never
exercised by LoCoMo). Works on a migrated copy of the LoCoMo stack's database.

    .venv/bin/python -m bench.keyword_guard --copy bench/.cache/guard-pg \
        --conversations 0-1 --budgets 500,2000 --variant conversation/concurrent/v1

Other arguments go to `bench.locomo_inprocess`. `--few-rows N` sets another threshold;
`--set module.NAME=value` (repeatable) another constant of memory.recall, e.g.
`--set bm25.RESCORE_PER_DEPTH=None` for the plan that scores every candidate.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    few_rows = 0
    if "--few-rows" in args:
        at = args.index("--few-rows")
        few_rows = int(args[at + 1])
        del args[at : at + 2]
    settings = []
    while "--set" in args:
        at = args.index("--set")
        settings.append(args[at + 1])
        del args[at : at + 2]
    from bench import locomo_inprocess
    from bench.long_history import apply, configurations
    from memory.recall import bm25

    bm25.FEW_ROWS = few_rows
    started = locomo_inprocess.start_database

    def start_migrated(stack, copy):  # type: ignore[no-untyped-def]
        postgres = started(stack, copy)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        # After Django is set up: modules such as memory.recall.locality import models.
        for _name, assignments in configurations("set:" + ",".join(settings)):
            print(f"settings: {assignments}", flush=True)
            apply(assignments)
        return postgres

    locomo_inprocess.start_database = start_migrated  # type: ignore[assignment]
    return locomo_inprocess.main(args)


if __name__ == "__main__":
    raise SystemExit(main())
