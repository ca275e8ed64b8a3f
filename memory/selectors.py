"""Memory reads that the API and the console share. Every function takes the tenant."""

from __future__ import annotations

import uuid

from claiv.errors import NotFound
from memory.models import DeletionReceipt, Event, Fact
from tenants.models import Tenant


def event_get(*, tenant: Tenant, event_id: str) -> Event:
    """The tenant's event; another tenant's id or a malformed one is NotFound."""
    try:
        parsed = uuid.UUID(event_id)
    except ValueError as exc:
        raise NotFound("No such event.") from exc
    event = Event.objects.filter(tenant=tenant, id=parsed).first()
    if event is None:
        raise NotFound("No such event.")
    return event


def event_fact_ids(*, tenant: Tenant, event: Event) -> list[uuid.UUID]:
    """Facts this event stated (created or reinforced)."""
    return list(
        Fact.objects.filter(tenant=tenant, sources__event=event)
        .order_by("created_at")
        .values_list("id", flat=True)
    )


def receipt_list(
    *, tenant: Tenant, user_id: str | None = None, limit: int = 20, offset: int = 0
) -> tuple[list[DeletionReceipt], int]:
    """A page of the tenant's receipts, newest first, and the total matching."""
    receipts = DeletionReceipt.objects.filter(tenant=tenant)
    if user_id is not None:
        receipts = receipts.filter(user_id=user_id)
    page = list(receipts.order_by("-sequence")[offset : offset + limit])
    return page, receipts.count()


def receipt_get(*, tenant: Tenant, receipt_id: str) -> DeletionReceipt:
    """The tenant's receipt; another tenant's id or a malformed one is NotFound."""
    try:
        parsed = uuid.UUID(receipt_id)
    except ValueError as exc:
        raise NotFound("No such receipt.") from exc
    receipt = DeletionReceipt.objects.filter(tenant=tenant, id=parsed).first()
    if receipt is None:
        raise NotFound("No such receipt.")
    return receipt
