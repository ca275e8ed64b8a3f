"""The console's admin site: throttled login, membership-based access, project pages.

A *project page* is a console view about one tenant (`/console/projects/<id>/…`). Pages
are registered by each app's admin module with `site.project_page`; the site wraps every
one in the admin's login/CSRF handling and in `console_tenant`, so a page receives a
tenant the user may see with the role the page needs (else 404, or 403 for a weaker role).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from claiv.console.login_throttle import login_failed, login_lock_remaining, login_succeeded
from claiv.console.scoping import console_roles, console_tenant
from tenants.models import MemberRole, Tenant
from tenants.selectors import role_at_least

ProjectView = Callable[..., HttpResponse]


class ThrottledAuthenticationForm(AdminAuthenticationForm):
    """The admin login form, refusing a (username, IP) pair after repeated failures."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "locked": "Too many failed sign-in attempts. Try again in %(minutes)s minutes.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        remaining = login_lock_remaining(username=username, ip=ip)
        if remaining:
            raise forms.ValidationError(
                self.error_messages["locked"],
                code="locked",
                params={"minutes": max(1, -(-remaining // 60))},
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_failed(username=username, ip=ip)
            raise
        login_succeeded(username=username, ip=ip)
        return cleaned

    def confirm_login_allowed(self, user: Any) -> None:
        # Members of a tenant may sign in without is_staff; everyone else needs it.
        if not user.is_active or not (user.is_staff or user.tenant_memberships.exists()):
            raise forms.ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


@dataclass(frozen=True)
class ProjectPage:
    route: str
    name: str
    title: str
    view: ProjectView
    min_role: str
    order: int | None  # position in the project tabs; None: not a tab


@dataclass(frozen=True)
class ProjectLink:
    title: str
    order: int
    url: Callable[[Tenant], str]
    min_role: str


@dataclass(frozen=True)
class ProjectCard:
    """One number on a project's overview, contributed by an app."""

    order: int
    compute: Callable[[HttpRequest, Tenant], dict[str, Any]]


class ConsoleSite(admin.AdminSite):
    site_header = "Claiv Memory console"
    site_title = "Claiv Memory console"
    index_title = "Your projects"
    login_form = ThrottledAuthenticationForm
    enable_nav_sidebar = False
    site_url = None  # no "view site" link: "/" is the API, not a page

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self._pages: list[ProjectPage] = []
        self._links: list[ProjectLink] = []
        self._cards: list[ProjectCard] = []

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not user.is_active or not user.is_authenticated:
            return False
        return bool(user.is_staff or console_roles(request))

    # -- project pages ------------------------------------------------------------------------
    def project_page(
        self,
        route: str,
        *,
        name: str,
        title: str,
        min_role: str = MemberRole.VIEWER,
        order: int | None = None,
    ) -> Callable[[ProjectView], ProjectView]:
        """Register `view(request, tenant, role, **kwargs)` at projects/<tenant_id>/<route>."""

        def register(view: ProjectView) -> ProjectView:
            self._pages.append(ProjectPage(route, name, title, view, min_role, order))
            return view

        return register

    def project_link(
        self,
        title: str,
        *,
        order: int,
        url: Callable[[Tenant], str],
        min_role: str = MemberRole.VIEWER,
    ) -> None:
        """A project tab pointing at an admin page (e.g. a changelist filtered to the tenant)."""
        self._links.append(ProjectLink(title, order, url, min_role))

    def project_card(self, order: int) -> Callable[[Callable[..., dict[str, Any]]], Any]:
        def register(compute: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
            self._cards.append(ProjectCard(order, compute))
            return compute

        return register

    def _wrap(self, page: ProjectPage) -> Callable[..., HttpResponse]:
        def view(request: HttpRequest, tenant_id: Any, **kwargs: Any) -> HttpResponse:
            tenant, role = console_tenant(request, tenant_id, min_role=page.min_role)
            return page.view(request, tenant, role, **kwargs)

        view.__name__ = f"project_{page.name}"
        return self.admin_view(view)

    def get_urls(self) -> list[URLPattern]:
        pages = [
            path(f"projects/<uuid:tenant_id>/{p.route}", self._wrap(p), name=f"project_{p.name}")
            for p in self._pages
        ]
        overview = ProjectPage("", "overview", "Overview", self._overview, MemberRole.VIEWER, 0)
        pages.append(
            path("projects/<uuid:tenant_id>/", self._wrap(overview), name="project_overview")
        )
        return pages + super().get_urls()

    def project_tabs(self, tenant: Tenant, role: str) -> list[dict[str, Any]]:
        tabs: list[tuple[int, str, str]] = [
            (0, "Overview", reverse(f"{self.name}:project_overview", args=[tenant.id]))
        ]
        for page in self._pages:
            if page.order is not None and role_at_least(role, page.min_role):
                tabs.append(
                    (
                        page.order,
                        page.title,
                        reverse(f"{self.name}:project_{page.name}", args=[tenant.id]),
                    )
                )
        for link in self._links:
            if role_at_least(role, link.min_role):
                tabs.append((link.order, link.title, link.url(tenant)))
        return [{"title": title, "url": url} for _, title, url in sorted(tabs)]

    def project_context(
        self, request: HttpRequest, tenant: Tenant, role: str, *, title: str, tab: str, **extra: Any
    ) -> dict[str, Any]:
        """Template context for a project page: the admin's, the tenant, the role, the tabs."""
        return {
            **self.each_context(request),
            "title": title,
            "tenant": tenant,
            "role": role,
            "tabs": self.project_tabs(tenant, role),
            "active_tab": tab,
            "can_write": role_at_least(role, MemberRole.ADMIN),
            "is_owner": role_at_least(role, MemberRole.OWNER),
            **extra,
        }

    def _overview(self, request: HttpRequest, tenant: Tenant, role: str) -> HttpResponse:
        cards = [
            card.compute(request, tenant) for card in sorted(self._cards, key=lambda c: c.order)
        ]
        context = self.project_context(
            request, tenant, role, title=tenant.name, tab="Overview", cards=cards
        )
        return TemplateResponse(request, "console/project_overview.html", context)

    # -- index --------------------------------------------------------------------------------
    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        roles = console_roles(request)
        tenants = Tenant.objects.order_by("slug")
        if roles is not None:
            tenants = tenants.filter(id__in=list(roles))
        projects = [
            {
                "tenant": t,
                "role": "superuser" if roles is None else roles[t.id],
                "url": reverse(f"{self.name}:project_overview", args=[t.id]),
            }
            for t in tenants
        ]
        context = {
            "projects": projects,
            "can_create_project": request.user.is_superuser or request.user.is_staff,
            **(extra_context or {}),
        }
        return super().index(request, context)
