"""`manage.py console_user <username> [--tenant SLUG --role ROLE] [--superuser]`."""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from claiv.errors import ApplicationError
from tenants.models import MemberRole
from tenants.selectors import tenant_get
from tenants.services import console_user_ensure, membership_set

PASSWORD_ENV = "CLAIV_CONSOLE_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create a console user (or update an existing one's password/email) and optionally "
        "make them a member of a tenant with a role (owner, admin or viewer). The password "
        f"is prompted for, or read from ${PASSWORD_ENV} with --no-input. Sign in at /console/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="", help="the user's email address")
        parser.add_argument("--tenant", default=None, help="slug of a tenant to add the user to")
        parser.add_argument(
            "--role",
            default=MemberRole.OWNER,
            choices=MemberRole.values,
            help="role in --tenant (default: owner)",
        )
        parser.add_argument(
            "--superuser", action="store_true", help="a superuser sees and manages every tenant"
        )
        parser.add_argument(
            "--no-input",
            action="store_true",
            dest="no_input",
            help=f"do not prompt; take the password from ${PASSWORD_ENV}",
        )

    def _password(self, options: dict[str, Any]) -> str | None:
        from_env = os.environ.get(PASSWORD_ENV)
        if from_env or options["no_input"]:
            return from_env or None
        first = getpass.getpass("Password (empty keeps an existing user's password): ")
        if first and getpass.getpass("Password (again): ") != first:
            raise CommandError("The passwords do not match.")
        return first or None

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_get(slug=options["tenant"]) if options["tenant"] else None
            user, created = console_user_ensure(
                username=options["username"],
                password=self._password(options),
                email=options["email"],
                superuser=options["superuser"],
            )
            if tenant is not None:
                membership_set(tenant=tenant, username=user.get_username(), role=options["role"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        state = "created" if created else "updated"
        where = f"; {options['role']} of {tenant.slug}" if tenant is not None else ""
        kind = "superuser" if user.is_superuser else "console user"
        self.stdout.write(f"{kind} {user.get_username()} {state}{where}. Sign in at /console/.")
