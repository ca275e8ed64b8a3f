"""Tenant scoping for the console, implemented once.

`TenantScopedAdmin` is the base of every console ModelAdmin. Its `get_queryset` keeps only
rows of tenants the user is a member of, and subclasses cannot override it (they shape the
base queryset in `get_base_queryset` instead; the scope is applied after). Django's admin
routes every list, search, detail page, action and autocomplete through `get_queryset`, so
another tenant's ids behave like ids that do not exist: a 404 (not Django's default redirect).

Custom console pages get their tenant from `console_tenant`, the one access check for them.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.forms import Field as FormField
from django.http import Http404, HttpRequest

from claiv.errors import Forbidden, NotFound
from tenants.models import MemberRole, Tenant
from tenants.selectors import role_at_least, tenant_access, tenant_roles

_ROLES_ATTR = "_console_tenant_roles"


def console_roles(request: HttpRequest) -> dict[uuid.UUID, str] | None:
    """The user's role per tenant id (None: superuser, every tenant), once per request."""
    if not hasattr(request, _ROLES_ATTR):
        setattr(request, _ROLES_ATTR, tenant_roles(user=request.user))
    return getattr(request, _ROLES_ATTR)


def console_tenant_ids(
    request: HttpRequest, *, min_role: str = MemberRole.VIEWER
) -> list[uuid.UUID] | None:
    """Ids of tenants the user holds `min_role` in; None for a superuser (all)."""
    roles = console_roles(request)
    if roles is None:
        return None
    return [tid for tid, role in roles.items() if role_at_least(role, min_role)]


def console_role(request: HttpRequest, tenant_id: uuid.UUID | None) -> str | None:
    roles = console_roles(request)
    if roles is None:
        return MemberRole.OWNER.value
    return roles.get(tenant_id) if tenant_id is not None else None


def console_tenant(
    request: HttpRequest, tenant_id: uuid.UUID | str, *, min_role: str = MemberRole.VIEWER
) -> tuple[Tenant, str]:
    """The tenant for a console page: 404 if it is not the user's, 403 if the role is weaker."""
    try:
        return tenant_access(user=request.user, tenant_id=tenant_id, min_role=min_role)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc


def scope_queryset(
    queryset: QuerySet[Any], request: HttpRequest, *, lookup: str, min_role: str = MemberRole.VIEWER
) -> QuerySet[Any]:
    ids = console_tenant_ids(request, min_role=min_role)
    return queryset if ids is None else queryset.filter(**{f"{lookup}__in": ids})


class TenantListFilter(admin.SimpleListFilter):
    """'By project' with only the user's own tenants (the stock related-field filter would
    list every tenant's name)."""

    title = "project"
    parameter_name = "tenant"

    def __init__(
        self,
        request: HttpRequest,
        params: dict[str, Any],
        model: type[models.Model],
        model_admin: TenantScopedAdmin,
    ) -> None:
        self.lookup = model_admin.tenant_lookup
        super().__init__(request, params, model, model_admin)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        tenants = scope_queryset(Tenant.objects.order_by("slug"), request, lookup="id")
        return [(str(t.id), t.slug) for t in tenants]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        try:
            return queryset.filter(**{self.lookup: uuid.UUID(value)})
        except ValueError:
            return queryset.none()


class TenantScopedAdmin(admin.ModelAdmin):
    """Base of every console ModelAdmin: rows, permissions and form choices per membership.

    `tenant_lookup` is the path from the model to its tenant's id ("tenant" for a row
    with a tenant FK, "id" for Tenant itself). Viewing needs any role in the row's tenant;
    writing needs `write_role`. Nothing is deleted through the console's admin pages.
    """

    tenant_lookup: ClassVar[str] = "tenant"
    write_role: ClassVar[str] = MemberRole.ADMIN

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} must not override get_queryset (it applies the "
                "tenant scope); override get_base_queryset instead"
            )
        if "tenant" in tuple(cls.list_filter):
            raise TypeError(
                f"{cls.__name__}: the stock 'tenant' filter lists every tenant; "
                "the base adds a scoped one"
            )

    # -- rows ---------------------------------------------------------------------------------
    def get_base_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        """Shape the rows (select_related, annotations); the tenant scope is applied after."""
        return super().get_queryset(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_queryset(self.get_base_queryset(request), request, lookup=self.tenant_lookup)

    def tenant_id_of(self, obj: models.Model) -> uuid.UUID:
        target: Any = obj
        *path, last = self.tenant_lookup.split("__")
        for part in path:
            target = getattr(target, part)
        return target.pk if last in ("id", "pk") else getattr(target, f"{last}_id")

    def _get_obj_does_not_exist_redirect(
        self, request: HttpRequest, opts: Any, object_id: str
    ) -> Any:
        # Django redirects to the index with "doesn't exist"; another tenant's id must look
        # exactly like a missing one, and a plain 404 is the honest answer for both.
        raise Http404("No such object.")

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        extra = [] if self.tenant_lookup in ("id", "pk") else [TenantListFilter]
        return [*extra, *super().get_list_filter(request)]

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> FormField | None:
        related = db_field.related_model
        if related is Tenant:
            kwargs["queryset"] = scope_queryset(
                Tenant.objects.all(), request, lookup="id", min_role=self.write_role
            )
        elif any(f.name == "tenant" for f in related._meta.get_fields()):
            kwargs["queryset"] = scope_queryset(
                related._default_manager.all(), request, lookup="tenant"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # -- permissions (membership roles, not Django model permissions) --------------------------
    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        roles = console_roles(request)
        if roles is None:
            return True
        return bool(roles) if obj is None else self.tenant_id_of(obj) in roles

    def has_write_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        """Actions and custom views that change rows check this (`allowed_permissions`)."""
        if obj is not None:
            role = console_role(request, self.tenant_id_of(obj))
            return role is not None and role_at_least(role, self.write_role)
        ids = console_tenant_ids(request, min_role=self.write_role)
        return ids is None or bool(ids)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.has_write_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_write_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


class ReadOnlyTenantScopedAdmin(TenantScopedAdmin):
    """Rows shown but never edited through the admin form (changes go through services)."""

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


def console_roles_forget(request: HttpRequest) -> None:
    """Drop the per-request roles after a membership change made in this request."""
    if hasattr(request, _ROLES_ATTR):
        delattr(request, _ROLES_ATTR)
