"""`manage.py create_tenant <slug> [--name N]`: create a tenant, or report the existing one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from claiv.errors import ApplicationError
from tenants.services import tenant_ensure


class Command(BaseCommand):
    help = "Create a tenant (a console project) with the given slug. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="lowercase letters, digits and dashes")
        parser.add_argument("--name", default=None, help="display name (default: the slug)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant, created = tenant_ensure(slug=options["slug"], name=options["name"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        state = "created" if created else "exists"
        self.stdout.write(f"tenant {tenant.slug} {state} id={tenant.id}")
