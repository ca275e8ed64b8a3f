"""The keyword channels' quality guard: LoCoMo in-process recall (`bench.locomo_inprocess`)
with `bm25.FEW_ROWS` forced to 0, so that every keyword channel of every LoCoMo user takes
the postings plan (`bm25_sql(postings=True)`) instead of reading the user's rows whole (all
LoCoMo users are below FEW_ROWS, so without this a change to the postings plan is never
exercised by LoCoMo). Works on a migrated copy of the LoCoMo stack's database.

    .venv/bin/python -m bench.keyword_guard --copy bench/.cache/guard-pg \
        --conversations 0-1 --budgets 500,2000 --variant conversation/concurrent/v1

With `--stacked` (on a fresh `--copy`) the stacked user's keyword postings are moved
with its rows (bench.locomo_inprocess's relabel alone leaves them behind).

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
    for _name, assignments in configurations("set:" + ",".join(settings)):
        print(f"settings: {assignments}", flush=True)
        apply(assignments)
    started = locomo_inprocess.start_database

    def start_migrated(stack, copy):  # type: ignore[no-untyped-def]
        postgres = started(stack, copy)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return postgres

    locomo_inprocess.start_database = start_migrated  # type: ignore[assignment]
    relabel = locomo_inprocess._relabel

    def relabel_with_postings(tenant, users, into):  # type: ignore[no-untyped-def]
        # `--stacked` moves rows to another user_id with an UPDATE; the postings triggers
        # (migration 0018) follow a row's text and status, not its user_id, so the
        # stacked user's postings and term counts are moved here as well.
        relabel(tenant, users, into)
        from django.db import connection, transaction

        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE memory_keywordposting SET user_id = %s "
                "WHERE tenant_id = %s AND user_id = ANY(%s)",
                [into, tenant.pk, users],
            )
            cursor.execute(
                "INSERT INTO memory_keywordterm (tenant_id, user_id, kind, lexeme, documents) "
                "SELECT tenant_id, %s, kind, lexeme, sum(documents) FROM memory_keywordterm "
                "WHERE tenant_id = %s AND user_id = ANY(%s) GROUP BY 1, 2, 3, 4 "
                "ON CONFLICT (tenant_id, user_id, kind, lexeme) DO UPDATE "
                "SET documents = memory_keywordterm.documents + EXCLUDED.documents",
                [into, tenant.pk, users],
            )
            cursor.execute(
                "DELETE FROM memory_keywordterm WHERE tenant_id = %s AND user_id = ANY(%s)",
                [tenant.pk, users],
            )
            cursor.execute(
                "SELECT kind, documents FROM memory_keywordcorpus "
                "WHERE tenant_id = %s AND user_id = %s",
                [tenant.pk, into],
            )
            print(f"stacked user's corpus: {cursor.fetchall()}", flush=True)

    locomo_inprocess._relabel = relabel_with_postings  # type: ignore[assignment]
    return locomo_inprocess.main(args)


if __name__ == "__main__":
    raise SystemExit(main())
