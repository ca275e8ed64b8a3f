"""`manage.py tenant_limits <slug> [--rate-limit N] [--plan P] [--<metric>-quota N] …`.

Without flags it shows the tenant's current limits; with flags it changes them first.
A quota of -1 removes it (unlimited).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from claiv.errors import ApplicationError
from memory.metering import usage_plan_set
from memory.usage import QUOTA_METRICS, usage_limits
from tenants.selectors import tenant_get
from tenants.services import tenant_rate_limit_set


class Command(BaseCommand):
    help = "Show or set a tenant's rate limit, plan, billing cycle day and quotas."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--rate-limit",
            type=int,
            default=None,
            help="requests per API key per minute; 0 = unlimited",
        )
        parser.add_argument("--plan", default=None, help="plan name shown by /v1/usage/limits")
        parser.add_argument("--billing-cycle-day", type=int, default=None, help="1–28")
        for metric in QUOTA_METRICS:
            parser.add_argument(
                f"--{metric.replace('_', '-')}-quota",
                type=int,
                default=None,
                help=f"{metric} per billing cycle; -1 = unlimited",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_get(slug=options["slug"])
            if options["rate_limit"] is not None:
                tenant = tenant_rate_limit_set(tenant=tenant, per_minute=options["rate_limit"])
            changes: dict[str, Any] = {}
            if options["plan"] is not None:
                changes["plan"] = options["plan"]
            if options["billing_cycle_day"] is not None:
                changes["billing_cycle_day"] = options["billing_cycle_day"]
            for metric in QUOTA_METRICS:
                value = options[f"{metric}_quota"]
                if value is not None:
                    changes[f"{metric}_quota"] = None if value == -1 else value
            if changes:
                usage_plan_set(tenant=tenant, **changes)
            limits = usage_limits(tenant=tenant)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        rate = tenant.rate_limit_per_minute
        self.stdout.write(f"tenant {tenant.slug}")
        self.stdout.write(f"rate_limit_per_minute {rate if rate else 'unlimited'}")
        self.stdout.write(
            f"plan {limits['plan']} billing_cycle_day "
            f"{limits['billing_cycle_day']} reset_date {limits['reset_date']}"
        )
        for metric, entry in limits["limits"].items():
            limit = "unlimited" if entry["limit"] is None else entry["limit"]
            self.stdout.write(f"{metric} used {entry['used']} limit {limit}")
