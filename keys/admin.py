"""Console pages for API keys: list, create (raw key shown once), revoke with confirmation,
rotate with a grace period, and the read-only audit log. Each change is one service call;
the services write the audit entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from claiv.console.scoping import ReadOnlyTenantScopedAdmin, TenantScopedAdmin, scope_queryset
from claiv.errors import ApplicationError
from claiv.secret_box import secret_decrypt, secret_encrypt
from keys.models import ALL_SCOPES, ApiKey, ApiKeyAuditEntry
from keys.services import api_key_create, api_key_revoke, api_key_rotate
from tenants.models import MemberRole, Tenant

site: Any = admin.site

# Raw keys wait in the session (encrypted) between the POST that made them and the one page
# that shows them; that page pops them, so a reload cannot show a key again.
SESSION_NEW_KEYS = "console_new_api_keys"
SCOPE_HELP = {
    "memory:write": "ingest events",
    "memory:read": "recall, event status, usage",
    "memory:forget": "forget end users, read receipts",
}
GRACE_CHOICES = [
    (0, "Revoke the old key now"),
    (3600, "Keep the old key working for 1 hour"),
    (86400, "Keep the old key working for 24 hours"),
    (7 * 86400, "Keep the old key working for 7 days"),
]


def _stash_raw_key(request: HttpRequest, key: ApiKey, raw: str) -> None:
    stash = dict(request.session.get(SESSION_NEW_KEYS, {}))
    stash[str(key.pk)] = secret_encrypt(raw)
    request.session[SESSION_NEW_KEYS] = stash


def _pop_raw_key(request: HttpRequest, key: ApiKey) -> str | None:
    stash = dict(request.session.get(SESSION_NEW_KEYS, {}))
    token = stash.pop(str(key.pk), None)
    request.session[SESSION_NEW_KEYS] = stash
    return secret_decrypt(token) if token else None


class ApiKeyCreateForm(forms.Form):
    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), label="Project", empty_label=None
    )
    name = forms.CharField(
        max_length=100,
        required=False,
        help_text="A label you will recognise later, e.g. “production backend”.",
    )
    scopes = forms.MultipleChoiceField(
        choices=[(s, f"{s} — {SCOPE_HELP[s]}") for s in ALL_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        initial=list(ALL_SCOPES),
        help_text="What the key may do. Give a key only what its app needs.",
    )

    def __init__(self, *args: Any, tenants: QuerySet[Tenant], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants


class ApiKeyRotateForm(forms.Form):
    grace = forms.TypedChoiceField(
        choices=GRACE_CHOICES, coerce=int, initial=0, widget=forms.RadioSelect, label="The old key"
    )


class KeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("active", "Active"),
            ("expiring", "Active, revocation scheduled"),
            ("revoked", "Revoked"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=now))
        if self.value() == "expiring":
            return queryset.filter(revoked_at__gt=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__lte=now)
        return queryset


def key_status_html(key: ApiKey) -> str:
    now = timezone.now()
    if key.revoked_at is None:
        return mark_safe('<span class="badge ok">active</span>')
    if key.revoked_at > now:
        return format_html(
            '<span class="badge warn" title="revocation scheduled">active until {}</span>',
            key.revoked_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
    return mark_safe('<span class="badge bad">revoked</span>')


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    """Keys are never edited through a form: create, revoke and rotate are their own pages."""

    list_display = (
        "display_name",
        "masked",
        "project",
        "scopes_display",
        "created_at",
        "last_used_at",
        "status",
    )
    list_display_links = ("display_name", "masked")
    list_filter = (KeyStatusFilter,)
    list_select_related = ("tenant",)
    search_fields = ("name", "prefix")
    actions = ["revoke_selected"]
    fields = (
        "name",
        "masked",
        "tenant",
        "scopes_display",
        "status",
        "created_at",
        "last_used_at",
        "revoked_at",
        "replaced_by",
    )
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    @admin.display(description="name", ordering="name")
    def display_name(self, key: ApiKey) -> str:
        return key.name or "(unnamed)"

    @admin.display(description="project", ordering="tenant__slug")
    def project(self, key: ApiKey) -> str:
        return key.tenant.slug

    @admin.display(description="key")
    def masked(self, key: ApiKey) -> str:
        return format_html('<span class="mono">{}</span>', key.mask)

    @admin.display(description="scopes")
    def scopes_display(self, key: ApiKey) -> str:
        return ", ".join(key.scopes)

    @admin.display(description="status")
    def status(self, key: ApiKey) -> str:
        return key_status_html(key)

    # -- pages --------------------------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/created/", view(self.created_view), name="keys_apikey_created"),
            path("<path:object_id>/revoke/", view(self.revoke_view), name="keys_apikey_revoke"),
            path("<path:object_id>/rotate/", view(self.rotate_view), name="keys_apikey_rotate"),
            *super().get_urls(),
        ]

    def _writable_key(self, request: HttpRequest, object_id: str) -> ApiKey:
        key = self.get_object(request, object_id)
        if key is None:
            raise Http404("No such key.")
        if not self.has_write_permission(request, key):
            raise PermissionDenied("Viewers cannot change keys.")
        return key

    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            **extra,
        }

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied("Viewers cannot create keys.")
        tenants = scope_queryset(
            Tenant.objects.order_by("slug"), request, lookup="id", min_role=self.write_role
        )
        if request.method == "POST":
            form = ApiKeyCreateForm(request.POST, tenants=tenants)
            if form.is_valid():
                key, raw = api_key_create(
                    tenant=form.cleaned_data["tenant"],
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    actor=request.user,
                )
                _stash_raw_key(request, key, raw)
                return HttpResponseRedirect(reverse("admin:keys_apikey_created", args=[key.pk]))
        else:
            form = ApiKeyCreateForm(tenants=tenants, initial={"tenant": request.GET.get("tenant")})
        return TemplateResponse(
            request,
            "console/keys/create.html",
            self._context(request, "Create an API key", form=form),
        )

    def created_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        key = self.get_object(request, object_id)
        if key is None:
            raise Http404("No such key.")
        raw = _pop_raw_key(request, key)
        return TemplateResponse(
            request,
            "console/keys/created.html",
            self._context(request, "Your new API key" if raw else "API key", key=key, raw=raw),
        )

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        key = self._writable_key(request, object_id)
        if request.method == "POST":
            api_key_revoke(key=key, actor=request.user)
            messages.success(
                request,
                f"Key {key.mask} is revoked. Requests using it are refused from now on (401).",
            )
            return HttpResponseRedirect(reverse("admin:keys_apikey_change", args=[key.pk]))
        return TemplateResponse(
            request,
            "console/keys/revoke_confirm.html",
            self._context(request, "Revoke API key", keys=[key], single=True),
        )

    def rotate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        key = self._writable_key(request, object_id)
        form = ApiKeyRotateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                new_key, raw = api_key_rotate(
                    key=key, grace=timedelta(seconds=form.cleaned_data["grace"]), actor=request.user
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
                return HttpResponseRedirect(reverse("admin:keys_apikey_change", args=[key.pk]))
            _stash_raw_key(request, new_key, raw)
            return HttpResponseRedirect(reverse("admin:keys_apikey_created", args=[new_key.pk]))
        return TemplateResponse(
            request,
            "console/keys/rotate.html",
            self._context(request, "Rotate API key", key=key, form=form),
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        key = self.get_object(request, object_id)
        extra = {
            "key": key,
            "can_write": bool(key and self.has_write_permission(request, key)),
            "key_active": bool(key and key.is_active()),
        }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    @admin.action(description="Revoke selected API keys", permissions=["write"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> Any:
        keys = list(queryset.select_related("tenant"))
        if any(not self.has_write_permission(request, key) for key in keys):
            raise PermissionDenied("Viewers cannot revoke keys.")
        if request.POST.get("confirmed") == "yes":
            for key in keys:
                api_key_revoke(key=key, actor=request.user)
            messages.success(
                request, f"Revoked {len(keys)} key(s); requests using them are refused from now on."
            )
            return None
        return TemplateResponse(
            request,
            "console/keys/revoke_confirm.html",
            self._context(
                request,
                "Revoke API keys",
                keys=keys,
                single=False,
                action_checkbox_name=admin.helpers.ACTION_CHECKBOX_NAME,
            ),
        )


site.project_link(
    "API keys", order=10, url=lambda t: reverse("admin:keys_apikey_changelist") + f"?tenant={t.pk}"
)
site.project_link(
    "Key audit log",
    order=15,
    url=lambda t: reverse("admin:keys_apikeyauditentry_changelist") + f"?tenant={t.pk}",
)


@site.project_card(order=10)
def _keys_card(request: HttpRequest, tenant: Tenant) -> dict[str, Any]:
    now = timezone.now()
    active = ApiKey.objects.filter(
        Q(revoked_at__isnull=True) | Q(revoked_at__gt=now), tenant=tenant
    ).count()
    return {
        "title": "Active API keys",
        "value": active,
        "url": reverse("admin:keys_apikey_changelist") + f"?tenant={tenant.pk}",
        "hint": "create, revoke, rotate",
    }


@admin.register(ApiKeyAuditEntry)
class ApiKeyAuditEntryAdmin(ReadOnlyTenantScopedAdmin):
    list_display = (
        "at",
        "tenant",
        "action_badge",
        "key_prefix_display",
        "actor_label",
        "details_text",
    )
    list_filter = ("action",)
    list_select_related = ("tenant",)
    search_fields = ("key_prefix", "actor_label")
    date_hierarchy = "at"
    fields = ("at", "tenant", "action", "key", "key_prefix", "actor_label", "details")
    readonly_fields = fields
    write_role = MemberRole.OWNER  # nothing here is writable; the role is never used

    @admin.display(description="action", ordering="action")
    def action_badge(self, entry: ApiKeyAuditEntry) -> str:
        css = {"created": "ok", "revoked": "bad", "rotated": "warn"}.get(entry.action, "muted")
        return format_html('<span class="badge {}">{}</span>', css, entry.action)

    @admin.display(description="key", ordering="key_prefix")
    def key_prefix_display(self, entry: ApiKeyAuditEntry) -> str:
        return format_html('<span class="mono">ck_{}_…</span>', entry.key_prefix)

    @admin.display(description="details")
    def details_text(self, entry: ApiKeyAuditEntry) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(entry.details.items()))
