"""Console pages for projects (tenants): the project list and settings, members, and the
connection settings with Test Connection. Thin: each change is one service call."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, CharField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from claiv.console.scoping import (
    TenantScopedAdmin,
    console_role,
    console_roles,
    console_roles_forget,
)
from claiv.errors import ApplicationError
from tenants.connection import connection_test
from tenants.models import MemberRole, Tenant
from tenants.selectors import connection_get, membership_list
from tenants.services import (
    connection_save,
    membership_remove,
    membership_set,
    tenant_create,
    tenant_update,
)

site: Any = admin.site


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    """Projects. Anyone staff may create one (and owns it); owners rename and set limits."""

    tenant_lookup = "id"
    write_role = MemberRole.OWNER
    list_display = ("name", "slug", "your_role", "rate_limit_per_minute", "created_at")
    list_display_links = ("name",)
    search_fields = ("slug", "name")
    ordering = ("slug",)

    def get_fields(self, request: HttpRequest, obj: Tenant | None = None) -> list[str]:
        if obj is None:
            return ["name", "slug", "rate_limit_per_minute"]
        return ["name", "slug", "rate_limit_per_minute", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> list[str]:
        # The slug is fixed after creation: scripts and `manage.py --tenant` name it.
        return ["slug", "created_at"] if obj is not None else []

    def get_base_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        # The role is annotated per row: a ModelAdmin is shared between requests, so it
        # cannot hold the request for a display method.
        roles = console_roles(request)
        if roles is None:
            role: Any = Value("superuser")
        else:
            role = Case(
                *[When(id=tid, then=Value(r)) for tid, r in roles.items()],
                default=Value("-"),
                output_field=CharField(),
            )
        return super().get_base_queryset(request).annotate(console_role=role)

    @admin.display(description="your role")
    def your_role(self, obj: Tenant) -> str:
        return getattr(obj, "console_role", "-")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser or request.user.is_staff)

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        if change:
            tenant_update(
                tenant=obj, name=obj.name, rate_limit_per_minute=obj.rate_limit_per_minute
            )
            return
        created = tenant_create(
            slug=obj.slug,
            name=obj.name,
            owner=request.user,
            rate_limit_per_minute=obj.rate_limit_per_minute,
        )
        obj.pk, obj.created_at = created.pk, created.created_at
        obj._state.adding, obj._state.db = False, created._state.db
        console_roles_forget(request)  # the creator just became an owner

    def response_add(self, request: HttpRequest, obj: Tenant, *args: Any) -> HttpResponse:
        messages.success(
            request, f"Project {obj.slug} created. You are its owner; next, create an API key."
        )
        return HttpResponseRedirect(reverse("admin:project_overview", args=[obj.pk]))

    def response_change(self, request: HttpRequest, obj: Tenant) -> HttpResponse:
        messages.success(request, f"Project {obj.slug} saved.")
        return HttpResponseRedirect(reverse("admin:project_overview", args=[obj.pk]))


site.project_link(
    "Settings",
    order=90,
    min_role=MemberRole.VIEWER,
    url=lambda t: reverse("admin:tenants_tenant_change", args=[t.pk]),
)


@site.project_card(order=80)
def _members_card(request: HttpRequest, tenant: Tenant) -> dict[str, Any]:
    return {
        "title": "Members",
        "value": membership_list(tenant=tenant).count(),
        "url": reverse("admin:project_members", args=[tenant.pk]),
    }


# --- Members ------------------------------------------------------------------------------


class MemberForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        help_text="An existing console user (create one with manage.py console_user).",
    )
    role = forms.ChoiceField(choices=MemberRole.choices, initial=MemberRole.VIEWER)


@site.project_page("members/", name="members", title="Members", order=80)
def members_view(request: HttpRequest, tenant: Tenant, role: str) -> HttpResponse:
    """Everyone sees the member list; owners add, change and remove members."""
    form = MemberForm()
    if request.method == "POST":
        if role != MemberRole.OWNER:
            raise PermissionDenied("Only owners manage members.")
        action = request.POST.get("action")
        try:
            if action == "add":
                form = MemberForm(request.POST)
                if form.is_valid():
                    membership_set(
                        tenant=tenant,
                        username=form.cleaned_data["username"],
                        role=form.cleaned_data["role"],
                    )
                    messages.success(
                        request,
                        f"{form.cleaned_data['username']} is now {form.cleaned_data['role']}.",
                    )
                    return HttpResponseRedirect(request.path)
            elif action == "role":
                membership_set(
                    tenant=tenant,
                    username=request.POST.get("username", ""),
                    role=request.POST.get("role", ""),
                )
                messages.success(request, "Role changed.")
                return HttpResponseRedirect(request.path)
            elif action == "remove":
                membership_remove(tenant=tenant, user_pk=int(request.POST.get("user", "0")))
                messages.success(request, "Member removed.")
                console_roles_forget(request)
                if console_role(request, tenant.pk) is None:
                    return HttpResponseRedirect(reverse("admin:index"))
                return HttpResponseRedirect(request.path)
        except (ApplicationError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", "Invalid request."))
    context = site.project_context(
        request,
        tenant,
        role,
        title="Members",
        tab="Members",
        members=membership_list(tenant=tenant),
        form=form,
        roles=MemberRole.choices,
    )
    return TemplateResponse(request, "console/members.html", context)


# --- Connection settings and Test Connection -------------------------------------------------


class ConnectionForm(forms.Form):
    api_base_url = forms.CharField(
        label="API base URL",
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "(this server)"}),
        help_text="Leave empty for this server. Another URL is checked before it is used: "
        "http or https only, and never an internal address.",
    )
    api_key = forms.CharField(
        label="Backend API key",
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Optional: lets Test Connection check that a key is accepted. Stored "
        "encrypted; never shown again. Leave empty to keep the stored key.",
    )
    clear_key = forms.BooleanField(label="Remove the stored key", required=False)


@site.project_page("connection/", name="connection", title="Connection", order=70)
def connection_view(request: HttpRequest, tenant: Tenant, role: str) -> HttpResponse:
    """Settings are saved by admins and owners; anyone in the project may run the test."""
    current = connection_get(tenant=tenant)
    form = ConnectionForm(initial={"api_base_url": current.api_base_url})
    report = None
    if request.method == "POST" and request.POST.get("action") == "test":
        report = connection_test(tenant=tenant)
    elif request.method == "POST":
        if role == MemberRole.VIEWER:
            raise PermissionDenied("Viewers cannot change the connection settings.")
        form = ConnectionForm(request.POST)
        if form.is_valid():
            try:
                connection_save(
                    tenant=tenant,
                    api_base_url=form.cleaned_data["api_base_url"],
                    api_key=form.cleaned_data["api_key"],
                    clear_key=form.cleaned_data["clear_key"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_error("api_base_url", exc.message)
            else:
                messages.success(request, "Connection settings saved.")
                return HttpResponseRedirect(request.path)
    context = site.project_context(
        request,
        tenant,
        role,
        title="Connection",
        tab="Connection",
        form=form,
        connection=current,
        report=report,
        default_url=settings.CLAIV_PUBLIC_BASE_URL,
    )
    return TemplateResponse(request, "console/connection.html", context)
