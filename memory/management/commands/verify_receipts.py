"""`manage.py verify_receipts --tenant <slug>`: check every forget receipt of a tenant.

Recomputes each digest, verifies each signature and each chain link, then checks the chain
against its signed head (so removing the newest receipts is caught) and, with
`--saved-head FILE`, against a head saved earlier from GET /v1/deletion-receipts/head.
Exits non-zero at the first problem and names it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from claiv.errors import ApplicationError
from memory.receipt_chain import receipt_head_problem, receipts_verify, saved_head_problem
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = (
        "Verify a tenant's forget receipts: digests, Ed25519 signatures, hash chain and "
        "its signed head."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument(
            "--public-key",
            default=None,
            help="base64 public key to verify with (default: this server's)",
        )
        parser.add_argument(
            "--saved-head",
            default=None,
            type=Path,
            help="a head saved earlier (JSON of GET /v1/deletion-receipts/head)"
            ": the chain must still hold it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_get(slug=options["tenant"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        key = options["public_key"]
        checks = receipts_verify(tenant=tenant, public_key=key)
        for check in checks:
            if not check.ok:
                raise CommandError(
                    f"receipt {check.receipt.id} (sequence {check.receipt.sequence}): "
                    f"{check.problem}"
                )
        problem = receipt_head_problem(tenant=tenant, checks=checks, public_key=key)
        if problem:
            raise CommandError(f"chain head of tenant {tenant.slug}: {problem}")
        if options["saved_head"] is not None:
            try:
                saved = json.loads(options["saved_head"].read_text())
                if saved.get("tenant") != str(tenant.pk):
                    raise CommandError("the saved head belongs to another tenant")
                problem = saved_head_problem(saved=saved, checks=checks, public_key=key)
            except (OSError, ValueError, KeyError, AttributeError) as exc:
                raise CommandError(f"cannot read the saved head: {exc}") from exc
            if problem:
                raise CommandError(problem)
        self.stdout.write(
            f"{len(checks)} receipts verified for tenant {tenant.slug}: "
            "digests, signatures, chain and signed head intact"
        )
