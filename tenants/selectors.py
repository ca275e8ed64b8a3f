"""Tenant reads: lookups by slug, and which tenants a console user may see or change."""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from claiv.errors import Forbidden, NotFound
from tenants.models import ROLE_RANK, ConsoleConnection, MemberRole, Membership, Tenant


def tenant_get(*, slug: str) -> Tenant:
    try:
        return Tenant.objects.get(slug=slug)
    except Tenant.DoesNotExist as exc:
        raise NotFound(f"No tenant {slug!r}.") from exc


# --- Console access -------------------------------------------------------------------------
# Every console page and admin queryset asks these which tenants a user may see or change.


def tenant_roles(*, user: AbstractBaseUser | AnonymousUser) -> dict[uuid.UUID, str] | None:
    """The user's role per tenant id; None means a superuser, who has every tenant as owner.

    An inactive or anonymous user has no tenants.
    """
    if not user.is_authenticated or not user.is_active:
        return {}
    if user.is_superuser:
        return None
    return dict(Membership.objects.filter(user=user).values_list("tenant_id", "role"))


def role_at_least(role: str, minimum: str) -> bool:
    return ROLE_RANK[MemberRole(role)] >= ROLE_RANK[MemberRole(minimum)]


def tenants_visible(
    *, user: AbstractBaseUser | AnonymousUser, min_role: str = MemberRole.VIEWER
) -> QuerySet[Tenant]:
    """Tenants the user holds at least `min_role` in (all of them for a superuser)."""
    roles = tenant_roles(user=user)
    if roles is None:
        return Tenant.objects.all()
    return Tenant.objects.filter(
        id__in=[tid for tid, role in roles.items() if role_at_least(role, min_role)]
    )


def tenant_access(
    *,
    user: AbstractBaseUser | AnonymousUser,
    tenant_id: uuid.UUID | str,
    min_role: str = MemberRole.VIEWER,
) -> tuple[Tenant, str]:
    """The tenant and the user's role in it.

    Raises NotFound when the tenant does not exist or the user is not a member (the two
    look the same), and Forbidden when the user is a member with a weaker role.
    """
    try:
        parsed = uuid.UUID(str(tenant_id))
    except ValueError as exc:
        raise NotFound("No such project.") from exc
    roles = tenant_roles(user=user)
    role = MemberRole.OWNER.value if roles is None else roles.get(parsed)
    tenant = Tenant.objects.filter(id=parsed).first() if role else None
    if tenant is None or role is None:
        raise NotFound("No such project.")
    if not role_at_least(role, min_role):
        raise Forbidden(f"This needs the {min_role} role in {tenant.slug}; you are {role}.")
    return tenant, role


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__username")
    )


def connection_get(*, tenant: Tenant) -> ConsoleConnection:
    """The tenant's console connection settings (an unsaved default when none stored)."""
    return ConsoleConnection.objects.filter(tenant=tenant).first() or ConsoleConnection(
        tenant=tenant
    )
