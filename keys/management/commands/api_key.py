"""`manage.py api_key create|list|revoke|rotate`: manage a tenant's API keys from the shell."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from claiv.errors import ApplicationError
from keys.models import ALL_SCOPES
from keys.selectors import api_key_get, api_key_list
from keys.services import api_key_create, api_key_revoke, api_key_rotate
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = (
        "Manage API keys. create: issue a key (the raw key is the last line of stdout, shown "
        "once). list: show a tenant's keys. revoke: revoke a key by prefix, effective on the next "
        "request. rotate: issue a replacement and revoke the old key now or after --grace-seconds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a new key")
        create.add_argument("--tenant", required=True, help="tenant slug")
        create.add_argument("--name", default="", help="a label for the key")
        create.add_argument(
            "--scopes", nargs="+", choices=ALL_SCOPES, default=None, help="default: all scopes"
        )
        listing = sub.add_parser("list", help="list a tenant's keys")
        listing.add_argument("--tenant", required=True)
        for name in ("revoke", "rotate"):
            action = sub.add_parser(name, help=f"{name} a key")
            action.add_argument("prefix", help="the key's 8-character prefix (or the raw key)")
            action.add_argument("--tenant", required=True)
        sub.choices["rotate"].add_argument(
            "--grace-seconds",
            type=int,
            default=0,
            help="keep the old key working this long (default 0: revoke now)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_get(slug=options["tenant"])
            action = options["action"]
            if action == "create":
                key, raw = api_key_create(
                    tenant=tenant,
                    name=options["name"],
                    scopes=options["scopes"],
                    origin="manage.py",
                )
                self.stdout.write(f"created key {key.prefix} scopes={','.join(key.scopes)}")
                self.stdout.write(raw)
            elif action == "list":
                for key in api_key_list(tenant=tenant):
                    state = "active" if key.is_active() else "revoked"
                    self.stdout.write(
                        f"{key.prefix}\t{state}\t{','.join(key.scopes)}\t{key.name or '-'}\t"
                        f"created={key.created_at:%Y-%m-%dT%H:%M:%SZ}\t"
                        f"last_used={key.last_used_at or '-'}"
                    )
            elif action == "revoke":
                key = api_key_revoke(
                    key=api_key_get(tenant=tenant, prefix=options["prefix"]), origin="manage.py"
                )
                self.stdout.write(f"revoked {key.prefix}")
            else:
                if options["grace_seconds"] < 0:
                    raise CommandError("--grace-seconds must be >= 0")
                old = api_key_get(tenant=tenant, prefix=options["prefix"])
                new, raw = api_key_rotate(
                    key=old, grace=timedelta(seconds=options["grace_seconds"]), origin="manage.py"
                )
                self.stdout.write(
                    f"rotated {old.prefix} -> {new.prefix}; old key revoked at "
                    f"{old.revoked_at:%Y-%m-%dT%H:%M:%SZ}"
                )
                self.stdout.write(raw)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
