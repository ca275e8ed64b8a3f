"""`manage.py verify_receipts --tenant <slug>`: check every forget receipt of a tenant.

Recomputes each digest, verifies each signature and each chain link. Exits non-zero at the
first broken receipt and names it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from claiv.errors import ApplicationError
from memory.receipt_chain import receipts_verify
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = "Verify a tenant's forget receipts: digests, Ed25519 signatures, hash chain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--public-key", default=None,
                            help="base64 public key to verify with (default: this server's)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_get(slug=options["tenant"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        checks = receipts_verify(tenant=tenant, public_key=options["public_key"])
        for check in checks:
            if not check.ok:
                raise CommandError(
                    f"receipt {check.receipt.id} (sequence {check.receipt.sequence}): "
                    f"{check.problem}")
        self.stdout.write(f"{len(checks)} receipts verified for tenant {tenant.slug}: "
                          "digests, signatures and chain intact")
