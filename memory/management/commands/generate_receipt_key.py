"""`manage.py generate_receipt_key`: print a new Ed25519 seed for CLAIV_RECEIPT_SIGNING_KEY."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from memory import receipts


class Command(BaseCommand):
    help = (
        "Print a new base64 Ed25519 private key (32-byte seed) for "
        "CLAIV_RECEIPT_SIGNING_KEY. Changes nothing; the key is the last line of stdout."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(receipts.generate_signing_key())
