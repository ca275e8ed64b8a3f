"""Console pages for memory: the memory browser (end users, their facts, events, episodes),
re-running enrichment, forget with a confirmation step and its receipt, the receipts with
their verification, and usage. Views parse input, call one service or selector, render."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.db.models import QuerySet
from django.db.models.functions import Left
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from claiv.console.charts import bar_chart
from claiv.console.scoping import ReadOnlyTenantScopedAdmin
from claiv.errors import ApplicationError, NotFound
from enrichment.services import event_reenrich
from memory import console_documents  # registers the document pages on the console
from memory.audit import ACTIONS as AUDIT_ACTIONS
from memory.audit import AuditItem, audit_list
from memory.console_selectors import (
    memory_forget_preview,
    memory_user_episodes,
    memory_user_events,
    memory_user_facts,
    memory_users_list,
)
from memory.forget import ForgetScope, memory_forget
from memory.models import DeletionReceipt, Episode, Event, Fact
from memory.receipt_chain import receipts_verify
from memory.selectors import receipt_get
from tenants.models import MemberRole, Tenant

logger = logging.getLogger("claiv.console")
site: Any = admin.site

STATUS_BADGES = {
    "enriched": "ok",
    "current": "ok",
    "pending": "info",
    "processing": "info",
    "skipped": "muted",
    "superseded": "muted",
    "failed": "bad",
    "contradicted": "warn",
    "hot": "bad",
    "warm": "warn",
    "cold": "info",
}


def badge(value: str) -> str:
    return format_html(
        '<span class="badge {}">{}</span>', STATUS_BADGES.get(value, "muted"), value or "—"
    )


# --- Admin changelists: events, facts, episodes (read-only, scoped) ---------------------------


# How much of an event's content its console page shows.
CONTENT_SHOWN_CHARS = 20_000


@admin.register(Event)
class EventAdmin(ReadOnlyTenantScopedAdmin):
    list_display = (
        "event_time",
        "user_id",
        "conversation_id",
        "role",
        "short_content",
        "status_badge",
        "stage",
        "attempts",
        "tenant",
    )
    list_filter = ("status", "type", "role")
    list_select_related = ("tenant",)
    search_fields = ("user_id", "conversation_id", "content")
    date_hierarchy = "event_time"
    actions = ["reenrich_selected"]
    fields = (
        "id",
        "tenant",
        "user_id",
        "conversation_id",
        "project_id",
        "type",
        "role",
        "event_time",
        "content_shown",
        "metadata",
        "scope",
        "status_badge",
        "stage",
        "attempts",
        "error",
        "extractor",
        "candidate_count",
        "gated_count",
        "forgotten_at",
        "created_at",
        "derived_facts",
    )
    readonly_fields = fields

    def get_base_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        # The list shows 80 characters of each event: read no more (one may hold 1 MiB);
        # the change page loads the content when it shows it.
        return (
            super()
            .get_base_queryset(request)
            .defer("embedding", "search", "content")
            .annotate(content_head=Left("content", 100))
        )

    @admin.display(description="content")
    def short_content(self, event: Event) -> str:
        return Truncator(getattr(event, "content_head", None) or event.content).chars(80)

    @admin.display(description="content")
    def content_shown(self, event: Event) -> str:
        """The content up to CONTENT_SHOWN_CHARS characters, then how much more there is
        (a page does not inline 1 MiB; GET /v1/events/{id} returns it whole)."""
        content = event.content
        if len(content) <= CONTENT_SHOWN_CHARS:
            return content
        return (
            f"{content[:CONTENT_SHOWN_CHARS]} … ({len(content) - CONTENT_SHOWN_CHARS:,} more "
            "characters, searchable as passages; GET /v1/events/<id> returns the whole text)"
        )

    @admin.display(description="enrichment", ordering="status")
    def status_badge(self, event: Event) -> str:
        return badge(event.status)

    @admin.display(description="facts from this event")
    def derived_facts(self, event: Event) -> str:
        facts = Fact.objects.filter(tenant_id=event.tenant_id, sources__event=event)
        rows = [
            (
                reverse("admin:memory_fact_change", args=[f.pk]),
                f.subject,
                f.relation_phrase,
                f.object_text,
                badge(f.status),
            )
            for f in facts.order_by("created_at")[:50]
        ]
        if not rows:
            return "none"
        return format_html(
            "<ul>{}</ul>", format_html_join("", '<li><a href="{}">{} {} {}</a> {}</li>', rows)
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/reenrich/",
                self.admin_site.admin_view(self.reenrich_view),
                name="memory_event_reenrich",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        event = self.get_object(request, object_id)
        extra = {
            "can_reenrich": bool(
                event and event.forgotten_at is None and self.has_write_permission(request, event)
            )
        }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def reenrich_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:memory_event_change", args=[object_id]))
        event = self.get_object(request, object_id)
        if event is None:
            raise Http404("No such event.")
        if not self.has_write_permission(request, event):
            raise PermissionDenied("Viewers cannot re-run enrichment.")
        try:
            event_reenrich(tenant=event.tenant, event_id=str(event.pk))
            messages.success(
                request,
                "Enrichment will run again for this event; its facts "
                "were reset and are rebuilt in a moment.",
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("admin:memory_event_change", args=[event.pk]))

    @admin.action(description="Re-run enrichment for the selected events", permissions=["write"])
    def reenrich_selected(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        events = list(queryset.select_related("tenant"))
        if any(not self.has_write_permission(request, e) for e in events):
            raise PermissionDenied("Viewers cannot re-run enrichment.")
        done = skipped = 0
        for event in events:
            try:
                event_reenrich(tenant=event.tenant, event_id=str(event.pk))
                done += 1
            except ApplicationError:
                skipped += 1
        messages.success(
            request,
            f"Enrichment re-queued for {done} event(s)"
            + (f"; {skipped} forgotten event(s) skipped." if skipped else "."),
        )


@admin.register(Fact)
class FactAdmin(ReadOnlyTenantScopedAdmin):
    list_display = (
        "subject",
        "predicate",
        "object_text",
        "status_badge",
        "tier",
        "confidence",
        "user_id",
        "source_event_link",
        "valid_from",
        "valid_to",
        "tenant",
    )
    list_filter = ("status", "tier", "kind")
    list_select_related = ("tenant",)
    search_fields = ("user_id", "subject", "object_text", "source_text")
    fields = (
        "id",
        "tenant",
        "user_id",
        "subject",
        "kind",
        "predicate",
        "relation_phrase",
        "object_text",
        "negated",
        "status_badge",
        "tier",
        "confidence",
        "importance",
        "mention_count",
        "source_text",
        "source_event_link",
        "valid_from",
        "valid_to",
        "superseded_by",
        "conversation_id",
        "project_id",
        "scope",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def get_base_queryset(self, request: HttpRequest) -> QuerySet[Fact]:
        return super().get_base_queryset(request).defer("embedding")

    @admin.display(description="status", ordering="status")
    def status_badge(self, fact: Fact) -> str:
        return badge(fact.status)

    @admin.display(description="source event")
    def source_event_link(self, fact: Fact) -> str:
        return format_html(
            '<a href="{}">event</a>',
            reverse("admin:memory_event_change", args=[fact.source_event_id]),
        )


@admin.register(Episode)
class EpisodeAdmin(ReadOnlyTenantScopedAdmin):
    list_display = (
        "user_id",
        "conversation_id",
        "event_count",
        "short_summary",
        "last_event_time",
        "tenant",
    )
    list_select_related = ("tenant",)
    search_fields = ("user_id", "conversation_id", "summary")
    fields = (
        "id",
        "tenant",
        "user_id",
        "conversation_id",
        "session_key",
        "summary",
        "event_count",
        "first_event_time",
        "last_event_time",
        "updated_at",
    )
    readonly_fields = fields

    def get_base_queryset(self, request: HttpRequest) -> QuerySet[Episode]:
        return super().get_base_queryset(request).defer("embedding")

    @admin.display(description="summary")
    def short_summary(self, episode: Episode) -> str:
        return Truncator(episode.summary).chars(100)


# --- Memory browser --------------------------------------------------------------------------


@site.project_page("memory/", name="memory", title="Memory", order=20)
def memory_users_view(request: HttpRequest, tenant: Tenant, role: str) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:255]
    users = memory_users_list(tenant=tenant, search=search)
    context = site.project_context(
        request, tenant, role, title="Memory", tab="Memory", users=users, q=search
    )
    return TemplateResponse(request, "console/memory_users.html", context)


@site.project_page("memory/user/", name="memory_user", title="End user")
def memory_user_view(request: HttpRequest, tenant: Tenant, role: str) -> HttpResponse:
    user_id = request.GET.get("user_id", "")[:255]
    if not user_id:
        return HttpResponseRedirect(reverse("admin:project_memory", args=[tenant.pk]))
    q = request.GET.get("q", "").strip()[:200]
    facts = list(memory_user_facts(tenant=tenant, user_id=user_id, q=q))
    context = site.project_context(
        request,
        tenant,
        role,
        title=f"End user {user_id}",
        tab="Memory",
        user_id=user_id,
        q=q,
        current_facts=[f for f in facts if f.status == "current"],
        past_facts=[f for f in facts if f.status != "current"],
        events=memory_user_events(tenant=tenant, user_id=user_id, q=q),
        episodes=memory_user_episodes(tenant=tenant, user_id=user_id, q=q),
        documents=console_documents.user_documents(tenant=tenant, user_id=user_id),
    )
    return TemplateResponse(request, "console/memory_user.html", context)


# --- Forget ----------------------------------------------------------------------------------

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ForgetForm(forms.Form):
    user_id = forms.CharField(max_length=255, label="End user id")
    conversation_id = forms.CharField(
        max_length=255,
        required=False,
        label="Only this conversation",
        help_text="Leave empty for all conversations.",
    )
    project_id = forms.CharField(
        max_length=255,
        required=False,
        label="Only this project_id",
        help_text="The client's own grouping; leave empty for all.",
    )
    from_time = forms.DateTimeField(
        required=False,
        label="Events from (UTC)",
        widget=DATETIME_INPUT,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    to_time = forms.DateTimeField(
        required=False,
        label="Events until (UTC)",
        widget=DATETIME_INPUT,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    erase_events = forms.BooleanField(
        required=False,
        label="Also erase the raw events (GDPR erasure)",
        help_text="Without this, raw events are kept for audit but never recalled again.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("from_time") and data.get("to_time") and data["from_time"] > data["to_time"]:
            raise forms.ValidationError("“Events from” must be before “Events until”.")
        return data

    def scope(self) -> ForgetScope:
        data = self.cleaned_data
        return ForgetScope(
            user_id=data["user_id"],
            conversation_id=data["conversation_id"] or None,
            project_id=data["project_id"] or None,
            from_time=data["from_time"],
            to_time=data["to_time"],
            erase_events=data["erase_events"],
        )


@site.project_page("forget/", name="forget", title="Forget", min_role=MemberRole.ADMIN, order=30)
def forget_view(request: HttpRequest, tenant: Tenant, role: str) -> HttpResponse:
    """Step 1: the form. Step 2 (action=preview): what will be deleted. Step 3
    (action=confirm): forget, then show the receipt."""
    action = request.POST.get("action") if request.method == "POST" else None
    form = (
        ForgetForm(request.POST)
        if action
        else ForgetForm(initial={"user_id": request.GET.get("user_id", "")})
    )
    extra: dict[str, Any] = {}
    if action and form.is_valid():
        scope = form.scope()
        if action == "confirm":
            receipt = memory_forget(tenant=tenant, scope=scope)
            logger.info(
                "console forget tenant=%s receipt=%s by user=%s",
                tenant.pk,
                receipt.pk,
                request.user.pk,
            )
            messages.success(request, "Forgotten. This is the signed receipt.")
            return HttpResponseRedirect(
                reverse("admin:project_receipt", args=[tenant.pk, receipt.pk])
            )
        extra = {"preview": memory_forget_preview(tenant=tenant, scope=scope), "scope": scope}
    template = "console/forget_confirm.html" if extra else "console/forget.html"
    context = site.project_context(
        request, tenant, role, title="Forget an end user", tab="Forget", form=form, **extra
    )
    return TemplateResponse(request, template, context)


# --- Receipts --------------------------------------------------------------------------------


@site.project_page("receipts/", name="receipts", title="Receipts", order=40)
def receipts_view(request: HttpRequest, tenant: Tenant, role: str) -> HttpResponse:
    checks = list(reversed(receipts_verify(tenant=tenant)))  # newest first
    failing = [c for c in checks if not c.ok]
    context = site.project_context(
        request,
        tenant,
        role,
        title="Deletion receipts",
        tab="Receipts",
        checks=checks[:500],
        total=len(checks),
        failing=len(failing),
    )
    return TemplateResponse(request, "console/receipts.html", context)


@site.project_page("receipts/<str:receipt_id>/", name="receipt", title="Receipt")
def receipt_view(request: HttpRequest, tenant: Tenant, role: str, receipt_id: str) -> HttpResponse:
    try:
        receipt = receipt_get(tenant=tenant, receipt_id=receipt_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    check = next((c for c in receipts_verify(tenant=tenant) if c.receipt.pk == receipt.pk), None)
    context = site.project_context(
        request,
        tenant,
        role,
        title=f"Receipt #{receipt.sequence}",
        tab="Receipts",
        receipt=receipt,
        check=check,
    )
    return TemplateResponse(request, "console/receipt.html", context)


# --- Audit trail -----------------------------------------------------------------------------

AUDIT_PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    user_id = forms.CharField(max_length=255, required=False, label="End user id")
    action = forms.ChoiceField(
        required=False, choices=[("", "any action"), *((a, a) for a in AUDIT_ACTIONS)]
    )
    since = forms.DateTimeField(
        required=False,
        label="From (UTC)",
        widget=DATETIME_INPUT,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    until = forms.DateTimeField(
        required=False,
        label="Until (UTC)",
        widget=DATETIME_INPUT,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    cursor = forms.CharField(max_length=100, required=False, widget=forms.HiddenInput)


@site.project_page("audit/", name="audit", title="Audit trail", order=45)
def audit_view(request: HttpRequest, tenant: Tenant, role: str) -> HttpResponse:
    """The tenant's audit trail (memory.audit.audit_list, as GET /v1/audit): filters by end
    user, action and time, newest first, by cursor. Read-only; any member may read it."""
    form = AuditFilterForm(request.GET or None)
    entries: list[AuditItem] = []
    next_query = ""
    if form.is_bound and not form.is_valid():
        pass  # the form shows its errors; nothing is read
    else:
        data = form.cleaned_data if form.is_bound else {}
        filters = {k: v for k, v in data.items() if v not in (None, "")}
        try:
            entries, cursor = audit_list(tenant=tenant, limit=AUDIT_PAGE_SIZE, **filters)
        except ApplicationError as exc:  # a cursor edited by hand
            form.add_error(None, exc.message)
            cursor = None
        if cursor is not None:
            params = request.GET.copy()
            params["cursor"] = cursor
            next_query = params.urlencode()
    first_query = request.GET.copy()
    first_query.pop("cursor", None)
    context = site.project_context(
        request,
        tenant,
        role,
        title="Audit trail",
        tab="Audit trail",
        form=form,
        entries=entries,
        next_query=next_query,
        first_query=first_query.urlencode(),
        paged="cursor" in request.GET,
        retention_days=settings.CLAIV_AUDIT_RETENTION_DAYS,
    )
    return TemplateResponse(request, "console/audit.html", context)


# --- Usage -----------------------------------------------------------------------------------

USAGE_RANGES = [
    ("today", "Today"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("month", "This month"),
]


def _usage(tenant: Tenant, range_: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """API.md §6 summary and breakdown, or None while metering is not available."""
    try:
        # Imported per request: metering ships separately, and the page must work without it.
        usage = importlib.import_module("memory.usage")
        return (
            usage.usage_summary(tenant=tenant, range=range_),
            usage.usage_breakdown(tenant=tenant, range=range_),
        )
    except (ImportError, AttributeError, DatabaseError):
        logger.warning("usage metering not available tenant=%s", tenant.pk, exc_info=True)
        return None


@site.project_page("usage/", name="usage", title="Usage", order=50)
def usage_view(request: HttpRequest, tenant: Tenant, role: str) -> HttpResponse:
    range_ = request.GET.get("range", "7d")
    if range_ not in dict(USAGE_RANGES):
        range_ = "7d"
    data = _usage(tenant, range_)
    extra: dict[str, Any] = {"available": data is not None, "range": range_, "ranges": USAGE_RANGES}
    if data is not None:
        summary, breakdown = data
        daily = summary["daily"]
        totals = summary["totals"]

        def series(field: str) -> list[tuple[str, float]]:
            return [(day["date"][5:], day[field]) for day in daily]

        extra.update(
            summary=summary,
            totals=totals,
            endpoints=[{**e, "error_pct": 100.0 * e["error_rate"]} for e in breakdown["endpoints"]],
            error_rate=(
                100.0 * totals["errors"] / totals["requests"] if totals["requests"] else 0.0
            ),
            charts=[
                ("Requests per day", bar_chart(series("requests"), title="Requests per day")),
                (
                    "Errors per day",
                    bar_chart(series("errors"), title="Errors per day", color="#dc2626"),
                ),
                (
                    "Ingested events per day",
                    bar_chart(
                        series("ingest_events"), title="Ingested events per day", color="#059669"
                    ),
                ),
                (
                    "Recall tokens per day",
                    bar_chart(series("tokens"), title="Recall tokens per day", color="#d97706"),
                ),
                (
                    "p95 latency per endpoint (ms)",
                    bar_chart(
                        [(e["endpoint"], e["p95_latency_ms"]) for e in breakdown["endpoints"]],
                        title="p95 latency per endpoint",
                        color="#0891b2",
                        unit=" ms",
                    ),
                ),
            ],
        )
    context = site.project_context(request, tenant, role, title="Usage", tab="Usage", **extra)
    return TemplateResponse(request, "console/usage.html", context)


# --- Overview cards ------------------------------------------------------------------------


@site.project_card(order=20)
def _memory_card(request: HttpRequest, tenant: Tenant) -> dict[str, Any]:
    users = Event.objects.filter(tenant=tenant).values("user_id").distinct().count()
    return {
        "title": "End users",
        "value": users,
        "url": reverse("admin:project_memory", args=[tenant.pk]),
        "hint": "browse their memory",
    }


@site.project_card(order=30)
def _facts_card(request: HttpRequest, tenant: Tenant) -> dict[str, Any]:
    facts = Fact.objects.filter(tenant=tenant, status="current").count()
    pending = Event.objects.filter(tenant=tenant, status__in=["pending", "processing"]).count()
    return {
        "title": "Current facts",
        "value": facts,
        "url": reverse("admin:memory_fact_changelist") + f"?tenant={tenant.pk}",
        "hint": f"{pending} event(s) waiting for enrichment",
    }


@site.project_card(order=40)
def _receipts_card(request: HttpRequest, tenant: Tenant) -> dict[str, Any]:
    return {
        "title": "Deletion receipts",
        "value": DeletionReceipt.objects.filter(tenant=tenant).count(),
        "url": reverse("admin:project_receipts", args=[tenant.pk]),
    }


site.project_link(
    "Events", order=22, url=lambda t: reverse("admin:memory_event_changelist") + f"?tenant={t.pk}"
)
