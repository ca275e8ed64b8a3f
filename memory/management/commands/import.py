"""`manage.py import --tenant SLUG file.jsonl` (or `-` for stdin): import an export into a
tenant, idempotently, never touching another tenant's rows (memory.portability). Recorded
in the audit trail."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from claiv.errors import ApplicationError
from memory.audit import audit_record_system
from memory.portability import memory_import
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = "Import a JSONL export into a tenant (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug (the target)")
        parser.add_argument("file", help="the JSONL file, or - for stdin")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_get(slug=options["tenant"])
            if options["file"] == "-":
                result = memory_import(tenant=tenant, lines=sys.stdin)
            else:
                path = Path(options["file"])
                if not path.is_file():
                    raise CommandError(f"No such file: {path}")
                with path.open(encoding="utf-8") as lines:
                    result = memory_import(tenant=tenant, lines=lines)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        except UnicodeDecodeError as exc:
            raise CommandError("The file is not UTF-8 text.") from exc
        audit_record_system(
            tenant=tenant,
            action="import",
            actor="cli",
            via="manage.py import",
            counts=result.counts,
        )
        added = ", ".join(f"{n} {k}" for k, n in result.counts.items())
        vectors = "recomputed" if result.reembedded else "reused"
        self.stdout.write(f"imported into {tenant.slug}: {added}; vectors {vectors}")
