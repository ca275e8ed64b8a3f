"""`manage.py export --tenant SLUG [--user USER_ID] > file.jsonl`: a tenant's memory (or one
end user's) as JSONL on stdout (format: memory.portability). Recorded in the audit trail."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from claiv.errors import ApplicationError
from memory.audit import audit_record_system
from memory.portability import memory_export, record_kind
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = "Export a tenant's memory (or one end user's) as JSONL on stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--user", default=None, help="only this end user id")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_get(slug=options["tenant"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        kinds: Counter[str] = Counter()
        for line in memory_export(tenant=tenant, user_id=options["user"]):
            self.stdout.write(line)
            kinds[record_kind(line)] += 1
        audit_record_system(
            tenant=tenant,
            action="export",
            actor="cli",
            via="manage.py export",
            user_id=options["user"] or "",
            counts={f"{k}s": n for k, n in kinds.items() if k != "header"},
        )
