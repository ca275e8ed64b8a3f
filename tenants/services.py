"""Tenant writes: tenants (projects), console memberships and users, the console's
connection settings. Reads live in `tenants.selectors`; Test Connection in
`tenants.connection`."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from claiv.errors import InvalidRequest, NotFound
from claiv.secret_box import secret_encrypt, secret_mask
from claiv.ssrf_guard import UrlRefused, url_check
from tenants.models import (
    DEFAULT_RATE_LIMIT_PER_MINUTE,
    ConsoleConnection,
    MemberRole,
    Membership,
    Tenant,
    slug_validator,
)


def tenant_ensure(*, slug: str, name: str | None = None) -> tuple[Tenant, bool]:
    """Return the tenant with `slug`, creating it if missing (idempotent). -> (tenant, created)."""
    try:
        slug_validator(slug)
    except ValidationError as exc:
        raise InvalidRequest(f"Invalid tenant slug {slug!r}: {exc.messages[0]}") from exc
    return Tenant.objects.get_or_create(slug=slug, defaults={"name": name or slug})


# --- Console: projects, members, console users, connection settings ------------------------


def tenant_create(
    *,
    slug: str,
    name: str,
    owner: AbstractBaseUser,
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE,
) -> Tenant:
    """Create a project from the console; its creator becomes its owner."""
    try:
        slug_validator(slug)
    except ValidationError as exc:
        raise InvalidRequest(f"Invalid project slug {slug!r}: {exc.messages[0]}") from exc
    with transaction.atomic():
        if Tenant.objects.filter(slug=slug).exists():
            raise InvalidRequest(f"The slug {slug!r} is taken.")
        tenant = Tenant.objects.create(
            slug=slug, name=name or slug, rate_limit_per_minute=rate_limit_per_minute
        )
        Membership.objects.create(tenant=tenant, user=owner, role=MemberRole.OWNER)
    return tenant


def tenant_update(*, tenant: Tenant, name: str, rate_limit_per_minute: int) -> Tenant:
    """Rename a project or change its limits (the slug is fixed: keys and scripts use it)."""
    tenant.name = name
    tenant.rate_limit_per_minute = rate_limit_per_minute
    tenant.save(update_fields=["name", "rate_limit_per_minute"])
    return tenant


def _owners_left(*, tenant: Tenant, without: AbstractBaseUser) -> int:
    return (
        Membership.objects.filter(tenant=tenant, role=MemberRole.OWNER)
        .exclude(user=without)
        .count()
    )


@transaction.atomic
def membership_set(*, tenant: Tenant, username: str, role: str) -> Membership:
    """Give an existing console user `role` in the tenant (add or change). A project always
    keeps at least one owner."""
    if role not in MemberRole.values:
        raise InvalidRequest(f"Unknown role {role!r}.")
    user = get_user_model().objects.filter(username=username.strip(), is_active=True).first()
    if user is None:
        raise InvalidRequest(
            f"No active console user {username.strip()!r}. Create one with "
            "`manage.py console_user`."
        )
    Tenant.objects.select_for_update().get(pk=tenant.pk)  # serialise last-owner checks
    membership = Membership.objects.filter(tenant=tenant, user=user).first()
    if (
        membership
        and membership.role == MemberRole.OWNER
        and role != MemberRole.OWNER
        and not _owners_left(tenant=tenant, without=user)
    ):
        raise InvalidRequest("A project needs at least one owner.")
    if membership is None:
        return Membership.objects.create(tenant=tenant, user=user, role=role)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, tenant: Tenant, user_pk: int) -> None:
    Tenant.objects.select_for_update().get(pk=tenant.pk)
    membership = Membership.objects.filter(tenant=tenant, user_id=user_pk).first()
    if membership is None:
        raise NotFound("No such member.")
    if membership.role == MemberRole.OWNER and not _owners_left(
        tenant=tenant, without=membership.user
    ):
        raise InvalidRequest("A project needs at least one owner.")
    membership.delete()


def console_user_ensure(
    *, username: str, password: str | None, email: str = "", superuser: bool = False
) -> tuple[AbstractBaseUser, bool]:
    """Create a console user, or update the password/email of an existing one.

    Console users are staff (they may sign in and create projects). -> (user, created)
    """
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    created = user is None
    if user is None:
        if not password:
            raise InvalidRequest("A new console user needs a password.")
        user = User(username=username)
    if password:
        validate_password(password, user)
        user.set_password(password)
    if email:
        user.email = email
    user.is_active = True
    user.is_staff = True
    if superuser:
        user.is_superuser = True
    user.save()
    return user, created


def connection_url_trusted(url: str) -> bool:
    """The server's own public URL (from settings) is trusted, even on loopback."""
    return url.rstrip("/") == settings.CLAIV_PUBLIC_BASE_URL.rstrip("/")


def connection_save(
    *,
    tenant: Tenant,
    api_base_url: str,
    api_key: str = "",
    clear_key: bool = False,
    actor: AbstractBaseUser | None = None,
) -> ConsoleConnection:
    """Store where Test Connection points and, optionally, a backend API key (encrypted).

    A blank URL means this server. Any other URL must pass the SSRF check (SECURITY.md):
    refused URLs raise InvalidRequest with the plain reason. A blank `api_key` keeps the
    stored one; `clear_key` removes it.
    """
    url = api_base_url.strip().rstrip("/")
    if url and not connection_url_trusted(url):
        try:
            url_check(url, allow_private=settings.CLAIV_CONSOLE_ALLOW_PRIVATE_URLS)
        except UrlRefused as exc:
            raise InvalidRequest(exc.reason, details={"field": "api_base_url"}) from exc
    connection = ConsoleConnection.objects.filter(tenant=tenant).first() or ConsoleConnection(
        tenant=tenant
    )
    connection.api_base_url = url
    if clear_key:
        connection.api_key_ciphertext, connection.api_key_mask = "", ""
    elif api_key.strip():
        connection.api_key_ciphertext = secret_encrypt(api_key.strip())
        connection.api_key_mask = secret_mask(api_key.strip())
    connection.updated_by = actor
    connection.save()
    return connection


def tenant_rate_limit_set(*, tenant: Tenant, per_minute: int) -> Tenant:
    """Set requests per API key per minute (0 = unlimited); effective on the next request."""
    if per_minute < 0:
        raise InvalidRequest("The rate limit must be 0 (unlimited) or more.")
    tenant.rate_limit_per_minute = per_minute
    tenant.save(update_fields=["rate_limit_per_minute"])
    return tenant
